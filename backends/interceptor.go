package backends

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"
)

// Call describes one call of a [Front] operation to an [Interceptor]. It holds
// the operation and the keys only: never the plaintext, the ciphertext, the
// encryption context or any key material, so an interceptor cannot log them.
type Call struct {
	// Op is the operation: "Encrypt", "Decrypt", "ReEncrypt", "GenerateDataKey",
	// "GenerateDataKeyWithoutPlaintext" or "DescribeKey".
	Op string
	// KeyID is the key the call names (the destination key of a ReEncrypt); it
	// may be empty for a Decrypt.
	KeyID string
	// SourceKeyID is the source key of a ReEncrypt, if named.
	SourceKeyID string
	// DryRun is the input's DryRun.
	DryRun bool
	// ResolvedKeyID is the canonical ID (key ARN or URI) of the key that did the
	// work, set when the driver has answered successfully.
	ResolvedKeyID string
}

// Invoker performs a call: the next interceptor of the chain, or the driver.
type Invoker func(ctx context.Context) error

// Interceptor runs around every call of a [Front] (see [Front.Use]): it may
// look at the call, change ctx, call invoke zero, one or several times (a retry),
// and return its own error. It sees no input or output beyond [Call], and cannot
// change what the driver is asked.
type Interceptor func(ctx context.Context, call *Call, invoke Invoker) error

// interceptors returns the Front's interceptors, outermost first.
func (f *Front) interceptors() []Interceptor {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.chain
}

// intercept runs do through chain. resolved names the key of an answer for
// Call.ResolvedKeyID; discard, if not nil, wipes an answer that is not returned
// (a later attempt replaced it, or an interceptor failed the call after it).
func intercept[T any](ctx context.Context, chain []Interceptor, c *Call, do func(context.Context) (T, error), resolved func(T) string, discard func(T)) (T, error) {
	var out T
	have := false
	drop := func() {
		if have && discard != nil {
			discard(out)
		}
		var zero T
		out, have = zero, false
	}
	var next Invoker = func(ctx context.Context) error {
		if err := ContextError(ctx, c.Op, c.KeyID); err != nil {
			return err
		}
		o, err := do(ctx)
		if err != nil {
			return err
		}
		drop()
		out, have = o, true
		c.ResolvedKeyID = resolved(o)
		return nil
	}
	for i := len(chain) - 1; i >= 0; i-- {
		ic, inner := chain[i], next
		next = func(ctx context.Context) error { return ic(ctx, c, inner) }
	}
	if err := next(ctx); err != nil {
		drop()
		return out, err
	}
	return out, nil
}

// RetryPolicy bounds the retries of [Retry]. Zero fields take the defaults.
type RetryPolicy struct {
	// MaxAttempts is the number of calls in all, the first included (default 4).
	MaxAttempts int
	// BaseDelay is the wait before the first retry (default 50ms); each later
	// wait doubles, up to MaxDelay (default 2s). Every wait is drawn at random
	// between half and all of its bound ("equal jitter"), so that many callers
	// throttled at once do not retry in step.
	BaseDelay, MaxDelay time.Duration
}

// Retry returns an interceptor that calls again, with exponential backoff, a call
// that failed with a retryable error ([IsRetryable]: throttling, a timeout, an
// unavailable key, an internal error of the service). Other errors, and a DryRun's
// answer, are returned at once. A done ctx stops the retries: the error is then
// ctx's (matching [ErrCanceled] or [ErrDependencyTimeout]).
func Retry(p RetryPolicy) Interceptor {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 50 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 2 * time.Second
	}
	return func(ctx context.Context, c *Call, invoke Invoker) error {
		bound := p.BaseDelay
		for attempt := 1; ; attempt++ {
			err := invoke(ctx)
			if err == nil || attempt >= p.MaxAttempts || !IsRetryable(err) {
				return err
			}
			if cerr := ContextError(ctx, c.Op, c.KeyID); cerr != nil {
				return cerr
			}
			wait := bound/2 + rand.N(bound/2+1)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return ContextError(ctx, c.Op, c.KeyID)
			case <-t.C:
			}
			if bound *= 2; bound > p.MaxDelay {
				bound = p.MaxDelay
			}
		}
	}
}

// Logging returns an interceptor that logs every call to l once it returns: the
// operation, the keys, whether it was a dry run, the time it took and, on failure,
// the error's kind and message (level Warn; Debug on success). It never logs
// plaintext, ciphertext, encryption contexts or key material: a Call holds none,
// and keys are named as [RedactKeyRef] shows them.
func Logging(l *slog.Logger) Interceptor {
	if l == nil {
		l = slog.Default()
	}
	return func(ctx context.Context, c *Call, invoke Invoker) error {
		start := time.Now()
		err := invoke(ctx)
		attrs := make([]slog.Attr, 0, 8)
		attrs = append(attrs, slog.String("op", c.Op))
		if c.KeyID != "" {
			attrs = append(attrs, slog.String("key", RedactKeyRef(c.KeyID)))
		}
		if c.SourceKeyID != "" {
			attrs = append(attrs, slog.String("source_key", RedactKeyRef(c.SourceKeyID)))
		}
		if c.DryRun {
			attrs = append(attrs, slog.Bool("dry_run", true))
		}
		attrs = append(attrs, slog.Duration("duration", time.Since(start)))
		if err != nil {
			if k := KindOf(err); k != nil {
				attrs = append(attrs, slog.String("error_kind", k.Name()))
			}
			attrs = append(attrs, slog.String("error", err.Error()))
			l.LogAttrs(ctx, slog.LevelWarn, "keyport call failed", attrs...)
			return err
		}
		if c.ResolvedKeyID != "" && c.ResolvedKeyID != c.KeyID {
			attrs = append(attrs, slog.String("resolved_key", RedactKeyRef(c.ResolvedKeyID)))
		}
		l.LogAttrs(ctx, slog.LevelDebug, "keyport call", attrs...)
		return nil
	}
}
