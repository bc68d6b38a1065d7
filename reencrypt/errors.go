package reencrypt

import (
	"context"
	"errors"

	"github.com/keyport/keyport/backends"
)

// wrap returns err as a *backends.Error with Op "ReEncrypt" and err's Kind,
// unwrapping to err. step says which part of the ReEncrypt failed; keyID is the key
// that part named. An error of no Kind is ErrCanceled or ErrDependencyTimeout when
// ctx is done, ErrInternal otherwise.
func wrap(ctx context.Context, err error, keyID, step string) error {
	kind := backends.KindOf(err)
	if kind == nil {
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			kind = backends.ErrDependencyTimeout
		case errors.Is(err, context.Canceled):
			kind = backends.ErrCanceled
		case ctx.Err() != nil:
			return backends.ContextError(ctx, op, keyID)
		default:
			kind = backends.ErrInternal
		}
	}
	msg := step
	var be *backends.Error
	if errors.As(err, &be) {
		if be.KeyID != "" {
			keyID = be.KeyID
		}
		if be.Message != "" {
			msg += ": " + be.Message
		}
	} else {
		msg += ": " + err.Error()
	}
	return &backends.Error{Kind: kind, Op: op, KeyID: keyID, Message: msg, Err: err}
}
