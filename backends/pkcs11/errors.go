package pkcs11

import (
	"fmt"

	p11 "github.com/miekg/pkcs11"

	"github.com/keyport/keyport/backends"
)

// recovery says what the backend does about a CKR_* code before it gives up.
type recovery int

const (
	giveUp       recovery = iota // map the code and return it
	freshSession                 // close the session, retry once on a new one
	relogin                      // log the token in again, retry once
	reresolve                    // forget the key's cached handles, find it again, retry once
)

// ckrRule maps one CKR_* code onto the taxonomy.
type ckrRule struct {
	kind    *backends.Kind
	recover recovery
	why     string
}

// ckrRules is the one table that turns the return values of a PKCS#11 library
// into keyport's taxonomy. decryptRules overrides it for C_Decrypt, whose failure
// is the token's verdict on a ciphertext.
var ckrRules = map[uint]ckrRule{
	p11.CKR_PIN_INCORRECT:            {backends.ErrAccessDenied, giveUp, "the PIN is wrong"},
	p11.CKR_PIN_INVALID:              {backends.ErrAccessDenied, giveUp, "the PIN has characters the token does not take"},
	p11.CKR_PIN_LEN_RANGE:            {backends.ErrAccessDenied, giveUp, "the PIN is too long or too short for the token"},
	p11.CKR_PIN_EXPIRED:              {backends.ErrAccessDenied, giveUp, "the PIN has expired"},
	p11.CKR_PIN_LOCKED:               {backends.ErrAccessDenied, giveUp, "the PIN is locked (too many wrong tries)"},
	p11.CKR_USER_PIN_NOT_INITIALIZED: {backends.ErrAccessDenied, giveUp, "the token's user PIN was never set"},
	p11.CKR_USER_NOT_LOGGED_IN:       {backends.ErrAccessDenied, relogin, "the token is not logged in"},
	p11.CKR_USER_TYPE_INVALID:        {backends.ErrAccessDenied, giveUp, "the token refused the user type"},
	p11.CKR_TOKEN_WRITE_PROTECTED:    {backends.ErrAccessDenied, giveUp, "the token is write-protected"},

	p11.CKR_SESSION_HANDLE_INVALID: {backends.ErrKeyUnavailable, freshSession, "the session is no longer valid"},
	p11.CKR_SESSION_CLOSED:         {backends.ErrKeyUnavailable, freshSession, "the session was closed"},
	p11.CKR_OPERATION_ACTIVE:       {backends.ErrInternal, freshSession, "the session was left in another operation"},
	p11.CKR_DEVICE_REMOVED:         {backends.ErrKeyUnavailable, freshSession, "the token was removed"},
	p11.CKR_TOKEN_NOT_PRESENT:      {backends.ErrKeyUnavailable, freshSession, "the token is not present"},
	p11.CKR_TOKEN_NOT_RECOGNIZED:   {backends.ErrKeyUnavailable, giveUp, "the library does not recognise the token"},
	p11.CKR_SLOT_ID_INVALID:        {backends.ErrKeyUnavailable, giveUp, "the slot is gone"},
	p11.CKR_DEVICE_ERROR:           {backends.ErrKeyUnavailable, giveUp, "the token reported a device error"},
	p11.CKR_CRYPTOKI_NOT_INITIALIZED: {backends.ErrKeyUnavailable, giveUp,
		"the PKCS#11 library is not initialised (was the backend closed?)"},
	p11.CKR_SESSION_COUNT: {backends.ErrThrottling, giveUp, "the token has no session to spare"},
	p11.CKR_DEVICE_MEMORY: {backends.ErrLimitExceeded, giveUp, "the token is out of memory"},
	p11.CKR_HOST_MEMORY:   {backends.ErrLimitExceeded, giveUp, "the library is out of memory"},

	p11.CKR_KEY_HANDLE_INVALID:    {backends.ErrNotFound, reresolve, "the key is no longer on the token"},
	p11.CKR_OBJECT_HANDLE_INVALID: {backends.ErrNotFound, reresolve, "the key is no longer on the token"},

	p11.CKR_ENCRYPTED_DATA_INVALID:   {backends.ErrInvalidCiphertext, giveUp, "the token rejected the ciphertext"},
	p11.CKR_ENCRYPTED_DATA_LEN_RANGE: {backends.ErrInvalidCiphertext, giveUp, "the ciphertext has the wrong length for the key"},
	p11.CKR_DATA_LEN_RANGE:           {backends.ErrInvalidArgument, giveUp, "the plaintext is too long for the key"},
	p11.CKR_DATA_INVALID:             {backends.ErrInvalidArgument, giveUp, "the token rejected the plaintext"},

	p11.CKR_KEY_FUNCTION_NOT_PERMITTED: {backends.ErrInvalidKeyUsage, reresolve, "the key's attributes do not permit this operation"},
	p11.CKR_KEY_TYPE_INCONSISTENT:      {backends.ErrInvalidKeyUsage, giveUp, "the key's type does not fit the mechanism"},
	p11.CKR_KEY_SIZE_RANGE:             {backends.ErrInvalidKeyUsage, giveUp, "the key's size does not fit the mechanism"},
	p11.CKR_MECHANISM_INVALID:          {backends.ErrUnsupported, giveUp, "the token does not support the mechanism"},
	p11.CKR_MECHANISM_PARAM_INVALID:    {backends.ErrUnsupported, giveUp, "the token does not support the mechanism's parameters"},
	p11.CKR_FUNCTION_NOT_SUPPORTED:     {backends.ErrUnsupported, giveUp, "the library does not implement the function"},

	p11.CKR_ATTRIBUTE_VALUE_INVALID: {backends.ErrInvalidArgument, giveUp, "the token refused an attribute value"},
	p11.CKR_ATTRIBUTE_TYPE_INVALID:  {backends.ErrInvalidArgument, giveUp, "the token does not know an attribute"},
	p11.CKR_TEMPLATE_INCONSISTENT:   {backends.ErrInvalidArgument, giveUp, "the token refused the key template"},
	p11.CKR_TEMPLATE_INCOMPLETE:     {backends.ErrInvalidArgument, giveUp, "the token wants more attributes in the key template"},

	p11.CKR_FUNCTION_CANCELED: {backends.ErrCanceled, giveUp, "the call was cancelled"},
	p11.CKR_GENERAL_ERROR:     {backends.ErrInternal, giveUp, "the token reported a general error"},
	p11.CKR_FUNCTION_FAILED:   {backends.ErrInternal, giveUp, "the token reported that the function failed"},
}

