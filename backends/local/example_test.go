package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
)

func Example() {
	ctx := context.Background()
	svc := local.New() // in memory; local.Open(path) keeps the state in a file
	defer svc.Close()

	app := svc.Client(local.Identity{Account: "111122223333", Principal: "arn:aws:iam::111122223333:role/app"})
	key, err := app.CreateKey(ctx, &local.CreateKeyInput{Description: "orders"})
	if err != nil {
		panic(err)
	}
	if err := app.CreateAlias(ctx, &local.CreateAliasInput{AliasName: "alias/orders", TargetKeyID: key.KeyMetadata.KeyID}); err != nil {
		panic(err)
	}

	ec := map[string]string{"order": "42"}
	enc, err := app.Encrypt(ctx, &backends.EncryptInput{KeyID: "alias/orders", Plaintext: []byte("data key"), EncryptionContext: ec})
	if err != nil {
		panic(err)
	}
	dec, err := app.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", dec.Plaintext)
	clear(dec.Plaintext)

	// The wrong encryption context is InvalidCiphertext, as in AWS KMS.
	_, err = app.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"order": "43"}})
	fmt.Println(errors.Is(err, backends.ErrInvalidCiphertext))

	// Another account may use the key only once the key policy names it, and only by ARN.
	other := svc.Client(local.Identity{Account: "444455556666"})
	_, err = other.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	fmt.Println(backends.KindOf(err).Name())
	// Output:
	// data key
	// true
	// AccessDeniedException
}

// A file store keeps keys, aliases, policies, grants and rotation settings across
// restarts, encrypted under a 32-byte root key (here given directly; WithRootKeyFile
// and the KEYPORT_LOCAL_ROOT_KEY environment variable are the other sources).
func ExampleOpen() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "keyport-local-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keys.store")
	text, err := local.GenerateRootKey() // keep it in a secret store in real life
	if err != nil {
		panic(err)
	}
	root, err := local.ParseRootKey(text)
	if err != nil {
		panic(err)
	}

	svc, err := local.Open(path, local.WithRootKey(root))
	if err != nil {
		panic(err)
	}
	c := svc.Client(local.Identity{Account: "111122223333"})
	key, _ := c.CreateKey(ctx, &local.CreateKeyInput{Description: "kept"})
	enc, _ := c.Encrypt(ctx, &backends.EncryptInput{KeyID: key.KeyMetadata.Arn, Plaintext: []byte("hello")})
	svc.Close()

	svc, err = local.Open(path, local.WithRootKey(root))
	if err != nil {
		panic(err)
	}
	defer svc.Close()
	dec, err := svc.Client(local.Identity{Account: "111122223333"}).Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s\n", dec.Plaintext)

	// A weak root key is refused; another root key cannot read the store.
	_, err = local.Open(path, local.WithRootKey(make([]byte, 32)))
	fmt.Println(errors.Is(err, local.ErrInvalidRootKey))
	other := bytes.Clone(root)
	other[0] ^= 1
	_, err = local.Open(path, local.WithRootKey(other))
	fmt.Println(errors.Is(err, local.ErrWrongRootKey))
	// Output:
	// hello
	// true
	// true
}

// ReEncrypt moves a ciphertext to a key of another account of the same service,
// natively: the plaintext never leaves the service. The destination key's policy
// must allow kms:ReEncryptTo to the caller, and the caller must name it by ARN.
func ExampleClient_ReEncrypt() {
	ctx := context.Background()
	svc := local.New()
	defer svc.Close()
	app := svc.Client(local.Identity{Account: "111122223333"})
	partner := svc.Client(local.Identity{Account: "444455556666"})

	src, _ := app.CreateKey(ctx, nil)
	dst, _ := partner.CreateKey(ctx, &local.CreateKeyInput{Policy: `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"},
		{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"kms:ReEncryptTo","Resource":"*"}]}`})
	enc, _ := app.Encrypt(ctx, &backends.EncryptInput{KeyID: src.KeyMetadata.KeyID, Plaintext: []byte("data key"),
		EncryptionContext: map[string]string{"stage": "1"}})

	out, err := app.ReEncrypt(ctx, &backends.ReEncryptInput{
		CiphertextBlob:               enc.CiphertextBlob,
		SourceEncryptionContext:      map[string]string{"stage": "1"},
		DestinationKeyID:             dst.KeyMetadata.Arn, // an ARN: the key is in another account
		DestinationEncryptionContext: map[string]string{"stage": "2"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(out.Native, out.KeyID == dst.KeyMetadata.Arn)
	dec, _ := partner.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: map[string]string{"stage": "2"}})
	fmt.Printf("%s\n", dec.Plaintext)
	// Output:
	// true true
	// data key
}
