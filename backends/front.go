package backends

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
)

// Front is the one value a caller holds in front of every key service, in the
// manner of gocloud.dev's portable secrets.Keeper over its driver.Keeper, but
// without global state and for many keys and services at once.
//
// A Front routes each key reference to the driver that owns it: URIs by scheme
// (vault://transit/orders, gcpkms://projects/...), AWS ARNs by account and region
// (an ARN no account route claims goes to the awskms opener when there is one,
// else to the default driver), bare key IDs and alias names to the default driver
// (they resolve in the caller's own account). It validates every input once, before any driver sees it (see
// [Front.Encrypt] for the rules), labels every error with its operation, runs the
// interceptors given to [Front.Use] around every call, and forwards the call to
// the driver's own capability ([ReEncrypter], [DataKeyGenerator], [KeyDescriber],
// [CiphertextInspector]) where it has one. Because every caller and every wrapper
// (retries, metrics, logging) goes through the Front's methods, no capability is
// ever lost to a wrapper.
//
// Key URLs: [Front.RegisterOpener] lets a URL scheme open its service on first use
// (for example vault.Opener for vault:// keys); the URL forms of keyport, gocloud
// and Tink are listed in the package documentation of keyport's drivers and in the
// README's table. Tink's aws-kms://ARN and gocloud's awskms:///ARN are routed as
// the ARN they hold.
//
// The zero Front is empty and ready for use; a Front is safe for concurrent use.
// A Front is itself a driver ([Backend] and every capability), so one Front may
// route to another.
type Front struct {
	mu       sync.RWMutex
	schemes  map[string]Backend
	openers  map[string]URLOpener
	opened   []Backend // drivers that openers returned, for CiphertextKeyID
	accounts []accountRoute
	def      Backend
	chain    []Interceptor
}

type accountRoute struct {
	partition, account, region string
	b                          Backend
}

var (
	_ Backend             = (*Front)(nil)
	_ ReEncrypter         = (*Front)(nil)
	_ DataKeyGenerator    = (*Front)(nil)
	_ KeyDescriber        = (*Front)(nil)
	_ CiphertextInspector = (*Front)(nil)
)

// NewFront returns a Front whose default driver, if d is not nil, is d: the owner
// of bare key IDs and alias names and of decryptions that name no key.
func NewFront(d Backend) *Front {
	f := new(Front)
	f.def = d
	return f
}

