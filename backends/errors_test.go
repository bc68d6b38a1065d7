package backends

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type serviceError struct{ code string }

func (e *serviceError) Error() string { return "service says " + e.code }

func TestErrorIsAsUnwrap(t *testing.T) {
	svc := &serviceError{code: "DisabledException"}
	err := fmt.Errorf("outer: %w", Wrap(ErrDisabled, "Encrypt", "alias/x", svc))
	if !errors.Is(err, ErrDisabled) {
		t.Fatalf("errors.Is(%v, ErrDisabled) = false", err)
	}
	for _, k := range Kinds {
		if k != ErrDisabled && errors.Is(err, k) {
			t.Errorf("errors.Is(%v, %v) = true; want only ErrDisabled", err, k)
		}
	}
	var got *serviceError
	if !errors.As(err, &got) || got != svc {
		t.Fatalf("errors.As did not reach the service's own error")
	}
	var e *Error
	if !errors.As(err, &e) || e.Op != "Encrypt" || e.KeyID != "alias/x" {
		t.Fatalf("errors.As(*Error) = %+v", e)
	}
	if KindOf(err) != ErrDisabled || IsRetryable(err) {
		t.Errorf("KindOf = %v, IsRetryable = %v", KindOf(err), IsRetryable(err))
	}
	if s := err.Error(); !strings.Contains(s, "DisabledException") || !strings.Contains(s, "alias/x") || !strings.Contains(s, "Encrypt") {
		t.Errorf("message %q lacks kind, key or op", s)
	}
}

func TestErrorf(t *testing.T) {
	inner := errors.New("boom")
	e := Errorf(ErrThrottling, "Decrypt", "k", "rate exceeded: %w", inner)
	if e.Err != inner || !errors.Is(e, inner) || !errors.Is(e, ErrThrottling) || !e.Retryable() || !IsRetryable(e) {
		t.Fatalf("Errorf with %%w: %+v", e)
	}
	if e2 := Errorf(ErrNotFound, "Decrypt", "k", "no key %d", 7); e2.Err != nil || e2.Message != "no key 7" {
		t.Fatalf("Errorf without %%w: %+v", e2)
	}
}

func TestKindsDistinctAndNamed(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range Kinds {
		if k.Name() == "" || seen[k.Name()] {
			t.Errorf("kind %q empty or duplicated", k.Name())
		}
		seen[k.Name()] = true
		if !errors.Is(k, k) || KindOf(k) != k {
			t.Errorf("a bare kind %v should match itself", k)
		}
	}
	for _, k := range []*Kind{ErrThrottling, ErrKeyUnavailable, ErrDependencyTimeout, ErrInternal, ErrLimitExceeded} {
		if !k.Retryable() {
			t.Errorf("%v should be retryable", k)
		}
	}
	for _, k := range []*Kind{ErrNotFound, ErrDisabled, ErrInvalidCiphertext, ErrIncorrectKey, ErrAccessDenied, ErrDryRunOperation} {
		if k.Retryable() {
			t.Errorf("%v should not be retryable", k)
		}
	}
	if KindOf(errors.New("plain")) != nil || IsRetryable(nil) {
		t.Error("a foreign error has no kind")
	}
}

func TestContextError(t *testing.T) {
	if ContextError(context.Background(), "Encrypt", "k") != nil {
		t.Fatal("live context reported an error")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := ContextError(ctx, "Encrypt", "k")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrCanceled) {
		t.Fatalf("cancelled: %v", err)
	}
	dctx, dcancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer dcancel()
	err = ContextError(dctx, "Encrypt", "k")
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrDependencyTimeout) || !IsRetryable(err) {
		t.Fatalf("deadline: %v", err)
	}
}

func TestWithOp(t *testing.T) {
	_, perr := ParseKeyRef("not a key")
	err := WithOp(perr, "Encrypt")
	var e *Error
	if !errors.As(err, &e) || e.Op != "Encrypt" || !errors.Is(err, ErrNotFound) {
		t.Fatalf("WithOp on an op-less error: %+v", e)
	}
	if orig := perr.(*Error); orig.Op != "" {
		t.Fatal("WithOp changed the error it was given")
	}
	named := Errorf(ErrDisabled, "Decrypt", "k", "x")
	if got := WithOp(named, "Encrypt"); got != error(named) {
		t.Fatalf("WithOp replaced an operation already named: %v", got)
	}
	plain := errors.New("plain")
	if WithOp(plain, "Encrypt") != plain {
		t.Fatal("WithOp changed a foreign error")
	}
}
