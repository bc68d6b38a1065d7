package gocloud

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/keyport/keyport/backends"
	"gocloud.dev/gcerrors"
)

// codeKinds maps gocloud's portable error codes onto the taxonomy. A code whose
// kind depends on the operation (InvalidArgument and Unknown on Decrypt mean a
// ciphertext that did not open) is settled in mapError.
var codeKinds = map[gcerrors.ErrorCode]*backends.Kind{
	gcerrors.NotFound:           backends.ErrNotFound,
	gcerrors.PermissionDenied:   backends.ErrAccessDenied,
	gcerrors.ResourceExhausted:  backends.ErrThrottling,
	gcerrors.DeadlineExceeded:   backends.ErrDependencyTimeout,
	gcerrors.Canceled:           backends.ErrCanceled,
	gcerrors.Unimplemented:      backends.ErrUnsupported,
	gcerrors.AlreadyExists:      backends.ErrAlreadyExists,
	gcerrors.FailedPrecondition: backends.ErrInvalidState,
	gcerrors.InvalidArgument:    backends.ErrInvalidArgument,
	gcerrors.Internal:           backends.ErrInternal,
}

// mapError turns a keeper's error for op on the key id into an *backends.Error
// that unwraps to it. It looks, in order, at the context, at a keyport error (a
// keyport key served back as a keeper keeps its kind), at an AWS KMS exception
// name (the awskms driver's errors carry one, which says more than its gcerrors
// code: IncorrectKey, Disabled, ...), at a Vault response (the hashivault driver
// answers every failure with gcerrors.Unknown), at the gcerrors code, and at a
// network failure. What is still unknown is InvalidCiphertext on Decrypt (a
// keeper answers a ciphertext that does not open with no specific code:
// localsecrets and hashivault say Unknown) and Internal otherwise.
func mapError(ctx context.Context, op, id string, err error) error {
	if cerr := backends.ContextError(ctx, op, id); cerr != nil {
		return cerr
	}
	var kerr *backends.Error // a keyport key behind the keeper (OpenKeeper)
	if errors.As(err, &kerr) {
		return backends.Wrap(kerr.Kind, op, id, err)
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		for _, k := range backends.Kinds {
			if k.Name() == coded.ErrorCode() {
				return backends.Wrap(k, op, id, err)
			}
		}
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		if k := vaultKind(op, re); k != nil {
			return backends.Wrap(k, op, id, err)
		}
	}
	code := gcerrors.Code(err)
	if (code == gcerrors.InvalidArgument || code == gcerrors.Unknown) && op == "Decrypt" {
		return backends.Wrap(backends.ErrInvalidCiphertext, op, id, err)
	}
	if k := codeKinds[code]; k != nil {
		return backends.Wrap(k, op, id, err)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return backends.Wrap(backends.ErrKeyUnavailable, op, id, err)
	}
	return backends.Wrap(backends.ErrInternal, op, id, err)
}

// vaultKind reads a Vault Transit answer, or returns nil to let the caller decide.
func vaultKind(op string, re *api.ResponseError) *backends.Kind {
	msg := strings.Join(re.Errors, "; ")
	switch {
	case strings.Contains(msg, "key not found"), re.StatusCode == http.StatusNotFound:
		return backends.ErrNotFound
	case re.StatusCode == http.StatusForbidden:
		return backends.ErrAccessDenied
	case re.StatusCode == http.StatusTooManyRequests:
		return backends.ErrThrottling
	case re.StatusCode == http.StatusServiceUnavailable:
		return backends.ErrKeyUnavailable
	case re.StatusCode >= 500:
		return backends.ErrInternal
	case re.StatusCode == http.StatusBadRequest && op == "Decrypt":
		return backends.ErrInvalidCiphertext
	}
	return nil
}
