package reencrypt_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/reencrypt"
)

// Move a data key from a key of the caller's account, held by one key service, to
// a key of a partner account held by another, changing the encryption context on
// the way. Two services cannot re-encrypt natively between them, so the engine
// decrypts at the source (which needs kms:Decrypt), encrypts at the destination
// (kms:Encrypt) and wipes the plaintext in between.
func Example() {
	ctx := context.Background()
	const mine, partner = "111111111111", "222222222222"
	caller := local.Identity{Account: mine}

	// Two services standing in for two providers.
	svcA, svcB := local.New(), local.New()
	src, err := svcA.Client(caller).CreateKey(ctx, &local.CreateKeyInput{Description: "old key"})
	if err != nil {
		log.Fatal(err)
	}
	// The partner's key lets the caller's account encrypt and decrypt with it.
	dst, err := svcB.Client(local.Identity{Account: partner}).CreateKey(ctx, &local.CreateKeyInput{
		Description: "new key",
		Policy: `{"Version":"2012-10-17","Statement":[
			{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + partner + `:root"},"Action":"kms:*","Resource":"*"},
			{"Effect":"Allow","Principal":{"AWS":"` + mine + `"},"Action":["kms:Encrypt","kms:Decrypt"],"Resource":"*"}]}`,
	})
	if err != nil {
		log.Fatal(err)
	}

	// The caller reaches each account through the service that holds it; bare key
	// IDs and aliases go to its own.
	r := backends.NewFront(svcA.Client(caller))
	if err := r.RegisterAccount(mine, "", r.Default()); err != nil {
		log.Fatal(err)
	}
	if err := r.RegisterAccount(partner, "", svcB.Client(caller)); err != nil {
		log.Fatal(err)
	}

	enc, err := r.Encrypt(ctx, &backends.EncryptInput{
		KeyID: src.KeyMetadata.KeyID, Plaintext: []byte("a 32-byte data key, for example."),
		EncryptionContext: map[string]string{"tenant": "acme"},
	})
	if err != nil {
		log.Fatal(err)
	}

	out, err := reencrypt.New(r).ReEncrypt(ctx, &backends.ReEncryptInput{
		CiphertextBlob:               enc.CiphertextBlob,
		SourceEncryptionContext:      map[string]string{"tenant": "acme"},
		DestinationKeyID:             dst.KeyMetadata.Arn, // another account: by ARN only
		DestinationEncryptionContext: map[string]string{"tenant": "acme", "moved": "yes"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("from the old key:", out.SourceKeyID == src.KeyMetadata.Arn)
	fmt.Println("to the partner's key:", out.KeyID == dst.KeyMetadata.Arn)
	fmt.Println("native:", out.Native)

	dec, err := r.Decrypt(ctx, &backends.DecryptInput{
		KeyID: out.KeyID, CiphertextBlob: out.CiphertextBlob,
		EncryptionContext: map[string]string{"tenant": "acme", "moved": "yes"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", dec.Plaintext)
	// Output:
	// from the old key: true
	// to the partner's key: true
	// native: false
	// a 32-byte data key, for example.
}
