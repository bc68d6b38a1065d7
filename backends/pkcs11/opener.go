package pkcs11

import (
	"context"
	"net/url"
	"path/filepath"
	"sync"

	"github.com/keyport/keyport/backends"
)

// Opener opens the [Backend] that serves a pkcs11: key URL: the
// [backends.URLOpener] of the scheme pkcs11. The library is the configured one,
// Options.Module, else KEYPORT_PKCS11_MODULE; the URL's token= and serial=
// attributes (else Options.Token and Options.Serial) select the token; the PIN
// comes from Options or the environment, never from the URL. One Backend is
// opened per token and shared by every URL that names it, so each token is
// logged in once. The zero Opener is ready for use; Close closes what it opened.
//
// A URL's module-path must name the configured library, or the URL is refused:
// key URLs also come from message headers, and loading a library a message
// names would run its code in this process.
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
	mod := absPath(opts.module())
	if ref.ModulePath != "" && absPath(ref.ModulePath) != mod {
		// A key URL may come from a message header: loading the library it
		// names would run that library's code in this process.
		return nil, backends.Errorf(backends.ErrInvalidArgument, "OpenBackendURL", clip(backends.RedactKeyRef(u.String()), 200),
			"module-path names a library other than the configured one (Options.Module or %s): the opener loads only the configured library", EnvModule)
	}
	if ref.Token != "" || ref.Serial != "" {
		opts.Token, opts.Serial = ref.Token, ref.Serial
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

func absPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil && p != "" {
		return abs
	}
	return p
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
