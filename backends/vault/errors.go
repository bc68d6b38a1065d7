package vault

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/keyport/keyport/backends"
)

// messageRule maps a fragment of a Vault error message onto a Kind. Rules are tried
// in order, before the status code decides.
type messageRule struct {
	fragment string
	kind     *backends.Kind
	why      string
}

// messageRules is the one table that turns Transit's answers into keyport's
// taxonomy. Transit answers most user errors with HTTP 400 and a message; the
// fragments come from Vault's builtin/logical/transit and sdk/helper/keysutil.
var messageRules = []messageRule{
	{"encryption key not found", backends.ErrNotFound, "the Transit key does not exist (or was deleted)"},
	{"signing key not found", backends.ErrNotFound, "the Transit key does not exist (or was deleted)"},
	{"no handler for route", backends.ErrNotFound, "no Transit engine is mounted at this path"},
	{"unsupported path", backends.ErrNotFound, "no Transit engine is mounted at this path"},
	{"disallowed by policy (too old)", backends.ErrDisabled, "the key version that made this ciphertext is below the key's min_decryption_version"},
	{"Vault is sealed", backends.ErrKeyUnavailable, "Vault is sealed"},
	{"permission denied", backends.ErrAccessDenied, "the token may not do this"},
	{"message authentication failed", backends.ErrInvalidCiphertext, "the ciphertext does not authenticate under this key and encryption context"},
	{"invalid ciphertext length", backends.ErrInvalidCiphertext, "the ciphertext is truncated"},
	{"invalid ciphertext", backends.ErrInvalidCiphertext, "the ciphertext is not a Transit ciphertext of this key"},
	{"no such key version", backends.ErrInvalidCiphertext, "the ciphertext names a key version this key does not have"},
	{"illegal base64", backends.ErrInvalidCiphertext, "the ciphertext is not valid base64"},
	{"not supported for key type", backends.ErrInvalidKeyUsage, "the key type cannot do this"},
	{"non-AEAD cipher suite", backends.ErrInvalidKeyUsage, "the key type cannot bind an encryption context"},
	{"derivation not supported", backends.ErrInvalidKeyUsage, "the key type does not derive keys"},
	{"missing 'context' for key derivation", backends.ErrInvalidArgument, "the key is derived and needs a context"},
	{"rate limit quota exceeded", backends.ErrThrottling, "a Vault rate-limit quota was exceeded"},
}

// MapError turns err, an error of the Vault API client from a request for op on
// key, into a *backends.Error through the table the Backend uses; callers who use
// the client for calls the Backend does not wrap (and Tink's Vault client, in
// backends/tink) use it too. The client's own *api.ResponseError stays reachable
// with errors.As. A nil err is nil.
func MapError(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	var be *backends.Error
	if errors.As(err, &be) {
		return err
	}
	if cerr := backends.ContextError(ctx, op, key); cerr != nil {
		return cerr
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		return mapResponse(op, key, re.StatusCode, re.Errors, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return backends.Wrap(backends.ErrDependencyTimeout, op, key, err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return backends.Wrap(backends.ErrDependencyTimeout, op, key, err)
	}
	if errors.Is(err, context.Canceled) {
		return backends.Wrap(backends.ErrCanceled, op, key, err)
	}
	// Transport failures (connection refused, reset, DNS): Vault is out of reach.
	return backends.Wrap(backends.ErrKeyUnavailable, op, key, err)
}

// mapResponse maps a Vault answer with the given HTTP status and error messages.
func mapResponse(op, key string, status int, msgs []string, err error) error {
	joined := strings.Join(msgs, "; ")
	for _, r := range messageRules {
		if strings.Contains(joined, r.fragment) {
			return &backends.Error{Kind: r.kind, Op: op, KeyID: key, Message: r.why + ": " + clip(joined, 300), Err: err}
		}
	}
	return &backends.Error{Kind: statusKind(status), Op: op, KeyID: key, Message: clip(joined, 300), Err: err}
}

// statusKind maps an HTTP status that no message rule matched.
func statusKind(status int) *backends.Kind {
	switch {
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return backends.ErrAccessDenied
	case status == http.StatusNotFound:
		return backends.ErrNotFound
	case status == http.StatusTooManyRequests:
		return backends.ErrThrottling
	case status == http.StatusPreconditionFailed: // a performance standby not yet caught up
		return backends.ErrKeyUnavailable
	case status == http.StatusServiceUnavailable || status == http.StatusBadGateway:
		return backends.ErrKeyUnavailable
	case status == http.StatusGatewayTimeout:
		return backends.ErrDependencyTimeout
	case status == http.StatusRequestEntityTooLarge:
		return backends.ErrInvalidArgument
	case status >= 500:
		return backends.ErrInternal
	case status >= 400:
		return backends.ErrInvalidArgument
	}
	return backends.ErrInternal
}
