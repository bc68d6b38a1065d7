package azurekv_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/azurekv"
	"github.com/keyport/keyport/internal/azurekvtest"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/reencrypt"
)

const version = "0123456789abcdef0123456789abcdef"

func TestParseRef(t *testing.T) {
	for _, tc := range []struct{ in, uri, version string }{
		{"https://myvault.vault.azure.net/keys/orders", "azurekv://myvault.vault.azure.net/keys/orders", ""},
		{"https://MyVault.Vault.Azure.Net/keys/orders/" + strings.ToUpper(version), "azurekv://myvault.vault.azure.net/keys/orders", version},
		{"azurekeyvault://myvault.vault.azure.net/keys/orders", "azurekv://myvault.vault.azure.net/keys/orders", ""},
		{"AzureKeyVault://hsm-1.managedhsm.azure.net/keys/k-1/" + version, "azurekv://hsm-1.managedhsm.azure.net/keys/k-1", version},
		{"azurekv://cnvault.vault.azure.cn/keys/k", "azurekv://cnvault.vault.azure.cn/keys/k", ""},
	} {
		r, err := azurekv.ParseRef(tc.in)
		if err != nil || r.URI() != tc.uri || r.Version != tc.version || r.KID() != "https"+strings.TrimPrefix(tc.uri, "azurekv")+map[bool]string{true: "/" + tc.version}[tc.version != ""] {
			t.Errorf("ParseRef(%q) = %+v (%q), %v; want %q version %q", tc.in, r, r.URI(), err, tc.uri, tc.version)
		}
	}
	for _, s := range []string{
		"", "https://myvault.vault.azure.net", "https://myvault.vault.azure.net/keys", "https://myvault.vault.azure.net/keys/",
		"https://myvault.vault.azure.net/secrets/k", "https://evil.example.com/keys/k", "https://vault.azure.net/keys/k",
		"https://myvault.vault.azure.net.evil.com/keys/k", "https://myvault.vault.azure.net:8443/keys/k",
		"https://user@myvault.vault.azure.net/keys/k", "https://myvault.vault.azure.net/keys/k?api-version=7.4",
		"https://myvault.vault.azure.net/keys/k#x", "https://myvault.vault.azure.net/keys/k/v1", "https://myvault.vault.azure.net/keys/k_1",
		"https://myvault.vault.azure.net/keys/k/" + version + "/x", "http://myvault.vault.azure.net/keys/k",
		"https://my_vault.vault.azure.net/keys/k", "https://1vault.vault.azure.net/keys/k", "https://myvault.vault.azure.net/keys/k%2F1",
		"vault://transit/k",
	} {
		if _, err := azurekv.ParseRef(s); !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("ParseRef(%q): want NotFound, got %v", s, err)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	f.Add("https://myvault.vault.azure.net/keys/orders")
	f.Add("azurekeyvault://hsm.managedhsm.azure.net/keys/k/" + version)
	f.Fuzz(func(t *testing.T, s string) {
		r, err := azurekv.ParseRef(s)
		if err != nil {
			if !errors.Is(err, backends.ErrNotFound) {
				t.Fatalf("ParseRef(%q): error of another kind: %v", s, err)
			}
			return
		}
		for _, form := range []string{r.URI(), r.KID()} {
			c, err := azurekv.ParseRef(form)
			if err != nil || c.URI() != r.URI() {
				t.Fatalf("ParseRef(%q) gives %q, which does not parse back: %+v, %v", s, form, c, err)
			}
		}
	})
}

// FuzzCiphertextKeyID feeds arbitrary blobs to the header parser: never a panic,
// only InvalidCiphertext or a canonical key URI.
func FuzzCiphertextKeyID(f *testing.F) {
	b, err := azurekv.New(azurekv.Options{Credential: &azurekvtest.Credential{Token: "t"}})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("kpkv\x01\x01\x00\x00"))
	f.Add(append([]byte("kpkv\x01\x01\x00\x4bhttps://myvault.vault.azure.net/keys/k/"+version), 0, 0, 0, 0, 1))
	f.Fuzz(func(t *testing.T, blob []byte) {
		id, err := b.CiphertextKeyID(blob)
		if err != nil {
			kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "CiphertextKeyID")
			return
		}
		if r, err := azurekv.ParseRef(id); err != nil || r.URI() != id {
			t.Fatalf("CiphertextKeyID = %q, not a canonical key URI", id)
		}
	})
}

