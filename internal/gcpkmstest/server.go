// Package gcpkmstest is a Cloud KMS KeyManagementService of the project's own for
// tests: a gRPC server on a loopback TCP port that the real Cloud KMS client
// (cloud.google.com/go/kms/apiv1) talks to with insecure credentials. No Cloud KMS
// emulator exists, so this server implements the documented behaviour that the
// keyport driver depends on, and nothing more:
//
//   - key rings, symmetric ENCRYPT_DECRYPT CryptoKeys and their versions, with the
//     version states (ENABLED, DISABLED, DESTROY_SCHEDULED, DESTROYED), primary
//     version rotation (CreateCryptoKeyVersion, UpdateCryptoKeyPrimaryVersion),
//     scheduled destruction and restoration, and paged listings of a key ring's
//     CryptoKeys and of a key's versions;
//   - Encrypt and Decrypt with AES-256-GCM under the version's key, binding
//     additional_authenticated_data, the plaintext limits of the SOFTWARE (64 KiB)
//     and HSM (8 KiB, plaintext and AAD together) protection levels, and the
//     CRC32C integrity fields on requests (checked) and responses (set, with the
//     verified_* flags);
//   - IAM-style permission checks per CryptoKey for principals named by a bearer
//     token, answered PERMISSION_DENIED as Cloud KMS answers them;
//   - faults injected on demand (a status code, a corrupted response, a missing
//     verified_* flag), to test a client's error handling.
//
// Its ciphertext format is its own (real Cloud KMS ciphertexts are opaque too):
// the version number, a nonce and the AES-GCM output, authenticated together with
// the CryptoKey's name, so that a ciphertext of another key fails as a damaged one
// does. It lives in the module's internal tree, not under backends/gcpkms, so that
// tests outside the driver (the cross-provider chain, the command's tests,
// benchmarks) can start it too; it is test infrastructure, not a product.
package gcpkmstest

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/keyport/keyport/internal/faults"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Permissions the server checks, named as Cloud KMS IAM names them.
const (
	PermEncrypt = "cloudkms.cryptoKeyVersions.useToEncrypt"
	PermDecrypt = "cloudkms.cryptoKeyVersions.useToDecrypt"
	PermGet     = "cloudkms.cryptoKeys.get"
	PermAdmin   = "cloudkms.admin" // stands for every key-management permission
)

// Limits of Cloud KMS Encrypt, by protection level.
const (
	MaxSoftwarePlaintext = 64 << 10 // plaintext, and AAD, of a SOFTWARE key
	MaxHSMPayload        = 8 << 10  // plaintext and AAD together, of an HSM key
)

// DefaultDestroyScheduledDuration is how long a version stays DESTROY_SCHEDULED
// when its CryptoKey sets no destroy_scheduled_duration (Cloud KMS's default).
const DefaultDestroyScheduledDuration = 30 * 24 * time.Hour

const (
	versionLen = 4
	nonceLen   = 12
	tagLen     = 16
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// CRC32C returns the CRC32C checksum of b as Cloud KMS's int64 wrapper.
func CRC32C(b []byte) *wrapperspb.Int64Value {
	return wrapperspb.Int64(int64(crc32.Checksum(b, castagnoli)))
}

// Fault is a failure the server answers instead of, or on top of, the next Times
// calls of Method.
type Fault struct {
	// Method is the RPC's short name ("Encrypt", "Decrypt", "GetCryptoKey"); empty
	// means every method.
	Method string
	// Code, when not OK, is the status the call fails with, with Message.
	Code    codes.Code
	Message string
	// CorruptResponse flips a bit of the response's ciphertext (Encrypt) or
	// plaintext (Decrypt) after its CRC32C was computed, as a damaged transfer would.
	CorruptResponse bool
	// Unverified answers verified_plaintext_crc32c and
	// verified_additional_authenticated_data_crc32c false (Encrypt), as when the
	// checksums were lost on the way.
	Unverified bool
	// Times is how many calls the fault hits; 0 means 1.
	Times int
}

// Server is an in-process Cloud KMS KeyManagementService on a loopback port. It is
// safe for concurrent use.
type Server struct {
	kmspb.UnimplementedKeyManagementServiceServer

	lis  net.Listener
	grpc *grpc.Server

	mu         sync.Mutex
	keyRings   map[string]time.Time
	keys       map[string]*cryptoKey
	principals map[string]string              // bearer token -> principal
	policies   map[string]map[string][]string // CryptoKey name -> principal -> permissions
	faults     faults.Queue[Fault]
}

type cryptoKey struct {
	name     string
	created  time.Time
	level    kmspb.ProtectionLevel
	primary  int // 1-based; 0 when none
	rotation time.Duration
	next     time.Time
	destroy  time.Duration
	labels   map[string]string
	versions []*version // versions[i] is version i+1
}

type version struct {
	state       kmspb.CryptoKeyVersion_CryptoKeyVersionState
	created     time.Time
	destroyTime time.Time
	destroyed   time.Time
	aead        cipher.AEAD
}

// New starts a Server on a free loopback port.
func New() (*Server, error) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &Server{
		lis:        lis,
		grpc:       grpc.NewServer(),
		keyRings:   map[string]time.Time{},
		keys:       map[string]*cryptoKey{},
		principals: map[string]string{},
		policies:   map[string]map[string][]string{},
	}
	kmspb.RegisterKeyManagementServiceServer(s.grpc, s)
	go func() { _ = s.grpc.Serve(lis) }()
	return s, nil
}

