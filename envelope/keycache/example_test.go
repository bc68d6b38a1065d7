package keycache_test

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keycache"
	"github.com/keyport/keyport/envelope/keyring"
)

// A caching keyring in front of another: here a raw AES keyring, in practice
// one over a key service (keyring.NewBackend).
func ExampleNewKeyring() {
	ctx := context.Background()
	kek := make([]byte, 32) // a real key comes from a key store
	inner, err := keyring.NewRawAES("example", "kek", kek)
	if err != nil {
		panic(err)
	}
	cached, err := keycache.NewKeyring(inner, keycache.Options{MaxAge: time.Minute, MaxMessages: 100})
	if err != nil {
		panic(err)
	}
	opts := envelope.EncryptOptions{
		Keyring:           cached,
		Suite:             envelope.SuiteAES256GCMHKDFSHA512CommitKey, // signed suites are not cached
		EncryptionContext: map[string]string{"tenant": "acme"},
	}
	a, _ := envelope.Encrypt(ctx, []byte("first"), opts)
	b, _ := envelope.Encrypt(ctx, []byte("second"), opts)
	ha, _ := envelope.ParseHeader(bytes.NewReader(a), 0)
	hb, _ := envelope.ParseHeader(bytes.NewReader(b), 0)
	fmt.Println("same data key:", string(ha.EncryptedDataKeys[0].Ciphertext) == string(hb.EncryptedDataKeys[0].Ciphertext))
	fmt.Println("same message ID:", string(ha.MessageID) == string(hb.MessageID))
	pt, _, err := envelope.Decrypt(ctx, b, envelope.DecryptOptions{Keyring: cached, EncryptionContext: opts.EncryptionContext})
	fmt.Println(string(pt), err)
	// Output:
	// same data key: true
	// same message ID: false
	// second <nil>
}