// Register makes b the owner of URIs with the given scheme ("vault", "awskms", ...).
// It is an error to register a scheme twice, or a scheme that has an opener.
func (f *Front) Register(scheme string, b Backend) error {
	scheme = strings.ToLower(scheme)
	if !isScheme(scheme) {
		return Errorf(ErrInvalidArgument, "Register", "", "invalid scheme %q", scheme)
	}
	if b == nil {
		return Errorf(ErrInvalidArgument, "Register", "", "nil backend for scheme %q", scheme)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.schemes[scheme]; dup {
		return Errorf(ErrAlreadyExists, "Register", "", "scheme %q is already registered", scheme)
	}
	if _, dup := f.openers[scheme]; dup {
		return Errorf(ErrAlreadyExists, "Register", "", "scheme %q already has an opener", scheme)
	}
	if f.schemes == nil {
		f.schemes = make(map[string]Backend)
	}
	f.schemes[scheme] = b
	return nil
}

// RegisterOpener makes o open the driver of a URI of the given scheme when a call
// first names one; the Front keeps what o returns for the URIs it is asked about
// again (o may cache per service, see [URLOpener]). An ARN that no account route
// claims goes to the opener of the "awskms" scheme, if there is one, as the URL
// awskms:///ARN. It is an error to register a scheme twice.
func (f *Front) RegisterOpener(scheme string, o URLOpener) error {
	scheme = strings.ToLower(scheme)
	if !isScheme(scheme) {
		return Errorf(ErrInvalidArgument, "RegisterOpener", "", "invalid scheme %q", scheme)
	}
	if o == nil {
		return Errorf(ErrInvalidArgument, "RegisterOpener", "", "nil opener for scheme %q", scheme)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.schemes[scheme]; dup {
		return Errorf(ErrAlreadyExists, "RegisterOpener", "", "scheme %q already has a backend", scheme)
	}
	if _, dup := f.openers[scheme]; dup {
		return Errorf(ErrAlreadyExists, "RegisterOpener", "", "scheme %q already has an opener", scheme)
	}
	if f.openers == nil {
		f.openers = make(map[string]URLOpener)
	}
	f.openers[scheme] = o
	return nil
}

// RegisterAccount makes b the owner of the ARNs of an AWS account in a region of
// the "aws" partition; an empty region matches every region. Use
// [Front.RegisterPartitionAccount] for another partition. It is an error to
// register the same account and region twice.
func (f *Front) RegisterAccount(account, region string, b Backend) error {
	return f.RegisterPartitionAccount("aws", account, region, b)
}

// RegisterPartitionAccount is [Front.RegisterAccount] for any partition.
func (f *Front) RegisterPartitionAccount(partition, account, region string, b Backend) error {
	switch {
	case !isPartition(partition):
		return Errorf(ErrInvalidArgument, "RegisterAccount", "", "invalid partition %q", partition)
	case !isAccount(account):
		return Errorf(ErrInvalidArgument, "RegisterAccount", "", "account %q is not 12 digits", account)
	case region != "" && !isRegion(region):
		return Errorf(ErrInvalidArgument, "RegisterAccount", "", "invalid region %q", region)
	case b == nil:
		return Errorf(ErrInvalidArgument, "RegisterAccount", "", "nil backend")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.accounts {
		if a.partition == partition && a.account == account && a.region == region {
			return Errorf(ErrAlreadyExists, "RegisterAccount", "", "account %s region %q is already registered", account, region)
		}
	}
	f.accounts = append(f.accounts, accountRoute{partition, account, region, b})
	return nil
}

// SetDefault makes b the owner of bare key IDs and alias names, and of decryptions
// that name no key.
func (f *Front) SetDefault(b Backend) {
	f.mu.Lock()
	f.def = b
	f.mu.Unlock()
}

// Default returns the default driver, or nil.
func (f *Front) Default() Backend {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.def
}

// Use appends interceptors to the chain that runs around every call of the Front,
// the first given outermost. Interceptors see the operation and the keys of a call,
// never its plaintext, ciphertext or key material (see [Call]).
func (f *Front) Use(ics ...Interceptor) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ic := range ics {
		if ic != nil {
			f.chain = append(f.chain, ic)
		}
	}
}

// Lookup returns the driver that owns keyRef and the reference to hand it: keyRef
// itself, or the ARN that a Tink aws-kms:// or gocloud awskms:/// URL holds. A URI
// whose scheme has an opener opens its driver. A reference no driver owns is an
// error matching [ErrNotFound].
func (f *Front) Lookup(ctx context.Context, keyRef string) (Backend, string, error) {
	b, ref, err := f.route(ctx, keyRef)
	if err != nil {
		return nil, "", err
	}
	return b, ref.Raw, nil
}

// route parses keyRef, normalizes the URL forms that hold an ARN, and returns the
// owner of the reference.
func (f *Front) route(ctx context.Context, keyRef string) (Backend, KeyRef, error) {
	ref, err := ParseKeyRef(keyRef)
	if err != nil {
		return nil, KeyRef{}, err
	}
	if ref.Form == FormURI {
		if arn, ok := awsURLARN(ref); ok {
			ref = arn
		}
	}
	f.mu.RLock()
	b := f.owner(ref)
	var o URLOpener
	switch {
	case b != nil:
	case ref.Form == FormURI:
		o = f.openers[ref.Scheme]
	case ref.IsARN():
		// An ARN no account route claims: AWS KMS's opener if there is one,
		// which reaches every account and region as AWS does; else the default
		// driver, which decides as a KMS client does with any ARN.
		if o = f.openers["awskms"]; o == nil {
			b = f.def
		}
	}
	f.mu.RUnlock()
	if b != nil {
		return b, ref, nil
	}
	if o != nil {
		return f.open(ctx, o, ref)
	}
	return nil, ref, Errorf(ErrNotFound, "", keyRef, "no backend is registered for this %s", describeRoute(ref))
}

// owner returns the registered owner of ref, or nil. The caller holds f.mu.
func (f *Front) owner(ref KeyRef) Backend {
	switch {
	case ref.Form == FormURI:
		return f.schemes[ref.Scheme]
	case ref.IsARN():
		// An exact region beats the any-region entry of the same account.
		var b Backend
		for _, a := range f.accounts {
			if a.partition == ref.Partition && a.account == ref.Account {
				if a.region == ref.Region {
					return a.b
				}
				if a.region == "" && b == nil {
					b = a.b
				}
			}
		}
		return b
	}
	return f.def
}

// open asks o for the driver of ref and remembers it for CiphertextKeyID.
func (f *Front) open(ctx context.Context, o URLOpener, ref KeyRef) (Backend, KeyRef, error) {
	u := ref.URI
	if u == nil { // an ARN for the awskms opener
		u = &url.URL{Scheme: "awskms", Path: "/" + ref.Raw}
	}
	b, err := o.OpenBackendURL(ctx, u)
	if err != nil {
		return nil, ref, label(ctx, "", ref.Raw, fmt.Errorf("opening the service of %s: %w", truncate(ref.Raw, 120), err))
	}
	if b == nil {
		return nil, ref, Errorf(ErrInternal, "", ref.Raw, "the opener of scheme %q returned no backend", u.Scheme)
	}
	f.mu.Lock()
	known := false
	for _, x := range f.opened {
		if SameBackend(x, b) {
			known = true
			break
		}
	}
	if !known {
		f.opened = append(f.opened, b)
	}
	f.mu.Unlock()
	return b, ref, nil
}

func describeRoute(ref KeyRef) string {
	switch {
	case ref.Form == FormURI:
		return fmt.Sprintf("scheme %q", ref.Scheme)
	case ref.IsARN():
		return fmt.Sprintf("account %s in %s", ref.Account, ref.Region)
	}
	return ref.Form.String() + " (no default backend)"
}

// awsURLARN returns the ARN that an AWS KMS key URL holds: Tink's
// aws-kms://arn:aws:kms:... and gocloud's awskms:///arn:aws:kms:....
func awsURLARN(ref KeyRef) (KeyRef, bool) {
	arn, _, ok := awsKeyURL(ref.Scheme, ref.Raw)
	if !ok {
		return KeyRef{}, false
	}
	r, err := parseARN(arn)
	return r, err == nil
}

// backends returns every driver the Front reaches, each once: the default first,
// then the account owners in the order they were registered, then the scheme
// owners in the order of their schemes, then the drivers openers returned.
func (f *Front) backends() []Backend {
	f.mu.RLock()
	defer f.mu.RUnlock()
	var out []Backend
	add := func(b Backend) {
		if b == nil {
			return
		}
		for _, o := range out {
			if SameBackend(o, b) {
				return
			}
		}
		out = append(out, b)
	}
	add(f.def)
	for _, a := range f.accounts {
		add(a.b)
	}
	schemes := make([]string, 0, len(f.schemes))
	for s := range f.schemes {
		schemes = append(schemes, s)
	}
	sort.Strings(schemes)
	for _, s := range schemes {
		add(f.schemes[s])
	}
	for _, b := range f.opened {
		add(b)
	}
	return out
}

// SameBackend reports whether a and b are the same driver value. Unlike a == b it
// never panics: drivers whose dynamic type is not comparable are never the same.
func SameBackend(a, b Backend) (same bool) {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}

// Capabilities says which optional capabilities the driver that owns a key has.
type Capabilities struct {
	// ReEncrypt: the driver re-encrypts natively ([ReEncrypter]), for some pairs
	// of its keys at least.
	ReEncrypt bool
	// GenerateDataKey: the driver makes data keys itself ([DataKeyGenerator]);
	// without it the Front makes a random one and encrypts it.
	GenerateDataKey bool
	// DescribeKey: the driver describes its keys ([KeyDescriber]).
	DescribeKey bool
	// InspectCiphertext: the driver's blobs name their key ([CiphertextInspector]).
	InspectCiphertext bool
}

// Capabilities returns the capabilities of the driver that owns keyRef. They do
// not depend on the interceptors: the Front finds them on the driver itself.
func (f *Front) Capabilities(ctx context.Context, keyRef string) (Capabilities, error) {
	b, ref, err := f.route(ctx, keyRef)
	if err != nil {
		return Capabilities{}, WithOp(err, "Capabilities")
	}
	if inner, ok := b.(*Front); ok {
		return inner.Capabilities(ctx, ref.Raw)
	}
	var c Capabilities
	_, c.ReEncrypt = b.(ReEncrypter)
	_, c.GenerateDataKey = b.(DataKeyGenerator)
	_, c.DescribeKey = b.(KeyDescriber)
	_, c.InspectCiphertext = b.(CiphertextInspector)
	return c, nil
}

// Encrypt encrypts in.Plaintext under in.KeyID with the driver that owns the key.
//
// Like every operation of the Front it first checks the input as AWS KMS does, so
// that every driver sees only well-formed requests: a nil input or a missing key
// is [ErrInvalidArgument], a malformed key reference [ErrNotFound] (AWS answers
// "Invalid keyId" so), a plaintext of 0 or more than [MaxPlaintextBytes] bytes, a
// ciphertext blob of more than [MaxCiphertextBytes] bytes, more than
// [MaxGrantTokens] grant tokens or an encryption context over
// [MaxEncryptionContextBytes] [ErrInvalidArgument]; a done ctx is [ErrCanceled] or
// [ErrDependencyTimeout]. Every error is an *[Error] whose Op names the operation.
func (f *Front) Encrypt(ctx context.Context, in *EncryptInput) (*EncryptOutput, error) {
	const op = "Encrypt"
	if err := checkEncrypt(ctx, op, in); err != nil {
		return nil, err
	}
	b, ref, err := f.route(ctx, in.KeyID)
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	if ref.Raw != in.KeyID {
		c := *in
		c.KeyID = ref.Raw
		in = &c
	}
	var out *EncryptOutput
	err = f.run(ctx, &Call{Op: op, KeyID: in.KeyID, DryRun: in.DryRun}, func(ctx context.Context, c *Call) error {
		o, err := b.Encrypt(ctx, in)
		if err != nil {
			return err
		}
		if o == nil {
			return Errorf(ErrInternal, op, in.KeyID, "the backend returned no output and no error")
		}
		out, c.ResolvedKeyID = o, o.KeyID
		return nil
	})
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	return out, nil
}

// Decrypt decrypts in.CiphertextBlob with the driver that owns in.KeyID, or with
// the default driver when in.KeyID is empty. The caller owns the plaintext and
// should wipe it (clear) when done. The input is checked as [Front.Encrypt] says.
func (f *Front) Decrypt(ctx context.Context, in *DecryptInput) (*DecryptOutput, error) {
	const op = "Decrypt"
	if err := checkDecrypt(ctx, op, in); err != nil {
		return nil, err
	}
	var b Backend
	if in.KeyID == "" {
		if b = f.Default(); b == nil {
			return nil, Errorf(ErrInvalidArgument, op, "", "no KeyId given, and no default backend to ask")
		}
	} else {
		var ref KeyRef
		var err error
		if b, ref, err = f.route(ctx, in.KeyID); err != nil {
			return nil, label(ctx, op, in.KeyID, err)
		}
		if ref.Raw != in.KeyID {
			c := *in
			c.KeyID = ref.Raw
			in = &c
		}
	}
	var out *DecryptOutput
	err := f.run(ctx, &Call{Op: op, KeyID: in.KeyID, DryRun: in.DryRun}, func(ctx context.Context, c *Call) error {
		o, err := b.Decrypt(ctx, in)
		if err != nil {
			if o != nil {
				clear(o.Plaintext)
			}
			return err
		}
		if o == nil {
			return Errorf(ErrInternal, op, in.KeyID, "the backend returned no output and no error")
		}
		if out != nil { // an interceptor called the driver again
			clear(out.Plaintext)
		}
		out, c.ResolvedKeyID = o, o.KeyID
		return nil
	})
	if err != nil {
		if out != nil {
			clear(out.Plaintext)
		}
		return nil, label(ctx, op, in.KeyID, err)
	}
	return out, nil
}

// ReEncrypt re-encrypts natively: when one driver owns both keys and re-encrypts
// by itself ([ReEncrypter]), it does, and the plaintext never leaves the service.
// Otherwise (two drivers, a driver without native ReEncrypt, or in.Via set to
// [ViaPlaintext]) the error matches [ErrUnsupported]: reencrypt.Engine decrypts and
// encrypts through the Front then. Without in.SourceKeyID the driver is the one
// whose [CiphertextInspector] recognises the blob, else the destination's.
func (f *Front) ReEncrypt(ctx context.Context, in *ReEncryptInput) (*ReEncryptOutput, error) {
	const op = "ReEncrypt"
	if err := checkReEncrypt(ctx, op, in); err != nil {
		return nil, err
	}
	if in.Via == ViaPlaintext {
		return nil, Errorf(ErrUnsupported, op, in.DestinationKeyID, "Via is ViaPlaintext: the Front re-encrypts only natively (use reencrypt.Engine)")
	}
	dst, dref, err := f.route(ctx, in.DestinationKeyID)
	if err != nil {
		return nil, label(ctx, op, in.DestinationKeyID, err)
	}
	src := dst
	sref := KeyRef{}
	if in.SourceKeyID != "" {
		if src, sref, err = f.route(ctx, in.SourceKeyID); err != nil {
			return nil, label(ctx, op, in.SourceKeyID, err)
		}
	} else if id, _ := f.CiphertextKeyID(in.CiphertextBlob); id != "" {
		if b, _, err := f.route(ctx, id); err == nil {
			src = b
		}
	}
	if !SameBackend(src, dst) {
		return nil, Errorf(ErrUnsupported, op, in.DestinationKeyID, "the source and destination keys belong to different backends: no native ReEncrypt")
	}
	re, ok := dst.(ReEncrypter)
	if !ok {
		return nil, Errorf(ErrUnsupported, op, in.DestinationKeyID, "the backend has no native ReEncrypt")
	}
	if dref.Raw != in.DestinationKeyID || (in.SourceKeyID != "" && sref.Raw != in.SourceKeyID) {
		c := *in
		c.DestinationKeyID = dref.Raw
		if in.SourceKeyID != "" {
			c.SourceKeyID = sref.Raw
		}
		in = &c
	}
	var out *ReEncryptOutput
	err = f.run(ctx, &Call{Op: op, KeyID: in.DestinationKeyID, SourceKeyID: in.SourceKeyID, DryRun: in.DryRun}, func(ctx context.Context, c *Call) error {
		o, err := re.ReEncrypt(ctx, in)
		if err != nil {
			return err
		}
		if o == nil {
			return Errorf(ErrInternal, op, in.DestinationKeyID, "the backend returned no output and no error")
		}
		out, c.ResolvedKeyID = o, o.KeyID
		return nil
	})
	if err != nil {
		return nil, label(ctx, op, firstNonEmpty(in.SourceKeyID, in.DestinationKeyID), err)
	}
	o := *out
	o.Native = true
	o.SourceEncryptionAlgorithm = o.SourceEncryptionAlgorithm.OrDefault()
	o.DestinationEncryptionAlgorithm = o.DestinationEncryptionAlgorithm.OrDefault()
	return &o, nil
}

// GenerateDataKey returns a new data key in plaintext and encrypted under
// in.KeyID. A driver that makes data keys itself ([DataKeyGenerator]) does;
// otherwise the Front draws in.NumberOfBytes random bytes (crypto/rand) and
// encrypts them with the driver's Encrypt, which is what AWS KMS does inside its
// boundary. The caller owns the plaintext and should wipe it.
func (f *Front) GenerateDataKey(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	return f.generate(ctx, "GenerateDataKey", in, true)
}

// GenerateDataKeyWithoutPlaintext is [Front.GenerateDataKey] that returns only the
// encrypted data key.
func (f *Front) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	return f.generate(ctx, "GenerateDataKeyWithoutPlaintext", in, false)
}

func (f *Front) generate(ctx context.Context, op string, in *GenerateDataKeyInput, plaintext bool) (*GenerateDataKeyOutput, error) {
	n, err := checkGenerate(ctx, op, in)
	if err != nil {
		return nil, err
	}
	b, ref, err := f.route(ctx, in.KeyID)
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	if ref.Raw != in.KeyID {
		c := *in
		c.KeyID = ref.Raw
		in = &c
	}
	var out *GenerateDataKeyOutput
	err = f.run(ctx, &Call{Op: op, KeyID: in.KeyID, DryRun: in.DryRun}, func(ctx context.Context, c *Call) error {
		if out != nil {
			clear(out.Plaintext)
			out = nil
		}
		o, err := generateWith(ctx, op, b, in, n, plaintext)
		if err != nil {
			return err
		}
		out, c.ResolvedKeyID = o, o.KeyID
		return nil
	})
	if err != nil {
		if out != nil {
			clear(out.Plaintext)
		}
		return nil, label(ctx, op, in.KeyID, err)
	}
	return out, nil
}

// generateWith makes a data key of n bytes with b: natively, or as a random key
// that b encrypts.
func generateWith(ctx context.Context, op string, b Backend, in *GenerateDataKeyInput, n int, plaintext bool) (*GenerateDataKeyOutput, error) {
	if g, ok := b.(DataKeyGenerator); ok {
		gen := g.GenerateDataKeyWithoutPlaintext
		if plaintext {
			gen = g.GenerateDataKey
		}
		out, err := gen(ctx, in)
		if err != nil {
			if out != nil {
				clear(out.Plaintext)
			}
			return nil, err
		}
		if out == nil {
			return nil, Errorf(ErrInternal, op, in.KeyID, "the backend returned no output and no error")
		}
		if plaintext && len(out.Plaintext) != n {
			clear(out.Plaintext)
			return nil, Errorf(ErrInternal, op, in.KeyID, "the backend returned a %d-byte data key, want %d", len(out.Plaintext), n)
		}
		if !plaintext && out.Plaintext != nil {
			clear(out.Plaintext)
			out.Plaintext = nil
		}
		return out, nil
	}
	dk := make([]byte, n)
	if _, err := rand.Read(dk); err != nil {
		return nil, Wrap(ErrInternal, op, in.KeyID, err)
	}
	enc, err := b.Encrypt(ctx, &EncryptInput{KeyID: in.KeyID, Plaintext: dk, EncryptionContext: in.EncryptionContext, GrantTokens: in.GrantTokens, DryRun: in.DryRun})
	if err != nil || enc == nil {
		clear(dk)
		if err == nil {
			return nil, Errorf(ErrInternal, op, in.KeyID, "the backend returned no output and no error")
		}
		// The caller asked for a data key: the driver's Encrypt is how the Front
		// made it, so the error names the operation the caller called.
		if e, ok := err.(*Error); ok && e.Op != op {
			c := *e
			c.Op = op
			return nil, &c
		}
		return nil, err
	}
	out := &GenerateDataKeyOutput{CiphertextBlob: enc.CiphertextBlob, KeyID: enc.KeyID}
	if plaintext {
		out.Plaintext = dk
	} else {
		clear(dk)
	}
	return out, nil
}

// DescribeKey describes the key in.KeyID with the driver that owns it; a driver
// that cannot ([KeyDescriber]) answers [ErrUnsupported].
func (f *Front) DescribeKey(ctx context.Context, in *DescribeKeyInput) (*KeyMetadata, error) {
	const op = "DescribeKey"
	if err := checkDescribe(ctx, op, in); err != nil {
		return nil, err
	}
	b, ref, err := f.route(ctx, in.KeyID)
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	d, ok := b.(KeyDescriber)
	if !ok {
		return nil, Errorf(ErrUnsupported, op, in.KeyID, "the backend does not describe its keys")
	}
	if ref.Raw != in.KeyID {
		c := *in
		c.KeyID = ref.Raw
		in = &c
	}
	var out *KeyMetadata
	err = f.run(ctx, &Call{Op: op, KeyID: in.KeyID}, func(ctx context.Context, c *Call) error {
		o, err := d.DescribeKey(ctx, in)
		if err != nil {
			return err
		}
		if o == nil {
			return Errorf(ErrInternal, op, in.KeyID, "the backend returned no output and no error")
		}
		out, c.ResolvedKeyID = o, o.Arn
		return nil
	})
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	return out, nil
}

// CiphertextKeyID asks every driver the Front reaches whose blobs name their key
// ([CiphertextInspector]), the default first, which key made blob. A blob none of
// them recognises is an error matching [ErrInvalidCiphertext]. It calls no service.
func (f *Front) CiphertextKeyID(blob []byte) (string, error) {
	if len(blob) == 0 {
		return "", Errorf(ErrInvalidCiphertext, "CiphertextKeyID", "", "empty ciphertext")
	}
	for _, b := range f.backends() {
		insp, ok := b.(CiphertextInspector)
		if !ok {
			continue
		}
		if id, err := insp.CiphertextKeyID(blob); err == nil && id != "" {
			return id, nil
		}
	}
	return "", Errorf(ErrInvalidCiphertext, "CiphertextKeyID", "", "no backend recognises the ciphertext")
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
