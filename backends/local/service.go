// Package local is keyport's embedded key service: an in-process service with AWS
// KMS semantics. A Service holds many accounts in one region and partition: keys
// with UUID key IDs and key ARNs, aliases and alias ARNs, key states (Enabled,
// Disabled, PendingDeletion), key policies, grants and grant tokens, and automatic
// and on-demand rotation of the backing key. It keeps its state in memory (New) or
// in a store (Open, OpenExisting).
//
// A store is an SQLite database (modernc.org/sqlite, pure Go, write-ahead log)
// that several processes may use at once: a command-line tool beside a
// long-running application, say. Every change is one transaction that takes the
// write lock, reads what other processes committed and then writes, so no change
// is lost; a service caches the state in memory and checks, before every call,
// that no other process has committed since (one small read of the store, which
// costs more than the cryptography: see BenchmarkEncrypt), so a key another
// process disabled, deleted, rotated or re-permissioned is never used as it was.
// A commit is durable once the call returns; a process killed at any moment
// leaves no torn state and no file of its own (SQLite rolls an unfinished
// transaction back on the next open). A key and
// its alias can be made in one transaction (CreateKeyInput.AliasName). A store
// file whose mode gives its owner no write permission is opened read-only and
// refuses every change (ErrReadOnlyStore); OpenExisting never creates a store.
//
// Each key (its backing keys, state, policy and rotation settings), alias and
// grant is a record sealed with XChaCha20-Poly1305 under a key derived from the
// root key, in a row whose id is an HMAC of the key's ARN (alias's ARN, grant's
// ID): the file names no key, alias or account in the clear, and a record moved
// to another row or edited is refused (ErrCorruptStore). Each record is sealed
// to the generation that wrote it, and a sealed digest of every row's id and
// generation is checked on every Open and refresh, so a deleted row, an added
// one, or an older sealed copy of a row put back is refused too
// (ErrCorruptStore), also under a service that has the store open. What is not
// detected is the whole file put back as an earlier copy: nothing inside a file
// can tell that it is not the newest. Stores in the format of keyport before
// issue 9 (one sealed file, replaced whole by every change) are converted on
// the first Open (see WithLegacyRootKey); stores of format keyport-local/v2
// (before the digest) are converted in place on the first writable Open, in one
// transaction; a process of the earlier code that still has the store open
// fails at its next call (its table is gone) rather than write into it.
//
// The root key is 32 random bytes in base64 or hex (ParseRootKey,
// GenerateRootKey), from WithRootKey, a file only its owner may read
// (WithRootKeyFile, ReadRootKeyFile) or KEYPORT_LOCAL_ROOT_KEY; raw text, wrong
// lengths, 32 equal bytes and printable-only keys are refused. There is no
// passphrase mode. A sealed check value in the store tells a wrong root key from
// a damaged store: it lets a guess be tested offline with one decryption, which
// against 256 random bits is no help to an attacker.
//
// A Client is one caller's view (an account and a principal). It implements
// backends.Backend and the optional capabilities ReEncrypter, DataKeyGenerator,
// KeyDescriber and CiphertextInspector, and has the AWS admin operations
// (CreateKey, ScheduleKeyDeletion, CreateAlias, PutKeyPolicy, CreateGrant,
// EnableKeyRotation, ...) with the same inputs and the same errors.
//
// Errors follow AWS per operation and key state: a cryptographic operation on a
// Disabled key is Disabled and on a key pending deletion KMSInvalidState;
// DescribeKey works in every state; EnableKey, DisableKey and CreateAlias on a key
// pending deletion are KMSInvalidState; CancelKeyDeletion leaves the key Disabled.
// A wrong encryption context is InvalidCiphertext (as AWS answers, not
// IncorrectKey); a Decrypt KeyID that is not the key that encrypted is
// IncorrectKey; a well-formed ciphertext of a key the service does not hold (never
// made, or deleted after its waiting period) is NotFound, as AWS answers for a
// deleted key. Every error is a *backends.Error with Op and KeyID.
//
// Ciphertext blobs are keyport's own format (see internal/blob), not AWS's: they
// carry the key ARN and backing-key version in a checksummed header, and AES-256-GCM
// authenticates the header and the encryption context. Each blob is sealed under a
// key of its own, derived from the backing key and a random 256-bit salt carried
// in the blob (HKDF-SHA256), as AWS KMS derives a key per request; so a backing
// key may seal any number of blobs. Blobs of the earlier format (AES-256-GCM under
// the backing key itself, random 96-bit nonces) still decrypt.
//
// Authorization: plaintext leaves the service only on kms:Decrypt (Decrypt) or
// kms:GenerateDataKey; kms:ReEncryptFrom and kms:ReEncryptTo authorize only the
// service's own ReEncrypt, where the plaintext stays inside.
//
// Deviations from AWS KMS, by design: only symmetric ENCRYPT_DECRYPT keys; IAM
// policies are not modelled, so the key policy alone authorizes (a statement naming
// an account lets every principal of that account in, as if each had an IAM policy
// allowing it); grants take effect at once (AWS is eventually consistent), a grant
// with CreateGrant may pass on any operation, and grant names are not idempotency
// keys; plaintexts of 0 bytes are accepted (AWS wants at least 1); a malformed key
// policy is backends.ErrInvalidArgument (AWS: MalformedPolicyDocumentException).
package local

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/state"
	"github.com/keyport/keyport/backends/local/internal/store"
)

