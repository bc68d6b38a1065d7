package vault

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
)

func TestMapResponse(t *testing.T) {
	cases := []struct {
		status int
		msg    string
		want   *backends.Kind
	}{
		{400, "encryption key not found", backends.ErrNotFound},
		{404, "", backends.ErrNotFound},
		{404, "no handler for route \"nope/encrypt/k\". route entry not found.", backends.ErrNotFound},
		{400, "ciphertext or signature version is disallowed by policy (too old)", backends.ErrDisabled},
		{400, "cipher: message authentication failed", backends.ErrInvalidCiphertext},
		{400, "invalid ciphertext: no prefix", backends.ErrInvalidCiphertext},
		{400, "invalid ciphertext length", backends.ErrInvalidCiphertext},
		{400, "no such key version", backends.ErrInvalidCiphertext},
		{400, "illegal base64 data at input byte 4", backends.ErrInvalidCiphertext},
		{400, "'[0].associated_data' provided for non-AEAD cipher suite rsa-2048", backends.ErrInvalidKeyUsage},
		{400, "message encryption not supported for key type ed25519", backends.ErrInvalidKeyUsage},
		{403, "permission denied", backends.ErrAccessDenied},
		{403, "", backends.ErrAccessDenied},
		{503, "Vault is sealed", backends.ErrKeyUnavailable},
		{503, "", backends.ErrKeyUnavailable},
		{429, "request path \"transit/encrypt/k\": rate limit quota exceeded", backends.ErrThrottling},
		{500, "internal error", backends.ErrInternal},
		{504, "", backends.ErrDependencyTimeout},
		{412, "", backends.ErrKeyUnavailable},
		{400, "something else", backends.ErrInvalidArgument},
	}
	for _, c := range cases {
		raw := &api.ResponseError{StatusCode: c.status, Errors: []string{c.msg}}
		err := MapError(context.Background(), "Decrypt", "vault://transit/k", raw)
		kmstest.WantKind(t, err, c.want, fmt.Sprintf("%d %q", c.status, c.msg))
		var re *api.ResponseError
		if !errors.As(err, &re) || re != raw {
			t.Errorf("%d %q: the *api.ResponseError is not reachable with errors.As", c.status, c.msg)
		}
		if backends.IsRetryable(err) != c.want.Retryable() {
			t.Errorf("%d %q: retryable = %v", c.status, c.msg, backends.IsRetryable(err))
		}
	}
}

func TestMapErrorContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := MapError(ctx, "Encrypt", "vault://transit/k", errors.New("transport said something"))
	kmstest.WantKind(t, err, backends.ErrCanceled, "cancelled")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v does not match context.Canceled", err)
	}
	err = MapError(context.Background(), "Encrypt", "", errors.New("dial tcp: connection refused"))
	kmstest.WantKind(t, err, backends.ErrKeyUnavailable, "transport failure")
}

