package backends

import (
	"context"
	"errors"
	"fmt"
)

// Kind is one class of failure in keyport's error taxonomy, named after the AWS KMS
// exception it corresponds to. Kinds are sentinels: match them with errors.Is.
type Kind struct {
	name      string
	retryable bool
}

func (k *Kind) Error() string { return k.name }

// Name returns the AWS KMS exception name of the kind (for example "NotFoundException").
func (k *Kind) Name() string { return k.name }

// Retryable says whether a retry of the same request can succeed for this kind.
func (k *Kind) Retryable() bool { return k.retryable }

// The error taxonomy. Every backend maps its service's failures onto these.
var (
	ErrNotFound          = &Kind{name: "NotFoundException"}
	ErrDisabled          = &Kind{name: "DisabledException"}
	ErrInvalidState      = &Kind{name: "KMSInvalidStateException"}
	ErrInvalidCiphertext = &Kind{name: "InvalidCiphertextException"}
	ErrIncorrectKey      = &Kind{name: "IncorrectKeyException"}
	ErrInvalidKeyUsage   = &Kind{name: "InvalidKeyUsageException"}
	ErrInvalidGrantToken = &Kind{name: "InvalidGrantTokenException"}
	ErrKeyUnavailable    = &Kind{name: "KeyUnavailableException", retryable: true}
	ErrDependencyTimeout = &Kind{name: "DependencyTimeoutException", retryable: true}
	ErrAccessDenied      = &Kind{name: "AccessDeniedException"}
	ErrThrottling        = &Kind{name: "ThrottlingException", retryable: true}
	ErrUnsupported       = &Kind{name: "UnsupportedOperationException"}
	ErrDryRunOperation   = &Kind{name: "DryRunOperationException"}
	ErrInternal          = &Kind{name: "KMSInternalException", retryable: true}
	ErrInvalidArgument   = &Kind{name: "ValidationException"}
	ErrAlreadyExists     = &Kind{name: "AlreadyExistsException"}
	ErrLimitExceeded     = &Kind{name: "LimitExceededException", retryable: true}
	ErrInvalidArn        = &Kind{name: "InvalidArnException"}
	ErrInvalidAliasName  = &Kind{name: "InvalidAliasNameException"}
	ErrInvalidMarker     = &Kind{name: "InvalidMarkerException"}
	ErrCanceled          = &Kind{name: "RequestCanceled"}
)

// Kinds lists every Kind of the taxonomy, for tables and tests.
var Kinds = []*Kind{
	ErrNotFound, ErrDisabled, ErrInvalidState, ErrInvalidCiphertext, ErrIncorrectKey,
	ErrInvalidKeyUsage, ErrInvalidGrantToken, ErrKeyUnavailable, ErrDependencyTimeout,
	ErrAccessDenied, ErrThrottling, ErrUnsupported, ErrDryRunOperation, ErrInternal,
	ErrInvalidArgument, ErrAlreadyExists, ErrLimitExceeded, ErrInvalidArn,
	ErrInvalidAliasName, ErrInvalidMarker, ErrCanceled,
}

// Error is the error every backend returns. It matches its Kind with errors.Is and
// unwraps to the service's own error (for errors.As on, say, an SDK exception type).
type Error struct {
	// Kind is the class of failure.
	Kind *Kind
	// Op is the operation that failed ("Encrypt", "Decrypt", "ReEncrypt", ...).
	Op string
	// KeyID is the key the operation named, if any. Never a secret.
	KeyID string
	// Message says what went wrong, without plaintext, key material or ciphertext.
	Message string
	// Err is the service's own error, if any.
	Err error
}

// Errorf returns an *Error of the given kind for op on keyID (named as
// [RedactKeyRef] shows it), its message formatted from format and args. A %w verb in format records the wrapped error as Err.
func Errorf(kind *Kind, op, keyID, format string, args ...any) *Error {
	e := &Error{Kind: kind, Op: op, KeyID: RedactKeyRef(keyID)}
	w := fmt.Errorf(format, args...)
	e.Message = w.Error()
	e.Err = errors.Unwrap(w)
	return e
}

// Wrap returns an *Error of the given kind around the service's own error err.
func Wrap(kind *Kind, op, keyID string, err error) *Error {
	msg := ""
	if err != nil {
		msg = err.Error()
	}
	return &Error{Kind: kind, Op: op, KeyID: RedactKeyRef(keyID), Message: msg, Err: err}
}

func (e *Error) Error() string {
	s := "keyport: "
	if e.Op != "" {
		s += e.Op + ": "
	}
	s += e.Kind.name
	if e.KeyID != "" {
		s += " (key " + e.KeyID + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Is reports whether target is e's Kind.
func (e *Error) Is(target error) bool {
	k, ok := target.(*Kind)
	return ok && k == e.Kind
}

// Unwrap returns the service's own error. It looks through the *Error values
// that e wraps, directly or joined (errors.Join), so that an error matches
// exactly one Kind, its own: errors.Is(err, k) holds for e.Kind and for no other
// kind, while errors.As still reaches the services' errors (an SDK exception, an
// API response) underneath.
func (e *Error) Unwrap() error { return withoutKinds(e.Err) }

// withoutKinds returns err with the *Error layers it starts with removed, and
// those of each error it joins.
func withoutKinds(err error) error {
	for {
		inner, ok := err.(*Error)
		if !ok {
			break
		}
		err = inner.Err
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	var errs []error
	for _, x := range j.Unwrap() {
		if x = withoutKinds(x); x != nil {
			errs = append(errs, x)
		}
	}
	return errors.Join(errs...)
}

// WithOp returns err with its operation set to op when err is an *Error that names
// none (as ParseKeyRef's errors do), and err unchanged otherwise.
func WithOp(err error, op string) error {
	if e, ok := err.(*Error); ok && e.Op == "" {
		c := *e
		c.Op = op
		return &c
	}
	return err
}

// Retryable says whether retrying the same request can succeed.
func (e *Error) Retryable() bool { return e.Kind.retryable }

// KindOf returns the Kind that err matches, or nil if it matches none.
func KindOf(err error) *Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	for _, k := range Kinds {
		if errors.Is(err, k) {
			return k
		}
	}
	return nil
}

// IsRetryable says whether err is of a kind that a retry can cure.
func IsRetryable(err error) bool {
	k := KindOf(err)
	return k != nil && k.retryable
}

// ContextError returns nil if ctx is still live, or an *Error of kind ErrCanceled
// (ErrDependencyTimeout for a passed deadline) that unwraps to ctx.Err(), so that both
// errors.Is(err, context.Canceled) and errors.Is(err, ErrCanceled) hold.
func ContextError(ctx context.Context, op, keyID string) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	kind := ErrCanceled
	if errors.Is(err, context.DeadlineExceeded) {
		kind = ErrDependencyTimeout
	}
	return Wrap(kind, op, keyID, err)
}