// TestChallenge: the first request is answered with Key Vault's 401 bearer
// challenge; the client asks the credential for the challenge's scope and tenant,
// then the token is accepted.
func TestChallenge(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "challenged", azkeys.KeyTypeRSA, 2048)
	hsmURL := e.srv.AddVault("keyport-hsm.managedhsm.azure.net")
	for _, tc := range []struct {
		vault, key, scope string
	}{
		{e.url, key, "https://vault.azure.net/.default"},
		{hsmURL, "azurekv://keyport-hsm.managedhsm.azure.net/keys/hsm-key", "https://managedhsm.azure.net/.default"},
	} {
		cred := e.srv.NewCredential()
		b := e.backend(t, azurekv.Options{Credential: cred})
		if tc.vault == hsmURL {
			admin, err := azkeys.NewClient(hsmURL, e.srv.NewCredential(), e.srv.ClientOptions(-1))
			if err != nil {
				t.Fatal(err)
			}
			kty, size := azkeys.KeyTypeOctHSM, int32(256)
			if _, err := admin.CreateKey(ctx, "hsm-key", azkeys.CreateKeyParameters{Kty: &kty, KeySize: &size}, nil); err != nil {
				t.Fatal(err)
			}
		}
		before := e.srv.Challenges()
		out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: tc.key, Plaintext: []byte("data key")})
		if err != nil {
			t.Fatalf("Encrypt under %s: %v", tc.key, err)
		}
		if n := e.srv.Challenges() - before; n != 1 {
			t.Errorf("%s: the server answered %d challenges, want 1 (the client's first request)", tc.vault, n)
		}
		scopes, tenant, fetches := cred.Seen()
		if len(scopes) != 1 || scopes[0] != tc.scope || tenant != azurekvtest.Tenant || fetches == 0 {
			t.Errorf("%s: the credential was asked for %v in tenant %q (%d times), want %s in %s", tc.vault, scopes, tenant, fetches, tc.scope, azurekvtest.Tenant)
		}
		if _, err := b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob}); err != nil {
			t.Errorf("Decrypt: %v", err)
		}
		if n := e.srv.Challenges() - before; n != 1 {
			t.Errorf("%s: %d challenges after a second request, want still 1", tc.vault, n)
		}
	}
	// A token the vault does not accept: every request is challenged, and the
	// answer is AccessDenied.
	bad := e.backend(t, azurekv.Options{Credential: &azurekvtest.Credential{Token: "forged"}})
	_, err := bad.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Encrypt with a token the vault refuses")
}

// TestContextBinding: refused unless opted into; when bound, exact; a bound blob
// opens in any Backend given the right context.
func TestContextBinding(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "ctx", azkeys.KeyTypeRSA, 2048)
	plain := e.backend(t, azurekv.Options{})
	ec := map[string]string{"tenant": "acme"}
	_, err := plain.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k"), EncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "Encrypt with a context without the opt-in")
	if err != nil && !strings.Contains(err.Error(), "BindEncryptionContext") {
		t.Errorf("the refusal does not say how to opt in: %v", err)
	}
	out, err := plain.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	if err != nil {
		t.Fatalf("Encrypt without a context: %v", err)
	}
	_, err = plain.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt with a context of a blob made without one")

	bound, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []map[string]string{nil, {"tenant": "acme2"}, {"tenant": "acme", "x": ""}, {"tenan": "tacme"}} {
		_, err = plain.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: bound.CiphertextBlob, EncryptionContext: wrong})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt with a wrong context")
	}
	d, err := plain.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: bound.CiphertextBlob, EncryptionContext: ec})
	if err != nil || string(d.Plaintext) != "k" {
		t.Errorf("Decrypt with the right context by a Backend without the opt-in: %v", err)
	}
}

