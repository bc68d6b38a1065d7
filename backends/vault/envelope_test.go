package vault

import (
	"bytes"
	"context"
	"testing"

	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/vaulttest"
)

// TestEnvelopeKeyring uses a Transit key as the keyring of an envelope message
// (the data key made by Transit's datakey endpoint or by crypto/rand, and wrapped
// under the message's encryption context), for a plain and a derived key.
func TestEnvelopeKeyring(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	for _, params := range []map[string]any{nil, {"derived": true}} {
		key := v.key(vaulttest.Name("env"), params)
		kr, err := keyring.NewBackend(v.b, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		ec := map[string]string{"purpose": "envelope-test"}
		msg := bytes.Repeat([]byte("a message body "), 1000)
		ct, err := envelope.Encrypt(ctx, msg, envelope.EncryptOptions{Keyring: kr, EncryptionContext: ec})
		if err != nil {
			t.Fatalf("envelope.Encrypt under %s: %v", key, err)
		}
		pt, res, err := envelope.Decrypt(ctx, ct, envelope.DecryptOptions{Keyring: kr, EncryptionContext: ec})
		if err != nil {
			t.Fatalf("envelope.Decrypt under %s: %v", key, err)
		}
		if !bytes.Equal(pt, msg) || res == nil {
			t.Fatal("the envelope message did not round-trip")
		}
		if _, _, err := envelope.Decrypt(ctx, ct, envelope.DecryptOptions{Keyring: kr, EncryptionContext: map[string]string{"purpose": "other"}}); err == nil {
			t.Fatal("the envelope message decrypted under another encryption context")
		}
	}
}
