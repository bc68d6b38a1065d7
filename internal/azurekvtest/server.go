// Package azurekvtest is an Azure Key Vault keys service of the project's own for
// tests: an HTTPS server on a loopback port that the real azkeys client
// (github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys) talks to. No
// Key Vault emulator can run here, so this server implements the documented
// behaviour the keyport driver depends on, and nothing more:
//
//   - vaults by host name (NAME.vault.azure.net, NAME.managedhsm.azure.net), served
//     from one loopback socket: [Server.HTTPClient] resolves every such host to it
//     and trusts the server's own certificate, which names them, so the client's
//     TLS and its challenge-resource check run unchanged;
//   - Key Vault's challenge authentication: a request without a valid bearer token
//     is answered 401 with a WWW-Authenticate bearer challenge naming the tenant's
//     authority and the resource, and a token from the fake [Credential] is then
//     accepted; tokens may be limited to some key operations (403 Forbidden);
//   - RSA and RSA-HSM keys (wrapKey/unwrapKey with RSA-OAEP-256 and RSA-OAEP) and
//     oct-HSM keys (A256KW), key versions (create, rotate, list), listings of a
//     vault's keys and deleted keys (in one page), attributes (enabled, nbf, exp;
//     key_ops), soft-delete, recovery and purge, with Key
//     Vault's error bodies and codes (KeyNotFound, Forbidden with KeyDisabled, a
//     409 Conflict for a name in the deleted state, BadParameter);
//   - faults injected on demand (a status with an error code and Retry-After).
//
// It lives in the module's internal tree, not under backends/azurekv, so that tests
// outside the driver (the cross-provider chain, benchmarks) can start it too; it is
// test infrastructure, not a product.
package azurekvtest

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/keyport/keyport/internal/faults"
)

// Tenant is the tenant the server's challenges name.
const Tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// SoftDeleteRetention is how long a deleted key stays recoverable.
const SoftDeleteRetention = 90 * 24 * time.Hour

// Fault is an error the server answers instead of the next Times requests whose
// operation is Op ("wrapkey", "unwrapkey", "get", ...; empty means every one).
type Fault struct {
	Op         string
	Status     int
	Code       string
	Message    string
	RetryAfter string // the Retry-After header, if any
	Times      int    // 0 means 1
}

// Server is an in-process Key Vault keys service on a loopback port. It is safe
// for concurrent use.
type Server struct {
	ts   *httptest.Server
	cert *x509.Certificate

	mu     sync.Mutex
	vaults map[string]*vault   // by host
	tokens map[string][]string // bearer token -> allowed operations (nil: all)
	faults faults.Queue[Fault]
	unauth int // 401 challenges answered
}

type vault struct {
	keys    map[string]*key
	deleted map[string]*deletedKey
}

type key struct {
	name     string
	versions []*keyVersion // in creation order; the last is current
	tags     map[string]*string
}

type deletedKey struct {
	k         *key
	deletedAt time.Time
}

type keyVersion struct {
	id      string
	kty     azkeys.KeyType
	rsa     *rsa.PrivateKey
	oct     []byte
	ops     []string
	enabled bool
	nbf     *time.Time
	exp     *time.Time
	created time.Time
	updated time.Time
}

// New starts a Server on a free loopback port with a certificate of its own for
// *.vault.azure.net, *.managedhsm.azure.net and 127.0.0.1.
func New() (*Server, error) {
	s := &Server{vaults: map[string]*vault{}, tokens: map[string][]string{}}
	certPEM, err := selfSigned()
	if err != nil {
		return nil, err
	}
	s.cert = certPEM.Leaf
	s.ts = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.ts.TLS = &tls.Config{Certificates: []tls.Certificate{*certPEM}, MinVersion: tls.VersionTLS12}
	s.ts.StartTLS()
	return s, nil
}

// Start starts a Server for tb and stops it when tb's test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New()
	if err != nil {
		tb.Fatalf("azurekvtest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

func selfSigned() (*tls.Certificate, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "keyport azurekvtest"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"*.vault.azure.net", "*.managedhsm.azure.net", "localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: priv, Leaf: leaf}, nil
}

// HTTPClient returns an HTTP client that trusts the server's certificate and
// sends every request, whatever its host, to the server's loopback socket.
func (s *Server) HTTPClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(s.cert)
	addr := s.ts.Listener.Addr().String()
	var d net.Dialer
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 64,
		ForceAttemptHTTP2:   true,
	}}
}

