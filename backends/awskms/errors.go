package awskms

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/keyport/keyport/backends"
)

// errorKinds maps every exception AWS KMS (and the AWS JSON protocol around it) can
// answer onto keyport's taxonomy, by error code. It is the one table the Backend
// maps errors through.
var errorKinds = map[string]*backends.Kind{
	// The exceptions of the KMS API (service/kms/types).
	"NotFoundException":                                       backends.ErrNotFound,
	"DisabledException":                                       backends.ErrDisabled,
	"KMSInvalidStateException":                                backends.ErrInvalidState,
	"InvalidCiphertextException":                              backends.ErrInvalidCiphertext,
	"IncorrectKeyException":                                   backends.ErrIncorrectKey,
	"InvalidKeyUsageException":                                backends.ErrInvalidKeyUsage,
	"InvalidGrantTokenException":                              backends.ErrInvalidGrantToken,
	"InvalidGrantIdException":                                 backends.ErrInvalidGrantToken,
	"KeyUnavailableException":                                 backends.ErrKeyUnavailable,
	"DependencyTimeoutException":                              backends.ErrDependencyTimeout,
	"UnsupportedOperationException":                           backends.ErrUnsupported,
	"DryRunOperationException":                                backends.ErrDryRunOperation,
	"KMSInternalException":                                    backends.ErrInternal,
	"AlreadyExistsException":                                  backends.ErrAlreadyExists,
	"LimitExceededException":                                  backends.ErrLimitExceeded,
	"InvalidArnException":                                     backends.ErrInvalidArn,
	"InvalidAliasNameException":                               backends.ErrInvalidAliasName,
	"InvalidMarkerException":                                  backends.ErrInvalidMarker,
	"KMSInvalidMacException":                                  backends.ErrInvalidCiphertext,
	"KMSInvalidSignatureException":                            backends.ErrInvalidCiphertext,
	"IncorrectKeyMaterialException":                           backends.ErrInvalidArgument,
	"IncorrectTrustAnchorException":                           backends.ErrInvalidArgument,
	"InvalidImportTokenException":                             backends.ErrInvalidArgument,
	"ExpiredImportTokenException":                             backends.ErrInvalidArgument,
	"MalformedPolicyDocumentException":                        backends.ErrInvalidArgument,
	"TagException":                                            backends.ErrInvalidArgument,
	"ConflictException":                                       backends.ErrInvalidState,
	"CloudHsmClusterInUseException":                           backends.ErrInvalidState,
	"CloudHsmClusterInvalidConfigurationException":            backends.ErrInvalidArgument,
	"CloudHsmClusterNotActiveException":                       backends.ErrKeyUnavailable,
	"CloudHsmClusterNotFoundException":                        backends.ErrNotFound,
	"CloudHsmClusterNotRelatedException":                      backends.ErrInvalidArgument,
	"CustomKeyStoreHasCMKsException":                          backends.ErrInvalidState,
	"CustomKeyStoreInvalidStateException":                     backends.ErrInvalidState,
	"CustomKeyStoreNameInUseException":                        backends.ErrAlreadyExists,
	"CustomKeyStoreNotFoundException":                         backends.ErrNotFound,
	"XksKeyAlreadyInUseException":                             backends.ErrAlreadyExists,
	"XksKeyInvalidConfigurationException":                     backends.ErrInvalidArgument,
	"XksKeyNotFoundException":                                 backends.ErrNotFound,
	"XksProxyIncorrectAuthenticationCredentialException":      backends.ErrAccessDenied,
	"XksProxyInvalidConfigurationException":                   backends.ErrInvalidArgument,
	"XksProxyInvalidResponseException":                        backends.ErrKeyUnavailable,
	"XksProxyUriEndpointInUseException":                       backends.ErrAlreadyExists,
	"XksProxyUriInUseException":                               backends.ErrAlreadyExists,
	"XksProxyUriUnreachableException":                         backends.ErrKeyUnavailable,
	"XksProxyVpcEndpointServiceInUseException":                backends.ErrAlreadyExists,
	"XksProxyVpcEndpointServiceInvalidConfigurationException": backends.ErrInvalidArgument,
	"XksProxyVpcEndpointServiceNotFoundException":             backends.ErrNotFound,

	// Common AWS errors. AccessDeniedException has no type in the SDK: only its code.
	"AccessDeniedException":          backends.ErrAccessDenied,
	"AccessDenied":                   backends.ErrAccessDenied,
	"NotAuthorized":                  backends.ErrAccessDenied,
	"NotAuthorizedException":         backends.ErrAccessDenied,
	"UnrecognizedClientException":    backends.ErrAccessDenied,
	"InvalidSignatureException":      backends.ErrAccessDenied,
	"IncompleteSignature":            backends.ErrAccessDenied,
	"MissingAuthenticationToken":     backends.ErrAccessDenied,
	"ExpiredTokenException":          backends.ErrAccessDenied,
	"InvalidClientTokenId":           backends.ErrAccessDenied,
	"ThrottlingException":            backends.ErrThrottling,
	"Throttling":                     backends.ErrThrottling,
	"ThrottledException":             backends.ErrThrottling,
	"RequestThrottledException":      backends.ErrThrottling,
	"TooManyRequestsException":       backends.ErrThrottling,
	"RequestLimitExceeded":           backends.ErrThrottling,
	"ValidationException":            backends.ErrInvalidArgument,
	"SerializationException":         backends.ErrInvalidArgument,
	"MissingParameterException":      backends.ErrInvalidArgument,
	"InvalidParameterValueException": backends.ErrInvalidArgument,
	"InvalidParameterCombination":    backends.ErrInvalidArgument,
	"InvalidQueryParameter":          backends.ErrInvalidArgument,
	"UnknownOperationException":      backends.ErrUnsupported,
	"InternalFailure":                backends.ErrInternal,
	"InternalFailureException":       backends.ErrInternal,
	"InternalServerError":            backends.ErrInternal,
	"ServiceUnavailable":             backends.ErrInternal,
	"ServiceUnavailableException":    backends.ErrInternal,
	"RequestTimeout":                 backends.ErrDependencyTimeout,
	"RequestTimeoutException":        backends.ErrDependencyTimeout,
	"RequestExpired":                 backends.ErrAccessDenied,
	"OptInRequired":                  backends.ErrAccessDenied,
}

