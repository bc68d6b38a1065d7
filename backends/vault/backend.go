package vault

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/keyport/keyport/backends"
)

// DefaultKeyCacheTTL is how long the backend trusts what it read about a key (its
// type and whether it is derived) and about a mount (disable_upsert).
const DefaultKeyCacheTTL = 30 * time.Second

// Options configures a Backend.
type Options struct {
	// Client is the Vault client to use, with its address and token. Nil means a new
	// client from api.DefaultConfig, which reads VAULT_ADDR, VAULT_TOKEN,
	// VAULT_NAMESPACE and the other VAULT_* variables.
	Client *api.Client
	// Namespace, when set, sends every request to this Vault Enterprise namespace
	// (the X-Vault-Namespace header), overriding the client's own.
	Namespace string
	// KeyCacheTTL is how long key metadata and mount settings are cached; 0 means
	// DefaultKeyCacheTTL and a negative value disables the cache. Encrypt on a mount
	// without disable_upsert always reads the key afresh. On a mount with
	// disable_upsert it trusts the cache, so a key deleted and recreated with a
	// different "derived" setting within the TTL could be encrypted to with the
	// binding of the old key; where keys are recreated that way, use a short TTL.
	KeyCacheTTL time.Duration
}

// Backend is a keyport backend over Vault Transit. It is safe for concurrent use.
type Backend struct {
	client *api.Client
	ttl    time.Duration

	mu     sync.Mutex
	keys   map[Ref]cachedKey
	mounts map[string]cachedMount
}

type cachedKey struct {
	info *keyInfo
	at   time.Time
}

type cachedMount struct {
	disableUpsert bool
	at            time.Time
}

var (
	_ backends.Backend          = (*Backend)(nil)
	_ backends.ReEncrypter      = (*Backend)(nil)
	_ backends.DataKeyGenerator = (*Backend)(nil)
	_ backends.KeyDescriber     = (*Backend)(nil)
)

// New returns a Backend. With a nil opts.Client it makes a client from the
// environment (VAULT_ADDR, VAULT_TOKEN, ...).
func New(opts Options) (*Backend, error) {
	c := opts.Client
	if c == nil {
		var err error
		c, err = api.NewClient(api.DefaultConfig())
		if err != nil {
			return nil, backends.Wrap(backends.ErrInvalidArgument, "New", "", err)
		}
	}
	if opts.Namespace != "" {
		c = c.WithNamespace(opts.Namespace)
	}
	ttl := opts.KeyCacheTTL
	if ttl == 0 {
		ttl = DefaultKeyCacheTTL
	}
	return &Backend{client: c, ttl: ttl, keys: map[Ref]cachedKey{}, mounts: map[string]cachedMount{}}, nil
}

// Register makes b the owner of the key URLs that name no Vault server in f:
// vault://<mount>/<key> and gocloud's hashivault://<key>. Tink's
// hcvault://<host>/<mount>/keys/<key> names its server: open it with an [Opener]
// (b takes such a URL only when it names b's own server).
func (b *Backend) Register(f *backends.Front) error {
	if err := f.Register(Scheme, b); err != nil {
		return err
	}
	return f.Register(GocloudScheme, b)
}

// Client returns the Vault client the backend uses.
func (b *Backend) Client() *api.Client { return b.client }

// keyInfo is what Transit answers on a read of <mount>/keys/<name>.
type keyInfo struct {
	Type                 string                     `json:"type"`
	Derived              bool                       `json:"derived"`
	LatestVersion        int                        `json:"latest_version"`
	MinDecryptionVersion int                        `json:"min_decryption_version"`
	MinEncryptionVersion int                        `json:"min_encryption_version"`
	SupportsEncryption   bool                       `json:"supports_encryption"`
	SupportsDecryption   bool                       `json:"supports_decryption"`
	SupportsSigning      bool                       `json:"supports_signing"`
	DeletionAllowed      bool                       `json:"deletion_allowed"`
	Exportable           bool                       `json:"exportable"`
	Keys                 map[string]json.RawMessage `json:"keys"`
}

// aead reports whether the key type can bind associated data.
func (k *keyInfo) aead() bool {
	switch k.Type {
	case "aes128-gcm96", "aes256-gcm96", "chacha20-poly1305":
		return true
	}
	return false
}