// initRules override ckrRules for C_EncryptInit and C_DecryptInit: there a bad
// argument is a mechanism parameter the token does not take (SoftHSM 2.6 answers
// CKR_ARGUMENTS_BAD to RSA-OAEP with SHA-256).
var initRules = map[uint]ckrRule{
	p11.CKR_ARGUMENTS_BAD: {backends.ErrUnsupported, giveUp, "the token does not take the mechanism's parameters"},
}

// decryptRules override ckrRules for C_Decrypt. Tokens differ in how they report
// a ciphertext that does not authenticate: CKR_ENCRYPTED_DATA_INVALID as the
// standard says, or CKR_GENERAL_ERROR / CKR_FUNCTION_FAILED (SoftHSM, for a bad
// GCM tag or OAEP padding). The blob was well-formed and the key fit it, so the
// backend takes those for the ciphertext's fault.
var decryptRules = map[uint]ckrRule{
	p11.CKR_GENERAL_ERROR:   {backends.ErrInvalidCiphertext, giveUp, "the ciphertext does not authenticate under this key and encryption context"},
	p11.CKR_FUNCTION_FAILED: {backends.ErrInvalidCiphertext, giveUp, "the ciphertext does not authenticate under this key and encryption context"},
}

// ruleFor returns the rule for code as returned by call, the PKCS#11 function
// ("C_Decrypt").
func ruleFor(call string, code uint) ckrRule {
	switch call {
	case "C_EncryptInit", "C_DecryptInit":
		if r, ok := initRules[code]; ok {
			return r
		}
	case "C_Decrypt":
		if r, ok := decryptRules[code]; ok {
			return r
		}
	}
	if r, ok := ckrRules[code]; ok {
		return r
	}
	return ckrRule{backends.ErrInternal, giveUp, "the token returned an unexpected code"}
}

// ckrError returns the *backends.Error for code, returned by call during op on
// keyID; err, the library's own error, stays reachable with errors.As.
func ckrError(op, keyID, call string, code uint, err error) *backends.Error {
	r := ruleFor(call, code)
	return &backends.Error{Kind: r.kind, Op: op, KeyID: keyID, Message: fmt.Sprintf("%s: %s (%v)", call, r.why, err), Err: err}
}
