package gocloud_test

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gocloud"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
	"gocloud.dev/gcerrors"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/driver"
	"gocloud.dev/secrets/drivertest"
)

// localKeys starts a local service and makes n keys in account 111122223333.
func localKeys(ctx context.Context, t *testing.T, n int) (*local.Client, []string) {
	t.Helper()
	return localKeysIn(ctx, t, "111122223333", n)
}

// localKeysIn is localKeys in account.
func localKeysIn(ctx context.Context, t *testing.T, account string, n int) (*local.Client, []string) {
	t.Helper()
	svc := local.New()
	t.Cleanup(func() { _ = svc.Close() })
	c := svc.Client(local.Identity{Account: account})
	var keys []string
	for range n {
		out, err := c.CreateKey(ctx, &local.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, out.KeyMetadata.Arn)
	}
	return c, keys
}

type driverHarness struct {
	a, b driver.Keeper
}

func (h *driverHarness) MakeDriver(context.Context) (driver.Keeper, driver.Keeper, error) {
	return h.a, h.b, nil
}

func (h *driverHarness) Close() {}

// asBackendError checks that Keeper.ErrorAs reaches keyport's error and that the
// code gocloud reports is the one of its kind.
type asBackendError struct{}

func (asBackendError) Name() string { return "ErrorAs reaches *backends.Error" }

func (asBackendError) ErrorCheck(k *secrets.Keeper, err error) error {
	var be *backends.Error
	if !k.ErrorAs(err, &be) {
		return fmt.Errorf("ErrorAs(%v, *backends.Error) is false", err)
	}
	if be.Kind != backends.ErrInvalidCiphertext {
		return fmt.Errorf("the decrypt error is %s, want %s", be.Kind.Name(), backends.ErrInvalidCiphertext.Name())
	}
	if c := gcerrors.Code(err); c != gcerrors.InvalidArgument {
		return fmt.Errorf("gcerrors.Code = %v, want InvalidArgument", c)
	}
	return nil
}

// TestDriverConformance runs gocloud's own driver conformance suite against
// keyport as a gocloud driver, over a backends.Front that routes to keys of the
// local service (by key ARN, and by alias name through the default).
func TestDriverConformance(t *testing.T) {
	drivertest.RunConformanceTests(t, func(ctx context.Context, t *testing.T) (drivertest.Harness, error) {
		c, keys := localKeys(ctx, t, 2)
		front := backends.NewFront(c)
		if err := front.RegisterAccount("111122223333", "", c); err != nil {
			return nil, err
		}
		ec := &gocloud.KeeperOptions{EncryptionContext: map[string]string{"app": "drivertest"}}
		return &driverHarness{a: gocloud.NewDriver(front, keys[0], ec), b: gocloud.NewDriver(front, "alias/drivertest-b", nil)}, c.CreateAlias(ctx, &local.CreateAliasInput{AliasName: "alias/drivertest-b", TargetKeyID: keys[1]})
	}, []drivertest.AsTest{asBackendError{}})
}

// TestKeeperURL opens keyport keys through a gocloud URL mux, with and without an
// encryption context in the URL, and checks that the context is bound.
func TestKeeperURL(t *testing.T) {
	ctx := context.Background()
	c, keys := localKeys(ctx, t, 1)
	if err := c.CreateAlias(ctx, &local.CreateAliasInput{AliasName: "alias/orders", TargetKeyID: keys[0]}); err != nil {
		t.Fatal(err)
	}
	mux := new(secrets.URLMux)
	gocloud.RegisterKeeper(mux, c)
	for _, u := range []string{"keyport:///alias/orders", "keyport://alias/orders", "keyport:///" + keys[0]} {
		k, err := mux.OpenKeeper(ctx, u+"?context.tenant=acme")
		if err != nil {
			t.Fatalf("OpenKeeper %s: %v", u, err)
		}
		ct, err := k.Encrypt(ctx, []byte("secret"))
		if err != nil {
			t.Fatalf("Encrypt through %s: %v", u, err)
		}
		pt, err := k.Decrypt(ctx, ct)
		if err != nil || string(pt) != "secret" {
			t.Fatalf("Decrypt through %s: %v", u, err)
		}
		// The blob is the local service's, bound to {tenant: acme}.
		_, err = c.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: ct})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "the keeper's blob opened without its context")
		plain, err := mux.OpenKeeper(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := plain.Decrypt(ctx, ct); gcerrors.Code(err) != gcerrors.InvalidArgument {
			t.Errorf("a keeper without the context decrypted, or failed with code %v: %v", gcerrors.Code(err), err)
		}
	}
	for _, u := range []string{"keyport:///", "keyport:///alias/orders?tenant=acme"} {
		if _, err := mux.OpenKeeper(ctx, u); err == nil {
			t.Errorf("OpenKeeper %s: want an error", u)
		}
	}
	k, _ := mux.OpenKeeper(ctx, "keyport:///alias/missing")
	_, err := k.Encrypt(ctx, []byte("x"))
	if gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("Encrypt under a missing alias: code %v, want NotFound", gcerrors.Code(err))
	}
}

