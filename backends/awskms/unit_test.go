package awskms_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/internal/kmstest"
)

// These tests need no KMS server: they check the error table, key references and
// the Backend's answers to a fake endpoint on a loopback socket.

func TestEveryExceptionIsMapped(t *testing.T) {
	if len(sdkExceptions) < 40 {
		t.Fatalf("only %d exception types listed", len(sdkExceptions))
	}
	for _, exc := range sdkExceptions {
		var api smithy.APIError
		if !errors.As(exc, &api) {
			t.Fatalf("%T is not a smithy.APIError", exc)
		}
		code := api.ErrorCode()
		kind := awskms.KindForCode(code)
		if kind == nil {
			t.Errorf("%s maps onto no kind", code)
			continue
		}
		// As the SDK returns it: wrapped in an OperationError.
		sdkErr := &smithy.OperationError{ServiceID: "KMS", OperationName: "Encrypt", Err: exc}
		err := awskms.MapError(context.Background(), "Encrypt", "alias/x", sdkErr)
		kmstest.WantKind(t, err, kind, "MapError of "+code)
		target := reflect.New(reflect.TypeOf(exc)) // a **types.XException for errors.As
		if !errors.As(err, target.Interface()) || target.Elem().Interface() != exc {
			t.Errorf("%s: the SDK's error is not reachable with errors.As", code)
		}
		var be *backends.Error
		if !errors.As(err, &be) || be.Op != "Encrypt" || be.KeyID != "alias/x" {
			t.Errorf("%s: want a *backends.Error naming the op and key, got %#v", code, err)
		}
	}
}

func TestErrorTable(t *testing.T) {
	for code, want := range map[string]*backends.Kind{
		"NotFoundException":             backends.ErrNotFound,
		"DisabledException":             backends.ErrDisabled,
		"KMSInvalidStateException":      backends.ErrInvalidState,
		"InvalidCiphertextException":    backends.ErrInvalidCiphertext,
		"IncorrectKeyException":         backends.ErrIncorrectKey,
		"InvalidKeyUsageException":      backends.ErrInvalidKeyUsage,
		"InvalidGrantTokenException":    backends.ErrInvalidGrantToken,
		"KeyUnavailableException":       backends.ErrKeyUnavailable,
		"DependencyTimeoutException":    backends.ErrDependencyTimeout,
		"AccessDeniedException":         backends.ErrAccessDenied,
		"ThrottlingException":           backends.ErrThrottling,
		"DryRunOperationException":      backends.ErrDryRunOperation,
		"KMSInternalException":          backends.ErrInternal,
		"UnsupportedOperationException": backends.ErrUnsupported,
		"ValidationException":           backends.ErrInvalidArgument,
		"LimitExceededException":        backends.ErrLimitExceeded,
	} {
		if got := awskms.KindForCode(code); got != want {
			t.Errorf("KindForCode(%s) = %v, want %s", code, got, want.Name())
		}
	}
	if awskms.KindForCode("NoSuchThingException") != nil {
		t.Error("an unknown code maps onto a kind")
	}
	// AccessDeniedException has no SDK type: a generic API error with its code.
	err := awskms.MapError(context.Background(), "Decrypt", "k", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "no"})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "AccessDeniedException")
	if backends.IsRetryable(err) {
		t.Errorf("AccessDeniedException is retryable: %v", err)
	}
	err = awskms.MapError(context.Background(), "Decrypt", "k", &smithy.GenericAPIError{Code: "ThrottlingException"})
	kmstest.WantKind(t, err, backends.ErrThrottling, "ThrottlingException")
	if !backends.IsRetryable(err) {
		t.Errorf("ThrottlingException is not retryable: %v", err)
	}
	if awskms.MapError(context.Background(), "Decrypt", "k", nil) != nil {
		t.Error("MapError(nil) is not nil")
	}
	// A server message that quotes the request is redacted.
	err = awskms.MapError(context.Background(), "Encrypt", "k", &smithy.GenericAPIError{Code: "ValidationException",
		Message: "1 validation error detected: Value 'TOP-SECRET' at 'plaintext' failed to satisfy constraint"})
	if strings.Contains(err.Error(), "TOP-SECRET") || !strings.Contains(err.Error(), "at 'plaintext'") {
		t.Errorf("message not redacted: %v", err)
	}
}

