package gcpkms

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/googleapis/gax-go/v2/apierror"
	"github.com/keyport/keyport/backends"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ChecksumError says that a CRC32C integrity check of a Cloud KMS request or
// response failed: the data was damaged on the way, or Cloud KMS did not confirm
// that it checked what it received. Google asks clients to discard such a response
// and retry a limited number of times; the backend returns it inside an error of
// kind backends.ErrInternal, which is retryable, so a retrying caller (the front's
// retry interceptor) tries again. Match it with errors.As.
type ChecksumError struct {
	// Field is the checked field ("ciphertext", "plaintext",
	// "additional_authenticated_data").
	Field string
	// Detected says who found the mismatch: "client" (the response did not match
	// its checksum, or a verified_* flag was false) or "Cloud KMS" (the request did
	// not match its checksum).
	Detected string
	// Err is Cloud KMS's own error when Cloud KMS detected the mismatch.
	Err error
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("CRC32C integrity check of %s failed (detected by %s)", e.Field, e.Detected)
}

func (e *ChecksumError) Unwrap() error { return e.Err }

// codeKinds is the one table that maps Cloud KMS's gRPC status codes onto keyport's
// taxonomy. FAILED_PRECONDITION is refined by the version state Cloud KMS names
// (stateKinds), INVALID_ARGUMENT by the operation and the checksum fields.
var codeKinds = map[codes.Code]*backends.Kind{
	codes.NotFound:           backends.ErrNotFound,
	codes.PermissionDenied:   backends.ErrAccessDenied,
	codes.Unauthenticated:    backends.ErrAccessDenied,
	codes.FailedPrecondition: backends.ErrInvalidState,
	codes.ResourceExhausted:  backends.ErrThrottling,
	codes.Unavailable:        backends.ErrKeyUnavailable,
	codes.DeadlineExceeded:   backends.ErrDependencyTimeout,
	codes.InvalidArgument:    backends.ErrInvalidArgument,
	codes.OutOfRange:         backends.ErrInvalidArgument,
	codes.AlreadyExists:      backends.ErrAlreadyExists,
	codes.Unimplemented:      backends.ErrUnsupported,
	codes.Canceled:           backends.ErrCanceled,
	codes.Aborted:            backends.ErrInternal,
	codes.Internal:           backends.ErrInternal,
	codes.Unknown:            backends.ErrInternal,
	codes.DataLoss:           backends.ErrInternal,
}

// stateKinds maps the CryptoKeyVersion state that a FAILED_PRECONDITION names
// ("... is not enabled, current state is: DISABLED.") onto the taxonomy, as AWS
// KMS answers for a key in the matching state. Longer names come first, so that
// DESTROY_SCHEDULED is not read as DESTROYED.
var stateKinds = []struct {
	state string
	kind  *backends.Kind
}{
	{"DESTROY_SCHEDULED", backends.ErrInvalidState},            // AWS: PendingDeletion
	{"PENDING_EXTERNAL_DESTRUCTION", backends.ErrInvalidState}, // AWS: PendingDeletion
	{"DESTROYED", backends.ErrInvalidState},                    // the material is gone for good
	{"PENDING_GENERATION", backends.ErrInvalidState},           // AWS: Creating
	{"PENDING_IMPORT", backends.ErrInvalidState},               // AWS: PendingImport
	{"DISABLED", backends.ErrDisabled},
}

// MapError turns err, from a Cloud KMS call for op on key, into a *backends.Error.
func MapError(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	var be *backends.Error
	if errors.As(err, &be) {
		return err
	}
	if cerr := backends.ContextError(ctx, op, key); cerr != nil {
		// Keep the service's error reachable beside ctx.Err().
		e := cerr.(*backends.Error)
		e.Err = errors.Join(e.Err, err)
		return e
	}
	st, ok := status.FromError(err)
	if !ok {
		return backends.Wrap(backends.ErrKeyUnavailable, op, key, err)
	}
	msg := st.Message()
	kind := codeKinds[st.Code()]
	if kind == nil {
		kind = backends.ErrInternal
	}
	switch st.Code() {
	case codes.FailedPrecondition:
		for _, s := range stateKinds {
			if strings.Contains(msg, s.state) {
				kind = s.kind
				break
			}
		}
	case codes.InvalidArgument:
		if field, ok := checksumField(msg); ok {
			return &backends.Error{Kind: backends.ErrInternal, Op: op, KeyID: key, Message: "Cloud KMS found a CRC32C mismatch in the request: " + clip(msg, 200),
				Err: &ChecksumError{Field: field, Detected: "Cloud KMS", Err: err}}
		}
		if op == "Decrypt" {
			// Cloud KMS answers a damaged ciphertext, one of another key and one
			// under other additional authenticated data alike.
			kind = backends.ErrInvalidCiphertext
		}
	}
	return &backends.Error{Kind: kind, Op: op, KeyID: key, Message: clip(msg, 300), Err: err}
}

// checksumField reports whether msg is Cloud KMS's answer to a request whose
// CRC32C did not match, and for which field.
func checksumField(msg string) (string, bool) {
	if !strings.Contains(msg, "checksum") {
		return "", false
	}
	for _, f := range []string{"additional_authenticated_data", "plaintext", "ciphertext"} {
		if strings.Contains(msg, f) {
			return f, true
		}
	}
	return "request", true
}

// checksumFailed is the error for a response that failed its integrity check.
func checksumFailed(op, key, field, why string) error {
	return &backends.Error{Kind: backends.ErrInternal, Op: op, KeyID: key,
		Message: why + "; discard the response and retry", Err: &ChecksumError{Field: field, Detected: "client"}}
}

// IsServiceError reports whether err carries Cloud KMS's own error (an
// *apierror.APIError from the client library), for errors.As.
func IsServiceError(err error) bool {
	var ae *apierror.APIError
	return err != nil && errors.As(err, &ae)
}
