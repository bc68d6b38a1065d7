package azurekv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/keyport/keyport/backends"
)

// innerKinds maps Key Vault's inner error codes, which say why an operation was
// Forbidden, onto the taxonomy; they are read before the status decides.
var innerKinds = map[string]*backends.Kind{
	"KeyDisabled":           backends.ErrDisabled, // AWS: DisabledException
	"KeyExpired":            backends.ErrDisabled, // past exp: as a disabled key
	"KeyNotYetValid":        backends.ErrDisabled, // before nbf: as a disabled key
	"KeyOperationForbidden": backends.ErrInvalidKeyUsage,
}

// statusKind is the one table from a Key Vault HTTP status (when no inner code
// decided) to the taxonomy; op refines a 400 on unwrapKey.
func statusKind(op string, status int) *backends.Kind {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return backends.ErrAccessDenied
	case status == http.StatusNotFound:
		return backends.ErrNotFound
	case status == http.StatusConflict:
		return backends.ErrInvalidState // a key name in the deleted-but-recoverable state
	case status == http.StatusTooManyRequests:
		return backends.ErrThrottling
	case status == http.StatusBadRequest && op == "Decrypt":
		return backends.ErrInvalidCiphertext // unwrapKey could not unwrap the value
	case status == http.StatusRequestEntityTooLarge:
		return backends.ErrInvalidArgument
	case status == http.StatusServiceUnavailable || status == http.StatusBadGateway:
		return backends.ErrKeyUnavailable
	case status == http.StatusGatewayTimeout || status == http.StatusRequestTimeout:
		return backends.ErrDependencyTimeout
	case status >= 500:
		return backends.ErrInternal
	case status >= 400:
		return backends.ErrInvalidArgument
	}
	return backends.ErrInternal
}

// errorBody is Key Vault's error answer.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Inner   *struct {
			Code string `json:"code"`
		} `json:"innererror"`
	} `json:"error"`
}

// MapError turns err, from a Key Vault call for op on key, into a *backends.Error.
// The service's *azcore.ResponseError stays reachable with errors.As.
func MapError(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	var be *backends.Error
	if errors.As(err, &be) {
		return err
	}
	if cerr := backends.ContextError(ctx, op, key); cerr != nil {
		e := cerr.(*backends.Error)
		e.Err = errors.Join(e.Err, err)
		return e
	}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return backends.Wrap(backends.ErrDependencyTimeout, op, key, err)
		}
		// Transport failures (refused, reset, DNS, TLS): the vault is out of reach.
		return &backends.Error{Kind: backends.ErrKeyUnavailable, Op: op, KeyID: key, Message: clip(err.Error(), 300), Err: err}
	}
	var body errorBody
	inner := ""
	if re.RawResponse != nil {
		if raw, rerr := runtime.Payload(re.RawResponse); rerr == nil {
			_ = json.Unmarshal(raw, &body)
		}
	}
	if body.Error.Inner != nil {
		inner = body.Error.Inner.Code
	}
	code := re.ErrorCode
	if code == "" {
		code = body.Error.Code
	}
	kind := innerKinds[inner]
	if kind == nil {
		kind = statusKind(op, re.StatusCode)
	}
	msg := fmt.Sprintf("Key Vault answered %d %s", re.StatusCode, code)
	if inner != "" {
		msg += " (" + inner + ")"
	}
	if m := body.Error.Message; m != "" {
		msg += ": " + clip(m, 200)
	}
	if re.StatusCode == http.StatusTooManyRequests && re.RawResponse != nil {
		if ra := re.RawResponse.Header.Get("Retry-After"); ra != "" {
			msg += "; retry after " + clip(ra, 40) + " s"
		}
	}
	return &backends.Error{Kind: kind, Op: op, KeyID: key, Message: strings.TrimSpace(msg), Err: err}
}

// IsServiceError reports whether err carries Key Vault's own answer (an
// *azcore.ResponseError), for errors.As.
func IsServiceError(err error) bool {
	var re *azcore.ResponseError
	return err != nil && errors.As(err, &re)
}

// RetryAfter returns the Retry-After Key Vault sent with a 429 (or 503) answer
// that err carries, as it was sent (seconds or an HTTP date), or "".
func RetryAfter(err error) string {
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.RawResponse != nil {
		return re.RawResponse.Header.Get("Retry-After")
	}
	return ""
}
