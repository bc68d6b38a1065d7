package gcpkms

import (
	"strconv"
	"strings"

	"github.com/keyport/keyport/backends"
)

// URL schemes of Cloud KMS key references: keyport's and gocloud.dev's gcpkms://,
// and Tink's gcp-kms://.
const (
	Scheme     = "gcpkms"
	TinkScheme = "gcp-kms"
)

// Ref is a parsed Cloud KMS key reference: a CryptoKey, and optionally one of its
// versions.
type Ref struct {
	Project, Location, KeyRing, Key string
	// Version is the CryptoKeyVersion number, or "" for the CryptoKey itself.
	Version string
}

// Name returns the CryptoKey's resource name,
// projects/P/locations/L/keyRings/R/cryptoKeys/K.
func (r Ref) Name() string {
	return "projects/" + r.Project + "/locations/" + r.Location + "/keyRings/" + r.KeyRing + "/cryptoKeys/" + r.Key
}

// VersionName returns the CryptoKeyVersion's resource name, or "" when r names no
// version.
func (r Ref) VersionName() string {
	if r.Version == "" {
		return ""
	}
	return r.Name() + "/cryptoKeyVersions/" + r.Version
}

// URI returns the canonical reference, gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K:
// the KeyID of every output of the backend, whatever form the input took. It never
// names a version.
func (r Ref) URI() string { return Scheme + "://" + r.Name() }

// String returns r.URI(), with the version when r names one.
func (r Ref) String() string {
	if r.Version != "" {
		return Scheme + "://" + r.VersionName()
	}
	return r.URI()
}

const maxRefLen = 1024

// ParseRef parses a Cloud KMS key reference in any of its forms:
//
//	projects/P/locations/L/keyRings/R/cryptoKeys/K          the resource name
//	gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K keyport's and gocloud.dev's URL
//	gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K Tink's key URI
//
// each optionally followed by /cryptoKeyVersions/N. Schemes are case-insensitive;
// the rest is case-sensitive, as Cloud KMS's names are. Project and location IDs
// take lower-case letters, digits and '-' (a project may also take ':' and '.', as
// domain-scoped projects do); key ring and key IDs take 1 to 63 letters, digits,
// '_' and '-'; N is a positive decimal without leading zeros. A query, fragment or
// anything else is an error matching backends.ErrNotFound, as AWS KMS answers a
// malformed KeyId.
func ParseRef(s string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, backends.Errorf(backends.ErrNotFound, "", "", "invalid Cloud KMS key reference %q: %s", clip(s, 80), why)
	}
	if len(s) > maxRefLen {
		return bad("longer than 1024 bytes")
	}
	rest := s
	if scheme, after, ok := strings.Cut(s, "://"); ok {
		if !strings.EqualFold(scheme, Scheme) && !strings.EqualFold(scheme, TinkScheme) {
			return bad("scheme is neither gcpkms nor gcp-kms")
		}
		rest = after
	}
	p := strings.Split(rest, "/")
	if len(p) != 8 && len(p) != 10 {
		return bad("want projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/N]")
	}
	if p[0] != "projects" || p[2] != "locations" || p[4] != "keyRings" || p[6] != "cryptoKeys" || len(p) == 10 && p[8] != "cryptoKeyVersions" {
		return bad("want projects/P/locations/L/keyRings/R/cryptoKeys/K[/cryptoKeyVersions/N]")
	}
	r := Ref{Project: p[1], Location: p[3], KeyRing: p[5], Key: p[7]}
	switch {
	case !validProject(r.Project):
		return bad("bad project ID")
	case !validLocation(r.Location):
		return bad("bad location")
	case !validID(r.KeyRing):
		return bad("key ring ID must be 1 to 63 letters, digits, '_' or '-'")
	case !validID(r.Key):
		return bad("key ID must be 1 to 63 letters, digits, '_' or '-'")
	}
	if len(p) == 10 {
		v := p[9]
		if n, err := strconv.ParseUint(v, 10, 31); err != nil || n == 0 || v[0] == '0' {
			return bad("version must be a positive number")
		}
		r.Version = v
	}
	return r, nil
}

func validID(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func validLocation(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// validProject accepts project IDs (6 to 30 of [a-z0-9-]) and numbers, and the
// domain-scoped form example.com:project.
func validProject(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':') {
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