// Start starts a Server for tb and stops it when tb's test ends.
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := New()
	if err != nil {
		tb.Fatalf("gcpkmstest: %v", err)
	}
	tb.Cleanup(s.Close)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.grpc.Stop() }

// Addr returns the server's host:port.
func (s *Server) Addr() string { return s.lis.Addr().String() }

// ClientOptions returns the options that point a Cloud KMS client at the server:
// its endpoint, plain gRPC without TLS, no Google credentials, and when token is
// not empty, that bearer token on every call (so the server knows the principal).
func (s *Server) ClientOptions(token string) []option.ClientOption {
	opts := []option.ClientOption{
		option.WithEndpoint(s.Addr()),
		option.WithoutAuthentication(),
		option.WithGRPCDialOption(grpc.WithTransportCredentials(insecure.NewCredentials())),
	}
	if token != "" {
		opts = append(opts, option.WithGRPCDialOption(grpc.WithPerRPCCredentials(bearer(token))))
	}
	return opts
}

// bearer is a per-RPC credential that sends a fixed bearer token over plain gRPC.
type bearer string

func (b bearer) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + string(b)}, nil
}

func (bearer) RequireTransportSecurity() bool { return false }

// AddPrincipal makes calls that carry token act as principal ("user:app@example.com").
func (s *Server) AddPrincipal(token, principal string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.principals[token] = principal
}

// SetIAMPolicy restricts the CryptoKey key to the given principals and their
// permissions (PermEncrypt, PermDecrypt, PermGet, PermAdmin). A key without a
// policy lets every caller do everything; a nil policy removes the restriction.
func (s *Server) SetIAMPolicy(key string, policy map[string][]string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if policy == nil {
		delete(s.policies, key)
		return
	}
	s.policies[key] = policy
}

// InjectFault queues f; faults are matched in the order they were queued.
func (s *Server) InjectFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults.Add(f.Method, f.Times, f)
}

// Calls returns how many calls of method the server has answered (faults included).
func (s *Server) Calls(method string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults.Calls(method)
}

// Destroy destroys a version at once (DESTROYED, its key material gone), as
// Cloud KMS does when the scheduled destruction comes due.
func (s *Server) Destroy(versionName string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, v, _, err := s.versionLocked(versionName)
	if err != nil {
		return err
	}
	v.state, v.aead, v.destroyed = kmspb.CryptoKeyVersion_DESTROYED, nil, time.Now()
	return nil
}

