// Package sigv4 verifies AWS Signature Version 4 (AWS4-HMAC-SHA256) request
// signatures carried in the Authorization header, as an AWS service endpoint does,
// and fails with the error codes and messages AWS JSON-protocol services answer.
//
// It is written by hand because no maintained library verifies SigV4: the AWS SDKs
// only sign, and their signers choose for themselves which headers to sign, so they
// cannot recompute a signature over exactly the headers a client listed.
package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Algorithm is the only signing algorithm verified.
const Algorithm = "AWS4-HMAC-SHA256"

// DefaultMaxSkew is how far a request's signing time may be from the server's clock
// (AWS allows 15 minutes).
const DefaultMaxSkew = 15 * time.Minute

// timeFormat is the ISO 8601 basic format of X-Amz-Date.
const timeFormat = "20060102T150405Z"

// Error codes of failed verifications, as AWS JSON-protocol services name them.
const (
	CodeMissingToken         = "MissingAuthenticationTokenException"
	CodeIncompleteSignature  = "IncompleteSignatureException"
	CodeInvalidSignature     = "InvalidSignatureException"
	CodeUnrecognizedClient   = "UnrecognizedClientException"
	msgSignatureDoesNotMatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgInvalidToken          = "The security token included in the request is invalid."
)

// Error is a failed verification: Code is the AWS error code the server answers
// with, Message its message. Neither ever holds a secret or a signature.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func fail(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Credentials are what a Verifier knows of an access key.
type Credentials struct {
	SecretAccessKey string
	// SessionToken, when set, must arrive in X-Amz-Security-Token; when empty,
	// a request carrying a token is refused.
	SessionToken string
}

// Verifier checks request signatures for one service. Its fields are read only;
// it is safe for concurrent use.
type Verifier struct {
	// Service is the service name of the credential scope ("kms").
	Service string
	// Region reports whether the endpoint serves a region.
	Region func(region string) bool
	// Lookup returns the credentials of an access key ID, or false.
	Lookup func(accessKeyID string) (Credentials, bool)
	// MaxSkew is the clock skew allowed; 0 means DefaultMaxSkew.
	MaxSkew time.Duration
	// Now is the server's clock; nil means time.Now.
	Now func() time.Time
}

// Result is what a verified signature establishes.
type Result struct {
	AccessKeyID string
	Region      string
	// Time is the signing time of the request.
	Time time.Time
}

// authorization is a parsed Authorization header.
type authorization struct {
	accessKeyID, date, region, service, terminator string
	signedHeaders                                  []string
	signature                                      string
}