// TestVersions: new wraps use the current version, unwraps the version in the
// ciphertext; a version is a decrypt-only pin.
func TestVersions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "versions", azkeys.KeyTypeRSA, 2048)
	fresh := e.backend(t, azurekv.Options{KeyCacheTTL: -1})
	old, err := fresh.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("v1")})
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := e.admin.GetKey(ctx, "versions", "", nil)
	if err := e.rotate(ctx, key); err != nil {
		t.Fatal(err)
	}
	v2, _ := e.admin.GetKey(ctx, "versions", "", nil)
	neu, err := fresh.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("v2")})
	if err != nil {
		t.Fatal(err)
	}
	if old.KeyVersion != v1.Key.KID.Version() || neu.KeyVersion != v2.Key.KID.Version() || old.KeyVersion == neu.KeyVersion {
		t.Errorf("Encrypt reported versions %q and %q, want %q and %q", old.KeyVersion, neu.KeyVersion, v1.Key.KID.Version(), v2.Key.KID.Version())
	}
	for blob, want := range map[string]string{string(old.CiphertextBlob): v1.Key.KID.Version(), string(neu.CiphertextBlob): v2.Key.KID.Version()} {
		id := ""
		if r, err := azurekv.ParseRef(extractKID(t, []byte(blob))); err == nil {
			id = r.Version
		}
		if id != want {
			t.Errorf("the ciphertext records version %q, want %q", id, want)
		}
	}
	md, err := fresh.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	if err != nil || md.CurrentVersion != 2 || !strings.Contains(md.Description, v2.Key.KID.Version()) || md.KeySpec != "RSA-2048" || md.KeyID != "versions" {
		t.Errorf("DescribeKey after rotation: %+v, %v", md, err)
	}
	// Disabling version 1 stops its ciphertexts only.
	off := false
	if _, err := e.admin.UpdateKey(ctx, "versions", v1.Key.KID.Version(), azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Enabled: &off}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = fresh.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: old.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Decrypt of a ciphertext of a disabled version")
	if d, err := fresh.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: neu.CiphertextBlob}); err != nil || string(d.Plaintext) != "v2" {
		t.Errorf("Decrypt of a ciphertext of the current version: %v", err)
	}
	// Pins.
	if _, err := fresh.Decrypt(ctx, &backends.DecryptInput{KeyID: key + "/" + v2.Key.KID.Version(), CiphertextBlob: neu.CiphertextBlob}); err != nil {
		t.Errorf("Decrypt pinned to the version that made the blob: %v", err)
	}
	_, err = fresh.Decrypt(ctx, &backends.DecryptInput{KeyID: key + "/" + v1.Key.KID.Version(), CiphertextBlob: neu.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "Decrypt pinned to another version")
	_, err = fresh.Encrypt(ctx, &backends.EncryptInput{KeyID: key + "/" + v2.Key.KID.Version(), Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt by a versioned key identifier")
}

func extractKID(t *testing.T, blob []byte) string {
	t.Helper()
	n := int(blob[6])<<8 | int(blob[7])
	return string(blob[8 : 8+n])
}

// TestValidity: exp and nbf, as Key Vault means them.
func TestValidity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "validity", azkeys.KeyTypeRSA, 2048)
	b := e.backend(t, azurekv.Options{KeyCacheTTL: -1})
	out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	past, future := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if _, err := e.admin.UpdateKey(ctx, "validity", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Expires: &past}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Encrypt under an expired key")
	if _, err := b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob}); err != nil {
		t.Errorf("Decrypt with an expired key (exp stops new wraps only): %v", err)
	}
	md, err := b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	if err != nil || md.KeyState != backends.KeyStateDisabled || md.Enabled || !strings.Contains(md.Description, "expires ") {
		t.Errorf("DescribeKey of an expired key: %+v, %v", md, err)
	}
	far := time.Now().Add(24 * time.Hour)
	if _, err := e.admin.UpdateKey(ctx, "validity", "", azkeys.UpdateKeyParameters{KeyAttributes: &azkeys.KeyAttributes{Expires: &far, NotBefore: &future}}, nil); err != nil {
		t.Fatal(err)
	}
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Encrypt before the key's not-before date")
	_, err = b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Decrypt before the key's not-before date")
}