// begin counts a call of method, applies a queued status fault, and returns the
// caller's principal and the fault (nil when none applies).
func (s *Server) begin(ctx context.Context, method string) (principal string, f *Fault, err error) {
	if q, ok := s.faults.Next(method); ok {
		f = &q
	}
	if f != nil && f.Code != codes.OK {
		return "", nil, status.Error(f.Code, f.Message)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for _, a := range md.Get("authorization") {
		if tok, ok := strings.CutPrefix(a, "Bearer "); ok {
			p, known := s.principals[tok]
			if !known {
				return "", nil, status.Error(codes.Unauthenticated, "Request had invalid authentication credentials.")
			}
			return p, f, nil
		}
	}
	return "", f, nil
}

// allowed checks principal's permission on the CryptoKey key.
func (s *Server) allowed(principal, key, perm string) error {
	pol, ok := s.policies[key]
	if !ok {
		return nil
	}
	for _, p := range pol[principal] {
		if p == perm || p == PermAdmin {
			return nil
		}
	}
	return status.Errorf(codes.PermissionDenied, "Permission '%s' denied on resource '%s' (or it may not exist).", perm, key)
}

// names

func splitName(name string) (parts []string, ok bool) {
	parts = strings.Split(name, "/")
	if len(parts) < 6 || parts[0] != "projects" || parts[2] != "locations" || parts[4] != "keyRings" {
		return nil, false
	}
	for _, p := range parts {
		if p == "" {
			return nil, false
		}
	}
	return parts, true
}

func keyRingOf(name string) (string, bool) {
	p, ok := splitName(name)
	if !ok || len(p) != 6 {
		return "", false
	}
	return name, true
}

// cryptoKeyName splits a CryptoKey or CryptoKeyVersion name.
func cryptoKeyName(name string) (key string, ver int, ok bool) {
	p, ok := splitName(name)
	if !ok || len(p) < 8 || p[6] != "cryptoKeys" {
		return "", 0, false
	}
	key = strings.Join(p[:8], "/")
	switch len(p) {
	case 8:
		return key, 0, true
	case 10:
		if p[8] != "cryptoKeyVersions" {
			return "", 0, false
		}
		n, err := strconv.Atoi(p[9])
		if err != nil || n < 1 {
			return "", 0, false
		}
		return key, n, true
	}
	return "", 0, false
}

func (s *Server) keyLocked(name string) (*cryptoKey, error) {
	k, ok := s.keys[name]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "CryptoKey %s not found.", name)
	}
	return k, nil
}

// versionLocked finds the CryptoKeyVersion name: its key, itself and its number.
func (s *Server) versionLocked(name string) (*cryptoKey, *version, int, error) {
	key, n, ok := cryptoKeyName(name)
	if !ok || n == 0 {
		return nil, nil, 0, status.Errorf(codes.InvalidArgument, "Invalid CryptoKeyVersion name %q.", name)
	}
	k, err := s.keyLocked(key)
	if err != nil {
		return nil, nil, 0, err
	}
	if n > len(k.versions) {
		return nil, nil, 0, status.Errorf(codes.NotFound, "CryptoKeyVersion %s not found.", name)
	}
	return k, k.versions[n-1], n, nil
}

// keyFor begins a call of method on the CryptoKey name, which the caller needs
// the permission perm on, and returns the key. It runs with s.mu held.
func (s *Server) keyFor(ctx context.Context, method, name, perm string) (*cryptoKey, error) {
	p, _, err := s.begin(ctx, method)
	if err != nil {
		return nil, err
	}
	if _, n, ok := cryptoKeyName(name); !ok || n != 0 {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid CryptoKey name %q.", name)
	}
	k, err := s.keyLocked(name)
	if err != nil {
		return nil, err
	}
	if err := s.allowed(p, k.name, perm); err != nil {
		return nil, err
	}
	return k, nil
}

// versionFor begins a call of method on the CryptoKeyVersion name, which the
// caller needs the permission perm on, and returns its key, itself and its
// number. It runs with s.mu held.
func (s *Server) versionFor(ctx context.Context, method, name, perm string) (*cryptoKey, *version, int, error) {
	p, _, err := s.begin(ctx, method)
	if err != nil {
		return nil, nil, 0, err
	}
	k, v, n, err := s.versionLocked(name)
	if err != nil {
		return nil, nil, 0, err
	}
	if err := s.allowed(p, k.name, perm); err != nil {
		return nil, nil, 0, err
	}
	return k, v, n, nil
}

