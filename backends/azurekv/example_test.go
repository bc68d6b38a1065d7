package azurekv_test

import (
	"context"
	"fmt"
	"log"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/azurekv"
	"github.com/keyport/keyport/internal/azurekvtest"
)

// Wrap a data key with a Key Vault RSA key, bound to an encryption context, and
// unwrap it by gocloud.dev's form of the key's URL. A loopback test server stands
// in for Key Vault here; against the real service, pass
// azidentity.NewDefaultAzureCredential's credential and no client options.
func Example() {
	ctx := context.Background()
	srv, err := azurekvtest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	vaultURL := srv.AddVault("acme.vault.azure.net")
	admin, err := azkeys.NewClient(vaultURL, srv.NewCredential(), srv.ClientOptions(0))
	if err != nil {
		log.Fatal(err)
	}
	kty := azkeys.KeyTypeRSA
	if _, err := admin.CreateKey(ctx, "orders", azkeys.CreateKeyParameters{Kty: &kty}, nil); err != nil {
		log.Fatal(err)
	}

	b, err := azurekv.New(azurekv.Options{
		Credential:            srv.NewCredential(),
		ClientOptions:         srv.ClientOptions(0),
		BindEncryptionContext: true, // Key Vault has no encryption context of its own
	})
	if err != nil {
		log.Fatal(err)
	}
	ec := map[string]string{"tenant": "acme"}
	out, err := b.Encrypt(ctx, &backends.EncryptInput{
		KeyID:             "https://acme.vault.azure.net/keys/orders",
		Plaintext:         []byte("a 32-byte data key, for example."),
		EncryptionContext: ec,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("wrapped under", out.KeyID)

	dec, err := b.Decrypt(ctx, &backends.DecryptInput{
		KeyID:             "azurekeyvault://acme.vault.azure.net/keys/orders",
		CiphertextBlob:    out.CiphertextBlob,
		EncryptionContext: ec,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer clear(dec.Plaintext)
	fmt.Printf("unwrapped %d bytes\n", len(dec.Plaintext))
	// Output:
	// wrapped under azurekv://acme.vault.azure.net/keys/orders
	// unwrapped 32 bytes
}
