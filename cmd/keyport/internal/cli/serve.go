package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/cobra"

	"github.com/keyport/keyport"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/kmsapi"
)

// ServeConfig is the configuration file of keyport serve (TOML). See
// "keyport serve --help".
type ServeConfig struct {
	// Listen is the address to serve on (default 127.0.0.1:4599).
	Listen string `toml:"listen"`
	// MaxRequestBytes limits request bodies (default kmsapi.DefaultMaxRequestBytes).
	MaxRequestBytes int64 `toml:"max-request-bytes"`
	// ShutdownGrace is how long a stopped server waits for requests in flight
	// (default 10s).
	ShutdownGrace string `toml:"shutdown-grace"`
	// AccessLog turns the per-request access log on.
	AccessLog bool       `toml:"access-log"`
	TLS       *ServeTLS  `toml:"tls"`
	Quota     ServeQuota `toml:"quota"`
	// Regions are the key stores, one per region.
	Regions    []ServeRegion    `toml:"regions"`
	Principals []ServePrincipal `toml:"principals"`
	// ExternalKeys put keys of other providers behind KMS key IDs.
	ExternalKeys []ServeExternalKey `toml:"external-keys"`
}

// ServeTLS is either a certificate and key (PEM files) or a self-signed
// certificate for loopback, written to SelfSigned for clients to trust.
type ServeTLS struct {
	Cert       string   `toml:"cert"`
	Key        string   `toml:"key"`
	SelfSigned string   `toml:"self-signed"`
	Hosts      []string `toml:"hosts"`
}

// ServeQuota is every principal's default request quota.
type ServeQuota struct {
	RequestsPerSecond float64 `toml:"requests-per-second"`
	Burst             int     `toml:"burst"`
}

// ServeRegion is the key store of one region: a store file (opened or
// created), or none for keys kept in memory.
type ServeRegion struct {
	Region      string `toml:"region"`
	Store       string `toml:"store"`
	RootKeyFile string `toml:"root-key-file"`
}

// ServePrincipal is a caller: its access key, and the account and principal ARN
// that key policies and grants see. The secret is given in the file, or read
// from an environment variable.
type ServePrincipal struct {
	AccessKeyID        string      `toml:"access-key-id"`
	SecretAccessKey    string      `toml:"secret-access-key"`
	SecretAccessKeyEnv string      `toml:"secret-access-key-env"`
	SessionToken       string      `toml:"session-token"`
	Account            string      `toml:"account"`
	ARN                string      `toml:"arn"`
	Quota              *ServeQuota `toml:"quota"`
}

// ServeExternalKey maps a KMS key ID and aliases to a key URL (see
// kmsapi.ExternalKey).
type ServeExternalKey struct {
	Account     string   `toml:"account"`
	Region      string   `toml:"region"`
	KeyID       string   `toml:"key-id"`
	Aliases     []string `toml:"aliases"`
	URL         string   `toml:"url"`
	Description string   `toml:"description"`
	Principals  []string `toml:"principals"`
}

// serveGrace is the graceful-shutdown period of a running serve command, for
// Main: on SIGINT or SIGTERM it waits that long for the command to drain.
var serveGrace atomic.Int64

const serveLong = `keyport serve answers the AWS KMS API (the JSON protocol every AWS SDK, the
AWS CLI and the AWS Encryption SDKs speak) over keyport's embedded key service,
one store per region, and over any other key service for the keys mapped to it.
Every request is signed with AWS Signature Version 4 by one of the configured
principals, whose account and ARN key policies and grants see.

The configuration file (TOML):

  listen = "127.0.0.1:4599"
  access-log = true
  [tls]                       # omit for plain HTTP
  self-signed = "ca.pem"      # or cert = "cert.pem" and key = "key.pem"
  [quota]                     # every principal's default; omit for none
  requests-per-second = 100
  burst = 200
  [[regions]]
  region = "us-east-1"
  store = "keys-us-east-1.db" # omit to keep the keys in memory
  root-key-file = "root.key"  # default: env ` + local.RootKeyEnv + `
  [[principals]]
  access-key-id = "AKIDAPP"
  secret-access-key-env = "APP_SECRET"   # or secret-access-key = "..."
  account = "111122223333"
  arn = "arn:aws:iam::111122223333:role/app"   # default: the account's root
  [[external-keys]]
  account = "111122223333"
  region = "us-east-1"
  aliases = ["alias/vault-orders"]
  url = "vault://transit/orders"

It prints the URL it serves on, and on SIGINT or SIGTERM stops accepting
connections and lets the requests in flight finish. GET /healthz answers
without authentication.`

func newServeCmd(a *app) *cobra.Command {
	var listen string
	c := &cobra.Command{
		Use:   "serve CONFIG",
		Short: "Serve the AWS KMS API over keyport's key services",
		Long:  serveLong,
		Example: `  keyport serve serve.toml
  aws kms --endpoint-url https://127.0.0.1:4599 --ca-bundle ca.pem create-key`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{"noConfig": "1"},
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			cfg, err := loadServeConfig(args[0])
			if err != nil {
				return err
			}
			if listen != "" {
				cfg.Listen = listen
			}
			return a.serve(cmd.Context(), cfg)
		}),
	}
	c.Flags().StringVar(&listen, "listen", "", "`address` to serve on (overrides the file's listen)")
	return c
}