func versionName(key string, n int) string { return key + "/cryptoKeyVersions/" + strconv.Itoa(n) }

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func (k *cryptoKey) versionProto(n int) *kmspb.CryptoKeyVersion {
	v := k.versions[n-1]
	return &kmspb.CryptoKeyVersion{
		Name:             versionName(k.name, n),
		State:            v.state,
		ProtectionLevel:  k.level,
		Algorithm:        kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
		CreateTime:       ts(v.created),
		GenerateTime:     ts(v.created),
		DestroyTime:      ts(v.destroyTime),
		DestroyEventTime: ts(v.destroyed),
	}
}

func (k *cryptoKey) proto() *kmspb.CryptoKey {
	ck := &kmspb.CryptoKey{
		Name:       k.name,
		Purpose:    kmspb.CryptoKey_ENCRYPT_DECRYPT,
		CreateTime: ts(k.created),
		VersionTemplate: &kmspb.CryptoKeyVersionTemplate{
			ProtectionLevel: k.level,
			Algorithm:       kmspb.CryptoKeyVersion_GOOGLE_SYMMETRIC_ENCRYPTION,
		},
		Labels:                   k.labels,
		DestroyScheduledDuration: durationpb.New(k.destroy),
		NextRotationTime:         ts(k.next),
	}
	if k.rotation > 0 {
		ck.RotationSchedule = &kmspb.CryptoKey_RotationPeriod{RotationPeriod: durationpb.New(k.rotation)}
	}
	if k.primary > 0 {
		ck.Primary = k.versionProto(k.primary)
	}
	return ck
}

func newVersion() (*version, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(raw)
	clear(raw)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &version{state: kmspb.CryptoKeyVersion_ENABLED, created: time.Now(), aead: aead}, nil
}

// Key management.

// CreateKeyRing creates a key ring.
func (s *Server) CreateKeyRing(ctx context.Context, req *kmspb.CreateKeyRingRequest) (*kmspb.KeyRing, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, err := s.begin(ctx, "CreateKeyRing"); err != nil {
		return nil, err
	}
	name := req.GetParent() + "/keyRings/" + req.GetKeyRingId()
	if _, ok := keyRingOf(name); !ok || !validID(req.GetKeyRingId()) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid key ring name %q.", name)
	}
	if _, dup := s.keyRings[name]; dup {
		return nil, status.Errorf(codes.AlreadyExists, "KeyRing %s already exists.", name)
	}
	now := time.Now()
	s.keyRings[name] = now
	return &kmspb.KeyRing{Name: name, CreateTime: timestamppb.New(now)}, nil
}