// Verify checks the signature of r, whose body has already been read into body.
// It returns the access key and region the request was signed with, or an *Error.
func (v *Verifier) Verify(r *http.Request, body []byte) (*Result, error) {
	auths := r.Header.Values("Authorization")
	if len(auths) == 0 {
		return nil, fail(CodeMissingToken, "Missing Authentication Token")
	}
	if len(auths) > 1 {
		return nil, fail(CodeIncompleteSignature, "The request carries more than one Authorization header.")
	}
	a, err := parseAuthorization(auths[0])
	if err != nil {
		return nil, err
	}
	amzDate, when, err := signingTime(r, a.signedHeaders)
	if err != nil {
		return nil, err
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew == 0 {
		skew = DefaultMaxSkew
	}
	t := now().UTC()
	minutes := strconv.FormatFloat(skew.Minutes(), 'f', -1, 64)
	if when.Before(t.Add(-skew)) {
		return nil, fail(CodeInvalidSignature, "Signature expired: %s is now earlier than %s (%s - %s min.)",
			when.Format(timeFormat), t.Add(-skew).Format(timeFormat), t.Format(timeFormat), minutes)
	}
	if when.After(t.Add(skew)) {
		return nil, fail(CodeInvalidSignature, "Signature not yet current: %s is still later than %s (%s + %s min.)",
			when.Format(timeFormat), t.Add(skew).Format(timeFormat), t.Format(timeFormat), minutes)
	}
	if day := when.Format("20060102"); a.date != day {
		return nil, fail(CodeInvalidSignature, "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.", printable(a.date), day, amzDate)
	}
	if a.terminator != "aws4_request" {
		return nil, fail(CodeInvalidSignature, "Credential should be scoped with a valid terminator: 'aws4_request', not '%s'.", printable(a.terminator))
	}
	if a.service != v.Service {
		return nil, fail(CodeInvalidSignature, "Credential should be scoped to correct service: '%s'.", v.Service)
	}
	if v.Region == nil || !v.Region(a.region) {
		return nil, fail(CodeInvalidSignature, "Credential should be scoped to a valid region, not '%s'.", printable(a.region))
	}
	creds, ok := v.Lookup(a.accessKeyID)
	if !ok {
		return nil, fail(CodeUnrecognizedClient, msgInvalidToken)
	}
	tokens := r.Header.Values("X-Amz-Security-Token")
	switch {
	case len(tokens) > 1:
		return nil, fail(CodeUnrecognizedClient, msgInvalidToken)
	case creds.SessionToken == "" && len(tokens) == 1:
		return nil, fail(CodeUnrecognizedClient, msgInvalidToken)
	case creds.SessionToken != "" && (len(tokens) == 0 || subtle.ConstantTimeCompare([]byte(tokens[0]), []byte(creds.SessionToken)) != 1):
		return nil, fail(CodeUnrecognizedClient, msgInvalidToken)
	}
	want := Signature(creds.SecretAccessKey, a.date, a.region, a.service, StringToSign(amzDate, a.date, a.region, a.service, CanonicalRequest(r, a.signedHeaders, body)))
	if subtle.ConstantTimeCompare([]byte(want), []byte(strings.ToLower(a.signature))) != 1 {
		return nil, fail(CodeInvalidSignature, msgSignatureDoesNotMatch)
	}
	return &Result{AccessKeyID: a.accessKeyID, Region: a.region, Time: when}, nil
}

// parseAuthorization parses "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request,
// SignedHeaders=a;b, Signature=HEX".
func parseAuthorization(h string) (*authorization, error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != Algorithm {
		return nil, fail(CodeIncompleteSignature, "Unsupported AWS 'algorithm': '%s'. Only %s is supported.", printable(alg), Algorithm)
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok {
			continue
		}
		if _, dup := params[k]; dup {
			return nil, fail(CodeIncompleteSignature, "Authorization header has parameter '%s' more than once.", printable(k))
		}
		params[k] = val
	}
	var missing []string
	for _, k := range []string{"Credential", "Signature", "SignedHeaders"} {
		if params[k] == "" {
			missing = append(missing, "Authorization header requires '"+k+"' parameter.")
		}
	}
	if len(missing) > 0 {
		return nil, fail(CodeIncompleteSignature, "%s", strings.Join(missing, " "))
	}
	scope := strings.Split(params["Credential"], "/")
	if len(scope) != 5 || scope[0] == "" {
		return nil, fail(CodeIncompleteSignature, "Authorization header has a malformed 'Credential' parameter: it must be ACCESS_KEY_ID/DATE/REGION/SERVICE/aws4_request.")
	}
	signed := strings.Split(params["SignedHeaders"], ";")
	for _, s := range signed {
		if s == "" || s != strings.ToLower(s) {
			return nil, fail(CodeIncompleteSignature, "Authorization header has a malformed 'SignedHeaders' parameter: lower-case header names separated by ';'.")
		}
	}
	if !slices.Contains(signed, "host") {
		return nil, fail(CodeIncompleteSignature, "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
	}
	sig := params["Signature"]
	if _, err := hex.DecodeString(sig); err != nil || len(sig) != 2*sha256.Size {
		return nil, fail(CodeIncompleteSignature, "Authorization header has a malformed 'Signature' parameter: 64 hexadecimal digits.")
	}
	return &authorization{accessKeyID: scope[0], date: scope[1], region: scope[2], service: scope[3], terminator: scope[4],
		signedHeaders: signed, signature: sig}, nil
}

// signingTime returns the request's signing time, from X-Amz-Date or else Date,
// both as the string that goes into the string to sign and parsed. The header it
// comes from must be signed.
func signingTime(r *http.Request, signed []string) (string, time.Time, error) {
	if v := r.Header.Get("X-Amz-Date"); v != "" {
		t, err := time.Parse(timeFormat, v)
		if err != nil {
			return "", time.Time{}, fail(CodeIncompleteSignature, "X-Amz-Date must be in the ISO 8601 basic format YYYYMMDD'T'HHMMSS'Z'.")
		}
		if !slices.Contains(signed, "x-amz-date") {
			return "", time.Time{}, fail(CodeIncompleteSignature, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
		return v, t, nil
	}
	if v := r.Header.Get("Date"); v != "" {
		t, err := http.ParseTime(v)
		if err != nil {
			return "", time.Time{}, fail(CodeIncompleteSignature, "Date must be an HTTP date.")
		}
		if !slices.Contains(signed, "date") {
			return "", time.Time{}, fail(CodeIncompleteSignature, "'Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
		t = t.UTC()
		return t.Format(timeFormat), t, nil
	}
	return "", time.Time{}, fail(CodeIncompleteSignature, "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
}

// CanonicalRequest returns the canonical form of r over the headers signed, for a
// payload body.
func CanonicalRequest(r *http.Request, signed []string, body []byte) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	// Every service but S3 signs the path as sent, escaped once more.
	b.WriteString(escape(path, true))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(r.URL.Query()))
	b.WriteByte('\n')
	for _, h := range signed {
		b.WriteString(h)
		b.WriteByte(':')
		b.WriteString(headerValue(r, h))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	sum := sha256.Sum256(body)
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}

// headerValue returns the canonical value of the header named h (lower case):
// its values trimmed, runs of spaces made one, joined by commas. Go's server moves
// Host, Content-Length and Transfer-Encoding out of the header map.
func headerValue(r *http.Request, h string) string {
	var vals []string
	switch h {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		if vals = r.Header.Values("Content-Length"); len(vals) == 0 && r.ContentLength >= 0 {
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		vals = r.TransferEncoding
	default:
		vals = r.Header.Values(h)
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(out, ",")
}

// canonicalQuery sorts the parameters by name and value and escapes both.
func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		vals := slices.Clone(q[k])
		slices.Sort(vals)
		for _, v := range vals {
			parts = append(parts, escape(k, false)+"="+escape(v, false))
		}
	}
	return strings.Join(parts, "&")
}

// escape percent-encodes every byte but the unreserved characters of RFC 3986
// (and '/' when keepSlash), with upper-case hexadecimal digits.
func escape(s string, keepSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' || (keepSlash && c == '/') {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// StringToSign returns the string a SigV4 signature signs.
func StringToSign(amzDate, date, region, service, canonicalRequest string) string {
	sum := sha256.Sum256([]byte(canonicalRequest))
	return Algorithm + "\n" + amzDate + "\n" + date + "/" + region + "/" + service + "/aws4_request\n" + hex.EncodeToString(sum[:])
}

// Signature returns the hexadecimal signature of stringToSign under the key
// derived from secret for the scope date/region/service.
func Signature(secret, date, region, service, stringToSign string) string {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	k = hmacSHA256(k, "aws4_request")
	return hex.EncodeToString(hmacSHA256(k, stringToSign))
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// printable returns s cut to 64 bytes with every byte outside printable ASCII
// replaced, so that a value a client sent can go into a message or a log.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