// RootKeyEnv is the environment variable Open reads the root key from (32 random
// bytes in base64 or hex, see ParseRootKey) when no WithRootKey or
// WithRootKeyFile option is given.
const RootKeyEnv = "KEYPORT_LOCAL_ROOT_KEY"

// Option configures a Service.
type Option func(*config)

type config struct {
	region, partition       string
	regionSet, partitionSet bool
	clock                   func() time.Time
	rootKey                 []byte
	rootKeyFile             string
	legacyRootKey           []byte
	err                     error
}

// WithRegion sets the service's region (default us-east-1).
func WithRegion(region string) Option {
	return func(c *config) { c.region, c.regionSet = region, true }
}

// WithPartition sets the service's partition (default aws).
func WithPartition(partition string) Option {
	return func(c *config) { c.partition, c.partitionSet = partition, true }
}

// WithClock sets the clock that decides creation dates, automatic rotation and the
// end of deletion windows (default time.Now). Tests use it to move time forward.
// The service may call now from several goroutines at once.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.clock = now }
}

// WithRootKey sets the 32-byte root key that encrypts a store (Open): 32 random
// bytes (32 equal bytes or 32 printable characters are refused). The Service
// keeps its own copy.
func WithRootKey(key []byte) Option {
	return func(c *config) { c.rootKey = append([]byte(nil), key...) }
}

// WithRootKeyFile makes Open read the root key from a file (see ReadRootKeyFile:
// base64 or hex of 32 random bytes, in a file that only its owner may read).
func WithRootKeyFile(path string) Option {
	return func(c *config) { c.rootKeyFile = path }
}

// Service is an in-process key service. It is safe for concurrent use.
type Service struct {
	region, partition string
	now               func() time.Time

	// mu guards everything below. Calls that only read the state (the
	// cryptographic operations and DescribeKey) hold it for reading; calls that
	// change it, and the clock when it makes a rotation or deletion due, for
	// writing.
	mu      sync.RWMutex
	st      *state.State
	nextDue time.Time // the earliest rotation or deletion the clock can trigger
	closed  bool
	initErr error
	// db is the store of a service made by Open (nil for New). With it, st is a
	// cache of the store: every call that reads it first checks that no other
	// process has committed since (store.DB.Stale), and every change is made in a
	// write transaction that first brings st up to date. stale means st no
	// longer matches the store (a failed commit): it is reloaded first.
	db    *store.DB
	stale bool
}

// Client is one caller's view of a Service: every call is made as its Identity.
// It is safe for concurrent use.
type Client struct {
	s  *Service
	id Identity
	// idOK records that id passed the checks of enter when the client was made
	// (it never changes), so that calls need not repeat them.
	idOK bool
}

var (
	_ backends.Backend             = (*Client)(nil)
	_ backends.ReEncrypter         = (*Client)(nil)
	_ backends.DataKeyGenerator    = (*Client)(nil)
	_ backends.KeyDescriber        = (*Client)(nil)
	_ backends.CiphertextInspector = (*Client)(nil)
)

