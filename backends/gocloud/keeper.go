package gocloud

import (
	"context"
	"errors"
	"net/url"
	"strings"

	"github.com/keyport/keyport/backends"
	"gocloud.dev/gcerrors"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/driver"
)

// KeeperScheme is the URL scheme under which RegisterKeeper registers keyport
// with a gocloud secrets.URLMux: keyport:///<key reference>.
const KeeperScheme = "keyport"

// Driver is a keyport key as a gocloud.dev secrets driver (driver.Keeper): gocloud
// users encrypt and decrypt under any key a keyport backend reaches (the local
// service, AWS KMS, Vault, a Tink keyset, a backends.Front). Wrap it with
// secrets.NewKeeper, or use OpenKeeper.
type Driver struct {
	b     backends.Backend
	keyID string
	ec    map[string]string
}

var _ driver.Keeper = (*Driver)(nil)

// KeeperOptions configure a Driver.
type KeeperOptions struct {
	// EncryptionContext is bound to every ciphertext the keeper makes and must be
	// the same to decrypt: gocloud's Keeper has no context of its own.
	EncryptionContext map[string]string
}

// NewDriver returns the key keyID of b as a gocloud driver.Keeper.
func NewDriver(b backends.Backend, keyID string, opts *KeeperOptions) *Driver {
	d := &Driver{b: b, keyID: keyID}
	if opts != nil {
		d.ec = backends.CloneEncryptionContext(opts.EncryptionContext)
	}
	return d
}

// OpenKeeper returns the key keyID of b as a gocloud *secrets.Keeper.
func OpenKeeper(b backends.Backend, keyID string, opts *KeeperOptions) *secrets.Keeper {
	return secrets.NewKeeper(NewDriver(b, keyID, opts))
}

// Encrypt encrypts plaintext under the driver's key and context.
func (d *Driver) Encrypt(ctx context.Context, plaintext []byte) ([]byte, error) {
	out, err := d.b.Encrypt(ctx, &backends.EncryptInput{KeyID: d.keyID, Plaintext: plaintext, EncryptionContext: d.ec})
	if err != nil {
		return nil, err
	}
	return out.CiphertextBlob, nil
}

// Decrypt decrypts a ciphertext of the driver's key and context.
func (d *Driver) Decrypt(ctx context.Context, ciphertext []byte) ([]byte, error) {
	out, err := d.b.Decrypt(ctx, &backends.DecryptInput{KeyID: d.keyID, CiphertextBlob: ciphertext, EncryptionContext: d.ec})
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

// Close does nothing: the backend belongs to the caller.
func (d *Driver) Close() error { return nil }

// ErrorAs reaches the *backends.Error (and through it the service's own error)
// with errors.As; it panics on a nil i, as gocloud requires.
func (d *Driver) ErrorAs(err error, i any) bool { return errors.As(err, i) }

// kindCodes maps the taxonomy onto gocloud's portable codes.
var kindCodes = map[*backends.Kind]gcerrors.ErrorCode{
	backends.ErrNotFound:          gcerrors.NotFound,
	backends.ErrDisabled:          gcerrors.FailedPrecondition,
	backends.ErrInvalidState:      gcerrors.FailedPrecondition,
	backends.ErrInvalidCiphertext: gcerrors.InvalidArgument,
	backends.ErrIncorrectKey:      gcerrors.InvalidArgument,
	backends.ErrInvalidKeyUsage:   gcerrors.InvalidArgument,
	backends.ErrInvalidGrantToken: gcerrors.PermissionDenied,
	backends.ErrKeyUnavailable:    gcerrors.ResourceExhausted,
	backends.ErrDependencyTimeout: gcerrors.DeadlineExceeded,
	backends.ErrAccessDenied:      gcerrors.PermissionDenied,
	backends.ErrThrottling:        gcerrors.ResourceExhausted,
	backends.ErrUnsupported:       gcerrors.Unimplemented,
	backends.ErrInternal:          gcerrors.Internal,
	backends.ErrInvalidArgument:   gcerrors.InvalidArgument,
	backends.ErrAlreadyExists:     gcerrors.AlreadyExists,
	backends.ErrLimitExceeded:     gcerrors.ResourceExhausted,
	backends.ErrInvalidArn:        gcerrors.InvalidArgument,
	backends.ErrInvalidAliasName:  gcerrors.InvalidArgument,
	backends.ErrInvalidMarker:     gcerrors.InvalidArgument,
	backends.ErrCanceled:          gcerrors.Canceled,
}

// ErrorCode returns the gocloud code of err's kind (Unknown for none).
func (d *Driver) ErrorCode(err error) gcerrors.ErrorCode {
	if c, ok := kindCodes[backends.KindOf(err)]; ok {
		return c
	}
	return gcerrors.Unknown
}

// URLOpener opens keyport:///<key reference> URLs (keyport:///alias/orders,
// keyport:///arn:aws:kms:..., keyport:///vault://transit/orders) as keepers over
// Backend; keyport://alias/orders, with the reference starting in the host, is
// taken too. Query parameters of the form context.<key>=<value> make the keeper's
// encryption context; no other parameter is taken.
type URLOpener struct {
	Backend backends.Backend
}

var _ secrets.KeeperURLOpener = (*URLOpener)(nil)

// OpenKeeperURL opens the keeper u names.
func (o *URLOpener) OpenKeeperURL(_ context.Context, u *url.URL) (*secrets.Keeper, error) {
	ref := u.Host + u.Path
	if u.Host == "" {
		ref = strings.TrimPrefix(u.Path, "/")
	}
	if ref == "" || u.Opaque != "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "OpenKeeper", "", "want %s:///<key reference>", KeeperScheme)
	}
	var opts KeeperOptions
	for k, vs := range u.Query() {
		name, ok := strings.CutPrefix(k, "context.")
		if !ok || len(vs) != 1 {
			return nil, backends.Errorf(backends.ErrInvalidArgument, "OpenKeeper", ref, "invalid query parameter %q: want context.<key>=<value>, once", k)
		}
		if opts.EncryptionContext == nil {
			opts.EncryptionContext = make(map[string]string)
		}
		opts.EncryptionContext[name] = vs[0]
	}
	return OpenKeeper(o.Backend, ref, &opts), nil
}

// RegisterKeeper registers keyport's URL opener over b with mux under
// KeeperScheme, so that mux.OpenKeeper(ctx, "keyport:///alias/orders") opens a
// keeper over b. Nothing registers itself: call it for the mux you use
// (secrets.DefaultURLMux() for secrets.OpenKeeper).
func RegisterKeeper(mux *secrets.URLMux, b backends.Backend) {
	mux.RegisterKeeper(KeeperScheme, &URLOpener{Backend: b})
}
