package tink_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/tink"
)

// A keyset in memory serves as a key; rotation adds a new primary and old
// ciphertexts still decrypt.
func Example() {
	ctx := context.Background()
	ks, err := tink.Create(ctx, "orders", tink.AES256GCM, tink.Storage{}) // add Path and KEK to keep it in a file
	if err != nil {
		log.Fatal(err)
	}
	b, err := tink.New(ks)
	if err != nil {
		log.Fatal(err)
	}
	ec := map[string]string{"tenant": "acme"}
	out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: "tink-keyset://orders", Plaintext: []byte("data key"), EncryptionContext: ec})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := ks.Rotate(ctx, tink.XChaCha20Poly1305); err != nil {
		log.Fatal(err)
	}
	dec, err := b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		log.Fatal(err)
	}
	defer clear(dec.Plaintext)
	md, _ := b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: "tink-keyset://orders"})
	fmt.Printf("%s by %s; %d keys, version %d encrypts\n", dec.Plaintext, dec.KeyID, len(ks.Keys()), md.CurrentVersion)
	// Output: data key by tink-keyset://orders; 2 keys, version 2 encrypts
}