// ClientOptions returns azkeys client options that reach the server through
// HTTPClient; retries is the client's MaxRetries (-1 for none, 0 for azcore's
// default of 3).
func (s *Server) ClientOptions(retries int32) *azkeys.ClientOptions {
	return &azkeys.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: s.HTTPClient(),
		Retry:     policy.RetryOptions{MaxRetries: retries, RetryDelay: time.Millisecond, MaxRetryDelay: 10 * time.Millisecond},
	}}
}

// Credential is a fake azcore.TokenCredential: it returns Token, and records the
// scopes and tenant it was asked for (which the client takes from the server's
// challenge).
type Credential struct {
	Token string

	mu      sync.Mutex
	Scopes  []string
	Tenant  string
	Fetches int
}

var _ azcore.TokenCredential = (*Credential)(nil)

// GetToken returns the fixed token, valid for an hour.
func (c *Credential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.Scopes, c.Tenant = append([]string(nil), o.Scopes...), o.TenantID
	c.Fetches++
	return azcore.AccessToken{Token: c.Token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Seen returns what the credential was last asked for.
func (c *Credential) Seen() (scopes []string, tenant string, fetches int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.Scopes, c.Tenant, c.Fetches
}

// AllowToken makes token valid. ops, when given, are the only key operations it
// may do ("wrapKey", "unwrapKey", "encrypt", "decrypt", "get", "create", "update", "delete", "rotate",
// "list", "recover", "purge", "getDeleted"); none means all.
func (s *Server) AllowToken(token string, ops ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[token] = ops
}

// NewCredential returns a Credential with a fresh token that the server accepts
// for ops (all when none are given).
func (s *Server) NewCredential(ops ...string) *Credential {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	tok := "kvtest-" + hex.EncodeToString(b)
	s.AllowToken(tok, ops...)
	return &Credential{Token: tok}
}

// AddVault makes a vault at host (NAME.vault.azure.net or NAME.managedhsm.azure.net)
// and returns its URL.
func (s *Server) AddVault(host string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	host = strings.ToLower(host)
	if s.vaults[host] == nil {
		s.vaults[host] = &vault{keys: map[string]*key{}, deleted: map[string]*deletedKey{}}
	}
	return "https://" + host
}

// InjectFault queues f; faults are matched in the order they were queued.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(f.Op, f.Times, f)
}

// Calls returns how many authenticated requests of op the server has answered.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.Calls(op)
}

// Challenges returns how many 401 challenges the server has answered.
func (s *Server) Challenges() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.unauth
}

// apiError is Key Vault's error body.
type apiError struct {
	status int
	Code   string `json:"code"`
	Msg    string `json:"message"`
	Inner  *struct {
		Code string `json:"code"`
	} `json:"innererror,omitempty"`
	retryAfter string
}

func errorf(status int, code, inner, format string, args ...any) *apiError {
	e := &apiError{status: status, Code: code, Msg: fmt.Sprintf(format, args...)}
	if inner != "" {
		e.Inner = &struct {
			Code string `json:"code"`
		}{inner}
	}
	return e
}

func notFound(id string) *apiError {
	return errorf(http.StatusNotFound, "KeyNotFound", "", "A key with (name/id) %s was not found in this key vault. If you recently deleted this key you may be able to recover it using the correct recovery command.", id)
}

func (s *Server) write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if e, ok := v.(*apiError); ok {
		if e.retryAfter != "" {
			w.Header().Set("Retry-After", e.retryAfter)
		}
		status = e.status
		v = struct {
			Error *apiError `json:"error"`
		}{e}
	}
	buf, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	_, _ = w.Write(buf)
}

