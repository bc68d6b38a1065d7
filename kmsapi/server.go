package kmsapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/kmsapi/internal/sigv4"
)

// Principal is a caller the server knows: the access key it signs with and the
// account and principal ARN that key policies and grants see.
type Principal struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken, when set, must come in every request (X-Amz-Security-Token).
	SessionToken string
	// Account is the principal's AWS account (12 digits).
	Account string
	// ARN is the principal's ARN in Account; empty means the account's root
	// (arn:PARTITION:iam::ACCOUNT:root).
	ARN string
	// Quota overrides Options.Quota for this principal.
	Quota *Quota
}

// Quota limits how many requests a principal makes: RequestsPerSecond on average,
// with bursts of up to Burst. Requests over it are answered with
// ThrottlingException, as AWS KMS answers requests over its quotas. The zero Quota
// is no limit.
type Quota struct {
	RequestsPerSecond float64
	Burst             int
}

// Options configure a Server.
type Options struct {
	// Services hold the keys: one local.Service per region (each serves one
	// region and every account in it). A request goes to the service of the
	// region it was signed for.
	Services []*local.Service
	// Principals are the callers; their access key IDs must differ.
	Principals []Principal
	// Quota is the quota of every principal without one of its own.
	Quota Quota
	// MaxRequestBytes is the largest request body accepted; 0 means
	// DefaultMaxRequestBytes. Larger requests are answered with HTTP 413.
	MaxRequestBytes int64
	// MaxClockSkew is how far a request's signing time may be from the server's
	// clock; 0 means 15 minutes, as AWS allows.
	MaxClockSkew time.Duration
	// AccessLog, when set, receives one record per request: who, what, which key,
	// the outcome and how long it took; never a secret, plaintext, ciphertext or
	// signature.
	AccessLog *slog.Logger
	// Now is the clock signatures are checked against; nil means time.Now.
	Now func() time.Time
	// Front opens the key URLs of ExternalKeys (it needs their schemes' drivers
	// or openers registered).
	Front *backends.Front
	// ExternalKeys put keys of other providers behind KMS keys.
	ExternalKeys []ExternalKey
}

// DefaultMaxRequestBytes is the default limit on request bodies: the largest KMS
// request (a key policy of 32 KiB, JSON-escaped) with room to spare.
const DefaultMaxRequestBytes = 256 << 10

// HealthPath is the path of the health endpoint: a GET there answers 200 with
// {"status":"ok"} without authentication.
const HealthPath = "/healthz"

// targetPrefix is the prefix of X-Amz-Target for the KMS API.
const targetPrefix = "TrentService."

// Server speaks the AWS KMS JSON protocol over keyport's key services. It is an
// http.Handler: serve it with net/http, an httptest.Server, or [Serve]. It is safe
// for concurrent use.
type Server struct {
	verifier   sigv4.Verifier
	services   map[string]*local.Service
	principals map[string]*principal // by access key ID
	maxBody    int64
	log        *slog.Logger
	front      *backends.Front
	ext        map[string]*extKey // by ARN, alias ARN, and account/region/key ID or alias name
	extOrder   []*extKey          // as configured
}

var _ http.Handler = (*Server)(nil)

// principal is a Principal with its quota and its clients, one per region.
type principal struct {
	Principal
	limiter *rate.Limiter // nil: no quota
	clients map[string]*local.Client
}