// TestSoftDelete: a deleted key is pending deletion until purged, then gone.
func TestSoftDelete(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "doomed", azkeys.KeyTypeRSA, 2048)
	out, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	e.delete(t, "doomed")
	b := e.backend(t, azurekv.Options{})
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "Encrypt under a soft-deleted key")
	_, err = b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "Decrypt with a soft-deleted key")
	md, err := b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	if err != nil || md.KeyState != backends.KeyStatePendingDeletion || md.DeletionDate.Before(time.Now().Add(89*24*time.Hour)) {
		t.Errorf("DescribeKey of a soft-deleted key: %+v, %v", md, err)
	}
	kty := azkeys.KeyTypeRSA
	_, err = e.admin.CreateKey(ctx, "doomed", azkeys.CreateKeyParameters{Kty: &kty}, nil)
	var re *azcore.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 409 {
		t.Errorf("CreateKey over a soft-deleted name: want 409 Conflict, got %v", err)
	}
	if _, err := e.admin.RecoverDeletedKey(ctx, "doomed", nil); err != nil {
		t.Fatal(err)
	}
	if d, err := b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob}); err != nil || string(d.Plaintext) != "k" {
		t.Errorf("Decrypt after recovery: %v", err)
	}
	e.delete(t, "doomed")
	if _, err := e.admin.PurgeDeletedKey(ctx, "doomed", nil); err != nil {
		t.Fatal(err)
	}
	_, err = b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Decrypt with a purged key")
	_, err = b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	kmstest.WantKind(t, err, backends.ErrNotFound, "DescribeKey of a purged key")
}

// TestErrorTable: each status Key Vault answers, through the real client.
func TestErrorTable(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "errors", azkeys.KeyTypeRSA, 2048)
	good, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	if err != nil {
		t.Fatal(err)
	}
	b := e.backend(t, azurekv.Options{KeyCacheTTL: -1})
	for _, tc := range []struct {
		op, kvOp   string
		status     int
		code       string
		retryAfter string
		want       *backends.Kind
	}{
		{"Encrypt", "get", 403, "Forbidden", "", backends.ErrAccessDenied},
		{"Encrypt", "wrapKey", 404, "KeyNotFound", "", backends.ErrNotFound},
		{"Encrypt", "get", 409, "Conflict", "", backends.ErrInvalidState},
		{"Encrypt", "wrapKey", 429, "Throttled", "7", backends.ErrThrottling},
		{"Decrypt", "unwrapKey", 429, "Throttled", "", backends.ErrThrottling},
		{"Decrypt", "unwrapKey", 400, "BadParameter", "", backends.ErrInvalidCiphertext},
		{"Encrypt", "wrapKey", 400, "BadParameter", "", backends.ErrInvalidArgument},
		{"Decrypt", "unwrapKey", 500, "InternalError", "", backends.ErrInternal},
		{"Encrypt", "get", 503, "ServiceUnavailable", "", backends.ErrKeyUnavailable},
		{"Decrypt", "unwrapKey", 504, "GatewayTimeout", "", backends.ErrDependencyTimeout},
	} {
		t.Run(tc.op+"/"+tc.code, func(t *testing.T) {
			e.srv.InjectFault(azurekvtest.Fault{Op: tc.kvOp, Status: tc.status, Code: tc.code, Message: "injected", RetryAfter: tc.retryAfter})
			if tc.kvOp == "wrapKey" && tc.status == 404 {
				// The backend then asks whether the key is soft-deleted: it is not.
				t.Log("a 404 on wrapKey is followed by a look at the deleted keys")
			}
			var err error
			if tc.op == "Encrypt" {
				_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
			} else {
				_, err = b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: good.CiphertextBlob})
			}
			if be := kmstest.WantKind(t, err, tc.want, tc.code); be != nil && (be.Op != tc.op || be.KeyID != key) {
				t.Errorf("want a *backends.Error for %s on %s, got %#v", tc.op, key, err)
			}
			if !azurekv.IsServiceError(err) {
				t.Errorf("the azcore.ResponseError is not reachable: %v", err)
			}
			if backends.IsRetryable(err) != tc.want.Retryable() {
				t.Errorf("IsRetryable = %v", backends.IsRetryable(err))
			}
			if tc.retryAfter != "" {
				if got := azurekv.RetryAfter(err); got != tc.retryAfter {
					t.Errorf("RetryAfter = %q, want %q", got, tc.retryAfter)
				}
				if !strings.Contains(err.Error(), "retry after "+tc.retryAfter) {
					t.Errorf("the message does not give Retry-After: %v", err)
				}
			}
		})
	}
	t.Run("Unreachable", func(t *testing.T) {
		other := e.backend(t, azurekv.Options{})
		_, err := other.Encrypt(ctx, &backends.EncryptInput{KeyID: "https://nowhere.vault.azure.net/keys/k", Plaintext: []byte("k")})
		kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt in a vault the server does not have")
	})
}

