package backends_test

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
)

func TestRedactKeyRef(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{testARN, testARN},
		{"alias/orders", "alias/orders"},
		{"vault://transit/orders", "vault://transit/orders"},
		{"awskms:///alias/x?region=us-east-1&endpoint=http://127.0.0.1:8080", "awskms:///alias/x?region=us-east-1&endpoint=http://127.0.0.1:8080"},
		{"pkcs11:token=t;object=o;pin-value=1234", "pkcs11:token=t;object=o;pin-value=REDACTED"},
		{"pkcs11:token=t;object=o?pin-value=1234&module-path=/lib/x.so", "pkcs11:token=t;object=o?pin-value=REDACTED&module-path=/lib/x.so"},
		{"pkcs11:token=t;pin-source=file:/etc/pin", "pkcs11:token=t;pin-source=REDACTED"},
		{"hcvault://user:hunter2@vault:8200/transit/keys/k", "hcvault://user@vault:8200/transit/keys/k"},
		{"vault://transit/k?token=s.abcdef", "vault://transit/k?token=REDACTED"},
		{"x-custom://k?X-Amz-Signature=abc&region=r", "x-custom://k?X-Amz-Signature=REDACTED&region=r"},
	} {
		if got := backends.RedactKeyRef(c.in); got != c.want {
			t.Errorf("backends.RedactKeyRef(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	b64 := "base64key://smGbjm71Nxd1Ig5FS0wj9SlbzAIrnolCz9bQQ6uAhl4="
	if got := backends.RedactKeyRef(b64); !strings.HasPrefix(got, "base64key://sha256-") || strings.Contains(got, "smGbjm71") || backends.RedactKeyRef(got) != got {
		t.Errorf("backends.RedactKeyRef(base64key URL) = %q", got)
	}
}

// TestFrontErrorsRedactKeys sends secrets in key URLs through the backends.Front, unknown
// and known schemes, and through an opener that fails: no error repeats them.
func TestFrontErrorsRedactKeys(t *testing.T) {
	ctx := context.Background()
	var f backends.Front
	must(t, f.RegisterOpener("pkcs11", backends.URLOpenerFunc(func(context.Context, *url.URL) (backends.Backend, error) {
		return nil, backends.Errorf(backends.ErrAccessDenied, "", "", "no such token")
	})))
	for _, ref := range []string{
		"pkcs11:token=t;object=o;pin-value=SECRET-PIN-1234",
		"base64key://SECRETKEYMATERIALxxxxxxxxxxxxxxxxxxxxxxxxxx=",
		"vault://transit/k?token=SECRET-TOKEN",
		"nope://user:SECRET-PASSWORD@host/k",
	} {
		_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: ref, Plaintext: []byte{1}})
		if err == nil {
			t.Fatalf("Encrypt(%s) succeeded", ref)
		}
		for _, secret := range []string{"SECRET-PIN-1234", "SECRETKEYMATERIAL", "SECRET-TOKEN", "SECRET-PASSWORD"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Encrypt(%s): the error repeats a secret: %v", backends.RedactKeyRef(ref), err)
			}
		}
	}
}

func FuzzRedactKeyRef(f *testing.F) {
	for _, s := range []string{"pkcs11:pin-value=1", "base64key://AAAA", "a://u:p@h/?token=t", testARN, "%zz://", "pkcs11:a=b?pin-source=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := backends.RedactKeyRef(s)
		if backends.RedactKeyRef(r) != r {
			t.Fatalf("backends.RedactKeyRef is not idempotent on %q: %q then %q", s, r, backends.RedactKeyRef(r))
		}
		if strings.HasPrefix(strings.ToLower(s), "base64key:") && len(s) > 20 && !strings.HasPrefix(s[len("base64key:"):], "//sha256-") && strings.Contains(r, s[len("base64key:"):]) {
			t.Fatalf("backends.RedactKeyRef(%q) = %q keeps the key", s, r)
		}
	})
}

// TestLoggingRedactsKeys logs a call on a key URL that holds its key: the log
// names the key by its digest only.
func TestLoggingRedactsKeys(t *testing.T) {
	var buf strings.Builder
	var f backends.Front
	must(t, f.Register("base64key", kmstest.New()))
	f.Use(backends.Logging(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	ref := "base64key://SECRETKEYMATERIALxxxxxxxxxxxxxxxxxxxxxxxxxx="
	_, _ = f.Encrypt(context.Background(), &backends.EncryptInput{KeyID: ref, Plaintext: []byte{1}})
	if !strings.Contains(buf.String(), "op=Encrypt") || strings.Contains(buf.String(), "SECRETKEYMATERIAL") || !strings.Contains(buf.String(), backends.RedactKeyRef(ref)) {
		t.Errorf("the log does not name the key by its digest alone:\n%s", buf.String())
	}
}