func buildConfig(opts []Option) *config {
	c := &config{region: "us-east-1", partition: "aws", clock: time.Now}
	for _, o := range opts {
		o(c)
	}
	if !validRegion(c.region) {
		c.err = fmt.Errorf("invalid region %q", c.region)
	} else if _, err := backends.ParseKeyRef(backends.KeyARN(c.partition, c.region, "111122223333", "mrk-00000000000000000000000000000000")); err != nil {
		c.err = fmt.Errorf("invalid partition %q", c.partition)
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	return c
}

func validRegion(r string) bool {
	_, err := backends.ParseKeyRef(backends.KeyARN("aws", r, "111122223333", "mrk-00000000000000000000000000000000"))
	return err == nil
}

// New returns a Service that keeps its state in memory. An invalid option makes
// every call of the service fail with an error matching backends.ErrInvalidArgument.
func New(opts ...Option) *Service {
	c := buildConfig(opts)
	s := &Service{region: c.region, partition: c.partition, now: c.clock, st: state.New()}
	clear(c.rootKey)
	clear(c.legacyRootKey)
	if c.err != nil {
		s.initErr = backends.Errorf(backends.ErrInvalidArgument, "New", "", "%v", c.err)
	}
	return s
}

// Region returns the service's region.
func (s *Service) Region() string { return s.region }

// Partition returns the service's partition.
func (s *Service) Partition() string { return s.partition }

// Client returns the view of the service of the caller id. An empty Principal is
// the account's root.
func (s *Service) Client(id Identity) *Client {
	if id.Principal == "" {
		id.Principal = "arn:" + s.partition + ":iam::" + id.Account + ":root"
	}
	c := &Client{s: s, id: id}
	c.idOK = c.checkIdentity("Client", "") == nil
	return c
}

// checkIdentity checks that the caller's account is 12 digits and its principal
// an ARN of that account.
func (c *Client) checkIdentity(op, keyID string) error {
	if !backends.IsAccountID(c.id.Account) {
		return backends.Errorf(backends.ErrInvalidArgument, op, keyID, "caller account %q is not 12 digits", c.id.Account)
	}
	if parts := strings.SplitN(c.id.Principal, ":", 6); len(parts) != 6 || parts[0] != "arn" || parts[4] != c.id.Account {
		return backends.Errorf(backends.ErrInvalidArgument, op, keyID, "caller principal %q is not an ARN of account %s", c.id.Principal, c.id.Account)
	}
	return nil
}

// Close wipes the key material the service holds in memory and closes its store;
// every later call fails.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.st.Wipe()
	if s.db != nil {
		if err := s.db.Close(); err != nil {
			return backends.Errorf(backends.ErrInternal, "Close", "", "closing the store: %w", err)
		}
	}
	return nil
}

// Identity returns the caller the client acts as.
func (c *Client) Identity() Identity { return c.id }

// enter starts a call that may change the state: it checks ctx, the identity and
// the service, locks the service for writing, starts a write transaction on the
// store (which brings the state up to date) and lets the clock act (rotations,
// deletions). On success the caller holds s.mu and must call s.leave.
func (c *Client) enter(ctx context.Context, op, keyID string) error {
	if err := c.precheck(ctx, op, keyID); err != nil {
		return err
	}
	s := c.s
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return backends.Errorf(backends.ErrInternal, op, keyID, "service is closed")
	}
	if err := s.begin(ctx, op); err != nil {
		s.mu.Unlock()
		return err
	}
	if err := s.advanceLocked(ctx, op); err != nil {
		s.leave()
		return err
	}
	return nil
}

// leave ends a call that enter started: it rolls back the store's transaction if
// the call did not commit, and unlocks the service.
func (s *Service) leave() {
	if s.db != nil && s.db.Rollback(s.st) {
		s.reload()
	}
	s.mu.Unlock()
}

