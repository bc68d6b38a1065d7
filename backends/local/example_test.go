package local_test

import (
	"context"
	"errors"
	"fmt"

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
	if err := app.CreateAlias(ctx, &local.CreateAliasInput{AliasName: "alias/orders", TargetKeyID: key.KeyMetadata.ID}); err != nil {
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
