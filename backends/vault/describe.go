package vault

import (
	"context"
	"encoding/json"
	"strconv"
	"time"

	"github.com/keyport/keyport/backends"
)

// DescribeKey reads a Transit key (always afresh) and describes it: the canonical
// URI, the key name, its type as Spec, its versions (CurrentVersion is Transit's
// latest_version), MinDecryptionVersion, whether it is derived, and the creation
// time of its first version. Transit keys have no states, so State is always
// Enabled; a missing key is an error matching backends.ErrNotFound.
func (b *Backend) DescribeKey(ctx context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	const op = "DescribeKey"
	ref, err := b.parse(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	info, err := b.keyFor(ctx, op, ref, true)
	if err != nil {
		b.forget(ref, err)
		return nil, err
	}
	md := &backends.KeyMetadata{
		Arn:                  ref.URI(),
		KeyID:                ref.Name,
		KeyState:             backends.KeyStateEnabled,
		Enabled:              true,
		KeySpec:              info.Type,
		CurrentVersion:       info.LatestVersion,
		MinDecryptionVersion: info.MinDecryptionVersion,
		Derived:              info.Derived,
		CreationDate:         info.created(1),
	}
	switch {
	case info.SupportsEncryption || info.rsa():
		md.KeyUsage = backends.KeyUsageEncryptDecrypt
		if alg, err := info.algorithm(op, ref, ""); err == nil {
			md.EncryptionAlgorithms = []backends.Algorithm{alg}
		} else if info.rsa() {
			md.EncryptionAlgorithms = []backends.Algorithm{backends.RSAESOAEPSHA256}
		}
	case info.SupportsSigning:
		md.KeyUsage = backends.KeyUsageSignVerify
	case info.Type == "hmac":
		md.KeyUsage = backends.KeyUsageGenerateMAC
	}
	return md, nil
}

// created returns the creation time of key version v, which Transit reports as a
// Unix time for symmetric keys and as an object with creation_time for asymmetric
// ones; zero when it says neither.
func (k *keyInfo) created(v int) time.Time {
	raw, ok := k.Keys[strconv.Itoa(v)]
	if !ok {
		return time.Time{}
	}
	var unix int64
	if json.Unmarshal(raw, &unix) == nil {
		return time.Unix(unix, 0).UTC()
	}
	var obj struct {
		CreationTime time.Time `json:"creation_time"`
	}
	if json.Unmarshal(raw, &obj) == nil {
		return obj.CreationTime.UTC()
	}
	return time.Time{}
}
