package cli

import (
	"context"
	"net/url"

	"github.com/hashicorp/vault/api"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/vault"
)

const kindVault = "vault"

func init() {
	addKind(&serviceKind{
		name:     kindVault,
		settings: []string{"address", "namespace"},
		parse: func(_ *url.URL, s *serviceSpec) error {
			s.address, s.namespace = s.query.Get("address"), s.query.Get("namespace")
			return nil
		},
		open: openVault,
	})
	// Without a configured Vault service, a vault://, hashivault:// or
	// hcvault:// key opens Vault from VAULT_ADDR and VAULT_TOKEN on first use.
	implicitSchemes = append(implicitSchemes, vault.Scheme, vault.GocloudScheme, vault.TinkScheme)
}

// openVault opens a configured Vault Transit service: its address, else
// VAULT_ADDR; the token from VAULT_TOKEN.
func openVault(_ context.Context, spec *serviceSpec, _ openOptions) (*service, error) {
	cfg := api.DefaultConfig() // reads VAULT_ADDR, VAULT_TOKEN, TLS settings
	if cfg.Error != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, "", "", cfg.Error)
	}
	if spec.address != "" {
		cfg.Address = spec.address
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, "", "", err)
	}
	vb, err := vault.New(vault.Options{Client: c, Namespace: spec.namespace})
	if err != nil {
		return nil, err
	}
	return &service{spec: spec, backend: vb, schemes: []string{vault.Scheme}}, nil
}