func validID(id string) bool {
	if id == "" || len(id) > 63 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// CreateCryptoKey creates a symmetric ENCRYPT_DECRYPT key and, unless told not to,
// its first version as primary.
func (s *Server) CreateCryptoKey(ctx context.Context, req *kmspb.CreateCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, _, err := s.begin(ctx, "CreateCryptoKey"); err != nil {
		return nil, err
	}
	if _, ok := s.keyRings[req.GetParent()]; !ok {
		return nil, status.Errorf(codes.NotFound, "KeyRing %s not found.", req.GetParent())
	}
	if !validID(req.GetCryptoKeyId()) {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid CryptoKey id %q.", req.GetCryptoKeyId())
	}
	ck := req.GetCryptoKey()
	if ck.GetPurpose() != kmspb.CryptoKey_ENCRYPT_DECRYPT {
		return nil, status.Errorf(codes.InvalidArgument, "this test server makes only ENCRYPT_DECRYPT keys, not %s", ck.GetPurpose())
	}
	name := req.GetParent() + "/cryptoKeys/" + req.GetCryptoKeyId()
	if _, dup := s.keys[name]; dup {
		return nil, status.Errorf(codes.AlreadyExists, "CryptoKey %s already exists.", name)
	}
	k := &cryptoKey{name: name, created: time.Now(), level: kmspb.ProtectionLevel_SOFTWARE, destroy: DefaultDestroyScheduledDuration, labels: ck.GetLabels()}
	if l := ck.GetVersionTemplate().GetProtectionLevel(); l != kmspb.ProtectionLevel_PROTECTION_LEVEL_UNSPECIFIED {
		if l != kmspb.ProtectionLevel_SOFTWARE && l != kmspb.ProtectionLevel_HSM {
			return nil, status.Errorf(codes.InvalidArgument, "this test server has no protection level %s", l)
		}
		k.level = l
	}
	if d := ck.GetDestroyScheduledDuration(); d != nil {
		k.destroy = d.AsDuration()
	}
	if r := ck.GetRotationPeriod(); r != nil {
		k.rotation = r.AsDuration()
	}
	if n := ck.GetNextRotationTime(); n != nil {
		k.next = n.AsTime()
	}
	if !req.GetSkipInitialVersionCreation() {
		v, err := newVersion()
		if err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
		k.versions, k.primary = []*version{v}, 1
	}
	s.keys[name] = k
	return k.proto(), nil
}

// CreateCryptoKeyVersion adds a version; like Cloud KMS it does not make it primary.
func (s *Server) CreateCryptoKeyVersion(ctx context.Context, req *kmspb.CreateCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.keyFor(ctx, "CreateCryptoKeyVersion", req.GetParent(), PermAdmin)
	if err != nil {
		return nil, err
	}
	v, err := newVersion()
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	k.versions = append(k.versions, v)
	if k.primary == 0 {
		k.primary = len(k.versions)
	}
	return k.versionProto(len(k.versions)), nil
}

// UpdateCryptoKeyPrimaryVersion makes an ENABLED version primary.
func (s *Server) UpdateCryptoKeyPrimaryVersion(ctx context.Context, req *kmspb.UpdateCryptoKeyPrimaryVersionRequest) (*kmspb.CryptoKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.keyFor(ctx, "UpdateCryptoKeyPrimaryVersion", req.GetName(), PermAdmin)
	if err != nil {
		return nil, err
	}
	n, err := strconv.Atoi(req.GetCryptoKeyVersionId())
	if err != nil || n < 1 || n > len(k.versions) {
		return nil, status.Errorf(codes.NotFound, "CryptoKeyVersion %s not found.", versionName(k.name, n))
	}
	if st := k.versions[n-1].state; st != kmspb.CryptoKeyVersion_ENABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is not enabled, current state is: %s.", versionName(k.name, n), st)
	}
	k.primary = n
	return k.proto(), nil
}

// UpdateCryptoKeyVersion changes a version's state between ENABLED and DISABLED
// (update_mask "state").
func (s *Server) UpdateCryptoKeyVersion(ctx context.Context, req *kmspb.UpdateCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	name := req.GetCryptoKeyVersion().GetName()
	k, v, n, err := s.versionFor(ctx, "UpdateCryptoKeyVersion", name, PermAdmin)
	if err != nil {
		return nil, err
	}
	paths := req.GetUpdateMask().GetPaths()
	if len(paths) != 1 || paths[0] != "state" {
		return nil, status.Errorf(codes.InvalidArgument, "this test server updates only the state (update_mask %v)", paths)
	}
	want := req.GetCryptoKeyVersion().GetState()
	if want != kmspb.CryptoKeyVersion_ENABLED && want != kmspb.CryptoKeyVersion_DISABLED {
		return nil, status.Errorf(codes.InvalidArgument, "state may only be set to ENABLED or DISABLED, not %s", want)
	}
	if v.state != kmspb.CryptoKeyVersion_ENABLED && v.state != kmspb.CryptoKeyVersion_DISABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is in state %s and cannot be updated.", name, v.state)
	}
	v.state = want
	return k.versionProto(n), nil
}

// DestroyCryptoKeyVersion schedules a version for destruction.
func (s *Server) DestroyCryptoKeyVersion(ctx context.Context, req *kmspb.DestroyCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, v, n, err := s.versionFor(ctx, "DestroyCryptoKeyVersion", req.GetName(), PermAdmin)
	if err != nil {
		return nil, err
	}
	if v.state != kmspb.CryptoKeyVersion_ENABLED && v.state != kmspb.CryptoKeyVersion_DISABLED {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is in state %s and cannot be destroyed.", req.GetName(), v.state)
	}
	v.state, v.destroyTime = kmspb.CryptoKeyVersion_DESTROY_SCHEDULED, time.Now().Add(k.destroy)
	return k.versionProto(n), nil
}

