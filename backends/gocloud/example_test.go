package gocloud_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gocloud"
	"github.com/keyport/keyport/backends/local"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/localsecrets"
)

// Keyport's keys open through gocloud's URL mux once keyport is registered.
func ExampleRegisterKeeper() {
	ctx := context.Background()
	svc := local.New()
	defer svc.Close()
	app := svc.Client(local.Identity{Account: "111122223333"})
	key, err := app.CreateKey(ctx, &local.CreateKeyInput{})
	if err != nil {
		log.Fatal(err)
	}
	if err := app.CreateAlias(ctx, &local.CreateAliasInput{AliasName: "alias/orders", TargetKeyID: key.KeyMetadata.Arn}); err != nil {
		log.Fatal(err)
	}

	mux := new(secrets.URLMux) // or secrets.DefaultURLMux(), for secrets.OpenKeeper
	gocloud.RegisterKeeper(mux, app)
	keeper, err := mux.OpenKeeper(ctx, "keyport:///alias/orders?context.tenant=acme")
	if err != nil {
		log.Fatal(err)
	}
	defer keeper.Close()
	ct, err := keeper.Encrypt(ctx, []byte("hello"))
	if err != nil {
		log.Fatal(err)
	}
	pt, err := keeper.Decrypt(ctx, ct)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", pt)
	// Output: hello
}

// Any gocloud keeper URL is a key; with BindContext the encryption context is
// bound inside the plaintext, since a keeper has none.
func ExampleNew() {
	ctx := context.Background()
	mux := new(secrets.URLMux) // secrets.DefaultURLMux() has every imported gocloud driver
	mux.RegisterKeeper(localsecrets.Scheme, &localsecrets.URLOpener{})
	b := gocloud.New(gocloud.Options{URLMux: mux, BindContext: true})
	defer b.Close()

	keyURL := "base64key://smGbjm71Nxd1Ig5FS0wj9SlbzAIrnolCz9bQQ6uAhl4=" // holds the key: keep it secret
	ec := map[string]string{"tenant": "acme"}
	out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: keyURL, Plaintext: []byte("data key"), EncryptionContext: ec})
	if err != nil {
		log.Fatal(err)
	}
	_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: out.KeyID, CiphertextBlob: out.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "other"}})
	fmt.Println(errors.Is(err, backends.ErrInvalidCiphertext), out.KeyID == gocloud.CanonicalID(keyURL))
	// Output: true true
}
