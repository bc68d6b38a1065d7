package backends

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"slices"
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
	return f.claimScheme("Register", scheme, "backend", b == nil, func(scheme string) {
		if f.schemes == nil {
			f.schemes = make(map[string]Backend)
		}
		f.schemes[scheme] = b
	})
}

// RegisterOpener makes o open the driver of a URI of the given scheme when a call
// first names one; the Front keeps what o returns for the URIs it is asked about
// again (o may cache per service, see [URLOpener]). An ARN that no account route
// claims goes to the opener of the "awskms" scheme, if there is one, as the URL
// awskms:///ARN. It is an error to register a scheme twice.
func (f *Front) RegisterOpener(scheme string, o URLOpener) error {
	return f.claimScheme("RegisterOpener", scheme, "opener", o == nil, func(scheme string) {
		if f.openers == nil {
			f.openers = make(map[string]URLOpener)
		}
		f.openers[scheme] = o
	})
}

// Close closes, once each, the URL openers registered with f that have a Close
// method, and so what they opened (HSM sessions, gRPC connections, keepers). It
// closes no backend given to Register, RegisterAccount or SetDefault: whoever
// made one closes it. f is not used after Close.
func (f *Front) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	var closers []io.Closer
	for _, o := range f.openers {
		c, ok := o.(io.Closer)
		if !ok || slices.ContainsFunc(closers, func(x io.Closer) bool { return sameCloser(x, c) }) {
			continue
		}
		closers = append(closers, c)
	}
	var errs []error
	for _, c := range closers {
		if err := c.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// sameCloser reports whether a and b are one pointer: an opener registered
// under several schemes is closed once.
func sameCloser(a, b io.Closer) bool {
	ta := reflect.TypeOf(a)
	return ta == reflect.TypeOf(b) && ta.Kind() == reflect.Pointer && a == b
}

// claimScheme checks, for op, a scheme and whether what is registered under it
// (a backend or an opener) is missing, and calls set with the lower-cased
// scheme, under f.mu, when no backend or opener has it yet.
func (f *Front) claimScheme(op, scheme, what string, missing bool, set func(scheme string)) error {
	scheme = strings.ToLower(scheme)
	if !isScheme(scheme) {
		return Errorf(ErrInvalidArgument, op, "", "invalid scheme %q", scheme)
	}
	if missing {
		return Errorf(ErrInvalidArgument, op, "", "nil %s for scheme %q", what, scheme)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, dup := f.schemes[scheme]; dup {
		return Errorf(ErrAlreadyExists, op, "", "scheme %q already has a backend", scheme)
	}
	if _, dup := f.openers[scheme]; dup {
		return Errorf(ErrAlreadyExists, op, "", "scheme %q already has an opener", scheme)
	}
	set(scheme)
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
	return f.routeRef(ctx, ref)
}

// routeRef is route for a parsed reference.
func (f *Front) routeRef(ctx context.Context, ref KeyRef) (Backend, KeyRef, error) {
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
	return nil, ref, Errorf(ErrNotFound, "", ref.Raw, "no backend is registered for this %s", describeRoute(ref))
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
		return nil, ref, label(ctx, "", ref.Raw, fmt.Errorf("opening the service of %s: %w", truncate(RedactKeyRef(ref.Raw), 120), err))
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
