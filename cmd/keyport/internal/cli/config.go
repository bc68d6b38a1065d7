package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"
)

// ConfigEnv is the environment variable that names the configuration file.
const ConfigEnv = "KEYPORT_CONFIG"

// defaultConfigHint is how help texts name the default location.
const defaultConfigHint = "$XDG_CONFIG_HOME/keyport/config.toml, usually ~/.config/keyport/config.toml"

// Config is the configuration file (TOML): profiles that name key services by
// URL. See "keyport help config".
type Config struct {
	// Profile is the profile used when --profile is not given.
	Profile  string              `toml:"profile"`
	Profiles map[string]*Profile `toml:"profiles"`
}

// Profile is one named set of services and defaults.
type Profile struct {
	// Output is the default result format (text or json).
	Output string `toml:"output"`
	// DefaultService names the service that owns bare key IDs and alias names
	// when several services could.
	DefaultService string `toml:"default-service"`
	// Services by name.
	Services map[string]ServiceConfig `toml:"services"`
}

// ServiceConfig is one key service.
type ServiceConfig struct {
	// URL names the service and its settings (see "keyport help config").
	URL string `toml:"url"`
}

// DefaultConfigPath returns the default location of the configuration file.
func DefaultConfigPath() (string, error) {
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "keyport", "config.toml"), nil
}

// loadConfig reads the configuration file and picks the profile: --config
// (an empty value: no file), else KEYPORT_CONFIG, else the default location,
// which may be absent.
func (a *app) loadConfig(cmd *cobra.Command) error {
	path, explicit := a.g.configPath, true
	switch {
	case cmd.Flags().Changed("config"):
	case os.Getenv(ConfigEnv) != "":
		path = os.Getenv(ConfigEnv)
	default:
		explicit = false
		p, err := DefaultConfigPath()
		if err != nil {
			path = ""
		} else {
			path = p
		}
	}
	cfg := &Config{}
	if path != "" {
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, fs.ErrNotExist) && !explicit:
		case err != nil:
			return usagef("configuration file: %v", err)
		default:
			if cfg, err = parseConfig(data); err != nil {
				return usagef("configuration file %s: %v", path, err)
			}
		}
	}
	a.g.cfg = cfg
	name, named := a.g.profile, cmd.Flags().Changed("profile")
	if !named {
		name = cfg.Profile
		named = name != ""
	}
	if name == "" {
		name = "default"
	}
	p, ok := cfg.Profiles[name]
	if !ok && named {
		return usagef("profile %q is not in the configuration file %s (profiles: %s)", name, orNone(path), orNone(strings.Join(cfg.profileNames(), ", ")))
	}
	if p == nil {
		p = &Profile{}
	}
	a.g.prof = p
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func (c *Config) profileNames() []string {
	var names []string
	for n := range c.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// parseConfig decodes a configuration file strictly: an unknown setting is an
// error (a typo must not be ignored).
func parseConfig(data []byte) (*Config, error) {
	cfg := &Config{}
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		var sm *toml.StrictMissingError
		if errors.As(err, &sm) {
			return nil, fmt.Errorf("unknown setting: %s", strings.TrimSpace(sm.String()))
		}
		var de *toml.DecodeError
		if errors.As(err, &de) {
			row, col := de.Position()
			return nil, fmt.Errorf("line %d, column %d: %v", row, col, de)
		}
		return nil, err
	}
	if cfg.Profile != "" {
		if _, ok := cfg.Profiles[cfg.Profile]; !ok {
			return nil, fmt.Errorf("profile = %q names no [profiles.%s] table", cfg.Profile, cfg.Profile)
		}
	}
	for name, p := range cfg.Profiles {
		if p == nil {
			continue
		}
		switch p.Output {
		case "", "text", "json":
		default:
			return nil, fmt.Errorf("profiles.%s.output must be text or json, not %q", name, p.Output)
		}
		for sname, s := range p.Services {
			if s.URL == "" {
				return nil, fmt.Errorf("profiles.%s.services.%s has no url", name, sname)
			}
			if _, err := parseServiceURL(sname, s.URL); err != nil {
				return nil, fmt.Errorf("profiles.%s.services.%s: %v", name, sname, err)
			}
		}
		if p.DefaultService != "" {
			if _, ok := p.Services[p.DefaultService]; !ok {
				return nil, fmt.Errorf("profiles.%s.default-service = %q names no service of the profile", name, p.DefaultService)
			}
		}
	}
	return cfg, nil
}

