package cli

import (
	"context"
	"fmt"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
)

const kindAWSKMS = "awskms"

func init() {
	addKind(&serviceKind{
		name:     kindAWSKMS,
		settings: []string{"region", "account", "endpoint", "profile"},
		parse: func(u *url.URL, s *serviceSpec) error {
			if u.Host != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") {
				return fmt.Errorf("an AWS KMS service is awskms://?region=R[&account=ID][&endpoint=URL] (no key in it)")
			}
			q := s.query
			s.region, s.account, s.endpoint, s.awsProfile = q.Get("region"), q.Get("account"), q.Get("endpoint"), q.Get("profile")
			return nil
		},
		open: openAWS,
	})
}

// openAWS opens an AWS KMS service from the SDK's configuration. It claims
// its account's ARNs (in every region, or in its one region for a local
// server), so the account must be known with an endpoint.
func openAWS(ctx context.Context, spec *serviceSpec, _ openOptions) (*service, error) {
	var lo []func(*config.LoadOptions) error
	if spec.region != "" {
		lo = append(lo, config.WithRegion(spec.region))
	}
	if spec.awsProfile != "" {
		lo = append(lo, config.WithSharedConfigProfile(spec.awsProfile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, "", "", fmt.Errorf("AWS configuration (service %q): %w", spec.name, err))
	}
	if cfg.Region == "" {
		return nil, usagef("AWS KMS (service %q) needs a region: set AWS_REGION, give --aws-region, or region= in the service URL", spec.name)
	}
	account := spec.account
	if account == "" && cfg.Credentials != nil {
		// Credentials carry an account ID when the SDK knows it (AWS_ACCOUNT_ID,
		// SSO, shared config's aws_account_id). No network call for static ones.
		if creds, err := cfg.Credentials.Retrieve(ctx); err == nil {
			account = creds.AccountID
		}
	}
	if account == "" && spec.endpoint != "" {
		return nil, usagef("AWS KMS at %s (service %q): give the account: --aws-account ID, or account= in the service URL. The credentials carry no account ID, and keyport routes key ARNs (as message headers and blobs name them) by account", spec.endpoint, spec.name)
	}
	var opts []awskms.Option
	if spec.endpoint != "" {
		opts = append(opts, awskms.WithEndpoint(spec.endpoint))
	}
	if account != "" {
		opts = append(opts, awskms.WithAccount(account))
	}
	b, err := awskms.NewFromConfig(cfg, opts...)
	if err != nil {
		return nil, err
	}
	sv := &service{spec: spec, backend: b, bare: true, schemes: []string{awskms.Scheme, awskms.TinkScheme}}
	if account != "" {
		region := "" // AWS serves every region of the account
		if spec.endpoint != "" {
			region = cfg.Region // a local server serves one
		}
		sv.claims = []claim{{"aws", account, region}}
	}
	return sv, nil
}
