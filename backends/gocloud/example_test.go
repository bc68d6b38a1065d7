package gocloud_test

import (
	"context"
	"fmt"
	"log"

	"github.com/keyport/keyport/backends/gocloud"
	"github.com/keyport/keyport/backends/local"
	"gocloud.dev/secrets"
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
