package azurekv

import (
	"net/url"
	"strings"

	"github.com/keyport/keyport/backends"
)

// URL schemes of Key Vault key references: keyport's azurekv:// (the canonical
// form, whose scheme names the provider in envelope headers: keyport:azurekv), the
// key identifier's own https://, and gocloud.dev's azurekeyvault://.
const (
	Scheme        = "azurekv"
	HTTPSScheme   = "https"
	GocloudScheme = "azurekeyvault"
)

// vaultSuffixes are the DNS suffixes of Key Vault and Managed HSM in the Azure
// clouds. A reference to any other host is refused, so that a key identifier read
// from a ciphertext never sends a request, and a token, elsewhere.
var vaultSuffixes = []string{
	".vault.azure.net", ".managedhsm.azure.net", // Azure public cloud
	".vault.azure.cn", ".managedhsm.azure.cn", // Azure China
	".vault.usgovcloudapi.net", ".managedhsm.usgovcloudapi.net", // Azure US Government
	".vault.microsoftazure.de", // Azure Germany
}

// Ref is a parsed Key Vault key reference: a vault, a key, and optionally one of
// its versions.
type Ref struct {
	// Vault is the vault's host name, in lower case (myvault.vault.azure.net).
	Vault string
	// Name is the key's name.
	Name string
	// Version is the key version's identifier, or "" for the key itself.
	Version string
}

// VaultURL returns the vault's URL, https://<vault>.
func (r Ref) VaultURL() string { return "https://" + r.Vault }

// URI returns the canonical reference, azurekv://<vault>/keys/<name>: the key
// without a version, which is the KeyID of every output of the backend, whatever
// form the input took.
func (r Ref) URI() string { return Scheme + "://" + r.Vault + "/keys/" + r.Name }

// KID returns Key Vault's key identifier, https://<vault>/keys/<name>, with the
// version when r names one.
func (r Ref) KID() string {
	id := "https://" + r.Vault + "/keys/" + r.Name
	if r.Version == "" {
		return id
	}
	return id + "/" + r.Version
}

// String returns r.KID().
func (r Ref) String() string { return r.KID() }

// ManagedHSM reports whether the vault is a Managed HSM.
func (r Ref) ManagedHSM() bool { return strings.Contains(r.Vault, ".managedhsm.") }

const maxRefLen = 1024

// ParseRef parses a Key Vault key reference in any of its forms:
//
//	azurekv://NAME.vault.azure.net/keys/KEY[/VERSION]        keyport's URL (canonical)
//	https://NAME.vault.azure.net/keys/KEY[/VERSION]          Key Vault's key identifier
//	azurekeyvault://NAME.vault.azure.net/keys/KEY[/VERSION]  gocloud.dev's URL
//
// The host must be a Key Vault or Managed HSM host of an Azure cloud
// (*.vault.azure.net, *.managedhsm.azure.net, and the China, US Government and
// Germany equivalents), without a port; it is case-insensitive. Key names take 1
// to 127 letters, digits and '-'; versions, 32 hexadecimal digits. User
// information, a query or a fragment is an error matching backends.ErrNotFound,
// as AWS KMS answers a malformed KeyId.
func ParseRef(s string) (Ref, error) {
	bad := func(why string) (Ref, error) {
		return Ref{}, backends.Errorf(backends.ErrNotFound, "", "", "invalid Key Vault key reference %q: %s", clip(s, 80), why)
	}
	if len(s) > maxRefLen {
		return bad("longer than 1024 bytes")
	}
	u, err := url.Parse(s)
	if err != nil {
		return bad("not a URL")
	}
	if !strings.EqualFold(u.Scheme, Scheme) && !strings.EqualFold(u.Scheme, HTTPSScheme) && !strings.EqualFold(u.Scheme, GocloudScheme) {
		return bad("scheme is none of azurekv, https and azurekeyvault")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || u.Port() != "" || strings.Contains(s, "%") {
		return bad("want https://NAME.vault.azure.net/keys/KEY[/VERSION] and nothing more")
	}
	host := strings.ToLower(u.Hostname())
	if !validHost(host) {
		return bad("host is not a Key Vault or Managed HSM host")
	}
	p := strings.Split(strings.TrimPrefix(u.Path, "/"), "/")
	if len(p) < 2 || len(p) > 3 || p[0] != "keys" {
		return bad("want /keys/KEY[/VERSION]")
	}
	r := Ref{Vault: host, Name: p[1]}
	if !validName(r.Name) {
		return bad("key name must be 1 to 127 letters, digits and '-'")
	}
	if len(p) == 3 {
		if !validVersion(p[2]) {
			return bad("version must be 32 hexadecimal digits")
		}
		r.Version = strings.ToLower(p[2])
	}
	return r, nil
}

func validHost(h string) bool {
	for _, suf := range vaultSuffixes {
		name, ok := strings.CutSuffix(h, suf)
		if !ok {
			continue
		}
		// A vault name: 3 to 24 letters, digits and '-', starting with a letter.
		if len(name) < 3 || len(name) > 24 || !(name[0] >= 'a' && name[0] <= 'z') {
			return false
		}
		for i := 0; i < len(name); i++ {
			c := name[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
		return true
	}
	return false
}

func validName(s string) bool {
	if s == "" || len(s) > 127 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validVersion(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
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
