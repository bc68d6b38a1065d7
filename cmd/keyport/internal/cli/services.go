package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/hashicorp/vault/api"
	"github.com/spf13/pflag"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/backends/vault"
)

// StoreEnv names the local store file when --store is not given.
const StoreEnv = "KEYPORT_STORE"

// serviceFlags add services to the profile's.
type serviceFlags struct {
	store, rootKeyFile, account        string
	aws                                bool
	awsEndpoint, awsRegion, awsAccount string
	services                           []string
	defaultService                     string
	pf                                 *pflag.FlagSet
}

func (sf *serviceFlags) register(pf *pflag.FlagSet) {
	sf.pf = pf
	pf.StringVar(&sf.store, "store", "", "embedded key service in this store `file` (service \"store\"; env "+StoreEnv+"; \"\" for none)")
	pf.StringVar(&sf.account, "account", "", "AWS `account` ID the store is used as (required with --store)")
	pf.StringVar(&sf.rootKeyFile, "root-key-file", "", "`file` holding the store's root key (default: env "+local.RootKeyEnv+")")
	pf.BoolVar(&sf.aws, "aws", false, "AWS KMS (service \"aws\"; region and credentials from the AWS SDK configuration)")
	pf.StringVar(&sf.awsEndpoint, "aws-endpoint", "", "AWS KMS API at this `URL` (implies --aws; local-kms; needs --aws-account)")
	pf.StringVar(&sf.awsRegion, "aws-region", "", "AWS `region` (default: the SDK configuration's)")
	pf.StringVar(&sf.awsAccount, "aws-account", "", "AWS `account` ID of the credentials; its ARNs go to AWS KMS")
	pf.StringArrayVar(&sf.services, "service-url", nil, "add a key service `[NAME=]URL` (repeatable; see \"keyport help config\")")
	pf.StringVar(&sf.defaultService, "default-service", "", "service `name` that owns bare key IDs and alias/Names")
	for _, n := range []string{"store", "account", "root-key-file", "aws", "aws-endpoint", "aws-region", "aws-account", "service-url", "default-service"} {
		_ = pf.SetAnnotation(n, annService, []string{"1"})
	}
}

// serviceSpec is one service to open, parsed from its URL.
type serviceSpec struct {
	name, kind, raw string
	// local
	path, account, rootKeyFile string
	// awskms (account too)
	region, endpoint, awsProfile string
	// vault
	address, namespace string
}

// Service kinds, by URL scheme.
const (
	kindLocal  = "local"
	kindAWSKMS = "awskms"
	kindVault  = "vault"
)

// parseServiceURL parses a service URL (see "keyport help config").
func parseServiceURL(name, raw string) (*serviceSpec, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("service URL %q: %v", raw, err)
	}
	s := &serviceSpec{name: name, kind: u.Scheme, raw: raw}
	q := u.Query()
	var allowed map[string]bool
	switch u.Scheme {
	case kindLocal:
		s.path = u.Opaque
		if s.path == "" {
			s.path = u.Path
		}
		if u.Host != "" {
			return nil, fmt.Errorf("service URL %q: a store path is local:PATH or local:///abs/path", raw)
		}
		if s.path == "" {
			return nil, fmt.Errorf("service URL %q names no store file", raw)
		}
		s.account, s.rootKeyFile = q.Get("account"), q.Get("root-key-file")
		if s.account == "" {
			return nil, fmt.Errorf("service URL %q: the store needs account= (the caller's 12-digit AWS account ID; it is never guessed)", raw)
		}
		allowed = map[string]bool{"account": true, "root-key-file": true}
	case kindAWSKMS:
		if u.Host != "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("service URL %q: an AWS KMS service is awskms://?region=R[&account=ID][&endpoint=URL] (no key in it)", raw)
		}
		s.region, s.account, s.endpoint, s.awsProfile = q.Get("region"), q.Get("account"), q.Get("endpoint"), q.Get("profile")
		allowed = map[string]bool{"region": true, "account": true, "endpoint": true, "profile": true}
	case kindVault:
		if u.Host != "" || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("service URL %q: a Vault service is vault://?address=URL (keys are vault://MOUNT/NAME)", raw)
		}
		s.address, s.namespace = q.Get("address"), q.Get("namespace")
		allowed = map[string]bool{"address": true, "namespace": true}
	default:
		return nil, fmt.Errorf("service URL %q: unknown kind %q (local, awskms, vault)", raw, u.Scheme)
	}
	for k := range q {
		if !allowed[k] {
			return nil, fmt.Errorf("service URL %q: unknown setting %q", raw, k)
		}
	}
	if s.account != "" && !backends.IsAccountID(s.account) {
		return nil, fmt.Errorf("service URL %q: account %q is not a 12-digit AWS account ID", raw, truncate(s.account))
	}
	return s, nil
}

