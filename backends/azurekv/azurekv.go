package azurekv

import (
	"context"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/keyport/keyport/backends"
)

// DefaultKeyCacheTTL is how long the backend trusts what it read about a key (its
// current version, type, size, attributes and permitted operations) for Encrypt.
const DefaultKeyCacheTTL = 30 * time.Second

// Options configures a Backend.
type Options struct {
	// Credential authenticates to Key Vault, for example
	// azidentity.NewDefaultAzureCredential(nil). Required.
	Credential azcore.TokenCredential
	// ClientOptions are passed to azkeys.NewClient for each vault.
	ClientOptions *azkeys.ClientOptions
	// KeyCacheTTL is how long Encrypt trusts what it read about a key; 0 means
	// DefaultKeyCacheTTL and a negative value reads the key on every Encrypt. A
	// rotation, a disable or an expiry takes effect for Encrypt within the TTL
	// (Decrypt always asks Key Vault, which refuses a disabled version itself).
	KeyCacheTTL time.Duration
	// BindEncryptionContext opts into keyport's client-side binding of the
	// encryption context. Key Vault has no encryption context: without this
	// option Encrypt refuses a non-empty one (ErrUnsupported) rather than drop
	// it. With it, a SHA-256 digest of the encoded context is wrapped together with
	// the plaintext and checked by Decrypt, so a wrong context fails with
	// ErrInvalidCiphertext. The check is keyport's, not Key Vault's: anyone with
	// unwrapKey permission on the key and another client can unwrap without the
	// context. See the package documentation.
	BindEncryptionContext bool
}

// Backend is a keyport backend over Azure Key Vault and Managed HSM keys. It is
// safe for concurrent use.
type Backend struct {
	opts Options
	ttl  time.Duration

	mu      sync.Mutex
	clients map[string]*azkeys.Client // by vault host
	keys    map[string]cachedKey      // by canonical key URI
}

type cachedKey struct {
	info *keyInfo
	at   time.Time
}

var (
	_ backends.Backend             = (*Backend)(nil)
	_ backends.KeyDescriber        = (*Backend)(nil)
	_ backends.CiphertextInspector = (*Backend)(nil)
)

// New returns a Backend.
func New(opts Options) (*Backend, error) {
	if opts.Credential == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "New", "", "Options.Credential is required (for example azidentity.NewDefaultAzureCredential)")
	}
	ttl := opts.KeyCacheTTL
	if ttl == 0 {
		ttl = DefaultKeyCacheTTL
	}
	return &Backend{opts: opts, ttl: ttl, clients: map[string]*azkeys.Client{}, keys: map[string]cachedKey{}}, nil
}

// Register makes b the owner of azurekv://, azurekeyvault:// and https://
// references in f. It claims every https:// URL of f for Key Vault; register the
// schemes one by one to leave https:// to another driver.
func (b *Backend) Register(f *backends.Front) error {
	for _, s := range []string{Scheme, GocloudScheme, HTTPSScheme} {
		if err := f.Register(s, b); err != nil {
			return err
		}
	}
	return nil
}

// client returns the azkeys client of ref's vault.
func (b *Backend) client(op string, ref Ref) (*azkeys.Client, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if c := b.clients[ref.Vault]; c != nil {
		return c, nil
	}
	c, err := azkeys.NewClient(ref.VaultURL(), b.opts.Credential, b.opts.ClientOptions)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, op, ref.URI(), err)
	}
	b.clients[ref.Vault] = c
	return c, nil
}

// keyInfo is what Encrypt needs to know about a key's current version.
type keyInfo struct {
	kid       Ref // with the current version
	kty       azkeys.KeyType
	modulus   int // bytes, for RSA keys
	octBits   int
	ops       map[azkeys.KeyOperation]bool
	enabled   bool
	notBefore *time.Time
	expires   *time.Time
}

