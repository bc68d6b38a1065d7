// Package keyport opens the keys of every key service keyport has a driver for,
// from the key URLs their users already have, through one [backends.Front].
//
//	kms := keyport.NewFront()
//	defer kms.Close() // what the openers opened: HSM sessions, gRPC connections
//	out, err := kms.Encrypt(ctx, &backends.EncryptInput{
//		KeyID:     "awskms:///alias/orders?region=eu-west-1",
//		Plaintext: dataKey,
//	})
//
// Nothing registers itself: NewFront and [RegisterOpeners] register the URL
// openers of the in-tree drivers explicitly, and importing package keyport is what
// links them all in. A program that wants fewer dependencies registers the openers
// it needs on a Front of its own, from the driver packages.
//
// # Key URLs
//
// Every form in this table names a key, opens its service on first use (one
// client per service, reused), and round-trips: outputs, and the headers of
// envelope messages, always name the key by its canonical ID (a key ARN, or the
// driver's canonical URL), so a message written with one form opens with any other.
//
//	service           keyport                                  gocloud.dev                                   Tink
//	AWS KMS           awskms:///<key ID|alias/N|ARN>?region=R   awskms://<key ID|alias/N>?region=R            aws-kms://<key ARN|alias ARN>
//	                  (and the four AWS forms: key ID, key ARN, alias/N, alias ARN)
//	Vault Transit     vault://<mount>/<key>                     hashivault://<key>                            hcvault://<host>:<port>/<mount>/keys/<key>
//	Google Cloud KMS  gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K       (same)                gcp-kms://projects/P/.../cryptoKeys/K
//	Azure Key Vault   azurekv://<vault>.vault.azure.net/keys/<key>[/<version>]  azurekeyvault://<vault>.vault.azure.net/keys/<key>
//	                  (and Key Vault's key identifiers, https://<vault>.vault.azure.net/keys/<key>[/<version>])
//	PKCS#11 (RFC 7512) pkcs11:token=T;object=O[;id=%01][?module-path=/path/lib.so]
//	raw AES key       -                                        base64key://<base64 of 32 bytes>              -
//
// Where each takes its credentials: AWS KMS from the AWS SDK's default
// configuration (environment, shared files, SSO, instance role); an endpoint=
// parameter points awskms:// URLs at a local server such as local-kms. Vault from
// VAULT_ADDR and VAULT_TOKEN (hashivault:// also from gocloud's VAULT_SERVER_URL
// and VAULT_SERVER_TOKEN; hcvault:// names its server and takes VAULT_TOKEN).
// Cloud KMS from Application Default Credentials. Key Vault from azidentity's
// DefaultAzureCredential (environment, workload identity, managed identity, the
// Azure CLI), made on the first request. PKCS#11 loads only the library
// KEYPORT_PKCS11_MODULE names (a URL's module-path must name the same: a message
// header must not make the process load a library), and takes the PIN from the
// environment or a file, never the URL. A base64key:// URL holds its key: use it for tests only.
//
// A bare key ID, key ARN, alias name or alias ARN with no scheme goes to AWS KMS
// through the awskms opener, in the ARN's region (bare IDs and aliases need a
// default backend: see [backends.Front.SetDefault]).
package keyport

import (
	"context"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/localsecrets"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/backends/azurekv"
	"github.com/keyport/keyport/backends/gcpkms"
	"github.com/keyport/keyport/backends/gocloud"
	"github.com/keyport/keyport/backends/pkcs11"
	"github.com/keyport/keyport/backends/vault"
)

// NewFront returns a Front on which the URL opener of every in-tree driver is
// registered (see [RegisterOpeners]). It has no default backend. Close it when
// done: [backends.Front.Close] closes what its openers opened (HSM sessions,
// gRPC connections).
func NewFront() *backends.Front {
	f := new(backends.Front)
	if err := RegisterOpeners(f); err != nil {
		// Every scheme is new on a new Front: a failure is a bug of this package.
		panic("keyport: " + err.Error())
	}
	return f
}

// RegisterOpeners registers on f the URL opener of every in-tree driver for the
// schemes of the package documentation's table. It fails, registering nothing
// more, when f already has one of those schemes.
func RegisterOpeners(f *backends.Front) error {
	aws := new(awskms.Opener)
	hv := new(vault.Opener)
	gcp := new(gcpkms.Opener)
	hsm := new(pkcs11.Opener)
	az := &azurekv.Opener{Options: azurekv.Options{Credential: new(defaultAzureCredential)}}
	mux := new(secrets.URLMux)
	mux.RegisterKeeper(localsecrets.Scheme, new(localsecrets.URLOpener))
	raw := gocloud.New(gocloud.Options{URLMux: mux})
	for scheme, o := range map[string]backends.URLOpener{
		awskms.Scheme:         aws,
		awskms.TinkScheme:     aws,
		vault.Scheme:          hv,
		vault.GocloudScheme:   hv,
		vault.TinkScheme:      hv,
		gcpkms.Scheme:         gcp,
		gcpkms.TinkScheme:     gcp,
		pkcs11.Scheme:         hsm,
		azurekv.Scheme:        az,
		azurekv.HTTPSScheme:   az,
		azurekv.GocloudScheme: az,
		localsecrets.Scheme:   raw,
	} {
		if err := f.RegisterOpener(scheme, o); err != nil {
			return err
		}
	}
	return nil
}

// defaultAzureCredential is azidentity's DefaultAzureCredential, made on the first
// token request, so that registering the Key Vault opener costs nothing and
// fails nothing where Azure is never used.
type defaultAzureCredential struct {
	once sync.Once
	cred *azidentity.DefaultAzureCredential
	err  error
}

var _ azcore.TokenCredential = (*defaultAzureCredential)(nil)

func (d *defaultAzureCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	d.once.Do(func() { d.cred, d.err = azidentity.NewDefaultAzureCredential(nil) })
	if d.err != nil {
		return azcore.AccessToken{}, d.err
	}
	return d.cred.GetToken(ctx, opts)
}
