package vault

import (
	"net"
	"net/url"
	"strings"

	"github.com/keyport/keyport/backends"
)

// URL schemes of Vault Transit keys: keyport's own (the canonical form of every
// output), gocloud.dev's and Tink's.
const (
	Scheme        = "vault"      // vault://<mount>/<key>
	GocloudScheme = "hashivault" // hashivault://<key>, in the mount DefaultMount
	TinkScheme    = "hcvault"    // hcvault://<host>[:<port>]/<mount>/keys/<key>
)

// DefaultMount is the mount path a reference with an empty authority (vault:///orders) names.
const DefaultMount = "transit"

const maxRefLen = 1024

// Ref is a parsed Vault Transit key reference: the mount path of a Transit engine and
// the name of a key in it.
type Ref struct {
	// Mount is the engine's mount path without slashes at either end ("transit",
	// "team-a/transit").
	Mount string
	// Name is the Transit key name.
	Name string
	// Addr is the address of the Vault server a Tink hcvault:// URL names
	// (https://<host>[:<port>]); empty for the other forms, whose server is the
	// backend's.
	Addr string
}

// URI returns the canonical reference, vault://<mount>/<name>, which is the KeyID
// of every output of the backend.
func (r Ref) URI() string { return Scheme + "://" + r.Mount + "/" + r.Name }

// String returns r.URI().
func (r Ref) String() string { return r.URI() }

// ParseRef parses a Vault Transit key reference in any of the forms of keyport,
// gocloud.dev and Tink:
//
//	vault://<mount>/<key>        vault://transit/orders, vault://team-a/transit/orders
//	vault:///<key>               the key in the mount named by DefaultMount
//	hashivault://<key>           gocloud.dev: the key in DefaultMount
//	hcvault://<host>[:<port>]/<mount>/keys/<key>   Tink: the server (HTTPS) and the key
//
// The last path segment is the key name; everything before it is the mount path,
// which may have several segments. The scheme is case-insensitive; mount and key are
// case-sensitive, as Vault's paths are. Mount segments take the letters, digits,
// '.', '_' and '-' (and are neither "." nor ".."); key names take what Transit
// takes: letters, digits and '_', and inside the name also '-', '.' and '@'. A query,
// a fragment, user information, a port (but in hcvault://) or a percent-escape is an
// error. Malformed references are errors matching backends.ErrNotFound, as AWS KMS
// answers a malformed KeyId. Every form has one canonical reference, [Ref.URI].
func ParseRef(s string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, backends.Errorf(backends.ErrNotFound, "", "", "invalid Vault key reference %q: %s", clip(s, 80), why)
	}
	if len(s) > maxRefLen {
		return bad("longer than 1024 bytes")
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return bad("want vault://<mount>/<key>")
	}
	switch strings.ToLower(scheme) {
	case Scheme:
		return parseVaultPath(rest, bad)
	case GocloudScheme:
		if !validName(rest) {
			return bad("want hashivault://<key>, a key name of letters, digits and _ (and -, . and @ inside)")
		}
		return Ref{Mount: DefaultMount, Name: rest}, nil
	case TinkScheme:
		host, path, ok := strings.Cut(rest, "/")
		mount, name, found := cutLast(path, "/keys/")
		if !ok || host == "" || !found || mount == "" {
			return bad("want hcvault://<host>[:<port>]/<mount>/keys/<key>")
		}
		if !validHost(host) {
			return bad("bad host")
		}
		ref, err := parseVaultPath(mount+"/"+name, bad)
		if err != nil {
			return Ref{}, err
		}
		ref.Addr = "https://" + host
		return ref, nil
	}
	return bad("want vault://<mount>/<key>, hashivault://<key> or hcvault://<host>/<mount>/keys/<key>")
}

// parseVaultPath parses what follows vault://: an authority that is the first
// mount segment (or empty), further mount segments, and the key name.
func parseVaultPath(rest string, bad func(string) (Ref, error)) (Ref, error) {
	auth, path, ok := strings.Cut(rest, "/")
	if !ok {
		return bad("no key name: want vault://<mount>/<key>")
	}
	segs := strings.Split(path, "/")
	name := segs[len(segs)-1]
	mountSegs := segs[:len(segs)-1]
	if auth != "" {
		mountSegs = append([]string{auth}, mountSegs...)
	}
	if !validName(name) {
		return bad("key name must be letters, digits and _ (and -, . and @ inside)")
	}
	if len(mountSegs) == 0 {
		return Ref{Mount: DefaultMount, Name: name}, nil
	}
	for _, m := range mountSegs {
		if !validMountSegment(m) {
			return bad("mount path segments must be non-empty letters, digits, '.', '_' or '-'")
		}
	}
	return Ref{Mount: strings.Join(mountSegs, "/"), Name: name}, nil
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// validHost accepts a host name or IP address with an optional port, as a URL's
// authority holds them, without user information.
func validHost(h string) bool {
	if strings.ContainsAny(h, "@?#%") {
		return false
	}
	u, err := url.Parse("https://" + h)
	if err != nil || u.Host != h || u.Hostname() == "" {
		return false
	}
	if p := u.Port(); p != "" {
		if _, err := net.LookupPort("tcp", p); err != nil {
			return false
		}
	}
	return true
}

// sameServer reports whether two Vault addresses name one server: same host and
// port (the scheme's default when absent), whatever the path.
func sameServer(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	if err1 != nil || err2 != nil {
		return false
	}
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		if u.Scheme == "http" {
			return "80"
		}
		return "443"
	}
	return strings.EqualFold(ua.Hostname(), ub.Hostname()) && port(ua) == port(ub)
}

func isWord(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// validName checks a Transit key name as Vault's framework.GenericNameRegex does:
// \w(([\w-.@]+)?\w)?
func validName(s string) bool {
	if s == "" || len(s) > 256 || !isWord(s[0]) || !isWord(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		c := s[i]
		if !isWord(c) && c != '-' && c != '.' && c != '@' {
			return false
		}
	}
	return true
}

func validMountSegment(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isWord(c) && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