// offline returns a Backend whose client points at a server that fails the test if
// it is ever asked anything.
func offline(t *testing.T) *Backend {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("unexpected request %s %s", r.Method, r.URL.Path)
		w.WriteHeader(500)
	}))
	t.Cleanup(srv.Close)
	cfg := api.DefaultConfig()
	cfg.Address = srv.URL
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken("t")
	b, err := New(Options{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestValidationBeforeNetwork sends requests that must fail before any network
// call, through a Front as every caller does.
func TestValidationBeforeNetwork(t *testing.T) {
	b := backends.NewFront(nil)
	if err := offline(t).Register(b); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err := b.Encrypt(ctx, nil)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "nil encrypt input")
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: "vault://transit/", Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "bad key")
	_, err = b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: []byte("vault:v1:AAAA")})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "decrypt without KeyID")
	_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: "vault://transit/k", CiphertextBlob: []byte("not transit")})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "decrypt garbage")
	_, err = b.ReEncrypt(ctx, &backends.ReEncryptInput{SourceKeyID: "vault://transit/a", DestinationKeyID: "vault://transit/b", CiphertextBlob: []byte("vault:v1:AAAA")})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "rewrap across keys")
	_, err = b.ReEncrypt(ctx, &backends.ReEncryptInput{SourceKeyID: "vault://transit/a", DestinationKeyID: "vault://transit/a",
		DestinationEncryptionContext: map[string]string{"k": "v"}, CiphertextBlob: []byte("vault:v1:AAAA")})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "rewrap changing context")
	_, err = b.ReEncrypt(ctx, &backends.ReEncryptInput{DestinationKeyID: "vault://transit/a", CiphertextBlob: []byte("vault:v1:AAAA")})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "rewrap without source")
	_, err = b.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: "vault://transit/a", NumberOfBytes: 2000})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "data key too long")
	_, err = b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: "alias/x"})
	kmstest.WantKind(t, err, backends.ErrNotFound, "describe non-vault")

	cctx, cancel := context.WithTimeout(ctx, time.Nanosecond)
	defer cancel()
	<-cctx.Done()
	_, err = b.Encrypt(cctx, &backends.EncryptInput{KeyID: "vault://transit/k", Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrDependencyTimeout, "expired context")
}

func TestNamespaceOption(t *testing.T) {
	c, err := api.NewClient(api.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(Options{Client: c, Namespace: "team-a/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Client().Namespace(); got != "team-a/" {
		t.Fatalf("namespace = %q, want team-a/", got)
	}
	if c.Namespace() != "" {
		t.Fatal("New changed the caller's client")
	}
}

func TestTransportFailures(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	for name, tc := range map[string]struct {
		addr string
		want *backends.Kind
	}{
		"no answer before the deadline": {hang.URL, backends.ErrDependencyTimeout},
		"nothing listening":             {"http://127.0.0.1:1", backends.ErrKeyUnavailable},
	} {
		cfg := api.DefaultConfig()
		cfg.Address = tc.addr
		cfg.MaxRetries = 0
		c, err := api.NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := New(Options{Client: c})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: "vault://transit/k", CiphertextBlob: []byte("vault:v1:AAAA")})
		cancel()
		kmstest.WantKind(t, err, tc.want, name)
		if !backends.IsRetryable(err) {
			t.Errorf("%s: %v is not retryable", name, err)
		}
	}
}

// TestNamespaceHeader checks that Options.Namespace reaches Vault as the
// X-Vault-Namespace header on every request (the dev server is Vault CE, which
// ignores namespaces, so this is checked against a recording fake).
func TestNamespaceHeader(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.URL.Path+" ns="+r.Header.Get("X-Vault-Namespace"))
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v1/transit/keys/k":
			_, _ = w.Write([]byte(`{"data":{"type":"aes256-gcm96","latest_version":1,"min_decryption_version":1,"supports_encryption":true,"supports_decryption":true}}`))
		case "/v1/transit/config/keys":
			_, _ = w.Write([]byte(`{"data":{"disable_upsert":false}}`))
		case "/v1/transit/encrypt/k":
			_, _ = w.Write([]byte(`{"data":{"ciphertext":"vault:v1:AAAA","key_version":1}}`))
		default:
			w.WriteHeader(404)
			_, _ = w.Write([]byte(`{"errors":[]}`))
		}
	}))
	t.Cleanup(srv.Close)
	cfg := api.DefaultConfig()
	cfg.Address = srv.URL
	cfg.MaxRetries = 0
	c, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := New(Options{Client: c, Namespace: "team-a"})
	if _, err := b.Encrypt(context.Background(), &backends.EncryptInput{KeyID: "vault://transit/k", Plaintext: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if len(seen) < 2 {
		t.Fatalf("requests: %v", seen)
	}
	for _, s := range seen {
		if !strings.HasSuffix(s, " ns=team-a") {
			t.Errorf("request %q does not carry the namespace", s)
		}
	}
}
