package migrate

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
)

// capture wraps the destination keyring for one object: it keeps a copy of the
// data key it makes and of the encrypted data keys the destination returns, so
// that the new message is verified in full (header, key commitment, every
// frame, the signature, the plaintext digest) without asking the key service to
// unwrap what it has just wrapped. The run's canary proves once that the
// destination keys unwrap what they wrap. wipe clears the copy.
type capture struct {
	inner envelope.Keyring

	mu   sync.Mutex
	key  []byte
	edks []envelope.EncryptedDataKey
}

var _ envelope.Keyring = (*capture)(nil)

func (c *capture) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	if err := c.inner.OnEncrypt(ctx, m); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.key)
	c.key = append(c.key[:0], m.PlaintextDataKey...)
	c.edks = c.edks[:0]
	for _, e := range m.EncryptedDataKeys {
		c.edks = append(c.edks, envelope.EncryptedDataKey{
			ProviderID:   e.ProviderID,
			ProviderInfo: bytes.Clone(e.ProviderInfo),
			Ciphertext:   bytes.Clone(e.Ciphertext),
		})
	}
	return nil
}

// OnDecrypt is the destination keyring's: a capture only encrypts.
func (c *capture) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	return c.inner.OnDecrypt(ctx, m, edks)
}

// wipe clears the data key copy.
func (c *capture) wipe() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.key)
	c.key = c.key[:0]
	c.edks = c.edks[:0]
}

// verifier returns the keyring that opens the new message: it hands out the
// captured data key, and only for exactly the encrypted data keys the
// destination returned.
func (c *capture) verifier() envelope.Keyring { return verifier{c} }

type verifier struct{ c *capture }

// testHookVerify, if set (by tests), is called for every verifying decryption.
var testHookVerify atomic.Pointer[func()]

func (v verifier) OnEncrypt(context.Context, *envelope.EncryptionMaterials) error {
	return backends.Errorf(backends.ErrInternal, op, "", "the verifying keyring does not encrypt")
}

func (v verifier) OnDecrypt(_ context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	if m.PlaintextDataKey != nil {
		return nil
	}
	if h := testHookVerify.Load(); h != nil {
		(*h)()
	}
	c := v.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(edks) != len(c.edks) {
		return backends.Errorf(backends.ErrInvalidCiphertext, op, "", "the new message has %d encrypted data keys; the destination made %d", len(edks), len(c.edks))
	}
	for i, e := range edks {
		w := c.edks[i]
		if e.ProviderID != w.ProviderID || !bytes.Equal(e.ProviderInfo, w.ProviderInfo) || !bytes.Equal(e.Ciphertext, w.Ciphertext) {
			return backends.Errorf(backends.ErrInvalidCiphertext, op, "", "the new message's encrypted data keys are not those the destination made")
		}
	}
	if n := m.Suite.DataKeyLen(); n == 0 || n != len(c.key) {
		return backends.Errorf(backends.ErrInvalidCiphertext, op, "", "the new message's suite does not fit its data key")
	}
	k := m.Alloc(len(c.key))
	copy(k, c.key)
	m.PlaintextDataKey = k
	return nil
}