func newConfigTopic() *cobra.Command {
	return &cobra.Command{
		Use:   "config",
		Short: "The configuration file: profiles, key services by URL, environment variables",
		Long: `keyport reads one configuration file: the file --config names (--config ""
reads none), else the file KEYPORT_CONFIG names, else ` + defaultConfigHint + `
if it exists. It is TOML:

    profile = "dev"                 # used when --profile is not given (default: "default")

    [profiles.dev]
    output = "json"                 # default --output
    default-service = "store"       # owns bare key IDs and alias/Names when several services could

    [profiles.dev.services.store]
    url = "local:///home/me/keys.db?account=111122223333"

    [profiles.dev.services.aws]
    url = "awskms://?region=eu-west-1&account=444455556666"

    [profiles.dev.services.vault]
    url = "vault://?address=https://vault.example.com:8200"

Service URLs (one kind per scheme):

    local:PATH?account=ID[&root-key-file=FILE]
        the embedded key service in the store file PATH (relative, or local:///abs/path),
        used as the caller ACCOUNT (required: it is never guessed)
    awskms://?region=R[&account=ID][&endpoint=URL][&profile=P]
        AWS KMS with the AWS SDK's credentials (AWS profile P); ENDPOINT for a server
        that speaks the KMS API (local-kms); ACCOUNT routes the account's ARNs here and is
        required with an endpoint
    vault://[?address=URL][&namespace=NS]
        Vault Transit (keys vault://MOUNT/NAME); token from VAULT_TOKEN; address from
        VAULT_ADDR when the URL has none

Routing: key URLs go to the service of their scheme; key and alias ARNs to the
service that claims their account (and region); bare key IDs and alias/Names to
the default service: the only service that takes them (local, awskms), or
default-service. Two services claiming the same account and region, or the same
scheme, are an error that names both and the fix.

Key URLs of a scheme no configured service serves open their service on first
use, as package keyport's table says: vault://MOUNT/KEY, hashivault://,
hcvault:// (Vault, from VAULT_ADDR and VAULT_TOKEN), gcpkms://, gcp-kms://
(Google Cloud KMS, Application Default Credentials), azurekv://, https://,
azurekeyvault:// (Azure Key Vault, DefaultAzureCredential), pkcs11: (PKCS#11).
awskms:/// and aws-kms:// open AWS KMS from the SDK's configuration only when
such a key is named on the command line: an ARN that no configured service
claims never reaches AWS unasked.

Service flags add services to the profile's: --store FILE (service "store",
also KEYPORT_STORE; --store "" turns it off) with --account and --root-key-file,
--aws / --aws-endpoint URL (service "aws") with --aws-region and --aws-account,
--service-url [NAME=]URL for any URL above. A flag's service replaces the profile's
service of the same name.

Nothing is switched on by the environment alone: VAULT_ADDR does not enable
Vault; a vault:// key (on the command line or in a message's header) or a
configured vault service does. Environment variables hold only secrets and paths: KEYPORT_CONFIG,
KEYPORT_STORE, KEYPORT_LOCAL_ROOT_KEY (the store's root key, see "keyport
root-key"), VAULT_TOKEN (and VAULT_ADDR for a vault:// key without an address),
KEYPORT_PKCS11_MODULE, KEYPORT_PKCS11_PIN_FILE and KEYPORT_PKCS11_PIN (a
pkcs11: key's library and PIN), and the AWS SDK's own (AWS_PROFILE, AWS_REGION,
credentials).`,
	}
}