// KindForCode returns the Kind that the KMS error code maps onto, or nil for a code
// the table does not know.
func KindForCode(code string) *backends.Kind { return errorKinds[code] }

// MapError turns an error of the SDK into a *backends.Error of op on keyID, through
// the same table the Backend uses; callers who use Client() for calls the Backend
// does not wrap use it too. The SDK's own error stays reachable with errors.As (a
// *types.NotFoundException, a smithy.APIError, an *awshttp.ResponseError, ...). A
// nil err is nil.
func MapError(ctx context.Context, op, keyID string, err error) error {
	if err == nil {
		return nil
	}
	var kerr *backends.Error
	if errors.As(err, &kerr) {
		return err
	}
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ctx.Err())) {
		return backends.ContextError(ctx, op, keyID)
	}
	var ipe smithy.InvalidParamsError
	if errors.As(err, &ipe) {
		return &backends.Error{Kind: backends.ErrInvalidArgument, Op: op, KeyID: keyID, Message: ipe.Error(), Err: err}
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode() != "" {
		if kind := errorKinds[apiErr.ErrorCode()]; kind != nil {
			return &backends.Error{Kind: kind, Op: op, KeyID: keyID, Message: apiMessage(apiErr), Err: err}
		}
	}
	// The request never got an answer: connection refused or reset, a server that
	// hung up, a timeout.
	var sendErr *smithyhttp.RequestSendError
	if errors.As(err, &sendErr) {
		var netErr net.Error
		if errors.As(err, &netErr) && netErr.Timeout() {
			return &backends.Error{Kind: backends.ErrDependencyTimeout, Op: op, KeyID: keyID, Message: "the KMS endpoint did not answer in time: " + err.Error(), Err: err}
		}
		return &backends.Error{Kind: backends.ErrKeyUnavailable, Op: op, KeyID: keyID,
			Message: "no answer from the KMS endpoint: " + err.Error(), Err: err}
	}
	// An error status without a known code: decide by the status. (An error body
	// that is not JSON at all, such as local-kms's plain-text 501, lands here too.)
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) && respErr.HTTPStatusCode() >= 300 {
		status := respErr.HTTPStatusCode()
		kind := kindForStatus(status)
		msg := fmt.Sprintf("unexpected answer from the KMS endpoint: HTTP %d %s", status, http.StatusText(status))
		if apiErr != nil && apiErr.ErrorCode() != "" {
			msg += " (error code " + apiErr.ErrorCode() + ")"
		}
		if status == http.StatusNotImplemented {
			msg += ": the server does not implement " + op
		}
		return &backends.Error{Kind: kind, Op: op, KeyID: keyID, Message: msg, Err: err}
	}
	var derr *smithy.DeserializationError
	if errors.As(err, &derr) {
		return &backends.Error{Kind: backends.ErrInternal, Op: op, KeyID: keyID,
			Message: "the KMS endpoint answered something that is not a KMS response: " + derr.Error(), Err: err}
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return &backends.Error{Kind: backends.ErrDependencyTimeout, Op: op, KeyID: keyID, Message: err.Error(), Err: err}
	}
	var maxErr *retry.MaxAttemptsError
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.As(err, &maxErr) {
		return &backends.Error{Kind: backends.ErrKeyUnavailable, Op: op, KeyID: keyID,
			Message: "cannot reach the KMS endpoint: " + err.Error(), Err: err}
	}
	if apiErr != nil {
		return &backends.Error{Kind: backends.ErrInternal, Op: op, KeyID: keyID,
			Message: "unknown KMS error " + apiErr.ErrorCode() + ": " + apiMessage(apiErr), Err: err}
	}
	return &backends.Error{Kind: backends.ErrInternal, Op: op, KeyID: keyID, Message: err.Error(), Err: err}
}

func kindForStatus(status int) *backends.Kind {
	switch {
	case status == http.StatusNotImplemented, status == http.StatusNotFound, status == http.StatusMethodNotAllowed:
		return backends.ErrUnsupported
	case status == http.StatusUnauthorized, status == http.StatusForbidden:
		return backends.ErrAccessDenied
	case status == http.StatusTooManyRequests:
		return backends.ErrThrottling
	case status == http.StatusRequestTimeout, status == http.StatusGatewayTimeout:
		return backends.ErrDependencyTimeout
	case status >= 500:
		return backends.ErrInternal
	}
	return backends.ErrInvalidArgument
}

// apiMessage returns the service's message without any value it quotes from the
// request, and cut short: AWS redacts the values of its validation messages, but
// other servers (local-kms) quote the plaintext or ciphertext there.
func apiMessage(e smithy.APIError) string {
	m := e.ErrorMessage()
	if m == "" {
		return e.ErrorCode()
	}
	return truncate(redactValue(m), 300)
}

// redactValue removes the quoted value of a validation message ("Value '...' at
// 'plaintext' failed to satisfy constraint ...").
func redactValue(m string) string {
	i := strings.Index(m, "Value '")
	if i < 0 {
		return m
	}
	j := strings.LastIndex(m, "' at '")
	if j < i+len("Value '") {
		return m[:i] + "Value [redacted]"
	}
	return m[:i] + "Value [redacted]" + m[j+1:]
}