// usable says why the key may not wrap now, or "".
func (k *keyInfo) unusable(now time.Time) string {
	switch {
	case !k.enabled:
		return "the key's current version is disabled"
	case k.notBefore != nil && now.Before(*k.notBefore):
		return "the key's current version is not valid before " + k.notBefore.UTC().Format(time.RFC3339)
	case k.expires != nil && !now.Before(*k.expires):
		return "the key's current version expired at " + k.expires.UTC().Format(time.RFC3339)
	}
	return ""
}

// wrapAlgorithm returns the algorithm and the blob's code for the key type.
func (k *keyInfo) wrapAlgorithm() (azkeys.EncryptionAlgorithm, byte, bool) {
	switch k.kty {
	case azkeys.KeyTypeRSA, azkeys.KeyTypeRSAHSM:
		return azkeys.EncryptionAlgorithmRSAOAEP256, algRSAOAEP, true
	case azkeys.KeyTypeOct, azkeys.KeyTypeOctHSM:
		if k.octBits == 0 || k.octBits == 256 {
			return azkeys.EncryptionAlgorithmA256KW, algA256KW, true
		}
	}
	return "", 0, false
}

// maxPlaintext is the longest plaintext the key wraps, after the digest.
func (k *keyInfo) maxPlaintext() int {
	switch k.kty {
	case azkeys.KeyTypeRSA, azkeys.KeyTypeRSAHSM:
		return k.modulus - 2*32 - 2 - digestLen // RSA-OAEP with SHA-256
	}
	return 4096
}

func infoFrom(ref Ref, kb azkeys.KeyBundle) (*keyInfo, bool) {
	if kb.Key == nil || kb.Key.KID == nil || kb.Key.Kty == nil {
		return nil, false
	}
	kid, err := ParseRef(string(*kb.Key.KID))
	if err != nil || kid.Version == "" || kid.URI() != ref.URI() {
		return nil, false
	}
	k := &keyInfo{kid: kid, kty: *kb.Key.Kty, modulus: len(kb.Key.N), octBits: len(kb.Key.K) * 8, ops: map[azkeys.KeyOperation]bool{}}
	for _, o := range kb.Key.KeyOps {
		if o != nil {
			k.ops[*o] = true
		}
	}
	if a := kb.Attributes; a != nil {
		k.enabled = a.Enabled == nil || *a.Enabled
		k.notBefore, k.expires = a.NotBefore, a.Expires
	}
	return k, true
}

// keyFor returns what Encrypt needs to know about ref's key, from the cache while
// it is fresh.
func (b *Backend) keyFor(ctx context.Context, op string, ref Ref) (*keyInfo, error) {
	key := ref.URI()
	if b.ttl > 0 {
		b.mu.Lock()
		c, ok := b.keys[key]
		b.mu.Unlock()
		if ok && time.Since(c.at) < b.ttl {
			return c.info, nil
		}
	}
	c, err := b.client(op, ref)
	if err != nil {
		return nil, err
	}
	resp, err := c.GetKey(ctx, ref.Name, "", nil)
	if err != nil {
		return nil, b.notFound(ctx, op, ref, err)
	}
	info, ok := infoFrom(ref, resp.KeyBundle)
	if !ok {
		return nil, backends.Errorf(backends.ErrInternal, op, key, "Key Vault answered no usable key identifier for this key")
	}
	if b.ttl > 0 {
		b.mu.Lock()
		b.keys[key] = cachedKey{info: info, at: time.Now()}
		b.mu.Unlock()
	}
	return info, nil
}

// notFound maps err; a 404 for a key that is soft-deleted becomes
// KMSInvalidState, as AWS KMS answers for a key pending deletion.
func (b *Backend) notFound(ctx context.Context, op string, ref Ref, err error) error {
	mapped := MapError(ctx, op, ref.URI(), err)
	if backends.KindOf(mapped) != backends.ErrNotFound {
		return mapped
	}
	b.mu.Lock()
	delete(b.keys, ref.URI())
	b.mu.Unlock()
	c, cerr := b.client(op, ref)
	if cerr != nil {
		return mapped
	}
	d, derr := c.GetDeletedKey(ctx, ref.Name, nil)
	if derr != nil {
		return mapped // not deleted, or the caller may not see deleted keys
	}
	purge := "unknown"
	if d.ScheduledPurgeDate != nil {
		purge = d.ScheduledPurgeDate.UTC().Format(time.RFC3339)
	}
	return &backends.Error{Kind: backends.ErrInvalidState, Op: op, KeyID: ref.URI(),
		Message: "the key is deleted (recoverable until its purge at " + purge + ")", Err: err}
}

