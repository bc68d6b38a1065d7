package keyring

import (
	"context"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
)

// Multi combines keyrings as the ESDK's multi-keyring does: on encrypt the
// generator makes the data key and wraps it, then every child wraps it too (one
// data key, one encrypted data key per key, across providers); on decrypt the
// generator and then each child is tried until one unwraps a data key.
type Multi struct {
	generator envelope.Keyring
	children  []envelope.Keyring
}

var _ envelope.Keyring = (*Multi)(nil)

// NewMulti returns a multi-keyring. generator may be nil when the keyring is only
// used to decrypt or when the materials already carry a data key; a nil child is
// an error.
func NewMulti(generator envelope.Keyring, children ...envelope.Keyring) (*Multi, error) {
	if generator == nil && len(children) == 0 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "NewMulti", "", "a multi-keyring needs a generator or a child")
	}
	for _, c := range children {
		if c == nil {
			return nil, backends.Errorf(backends.ErrInvalidArgument, "NewMulti", "", "nil child keyring")
		}
	}
	return &Multi{generator: generator, children: append([]envelope.Keyring(nil), children...)}, nil
}

// NewStrict returns a keyring over keys of one backend: the first key generates
// and wraps the data key, every other key wraps it too; on decrypt only data keys
// wrapped by one of the keys (the allow-list) are tried.
func NewStrict(b backends.Backend, opts *BackendOptions, keyIDs ...string) (*Multi, error) {
	if len(keyIDs) == 0 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "NewStrict", "", "no key")
	}
	ks := make([]envelope.Keyring, len(keyIDs))
	for i, id := range keyIDs {
		k, err := NewBackend(b, id, opts)
		if err != nil {
			return nil, err
		}
		ks[i] = k
	}
	return NewMulti(ks[0], ks[1:]...)
}

// OnEncrypt runs the generator (which must make the data key: it is an error if
// the materials already have one) and then every child. Any failure fails the
// whole, and a data key made here is wiped.
func (k *Multi) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	made := false
	if k.generator != nil {
		if m.PlaintextDataKey != nil {
			return backends.Errorf(backends.ErrInvalidArgument, "OnEncrypt", "", "the materials already have a data key; a multi-keyring with a generator makes its own")
		}
		if err := k.generator.OnEncrypt(ctx, m); err != nil {
			return err
		}
		if m.PlaintextDataKey == nil {
			return backends.Errorf(backends.ErrInternal, "OnEncrypt", "", "the generator keyring made no data key")
		}
		made = true
	} else if m.PlaintextDataKey == nil {
		return backends.Errorf(backends.ErrInvalidArgument, "OnEncrypt", "", "no data key and no generator keyring")
	}
	for _, c := range k.children {
		if err := c.OnEncrypt(ctx, m); err != nil {
			if made {
				clear(m.PlaintextDataKey)
				m.PlaintextDataKey = nil
			}
			return err
		}
	}
	return nil
}

// OnDecrypt tries the generator and then each child, and stops at the first that
// unwraps a data key. When none does, the error keeps every keyring's error
// (errors.Is).
func (k *Multi) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	if m.PlaintextDataKey != nil {
		return nil
	}
	var errs []error
	try := func(kr envelope.Keyring) bool {
		if err := kr.OnDecrypt(ctx, m, edks); err != nil {
			errs = append(errs, err)
			return false
		}
		return m.PlaintextDataKey != nil
	}
	if k.generator != nil && try(k.generator) {
		return nil
	}
	for _, c := range k.children {
		if try(c) {
			return nil
		}
	}
	if err := backends.ContextError(ctx, "OnDecrypt", ""); err != nil {
		return err
	}
	return noDataKey("OnDecrypt", "", errs)
}