// fakeEndpoint serves handler on a loopback port and returns a Backend against it
// that does not retry.
func fakeEndpoint(t *testing.T, handler http.HandlerFunc) *awskms.Backend {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	cfg := staticConfig(east)
	cfg.RetryMaxAttempts = 1
	b, err := awskms.NewFromConfig(cfg, awskms.WithEndpoint(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestUnexpectedAnswers(t *testing.T) {
	ctx := context.Background()
	in := &backends.EncryptInput{KeyID: "alias/x", Plaintext: []byte("p")}
	for _, tc := range []struct {
		name   string
		status int
		ctype  string
		body   string
		want   *backends.Kind
		says   string
	}{
		{"501 plain text", 501, "text/plain", "Passed X-Amz-Target (TrentService.Encrypt) is not implemented", backends.ErrUnsupported, "501"},
		{"200 not JSON", 200, "application/x-amz-json-1.1", "<html>hello</html>", backends.ErrInternal, "not a KMS response"},
		{"200 JSON of the wrong shape", 200, "application/x-amz-json-1.1", `{"CiphertextBlob": 12}`, backends.ErrInternal, "not a KMS response"},
		{"400 unknown code", 400, "application/x-amz-json-1.1", `{"__type":"BrandNewException","message":"?"}`, backends.ErrInvalidArgument, "BrandNewException"},
		{"400 AccessDenied", 400, "application/x-amz-json-1.1", `{"__type":"AccessDeniedException","message":"nope"}`, backends.ErrAccessDenied, "nope"},
		{"500 empty", 500, "text/plain", "", backends.ErrInternal, "500"},
		{"503 HTML", 503, "text/html", "<html>down</html>", backends.ErrInternal, "503"},
		{"429", 429, "text/plain", "slow down", backends.ErrThrottling, "429"},
		{"403", 403, "text/plain", "forbidden", backends.ErrAccessDenied, "403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := fakeEndpoint(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.ctype)
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			})
			out, err := b.Encrypt(ctx, in)
			if out != nil {
				t.Errorf("an output came with the error")
			}
			if kmstest.WantKind(t, err, tc.want, tc.name) == nil {
				return
			}
			if !strings.Contains(err.Error(), tc.says) {

				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	cfg := staticConfig(east)
	cfg.RetryMaxAttempts = 1
	b, err := awskms.NewFromConfig(cfg, awskms.WithEndpoint("http://"+addr))
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Encrypt(context.Background(), &backends.EncryptInput{KeyID: "alias/x", Plaintext: []byte("p")})
	kmstest.WantKind(t, err, backends.ErrKeyUnavailable, "Encrypt through an unreachable endpoint")
	if !backends.IsRetryable(err) {
		t.Error("an unreachable endpoint is not retryable")
	}
}

// TestRequests checks what the Backend sends, and where: every field of ReEncrypt,
// and ARNs of another region or account to their own endpoints.
func TestRequests(t *testing.T) {
	type seen struct{ target, host, body string }
	var last atomic.Pointer[seen]
	handler := func(answer string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			last.Store(&seen{r.Header.Get("X-Amz-Target"), r.Host, string(body)})
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			fmt.Fprint(w, answer)
		}
	}
	reAnswer := `{"CiphertextBlob":"AQID","KeyId":"arn:aws:kms:us-east-1:111122223333:key/k2","SourceKeyId":"arn:aws:kms:us-east-1:111122223333:key/k1","SourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT","DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`
	home := httptest.NewServer(handler(reAnswer))
	defer home.Close()
	west := httptest.NewServer(handler(`{"CiphertextBlob":"AQID","KeyId":"w"}`))
	defer west.Close()
	other := httptest.NewServer(handler(`{"CiphertextBlob":"AQID","KeyId":"o"}`))
	defer other.Close()
	cfg := staticConfig(east)
	cfg.RetryMaxAttempts = 1
	b, err := awskms.NewFromConfig(cfg, awskms.WithEndpoint(home.URL), awskms.WithRegionEndpoint("us-west-2", west.URL),
		awskms.WithAccountEndpoint(accountB, east, other.URL), awskms.WithAccount(accountA))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	out, err := b.ReEncrypt(ctx, &backends.ReEncryptInput{
		CiphertextBlob: []byte{1, 2, 3}, SourceKeyID: "alias/src", DestinationKeyID: "alias/dst",
		SourceEncryptionContext: map[string]string{"s": "1"}, DestinationEncryptionContext: map[string]string{"d": "2"},
		SourceEncryptionAlgorithm: backends.SymmetricDefault, DestinationEncryptionAlgorithm: backends.SymmetricDefault,
		GrantTokens: []string{"gt"}, DryRun: false,
	})
	if err != nil {
		t.Fatal(err)
	}
	s := last.Load()
	for _, want := range []string{`"SourceKeyId":"alias/src"`, `"DestinationKeyId":"alias/dst"`, `"SourceEncryptionContext":{"s":"1"}`,
		`"DestinationEncryptionContext":{"d":"2"}`, `"GrantTokens":["gt"]`, `"SourceEncryptionAlgorithm":"SYMMETRIC_DEFAULT"`,
		`"DestinationEncryptionAlgorithm":"SYMMETRIC_DEFAULT"`} {
		if !strings.Contains(s.body, want) {
			t.Errorf("ReEncrypt request lacks %s", want)
		}
	}
	if s.target != "TrentService.ReEncrypt" || !out.Native || out.SourceKeyID != "arn:aws:kms:us-east-1:111122223333:key/k1" {
		t.Errorf("ReEncrypt: target %q, output %+v", s.target, out)
	}
	// DryRun is sent, and a server that ignores it still yields DryRunOperation.
	_, err = b.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: []byte{1}, DestinationKeyID: "alias/dst", DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "ReEncrypt with DryRun on a server that ignores it")
	if !strings.Contains(last.Load().body, `"DryRun":true`) {
		t.Error("DryRun was not sent")
	}
	// Routing by ARN.
	for _, tc := range []struct{ key, host string }{
		{backends.KeyARN("aws", "us-west-2", accountA, "mrk-0123456789abcdef0123456789abcdef"), west.Listener.Addr().String()},
		{backends.KeyARN("aws", east, accountB, "44444444-4444-4444-8444-000000000001"), other.Listener.Addr().String()},
		{backends.KeyARN("aws", east, accountA, "44444444-4444-4444-8444-000000000001"), home.Listener.Addr().String()},
		{"alias/x", home.Listener.Addr().String()},
		{"awskms:///alias/x?region=us-west-2", west.Listener.Addr().String()},
	} {
		if _, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: tc.key, Plaintext: []byte("p")}); err != nil {
			t.Fatal(err)
		}
		if h := last.Load().host; h != tc.host {
			t.Errorf("Encrypt(%s) went to %s, want %s", tc.key, h, tc.host)
		}
	}
	// No single ReEncrypt call between two endpoints.
	_, err = b.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: []byte{1}, SourceKeyID: "alias/a",
		DestinationKeyID: backends.KeyARN("aws", east, accountB, "44444444-4444-4444-8444-000000000001")})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "ReEncrypt across regions")
}