// service is an opened key service.
type service struct {
	spec    *serviceSpec
	backend backends.Backend
	schemes []string // URI schemes it serves
	claims  []claim  // ARNs it serves
	bare    bool     // it can own bare key IDs and alias names
	store   *local.Service
	client  *local.Client // the caller's view of store
	aws     *awskms.Backend
	vault   *vault.Backend
}

// claim is an account (and region; "" for every region) whose ARNs a service
// serves.
type claim struct{ partition, account, region string }

func (c claim) overlaps(d claim) bool {
	return c.partition == d.partition && c.account == d.account && (c.region == d.region || c.region == "" || d.region == "")
}

func (c claim) String() string {
	if c.region == "" {
		return "account " + c.account + " (every region)"
	}
	return "account " + c.account + " in " + c.region
}

// services are the key services a command uses, behind one Front.
type services struct {
	router backends.Front
	list   []*service
	def    *service
}

// Close closes the services (the store wipes its keys from memory).
func (s *services) Close() {
	for _, sv := range s.list {
		if sv.store != nil {
			_ = sv.store.Close()
		}
	}
}

// byName returns the service called name.
func (s *services) byName(name string) *service {
	for _, sv := range s.list {
		if sv.spec.name == name {
			return sv
		}
	}
	return nil
}

// names lists the services' names.
func (s *services) names() string {
	var n []string
	for _, sv := range s.list {
		n = append(n, sv.spec.name)
	}
	return strings.Join(n, ", ")
}

// openOptions say what a command needs of its services.
type openOptions struct {
	// readOnly: the command changes no key store, so a store file that does
	// not exist is an error, never created.
	readOnly bool
	// keys are the key references named on the command line: a vault:// or
	// awskms:// key enables its service when none is configured.
	keys []string
}