// RestoreCryptoKeyVersion takes a version scheduled for destruction back to DISABLED.
func (s *Server) RestoreCryptoKeyVersion(ctx context.Context, req *kmspb.RestoreCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, v, n, err := s.versionFor(ctx, "RestoreCryptoKeyVersion", req.GetName(), PermAdmin)
	if err != nil {
		return nil, err
	}
	if v.state != kmspb.CryptoKeyVersion_DESTROY_SCHEDULED {
		return nil, status.Errorf(codes.FailedPrecondition, "%s is not scheduled for destruction.", req.GetName())
	}
	v.state, v.destroyTime = kmspb.CryptoKeyVersion_DISABLED, time.Time{}
	return k.versionProto(n), nil
}

// GetCryptoKey returns a CryptoKey with its primary version.
func (s *Server) GetCryptoKey(ctx context.Context, req *kmspb.GetCryptoKeyRequest) (*kmspb.CryptoKey, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, err := s.keyFor(ctx, "GetCryptoKey", req.GetName(), PermGet)
	if err != nil {
		return nil, err
	}
	return k.proto(), nil
}

// GetCryptoKeyVersion returns one version.
func (s *Server) GetCryptoKeyVersion(ctx context.Context, req *kmspb.GetCryptoKeyVersionRequest) (*kmspb.CryptoKeyVersion, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, _, n, err := s.versionFor(ctx, "GetCryptoKeyVersion", req.GetName(), PermGet)
	if err != nil {
		return nil, err
	}
	return k.versionProto(n), nil
}

// Cryptography.

func checkCRC(field string, data []byte, sum *wrapperspb.Int64Value) error {
	if sum == nil {
		return nil
	}
	if sum.GetValue() != int64(crc32.Checksum(data, castagnoli)) {
		return status.Errorf(codes.InvalidArgument, "The checksum in field %s_crc32c did not match the data in field %s.", field, field)
	}
	return nil
}

func notEnabled(name string, st kmspb.CryptoKeyVersion_CryptoKeyVersionState) error {
	return status.Errorf(codes.FailedPrecondition, "%s is not enabled, current state is: %s.", name, st)
}

// gcmAAD is what the AES-GCM seal authenticates besides the caller's AAD: the
// CryptoKey's name and the version number, so a ciphertext opens only under the
// key and version that made it.
func gcmAAD(key string, header, aad []byte) []byte {
	b := make([]byte, 0, 4+len(key)+len(header)+len(aad))
	b = binary.BigEndian.AppendUint32(b, uint32(len(key)))
	b = append(b, key...)
	b = append(b, header...)
	return append(b, aad...)
}