// TestContextRefusedWithoutBinding checks that a non-empty context is refused by
// name, never dropped, unless Options.BindContext is set.
func TestContextRefusedWithoutBinding(t *testing.T) {
	ctx := context.Background()
	b := gocloud.New(gocloud.Options{URLMux: localMux()})
	u := keyURL(t)
	out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: u, Plaintext: []byte("pt"), EncryptionContext: map[string]string{"a": "b"}})
	if kmstest.WantKind(t, err, backends.ErrUnsupported, "Encrypt with a context and no binding") != nil && !strings.Contains(err.Error(), "BindContext") {
		t.Errorf("Encrypt with a context and no binding: want an error naming BindContext, got %v", err)
	}
	if out != nil {
		t.Errorf("Encrypt with a refused context returned an output")
	}
	out, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: u, Plaintext: []byte("pt")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: u, CiphertextBlob: out.CiphertextBlob, EncryptionContext: map[string]string{"a": "b"}})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "Decrypt with a context and no binding")
	dec, err := b.Decrypt(ctx, &backends.DecryptInput{KeyID: u, CiphertextBlob: out.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "pt" {
		t.Fatalf("Decrypt without context: %v", err)
	}
	// Without the binding a blob is the keeper's own: the same keeper opens it.
	k, err := localMux().OpenKeeper(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	pt, err := k.Decrypt(ctx, out.CiphertextBlob)
	if err != nil || string(pt) != "pt" {
		t.Errorf("the keeper cannot open the backend's unbound blob: %v", err)
	}
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: u, Plaintext: []byte("pt"), GrantTokens: []string{"t"}})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "Encrypt with a grant token")
}

// TestKeyMaterialNeverShown checks that a base64key:// URL, which holds its key,
// never appears in an output or an error.
func TestKeyMaterialNeverShown(t *testing.T) {
	ctx := context.Background()
	b := gocloud.New(gocloud.Options{URLMux: localMux(), BindContext: true})
	u := keyURL(t)
	secretPart := strings.TrimPrefix(u, "base64key://")
	out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: u, Plaintext: []byte("pt")})
	if err != nil {
		t.Fatal(err)
	}
	if out.KeyID != gocloud.CanonicalID(u) || strings.Contains(out.KeyID, secretPart) || !strings.HasPrefix(out.KeyID, "base64key://sha256-") {
		t.Errorf("output KeyID %q: want the canonical sha256- form", out.KeyID)
	}
	errs := []error{}
	_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: u, CiphertextBlob: []byte("junk")})
	errs = append(errs, err)
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: u, Plaintext: []byte("pt"), EncryptionAlgorithm: backends.RSAESOAEPSHA1})
	errs = append(errs, err)
	bad := "base64key://" + secretPart[:10] // not a valid key
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: bad, Plaintext: []byte("pt")})
	errs = append(errs, err)
	for i, err := range errs {
		if err == nil {
			t.Errorf("case %d: want an error", i)
			continue
		}
		if strings.Contains(err.Error(), secretPart[:10]) {
			t.Errorf("case %d: the error shows the key: %v", i, err)
		}
	}
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: "base64key://", Plaintext: []byte("pt")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under base64key:// (a random key)")
}

