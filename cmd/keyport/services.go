package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/backends/vault"
)

// defaultAccount is the account of the embedded service's caller when
// --account is not given.
const defaultAccount = "111122223333"

// serviceFlags choose the key services. They are registered on the top-level
// flag set and again on each command's, so they may be given on either side of
// the command name.
type serviceFlags struct {
	store       string // local store file
	rootKeyFile string
	account     string // caller's account at the local service
	awsOn       bool
	awsEndpoint string
	awsRegion   string
	awsAccount  string
	noVault     bool
}

func (sf *serviceFlags) register(fs *flag.FlagSet) {
	// The current values are the defaults, so registering again on a command's
	// flag set keeps what the top-level flags set.
	fs.StringVar(&sf.store, "store", orEnv(sf.store, "KEYPORT_STORE"), "embedded local key service persisted to this `file` (env KEYPORT_STORE); root key from "+local.RootKeyEnv+" or --root-key-file")
	fs.StringVar(&sf.rootKeyFile, "root-key-file", sf.rootKeyFile, "`file` holding the local store's 32-byte root key (raw or base64)")
	fs.StringVar(&sf.account, "account", orDefault(sf.account, defaultAccount), "AWS `account` ID the local service is used as")
	fs.BoolVar(&sf.awsOn, "aws", sf.awsOn, "use AWS KMS (region and credentials from the AWS SDK configuration)")
	fs.StringVar(&sf.awsEndpoint, "aws-endpoint", sf.awsEndpoint, "use AWS KMS at this endpoint `URL` (implies --aws; e.g. local-kms)")
	fs.StringVar(&sf.awsRegion, "aws-region", sf.awsRegion, "AWS `region` (default: from the SDK configuration)")
	fs.StringVar(&sf.awsAccount, "aws-account", sf.awsAccount, "AWS `account` ID of the credentials (default: the SDK credentials' account ID, AWS_ACCOUNT_ID)")
	fs.BoolVar(&sf.noVault, "no-vault", sf.noVault, "do not use Vault even when VAULT_ADDR is set")
}

func orEnv(v, name string) string {
	if v != "" {
		return v
	}
	return os.Getenv(name)
}

func orDefault(v, d string) string {
	if v != "" {
		return v
	}
	return d
}

// services are the key services a command uses, wired into one Front.
type services struct {
	router backends.Front
	local  *local.Service // nil without --store
	client *local.Client  // the caller's view of local
}

// Close wipes the local service's keys from memory.
func (s *services) Close() {
	if s.local != nil {
		_ = s.local.Close()
	}
}

// openServices opens the services the flags and environment name. At least
// one must be configured.
func openServices(ctx context.Context, sf *serviceFlags) (*services, error) {
	s := &services{}
	ok := false
	if sf.store != "" {
		if !backends.IsAccountID(sf.account) {
			return nil, usagef("--account %q is not a 12-digit AWS account ID", truncate(sf.account))
		}
		var opts []local.Option
		if sf.rootKeyFile != "" {
			opts = append(opts, local.WithRootKeyFile(sf.rootKeyFile))
		}
		svc, err := local.Open(sf.store, opts...)
		if err != nil {
			return nil, fmt.Errorf("open local store %s: %w", sf.store, err)
		}
		s.local = svc
		s.client = svc.Client(local.Identity{Account: sf.account})
		s.router.SetDefault(s.client)
		// The service holds many accounts: every account's ARNs are its own. A
		// key of another account is reachable only as its policy allows.
		if err := s.router.RegisterPartitionAccount(svc.Partition(), sf.account, svc.Region(), s.client); err != nil {
			s.Close()
			return nil, err
		}
		ok = true
	}
	if sf.awsOn || sf.awsEndpoint != "" {
		if err := s.addAWS(ctx, sf); err != nil {
			s.Close()
			return nil, err
		}
		ok = true
	}
	if addr := os.Getenv("VAULT_ADDR"); addr != "" && !sf.noVault {
		vb, err := vault.New(vault.Options{}) // VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE
		if err == nil {
			err = vb.Register(&s.router)
		}
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("vault at %s: %w", addr, err)
		}
		ok = true
	}
	if !ok {
		return nil, usagef("no key service: give --store FILE (embedded local service), --aws or --aws-endpoint URL (AWS KMS), or set VAULT_ADDR (Vault Transit)")
	}
	return s, nil
}

// addAWS registers an AWS KMS backend built from the SDK's default
// configuration.
func (s *services) addAWS(ctx context.Context, sf *serviceFlags) error {
	var lo []func(*config.LoadOptions) error
	if sf.awsRegion != "" {
		lo = append(lo, config.WithRegion(sf.awsRegion))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return backends.Wrap(backends.ErrInvalidArgument, "LoadConfig", "", err)
	}
	if cfg.Region == "" {
		return usagef("AWS KMS needs a region: set AWS_REGION or give --aws-region")
	}
	account := sf.awsAccount
	if account == "" && cfg.Credentials != nil {
		// Credentials carry an account ID when the SDK knows it (AWS_ACCOUNT_ID,
		// SSO, shared config's aws_account_id). No network call for static ones.
		if creds, err := cfg.Credentials.Retrieve(ctx); err == nil {
			account = creds.AccountID
		}
	}
	var opts []awskms.Option
	if sf.awsEndpoint != "" {
		opts = append(opts, awskms.WithEndpoint(sf.awsEndpoint))
	}
	if account != "" {
		if !backends.IsAccountID(account) {
			return usagef("AWS account %q is not a 12-digit account ID", truncate(account))
		}
		opts = append(opts, awskms.WithAccount(account))
	}
	b, err := awskms.NewFromConfig(cfg, opts...)
	if err != nil {
		return err
	}
	if err := b.Register(&s.router); err != nil {
		return err
	}
	if s.router.Default() == nil {
		s.router.SetDefault(b) // bare key IDs and aliases go to AWS without a local store
	}
	return nil
}