// parse parses keyID for op, naming op and the key in the error.
func parse(op, keyID string) (Ref, error) {
	ref, err := ParseRef(keyID)
	if err != nil {
		e := *err.(*backends.Error)
		e.Op, e.KeyID = op, clip(keyID, 80)
		return Ref{}, &e
	}
	return ref, nil
}

// blobAlgorithm names the Key Vault algorithm of a blob's algorithm code.
func blobAlgorithm(code byte) azkeys.EncryptionAlgorithm {
	if code == algA256KW {
		return azkeys.EncryptionAlgorithmA256KW
	}
	return azkeys.EncryptionAlgorithmRSAOAEP256
}

// algorithm checks the algorithm a caller asked for: the default (the key type's
// wrapping algorithm) or, for an RSA key, RSAES_OAEP_SHA_256 by name.
func algorithm(op, key string, info *keyInfo, a backends.Algorithm) (backends.Algorithm, error) {
	a = a.OrDefault()
	if a == backends.SymmetricDefault {
		return a, nil
	}
	if a == backends.RSAESOAEPSHA256 && (info.kty == azkeys.KeyTypeRSA || info.kty == azkeys.KeyTypeRSAHSM) {
		return a, nil
	}
	return "", backends.Errorf(backends.ErrInvalidKeyUsage, op, key, "Key Vault keys wrap with their type's algorithm (RSA-OAEP-256 or A256KW), not %s", a)
}

// Encrypt wraps in.Plaintext (a data key) with the current version of the Key
// Vault key in.KeyID: RSA-OAEP-256 for RSA and RSA-HSM keys, A256KW for oct-HSM
// keys of Managed HSM. The ciphertext records the versioned key identifier that
// wrapped, so Decrypt needs no KeyID. A non-empty in.EncryptionContext is refused
// unless Options.BindEncryptionContext is set.
func (b *Backend) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	const op = "Encrypt"
	ref, err := parse(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	key := ref.URI()
	if ref.Version != "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, ref.KID(),
			"a versioned key identifier names a key for decryption only; encrypt with the key, whose current version is used")
	}
	if len(in.EncryptionContext) > 0 && !b.opts.BindEncryptionContext {
		return nil, backends.Errorf(backends.ErrUnsupported, op, key,
			"Key Vault has no encryption context; set azurekv.Options.BindEncryptionContext to bind it client-side (see the package documentation), or give none")
	}
	info, err := b.keyFor(ctx, op, ref)
	if err != nil {
		return nil, err
	}
	alg, err := algorithm(op, key, info, in.EncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	kvAlg, code, ok := info.wrapAlgorithm()
	switch {
	case !ok:
		return nil, backends.Errorf(backends.ErrInvalidKeyUsage, op, key, "a Key Vault %s key does not wrap keys for keyport (want RSA, RSA-HSM or a 256-bit oct-HSM key)", info.kty)
	case !info.ops[azkeys.KeyOperationWrapKey]:
		return nil, backends.Errorf(backends.ErrInvalidKeyUsage, op, key, "the key's key_ops do not permit wrapKey")
	}
	if why := info.unusable(time.Now()); why != "" {
		return nil, backends.Errorf(backends.ErrDisabled, op, key, "%s", why)
	}
	if max := info.maxPlaintext(); len(in.Plaintext) > max {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, key, "this key wraps at most %d bytes, not %d", max, len(in.Plaintext))
	}
	header := newHeader(code, info.kid)
	p := payload(code, digest(header, in.EncryptionContext), in.Plaintext)
	c, err := b.client(op, ref)
	if err != nil {
		clear(p)
		return nil, err
	}
	resp, err := c.WrapKey(ctx, ref.Name, info.kid.Version, azkeys.KeyOperationParameters{Algorithm: &kvAlg, Value: p}, nil)
	clear(p)
	if err != nil {
		return nil, b.notFound(ctx, op, ref, err)
	}
	if resp.KID == nil || string(*resp.KID) != info.kid.KID() || len(resp.Result) == 0 {
		return nil, backends.Errorf(backends.ErrInternal, op, key, "Key Vault wrapped with another key version than the one asked for, or answered nothing")
	}
	if in.DryRun {
		return nil, dryRunDone(op, key)
	}
	out := make([]byte, 0, len(header)+len(resp.Result))
	out = append(append(out, header...), resp.Result...)
	return &backends.EncryptOutput{CiphertextBlob: out, KeyID: key, KeyVersion: info.kid.Version, EncryptionAlgorithm: alg}, nil
}