func TestParseKeyID(t *testing.T) {
	arn := "arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	for _, tc := range []struct {
		in, key, region string
		form            backends.RefForm
	}{
		{"1234abcd-12ab-34cd-56ef-1234567890ab", "1234abcd-12ab-34cd-56ef-1234567890ab", "", backends.FormKeyID},
		{arn, arn, "us-west-2", backends.FormKeyARN},
		{"alias/orders", "alias/orders", "", backends.FormAliasName},
		{"arn:aws:kms:eu-west-1:111122223333:alias/orders", "arn:aws:kms:eu-west-1:111122223333:alias/orders", "eu-west-1", backends.FormAliasARN},
		{"awskms:///alias/orders?region=eu-west-1", "alias/orders", "eu-west-1", backends.FormAliasName},
		{"awskms://alias/orders", "alias/orders", "", backends.FormAliasName},
		{"awskms:///" + arn, arn, "us-west-2", backends.FormKeyARN},
		{"awskms:///" + arn + "?region=us-west-2", arn, "us-west-2", backends.FormKeyARN},
		{"AWSKMS:///mrk-0123456789abcdef0123456789abcdef", "mrk-0123456789abcdef0123456789abcdef", "", backends.FormKeyID},
	} {
		got, err := awskms.ParseKeyID(tc.in)
		if err != nil {
			t.Errorf("ParseKeyID(%q): %v", tc.in, err)
			continue
		}
		if got.KeyID != tc.key || got.Region != tc.region || got.Ref.Form != tc.form {
			t.Errorf("ParseKeyID(%q) = %q, %q, %v", tc.in, got.KeyID, got.Region, got.Ref.Form)
		}
	}
	for _, bad := range []string{
		"", "vault://transit/x", "awskms://", "awskms:///", "awskms:alias/x", "awskms:///alias/x?region=",
		"awskms:///alias/x?region=a&region=b", "awskms:///alias/x?profile=p", "awskms:///" + arn + "?region=us-east-1",
		"awskms:///not-a-key", "awskms:///alias/x?region=US_EAST", "awskms://user@alias/x", "awskms:///alias/x#frag",
	} {
		// A parser's error names no operation (its caller's WithOp does), so
		// not kmstest.WantKind.
		if _, err := awskms.ParseKeyID(bad); !errors.Is(err, backends.ErrNotFound) || backends.KindOf(err) != backends.ErrNotFound {
			t.Errorf("ParseKeyID(%q) = %v, want NotFound", bad, err)
		}

	}
	if u := awskms.URI("alias/x", "eu-west-1"); u != "awskms:///alias/x?region=eu-west-1" {
		t.Errorf("URI = %q", u)
	}
	if u := awskms.URI(arn, "eu-west-1"); u != "awskms:///"+arn {
		t.Errorf("URI(arn) = %q", u)
	}
}

