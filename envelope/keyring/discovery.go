package keyring

import (
	"context"
	"slices"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
)

// DiscoveryFilter limits the keys a discovery keyring asks its backend to use.
// AWS KMS key ARNs pass when their partition is Partition and their account is one
// of Accounts; keys named by URI pass when their scheme is one of Schemes.
type DiscoveryFilter struct {
	Partition string
	Accounts  []string
	Schemes   []string
}

func (f *DiscoveryFilter) validate() error {
	aws := f.Partition != "" || len(f.Accounts) > 0
	if aws && (f.Partition == "" || len(f.Accounts) == 0 || slices.Contains(f.Accounts, "")) {
		return backends.Errorf(backends.ErrInvalidArgument, "NewDiscovery", "", "a discovery filter needs a partition and at least one non-empty account")
	}
	if !aws && len(f.Schemes) == 0 {
		return backends.Errorf(backends.ErrInvalidArgument, "NewDiscovery", "", "a discovery filter that matches nothing")
	}
	return nil
}

func (f *DiscoveryFilter) allows(ref backends.KeyRef) bool {
	if f == nil {
		return true
	}
	if ref.Form == backends.FormURI {
		return slices.Contains(f.Schemes, ref.Scheme)
	}
	return f.Partition != "" && ref.Partition == f.Partition && slices.Contains(f.Accounts, ref.Account)
}

// DiscoveryOptions configure a discovery keyring. The zero value tries every
// encrypted data key that a backend keyring wrote.
type DiscoveryOptions struct {
	// Filter, if set, limits the keys tried.
	Filter *DiscoveryFilter
	// MRKRegion makes the keyring MRK-aware in that region, as the ESDK's MRK-aware
	// discovery keyring: a data key wrapped by a multi-Region key (mrk- key ARN) in
	// any region is unwrapped by its replica in MRKRegion, and a data key wrapped by
	// a single-Region key is tried only when that key is in MRKRegion.
	MRKRegion string
	// GrantTokens are passed on every backend call.
	GrantTokens []string
}

// Discovery is a decrypt-only keyring that asks its backend to unwrap any
// encrypted data key written by a backend keyring (provider ID "aws-kms" or
// "keyport:<scheme>"), naming the key from the header, within an optional filter.
// The backend is typically a [backends.Front] that reaches every service.
type Discovery struct {
	b    backends.Backend
	opts DiscoveryOptions
}

var _ envelope.Keyring = (*Discovery)(nil)

// NewDiscovery returns a discovery keyring over b.
func NewDiscovery(b backends.Backend, opts *DiscoveryOptions) (*Discovery, error) {
	if b == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "NewDiscovery", "", "nil backend")
	}
	k := &Discovery{b: b}
	if opts != nil {
		k.opts = *opts
		k.opts.GrantTokens = append([]string(nil), opts.GrantTokens...)
		if opts.Filter != nil {
			f := DiscoveryFilter{
				Partition: opts.Filter.Partition,
				Accounts:  append([]string(nil), opts.Filter.Accounts...),
				Schemes:   append([]string(nil), opts.Filter.Schemes...),
			}
			if err := f.validate(); err != nil {
				return nil, err
			}
			k.opts.Filter = &f
		}
	}
	return k, nil
}

// OnEncrypt fails: a discovery keyring names no key to encrypt with.
func (k *Discovery) OnEncrypt(context.Context, *envelope.EncryptionMaterials) error {
	return backends.Errorf(backends.ErrUnsupported, "OnEncrypt", "", "a discovery keyring cannot encrypt")
}

// OnDecrypt unwraps the first encrypted data key its backend can unwrap among
// those the filter allows. When none could be unwrapped it returns an error that
// keeps every backend error (errors.Is); when none was tried, an error matching
// ErrIncorrectKey. An "aws-kms" or "keyport:" data key whose provider info does
// not fit its provider ID fails the call (ErrInvalidCiphertext).
func (k *Discovery) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	if m.PlaintextDataKey != nil {
		return nil
	}
	n := m.Suite.DataKeyLen()
	if n == 0 {
		return backends.Errorf(backends.ErrInvalidArgument, "OnDecrypt", "", "unknown algorithm suite %#04x", uint16(m.Suite))
	}
	var errs []error
	for _, edk := range edks {
		ref, ok, err := parseProviderInfo(edk)
		if !ok {
			continue
		}
		if err != nil {
			return err
		}
		if !k.opts.Filter.allows(ref) {
			continue
		}
		id := ref.Raw
		if k.opts.MRKRegion != "" && ref.Form == backends.FormKeyARN {
			if ref.MultiRegion() {
				id = backends.KeyARN(ref.Partition, k.opts.MRKRegion, ref.Account, ref.KeyID)
			} else if ref.Region != k.opts.MRKRegion {
				continue
			}
		}
		if err := backends.ContextError(ctx, "Decrypt", id); err != nil {
			return err
		}
		out, err := k.b.Decrypt(ctx, &backends.DecryptInput{
			CiphertextBlob:    edk.Ciphertext,
			KeyID:             id,
			EncryptionContext: m.EncryptionContext,
			GrantTokens:       k.opts.GrantTokens,
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if out.KeyID != "" && out.KeyID != id {
			clear(out.Plaintext)
			errs = append(errs, backends.Errorf(backends.ErrIncorrectKey, "Decrypt", id, "backend decrypted with key %q, not the requested key", out.KeyID))
			continue
		}
		if len(out.Plaintext) != n {
			clear(out.Plaintext)
			errs = append(errs, backends.Errorf(backends.ErrInvalidCiphertext, "Decrypt", id, "unwrapped data key is %d bytes, suite %#04x needs %d", len(out.Plaintext), uint16(m.Suite), n))
			continue
		}
		m.PlaintextDataKey = out.Plaintext
		return nil
	}
	return noDataKey("OnDecrypt", "", errs)
}