func (k *keyInfo) rsa() bool {
	switch k.Type {
	case "rsa-2048", "rsa-3072", "rsa-4096":
		return true
	}
	return false
}

// algorithm checks the requested algorithm against the key type and returns the
// one the key uses.
func (k *keyInfo) algorithm(op string, ref Ref, a backends.Algorithm) (backends.Algorithm, error) {
	want := backends.SymmetricDefault
	if k.rsa() {
		want = backends.RSAESOAEPSHA256 // Transit's RSA keys encrypt with OAEP and SHA-256
	}
	if !k.SupportsEncryption && !k.rsa() {
		return "", backends.Errorf(backends.ErrInvalidKeyUsage, op, ref.URI(), "a Transit %s key does not encrypt", k.Type)
	}
	if a.OrDefault() != want {
		return "", backends.Errorf(backends.ErrInvalidKeyUsage, op, ref.URI(), "a Transit %s key encrypts with %s, not %s", k.Type, want, a.OrDefault())
	}
	return want, nil
}

// binding returns the Transit context and associated_data that bind ec to a
// ciphertext of this key (see the package documentation).
func (k *keyInfo) binding(op string, ref Ref, ec map[string]string) (derivation, ad []byte, err error) {
	if k.Derived {
		return derivationContext(ec), nil, nil
	}
	if len(ec) == 0 {
		return nil, nil, nil
	}
	if !k.aead() {
		return nil, nil, backends.Errorf(backends.ErrInvalidKeyUsage, op, ref.URI(),
			"a non-derived Transit %s key cannot bind an encryption context (not AEAD)", k.Type)
	}
	return nil, backends.EncodeEncryptionContext(ec), nil
}

// derivationContext is the Transit key-derivation context that binds ec: its
// keyport encoding, or a zero pair count for an empty context (Transit requires a
// non-empty context for derived keys).
func derivationContext(ec map[string]string) []byte {
	if len(ec) == 0 {
		return []byte{0, 0, 0, 0}
	}
	return backends.EncodeEncryptionContext(ec)
}

// keyFor returns the metadata of ref's key, from the cache unless fresh is set or
// the entry is older than the TTL.
func (b *Backend) keyFor(ctx context.Context, op string, ref Ref, fresh bool) (*keyInfo, error) {
	if !fresh && b.ttl > 0 {
		b.mu.Lock()
		c, ok := b.keys[ref]
		b.mu.Unlock()
		if ok && time.Since(c.at) < b.ttl {
			return c.info, nil
		}
	}
	var info keyInfo
	if err := b.read(ctx, op, ref, ref.Mount+"/keys/"+ref.Name, &info); err != nil {
		return nil, err
	}
	if info.Type == "" {
		return nil, backends.Errorf(backends.ErrNotFound, op, ref.URI(), "Vault answered no key at %s/keys/%s", ref.Mount, ref.Name)
	}
	if b.ttl > 0 {
		b.mu.Lock()
		b.keys[ref] = cachedKey{info: &info, at: time.Now()}
		b.mu.Unlock()
	}
	return &info, nil
}

// forget drops what the cache knows about ref (after Vault said it is gone).
func (b *Backend) forget(ref Ref, err error) {
	if err != nil && backends.KindOf(err) == backends.ErrNotFound {
		b.mu.Lock()
		delete(b.keys, ref)
		b.mu.Unlock()
	}
}

// upsertDisabled reports whether the mount refuses to create keys on encrypt
// (config/keys disable_upsert). Unreadable settings count as "may create".
func (b *Backend) upsertDisabled(ctx context.Context, mount string) bool {
	if b.ttl > 0 {
		b.mu.Lock()
		c, ok := b.mounts[mount]
		b.mu.Unlock()
		if ok && time.Since(c.at) < b.ttl {
			return c.disableUpsert
		}
	}
	var cfg struct {
		DisableUpsert bool `json:"disable_upsert"`
	}
	err := b.read(ctx, "Encrypt", Ref{Mount: mount}, mount+"/config/keys", &cfg)
	if err != nil {
		k := backends.KindOf(err)
		if k != backends.ErrAccessDenied && k != backends.ErrNotFound {
			return false // transient: ask again next time
		}
		cfg.DisableUpsert = false
	}
	if b.ttl > 0 {
		b.mu.Lock()
		b.mounts[mount] = cachedMount{disableUpsert: cfg.DisableUpsert, at: time.Now()}
		b.mu.Unlock()
	}
	return cfg.DisableUpsert
}

