package gocloud_test

import (
	"context"
	"errors"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/azurekeyvault"

	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/azurekvtest"
)

// TestConformanceAzureKeyVault runs the conformance suite against the gocloud
// backend over gocloud's own azurekeyvault keepers (RSA-OAEP-256 encrypt and
// decrypt), opened from azurekeyvault:// URLs by gocloud's URL opener with an
// azkeys client that talks to keyport's protocol-level Key Vault server on a real
// socket (what that server does not prove: the README's section on Key Vault).
func TestConformanceAzureKeyVault(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		srv := azurekvtest.Start(t)
		const host = "gocloud-test.vault.azure.net"
		vaultURL := srv.AddVault(host)
		admin, err := azkeys.NewClient(vaultURL, srv.NewCredential(), srv.ClientOptions(-1))
		if err != nil {
			t.Fatal(err)
		}
		key := func(name string) string {
			kty, size := azkeys.KeyTypeRSA, int32(2048)
			if _, err := admin.CreateKey(ctx, name, azkeys.CreateKeyParameters{Kty: &kty, KeySize: &size}, nil); err != nil {
				t.Fatal(err)
			}
			return "azurekeyvault://" + host + "/keys/" + name
		}
		mux := new(secrets.URLMux)
		mux.RegisterKeeper(azurekeyvault.Scheme, &azurekeyvault.URLOpener{ClientMaker: func(u string) (*azkeys.Client, error) {
			return azkeys.NewClient(u, srv.NewCredential(), srv.ClientOptions(-1))
		}})
		// RSA-OAEP-256 under a 2048-bit key takes at most 190 bytes, 157 after
		// the binding of the context.
		return keeperFixture(ctx, t, mux, key("a"), key("b"), "azurekeyvault://"+host+"/keys/missing", func(err error) bool {
			var re *azcore.ResponseError
			return errors.As(err, &re)
		}, conformance.DeviationSmallPlaintextLimit)
	}))
}
