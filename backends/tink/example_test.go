package tink_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/backends/tink"
	"github.com/tink-crypto/tink-go/v2/aead"
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

// Tink's KMS envelope AEAD runs over any keyport key: here a key of the embedded
// service, offered to Tink as a KMS client.
func ExampleNewKMSClient() {
	ctx := context.Background()
	svc := local.New()
	defer svc.Close()
	app := svc.Client(local.Identity{Account: "111122223333"})
	key, err := app.CreateKey(ctx, &local.CreateKeyInput{})
	if err != nil {
		log.Fatal(err)
	}
	client := tink.NewKMSClient(app, "keyport:")
	kek, err := client.GetAEAD("keyport:" + key.KeyMetadata.Arn)
	if err != nil {
		log.Fatal(err)
	}
	env := aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), kek)
	ct, err := env.Encrypt([]byte("hello"), []byte("header"))
	if err != nil {
		log.Fatal(err)
	}
	pt, err := env.Decrypt(ct, []byte("header"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", pt)
	// Output: hello
}
