package gocloud

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/url"
	"strings"
	"sync"

	"github.com/keyport/keyport/backends"
	"gocloud.dev/secrets"
)

// Options configure a Backend.
type Options struct {
	// URLMux opens the keeper URLs a KeyID names (awskms://, gcpkms://,
	// azurekeyvault://, hashivault://, base64key://, ...): the schemes of the
	// gocloud drivers it has registered. Nil means secrets.DefaultURLMux(), where
	// each gocloud driver package registers its scheme when it is imported.
	URLMux *secrets.URLMux
	// BindContext binds a non-empty encryption context, which a Keeper cannot
	// take, inside the plaintext: the keeper encrypts a version byte, the SHA-256
	// of backends.EncodeEncryptionContext(ctx) and the plaintext, and Decrypt
	// checks the digest against the context it is given, so a wrong, missing or
	// extra context fails as backends.ErrInvalidCiphertext. It costs 33 bytes of
	// plaintext, and every blob, with a context or not, is then in this framing:
	// turning the option on or off makes earlier blobs unreadable. Without it a
	// non-empty context is refused as backends.ErrUnsupported.
	BindContext bool
}

// Backend is a keyport backend over gocloud.dev/secrets keepers. A key is named
// by the keeper URL that opens it, or by the ID a keeper was added under with Add.
// It is safe for concurrent use.
type Backend struct {
	opts Options

	mu      sync.Mutex
	keepers map[string]*keeperEntry // by canonical ID
	closed  bool
}

type keeperEntry struct {
	k     *secrets.Keeper
	owned bool // opened by the backend from a URL: Close closes it
}

var (
	_ backends.Backend   = (*Backend)(nil)
	_ backends.URLOpener = (*Backend)(nil)
)

// New returns a Backend with the given options.
func New(opts Options) *Backend {
	if opts.URLMux == nil {
		opts.URLMux = secrets.DefaultURLMux()
	}
	return &Backend{opts: opts, keepers: make(map[string]*keeperEntry)}
}

// Add serves k under keyID, a URI of the caller's choosing (for example
// gocloud://orders): the canonical ID of its outputs. The caller keeps
// ownership of k.
func (b *Backend) Add(keyID string, k *secrets.Keeper) error {
	if k == nil {
		return backends.Errorf(backends.ErrInvalidArgument, "AddKeeper", CanonicalID(keyID), "nil keeper")
	}
	if _, err := backends.ParseKeyRef(keyID); err != nil || !strings.Contains(keyID, "://") {
		return backends.Errorf(backends.ErrInvalidArgument, "AddKeeper", CanonicalID(keyID), "the key ID must be a URI (scheme://...)")
	}
	id := CanonicalID(keyID)
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, dup := b.keepers[id]; dup {
		return backends.Errorf(backends.ErrAlreadyExists, "AddKeeper", id, "a keeper is already served under this ID")
	}
	b.keepers[id] = &keeperEntry{k: k}
	return nil
}

// Register makes b the owner, in f, of the given keeper URL schemes, or of every
// scheme of its URLMux when none is given (with the default mux: those of the
// gocloud drivers the program imports). A scheme that f already gives to a
// native driver (awskms, hashivault, gcpkms with keyport's own drivers
// registered) is an error: name the schemes to register.
func (b *Backend) Register(f *backends.Front, schemes ...string) error {
	if len(schemes) == 0 {
		schemes = b.opts.URLMux.KeeperSchemes()
	}
	for _, s := range schemes {
		if err := f.Register(s, b); err != nil {
			return err
		}
	}
	return nil
}

// Close closes the keepers the backend opened from URLs (not those given to Add).
func (b *Backend) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	var errs []error
	for id, e := range b.keepers {
		if e.owned {
			if err := e.k.Close(); err != nil {
				errs = append(errs, err)
			}
			delete(b.keepers, id)
		}
	}
	return errors.Join(errs...)
}

// OpenBackendURL returns b for a URL it serves: a keeper added under it, or a
// URL of a scheme its URLMux opens. It opens nothing yet: the keeper is opened
// on first use.
func (b *Backend) OpenBackendURL(_ context.Context, u *url.URL) (backends.Backend, error) {
	id := CanonicalID(u.String())
	b.mu.Lock()
	_, held := b.keepers[id]
	b.mu.Unlock()
	if held || b.opts.URLMux.ValidKeeperScheme(strings.ToLower(u.Scheme)) {
		return b, nil
	}
	return nil, backends.Errorf(backends.ErrNotFound, "OpenBackendURL", id, "no keeper is served under this ID and no gocloud driver is registered for its scheme")
}

