package gcpkms

import (
	"context"
	"fmt"
	"strings"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/keyport/keyport/backends"
)

// versionStates maps a CryptoKeyVersion state onto the AWS key state that
// DescribeKey reports for its CryptoKey (from the primary version).
var versionStates = map[kmspb.CryptoKeyVersion_CryptoKeyVersionState]backends.KeyState{
	kmspb.CryptoKeyVersion_ENABLED:                      backends.KeyStateEnabled,
	kmspb.CryptoKeyVersion_DISABLED:                     backends.KeyStateDisabled,
	kmspb.CryptoKeyVersion_DESTROY_SCHEDULED:            backends.KeyStatePendingDeletion,
	kmspb.CryptoKeyVersion_PENDING_EXTERNAL_DESTRUCTION: backends.KeyStatePendingDeletion,
	kmspb.CryptoKeyVersion_PENDING_GENERATION:           backends.KeyStateCreating,
	kmspb.CryptoKeyVersion_PENDING_IMPORT:               backends.KeyStatePendingImport,
	kmspb.CryptoKeyVersion_DESTROYED:                    backends.KeyStateUnavailable,
	kmspb.CryptoKeyVersion_IMPORT_FAILED:                backends.KeyStateUnavailable,
	kmspb.CryptoKeyVersion_GENERATION_FAILED:            backends.KeyStateUnavailable,
	kmspb.CryptoKeyVersion_EXTERNAL_DESTRUCTION_FAILED:  backends.KeyStateUnavailable,
}

var purposeUsages = map[kmspb.CryptoKey_CryptoKeyPurpose]backends.KeyUsage{
	kmspb.CryptoKey_ENCRYPT_DECRYPT:     backends.KeyUsageEncryptDecrypt,
	kmspb.CryptoKey_ASYMMETRIC_DECRYPT:  backends.KeyUsageEncryptDecrypt,
	kmspb.CryptoKey_RAW_ENCRYPT_DECRYPT: backends.KeyUsageEncryptDecrypt,
	kmspb.CryptoKey_ASYMMETRIC_SIGN:     backends.KeyUsageSignVerify,
	kmspb.CryptoKey_MAC:                 backends.KeyUsageGenerateMAC,
}

// DescribeKey describes the CryptoKey in.KeyID from Cloud KMS's CryptoKey and its
// primary version: Arn is the canonical gcpkms:// URI, KeyID the resource name,
// Region the location, KeyState the primary version's state (ENABLED, DISABLED,
// DESTROY_SCHEDULED as PendingDeletion with DeletionDate its destroy time,
// DESTROYED as Unavailable, ...), KeySpec the version algorithm, CurrentVersion the
// primary version's number. The protection level and the rotation schedule, which
// KeyMetadata has no fields for, are given in Description
// ("protection level HSM; rotation period 720h0m0s; next rotation ...").
func (b *Backend) DescribeKey(ctx context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	const op = "DescribeKey"
	ref, err := parse(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	key := ref.URI()
	ck, err := b.client.GetCryptoKey(ctx, &kmspb.GetCryptoKeyRequest{Name: ref.Name()})
	if err != nil {
		return nil, MapError(ctx, op, key, err)
	}
	md := &backends.KeyMetadata{
		Arn:      key,
		KeyID:    ref.Name(),
		Region:   ref.Location,
		KeyUsage: purposeUsages[ck.GetPurpose()],
		KeySpec:  ck.GetVersionTemplate().GetAlgorithm().String(),
	}
	if ck.GetPurpose() == kmspb.CryptoKey_ENCRYPT_DECRYPT {
		md.EncryptionAlgorithms = []backends.Algorithm{backends.SymmetricDefault}
	}
	if t := ck.GetCreateTime(); t != nil {
		md.CreationDate = t.AsTime()
	}
	level := ck.GetVersionTemplate().GetProtectionLevel()
	if p := ck.GetPrimary(); p != nil {
		md.KeyState = versionStates[p.GetState()]
		md.KeySpec = p.GetAlgorithm().String()
		level = p.GetProtectionLevel()
		if n, ok := versionNumber(p.GetName(), ref.Name()); ok {
			md.CurrentVersion = n
		}
		if p.GetState() == kmspb.CryptoKeyVersion_DESTROY_SCHEDULED && p.GetDestroyTime() != nil {
			md.DeletionDate = p.GetDestroyTime().AsTime()
		}
	} else if ck.GetPurpose() == kmspb.CryptoKey_ENCRYPT_DECRYPT {
		// A symmetric key without a primary version encrypts nothing.
		md.KeyState = backends.KeyStateUnavailable
	}
	if md.KeyState == "" {
		md.KeyState = backends.KeyStateEnabled // asymmetric keys have no primary
	}
	md.Enabled = md.KeyState == backends.KeyStateEnabled
	desc := []string{"protection level " + level.String()}
	if r := ck.GetRotationPeriod(); r != nil {
		desc = append(desc, "rotation period "+r.AsDuration().String())
	}
	if t := ck.GetNextRotationTime(); t != nil {
		desc = append(desc, "next rotation "+t.AsTime().UTC().Format("2006-01-02T15:04:05Z"))
	}
	md.Description = strings.Join(desc, "; ")
	return md, nil
}

// versionNumber returns N of the version name key/cryptoKeyVersions/N.
func versionNumber(name, key string) (int, bool) {
	rest, ok := strings.CutPrefix(name, key+"/cryptoKeyVersions/")
	if !ok {
		return 0, false
	}
	var n int
	if _, err := fmt.Sscan(rest, &n); err != nil || n < 1 {
		return 0, false
	}
	return n, true
}
