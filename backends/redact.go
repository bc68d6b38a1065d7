package backends

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
)

// RedactKeyRef returns keyRef as errors and logs may show it: unchanged, except
// for the parts of a key URL that are secrets. A URL that holds its key
// (gocloud's base64key://) becomes base64key://sha256-<first 16 bytes of the
// SHA-256 of the URL, in hex>, the name its driver gives the key; a PKCS#11 PIN
// (RFC 7512's pin-value and pin-source) and query parameters that carry
// credentials (token, secret, password, signature, ...) become REDACTED; the
// password of a URL's user information is dropped. Every error the Front and
// the drivers' shared helpers ([Errorf], [Wrap]) make, and the [Logging]
// interceptor, name keys this way.
func RedactKeyRef(keyRef string) string {
	scheme, rest, ok := strings.Cut(keyRef, ":")
	if !ok || !isScheme(scheme) {
		return keyRef // an AWS form or no reference: nothing secret
	}
	switch strings.ToLower(scheme) {
	case "base64key":
		if strings.HasPrefix(rest, "//sha256-") {
			return keyRef
		}
		sum := sha256.Sum256([]byte(keyRef))
		return "base64key://sha256-" + hex.EncodeToString(sum[:16])
	case "pkcs11":
		return scheme + ":" + redactPKCS11(rest)
	}
	if !strings.ContainsAny(rest, "?@") {
		return keyRef
	}
	u, err := url.Parse(keyRef)
	if err != nil {
		// Not a URL a driver could use; keep only what cannot be a secret.
		return scheme + ":(unparsable)"
	}
	changed := false
	if u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.User(u.User.Username())
			changed = true
		}
	}
	if u.RawQuery != "" {
		q := u.Query()
		for name := range q {
			if secretParam(name) {
				q[name] = []string{"REDACTED"}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
	}
	if !changed {
		return keyRef
	}
	return u.String()
}

// redactPKCS11 replaces the values of pin-value and pin-source in the path
// (";"-separated) and query ("&"-separated) attributes of a pkcs11: URI.
func redactPKCS11(rest string) string {
	path, query, hasQuery := strings.Cut(rest, "?")
	redact := func(attrs, sep string) string {
		parts := strings.Split(attrs, sep)
		for i, p := range parts {
			name, _, ok := strings.Cut(p, "=")
			if n := strings.ToLower(name); ok && (n == "pin-value" || n == "pin-source") {
				parts[i] = name + "=REDACTED"
			}
		}
		return strings.Join(parts, sep)
	}
	out := redact(path, ";")
	if hasQuery {
		out += "?" + redact(query, "&")
	}
	return out
}

// secretParam reports whether a URL parameter or PKCS#11 attribute named name
// carries a credential.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	if u, err := url.QueryUnescape(n); err == nil {
		n = u
	}
	switch n {
	case "pin-value", "pin-source", "pin":
		return true
	}
	for _, s := range []string{"token", "secret", "password", "passwd", "credential", "signature", "sig", "apikey", "api-key", "api_key", "sessionkey"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}