// CanonicalID returns the ID under which a Backend names the key keyURL opens:
// keyURL as [backends.RedactKeyRef] shows it, that is keyURL itself except for
//
//   - a URL that holds its key material (base64key://), which is named
//     base64key://sha256-<first 16 bytes of the SHA-256 of keyURL, in hex>, so
//     that the key never appears in outputs, message headers or errors;
//   - an awskms:///<ARN> URL with no query but a region that is the ARN's own,
//     which is named by the ARN, as AWS KMS and [backends.Front] name it.
func CanonicalID(keyURL string) string {
	if arn, ok := awsARN(keyURL); ok {
		return arn.Raw
	}
	return backends.RedactKeyRef(keyURL)
}

// awsARN returns, parsed, the AWS KMS key or alias ARN that keyRef is, or that
// an awskms:///<ARN> URL holds with nothing in its query but the ARN's region:
// the references that open the same keeper as the bare ARN.
func awsARN(keyRef string) (backends.KeyRef, bool) {
	if r, err := backends.ParseKeyRef(keyRef); err == nil && r.IsARN() {
		return r, true
	}
	u, err := url.Parse(keyRef)
	if err != nil || !strings.EqualFold(u.Scheme, awsScheme) || u.Host != "" || u.User != nil || u.Fragment != "" {
		return backends.KeyRef{}, false
	}
	r, err := backends.ParseKeyRef(strings.TrimPrefix(u.Path, "/"))
	if err != nil || !r.IsARN() {
		return backends.KeyRef{}, false
	}
	q := u.Query()
	if region := q.Get("region"); len(q) > 1 || (len(q) == 1 && region != r.Region) || len(q["region"]) > 1 {
		return backends.KeyRef{}, false
	}
	return r, true
}

// isAWS reports whether the key of canonical ID id is an AWS KMS key.
func isAWS(id string) bool {
	scheme, _, _ := strings.Cut(id, "://")
	_, arn := awsARN(id)
	return arn || strings.EqualFold(scheme, awsScheme)
}

// awsScheme is the scheme of gocloud's awskms driver, which opens keys named
// by ARN.
const awsScheme = "awskms"