// New returns a Server for opts. It checks that every principal has an access
// key, a secret, an account of 12 digits and an ARN of that account, and that
// no two services serve the same region.
func New(opts Options) (*Server, error) {
	s := &Server{
		services:   map[string]*local.Service{},
		principals: map[string]*principal{},
		maxBody:    opts.MaxRequestBytes,
		log:        opts.AccessLog,
		front:      opts.Front,
	}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxRequestBytes
	}
	if len(opts.Services) == 0 {
		return nil, errors.New("kmsapi: no key service")
	}
	for _, svc := range opts.Services {
		if svc == nil {
			return nil, errors.New("kmsapi: nil key service")
		}
		if _, dup := s.services[svc.Region()]; dup {
			return nil, fmt.Errorf("kmsapi: two key services for region %s", svc.Region())
		}
		s.services[svc.Region()] = svc
	}
	for _, p := range opts.Principals {
		if p.AccessKeyID == "" || p.SecretAccessKey == "" {
			return nil, errors.New("kmsapi: a principal has no access key ID or secret access key")
		}
		if _, dup := s.principals[p.AccessKeyID]; dup {
			return nil, fmt.Errorf("kmsapi: two principals with access key ID %s", p.AccessKeyID)
		}
		if !backends.IsAccountID(p.Account) {
			return nil, fmt.Errorf("kmsapi: principal %s: account %q is not 12 digits", p.AccessKeyID, p.Account)
		}
		pp := &principal{Principal: p, clients: map[string]*local.Client{}}
		for region, svc := range s.services {
			arn := p.ARN
			if arn == "" {
				arn = "arn:" + svc.Partition() + ":iam::" + p.Account + ":root"
			}
			if parts := strings.SplitN(arn, ":", 6); len(parts) != 6 || parts[0] != "arn" || parts[4] != p.Account {
				return nil, fmt.Errorf("kmsapi: principal %s: %q is not an ARN of account %s", p.AccessKeyID, arn, p.Account)
			}
			pp.ARN = arn
			pp.clients[region] = svc.Client(local.Identity{Account: p.Account, Principal: arn})
		}
		q := opts.Quota
		if p.Quota != nil {
			q = *p.Quota
		}
		if q.RequestsPerSecond > 0 {
			burst := max(q.Burst, 1)
			pp.limiter = rate.NewLimiter(rate.Limit(q.RequestsPerSecond), burst)
		}
		s.principals[p.AccessKeyID] = pp
	}
	if err := s.addExternal(opts.ExternalKeys); err != nil {
		return nil, err
	}
	s.verifier = sigv4.Verifier{
		Service: "kms",
		Region:  func(r string) bool { return s.services[r] != nil },
		Lookup: func(id string) (sigv4.Credentials, bool) {
			p := s.principals[id]
			if p == nil {
				return sigv4.Credentials{}, false
			}
			return sigv4.Credentials{SecretAccessKey: p.SecretAccessKey, SessionToken: p.SessionToken}, true
		},
		MaxSkew: opts.MaxClockSkew,
		Now:     opts.Now,
	}
	return s, nil
}

// call is one request being served.
type call struct {
	ctx    context.Context
	s      *Server
	p      *principal
	region string
	client *local.Client
	// keyID is the key the request named, for the access log.
	keyID string
}

// record is what the access log says of a request.
type record struct {
	id, op, region string
	p              *principal
	keyID          string
	status         int
	errType        string
	in, out        int
}

// ServeHTTP answers one KMS API request: it reads the body (up to the size
// limit), checks the signature, the principal's quota and the operation, decodes
// and validates the input, calls the key service and writes its answer or the
// error AWS KMS would give.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rec := &record{id: requestID()}
	w.Header().Set("X-Amzn-Requestid", rec.id)
	defer func() {
		if v := recover(); v != nil {
			// Never a secret in a panic value of this package; the log says where.
			s.logf(r, "kmsapi: recovered from a panic", slog.String("request_id", rec.id), slog.String("panic", fmt.Sprint(v)))
			rec.status, rec.errType = http.StatusInternalServerError, typeInternal
			writeError(w, newAPIError(typeInternal, http.StatusInternalServerError, "An internal error occurred."))
		}
		s.access(r, rec, time.Since(start))
	}()
	if r.URL.Path == HealthPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.Header().Set("Content-Type", "application/json")
		rec.status = http.StatusOK
		_, _ = io.WriteString(w, `{"status":"ok"}`)
		return
	}
	rec.status, rec.errType, rec.out = s.serve(w, r, rec)
}

