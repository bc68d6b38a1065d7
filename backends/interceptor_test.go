package backends

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
)

func TestInterceptorOrderAndCapabilities(t *testing.T) {
	ctx := context.Background()
	d := &full{name: "v"}
	var f Front
	must(t, f.Register("vault", d))
	var trace []string
	mark := func(name string) Interceptor {
		return func(ctx context.Context, c *Call, invoke Invoker) error {
			trace = append(trace, name+">"+c.Op)
			err := invoke(ctx)
			trace = append(trace, name+"<"+c.ResolvedKeyID)
			return err
		}
	}
	f.Use(mark("outer"), nil, mark("inner"))
	if _, err := f.Encrypt(ctx, &EncryptInput{KeyID: "vault://transit/k", Plaintext: []byte{1}}); err != nil {
		t.Fatal(err)
	}
	want := "outer>Encrypt,inner>Encrypt,inner<v|vault://transit/k,outer<v|vault://transit/k"
	if got := strings.Join(trace, ","); got != want {
		t.Errorf("interceptors ran as %s, want %s", got, want)
	}
	// Every capability still reaches the driver through the chain.
	trace = nil
	if _, err := f.GenerateDataKey(ctx, &GenerateDataKeyInput{KeyID: "vault://transit/k"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.DescribeKey(ctx, &DescribeKeyInput{KeyID: "vault://transit/k"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.ReEncrypt(ctx, &ReEncryptInput{CiphertextBlob: []byte("v:x"), SourceKeyID: "vault://transit/k", DestinationKeyID: "vault://transit/j"}); err != nil {
		t.Fatal(err)
	}
	if got := d.calls(); len(got) != 4 || !strings.HasPrefix(got[1], "GenerateDataKey ") || !strings.HasPrefix(got[2], "DescribeKey ") || !strings.HasPrefix(got[3], "ReEncrypt ") {
		t.Errorf("the driver saw %q", got)
	}
	if len(trace) != 12 {
		t.Errorf("the interceptors saw %d steps for three calls: %q", len(trace), trace)
	}
	if caps, _ := f.Capabilities(ctx, "vault://transit/k"); caps != (Capabilities{true, true, true, true}) {
		t.Errorf("Capabilities with interceptors = %+v", caps)
	}
}

func TestRetry(t *testing.T) {
	ctx := context.Background()
	throttled := Errorf(ErrThrottling, "Encrypt", "vault://transit/k", "slow down")
	fast := RetryPolicy{BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}
	in := &EncryptInput{KeyID: "vault://transit/k", Plaintext: []byte{1}}

	t.Run("TwiceThrottledThenOK", func(t *testing.T) {
		d := &full{name: "v", fail: []error{throttled, throttled}}
		var f Front
		must(t, f.Register("vault", d))
		f.Use(Retry(fast))
		out, err := f.Encrypt(ctx, in)
		if err != nil || out.KeyID != "v|vault://transit/k" {
			t.Fatalf("Encrypt = %+v, %v", out, err)
		}
		if n := len(d.calls()); n != 3 {
			t.Errorf("the driver was called %d times, want 3", n)
		}
	})
	t.Run("GivesUp", func(t *testing.T) {
		d := &full{name: "v", fail: []error{throttled, throttled, throttled}}
		var f Front
		must(t, f.Register("vault", d))
		f.Use(Retry(RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
		_, err := f.Encrypt(ctx, in)
		wantKind(t, err, ErrThrottling, "Encrypt after the last attempt")
		if n := len(d.calls()); n != 2 {
			t.Errorf("the driver was called %d times, want 2", n)
		}
	})
	t.Run("NotRetryable", func(t *testing.T) {
		d := &full{name: "v", fail: []error{Errorf(ErrDisabled, "Encrypt", "k", "disabled")}}
		var f Front
		must(t, f.Register("vault", d))
		f.Use(Retry(fast))
		_, err := f.Encrypt(ctx, in)
		wantKind(t, err, ErrDisabled, "Encrypt of a disabled key")
		if n := len(d.calls()); n != 1 {
			t.Errorf("the driver was called %d times, want 1", n)
		}
	})
	t.Run("CancelStops", func(t *testing.T) {
		d := &full{name: "v", fail: []error{throttled, throttled, throttled, throttled}}
		var f Front
		must(t, f.Register("vault", d))
		ctx, cancel := context.WithCancel(ctx)
		f.Use(Retry(RetryPolicy{BaseDelay: time.Hour}))
		time.AfterFunc(50*time.Millisecond, cancel) // the caller gives up while Retry waits
		done := make(chan error, 1)
		go func() { _, err := f.Encrypt(ctx, in); done <- err }()
		select {
		case err := <-done:
			wantKind(t, err, ErrCanceled, "Encrypt cancelled while waiting to retry")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("error %v does not unwrap to context.Canceled", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("Retry did not stop when ctx was cancelled")
		}
		if n := len(d.calls()); n != 1 {
			t.Errorf("the driver was called %d times, want 1", n)
		}
	})
	t.Run("DecryptPlaintextOfFailedAttemptsNotReturned", func(t *testing.T) {
		d := &full{name: "v", fail: []error{throttled}}
		var f Front
		must(t, f.Register("vault", d))
		f.Use(Retry(fast))
		out, err := f.Decrypt(ctx, &DecryptInput{KeyID: "vault://transit/k", CiphertextBlob: []byte("v:secret")})
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
	d := &full{name: "v"}
	var f Front
	must(t, f.Register("vault", d))
	f.Use(Logging(l))
	secret := []byte("PLAINTEXT-0123456789-SECRET")
	ec := map[string]string{"tenant": "CONTEXT-VALUE-XYZ"}
	enc, err := f.Encrypt(ctx, &EncryptInput{KeyID: "vault://transit/k", Plaintext: secret, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := f.Decrypt(ctx, &DecryptInput{KeyID: "vault://transit/k", CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil || !bytes.Equal(dec.Plaintext, secret) {
		t.Fatal(err)
	}
	gen, err := f.GenerateDataKey(ctx, &GenerateDataKeyInput{KeyID: "vault://transit/k", EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.ReEncrypt(ctx, &ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: "vault://transit/k", DestinationKeyID: "vault://transit/j", SourceEncryptionContext: ec})
	d.fail = []error{Errorf(ErrAccessDenied, "Decrypt", "vault://transit/k", "denied")}
	_, _ = f.Decrypt(ctx, &DecryptInput{KeyID: "vault://transit/k", CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})

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