// Encrypt encrypts with the named version, or the CryptoKey's primary version.
func (s *Server) Encrypt(ctx context.Context, req *kmspb.EncryptRequest) (*kmspb.EncryptResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, f, err := s.begin(ctx, "Encrypt")
	if err != nil {
		return nil, err
	}
	key, n, ok := cryptoKeyName(req.GetName())
	if !ok {
		return nil, status.Errorf(codes.InvalidArgument, "Invalid resource name %q.", req.GetName())
	}
	k, err := s.keyLocked(key)
	if err != nil {
		return nil, err
	}
	if err := s.allowed(p, k.name, PermEncrypt); err != nil {
		return nil, err
	}
	pt, aad := req.GetPlaintext(), req.GetAdditionalAuthenticatedData()
	switch {
	case len(pt) == 0:
		return nil, status.Error(codes.InvalidArgument, "The plaintext field must not be empty.")
	case k.level == kmspb.ProtectionLevel_HSM && len(pt)+len(aad) > MaxHSMPayload:
		return nil, status.Errorf(codes.InvalidArgument, "The plaintext and additional_authenticated_data fields of an HSM key must be at most %d bytes together.", MaxHSMPayload)
	case len(pt) > MaxSoftwarePlaintext:
		return nil, status.Errorf(codes.InvalidArgument, "The plaintext field must be at most %d bytes.", MaxSoftwarePlaintext)
	case len(aad) > MaxSoftwarePlaintext:
		return nil, status.Errorf(codes.InvalidArgument, "The additional_authenticated_data field must be at most %d bytes.", MaxSoftwarePlaintext)
	}
	if err := checkCRC("plaintext", pt, req.GetPlaintextCrc32C()); err != nil {
		return nil, err
	}
	if err := checkCRC("additional_authenticated_data", aad, req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	if n == 0 {
		if k.primary == 0 {
			return nil, status.Errorf(codes.FailedPrecondition, "%s has no primary version.", k.name)
		}
		n = k.primary
	}
	if n > len(k.versions) {
		return nil, status.Errorf(codes.NotFound, "CryptoKeyVersion %s not found.", versionName(k.name, n))
	}
	v := k.versions[n-1]
	if v.state != kmspb.CryptoKeyVersion_ENABLED {
		return nil, notEnabled(versionName(k.name, n), v.state)
	}
	header := binary.BigEndian.AppendUint32(nil, uint32(n))
	nonce := make([]byte, nonceLen)
	if _, err := rand.Read(nonce); err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	ct := append(header, nonce...)
	ct = v.aead.Seal(ct, nonce, pt, gcmAAD(k.name, header, aad))
	resp := &kmspb.EncryptResponse{
		Name:                    versionName(k.name, n),
		Ciphertext:              ct,
		CiphertextCrc32C:        CRC32C(ct),
		VerifiedPlaintextCrc32C: req.GetPlaintextCrc32C() != nil,
		VerifiedAdditionalAuthenticatedDataCrc32C: req.GetAdditionalAuthenticatedDataCrc32C() != nil,
		ProtectionLevel: k.level,
	}
	if f != nil && f.CorruptResponse {
		resp.Ciphertext[len(resp.Ciphertext)-1] ^= 0x01
	}
	if f != nil && f.Unverified {
		resp.VerifiedPlaintextCrc32C, resp.VerifiedAdditionalAuthenticatedDataCrc32C = false, false
	}
	return resp, nil
}

var errInvalidCiphertext = status.Error(codes.InvalidArgument, "Decryption failed: the ciphertext is invalid.")

// Decrypt decrypts with the version that made the ciphertext.
func (s *Server) Decrypt(ctx context.Context, req *kmspb.DecryptRequest) (*kmspb.DecryptResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, f, err := s.begin(ctx, "Decrypt")
	if err != nil {
		return nil, err
	}
	key, n, ok := cryptoKeyName(req.GetName())
	if !ok || n != 0 {
		return nil, status.Errorf(codes.InvalidArgument, "Decrypt takes a CryptoKey name, not %q.", req.GetName())
	}
	k, err := s.keyLocked(key)
	if err != nil {
		return nil, err
	}
	if err := s.allowed(p, k.name, PermDecrypt); err != nil {
		return nil, err
	}
	ct, aad := req.GetCiphertext(), req.GetAdditionalAuthenticatedData()
	if len(ct) == 0 {
		return nil, status.Error(codes.InvalidArgument, "The ciphertext field must not be empty.")
	}
	if err := checkCRC("ciphertext", ct, req.GetCiphertextCrc32C()); err != nil {
		return nil, err
	}
	if err := checkCRC("additional_authenticated_data", aad, req.GetAdditionalAuthenticatedDataCrc32C()); err != nil {
		return nil, err
	}
	if len(ct) < versionLen+nonceLen+tagLen {
		return nil, errInvalidCiphertext
	}
	vn := int(binary.BigEndian.Uint32(ct))
	if vn < 1 || vn > len(k.versions) {
		return nil, errInvalidCiphertext
	}
	v := k.versions[vn-1]
	if v.state != kmspb.CryptoKeyVersion_ENABLED {
		return nil, notEnabled(versionName(k.name, vn), v.state)
	}
	pt, err := v.aead.Open(nil, ct[versionLen:versionLen+nonceLen], ct[versionLen+nonceLen:], gcmAAD(k.name, ct[:versionLen], aad))
	if err != nil {
		return nil, errInvalidCiphertext
	}
	resp := &kmspb.DecryptResponse{
		Plaintext:       pt,
		PlaintextCrc32C: CRC32C(pt),
		UsedPrimary:     vn == k.primary,
		ProtectionLevel: k.level,
	}
	if f != nil && f.CorruptResponse && len(pt) > 0 {
		resp.Plaintext[0] ^= 0x01
	}
	return resp, nil
}

// String describes the server for logs.
func (s *Server) String() string { return fmt.Sprintf("gcpkmstest.Server(%s)", s.Addr()) }
