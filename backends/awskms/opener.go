package awskms

import (
	"context"
	"net/url"
	"sync"

	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/keyport/keyport/backends"
)

// Opener opens AWS KMS backends from key URLs, for
// [backends.Front.RegisterOpener] under the schemes awskms and aws-kms (a Front
// also hands it the ARNs no account route claims). It loads the AWS SDK's default
// configuration (credentials from the environment, shared files, SSO or the
// instance role, never from the URL) and opens one backend per region and
// endpoint, reusing it:
//
//	awskms:///alias/orders?region=eu-west-1
//	awskms:///arn:aws:kms:us-east-1:111122223333:key/<id>    (the ARN's region)
//	aws-kms://arn:aws:kms:us-east-1:111122223333:alias/x     (Tink)
//	awskms:///alias/x?region=us-east-1&endpoint=http://127.0.0.1:8080   (a local server)
//
// Without a region in the URL, the SDK's configured region is used.
type Opener struct {
	// ConfigOptions are passed to config.LoadDefaultConfig.
	ConfigOptions []func(*config.LoadOptions) error
	// Options are the options of every backend the Opener makes, after the
	// endpoint of the URL and the account of the credentials (when the SDK knows
	// it).
	Options []Option

	mu     sync.Mutex
	opened map[string]*Backend // by region and endpoint
}

var _ backends.URLOpener = (*Opener)(nil)

// OpenBackendURL returns the backend for the region and endpoint u names.
func (o *Opener) OpenBackendURL(ctx context.Context, u *url.URL) (backends.Backend, error) {
	const op = "OpenBackendURL"
	t, err := ParseKeyID(u.String())
	if err != nil {
		return nil, backends.WithOp(err, op)
	}
	endpoint := u.Query().Get("endpoint")
	cacheKey := t.Region + " " + endpoint
	o.mu.Lock()
	defer o.mu.Unlock()
	if b := o.opened[cacheKey]; b != nil {
		return b, nil
	}
	lo := append([]func(*config.LoadOptions) error(nil), o.ConfigOptions...)
	if t.Region != "" {
		lo = append(lo, config.WithRegion(t.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, op, "", err)
	}
	if cfg.Region == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, u.String(), "no AWS region: give ?region= in the key URL, or set AWS_REGION")
	}
	var opts []Option
	if endpoint != "" {
		opts = append(opts, WithEndpoint(endpoint))
	}
	if cfg.Credentials != nil {
		if creds, err := cfg.Credentials.Retrieve(ctx); err == nil && backends.IsAccountID(creds.AccountID) {
			opts = append(opts, WithAccount(creds.AccountID))
		}
	}
	b, err := NewFromConfig(cfg, append(opts, o.Options...)...)
	if err != nil {
		return nil, err
	}
	if o.opened == nil {
		o.opened = make(map[string]*Backend)
	}
	o.opened[cacheKey] = b
	return b, nil
}
