package gcpkms

import (
	"context"
	"net/url"
	"sync"

	"github.com/keyport/keyport/backends"
)

// Opener opens the Backend that serves gcpkms:// and gcp-kms:// key URLs. A
// Cloud KMS URL names a key, not a service address, so every URL opens the same
// Backend, made on first use from Options (Application Default Credentials unless
// Options says otherwise). It is safe for concurrent use.
type Opener struct {
	Options Options

	once sync.Once
	b    *Backend
	err  error
}

var _ backends.URLOpener = (*Opener)(nil)

// OpenBackendURL returns the shared Backend after checking that u names a key.
func (o *Opener) OpenBackendURL(ctx context.Context, u *url.URL) (backends.Backend, error) {
	if _, err := ParseRef(u.String()); err != nil {
		return nil, backends.WithOp(err, "OpenBackendURL")
	}
	o.once.Do(func() { o.b, o.err = New(context.WithoutCancel(ctx), o.Options) })
	if o.err != nil {
		return nil, o.err
	}
	return o.b, nil
}

// Close closes the Backend the opener made, if any.
func (o *Opener) Close() error {
	if o.b != nil {
		return o.b.Close()
	}
	return nil
}

// Register registers o with f for the gcpkms:// and gcp-kms:// schemes.
func (o *Opener) Register(f *backends.Front) error {
	for _, s := range []string{Scheme, TinkScheme} {
		if err := f.RegisterOpener(s, o); err != nil {
			return err
		}
	}
	return nil
}
