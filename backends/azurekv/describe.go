package azurekv

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/keyport/keyport/backends"
)

// DescribeKey describes the key in.KeyID from its current version: Arn is the
// canonical key URI, KeyID the key's name, KeyState Enabled or Disabled (disabled,
// not yet valid, or expired), or PendingDeletion for a soft-deleted key (with
// DeletionDate its scheduled purge), KeySpec the key type and size (RSA-2048,
// RSA-HSM-3072, oct-HSM-256), CurrentVersion the current version's position among
// the key's versions in creation order (1-based). The current version's
// identifier, its expiry and not-before dates and the recovery level, which
// KeyMetadata has no fields for, are given in Description.
func (b *Backend) DescribeKey(ctx context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	const op = "DescribeKey"
	ref, err := parse(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	key := ref.URI()
	c, err := b.client(op, ref)
	if err != nil {
		return nil, err
	}
	md := &backends.KeyMetadata{Arn: key, KeyID: ref.Name, KeyUsage: backends.KeyUsageEncryptDecrypt}
	resp, err := c.GetKey(ctx, ref.Name, "", nil)
	var kb azkeys.KeyBundle
	switch {
	case err == nil:
		kb = resp.KeyBundle
		md.KeyState = backends.KeyStateEnabled
	default:
		mapped := MapError(ctx, op, key, err)
		if backends.KindOf(mapped) != backends.ErrNotFound {
			return nil, mapped
		}
		d, derr := c.GetDeletedKey(ctx, ref.Name, nil)
		if derr != nil {
			return nil, mapped
		}
		kb = azkeys.KeyBundle{Key: d.Key, Attributes: d.Attributes, Tags: d.Tags}
		md.KeyState = backends.KeyStatePendingDeletion
		if d.ScheduledPurgeDate != nil {
			md.DeletionDate = *d.ScheduledPurgeDate
		}
	}
	info, ok := infoFrom(ref, kb)
	if !ok {
		return nil, backends.Errorf(backends.ErrInternal, op, key, "Key Vault answered no usable key identifier for this key")
	}
	if md.KeyState == backends.KeyStateEnabled && info.unusable(time.Now()) != "" {
		md.KeyState = backends.KeyStateDisabled
	}
	md.Enabled = md.KeyState == backends.KeyStateEnabled
	switch info.kty {
	case azkeys.KeyTypeRSA, azkeys.KeyTypeRSAHSM:
		md.KeySpec = string(info.kty) + "-" + strconv.Itoa(info.modulus*8)
		md.EncryptionAlgorithms = []backends.Algorithm{backends.SymmetricDefault, backends.RSAESOAEPSHA256}
	case azkeys.KeyTypeOct, azkeys.KeyTypeOctHSM:
		md.KeySpec = string(info.kty) + "-" + strconv.Itoa(info.octBits)
		if info.octBits == 0 {
			md.KeySpec = string(info.kty)
		}
		md.EncryptionAlgorithms = []backends.Algorithm{backends.SymmetricDefault}
	default:
		md.KeySpec = string(info.kty)
		md.KeyUsage = backends.KeyUsageSignVerify
	}
	desc := []string{"version " + info.kid.Version}
	if a := kb.Attributes; a != nil {
		if a.Created != nil {
			md.CreationDate = *a.Created
		}
		if a.NotBefore != nil {
			desc = append(desc, "not before "+a.NotBefore.UTC().Format(time.RFC3339))
		}
		if a.Expires != nil {
			desc = append(desc, "expires "+a.Expires.UTC().Format(time.RFC3339))
		}
		if a.RecoveryLevel != nil {
			desc = append(desc, "recovery level "+*a.RecoveryLevel)
		}
	}
	md.Description = strings.Join(desc, "; ")
	if md.KeyState != backends.KeyStatePendingDeletion {
		n, err := b.versionIndex(ctx, c, ref, info.kid.Version)
		if err != nil {
			return nil, MapError(ctx, op, key, err)
		}
		md.CurrentVersion = n
	}
	return md, nil
}

// versionIndex returns the 1-based position of version among the key's versions
// in creation order, or 0 when the list does not show it.
func (b *Backend) versionIndex(ctx context.Context, c *azkeys.Client, ref Ref, version string) (int, error) {
	type ver struct {
		id      string
		created time.Time
	}
	var vs []ver
	pager := c.NewListKeyPropertiesVersionsPager(ref.Name, nil)
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, p := range page.Value {
			if p == nil || p.KID == nil {
				continue
			}
			v := ver{id: strings.ToLower(p.KID.Version())}
			if p.Attributes != nil && p.Attributes.Created != nil {
				v.created = *p.Attributes.Created
			}
			vs = append(vs, v)
		}
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].created.Before(vs[j].created) })
	for i, v := range vs {
		if v.id == version {
			return i + 1, nil
		}
	}
	return 0, nil
}