// keeper returns the keeper keyID names and its canonical ID, opening and
// keeping it when keyID is a URL of a scheme the mux knows. The mux opens
// outside the lock (a driver may read credentials or dial); of two callers that
// open the same URL at once, one keeper is kept and the other closed.
func (b *Backend) keeper(ctx context.Context, op, keyID string) (*secrets.Keeper, string, error) {
	id := CanonicalID(keyID)
	b.mu.Lock()
	closed, e := b.closed, b.keepers[id]
	b.mu.Unlock()
	switch {
	case closed:
		return nil, id, backends.Errorf(backends.ErrInvalidState, op, id, "the backend is closed")
	case e != nil:
		return e.k, id, nil
	}
	if arn, ok := awsARN(keyID); ok {
		// The awskms driver takes the key's region from its URL: the ARN's.
		keyID = awsScheme + ":///" + arn.Raw + "?region=" + url.QueryEscape(arn.Region)
	}
	scheme, rest, ok := strings.Cut(keyID, "://")
	if !ok || !b.opts.URLMux.ValidKeeperScheme(strings.ToLower(scheme)) {
		return nil, id, backends.Errorf(backends.ErrNotFound, op, id, "no keeper is served under this ID and no gocloud driver is registered for its scheme")
	}
	if id != keyID && (rest == "" || strings.HasPrefix(rest, "sha256-")) {
		// base64key:// alone makes a random key no later process can use, and a
		// sha256- ID is only known once its URL was opened.
		return nil, id, backends.Errorf(backends.ErrNotFound, op, id, "no keeper is served under this ID: open it by its full URL first")
	}
	u, err := url.Parse(keyID)
	if err != nil {
		return nil, id, backends.Errorf(backends.ErrNotFound, op, id, "not a keeper URL")
	}
	k, err := b.opts.URLMux.OpenKeeperURL(ctx, u)
	if err != nil {
		if backends.RedactKeyRef(keyID) != keyID {
			// The driver's message may quote the URL, which holds the key.
			err = errors.New("the driver refused the URL")
		}
		return nil, id, backends.Errorf(backends.ErrNotFound, op, id, "open the keeper: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		_ = k.Close()
		return nil, id, backends.Errorf(backends.ErrInvalidState, op, id, "the backend is closed")
	}
	if e := b.keepers[id]; e != nil {
		_ = k.Close()
		return e.k, id, nil
	}
	b.keepers[id] = &keeperEntry{k: k, owned: true}
	return k, id, nil
}

// Encrypt encrypts with the keeper in.KeyID names.
func (b *Backend) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	const op = "Encrypt"
	k, id, err := b.keeper(ctx, op, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := b.checkRequest(op, id, in.EncryptionContext, in.EncryptionAlgorithm, in.GrantTokens); err != nil {
		return nil, err
	}
	pt := in.Plaintext
	if b.opts.BindContext {
		if n := backends.MaxPlaintextBytes - frameLen; len(pt) > n && isAWS(id) {
			// Refused here: AWS KMS would refuse the framed plaintext, and
			// local-kms quotes it in its answer.
			return nil, backends.Errorf(backends.ErrInvalidArgument, op, id,
				"Plaintext of %d bytes: an AWS KMS keeper takes at most %d with BindContext (its binding takes %d of AWS KMS's %d)",
				len(pt), n, frameLen, backends.MaxPlaintextBytes)
		}
		pt = frame(in.EncryptionContext, in.Plaintext)
		defer clear(pt)
	}
	ct, err := k.Encrypt(ctx, pt)
	if err != nil {
		return nil, mapError(ctx, op, id, err)
	}
	if in.DryRun {
		return nil, dryRun(op, id)
	}
	return &backends.EncryptOutput{CiphertextBlob: ct, KeyID: id, EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

// Decrypt decrypts with the keeper in.KeyID names, which is required.
func (b *Backend) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	const op = "Decrypt"
	if in.KeyID == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "a keeper's ciphertext does not name its key: give a KeyID")
	}
	k, id, err := b.keeper(ctx, op, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := b.checkRequest(op, id, in.EncryptionContext, in.EncryptionAlgorithm, in.GrantTokens); err != nil {
		return nil, err
	}
	pt, err := k.Decrypt(ctx, in.CiphertextBlob)
	if err != nil {
		return nil, mapError(ctx, op, id, err)
	}
	if b.opts.BindContext {
		inner, ok := unframe(in.EncryptionContext, pt)
		if !ok {
			clear(pt)
			return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, id, "the encryption context differs from the one the ciphertext was made with")
		}
		// inner aliases pt: move it to the front so the caller owns one buffer.
		n := copy(pt, inner)
		clear(pt[n:])
		pt = pt[:n:n]
	}
	if in.DryRun {
		clear(pt)
		return nil, dryRun(op, id)
	}
	return &backends.DecryptOutput{Plaintext: pt, KeyID: id, EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

// checkRequest refuses what a keeper cannot honour rather than dropping it.
func (b *Backend) checkRequest(op, id string, ec map[string]string, alg backends.Algorithm, grants []string) error {
	switch {
	case len(ec) > 0 && !b.opts.BindContext:
		return backends.Errorf(backends.ErrUnsupported, op, id, "a gocloud keeper cannot bind an encryption context: set gocloud.Options.BindContext to bind it inside the plaintext")
	case alg.OrDefault() != backends.SymmetricDefault:
		return backends.Errorf(backends.ErrInvalidKeyUsage, op, id, "a gocloud keeper takes only %s, not %s", backends.SymmetricDefault, alg)
	case len(grants) > 0:
		return backends.Errorf(backends.ErrUnsupported, op, id, "a gocloud keeper has no grant tokens")
	}
	return nil
}

// frameVersion starts every plaintext framed by Options.BindContext.
const frameVersion = 0x01

// frameLen is the length of the framing: the version byte and a SHA-256 digest.
const frameLen = 1 + sha256.Size

// frame returns the version byte, the digest of ec's encoding, and pt.
func frame(ec map[string]string, pt []byte) []byte {
	sum := sha256.Sum256(backends.EncodeEncryptionContext(ec))
	out := make([]byte, 0, frameLen+len(pt))
	out = append(out, frameVersion)
	out = append(out, sum[:]...)
	return append(out, pt...)
}

// unframe checks a framed plaintext against ec and returns the inner plaintext.
func unframe(ec map[string]string, framed []byte) ([]byte, bool) {
	if len(framed) < frameLen || framed[0] != frameVersion {
		return nil, false
	}
	sum := sha256.Sum256(backends.EncodeEncryptionContext(ec))
	if subtle.ConstantTimeCompare(framed[1:frameLen], sum[:]) != 1 {
		return nil, false
	}
	return framed[frameLen:], true
}

func dryRun(op, id string) error {
	return backends.Errorf(backends.ErrDryRunOperation, op, id, "dry run: the request would have succeeded (a keeper has no dry run: the request was made and its result discarded)")
}
