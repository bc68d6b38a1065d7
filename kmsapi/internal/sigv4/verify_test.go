package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAKID   = "AKIDKEYPORTTEST"
	testSecret = "keyport/test/secret+access/key"
	testRegion = "us-east-1"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testVerifier() *Verifier {
	return &Verifier{
		Service: "kms",
		Region:  func(r string) bool { return r == testRegion || r == "eu-west-1" },
		Lookup: func(id string) (Credentials, bool) {
			switch id {
			case testAKID:
				return Credentials{SecretAccessKey: testSecret}, true
			case "AKIDSESSION":
				return Credentials{SecretAccessKey: testSecret, SessionToken: "the-session-token"}, true
			}
			return Credentials{}, false
		},
		Now: func() time.Time { return testNow },
	}
}

// signed returns a KMS-shaped request signed by aws-sdk-go-v2's signer, as a
// server receives it.
func signed(t *testing.T, body string, mutate func(r *http.Request), creds aws.Credentials, region, service string, at time.Time) *http.Request {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://kms.local:8443/", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "TrentService.Encrypt")
	r.Header.Set("User-Agent", "keyport-test") // the SDK never signs it
	if mutate != nil {
		mutate(r)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatal(err)
	}
	return r
}

func creds(id string) aws.Credentials {
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: testSecret}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v, want an *Error with code %s", err, code)
	}
	if e.Code != code {
		t.Fatalf("got code %s (%s), want %s", e.Code, e.Message, code)
	}
}

func TestVerifyAcceptsSDKSignatures(t *testing.T) {
	v := testVerifier()
	for _, tc := range []struct {
		name   string
		body   string
		mutate func(r *http.Request)
		region string
		at     time.Time
	}{
		{"Plain", `{"KeyId":"alias/a","Plaintext":"aGk="}`, nil, testRegion, testNow},
		{"EmptyBody", ``, nil, testRegion, testNow},
		{"OtherRegion", `{}`, nil, "eu-west-1", testNow},
		{"SpacesInHeaders", `{}`, func(r *http.Request) { r.Header.Set("X-Custom", "  a   b  c ") }, testRegion, testNow},
		{"RepeatedHeader", `{}`, func(r *http.Request) { r.Header.Add("X-Multi", "one"); r.Header.Add("X-Multi", "two") }, testRegion, testNow},
		{"Query", `{}`, func(r *http.Request) { r.URL.RawQuery = "b=2&a=1&a=0&c=x%20y~" }, testRegion, testNow},
		{"EscapedPath", `{}`, func(r *http.Request) { r.URL.Path, r.URL.RawPath = "/a b/c", "/a%20b/c" }, testRegion, testNow},
		{"EdgeOfSkewPast", `{}`, nil, testRegion, testNow.Add(-DefaultMaxSkew)},
		{"EdgeOfSkewFuture", `{}`, nil, testRegion, testNow.Add(DefaultMaxSkew)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := signed(t, tc.body, tc.mutate, creds(testAKID), tc.region, "kms", tc.at)
			res, err := v.Verify(r, []byte(tc.body))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if res.AccessKeyID != testAKID || res.Region != tc.region || !res.Time.Equal(tc.at.Truncate(time.Second)) {
				t.Errorf("Verify = %+v, want %s in %s at %s", res, testAKID, tc.region, tc.at)
			}
		})
	}
}

func TestVerifySessionToken(t *testing.T) {
	v := testVerifier()
	good := aws.Credentials{AccessKeyID: "AKIDSESSION", SecretAccessKey: testSecret, SessionToken: "the-session-token"}
	if _, err := v.Verify(signed(t, "{}", nil, good, testRegion, "kms", testNow), []byte("{}")); err != nil {
		t.Fatalf("with the right session token: %v", err)
	}
	bad := good
	bad.SessionToken = "another-token"
	_, err := v.Verify(signed(t, "{}", nil, bad, testRegion, "kms", testNow), []byte("{}"))
	wantCode(t, err, CodeUnrecognizedClient)
	none := good
	none.SessionToken = ""
	_, err = v.Verify(signed(t, "{}", nil, none, testRegion, "kms", testNow), []byte("{}"))
	wantCode(t, err, CodeUnrecognizedClient)
	extra := creds(testAKID)
	extra.SessionToken = "unexpected"
	_, err = v.Verify(signed(t, "{}", nil, extra, testRegion, "kms", testNow), []byte("{}"))
	wantCode(t, err, CodeUnrecognizedClient)
}

