package cli

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sort"
	"strings"

	"github.com/spf13/pflag"

	"github.com/keyport/keyport"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/backends/local"
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
	query           url.Values
	// local
	path, account, rootKeyFile string
	// awskms (account too)
	region, endpoint, awsProfile string
	// vault
	address, namespace string
}

// serviceKind is a kind of key service the command can configure by URL. A
// driver adds its kind in a file of its own (services_<driver>.go), whose init
// calls addKind.
type serviceKind struct {
	// name is the scheme of the kind's service URLs (local, awskms, vault).
	name string
	// settings are the query parameters its service URLs may have.
	settings []string
	// parse fills spec from the URL (nil: no host or path allowed).
	parse func(u *url.URL, spec *serviceSpec) error
	// open opens a configured service.
	open func(ctx context.Context, spec *serviceSpec, o openOptions) (*service, error)
}

// serviceKinds by name.
var serviceKinds = map[string]*serviceKind{}

func addKind(k *serviceKind) { serviceKinds[k.name] = k }

// newURLFront returns the Front on which key URLs of the implicitSchemes open
// their services: package keyport's, whose openers take credentials as its
// table says. Tests point it at loopback servers.
var newURLFront = keyport.NewFront

// implicitSchemes are the key URL schemes whose service opens on first use,
// from the key URL and the environment (the table of package keyport), when no
// configured service serves the scheme. AWS KMS is not among them: an ARN that
// no configured service claims must not reach AWS with ambient credentials
// unasked (an awskms:// key on the command line does open it).
var implicitSchemes []string

// kindNames lists the configurable kinds.
func kindNames() string {
	var n []string
	for k := range serviceKinds {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// parseServiceURL parses a service URL (see "keyport help config").
func parseServiceURL(name, raw string) (*serviceSpec, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("service URL %q: %v", raw, err)
	}
	k := serviceKinds[u.Scheme]
	if k == nil {
		return nil, fmt.Errorf("service URL %q: unknown kind %q (%s)", raw, u.Scheme, kindNames())
	}
	s := &serviceSpec{name: name, kind: u.Scheme, raw: raw, query: u.Query()}
	allowed := map[string]bool{}
	for _, p := range k.settings {
		allowed[p] = true
	}
	for p := range s.query {
		if !allowed[p] {
			return nil, fmt.Errorf("service URL %q: unknown setting %q (settings: %s)", raw, p, orNone(strings.Join(k.settings, ", ")))
		}
	}
	if k.parse != nil {
		err = k.parse(u, s)
	} else if u.Host != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") {
		err = fmt.Errorf("a %s service URL has no host or path: %s://?SETTINGS", u.Scheme, u.Scheme)
	}
	if err != nil {
		return nil, fmt.Errorf("service URL %q: %v", raw, err)
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
	close   func()   // releases it (nil: nothing to release)
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
	urls   *backends.Front // the services key URLs open, when one may
}

// Close closes the services (the store wipes its keys from memory) and what
// key URLs opened (HSM sessions, gRPC connections).
func (s *services) Close() {
	for _, sv := range s.list {
		if sv.close != nil {
			sv.close()
		}
	}
	if s.urls != nil {
		_ = s.urls.Close()
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
	// keys are the key references named on the command line: an awskms://
	// key opens AWS KMS when no AWS service is configured.
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
	// An awskms:// (or Tink's aws-kms://) key on the command line opens AWS KMS
	// from the SDK's configuration when no AWS service is configured; other key
	// URLs open their services through implicitSchemes.
	hasAWS := false
	for _, s := range byName {
		hasAWS = hasAWS || s.kind == kindAWSKMS
	}
	for _, k := range o.keys {
		if !hasAWS && (strings.HasPrefix(k, awskms.Scheme+"://") || strings.HasPrefix(k, awskms.TinkScheme+"://")) {
			byName[uniqueName(byName, "aws")] = &serviceSpec{name: "aws", kind: kindAWSKMS, raw: k}
			hasAWS = true
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
	if len(specs) == 0 && !namesURL(o.keys) {
		return nil, usagef("no key service for %s: configure one (keyport help config), give --store FILE --account ID (embedded store) or --aws / --aws-endpoint URL (AWS KMS), or name the key by its URL (vault://MOUNT/KEY, gcpkms://..., awskms:///...)", strings.Join(nonEmpty(o.keys), ", "))
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
	// Every other key URL scheme opens its service on first use, through the
	// URL openers of package keyport on a Front of their own.
	var inner *backends.Front
	for _, sch := range implicitSchemes {
		if schemes[sch] != nil {
			continue
		}
		if inner == nil {
			inner = newURLFront()
			s.urls = inner
		}
		if err := s.router.Register(sch, inner); err != nil {
			return err
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

// namesURL reports whether keys is empty (the keys come from a message, which
// may name key URLs) or names a key URL (its service may open on first use).
func namesURL(keys []string) bool {
	named := false
	for _, k := range keys {
		if k == "" {
			continue
		}
		named = true
		if ref, err := backends.ParseKeyRef(k); err == nil && ref.Form == backends.FormURI {
			return true
		}
	}
	return !named
}

func nonEmpty(l []string) []string {
	var out []string
	for _, s := range l {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// openService opens one configured service.
func openService(ctx context.Context, spec *serviceSpec, o openOptions) (*service, error) {
	return serviceKinds[spec.kind].open(ctx, spec, o)
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