// specs returns the services of the profile and the flags, and those that keys
// named on the command line enable.
func (a *app) specs(o openOptions) ([]*serviceSpec, string, error) {
	sf := &a.g.svc
	byName := map[string]*serviceSpec{}
	defName := ""
	if p := a.g.prof; p != nil {
		defName = p.DefaultService
		for name, sc := range p.Services {
			s, err := parseServiceURL(name, sc.URL)
			if err != nil {
				return nil, "", usagef("profile service %s: %v", name, err)
			}
			byName[name] = s
		}
	}
	// --store: an explicit flag (even "") wins over KEYPORT_STORE.
	store := sf.store
	if !sf.pf.Changed("store") {
		store = os.Getenv(StoreEnv)
	}
	if sf.pf.Changed("store") || store != "" {
		delete(byName, "store")
	}
	if store != "" {
		if sf.account == "" {
			return nil, "", usagef("--store needs --account ID: the AWS account the store is used as (12 digits; it is never guessed)")
		}
		if !backends.IsAccountID(sf.account) {
			return nil, "", usagef("--account %q is not a 12-digit AWS account ID", truncate(sf.account))
		}
		byName["store"] = &serviceSpec{name: "store", kind: kindLocal, raw: "--store " + store, path: store, account: sf.account, rootKeyFile: sf.rootKeyFile}
	} else if sf.account != "" || sf.rootKeyFile != "" {
		return nil, "", usagef("--account and --root-key-file go with --store FILE")
	}
	if sf.aws || sf.awsEndpoint != "" {
		if sf.awsAccount != "" && !backends.IsAccountID(sf.awsAccount) {
			return nil, "", usagef("--aws-account %q is not a 12-digit AWS account ID", truncate(sf.awsAccount))
		}
		byName["aws"] = &serviceSpec{name: "aws", kind: kindAWSKMS, raw: "--aws", region: sf.awsRegion, account: sf.awsAccount, endpoint: sf.awsEndpoint}
	} else if sf.awsRegion != "" || sf.awsAccount != "" {
		return nil, "", usagef("--aws-region and --aws-account go with --aws or --aws-endpoint URL")
	}
	for _, arg := range sf.services {
		name, raw, named := strings.Cut(arg, "=")
		if !named || strings.Contains(name, ":") {
			name, raw = "", arg
		}
		s, err := parseServiceURL(name, raw)
		if err != nil {
			return nil, "", usagef("--service-url: %v", err)
		}
		if s.name == "" {
			s.name = s.kind
		}
		byName[s.name] = s
	}
	if sf.defaultService != "" {
		defName = sf.defaultService
	}
	// Key URLs on the command line enable their service when none serves it.
	has := func(kind string) bool {
		for _, s := range byName {
			if s.kind == kind {
				return true
			}
		}
		return false
	}
	for _, k := range o.keys {
		ref, err := backends.ParseKeyRef(k)
		if err != nil || ref.Form != backends.FormURI {
			continue
		}
		switch ref.Scheme {
		case vault.Scheme:
			if !has(kindVault) {
				byName[uniqueName(byName, "vault")] = &serviceSpec{name: "vault", kind: kindVault, raw: k}
			}
		case awskms.Scheme:
			if !has(kindAWSKMS) {
				byName[uniqueName(byName, "aws")] = &serviceSpec{name: "aws", kind: kindAWSKMS, raw: k}
			}
		}
	}
	var list []*serviceSpec
	for name, s := range byName {
		s.name = name
		list = append(list, s)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	if defName != "" && byName[defName] == nil {
		return nil, "", usagef("default service %q is not configured (services: %s)", defName, orNone(strings.Join(specNames(list), ", ")))
	}
	return list, defName, nil
}

func uniqueName(m map[string]*serviceSpec, base string) string {
	name := base
	for i := 2; m[name] != nil; i++ {
		name = fmt.Sprintf("%s%d", base, i)
	}
	return name
}

func specNames(l []*serviceSpec) []string {
	var n []string
	for _, s := range l {
		n = append(n, s.name)
	}
	return n
}

// openServices opens the services the profile, the flags and the named keys
// call for, and routes keys to them. Ambiguous routes are errors that say how
// to resolve them.
func (a *app) openServices(ctx context.Context, o openOptions) (*services, error) {
	specs, defName, err := a.specs(o)
	if err != nil {
		return nil, err
	}
	if len(specs) == 0 {
		return nil, usagef("no key service: configure one (keyport help config), or give --store FILE --account ID (embedded store), --aws or --aws-endpoint URL (AWS KMS), or name a vault://MOUNT/KEY key")
	}
	s := &services{}
	for _, spec := range specs {
		sv, err := openService(ctx, spec, o)
		if err != nil {
			s.Close()
			return nil, err
		}
		s.list = append(s.list, sv)
	}
	if err := s.route(defName); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// route registers the services with the Front, refusing ambiguous routes.
func (s *services) route(defName string) error {
	schemes := map[string]*service{}
	var claims []struct {
		c  claim
		sv *service
	}
	var bare []*service
	for _, sv := range s.list {
		for _, sch := range sv.schemes {
			if other := schemes[sch]; other != nil {
				return usagef("services %q and %q both serve %s:// keys: keep one of them (remove the other from the profile, or give it another scheme's service)", other.spec.name, sv.spec.name, sch)
			}
			schemes[sch] = sv
			if err := s.router.Register(sch, sv.backend); err != nil {
				return err
			}
		}
		for _, c := range sv.claims {
			for _, o := range claims {
				if o.c.overlaps(c) {
					return usagef("services %q and %q both claim the ARNs of %s: give one of them another account (account= in its URL, or --account / --aws-account), so that every ARN has one service", o.sv.spec.name, sv.spec.name, c)
				}
			}
			claims = append(claims, struct {
				c  claim
				sv *service
			}{c, sv})
			if err := s.router.RegisterPartitionAccount(c.partition, c.account, c.region, sv.backend); err != nil {
				return err
			}
		}
		if sv.bare {
			bare = append(bare, sv)
		}
	}
	switch {
	case defName != "":
		s.def = s.byName(defName)
		if !s.def.bare {
			return usagef("default service %q (%s) cannot own bare key IDs and alias names: name a local or awskms service", defName, s.def.spec.kind)
		}
	case len(bare) == 1:
		s.def = bare[0]
	}
	switch {
	case s.def != nil:
		s.router.SetDefault(s.def.backend)
	case len(bare) > 1:
		var names []string
		for _, sv := range bare {
			names = append(names, sv.spec.name)
		}
		s.router.SetDefault(ambiguous{names: names})
	}
	return nil
}

// openService opens one service.
func openService(ctx context.Context, spec *serviceSpec, o openOptions) (*service, error) {
	sv := &service{spec: spec}
	switch spec.kind {
	case kindLocal:
		var opts []local.Option
		if spec.rootKeyFile != "" {
			opts = append(opts, local.WithRootKeyFile(spec.rootKeyFile))
		}
		path, err := filepath.Abs(spec.path)
		if err != nil {
			return nil, err
		}
		open := local.Open
		if o.readOnly {
			open = local.OpenExisting // a mistyped path must not leave an empty store
		}
		st, err := open(path, opts...)
		if errors.Is(err, local.ErrNoStore) {
			return nil, backends.Errorf(backends.ErrNotFound, "", "", "no store at %s (service %q): this command never creates one; check the path, or create a key first (keyport keys create)", spec.path, spec.name)
		}
		if err != nil {
			if errors.Is(err, local.ErrInvalidRootKey) {
				return nil, rootKeyHint(err, spec)
			}
			return nil, fmt.Errorf("store %s: %w", spec.path, err)
		}
		sv.store = st
		sv.client = st.Client(local.Identity{Account: spec.account})
		sv.backend = sv.client
		sv.bare = true
		sv.claims = []claim{{st.Partition(), spec.account, st.Region()}}
	case kindAWSKMS:
		if err := openAWS(ctx, sv); err != nil {
			return nil, err
		}
	case kindVault:
		c, err := vaultClient(spec)
		if err != nil {
			return nil, err
		}
		vb, err := vault.New(vault.Options{Client: c, Namespace: spec.namespace})
		if err != nil {
			return nil, err
		}
		sv.vault, sv.backend, sv.schemes = vb, vb, []string{vault.Scheme}
	}
	return sv, nil
}

// vaultClient makes a Vault client for spec: its address, else VAULT_ADDR;
// the token from VAULT_TOKEN.
func vaultClient(spec *serviceSpec) (*api.Client, error) {
	cfg := api.DefaultConfig() // reads VAULT_ADDR, VAULT_TOKEN, TLS settings
	if cfg.Error != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, "", "", cfg.Error)
	}
	if spec.address != "" {
		cfg.Address = spec.address
	} else if os.Getenv(api.EnvVaultAddress) == "" {
		return nil, usagef("Vault (service %q, for %s) has no address: set VAULT_ADDR, or configure a vault service with address=", spec.name, spec.raw)
	}
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, "", "", err)
	}
	return c, nil
}