func TestVerifyRefuses(t *testing.T) {
	v := testVerifier()
	body := `{"KeyId":"alias/a"}`
	ok := func() *http.Request { return signed(t, body, nil, creds(testAKID), testRegion, "kms", testNow) }
	for _, tc := range []struct {
		name string
		req  func() *http.Request
		body string
		code string
		msg  string
	}{
		{"Unsigned", func() *http.Request {
			r := ok()
			r.Header.Del("Authorization")
			return r
		}, body, CodeMissingToken, "Missing Authentication Token"},
		{"BodyChanged", ok, `{"KeyId":"alias/b"}`, CodeInvalidSignature, "does not match"},
		{"SignedHeaderChanged", func() *http.Request {
			r := ok()
			r.Header.Set("X-Amz-Target", "TrentService.Decrypt")
			return r
		}, body, CodeInvalidSignature, "does not match"},
		{"HostChanged", func() *http.Request {
			r := ok()
			r.Host = "evil.local"
			return r
		}, body, CodeInvalidSignature, "does not match"},
		{"MethodChanged", func() *http.Request {
			r := ok()
			r.Method = http.MethodPut
			return r
		}, body, CodeInvalidSignature, "does not match"},
		{"WrongSecret", func() *http.Request {
			return signed(t, body, nil, aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: "not-the-secret"}, testRegion, "kms", testNow)
		}, body, CodeInvalidSignature, "does not match"},
		{"UnknownAccessKey", func() *http.Request {
			return signed(t, body, nil, creds("AKIDUNKNOWN"), testRegion, "kms", testNow)
		}, body, CodeUnrecognizedClient, "security token"},
		{"Expired", func() *http.Request {
			return signed(t, body, nil, creds(testAKID), testRegion, "kms", testNow.Add(-DefaultMaxSkew-time.Second))
		}, body, CodeInvalidSignature, "Signature expired: 20260301T114459Z is now earlier than 20260301T114500Z (20260301T120000Z - 15 min.)"},
		{"Future", func() *http.Request {
			return signed(t, body, nil, creds(testAKID), testRegion, "kms", testNow.Add(DefaultMaxSkew+time.Second))
		}, body, CodeInvalidSignature, "Signature not yet current"},
		{"WrongService", func() *http.Request {
			return signed(t, body, nil, creds(testAKID), testRegion, "s3", testNow)
		}, body, CodeInvalidSignature, "Credential should be scoped to correct service: 'kms'."},
		{"UnservedRegion", func() *http.Request {
			return signed(t, body, nil, creds(testAKID), "ap-south-9", "kms", testNow)
		}, body, CodeInvalidSignature, "Credential should be scoped to a valid region, not 'ap-south-9'."},
		{"OtherAlgorithm", func() *http.Request {
			r := ok()
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), Algorithm, "AWS4-ECDSA-P256-SHA256", 1))
			return r
		}, body, CodeIncompleteSignature, "algorithm"},
		{"NoSignature", func() *http.Request {
			r := ok()
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:strings.Index(a, ", Signature=")])
			return r
		}, body, CodeIncompleteSignature, "requires 'Signature' parameter"},
		{"Bearer", func() *http.Request {
			r := ok()
			r.Header.Set("Authorization", "Bearer abc")
			return r
		}, body, CodeIncompleteSignature, "algorithm"},
		{"HostNotSigned", func() *http.Request {
			r := ok()
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=zzz;", 1))
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "", 1))
			return r
		}, body, CodeIncompleteSignature, "'Host'"},
		{"DateNotSigned", func() *http.Request {
			r := ok()
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-amz-date", "", 1))
			return r
		}, body, CodeIncompleteSignature, "'X-Amz-Date' must be a 'SignedHeader'"},
		{"NoDate", func() *http.Request {
			r := ok()
			r.Header.Del("X-Amz-Date")
			return r
		}, body, CodeIncompleteSignature, "'X-Amz-Date' or a 'Date' header"},
		{"TwoAuthorizations", func() *http.Request {
			r := ok()
			r.Header.Add("Authorization", r.Header.Get("Authorization"))
			return r
		}, body, CodeIncompleteSignature, "more than one"},
		{"UpperCaseSignedHeader", func() *http.Request {
			r := ok()
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host", "Host", 1))
			return r
		}, body, CodeIncompleteSignature, "SignedHeaders"},
		{"ShortSignature", func() *http.Request {
			r := ok()
			a := r.Header.Get("Authorization")
			r.Header.Set("Authorization", a[:len(a)-2])
			return r
		}, body, CodeIncompleteSignature, "'Signature'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(tc.req(), []byte(tc.body))
			wantCode(t, err, tc.code)
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("message %q does not say %q", err.Error(), tc.msg)
			}
		})
	}
}

