package keyring_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"sync"

	"github.com/keyport/keyport/backends"
)

// fakeKMS is a small in-memory key service for keyring tests: AES-GCM keys named by
// canonical ID (key ARN or URI), aliases, disabled keys, and call counters. The
// blob is the key's index, a nonce and the sealed data with the encoded context as
// AAD, so a wrong key, a wrong context or a changed byte fails.
type fakeKMS struct {
	mu       sync.Mutex
	keys     []fakeKey
	aliases  map[string]string // alias -> canonical ID
	disabled map[string]bool
	calls    map[string]int // "Encrypt", "Decrypt", "GenerateDataKey", "DescribeKey"
	// mrk makes replicas: a canonical mrk ARN in another region maps to the same key.
	generator bool
}

type fakeKey struct {
	id  string
	gcm cipher.AEAD
}

var (
	_ backends.Backend          = (*fakeKMS)(nil)
	_ backends.DataKeyGenerator = (*fakeKMS)(nil)
	_ backends.KeyDescriber     = (*fakeKMS)(nil)
)

func newFakeKMS(ids ...string) *fakeKMS {
	f := &fakeKMS{aliases: map[string]string{}, disabled: map[string]bool{}, calls: map[string]int{}, generator: true}
	for _, id := range ids {
		f.add(id)
	}
	return f
}

// add creates a key, or (for a second mrk replica) shares the material of the first.
func (f *fakeKMS) add(id string) {
	k := make([]byte, 32)
	if ref, err := backends.ParseKeyRef(id); err == nil && ref.MultiRegion() {
		for _, o := range f.keys {
			if or, _ := backends.ParseKeyRef(o.id); or.KeyID == ref.KeyID {
				f.keys = append(f.keys, fakeKey{id: id, gcm: o.gcm})
				return
			}
		}
	}
	_, _ = rand.Read(k)
	b, _ := aes.NewCipher(k)
	g, _ := cipher.NewGCM(b)
	f.keys = append(f.keys, fakeKey{id: id, gcm: g})
}

func (f *fakeKMS) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func (f *fakeKMS) lookup(op, id string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[op]++
	if c, ok := f.aliases[id]; ok {
		id = c
	}
	for i, k := range f.keys {
		if k.id == id {
			if f.disabled[id] {
				return 0, backends.Errorf(backends.ErrDisabled, op, id, "key is disabled")
			}
			return i, nil
		}
	}
	return 0, backends.Errorf(backends.ErrNotFound, op, id, "no such key")
}

func (f *fakeKMS) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	i, err := f.lookup("Encrypt", in.KeyID)
	if err != nil {
		return nil, err
	}
	k := f.keys[i]
	nonce := make([]byte, 12)
	_, _ = rand.Read(nonce)
	blob := binary.BigEndian.AppendUint16(nil, uint16(i))
	blob = append(blob, nonce...)
	blob = k.gcm.Seal(blob, nonce, in.Plaintext, backends.EncodeEncryptionContext(in.EncryptionContext))
	return &backends.EncryptOutput{CiphertextBlob: blob, KeyID: k.id, EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

func (f *fakeKMS) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	i, err := f.lookup("Decrypt", in.KeyID)
	if err != nil {
		return nil, err
	}
	k := f.keys[i]
	if len(in.CiphertextBlob) < 2+12+16 {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, "Decrypt", k.id, "short blob")
	}
	if j := int(binary.BigEndian.Uint16(in.CiphertextBlob)); j != i && (j >= len(f.keys) || f.keys[j].gcm != k.gcm) {
		return nil, backends.Errorf(backends.ErrIncorrectKey, "Decrypt", k.id, "blob is for another key")
	}
	pt, err := k.gcm.Open(nil, in.CiphertextBlob[2:14], in.CiphertextBlob[14:], backends.EncodeEncryptionContext(in.EncryptionContext))
	if err != nil {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, "Decrypt", k.id, "authentication failed")
	}
	return &backends.DecryptOutput{Plaintext: pt, KeyID: k.id, EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

func (f *fakeKMS) GenerateDataKey(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	f.mu.Lock()
	f.calls["GenerateDataKey"]++
	f.mu.Unlock()
	n := in.NumberOfBytes
	if n == 0 {
		n = 32
	}
	pt := make([]byte, n)
	_, _ = rand.Read(pt)
	out, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: in.KeyID, Plaintext: pt, EncryptionContext: in.EncryptionContext})
	if err != nil {
		return nil, err
	}
	return &backends.GenerateDataKeyOutput{CiphertextBlob: out.CiphertextBlob, Plaintext: pt, KeyID: out.KeyID}, nil
}

func (f *fakeKMS) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	out, err := f.GenerateDataKey(ctx, in)
	if err != nil {
		return nil, err
	}
	clear(out.Plaintext)
	out.Plaintext = nil
	return out, nil
}

func (f *fakeKMS) DescribeKey(ctx context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	i, err := f.lookup("DescribeKey", in.KeyID)
	if err != nil {
		return nil, err
	}
	return &backends.KeyMetadata{Arn: f.keys[i].id, KeyState: backends.KeyStateEnabled}, nil
}

// plainBackend hides the optional capabilities of a backend.
type plainBackend struct{ backends.Backend }
