package vault

import (
	"context"
	"net/url"
	"os"
	"sync"

	"github.com/hashicorp/vault/api"

	"github.com/keyport/keyport/backends"
)

// Opener opens Vault Transit backends from key URLs, for
// [backends.Front.RegisterOpener] under the schemes vault, hashivault and hcvault.
// It opens one backend per Vault server and reuses it.
//
//   - vault://<mount>/<key> talks to the server of VAULT_ADDR with the token of
//     VAULT_TOKEN (and the other VAULT_* variables of the Vault API client).
//   - hashivault://<key> does the same with gocloud.dev's variables
//     VAULT_SERVER_URL and VAULT_SERVER_TOKEN taking precedence.
//   - hcvault://<host>[:<port>]/<mount>/keys/<key> talks to https://<host>:<port>
//     with the token of VAULT_TOKEN.
//
// The token is read from the environment when the backend is opened, never from
// the URL.
type Opener struct {
	// Options are the options of every backend the Opener makes; Options.Client
	// must be nil (the Opener makes a client per server).
	Options Options

	mu     sync.Mutex
	opened map[string]*Backend // by server address
}

var _ backends.URLOpener = (*Opener)(nil)

// OpenBackendURL returns the backend for the Vault server u names.
func (o *Opener) OpenBackendURL(_ context.Context, u *url.URL) (backends.Backend, error) {
	const op = "OpenBackendURL"
	ref, err := ParseRef(u.String())
	if err != nil {
		return nil, backends.WithOp(err, op)
	}
	cfg := api.DefaultConfig() // VAULT_ADDR and the other VAULT_* variables
	if cfg.Error != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, op, "", cfg.Error)
	}
	token := os.Getenv(api.EnvVaultToken)
	switch {
	case ref.Addr != "":
		cfg.Address = ref.Addr
	case u.Scheme == GocloudScheme:
		if a := os.Getenv("VAULT_SERVER_URL"); a != "" {
			cfg.Address = a
		}
		if t := os.Getenv("VAULT_SERVER_TOKEN"); t != "" {
			token = t
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if b := o.opened[cfg.Address]; b != nil {
		return b, nil
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, op, "", err)
	}
	if token == "" {
		return nil, backends.Errorf(backends.ErrAccessDenied, op, "", "no Vault token: set %s", api.EnvVaultToken)
	}
	c.SetToken(token)
	opts := o.Options
	opts.Client = c
	b, err := New(opts)
	if err != nil {
		return nil, err
	}
	if o.opened == nil {
		o.opened = make(map[string]*Backend)
	}
	o.opened[cfg.Address] = b
	return b, nil
}