// TestVerifyScopeDate refuses a request whose X-Amz-Date is on another day than
// its credential scope.
func TestVerifyScopeDate(t *testing.T) {
	v := testVerifier()
	v.Now = func() time.Time { return time.Date(2026, 3, 1, 0, 5, 0, 0, time.UTC) }
	// Signed at 23:59:59 on the 28th, sent as if at midnight on the 1st.
	r := signed(t, "{}", nil, creds(testAKID), testRegion, "kms", time.Date(2026, 2, 28, 23, 59, 59, 0, time.UTC))
	r.Header.Set("X-Amz-Date", "20260301T000000Z")
	_, err := v.Verify(r, []byte("{}"))
	wantCode(t, err, CodeInvalidSignature)
	const msg = "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260228' != '20260301', from '20260301T000000Z'."
	if !strings.Contains(err.Error(), msg) {
		t.Errorf("message %q, want %q", err.Error(), msg)
	}
}

// TestVerifySignatureDigits accepts a signature written in upper-case digits, and
// never one that differs in a single digit.
func TestVerifySignatureDigits(t *testing.T) {
	v := testVerifier()
	r := signed(t, "{}", nil, creds(testAKID), testRegion, "kms", testNow)
	a := r.Header.Get("Authorization")
	i := strings.Index(a, "Signature=") + len("Signature=")
	r.Header.Set("Authorization", a[:i]+strings.ToUpper(a[i:]))
	if _, err := v.Verify(r, []byte("{}")); err != nil {
		t.Fatalf("upper-case signature: %v", err)
	}
	flipped := []byte(a)
	if flipped[i] == '0' {
		flipped[i] = '1'
	} else {
		flipped[i] = '0'
	}
	r.Header.Set("Authorization", string(flipped))
	_, err := v.Verify(r, []byte("{}"))
	wantCode(t, err, CodeInvalidSignature)
}

// TestDateHeader accepts a request signed with Date instead of X-Amz-Date, as
// SigV4 allows: the canonical request and the string to sign computed here must
// agree with a signature computed independently from the documented algorithm.
func TestVerifyDateHeader(t *testing.T) {
	v := testVerifier()
	body := []byte(`{"KeyId":"k"}`)
	r := httptest.NewRequest(http.MethodPost, "http://kms.local/", bytes.NewReader(body))
	r.Header.Set("Date", testNow.Format(http.TimeFormat))
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	signedHeaders := []string{"content-type", "date", "host"}
	canon := "POST\n/\n\ncontent-type:application/x-amz-json-1.1\ndate:" + testNow.Format(http.TimeFormat) +
		"\nhost:kms.local\n\ncontent-type;date;host\n" + hex.EncodeToString(sha256Sum(body))
	if got := CanonicalRequest(r, signedHeaders, body); got != canon {
		t.Fatalf("canonical request:\n%s\nwant\n%s", got, canon)
	}
	sig := Signature(testSecret, "20260301", testRegion, "kms", StringToSign("20260301T120000Z", "20260301", testRegion, "kms", canon))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAKID+"/20260301/us-east-1/kms/aws4_request, SignedHeaders=content-type;date;host, Signature="+sig)
	if _, err := v.Verify(r, body); err != nil {
		t.Fatalf("Verify: %v", err)
	}
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

// TestSignatureKnownAnswer checks the key derivation and signature against the
// get-vanilla case of AWS's published SigV4 test suite.
func TestSignatureKnownAnswer(t *testing.T) {
	canon := "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
		"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	sts := StringToSign("20150830T123600Z", "20150830", "us-east-1", "service", canon)
	got := Signature("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "service", sts)
	const want = "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
	if got != want {
		t.Fatalf("signature = %s, want %s", got, want)
	}
}