// loadServeConfig reads and checks the configuration file; unknown settings are
// usage errors.
func loadServeConfig(path string) (*ServeConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("serve configuration: %v", err)
	}
	cfg := &ServeConfig{}
	d := toml.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(cfg); err != nil {
		return nil, usagef("serve configuration %s: %v", path, err)
	}
	if len(cfg.Regions) == 0 {
		return nil, usagef("serve configuration %s: no [[regions]]", path)
	}
	if len(cfg.Principals) == 0 {
		return nil, usagef("serve configuration %s: no [[principals]]", path)
	}
	base := filepath.Dir(path)
	rel := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	}
	for i := range cfg.Regions {
		cfg.Regions[i].Store, cfg.Regions[i].RootKeyFile = rel(cfg.Regions[i].Store), rel(cfg.Regions[i].RootKeyFile)
	}
	if t := cfg.TLS; t != nil {
		t.Cert, t.Key, t.SelfSigned = rel(t.Cert), rel(t.Key), rel(t.SelfSigned)
		if (t.SelfSigned == "") == (t.Cert == "" && t.Key == "") || (t.Cert == "") != (t.Key == "") {
			return nil, usagef("serve configuration %s: [tls] takes cert and key, or self-signed", path)
		}
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:4599"
	}
	return cfg, nil
}

// serve opens the stores, serves until ctx is done, and closes the stores.
func (a *app) serve(ctx context.Context, cfg *ServeConfig) error {
	grace := 10 * time.Second
	if cfg.ShutdownGrace != "" {
		d, err := time.ParseDuration(cfg.ShutdownGrace)
		if err != nil || d < 0 {
			return usagef("serve configuration: shutdown-grace %q is not a duration", cfg.ShutdownGrace)
		}
		grace = d
	}
	opts := kmsapi.Options{MaxRequestBytes: cfg.MaxRequestBytes,
		Quota: kmsapi.Quota{RequestsPerSecond: cfg.Quota.RequestsPerSecond, Burst: cfg.Quota.Burst}}
	defer func() {
		for _, s := range opts.Services {
			_ = s.Close()
		}
	}()
	for _, r := range cfg.Regions {
		var lopts []local.Option
		if r.Region != "" {
			lopts = append(lopts, local.WithRegion(r.Region))
		}
		if r.Store == "" {
			opts.Services = append(opts.Services, local.New(lopts...))
			continue
		}
		if r.RootKeyFile != "" {
			lopts = append(lopts, local.WithRootKeyFile(r.RootKeyFile))
		}
		st, err := local.Open(r.Store, lopts...)
		if err != nil {
			if errors.Is(err, local.ErrInvalidRootKey) {
				return fmt.Errorf("store %s: %w (give root-key-file, or %s)", r.Store, err, local.RootKeyEnv)
			}
			return fmt.Errorf("store %s: %w", r.Store, err)
		}
		opts.Services = append(opts.Services, st)
	}
	for _, p := range cfg.Principals {
		secret := p.SecretAccessKey
		if p.SecretAccessKeyEnv != "" {
			if secret = os.Getenv(p.SecretAccessKeyEnv); secret == "" {
				return usagef("principal %s: the environment variable %s is empty", p.AccessKeyID, p.SecretAccessKeyEnv)
			}
		}
		kp := kmsapi.Principal{AccessKeyID: p.AccessKeyID, SecretAccessKey: secret, SessionToken: p.SessionToken, Account: p.Account, ARN: p.ARN}
		if p.Quota != nil {
			kp.Quota = &kmsapi.Quota{RequestsPerSecond: p.Quota.RequestsPerSecond, Burst: p.Quota.Burst}
		}
		opts.Principals = append(opts.Principals, kp)
	}
	if len(cfg.ExternalKeys) > 0 {
		opts.Front = keyport.NewFront()
		defer opts.Front.Close()
		for _, e := range cfg.ExternalKeys {
			opts.ExternalKeys = append(opts.ExternalKeys, kmsapi.ExternalKey{Account: e.Account, Region: e.Region, KeyID: e.KeyID,
				Aliases: e.Aliases, URL: e.URL, Description: e.Description, Principals: e.Principals})
		}
	}
	if cfg.AccessLog {
		opts.AccessLog = a.logger()
	}
	srv, err := kmsapi.New(opts)
	if err != nil {
		return usagef("serve configuration: %v", err)
	}
	var tlsCfg *tls.Config
	scheme := "http"
	if t := cfg.TLS; t != nil {
		scheme = "https"
		if t.SelfSigned != "" {
			var pem []byte
			if tlsCfg, pem, err = kmsapi.SelfSignedTLS(365*24*time.Hour, t.Hosts...); err != nil {
				return err
			}
			if err := os.WriteFile(t.SelfSigned, pem, 0o644); err != nil {
				return fmt.Errorf("writing the self-signed certificate: %w", err)
			}
		} else if tlsCfg, err = kmsapi.LoadTLS(t.Cert, t.Key); err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	serveGrace.Store(int64(grace))
	defer serveGrace.Store(0)
	fmt.Fprintf(a.stdout, "keyport serve: listening on %s://%s\n", scheme, ln.Addr())
	return kmsapi.Serve(ctx, ln, srv, tlsCfg, grace)
}