// openAWS opens an AWS KMS service from the SDK's configuration.
func openAWS(ctx context.Context, sv *service) error {
	spec := sv.spec
	var lo []func(*config.LoadOptions) error
	if spec.region != "" {
		lo = append(lo, config.WithRegion(spec.region))
	}
	if spec.awsProfile != "" {
		lo = append(lo, config.WithSharedConfigProfile(spec.awsProfile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, lo...)
	if err != nil {
		return backends.Wrap(backends.ErrInvalidArgument, "", "", fmt.Errorf("AWS configuration (service %q): %w", spec.name, err))
	}
	if cfg.Region == "" {
		return usagef("AWS KMS (service %q) needs a region: set AWS_REGION, give --aws-region, or region= in the service URL", spec.name)
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
		return usagef("AWS KMS at %s (service %q): give the account: --aws-account ID, or account= in the service URL. The credentials carry no account ID, and keyport routes key ARNs (as message headers and blobs name them) by account", spec.endpoint, spec.name)
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
		return err
	}
	sv.aws, sv.backend, sv.bare = b, b, true
	sv.schemes = []string{awskms.Scheme}
	if account != "" {
		region := "" // AWS serves every region of the account
		if spec.endpoint != "" {
			region = cfg.Region // a local server serves one
		}
		sv.claims = []claim{{"aws", account, region}}
	}
	return nil
}

// rootKeyHint rewrites a refused root key's error for the command line: it
// names the flag and the environment variable, and the command that makes a
// key.
func rootKeyHint(err error, spec *serviceSpec) error {
	var rk *local.RootKeyError
	if !errors.As(err, &rk) {
		return err
	}
	source := rk.Source
	if spec.rootKeyFile != "" {
		source = "the --root-key-file " + spec.rootKeyFile
	}
	return backends.Errorf(backends.ErrInvalidArgument, "", "", "store %s: root key from %s %s.\n"+
		"  A root key is 32 random bytes in base64 (or hex), in the environment variable %s or in a file named by --root-key-file FILE (or root-key-file= in the service URL), readable by its owner only.\n"+
		"  Make one with: keyport root-key generate", spec.path, source, rk.Reason, local.RootKeyEnv)
}

// ambiguous is the default backend when several services could own bare key
// IDs and alias names: every call fails with the fix.
type ambiguous struct{ names []string }

func (m ambiguous) err(op, key string) error {
	return backends.Errorf(backends.ErrInvalidArgument, op, key, "ambiguous: services %s can each hold this key: give --default-service NAME, set default-service in the profile, or name the key by ARN or URL", strings.Join(m.names, " and "))
}

func (m ambiguous) Encrypt(_ context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	return nil, m.err("Encrypt", in.KeyID)
}

func (m ambiguous) Decrypt(_ context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	return nil, m.err("Decrypt", in.KeyID)
}

func (m ambiguous) DescribeKey(_ context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	return nil, m.err("DescribeKey", in.KeyID)
}

var (
	_ backends.Backend      = ambiguous{}
	_ backends.KeyDescriber = ambiguous{}
)

// truncate shortens s for an error message.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