// enterRead is enter for a call that only reads the state. It returns the
// function that ends the call. The state is used as it is when the store has not
// changed and the clock has nothing due (the service is then locked for
// reading); otherwise the service is locked for writing, brought up to date and
// advanced first.
func (c *Client) enterRead(ctx context.Context, op, keyID string) (unlock func(), err error) {
	if err := c.precheck(ctx, op, keyID); err != nil {
		return nil, err
	}
	s := c.s
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, backends.Errorf(backends.ErrInternal, op, keyID, "service is closed")
	}
	fresh := !s.stale
	if fresh && s.db != nil {
		stale, err := s.db.Stale(ctx)
		if err != nil {
			s.mu.RUnlock()
			return nil, s.storeErr(op, err)
		}
		fresh = !stale
	}
	if fresh && !s.due() {
		return s.mu.RUnlock, nil
	}
	s.mu.RUnlock()
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, backends.Errorf(backends.ErrInternal, op, keyID, "service is closed")
	}
	if err := s.syncLocked(ctx, op); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	return s.mu.Unlock, nil
}

// precheck checks what a call needs before it locks anything.
func (c *Client) precheck(ctx context.Context, op, keyID string) error {
	if err := backends.ContextError(ctx, op, keyID); err != nil {
		return err
	}
	if c.s.initErr != nil {
		return c.s.initErr
	}
	if !c.idOK {
		return c.checkIdentity(op, keyID)
	}
	return nil
}

// syncLocked brings the state up to date with the store and applies what the
// clock made due. The caller holds s.mu for writing.
func (s *Service) syncLocked(ctx context.Context, op string) error {
	if s.db != nil && s.due() {
		if err := s.begin(ctx, op); err != nil {
			return err
		}
		err := s.advanceLocked(ctx, op)
		if s.db.Rollback(s.st) {
			s.reload()
		}
		return err
	}
	if s.db != nil {
		if s.stale {
			if err := s.db.Reload(ctx, s.st); err != nil {
				return s.storeErr(op, err)
			}
			s.stale = false
		} else if err := s.db.Refresh(ctx, s.st); err != nil {
			return s.storeErr(op, err)
		}
		s.setNextDue()
		return nil
	}
	return s.advanceLocked(ctx, op)
}

// begin starts a write transaction on the store (if any), which brings the
// state up to date. The caller holds s.mu for writing.
func (s *Service) begin(ctx context.Context, op string) error {
	if s.db == nil {
		return nil
	}
	if s.stale {
		if err := s.db.Reload(ctx, s.st); err != nil {
			return s.storeErr(op, err)
		}
		s.stale = false
	}
	if err := s.db.Begin(ctx, s.st); err != nil {
		return s.storeErr(op, err)
	}
	s.setNextDue()
	return nil
}

// reload replaces the state with what the store holds, after a change that was
// not committed; if that fails, the next call tries again.
func (s *Service) reload() {
	if err := s.db.Reload(context.Background(), s.st); err != nil {
		s.stale = true
		return
	}
	s.stale = false
	s.setNextDue()
}

// setNextDue records when the clock next has work to do. A read-only store never
// changes: nothing is due (a key past its deletion date stays PendingDeletion).
func (s *Service) setNextDue() {
	if s.db != nil && s.db.ReadOnly() {
		s.nextDue = time.Time{}
		return
	}
	s.nextDue = s.st.NextDue()
}

// due reports whether the clock has made a rotation or deletion due. The caller
// holds s.mu (for reading at least).
func (s *Service) due() bool {
	return !s.nextDue.IsZero() && !s.now().Before(s.nextDue)
}

// advanceLocked applies what the clock has made due, and commits it to the store
// at once (then starts a new transaction). The caller holds s.mu for writing, and
// a transaction is open on the store.
func (s *Service) advanceLocked(ctx context.Context, op string) error {
	if !s.due() {
		return nil
	}
	if err := s.commit(op, func() error { s.st.Advance(s.now()); return nil }); err != nil {
		return err
	}
	return s.begin(ctx, op)
}

// commit runs fn, which changes the state and marks what it changed, and then
// commits the changes to the store (if any) in the transaction enter started. If
// the commit fails the state goes back to what the store holds and the error is
// returned. The caller holds s.mu for writing.
func (s *Service) commit(op string, fn func() error) error {
	if err := fn(); err != nil {
		return err
	}
	if s.db != nil {
		if err := s.db.Commit(s.st); err != nil {
			s.reload()
			return s.storeErr(op, err)
		}
	}
	s.setNextDue()
	return nil
}

