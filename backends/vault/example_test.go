package vault_test

import (
	"context"
	"fmt"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/vault"
)

func ExampleParseRef() {
	for _, s := range []string{"vault://transit/orders", "vault:///orders", "vault://team-a/transit/orders"} {
		ref, err := vault.ParseRef(s)
		if err != nil {
			fmt.Println(err)
			continue
		}
		fmt.Printf("mount=%s key=%s canonical=%s\n", ref.Mount, ref.Name, ref.URI())
	}
	// Output:
	// mount=transit key=orders canonical=vault://transit/orders
	// mount=transit key=orders canonical=vault://transit/orders
	// mount=team-a/transit key=orders canonical=vault://team-a/transit/orders
}

// Example_front registers a Vault backend (configured from VAULT_ADDR and
// VAULT_TOKEN) with a Front and encrypts a data key under a Transit key, bound to
// an encryption context.
func Example_front() {
	b, err := vault.New(vault.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var r backends.Front
	if err := b.Register(&r); err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	ec := map[string]string{"tenant": "42"}
	out, err := r.Encrypt(ctx, &backends.EncryptInput{KeyID: "vault://transit/orders", Plaintext: []byte("a data key"), EncryptionContext: ec})
	if err != nil {
		fmt.Println(err)
		return
	}
	pt, err := r.Decrypt(ctx, &backends.DecryptInput{KeyID: out.KeyID, CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer clear(pt.Plaintext)
	fmt.Println(out.KeyID)
}
