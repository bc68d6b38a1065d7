package azurekv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/keyport/keyport/backends/azurekv"
	"github.com/keyport/keyport/internal/azurekvtest"
)

const vaultHost = "keyport-test.vault.azure.net"

// env is a test server with one vault, an admin client of it, and Backends
// (with the context binding on) over clients of their own.
type env struct {
	srv   *azurekvtest.Server
	url   string
	admin *azkeys.Client
	b     *azurekv.Backend
}

func newEnv(t testing.TB) *env {
	t.Helper()
	srv := azurekvtest.Start(t)
	u := srv.AddVault(vaultHost)
	admin, err := azkeys.NewClient(u, srv.NewCredential(), srv.ClientOptions(-1))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{srv: srv, url: u, admin: admin}
	e.b = e.backend(t, azurekv.Options{BindEncryptionContext: true})
	return e
}

// backend returns a Backend over the server with opts, a fresh credential and no
// client retries unless opts gives client options.
func (e *env) backend(t testing.TB, opts azurekv.Options) *azurekv.Backend {
	t.Helper()
	if opts.Credential == nil {
		opts.Credential = e.srv.NewCredential()
	}
	if opts.ClientOptions == nil {
		opts.ClientOptions = e.srv.ClientOptions(-1)
	}
	b, err := azurekv.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// key creates a key and returns its canonical URI.
func (e *env) key(t testing.TB, name string, kty azkeys.KeyType, size int32) string {
	t.Helper()
	_, err := e.admin.CreateKey(context.Background(), name, azkeys.CreateKeyParameters{Kty: &kty, KeySize: &size}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return "azurekv://" + strings.TrimPrefix(e.url, "https://") + "/keys/" + name
}

func (e *env) setEnabled(t testing.TB, name string, on bool) {
	t.Helper()
	if _, err := e.admin.UpdateKey(context.Background(), name, "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: &on}}, nil); err != nil {
		t.Fatal(err)
	}
}

func (e *env) delete(t testing.TB, name string) {
	t.Helper()
	if _, err := e.admin.DeleteKey(context.Background(), name, nil); err != nil {
		t.Fatal(err)
	}
}

// rotate makes a new current version of the key keyID.
func (e *env) rotate(ctx context.Context, keyID string) error {
	ref, err := azurekv.ParseRef(keyID)
	if err != nil {
		return err
	}
	_, err = e.admin.RotateKey(ctx, ref.Name, nil)
	return err
}