// TestPermissions: a principal that may only wrap.
func TestPermissions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "perm", azkeys.KeyTypeRSA, 2048)
	wrapper := e.backend(t, azurekv.Options{Credential: e.srv.NewCredential("get", "wrapKey")})
	out, err := wrapper.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	if err != nil {
		t.Fatalf("Encrypt with wrapKey permission: %v", err)
	}
	_, err = wrapper.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Decrypt without unwrapKey permission")
	// key_ops without wrapKey: the key may not do it.
	if _, err := e.admin.UpdateKey(ctx, "perm", "", azkeys.UpdateKeyParameters{KeyOps: []*azkeys.KeyOperation{to(azkeys.KeyOperationUnwrapKey)}}, nil); err != nil {
		t.Fatal(err)
	}
	b := e.backend(t, azurekv.Options{})
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k")})
	kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "Encrypt under a key whose key_ops lack wrapKey")
}

func to[T any](v T) *T { return &v }

// TestManagedHSM: A256KW with an oct-HSM key, plaintexts of every length class.
func TestManagedHSM(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u := e.srv.AddVault("keyport-hsm.managedhsm.azure.net")
	admin, err := azkeys.NewClient(u, e.srv.NewCredential(), e.srv.ClientOptions(-1))
	if err != nil {
		t.Fatal(err)
	}
	kty, size := azkeys.KeyTypeOctHSM, int32(256)
	if _, err := admin.CreateKey(ctx, "oct", azkeys.CreateKeyParameters{Kty: &kty, KeySize: &size}, nil); err != nil {
		t.Fatal(err)
	}
	key := "azurekv://keyport-hsm.managedhsm.azure.net/keys/oct"
	ec := map[string]string{"hsm": "yes"}
	for _, n := range []int{0, 1, 7, 8, 32, 33, 1024} {
		pt := make([]byte, n)
		for i := range pt {
			pt[i] = byte(i)
		}
		out, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: pt, EncryptionContext: ec})
		if err != nil {
			t.Fatalf("Encrypt of %d bytes: %v", n, err)
		}
		if out.CiphertextBlob[5] != 2 {
			t.Errorf("the blob's algorithm is %d, want 2 (A256KW)", out.CiphertextBlob[5])
		}
		d, err := e.b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
		if err != nil || string(d.Plaintext) != string(pt) || d.KeyID != key {
			t.Errorf("Decrypt of %d bytes: %v", n, err)
		}
		_, err = e.b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt without the context")
		_, err = e.b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec, EncryptionAlgorithm: backends.RSAESOAEPSHA256})
		kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "Decrypt of an A256KW blob as RSAES_OAEP_SHA_256")
	}
	md, err := e.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
	if err != nil || md.KeySpec != "oct-HSM" && md.KeySpec != "oct-HSM-256" {
		t.Errorf("DescribeKey of an oct-HSM key: %+v, %v", md, err)
	}
}