// read GETs path and decodes the "data" object of the answer into out.
func (b *Backend) read(ctx context.Context, op string, ref Ref, path string, out any) error {
	resp, err := b.client.Logical().ReadRawWithContext(ctx, path)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		return MapError(ctx, op, refKey(ref), err)
	}
	return decodeData(ctx, op, ref, resp.Body, out)
}

// write PUTs body (JSON-encoded, then wiped) to path and decodes the "data" object of
// the answer into out. With batch set, an error answer whose body carries
// batch_results is decoded too (Transit answers 400 or 500 when any item fails) and
// write returns nil.
func (b *Backend) write(ctx context.Context, op string, ref Ref, path string, body any, out any, batch bool) error {
	buf, err := json.Marshal(body)
	if err != nil {
		return backends.Wrap(backends.ErrInvalidArgument, op, refKey(ref), err)
	}
	// Logical().WriteRawWithContext would keep the body of an error answer (which a
	// batch needs), but in vault/api v1.23.0 it cancels the request's context when it
	// returns, so a success body longer than what was already buffered fails to
	// read. RawRequestWithContext, which ReadRawWithContext itself uses, does not.
	req := b.client.NewRequest(http.MethodPut, "/v1/"+path)
	req.BodyBytes = buf
	//lint:ignore SA1019 the non-deprecated WriteRawWithContext cancels the body's context early (see above)
	resp, err := b.client.RawRequestWithContext(ctx, req)
	clear(buf)
	if resp != nil {
		defer resp.Body.Close()
	}
	if err != nil {
		if batch && resp != nil && resp.Body != nil && ctx.Err() == nil {
			var probe struct {
				Data struct {
					Results json.RawMessage `json:"batch_results"`
				} `json:"data"`
			}
			raw, rerr := io.ReadAll(resp.Body)
			if rerr == nil && json.Unmarshal(raw, &probe) == nil && len(probe.Data.Results) > 0 {
				derr := json.Unmarshal(raw, &struct {
					Data any `json:"data"`
				}{Data: out})
				clear(raw)
				if derr != nil {
					return backends.Wrap(backends.ErrInternal, op, refKey(ref), derr)
				}
				return nil
			}
			clear(raw)
		}
		return MapError(ctx, op, refKey(ref), err)
	}
	return decodeData(ctx, op, ref, resp.Body, out)
}

func decodeData(ctx context.Context, op string, ref Ref, r io.Reader, out any) error {
	if out == nil {
		return nil
	}
	env := struct {
		Data any `json:"data"`
	}{Data: out}
	if err := json.NewDecoder(r).Decode(&env); err != nil {
		if cerr := backends.ContextError(ctx, op, refKey(ref)); cerr != nil {
			return cerr
		}
		return backends.Errorf(backends.ErrInternal, op, refKey(ref), "decoding Vault's answer: %w", err)
	}
	return nil
}

// refKey is the key to name in errors: the URI, or nothing for a mount-only Ref.
func refKey(ref Ref) string {
	if ref.Name == "" {
		return ""
	}
	return ref.URI()
}

// parse parses keyID for op, naming op in the error. A key URL that names a Vault
// server (Tink's hcvault://host/...) must name the one this backend talks to.
func (b *Backend) parse(op, keyID string) (Ref, error) {
	ref, err := ParseRef(keyID)
	if err != nil {
		e := *err.(*backends.Error)
		e.Op, e.KeyID = op, clip(keyID, 80)
		return Ref{}, &e
	}
	if ref.Addr != "" && !sameServer(ref.Addr, b.client.Address()) {
		return Ref{}, backends.Errorf(backends.ErrNotFound, op, clip(keyID, 80), "the key URL names the Vault server %s; this backend talks to %s", ref.Addr, b.client.Address())
	}
	ref.Addr = ""
	return ref, nil
}
