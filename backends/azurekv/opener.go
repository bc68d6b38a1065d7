package azurekv

import (
	"context"
	"net/url"
	"sync"

	"github.com/keyport/keyport/backends"
)

// Opener opens the Backend that serves azurekv:// URLs, Key Vault's https://
// key identifiers and gocloud.dev's azurekeyvault:// URLs. The URL names the vault and the key; the
// credential comes from Options (never from the URL). Every URL opens the same
// Backend, made on first use, which keeps one client per vault. Register it for
// both schemes; it is safe for concurrent use.
type Opener struct {
	Options Options

	once sync.Once
	b    *Backend
	err  error
}

var _ backends.URLOpener = (*Opener)(nil)

// OpenBackendURL returns the shared Backend after checking that u names a key.
func (o *Opener) OpenBackendURL(_ context.Context, u *url.URL) (backends.Backend, error) {
	if _, err := ParseRef(u.String()); err != nil {
		return nil, backends.WithOp(err, "OpenBackendURL")
	}
	o.once.Do(func() { o.b, o.err = New(o.Options) })
	if o.err != nil {
		return nil, o.err
	}
	return o.b, nil
}

// Register registers o with f for the azurekv://, azurekeyvault:// and https://
// schemes.
func (o *Opener) Register(f *backends.Front) error {
	for _, s := range []string{Scheme, GocloudScheme, HTTPSScheme} {
		if err := f.RegisterOpener(s, o); err != nil {
			return err
		}
	}
	return nil
}