// TestAddKeeper serves a keeper opened by the caller under an ID of its choice.
func TestAddKeeper(t *testing.T) {
	ctx := context.Background()
	c, keys := localKeys(ctx, t, 1)
	b := gocloud.New(gocloud.Options{URLMux: new(secrets.URLMux)})
	k := gocloud.OpenKeeper(c, keys[0], nil) // keyport as a keeper, served back as a backend
	if err := b.Add("gocloud://orders", k); err != nil {
		t.Fatal(err)
	}
	kmstest.WantKind(t, b.Add("gocloud://orders", k), backends.ErrAlreadyExists, "second Add")
	kmstest.WantKind(t, b.Add("orders", k), backends.ErrInvalidArgument, "Add under a non-URI")
	out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: "gocloud://orders", Plaintext: []byte("pt")})
	if err != nil || out.KeyID != "gocloud://orders" {
		t.Fatalf("Encrypt: %v", err)
	}
	// Errors of the service behind the keeper keep their kind.
	_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: "gocloud://orders", CiphertextBlob: []byte("junk")})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt of junk")
	dec, err := c.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob})
	if err != nil || !bytes.Equal(dec.Plaintext, []byte("pt")) {
		t.Errorf("the local service cannot open the blob: %v", err)
	}
	if err := c.DisableKey(ctx, &local.DisableKeyInput{KeyID: keys[0]}); err != nil {
		t.Fatal(err)
	}
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: "gocloud://orders", Plaintext: []byte("pt")})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Encrypt under a disabled key behind the keeper")
	_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: "gocloud://orders", CiphertextBlob: out.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Decrypt under a disabled key behind the keeper")
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: "awskms:///alias/x", Plaintext: []byte("pt")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under a scheme no driver serves")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: "gocloud://orders", Plaintext: []byte("pt")})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "Encrypt after Close")
}

// TestOpenBackendURL checks the backend as a backends.URLOpener.
func TestOpenBackendURL(t *testing.T) {
	ctx := context.Background()
	b := gocloud.New(gocloud.Options{URLMux: localMux()})
	u := keyURL(t)
	for _, s := range []string{u, "base64key://"} {
		pu, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.OpenBackendURL(ctx, pu)
		if err != nil || got != b {
			t.Errorf("OpenBackendURL of a base64key URL: %v", err)
		}
	}
	pu, _ := url.Parse("awskms:///alias/x")
	_, err := b.OpenBackendURL(ctx, pu)
	kmstest.WantKind(t, err, backends.ErrNotFound, "OpenBackendURL of a scheme the mux lacks")
}

// TestRegisterWithFront registers the backend with a Front for its mux's schemes
// and reaches a keeper through it, by URL.
func TestRegisterWithFront(t *testing.T) {
	ctx := context.Background()
	b := gocloud.New(gocloud.Options{URLMux: localMux()})
	front := backends.NewFront(nil)
	if err := b.Register(front); err != nil {
		t.Fatal(err)
	}
	kmstest.WantKind(t, b.Register(front, "base64key"), backends.ErrAlreadyExists, "second Register of base64key")

	u := keyURL(t)
	out, err := front.Encrypt(ctx, &backends.EncryptInput{KeyID: u, Plaintext: []byte("pt")})
	if err != nil {
		t.Fatalf("Encrypt through the Front: %v", err)
	}
	if out.KeyID != gocloud.CanonicalID(u) {
		t.Errorf("output KeyID %q, want %q", out.KeyID, gocloud.CanonicalID(u))
	}
	dec, err := front.Decrypt(ctx, &backends.DecryptInput{KeyID: out.KeyID, CiphertextBlob: out.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "pt" {
		t.Fatalf("Decrypt through the Front by the canonical ID: %v", err)
	}
	// The Front's fallback makes data keys over a keeper.
	dk, err := front.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: out.KeyID})
	if err != nil || len(dk.Plaintext) != 32 {
		t.Fatalf("GenerateDataKey through the Front: %v", err)
	}
	clear(dk.Plaintext)
}
