package backends_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
)

func TestInterceptorOrderAndCapabilities(t *testing.T) {
	ctx := context.Background()
	d := kmstest.New("vault://transit/k", "vault://transit/j")
	var f backends.Front
	must(t, f.Register("vault", d))
	var trace []string
	mark := func(name string) backends.Interceptor {
		return func(ctx context.Context, c *backends.Call, invoke backends.Invoker) error {
			trace = append(trace, name+">"+c.Op)
			err := invoke(ctx)
			trace = append(trace, name+"<"+c.ResolvedKeyID)
			return err
		}
	}
	f.Use(mark("outer"), nil, mark("inner"))
	if _, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "vault://transit/k", Plaintext: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	want := "outer>Encrypt,inner>Encrypt,inner<vault://transit/k,outer<vault://transit/k"
	if got := strings.Join(trace, ","); got != want {
		t.Errorf("interceptors ran as %s, want %s", got, want)
	}
	// Every capability still reaches the driver through the chain.
	trace = nil
	if _, err := f.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: "vault://transit/k"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: "vault://transit/k"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: d.Seal("vault://transit/k", nil, []byte("x")), SourceKeyID: "vault://transit/k", DestinationKeyID: "vault://transit/j"}); err != nil {
		t.Fatal(err)
	}
	if got := d.Calls(""); len(got) != 4 || got[1].Op != "GenerateDataKey" || got[2].Op != "DescribeKey" || got[3].Op != "ReEncrypt" {
		t.Errorf("the driver saw %s", got)
	}
	if len(trace) != 12 {
		t.Errorf("the interceptors saw %d steps for three calls: %q", len(trace), trace)
	}
	if caps, _ := f.Capabilities(ctx, "vault://transit/k"); caps != (backends.Capabilities{true, true, true, true}) {
		t.Errorf("Capabilities with interceptors = %+v", caps)
	}
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	throttled := backends.Errorf(backends.ErrThrottling, "Encrypt", "vault://transit/k", "slow down")
	fast := backends.RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}
	in := &backends.EncryptInput{KeyID: "vault://transit/k", Plaintext: []byte{1}}
	// retrying returns a driver whose next calls fail with errs, behind a Front
	// that retries as p says.
	retrying := func(t *testing.T, p backends.RetryPolicy, errs ...error) (*kmstest.Fake, *backends.Front) {
		d := kmstest.New("vault://transit/k")
		d.Inject = kmstest.FailNext(errs...)
		f := new(backends.Front)
		must(t, f.Register("vault", d))
		f.Use(backends.Retry(p))
		return d, f
	}

	t.Run("TwiceThrottledThenOK", func(t *testing.T) {
		d, f := retrying(t, fast, throttled, throttled)
		out, err := f.Encrypt(ctx, in)
		if err != nil || out.KeyID != "vault://transit/k" {
			t.Fatalf("Encrypt = %+v, %v", out, err)
		}
		if n := d.Count(""); n != 3 {
			t.Errorf("the driver was called %d times, want 3", n)
		}
	})
	t.Run("GivesUp", func(t *testing.T) {
		d, f := retrying(t, backends.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}, throttled, throttled, throttled)
		_, err := f.Encrypt(ctx, in)
		kmstest.WantKind(t, err, backends.ErrThrottling, "Encrypt after the last attempt")
		if n := d.Count(""); n != 2 {
			t.Errorf("the driver was called %d times, want 2", n)
		}
	})
	t.Run("NotRetryable", func(t *testing.T) {
		d, f := retrying(t, fast, backends.Errorf(backends.ErrDisabled, "Encrypt", "k", "disabled"))
		_, err := f.Encrypt(ctx, in)
		kmstest.WantKind(t, err, backends.ErrDisabled, "Encrypt of a disabled key")
		if n := d.Count(""); n != 1 {
			t.Errorf("the driver was called %d times, want 1", n)
		}
	})
	t.Run("CancelStops", func(t *testing.T) {
		ctx, cancel := context.WithCancel(ctx)
		d, f := retrying(t, backends.RetryPolicy{BaseDelay: time.Hour}, throttled, throttled, throttled, throttled)
		time.AfterFunc(50*time.Millisecond, cancel) // the caller gives up while Retry waits
		done := make(chan error, 1)
		go func() { _, err := f.Encrypt(ctx, in); done <- err }()
		select {
		case err := <-done:
			kmstest.WantKind(t, err, backends.ErrCanceled, "Encrypt cancelled while waiting to retry")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not unwrap to context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Retry did not stop when ctx was cancelled")
		}
		if n := d.Count(""); n != 1 {
			t.Errorf("the driver was called %d times, want 1", n)
		}
	})
	t.Run("DecryptPlaintextOfFailedAttemptsNotReturned", func(t *testing.T) {
		d, f := retrying(t, fast, throttled)
		out, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: "vault://transit/k", CiphertextBlob: d.Seal("vault://transit/k", nil, []byte("secret"))})
		if err != nil || string(out.Plaintext) != "secret" {
			t.Fatalf("Decrypt = %+v, %v", out, err)
		}
	})
}

// TestLoggingNeverLogsSecrets runs every operation with recognisable plaintext,
// ciphertext, context and data keys through the Logging interceptor, and looks for
// them in the log in every encoding a logger might use.
func TestLoggingNeverLogsSecrets(t *testing.T) {
	ctx := context.Background()
	var buf bytes.Buffer
	l := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := kmstest.New("vault://transit/k", "vault://transit/j")
	var f backends.Front
	must(t, f.Register("vault", d))
	f.Use(backends.Logging(l))
	secret := []byte("PLAINTEXT-0123456789-SECRET")
	ec := map[string]string{"tenant": "CONTEXT-VALUE-XYZ"}
	enc, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "vault://transit/k", Plaintext: secret, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: "vault://transit/k", CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil || !bytes.Equal(dec.Plaintext, secret) {
		t.Fatal(err)
	}
	gen, err := f.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: "vault://transit/k", EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: "vault://transit/k", DestinationKeyID: "vault://transit/j", SourceEncryptionContext: ec})
	d.Inject = kmstest.FailNext(backends.Errorf(backends.ErrAccessDenied, "Decrypt", "vault://transit/k", "denied"))

	_, _ = f.Decrypt(ctx, &backends.DecryptInput{KeyID: "vault://transit/k", CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})

	log := buf.String()
	if n := strings.Count(log, `"op":`); n != 5 {
		t.Errorf("logged %d calls, want 5:\n%s", n, log)
	}
	if !strings.Contains(log, `"error_kind":"AccessDeniedException"`) {
		t.Errorf("the failure is not logged with its kind:\n%s", log)
	}
	for name, s := range map[string][]byte{"plaintext": secret, "ciphertext": enc.CiphertextBlob, "data key": gen.Plaintext, "context value": []byte(ec["tenant"])} {
		for _, form := range []string{string(s), base64.StdEncoding.EncodeToString(s), base64.RawURLEncoding.EncodeToString(s), hex.EncodeToString(s)} {
			if strings.Contains(log, form) {
				t.Errorf("the log holds the %s (%q):\n%s", name, form, log)
			}
		}
	}
}
