package vault

import (
	"strings"

	"github.com/keyport/keyport/backends"
)

// Scheme is the URI scheme of Vault Transit key references.
const Scheme = "vault"

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
}

// URI returns the canonical reference, vault://<mount>/<name>, which is the KeyID
// of every output of the backend.
func (r Ref) URI() string { return Scheme + "://" + r.Mount + "/" + r.Name }

// String returns r.URI().
func (r Ref) String() string { return r.URI() }

// ParseRef parses a Vault Transit key reference:
//
//	vault://<mount>/<key>        vault://transit/orders, vault://team-a/transit/orders
//	vault:///<key>               the key in the mount named by DefaultMount
//
// The last path segment is the key name; everything before it is the mount path,
// which may have several segments. The scheme is case-insensitive; mount and key are
// case-sensitive, as Vault's paths are. Mount segments take the letters, digits,
// '.', '_' and '-' (and are neither "." nor ".."); key names take what Transit
// takes: letters, digits and '_', and inside the name also '-', '.' and '@'. A query,
// a fragment, user information, a port or a percent-escape is an error. Malformed
// references are errors matching backends.ErrNotFound, as AWS KMS answers a
// malformed KeyId.
func ParseRef(s string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, backends.Errorf(backends.ErrNotFound, "", "", "invalid Vault key reference %q: %s", clip(s, 80), why)
	}
	if len(s) > maxRefLen {
		return bad("longer than 1024 bytes")
	}
	const prefix = Scheme + "://"
	if len(s) < len(prefix) || !strings.EqualFold(s[:len(prefix)], prefix) {
		return bad("want vault://<mount>/<key>")
	}
	rest := s[len(prefix):]
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
