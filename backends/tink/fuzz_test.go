package tink_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/tink"
)

// FuzzKeysetDecrypt decrypts arbitrary blobs, with and without a KeyID, under two
// keysets (one with a disabled key): no panic, no plaintext but the original,
// and every error of exactly one expected kind.
func FuzzKeysetDecrypt(f *testing.F) {
	ctx := context.Background()
	a, err := tink.Create(ctx, "a", tink.AES256GCM, tink.Storage{})
	if err != nil {
		f.Fatal(err)
	}
	old := a.Keys()[0].ID
	c, _ := tink.Create(ctx, "c", tink.XChaCha20Poly1305, tink.Storage{})
	b, _ := tink.New(a, c)
	pt := []byte("fuzz plaintext")
	ec := map[string]string{"k": "v"}
	blobOld := encryptF(f, b, "tink-keyset://a", pt, ec)
	if _, err := a.Rotate(ctx, tink.AES128GCMSIV); err != nil {
		f.Fatal(err)
	}
	if err := a.Disable(ctx, old); err != nil {
		f.Fatal(err)
	}
	f.Add(blobOld)
	f.Add(encryptF(f, b, "tink-keyset://a", pt, ec))
	f.Add(encryptF(f, b, "tink-keyset://c", pt, ec))
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, blob []byte) {
		for _, key := range []string{"", "tink-keyset://a", "tink-keyset://c"} {
			out, err := b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: blob, EncryptionContext: ec})
			if err == nil {
				if !bytes.Equal(out.Plaintext, pt) {
					t.Fatalf("a fuzzed blob decrypted under %q to another plaintext", key)
				}
				continue
			}
			switch backends.KindOf(err) {
			case backends.ErrInvalidCiphertext, backends.ErrIncorrectKey, backends.ErrDisabled, backends.ErrInvalidArgument:
			default:
				t.Fatalf("Decrypt under %q: unexpected error %v", key, err)
			}
		}
	})
}

func encryptF(f *testing.F, b backends.Backend, key string, pt []byte, ec map[string]string) []byte {
	out, err := b.Encrypt(context.Background(), &backends.EncryptInput{KeyID: key, Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		f.Fatal(err)
	}
	return out.CiphertextBlob
}
