package backends

import (
	"context"
	"net/url"
)

// URLOpener opens the backend that serves the keys a URL names, in the manner of
// gocloud.dev's KeeperURLOpener and Tink's KMS client registry. A driver package
// offers one for each of its URL schemes; a caller registers the ones it wants
// explicitly (nothing registers itself from an init function).
type URLOpener interface {
	// OpenBackendURL returns the backend that serves the key u names. It takes the
	// service's address and settings from u (host, query parameters) and secrets
	// (tokens, PINs, credentials) from the environment or files, never from u. It
	// may return the same backend for every URL of one service, and must be safe
	// for concurrent use.
	OpenBackendURL(ctx context.Context, u *url.URL) (Backend, error)
}

// URLOpenerFunc adapts a function to the URLOpener interface.
type URLOpenerFunc func(ctx context.Context, u *url.URL) (Backend, error)

// OpenBackendURL calls f.
func (f URLOpenerFunc) OpenBackendURL(ctx context.Context, u *url.URL) (Backend, error) {
	return f(ctx, u)
}

var _ URLOpener = URLOpenerFunc(nil)