// TestPlaintextLimit: RSA-OAEP-256's capacity, less the digest, by key size.
func TestPlaintextLimit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		size int32
		max  int
	}{{2048, 158}, {3072, 286}} {
		key := e.key(t, "rsa"+string(rune('0'+tc.size/1024)), azkeys.KeyTypeRSA, tc.size)
		if _, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: make([]byte, tc.max)}); err != nil {
			t.Errorf("RSA-%d: Encrypt of %d bytes: %v", tc.size, tc.max, err)
		}
		_, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: make([]byte, tc.max+1)})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt over the key's capacity")
	}
}

func TestAlgorithms(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "alg", azkeys.KeyTypeRSA, 2048)
	out, err := e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k"), EncryptionAlgorithm: backends.RSAESOAEPSHA256})
	if err != nil || out.EncryptionAlgorithm != backends.RSAESOAEPSHA256 {
		t.Fatalf("Encrypt with RSAES_OAEP_SHA_256: %+v, %v", out, err)
	}
	if _, err := e.b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionAlgorithm: backends.RSAESOAEPSHA256}); err != nil {
		t.Errorf("Decrypt with RSAES_OAEP_SHA_256: %v", err)
	}
	_, err = e.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("k"), EncryptionAlgorithm: backends.RSAESOAEPSHA1})
	kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "Encrypt with RSAES_OAEP_SHA_1")
}

func TestURLOpener(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "opened", azkeys.KeyTypeRSA, 2048)
	o := &azurekv.Opener{Options: azurekv.Options{Credential: e.srv.NewCredential(), ClientOptions: e.srv.ClientOptions(-1)}}
	kmstest.WantURLOpener(t, o, key, key, "azurekeyvault://"+vaultHost+"/keys/opened", "https://"+vaultHost+"/keys/opened")
	u, _ := url.Parse("https://example.com/keys/k")
	_, err := o.OpenBackendURL(ctx, u)
	kmstest.WantKind(t, err, backends.ErrNotFound, "OpenBackendURL of a host that is no vault")
	_, err = azurekv.New(azurekv.Options{})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "New without a credential")
}

// TestFront: the URL opener registered with a Front, every operation of the Front
// by every URL form, the Front's data keys, and Decrypt without a KeyID.
func TestFront(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	key := e.key(t, "fronted", azkeys.KeyTypeRSA, 2048)
	o := &azurekv.Opener{Options: azurekv.Options{Credential: e.srv.NewCredential(), ClientOptions: e.srv.ClientOptions(-1), BindEncryptionContext: true}}
	f := backends.NewFront(nil)
	if err := o.Register(f); err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"via": "front"}
	forms := []string{key, "https://" + vaultHost + "/keys/fronted", "azurekeyvault://" + vaultHost + "/keys/fronted"}
	last := kmstest.WantKeyForms(t, f, ec, key, forms...)
	// Key Vault has no ReEncrypt: the Engine decrypts and encrypts, by every form.
	kmstest.WantReEncryptForms(t, reencrypt.New(f), f, ec, key, false, forms...)
	// Key Vault blobs name their key: with the opened driver as its default, the
	// Front decrypts one given without a KeyID.
	u, _ := url.Parse(key)
	b, err := o.OpenBackendURL(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	f.SetDefault(b)
	d, err := f.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: last, EncryptionContext: ec})
	if err != nil || d.KeyID != key || string(d.Plaintext) != "k" {
		t.Errorf("Front.Decrypt without a KeyID: %v", err)
	}
}
