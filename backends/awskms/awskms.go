package awskms

import (
	"net/http"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyport/keyport/backends"
)

// Backend is a keyport backend over AWS KMS (or any server that speaks its API, such
// as local-kms). It is safe for concurrent use.
//
// A bare key ID or alias name resolves in the account and region of the client the
// Backend was built with (its home client). A key ARN or alias ARN is sent to a
// client for the ARN's region: the home client for the home region, otherwise a
// client made once per region from the home client's options (same credentials,
// retryer and HTTP settings), each keeping its connections open for reuse.
type Backend struct {
	home      *kms.Client
	region    string
	account   string
	partition string
	endpoints map[string]string // region, or account "/" region -> base endpoint override

	mu       sync.Mutex
	regional map[string]*kms.Client // by region, or account "/" region
}

var (
	_ backends.Backend          = (*Backend)(nil)
	_ backends.ReEncrypter      = (*Backend)(nil)
	_ backends.DataKeyGenerator = (*Backend)(nil)
	_ backends.KeyDescriber     = (*Backend)(nil)
)

// Option configures a Backend.
type Option func(*settings)

type settings struct {
	account    string
	partition  string
	endpoint   string
	endpoints  map[string]string
	maxIdle    int
	httpClient *http.Client
}

// WithAccount names the AWS account (12 digits) of the caller's credentials. The
// Backend needs it only to register itself with a backends.Front as the owner of the
// account's ARNs (see Register).
func WithAccount(account string) Option {
	return func(s *settings) { s.account = account }
}

// WithPartition sets the partition of the home account ("aws" by default; "aws-cn",
// "aws-us-gov", ...). It is used only for registration with a backends.Front.
func WithPartition(partition string) Option {
	return func(s *settings) { s.partition = partition }
}

// WithEndpoint sends every call of the home client to a base endpoint such as
// "http://127.0.0.1:8080" (a local server like local-kms, a VPC endpoint, a proxy)
// instead of the endpoint the SDK resolves for the region. Clients for other regions
// use it too unless WithRegionEndpoint names one for their region.
func WithEndpoint(url string) Option {
	return func(s *settings) { s.endpoint = url }
}

// WithRegionEndpoint sends calls for keys in region to a base endpoint of its own,
// for example a second local server that plays another region.
func WithRegionEndpoint(region, url string) Option {
	return func(s *settings) {
		if s.endpoints == nil {
			s.endpoints = make(map[string]string)
		}
		s.endpoints[region] = url
	}
}

// WithAccountEndpoint sends calls for the key ARNs and alias ARNs of account in
// region to a base endpoint of their own. AWS serves every account of a region from
// one endpoint, so this is for local servers that serve one account each
// (local-kms): it lets one Backend reach keys of several such processes by ARN.
func WithAccountEndpoint(account, region, url string) Option {
	return WithRegionEndpoint(account+"/"+region, url)
}

// WithMaxIdleConnsPerHost sets how many idle connections to one KMS endpoint the
// SDK's HTTP client keeps for reuse (default 64, against the SDK's 10), so that many
// concurrent callers do not open and close connections. It applies only when the
// client uses the SDK's own buildable HTTP client, as clients made by
// config.LoadDefaultConfig do.
func WithMaxIdleConnsPerHost(n int) Option {
	return func(s *settings) { s.maxIdle = n }
}

// WithHTTPClient makes every client of the Backend use hc.
func WithHTTPClient(hc *http.Client) Option {
	return func(s *settings) { s.httpClient = hc }
}

// New returns a Backend over the caller's KMS client. The client's region is the
// home region; options may override its endpoint or HTTP client, in which case the
// Backend uses a copy of the client with those changes.
func New(client *kms.Client, opts ...Option) (*Backend, error) {
	if client == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "New", "", "nil KMS client")
	}
	s := settings{partition: "aws", maxIdle: 64}
	for _, o := range opts {
		o(&s)
	}
	if s.account != "" && !backends.IsAccountID(s.account) {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "New", "", "account %q is not 12 digits", s.account)
	}
	o := client.Options()
	if o.Region == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "New", "", "the KMS client has no region")
	}
	b := &Backend{
		region:    o.Region,
		account:   s.account,
		partition: s.partition,
		endpoints: s.endpoints,
		regional:  make(map[string]*kms.Client),
	}
	// A copy of the caller's client (same credentials, middleware and retryer)
	// with the endpoint and HTTP client options applied.
	b.home = kms.New(o, func(o *kms.Options) {
		if s.endpoint != "" {
			o.BaseEndpoint = aws.String(s.endpoint)
		}
		if ep, ok := s.endpoints[o.Region]; ok {
			o.BaseEndpoint = aws.String(ep)
		}
		switch {
		case s.httpClient != nil:
			o.HTTPClient = s.httpClient
		case s.maxIdle > 0:
			if bc, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
				o.HTTPClient = bc.WithTransportOptions(func(t *http.Transport) {
					t.MaxIdleConnsPerHost = s.maxIdle
					if t.MaxIdleConns < s.maxIdle {
						t.MaxIdleConns = s.maxIdle
					}
				})
			} else if o.HTTPClient == nil {
				o.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
					t.MaxIdleConnsPerHost = s.maxIdle
					if t.MaxIdleConns < s.maxIdle {
						t.MaxIdleConns = s.maxIdle
					}
				})
			}
		}
	})
	return b, nil
}

// NewFromConfig returns a Backend over a KMS client made from cfg (as
// config.LoadDefaultConfig returns it); cfg.Region is the home region.
func NewFromConfig(cfg aws.Config, opts ...Option) (*Backend, error) {
	if cfg.Region == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "New", "", "the AWS config has no region")
	}
	return New(kms.NewFromConfig(cfg), opts...)
}

// Client returns the home KMS client, for calls the Backend does not wrap.
func (b *Backend) Client() *kms.Client { return b.home }

// Region returns the home region.
func (b *Backend) Region() string { return b.region }

// Account returns the account given with WithAccount, or "".
func (b *Backend) Account() string { return b.account }

// clientFor returns the client for a resolved key reference: the home client for a
// bare key ID or alias name and for ARNs of the home region, else a client for the
// ARN's region (or for its account and region, given WithAccountEndpoint), made once.
func (b *Backend) clientFor(t Target) *kms.Client {
	region := t.Region
	if region == "" {
		region = b.region
	}
	key := region
	if t.Ref.Account != "" && t.Ref.Account != b.account {
		if _, ok := b.endpoints[t.Ref.Account+"/"+region]; ok {
			key = t.Ref.Account + "/" + region
		}
	}
	if key == b.region {
		return b.home
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if c, ok := b.regional[key]; ok {
		return c
	}
	c := kms.New(b.home.Options(), func(o *kms.Options) {
		o.Region = region
		if ep, ok := b.endpoints[key]; ok {
			o.BaseEndpoint = aws.String(ep)
		}
	})
	b.regional[key] = c
	return c
}