// resource is the challenge resource for a vault host.
func resource(host string) string {
	if strings.HasSuffix(host, ".managedhsm.azure.net") {
		return "https://managedhsm.azure.net"
	}
	return "https://vault.azure.net"
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	// The body is read, and the answer written, without the lock: only the
	// service's state is behind it, so that concurrent clients are served
	// concurrently, as Key Vault serves them.
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		s.write(w, 0, errorf(http.StatusBadRequest, "BadParameter", "", "unreadable body"))
		return
	}
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	ops, valid := s.tokens[tok]
	if !valid {
		s.unauth++
		s.mu.Unlock()
		// Key Vault's challenge: the client reads the authority's tenant and the
		// resource, fetches a token for it, and sends the request again.
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer authorization="https://login.microsoftonline.com/%s", resource="%s"`, Tenant, resource(host)))
		s.write(w, http.StatusUnauthorized, errorf(http.StatusUnauthorized, "Unauthorized", "", "AKV10000: Request is missing a Bearer or PoP token."))
		return
	}
	v := s.vaults[host]
	if v == nil {
		s.mu.Unlock()
		s.write(w, 0, errorf(http.StatusNotFound, "VaultNotFound", "", "No vault %s on this test server.", host))
		return
	}
	resp, status := s.route(v, host, r.Method, r.URL.Path, body, ops)
	s.mu.Unlock()
	if job, ok := resp.(*cryptJob); ok {
		resp, status = job.run()
	}
	if e, ok := resp.(*apiError); ok && e.status == 0 {
		e.status = http.StatusBadRequest
	}
	s.write(w, status, resp)
}

// cryptJob is a wrap or unwrap that route has authorized, done after the lock is
// released: a version's key material never changes.
type cryptJob struct {
	kv    *keyVersion
	op    string
	alg   azkeys.EncryptionAlgorithm
	value []byte
	kid   string
}

func (j *cryptJob) run() (any, int) {
	out, e := j.kv.crypt(j.op, j.alg, j.value)
	clear(j.value)
	if e != nil {
		return e, 0
	}
	id := azkeys.ID(j.kid)
	return azkeys.KeyOperationResult{KID: &id, Result: out}, http.StatusOK
}

// allowedOp checks a token's operations.
func allowedOp(ops []string, op string) *apiError {
	if ops == nil {
		return nil
	}
	for _, o := range ops {
		if o == op {
			return nil
		}
	}
	return errorf(http.StatusForbidden, "Forbidden", "ForbiddenByPolicy", "The user, group or application does not have keys %s permission on key vault.", op)
}

// route dispatches one authenticated request; it runs with s.mu held. A wrap or
// unwrap it has authorized comes back as a *cryptJob.
func (s *Server) route(v *vault, host, method, path string, body []byte, ops []string) (any, int) {
	p := strings.Split(strings.Trim(path, "/"), "/")
	op := ""
	switch {
	case len(p) == 3 && p[0] == "keys" && p[2] == "create" && method == http.MethodPost:
		op = "create"
	case len(p) == 3 && p[0] == "keys" && p[2] == "rotate" && method == http.MethodPost:
		op = "rotate"
	case len(p) == 3 && p[0] == "keys" && p[2] == "versions" && method == http.MethodGet:
		op = "list"
	case len(p) == 1 && (p[0] == "keys" || p[0] == "deletedkeys") && method == http.MethodGet:
		op = "list" // Key Vault's keys/list permission covers both listings
	case len(p) >= 3 && len(p) <= 4 && p[0] == "keys" && (p[len(p)-1] == "wrapkey" || p[len(p)-1] == "unwrapkey") && method == http.MethodPost:
		op = strings.TrimSuffix(p[len(p)-1], "key") + "Key"
	case len(p) >= 3 && len(p) <= 4 && p[0] == "keys" && (p[len(p)-1] == "encrypt" || p[len(p)-1] == "decrypt") && method == http.MethodPost:
		op = p[len(p)-1] // RSA keys only here (gocloud's keeper encrypts with RSA-OAEP-256)
	case len(p) >= 2 && len(p) <= 3 && p[0] == "keys" && method == http.MethodGet:
		op = "get"
	case len(p) >= 2 && len(p) <= 3 && p[0] == "keys" && method == http.MethodPatch:
		op = "update"
	case len(p) == 2 && p[0] == "keys" && method == http.MethodDelete:
		op = "delete"
	case len(p) == 2 && p[0] == "deletedkeys" && method == http.MethodGet:
		op = "getDeleted"
	case len(p) == 2 && p[0] == "deletedkeys" && method == http.MethodDelete:
		op = "purge"
	case len(p) == 3 && p[0] == "deletedkeys" && p[2] == "recover" && method == http.MethodPost:
		op = "recover"
	default:
		return errorf(http.StatusBadRequest, "BadParameter", "", "This test server has no %s %s.", method, path), 0
	}
	if f, ok := s.faults.Next(op); ok {
		e := errorf(f.Status, f.Code, "", "%s", f.Message)
		e.retryAfter = f.RetryAfter
		return e, 0
	}
	if e := allowedOp(ops, op); e != nil {
		return e, 0
	}
	base := "https://" + host
	if len(p) == 1 {
		return v.listing(base, p[0] == "deletedkeys"), http.StatusOK
	}
	name := p[1]
	version := ""
	switch op {
	case "wrapKey", "unwrapKey", "encrypt", "decrypt":
		if len(p) == 4 {
			version = p[2]
		}
	case "get", "update":
		if len(p) == 3 {
			version = p[2]
		}
	}
	switch op {
	case "create":
		return s.create(v, base, name, body), http.StatusOK
	case "rotate":
		k := v.keys[name]
		if k == nil {
			return notFound(name), 0
		}
		cur := k.versions[len(k.versions)-1]
		kv, err := newVersion(cur.kty, cur.keySize(), cur.ops)
		if err != nil {
			return err, 0
		}
		k.versions = append(k.versions, kv)
		return k.bundle(base, kv), http.StatusOK
	case "list":
		k := v.keys[name]
		if k == nil {
			return notFound(name), 0
		}
		var res azkeys.KeyPropertiesListResult
		for _, kv := range k.versions {
			id := azkeys.ID(k.id(base, kv))
			res.Value = append(res.Value, &azkeys.KeyProperties{KID: &id, Attributes: kv.attributes(), Tags: k.tags})
		}
		return res, http.StatusOK
	case "get":
		k, kv, e := v.lookup(name, version)
		if e != nil {
			return e, 0
		}
		return k.bundle(base, kv), http.StatusOK
	case "update":
		k, kv, e := v.lookup(name, version)
		if e != nil {
			return e, 0
		}
		var in azkeys.UpdateKeyParameters
		if err := json.Unmarshal(body, &in); err != nil {
			return errorf(http.StatusBadRequest, "BadParameter", "", "bad body: %v", err), 0
		}
		if a := in.KeyAttributes; a != nil {
			if a.Enabled != nil {
				kv.enabled = *a.Enabled
			}
			if a.NotBefore != nil {
				t := *a.NotBefore
				kv.nbf = &t
			}
			if a.Expires != nil {
				t := *a.Expires
				kv.exp = &t
			}
		}
		if in.KeyOps != nil {
			kv.ops = nil
			for _, o := range in.KeyOps {
				kv.ops = append(kv.ops, string(*o))
			}
		}
		kv.updated = time.Now()
		return k.bundle(base, kv), http.StatusOK
	case "delete":
		k := v.keys[name]
		if k == nil {
			return notFound(name), 0
		}
		delete(v.keys, name)
		d := &deletedKey{k: k, deletedAt: time.Now()}
		v.deleted[name] = d
		return d.bundle(base), http.StatusOK
	case "getDeleted":
		d := v.deleted[name]
		if d == nil {
			return errorf(http.StatusNotFound, "KeyNotFound", "", "Deleted Key not found: %s", name), 0
		}
		return d.bundle(base), http.StatusOK
	case "purge":
		if v.deleted[name] == nil {
			return errorf(http.StatusNotFound, "KeyNotFound", "", "Deleted Key not found: %s", name), 0
		}
		delete(v.deleted, name)
		return nil, http.StatusNoContent
	case "recover":
		d := v.deleted[name]
		if d == nil {
			return errorf(http.StatusNotFound, "KeyNotFound", "", "Deleted Key not found: %s", name), 0
		}
		delete(v.deleted, name)
		v.keys[name] = d.k
		return d.k.bundle(base, d.k.versions[len(d.k.versions)-1]), http.StatusOK
	case "wrapKey", "unwrapKey", "encrypt", "decrypt":
		k, kv, e := v.lookup(name, version)
		if e != nil {
			return e, 0
		}
		var in azkeys.KeyOperationParameters
		if err := json.Unmarshal(body, &in); err != nil || in.Algorithm == nil {
			return errorf(http.StatusBadRequest, "BadParameter", "", "The request is missing alg or value."), 0
		}
		if e := kv.check(op, time.Now()); e != nil {
			clear(in.Value)
			return e, 0
		}
		return &cryptJob{kv: kv, op: op, alg: *in.Algorithm, value: in.Value, kid: k.id(base, kv)}, 0
	}
	return errorf(http.StatusBadRequest, "BadParameter", "", "unreachable"), 0
}

// listing answers a listing of the vault's keys (with their current versions'
// attributes, identified without a version, as Key Vault lists them) or of its
// deleted keys, in name order and in one page.
func (v *vault) listing(base string, deleted bool) any {
	var names []string
	if deleted {
		for n := range v.deleted {
			names = append(names, n)
		}
	} else {
		for n := range v.keys {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if deleted {
		res := azkeys.DeletedKeyPropertiesListResult{Value: []*azkeys.DeletedKeyProperties{}}
		for _, n := range names {
			d := v.deleted[n].bundle(base)
			id := azkeys.ID(base + "/keys/" + n)
			res.Value = append(res.Value, &azkeys.DeletedKeyProperties{KID: &id, Attributes: d.Attributes, Tags: d.Tags,
				RecoveryID: d.RecoveryID, DeletedDate: d.DeletedDate, ScheduledPurgeDate: d.ScheduledPurgeDate})
		}
		return res
	}
	res := azkeys.KeyPropertiesListResult{Value: []*azkeys.KeyProperties{}}
	for _, n := range names {
		k := v.keys[n]
		id := azkeys.ID(base + "/keys/" + n)
		res.Value = append(res.Value, &azkeys.KeyProperties{KID: &id, Attributes: k.versions[len(k.versions)-1].attributes(), Tags: k.tags})
	}
	return res
}

func (v *vault) lookup(name, version string) (*key, *keyVersion, *apiError) {
	k := v.keys[name]
	if k == nil {
		return nil, nil, notFound(name)
	}
	if version == "" {
		return k, k.versions[len(k.versions)-1], nil
	}
	for _, kv := range k.versions {
		if kv.id == version {
			return k, kv, nil
		}
	}
	return nil, nil, notFound(name + "/" + version)
}

func (s *Server) create(v *vault, base, name string, body []byte) any {
	if !validName(name) {
		return errorf(http.StatusBadRequest, "BadParameter", "", "The name %q is not a valid key name.", name)
	}
	if _, gone := v.deleted[name]; gone {
		return errorf(http.StatusConflict, "Conflict", "ObjectIsDeletedButRecoverable", "Key %s is currently in a deleted but recoverable state, and its name cannot be reused; in this state, the key can only be recovered or purged.", name)
	}
	var in azkeys.CreateKeyParameters
	if err := json.Unmarshal(body, &in); err != nil || in.Kty == nil {
		return errorf(http.StatusBadRequest, "BadParameter", "", "The request is missing kty.")
	}
	size := 2048
	if in.KeySize != nil {
		size = int(*in.KeySize)
	}
	var ops []string
	for _, o := range in.KeyOps {
		ops = append(ops, string(*o))
	}
	if ops == nil {
		ops = []string{"encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify"}
	}
	kv, e := newVersion(*in.Kty, size, ops)
	if e != nil {
		return e
	}
	if a := in.KeyAttributes; a != nil {
		if a.Enabled != nil {
			kv.enabled = *a.Enabled
		}
		kv.nbf, kv.exp = a.NotBefore, a.Expires
	}
	k := v.keys[name]
	if k == nil {
		k = &key{name: name}
		v.keys[name] = k
	}
	k.tags = in.Tags
	k.versions = append(k.versions, kv)
	return k.bundle(base, kv)
}

func validName(s string) bool {
	if s == "" || len(s) > 127 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func newVersion(kty azkeys.KeyType, size int, ops []string) (*keyVersion, *apiError) {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	now := time.Now().Truncate(time.Second)
	kv := &keyVersion{id: hex.EncodeToString(id), kty: kty, ops: ops, enabled: true, created: now, updated: now}
	switch kty {
	case azkeys.KeyTypeRSA, azkeys.KeyTypeRSAHSM:
		if size != 2048 && size != 3072 && size != 4096 {
			return nil, errorf(http.StatusBadRequest, "BadParameter", "", "RSA key size %d is not 2048, 3072 or 4096.", size)
		}
		priv, err := rsa.GenerateKey(rand.Reader, size)
		if err != nil {
			return nil, errorf(http.StatusInternalServerError, "InternalError", "", "%v", err)
		}
		kv.rsa = priv
	case azkeys.KeyTypeOctHSM:
		if size != 128 && size != 192 && size != 256 {
			size = 256
		}
		kv.oct = make([]byte, size/8)
		_, _ = rand.Read(kv.oct)
	default:
		return nil, errorf(http.StatusBadRequest, "BadParameter", "", "This test server makes RSA, RSA-HSM and oct-HSM keys, not %s.", kty)
	}
	return kv, nil
}

func (kv *keyVersion) keySize() int {
	if kv.rsa != nil {
		return kv.rsa.N.BitLen()
	}
	return len(kv.oct) * 8
}

func (k *key) id(base string, kv *keyVersion) string { return base + "/keys/" + k.name + "/" + kv.id }

func (kv *keyVersion) attributes() *azkeys.KeyAttributes {
	enabled := kv.enabled
	level := "Recoverable+Purgeable"
	days := int32(90)
	created, updated := kv.created, kv.updated
	return &azkeys.KeyAttributes{Enabled: &enabled, NotBefore: kv.nbf, Expires: kv.exp, Created: &created, Updated: &updated,
		RecoveryLevel: &level, RecoverableDays: &days}
}

func (k *key) bundle(base string, kv *keyVersion) azkeys.KeyBundle {
	id := azkeys.ID(k.id(base, kv))
	kty := kv.kty
	jwk := &azkeys.JSONWebKey{KID: &id, Kty: &kty}
	for _, o := range kv.ops {
		op := azkeys.KeyOperation(o)
		jwk.KeyOps = append(jwk.KeyOps, &op)
	}
	if kv.rsa != nil {
		jwk.N = kv.rsa.N.Bytes()
		jwk.E = big.NewInt(int64(kv.rsa.E)).Bytes()
	}
	return azkeys.KeyBundle{Key: jwk, Attributes: kv.attributes(), Tags: k.tags}
}

func (d *deletedKey) bundle(base string) azkeys.DeletedKey {
	b := d.k.bundle(base, d.k.versions[len(d.k.versions)-1])
	rid := base + "/deletedkeys/" + d.k.name
	at := d.deletedAt.Truncate(time.Second)
	purge := at.Add(SoftDeleteRetention)
	return azkeys.DeletedKey{Key: b.Key, Attributes: b.Attributes, Tags: b.Tags, RecoveryID: &rid, DeletedDate: &at, ScheduledPurgeDate: &purge}
}

func hasOp(ops []string, op string) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

// check applies Key Vault's checks of a version's attributes to op:
// disabled and not-yet-valid versions do nothing, expired ones no longer wrap (the
// documented meaning of exp), and the key_ops must allow op. It runs with s.mu
// held.
func (kv *keyVersion) check(op string, now time.Time) *apiError {
	switch {
	case !kv.enabled:
		return errorf(http.StatusForbidden, "Forbidden", "KeyDisabled", "Operation %s is not allowed on a disabled key.", op)
	case kv.nbf != nil && now.Before(*kv.nbf):
		return errorf(http.StatusForbidden, "Forbidden", "KeyNotYetValid", "Operation %s is not allowed before the key's activation date.", op)
	case (op == "wrapKey" || op == "encrypt") && kv.exp != nil && !now.Before(*kv.exp):
		return errorf(http.StatusForbidden, "Forbidden", "KeyExpired", "Operation %s is not allowed on an expired key.", op)
	case !hasOp(kv.ops, op):
		return errorf(http.StatusForbidden, "Forbidden", "KeyOperationForbidden", "Operation %s is not allowed on this key.", op)
	}
	return nil
}

// crypt wraps or unwraps value with the version's key material, which never
// changes; it needs no lock.
func (kv *keyVersion) crypt(op string, alg azkeys.EncryptionAlgorithm, value []byte) ([]byte, *apiError) {
	bad := errorf(http.StatusBadRequest, "BadParameter", "", "Operation %s failed: the value is not valid for this key and algorithm.", op)
	switch {
	case kv.rsa != nil && (alg == azkeys.EncryptionAlgorithmRSAOAEP256 || alg == azkeys.EncryptionAlgorithmRSAOAEP):
		var h hash.Hash = sha256.New()
		if alg == azkeys.EncryptionAlgorithmRSAOAEP {
			h = sha1.New()
		}
		if op == "wrapKey" || op == "encrypt" {
			out, err := rsa.EncryptOAEP(h, rand.Reader, &kv.rsa.PublicKey, value, nil)
			if err != nil {
				return nil, bad
			}
			return out, nil
		}
		out, err := rsa.DecryptOAEP(h, nil, kv.rsa, value, nil)
		if err != nil {
			return nil, bad
		}
		return out, nil
	case kv.oct != nil && (op == "wrapKey" || op == "unwrapKey") && alg == azkeys.EncryptionAlgorithm("A"+strconv.Itoa(len(kv.oct)*8)+"KW"):
		var out []byte
		var err error
		if op == "wrapKey" {
			out, err = wrapKW(kv.oct, value)
		} else {
			out, err = unwrapKW(kv.oct, value)
		}
		if err != nil {
			return nil, bad
		}
		return out, nil
	}
	return nil, errorf(http.StatusBadRequest, "BadParameter", "", "Algorithm %s is not supported by a %s key.", alg, kv.kty)
}
