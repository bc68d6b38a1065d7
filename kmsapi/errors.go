package kmsapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/keyport/keyport/backends"
)

// apiError is an error as the KMS API answers it: the exception name that goes
// into the body's __type, the HTTP status, and the message. Messages never carry
// plaintext, key material, grant tokens or whole ciphertexts.
type apiError struct {
	Type    string
	Status  int
	Message string
}

func (e *apiError) Error() string { return e.Type + ": " + e.Message }

// Exceptions the server answers itself, outside the backends taxonomy.
const (
	typeSerialization     = "SerializationException"
	typeUnknownOperation  = "UnknownOperationException"
	typeTooLarge          = "RequestEntityTooLargeException"
	typeThrottling        = "ThrottlingException"
	typeMalformedPolicy   = "MalformedPolicyDocumentException"
	typeCustomKeyStoreNF  = "CustomKeyStoreNotFoundException"
	typeUnsupported       = "UnsupportedOperationException"
	typeValidation        = "ValidationException"
	typeInternal          = "KMSInternalException"
	malformedPolicyPrefix = "MalformedPolicyDocumentException: "
)

func newAPIError(typ string, status int, msg string) *apiError {
	return &apiError{Type: typ, Status: status, Message: msg}
}

// unsupported is the answer to a request that asks for something keyport's key
// service does not do (asymmetric keys, tags, custom key stores, ...).
func unsupported(msg string) *apiError {
	return newAPIError(typeUnsupported, http.StatusBadRequest, msg)
}

// statusOf returns the HTTP status AWS KMS answers a kind of error with. AWS KMS
// answers every client-side exception with 400 (whatever httpError its Smithy
// model declares: SDK logs of NotFoundException, AccessDeniedException and
// DisabledException all show 400), and its own failures with 500, or 503 for a
// dependency that timed out.
func statusOf(k *backends.Kind) int {
	switch k {
	case backends.ErrInternal, backends.ErrKeyUnavailable, backends.ErrCanceled:
		return http.StatusInternalServerError
	case backends.ErrDependencyTimeout:
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

// toAPIError turns an error of the key service into the answer AWS gives. A
// *backends.Error keeps its kind's exception name and its message (without the
// operation and key prefix of Error()); anything else is an internal error whose
// detail stays in the access log.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var be *backends.Error
	if !errors.As(err, &be) || be.Kind == nil {
		return newAPIError(typeInternal, http.StatusInternalServerError, "An internal error occurred.")
	}
	msg := be.Message
	typ := be.Kind.Name()
	switch {
	case be.Kind == backends.ErrCanceled:
		typ = typeInternal
	case be.Kind == backends.ErrInvalidArgument && strings.HasPrefix(msg, malformedPolicyPrefix):
		// backends/local reports a bad key policy as an invalid argument whose
		// message names AWS's exception.
		typ, msg = typeMalformedPolicy, strings.TrimPrefix(msg, malformedPolicyPrefix)
	}
	if msg == "" {
		msg = typ
	}
	return newAPIError(typ, statusOf(be.Kind), msg)
}
