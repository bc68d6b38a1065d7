package keyport_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/keyport/keyport"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/backends/azurekv"
	"github.com/keyport/keyport/backends/gcpkms"
	"github.com/keyport/keyport/backends/gocloud"
	"github.com/keyport/keyport/backends/vault"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/reencrypt"
)

const (
	account = "111122223333"
	keyID   = "11111111-1111-4111-8111-000000000001" // seeded in local-kms A as alias/keyport/primary
	keyARN  = "arn:aws:kms:us-east-1:" + account + ":key/" + keyID
)

// offlineEnv gives the drivers' default configurations something to read that
// reaches no real service: static AWS credentials, a Vault address and token, and
// Application Default Credentials that name a made-up user.
func offlineEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("VAULT_ADDR", "http://127.0.0.1:1")
	t.Setenv("VAULT_TOKEN", "t")
	adc := filepath.Join(t.TempDir(), "adc.json")
	if err := os.WriteFile(adc, []byte(`{"type":"authorized_user","client_id":"c","client_secret":"s","refresh_token":"r"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", adc)
}

// TestURLForms routes every key URL form of the package documentation's table to
// the driver that serves it, and hands the driver the reference it takes.
func TestURLForms(t *testing.T) {
	offlineEnv(t)
	kms := keyport.NewFront()
	ctx := context.Background()
	for _, c := range []struct {
		url, driver, ref string
	}{
		{keyARN, "awskms", keyARN},
		{"arn:aws:kms:eu-west-1:" + account + ":alias/orders", "awskms", "arn:aws:kms:eu-west-1:" + account + ":alias/orders"},
		{"aws-kms://" + keyARN, "awskms", keyARN},
		{"awskms:///" + keyARN, "awskms", keyARN},
		{"awskms:///" + keyID + "?region=us-east-1", "awskms", ""},
		{"awskms:///alias/orders?region=eu-west-1", "awskms", ""},
		{"awskms://alias/orders?region=eu-west-1", "awskms", ""},
		{"vault://transit/orders", "vault", ""},
		{"vault:///orders", "vault", ""},
		{"hashivault://orders", "vault", ""},
		{"hcvault://vault.example:8200/transit/keys/orders", "vault", ""},
		{"gcpkms://projects/p/locations/global/keyRings/r/cryptoKeys/k", "gcpkms", ""},
		{"gcp-kms://projects/p/locations/global/keyRings/r/cryptoKeys/k", "gcpkms", ""},
		{"base64key://smGbjm71Nxd1Ig5FS0wj9SlbzAIrnolCz9bQQ6uAhl4=", "gocloud", ""},
		{"https://myvault.vault.azure.net/keys/orders", "azurekv", ""},
		{"https://myvault.vault.azure.net/keys/orders/0123456789abcdef0123456789abcdef", "azurekv", ""},
		{"azurekeyvault://myvault.vault.azure.net/keys/orders", "azurekv", ""},
		{"azurekv://myvault.vault.azure.net/keys/orders", "azurekv", ""},
	} {
		b, ref, err := kms.Lookup(ctx, c.url)
		if err != nil {
			t.Errorf("Lookup(%s): %v", c.url, err)
			continue
		}
		var driver string
		switch b.(type) {
		case *awskms.Backend:
			driver = "awskms"
		case *vault.Backend:
			driver = "vault"
		case *gcpkms.Backend:
			driver = "gcpkms"
		case *gocloud.Backend:
			driver = "gocloud"
		case *azurekv.Backend:
			driver = "azurekv"
		}
		want := c.ref
		if want == "" {
			want = c.url
		}
		if driver != c.driver || ref != want {
			t.Errorf("Lookup(%s) = %T with %q; want the %s driver with %q", c.url, b, ref, c.driver, want)
		}
	}
	// Two Vault servers are two backends; one server is one backend whatever the form.
	b1, _, _ := kms.Lookup(ctx, "hcvault://vault.example:8200/transit/keys/a")
	b2, _, _ := kms.Lookup(ctx, "hcvault://vault.example:8200/team/transit/keys/b")
	b3, _, _ := kms.Lookup(ctx, "hcvault://other.example:8200/transit/keys/a")
	if !backends.SameBackend(b1, b2) || backends.SameBackend(b1, b3) {
		t.Errorf("hcvault: one backend per server, got %p %p %p", b1, b2, b3)
	}
	// A malformed URL of a known scheme is the driver's NotFound, never a panic.
	for _, bad := range []string{"vault://", "hcvault://host/transit/orders", "awskms:///nonsense", "gcpkms://projects/p", "pkcs11:object=o;token=t;unknown=%zz"} {
		if _, _, err := kms.Lookup(ctx, bad); err == nil || backends.KindOf(err) == nil {
			t.Errorf("Lookup(%q): err = %v, want a typed error", bad, err)
		}
	}
}

// TestEveryAWSFormRoundTrips encrypts an envelope message under each form of one
// key of local-kms, through the Front of NewFront and nothing else (the endpoint
// comes from the SDK's AWS_ENDPOINT_URL_KMS, the account from AWS_ACCOUNT_ID), and
// decrypts it with every other form.
func TestEveryAWSFormRoundTrips(t *testing.T) {
	ep := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	offlineEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_KMS", ep)
	t.Setenv("AWS_ACCOUNT_ID", account)
	kms := keyport.NewFront()
	forms := []string{
		keyARN,
		"arn:aws:kms:us-east-1:" + account + ":alias/keyport/primary",
		"aws-kms://" + keyARN,
		"awskms:///" + keyARN,
		"awskms:///" + keyID + "?region=us-east-1",
		"awskms:///alias/keyport/primary?region=us-east-1",
	}
	roundTrip(t, kms, forms, keyARN)
	kmstest.WantReEncryptForms(t, reencrypt.New(kms), kms, map[string]string{"tenant": "acme"}, keyARN, true, forms...)
}

// TestEveryVaultFormRoundTrips does the same with a Transit key of the Vault
// server of VAULT_ADDR, named by keyport's and gocloud's forms.
func TestEveryVaultFormRoundTrips(t *testing.T) {
	addr := testenv.Require(t, "KEYPORT_VAULT_ADDR", "Vault dev server")
	token := testenv.Require(t, "VAULT_TOKEN", "Vault dev server")
	t.Setenv("VAULT_ADDR", addr)
	c, err := api.NewClient(&api.Config{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(token)
	name := fmt.Sprintf("keyport-url-forms-%d", os.Getpid())
	if _, err := c.Logical().Write("transit/keys/"+name, nil); err != nil {
		t.Fatal(err)
	}
	canonical := "vault://transit/" + name
	kms, forms := keyport.NewFront(), []string{canonical, "vault:///" + name, "hashivault://" + name}
	// Tink's hcvault:// always speaks HTTPS: the same Vault, through a TLS proxy.
	hc := "hcvault://" + tlsProxy(t, addr) + "/transit/keys/" + name
	roundTrip(t, kms, append(forms, hc), canonical)
	// Transit's rewrap takes no associated data: natively only without a context.
	eng := reencrypt.New(kms)
	kmstest.WantReEncryptForms(t, eng, kms, nil, canonical, true, forms...)
	kmstest.WantReEncryptForms(t, eng, kms, nil, canonical, true, hc)
	// An hcvault:// URL names a server of its own: to and from the other forms,
	// through the plaintext.
	kmstest.WantReEncryptForms(t, eng, kms, nil, canonical, false, hc, forms[0])
}

// tlsProxy serves the Vault of addr over TLS, on a loopback port of its own,
// through a reverse proxy whose certificate VAULT_CACERT names, and returns its
// host:port.
func tlsProxy(t *testing.T, addr string) string {
	t.Helper()
	target, err := url.Parse(addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VAULT_CACERT", ca)
	return srv.Listener.Addr().String()
}

func roundTrip(t *testing.T, kms *backends.Front, forms []string, canonical string) {
	t.Helper()
	ctx := context.Background()
	pt := []byte("a message under every form of one key")
	ec := map[string]string{"tenant": "acme"}
	for _, enc := range forms {
		kr, err := keyring.NewBackend(kms, enc, nil)
		if err != nil {
			t.Fatalf("keyring over %s: %v", enc, err)
		}
		msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: kr, EncryptionContext: ec})
		if err != nil {
			t.Fatalf("Encrypt under %s: %v", enc, err)
		}
		h, err := envelope.ParseHeader(bytes.NewReader(msg), 0)
		if err != nil || len(h.EncryptedDataKeys) != 1 || string(h.EncryptedDataKeys[0].ProviderInfo) != canonical {
			t.Fatalf("Encrypt under %s: the header does not name %s (%v)", enc, canonical, err)
		}
		for _, dec := range forms {
			kr, err := keyring.NewBackend(kms, dec, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: kr})
			if err != nil || !bytes.Equal(got, pt) {
				t.Errorf("encrypted under %s, decrypted with %s: %v", enc, dec, err)
			}
		}
	}
	// A form of another key is refused, not silently accepted.
	other, _ := keyring.NewBackend(kms, strings.Replace(forms[0], "1-000000000001", "1-000000000002", 1), nil)
	kr, _ := keyring.NewBackend(kms, forms[0], nil)
	msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: kr, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if other != nil && !strings.HasPrefix(forms[0], "vault") {
		if _, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: other}); !errors.Is(err, backends.ErrIncorrectKey) {
			t.Errorf("decrypting with another key: %v, want IncorrectKey", err)
		}
	}
}