// keyARN returns the ARN of k: the one recorded when the key was made or loaded,
// or else built from its parts.
func (s *Service) keyARN(k *state.Key) string {
	if k.ARN != "" {
		return k.ARN
	}
	return backends.KeyARN(s.partition, s.region, k.Account, k.ID)
}

// keyByARN returns the key whose ARN is exactly arn, or nil. The caller holds s.mu
// (for reading at least).
func (s *Service) keyByARN(arn []byte) *state.Key {
	i := bytes.LastIndexByte(arn, '/')
	if i < 0 {
		return nil
	}
	if k := s.st.Keys[string(arn[i+1:])]; k != nil && k.ARN != "" && k.ARN == string(arn) {
		return k
	}
	return nil
}

// resolve finds the key a reference names, as the caller id sees it: a bare key ID
// or alias name in the caller's account; a key in another account only by ARN.
// Anything it cannot find is ErrNotFound. The caller holds s.mu.
func (s *Service) resolve(id Identity, op, ref string) (*state.Key, error) {
	if ref == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "KeyId is required")
	}
	// Fast paths, with the result of the general one below: the exact ARN of a key
	// (any account), or the ID of a key of the caller's account.
	if i := strings.LastIndexByte(ref, '/'); i >= 0 {
		if k := s.st.Keys[ref[i+1:]]; k != nil && k.ARN != "" && k.ARN == ref {
			return k, nil
		}
	}
	if k := s.st.Keys[ref]; k != nil && k.Account == id.Account {
		return k, nil
	}
	r, err := backends.ParseKeyRef(ref)
	if err != nil {
		return nil, backends.Errorf(backends.ErrNotFound, op, ref, "invalid keyId %q", ref)
	}
	account := id.Account
	switch {
	case r.Form == backends.FormURI:
		return nil, backends.Errorf(backends.ErrNotFound, op, ref, "invalid keyId %q: not an AWS key reference", ref)
	case r.IsARN():
		if r.Partition != s.partition || r.Region != s.region {
			return nil, backends.Errorf(backends.ErrNotFound, op, ref, "key %s is not in this service's partition and region (%s, %s)", ref, s.partition, s.region)
		}
		account = r.Account
	}
	keyID := r.KeyID
	if r.Alias != "" {
		keyID = s.st.Aliases[account][r.Alias]
		if keyID == "" {
			return nil, backends.Errorf(backends.ErrNotFound, op, ref, "alias %s is not found", backends.AliasARN(s.partition, s.region, account, r.Alias))
		}
	}
	k := s.st.Keys[keyID]
	if k == nil || k.Account != account {
		return nil, backends.Errorf(backends.ErrNotFound, op, ref, "key '%s' does not exist", backends.KeyARN(s.partition, s.region, account, keyID))
	}
	return k, nil
}

// usable returns the error AWS gives for a cryptographic operation on k in its state.
func (s *Service) usable(op string, k *state.Key) error {
	switch k.State {
	case backends.KeyStateEnabled:
		return nil
	case backends.KeyStateDisabled:
		return backends.Errorf(backends.ErrDisabled, op, s.keyARN(k), "%s is disabled", s.keyARN(k))
	case backends.KeyStatePendingDeletion:
		return backends.Errorf(backends.ErrInvalidState, op, s.keyARN(k), "%s is pending deletion", s.keyARN(k))
	}
	return backends.Errorf(backends.ErrInvalidState, op, s.keyARN(k), "%s is %s", s.keyARN(k), k.State)
}

func (s *Service) metadata(k *state.Key) *backends.KeyMetadata {
	return &backends.KeyMetadata{
		Arn:                  s.keyARN(k),
		KeyID:                k.ID,
		AWSAccountID:         k.Account,
		Region:               s.region,
		KeyState:             k.State,
		Enabled:              k.State == backends.KeyStateEnabled,
		KeyUsage:             backends.KeyUsageEncryptDecrypt,
		KeySpec:              "SYMMETRIC_DEFAULT",
		EncryptionAlgorithms: []backends.Algorithm{backends.SymmetricDefault},
		Description:          k.Description,
		CreationDate:         k.Created,
		DeletionDate:         k.DeletionDate,
		MultiRegion:          k.MultiRegion,
		CurrentVersion:       len(k.Versions),
		MinDecryptionVersion: 1,
	}
}
