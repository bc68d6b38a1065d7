package pkcs11

import (
	"context"
	"net/url"
	"path/filepath"
	"sync"

	"github.com/keyport/keyport/backends"
)

// Opener opens the [Backend] that serves a pkcs11: key URL: the
// [backends.URLOpener] of the scheme pkcs11. The URL's module-path (else
// Options.Module, else KEYPORT_PKCS11_MODULE) names the library, its token= and
// serial= attributes (else Options.Token and Options.Serial) the token; the PIN
// comes from Options or the environment, never from the URL. One Backend is
// opened per library and token and shared by every URL that names them, so each
// token is logged in once. The zero Opener is ready for use; Close closes what it
// opened.
//
// module-path makes the process load the library it names: open only URLs you
// trust (your own configuration), never key references read from messages.
type Opener struct {
	// Options are the defaults for what a URL leaves out.
	Options Options

	mu     sync.Mutex
	opened map[[3]string]*Backend
}

var _ backends.URLOpener = (*Opener)(nil)

// OpenBackendURL returns the Backend for the library and token u names.
func (o *Opener) OpenBackendURL(ctx context.Context, u *url.URL) (backends.Backend, error) {
	ref, err := ParseURI(u.String())
	if err != nil {
		return nil, backends.WithOp(err, "OpenBackendURL")
	}
	opts := o.Options
	if ref.ModulePath != "" {
		opts.Module = ref.ModulePath
	}
	if ref.Token != "" || ref.Serial != "" {
		opts.Token, opts.Serial = ref.Token, ref.Serial
	}
	mod := opts.module()
	if abs, err := filepath.Abs(mod); err == nil && mod != "" {
		mod = abs
	}
	k := [3]string{mod, opts.Token, opts.Serial}
	o.mu.Lock()
	defer o.mu.Unlock()
	if b := o.opened[k]; b != nil {
		return b, nil
	}
	b, err := Open(ctx, opts)
	if err != nil {
		return nil, err
	}
	// Another selection (by serial, or none) may have opened this token already.
	for _, x := range o.opened {
		if x.Module() == b.Module() && x.Serial() == b.Serial() {
			_ = b.Close()
			b = x
			break
		}
	}
	if o.opened == nil {
		o.opened = map[[3]string]*Backend{}
	}
	o.opened[k] = b
	return b, nil
}

// Close closes every Backend the opener opened.
func (o *Opener) Close() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	for k, b := range o.opened {
		_ = b.Close() // Close is idempotent: a Backend under two keys is closed once
		delete(o.opened, k)
	}
	return nil
}