func TestMRK(t *testing.T) {
	east := "arn:aws:kms:us-east-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef"
	west := "arn:aws:kms:us-west-2:111122223333:key/mrk-0123456789abcdef0123456789abcdef"
	if !awskms.IsMultiRegionKey(east) || !awskms.IsMultiRegionKey("mrk-0123456789abcdef0123456789abcdef") || awskms.IsMultiRegionKey("alias/mrk-1") {
		t.Error("IsMultiRegionKey")
	}
	got, err := awskms.ReplicaARN(east, "us-west-2")
	if err != nil || got != west {
		t.Errorf("ReplicaARN = %q, %v", got, err)
	}
	for _, bad := range [][2]string{{"alias/x", "us-west-2"}, {"arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab", "us-west-2"}, {east, "Bad Region"}} {
		if _, err := awskms.ReplicaARN(bad[0], bad[1]); err == nil {
			t.Errorf("ReplicaARN(%q, %q) did not fail", bad[0], bad[1])
		}
	}
}

func TestRegister(t *testing.T) {
	a, err := awskms.NewFromConfig(staticConfig(east), awskms.WithAccount(accountA))
	if err != nil {
		t.Fatal(err)
	}
	b, err := awskms.NewFromConfig(staticConfig(east), awskms.WithAccount(accountB))
	if err != nil {
		t.Fatal(err)
	}
	r := new(backends.Front)
	if err := a.Register(r); err != nil {
		t.Fatal(err)
	}
	if err := b.RegisterAccount(r, accountB, ""); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]*awskms.Backend{
		"awskms:///alias/x": a,
		arnA(keyPrimary):    a,
		arnC(keyPrimary):    a,
		arnB(keyBPrimary):   b,
		backends.AliasARN("aws", west, accountB, "alias/x"): b,
	} {
		got, _, err := r.Lookup(context.Background(), key)
		if err != nil || got != backends.Backend(want) {
			t.Errorf("Lookup(%s) = %v, %v", key, got, err)
		}
	}
	kmstest.WantKind(t, b.Register(r), backends.ErrAlreadyExists, "second Register of the scheme")
	_, err = awskms.New(nil)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "New(nil)")
	_, err = awskms.New(kms.New(kms.Options{}))
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "New(client without region)")
	_, err = awskms.NewFromConfig(aws.Config{Region: east}, awskms.WithAccount("12"))
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "New with a bad account")

}

func FuzzParseKeyID(f *testing.F) {
	for _, s := range []string{
		"alias/x", "awskms:///alias/x?region=us-east-1", "awskms://alias/x",
		"awskms:///arn:aws:kms:us-east-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef",
		"arn:aws:kms:us-east-1:111122223333:alias/x", "awskms:///%zz", "awskms:///alias/x?region=%",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := awskms.ParseKeyID(s)
		if err != nil {
			if backends.KindOf(err) == nil {
				t.Fatalf("ParseKeyID(%q): untyped error %v", s, err)
			}
			return
		}
		if !got.Ref.IsAWS() || got.KeyID == "" {
			t.Fatalf("ParseKeyID(%q) = %+v: not an AWS reference", s, got)
		}
		again, err := awskms.ParseKeyID(awskms.URI(got.KeyID, got.Region))
		if err != nil || again.KeyID != got.KeyID || again.Region != got.Region {
			t.Fatalf("URI round trip of %q: %+v, %v", s, again, err)
		}
		_ = backends.MRKMatch(s, got.KeyID)
	})
}