// Decrypt unwraps in.CiphertextBlob with the key version it records, under
// in.EncryptionContext. in.KeyID may be empty; when it is given it must name the
// key that wrapped (and, if it names a version, that version), otherwise the
// answer is ErrIncorrectKey.
func (b *Backend) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	const op = "Decrypt"
	bl, err := parseBlob(in.CiphertextBlob)
	if err != nil {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, in.KeyID, "not a keyport Key Vault ciphertext, or its header is damaged")
	}
	key := bl.kid.URI()
	if in.KeyID != "" {
		ref, err := parse(op, in.KeyID)
		if err != nil {
			return nil, err
		}
		if ref.URI() != key || ref.Version != "" && ref.Version != bl.kid.Version {
			return nil, backends.Errorf(backends.ErrIncorrectKey, op, ref.KID(), "the ciphertext was made by another key (version)")
		}
	}
	alg := in.EncryptionAlgorithm.OrDefault()
	if alg != backends.SymmetricDefault && !(alg == backends.RSAESOAEPSHA256 && bl.alg == algRSAOAEP) {
		return nil, backends.Errorf(backends.ErrInvalidKeyUsage, op, key, "the ciphertext was wrapped with %s, not %s", blobAlgorithm(bl.alg), alg)
	}
	kvAlg := blobAlgorithm(bl.alg)
	c, err := b.client(op, bl.kid)
	if err != nil {
		return nil, err
	}
	resp, err := c.UnwrapKey(ctx, bl.kid.Name, bl.kid.Version, azkeys.KeyOperationParameters{Algorithm: &kvAlg, Value: bl.wrapped}, nil)
	if err != nil {
		return nil, b.notFound(ctx, op, bl.kid, err)
	}
	pt, ok := open(bl.alg, digest(bl.header, in.EncryptionContext), resp.Result)
	if !ok {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, key, "the ciphertext does not authenticate under this encryption context")
	}
	if in.DryRun {
		clear(pt)
		return nil, dryRunDone(op, key)
	}
	return &backends.DecryptOutput{Plaintext: pt, KeyID: key, EncryptionAlgorithm: alg}, nil
}

// CiphertextKeyID returns the canonical identifier of the key that made blob, read
// from the blob's header without any call to Key Vault.
func (b *Backend) CiphertextKeyID(blob []byte) (string, error) {
	bl, err := parseBlob(blob)
	if err != nil {
		return "", backends.Errorf(backends.ErrInvalidCiphertext, "CiphertextKeyID", "", "not a keyport Key Vault ciphertext, or its header is damaged")
	}
	return bl.kid.URI(), nil
}

// dryRunDone is the answer to a DryRun whose request succeeded. Key Vault has no
// dry run, so the backend makes the real request (wrapKey and unwrapKey change no
// state) and discards its result, clearing any plaintext.
func dryRunDone(op, key string) error {
	return backends.Errorf(backends.ErrDryRunOperation, op, key, "dry run: the request would have succeeded")
}