// serve does the work of ServeHTTP and returns the status, the error type if any,
// and the size of the answer.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rec *record) (int, string, int) {
	fail := func(err error) (int, string, int) {
		ae := toAPIError(err)
		return ae.Status, ae.Type, writeError(w, ae)
	}
	if r.Method != http.MethodPost {
		return fail(newAPIError(typeUnknownOperation, http.StatusBadRequest, "KMS API requests are POST requests."))
	}
	body, err := readBody(w, r, s.maxBody)
	defer clear(body)
	rec.in = len(body)
	if err != nil {
		return fail(err)
	}
	auth, err := s.verifier.Verify(r, body)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			return fail(newAPIError(se.Code, http.StatusBadRequest, se.Message))
		}
		return fail(err)
	}
	p := s.principals[auth.AccessKeyID]
	rec.p, rec.region = p, auth.Region
	if p.limiter != nil && !p.limiter.Allow() {
		return fail(newAPIError(typeThrottling, http.StatusBadRequest, "Rate exceeded"))
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, targetPrefix)
	h := operations[op]
	if !ok || h == nil {
		return fail(newAPIError(typeUnknownOperation, http.StatusBadRequest, "Unknown operation "+printable(target)+"."))
	}
	rec.op = op
	if ct := mediaType(r.Header.Get("Content-Type")); ct != contentType && ct != "application/x-amz-json-1.0" {
		return fail(newAPIError(typeUnknownOperation, http.StatusBadRequest, "The Content-Type must be "+contentType+"."))
	}
	c := &call{ctx: r.Context(), s: s, p: p, region: auth.Region, client: p.clients[auth.Region]}
	out, err := h(c, body)
	rec.keyID = c.keyID
	if err != nil {
		ae := toAPIError(err)
		if ae.Type == typeInternal {
			s.logf(r, "kmsapi: internal error", slog.String("request_id", rec.id), slog.String("op", op), slog.String("error", err.Error()))
		}
		return ae.Status, ae.Type, writeError(w, ae)
	}
	return http.StatusOK, "", writeOutput(w, out)
}

// readBody reads the request body, up to limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	tooLarge := newAPIError(typeTooLarge, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body is larger than %d bytes.", limit))
	if r.ContentLength > limit {
		return nil, tooLarge
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		clear(body)
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, newAPIError(typeSerialization, http.StatusBadRequest, "The request body could not be read.")
	}
	return body, nil
}

// mediaType returns the media type of a Content-Type value, without parameters,
// in lower case.
func mediaType(v string) string {
	t, _, _ := strings.Cut(v, ";")
	return strings.ToLower(strings.TrimSpace(t))
}

// operation serves one KMS operation: it decodes and validates body, calls the key
// service as c's principal and returns the answer, either a value for
// encoding/json or a *secretJSON.
type operation func(c *call, body []byte) (any, error)

// writeOutput writes a successful answer and returns its size. A *secretJSON is
// wiped once written; nil is an empty body, as AWS answers operations without
// output.
func writeOutput(w http.ResponseWriter, out any) int {
	var b []byte
	switch v := out.(type) {
	case nil:
	case *secretJSON:
		b = v.bytes()
		defer clear(b)
	default:
		var err error
		if b, err = json.Marshal(v); err != nil {
			return writeError(w, newAPIError(typeInternal, http.StatusInternalServerError, "An internal error occurred."))
		}
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(http.StatusOK)
	n, _ := w.Write(b)
	return n
}

// writeError writes e as the AWS JSON protocol does and returns the body's size.
func writeError(w http.ResponseWriter, e *apiError) int {
	b := appendJSONString([]byte(`{"__type":`), e.Type)
	b = append(b, `,"message":`...)
	b = appendJSONString(b, e.Message)
	b = append(b, '}')
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(e.Status)
	n, _ := w.Write(b)
	return n
}

// requestID returns a random request ID in the UUID form AWS uses.
func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// access writes the access-log record of a request.
func (s *Server) access(r *http.Request, rec *record, d time.Duration) {
	if s.log == nil {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", rec.id),
		slog.String("remote", r.RemoteAddr),
		slog.String("op", rec.op),
		slog.Int("status", rec.status),
		slog.Duration("duration", d),
		slog.Int("bytes_in", rec.in),
		slog.Int("bytes_out", rec.out),
	}
	if rec.p != nil {
		attrs = append(attrs, slog.String("access_key_id", rec.p.AccessKeyID), slog.String("account", rec.p.Account),
			slog.String("principal", rec.p.ARN), slog.String("region", rec.region))
	}
	if rec.keyID != "" {
		attrs = append(attrs, slog.String("key_id", printable(rec.keyID)))
	}
	if rec.errType != "" {
		attrs = append(attrs, slog.String("error", rec.errType))
	}
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "kms request", attrs...)
}

// logf writes a server-side event (not a request) to the access log.
func (s *Server) logf(r *http.Request, msg string, attrs ...slog.Attr) {
	if s.log != nil {
		s.log.LogAttrs(r.Context(), slog.LevelError, msg, attrs...)
	}
}

// printable returns s cut to 128 bytes with every byte outside printable ASCII
// replaced, so that a value a client sent can go into a message or a log line.
func printable(s string) string {
	if len(s) > 128 {
		s = s[:128] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}
