package kmsapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/lockedbuf"
	"github.com/keyport/keyport/kmsapi"
)

// The accounts, principals and regions of the tests.
const (
	accountA   = "111122223333"
	accountB   = "444455556666"
	accountG   = "999900001111"
	east       = "us-east-1"
	west       = "us-west-2"
	akidA      = "AKIDADMINA"
	akidApp    = "AKIDAPPA"
	akidB      = "AKIDADMINB"
	akidG      = "AKIDGRANTEE"
	akidSlow   = "AKIDTHROTTLED"
	secretFor  = "secret-of-"
	appARN     = "arn:aws:iam::111122223333:role/app"
	granteeARN = "arn:aws:iam::999900001111:role/grantee"
)

// testPrincipals are the callers of the test server: the root of account A, a
// role of account A, the root of account B, a role of a third account, and a
// principal with a quota of one request a second.
func testPrincipals() []kmsapi.Principal {
	return []kmsapi.Principal{
		{AccessKeyID: akidA, SecretAccessKey: secretFor + akidA, Account: accountA},
		{AccessKeyID: akidApp, SecretAccessKey: secretFor + akidApp, Account: accountA, ARN: appARN},
		{AccessKeyID: akidB, SecretAccessKey: secretFor + akidB, Account: accountB},
		{AccessKeyID: akidG, SecretAccessKey: secretFor + akidG, Account: accountG, ARN: granteeARN},
		{AccessKeyID: akidSlow, SecretAccessKey: secretFor + akidSlow, Account: accountA, Quota: &kmsapi.Quota{RequestsPerSecond: 1, Burst: 2}},
	}
}

// testServices returns key services for us-east-1 and us-west-2.
func testServices() []*local.Service {
	return []*local.Service{local.New(local.WithRegion(east)), local.New(local.WithRegion(west))}
}

// testServer is a kmsapi.Server over two regions, on a loopback httptest server.
type testServer struct {
	*httptest.Server
	log *lockedbuf.Buffer
}

func newTestServer(t testing.TB, mutate ...func(*kmsapi.Options)) *testServer {
	t.Helper()
	logBuf := &lockedbuf.Buffer{}
	opts := kmsapi.Options{
		Services:   testServices(),
		Principals: testPrincipals(),
		AccessLog:  slog.New(slog.NewJSONHandler(logBuf, nil)),
	}
	for _, m := range mutate {
		m(&opts)
	}
	srv, err := kmsapi.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		ts.Close()
		for _, s := range opts.Services {
			_ = s.Close()
		}
	})
	return &testServer{Server: ts, log: logBuf}
}

// client returns an aws-sdk-go-v2 KMS client for the principal akid in region,
// without retries (so that the tests see every answer).
func (ts *testServer) client(akid, region string) *kms.Client {
	return kms.NewFromConfig(ts.config(akid, region), func(o *kms.Options) {
		o.BaseEndpoint = aws.String(ts.URL)
		o.RetryMaxAttempts = 1
	})
}

func (ts *testServer) config(akid, region string) aws.Config {
	return aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secretFor+akid, ""),
		HTTPClient:  ts.Client(),
	}
}

// raw sends a KMS request for target with body, signed as akid in region
// (unsigned when akid is ""), with the headers AWS SDKs send, after mutate
// changes it; it returns the status and the decoded answer.
func (ts *testServer) raw(t testing.TB, akid, target string, body []byte, mutate func(*http.Request)) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.URL+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", "TrentService."+target)
	}
	if mutate != nil {
		mutate(req)
	}
	if akid != "" {
		sum := sha256.Sum256(body)
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secretFor + akid},
			req, hex.EncodeToString(sum[:]), "kms", east, time.Now())
		if err != nil {
			t.Fatal(err)
		}
	}
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("X-Amzn-Requestid") == "" {
		t.Errorf("%s: the answer has no x-amzn-RequestId", target)
	}
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: the answer is not JSON: %q", target, b)
		}
	}
	return resp.StatusCode, m
}

// wantAPIError fails t unless err is an API error with code.
func wantAPIError(t testing.TB, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want the API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("got %s (%s), want %s", ae.ErrorCode(), ae.ErrorMessage(), code)
	}
}

// serve serves h with kmsapi.Serve on a loopback port, over TLS when cfg is not
// nil, until the test ends, and then checks that Serve returned nil. It returns
// the address.
func serve(t *testing.T, h http.Handler, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	mustOK(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- kmsapi.Serve(ctx, ln, h, cfg, 5*time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func mustOK(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
