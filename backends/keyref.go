package backends

import (
	"fmt"
	"net/url"
	"strings"
)

// RefForm says which form a key reference takes.
type RefForm int

// Key reference forms: the four AWS takes, and a URI for every other service.
const (
	FormKeyID     RefForm = iota + 1 // 1234abcd-12ab-34cd-56ef-1234567890ab or mrk-<32 hex>
	FormKeyARN                       // arn:aws:kms:us-east-1:111122223333:key/<key ID>
	FormAliasName                    // alias/ExampleAlias
	FormAliasARN                     // arn:aws:kms:us-east-1:111122223333:alias/ExampleAlias
	FormURI                          // vault://transit/orders, pkcs11:token=t;object=o, ...
)

func (f RefForm) String() string {
	switch f {
	case FormKeyID:
		return "key ID"
	case FormKeyARN:
		return "key ARN"
	case FormAliasName:
		return "alias name"
	case FormAliasARN:
		return "alias ARN"
	case FormURI:
		return "URI"
	}
	return fmt.Sprintf("RefForm(%d)", int(f))
}

// KeyRef is a parsed key reference.
type KeyRef struct {
	Form RefForm
	// Raw is the reference as given.
	Raw string
	// Partition, Region and Account come from an ARN; they are empty for a bare key
	// ID or alias name, which resolve in the caller's own account and region.
	Partition string
	Region    string
	Account   string
	// KeyID is the key ID (FormKeyID, FormKeyARN).
	KeyID string
	// Alias is the alias name with its "alias/" prefix (FormAliasName, FormAliasARN).
	Alias string
	// URI is the parsed URI (FormURI); Scheme is its lower-cased scheme.
	URI    *url.URL
	Scheme string
}

// IsAWS reports whether the reference takes one of the four AWS forms.
func (r KeyRef) IsAWS() bool { return r.Form >= FormKeyID && r.Form <= FormAliasARN }

// IsARN reports whether the reference is a key ARN or an alias ARN.
func (r KeyRef) IsARN() bool { return r.Form == FormKeyARN || r.Form == FormAliasARN }

// MultiRegion reports whether the reference names a multi-Region key (mrk- key ID).
func (r KeyRef) MultiRegion() bool { return strings.HasPrefix(r.KeyID, "mrk-") }

// String returns the reference as given.
func (r KeyRef) String() string { return r.Raw }

const maxKeyRefLen = 2048 // the AWS limit on KeyId

// ParseKeyRef parses a key reference: one of the four AWS forms, exactly as AWS KMS
// takes them, or a URI with a scheme ("vault://transit/orders"). A malformed
// reference is an error matching ErrNotFound, as AWS KMS answers "Invalid keyId".
func ParseKeyRef(s string) (KeyRef, error) {
	ref := KeyRef{Raw: s}
	bad := func(why string) (KeyRef, error) {
		return KeyRef{}, Errorf(ErrNotFound, "", "", "invalid key reference %q: %s", truncate(RedactKeyRef(s), 80), why)
	}
	switch {
	case s == "":
		return bad("empty")
	case len(s) > maxKeyRefLen:
		return bad("longer than 2048 bytes")
	case strings.HasPrefix(s, "arn:"):
		return parseARN(s)
	case strings.HasPrefix(s, "alias/"):
		if err := checkAliasName(s); err != nil {
			return bad(err.Error())
		}
		ref.Form, ref.Alias = FormAliasName, s
		return ref, nil
	case isKeyID(s):
		ref.Form, ref.KeyID = FormKeyID, s
		return ref, nil
	}
	scheme, _, ok := strings.Cut(s, ":")
	if !ok || !isScheme(scheme) {
		return bad("neither a key ID, an ARN, an alias name nor a URI")
	}
	u, err := url.Parse(s)
	if err != nil {
		// Tink writes an AWS key URL as aws-kms://arn:aws:kms:..., which is not a
		// URL that url.Parse reads (the ARN's colons are no port): take the ARN
		// as the URL's path.
		arn, query, ok := awsKeyURL(scheme, s)
		if !ok {
			return bad("bad URI: " + err.Error())
		}
		u = &url.URL{Scheme: scheme, Path: "/" + arn, RawQuery: query}
	}
	ref.Form, ref.URI, ref.Scheme = FormURI, u, strings.ToLower(scheme)
	return ref, nil
}

func parseARN(s string) (KeyRef, error) {
	ref := KeyRef{Raw: s}
	bad := func(why string) (KeyRef, error) {
		return KeyRef{}, Errorf(ErrNotFound, "", "", "invalid key ARN %q: %s", truncate(s, 80), why)
	}
	// arn:partition:kms:region:account:resource, cut without allocating.
	var parts [6]string
	rest := s
	for i := 0; i < 5; i++ {
		j := strings.IndexByte(rest, ':')
		if j < 0 {
			return bad("want arn:partition:kms:region:account:key/id or ...:alias/name")
		}
		parts[i], rest = rest[:j], rest[j+1:]
	}
	parts[5] = rest
	ref.Partition, ref.Region, ref.Account = parts[1], parts[3], parts[4]
	switch {
	case !isPartition(ref.Partition):
		return bad("bad partition")
	case parts[2] != "kms":
		return bad("service is not kms")
	case !isRegion(ref.Region):
		return bad("bad region")
	case !isAccount(ref.Account):
		return bad("account is not 12 digits")
	}
	res := parts[5]
	switch {
	case strings.HasPrefix(res, "key/"):
		id := strings.TrimPrefix(res, "key/")
		if !isKeyID(id) {
			return bad("bad key ID")
		}
		ref.Form, ref.KeyID = FormKeyARN, id
	case strings.HasPrefix(res, "alias/"):
		if err := checkAliasName(res); err != nil {
			return bad(err.Error())
		}
		ref.Form, ref.Alias = FormAliasARN, res
	default:
		return bad("resource is neither key/ nor alias/")
	}
	return ref, nil
}

// awsKeyURL returns the ARN and the query of an AWS KMS key URL that holds an ARN
// (schemes awskms and aws-kms, with or without slashes before the ARN).
func awsKeyURL(scheme, s string) (arn, query string, ok bool) {
	switch strings.ToLower(scheme) {
	case "awskms", "aws-kms":
	default:
		return "", "", false
	}
	rest := s[len(scheme)+1:]
	rest = strings.TrimPrefix(rest, "//")
	rest = strings.TrimPrefix(rest, "/")
	rest, query, _ = strings.Cut(rest, "?")
	if _, err := parseARN(rest); err != nil {
		return "", "", false
	}
	return rest, query, true
}

// MRKMatch reports whether two AWS key references name the same key when the
// replicas of a multi-Region key count as one key, as the AWS Encryption SDK's
// MRK-aware keyrings decide it ("AWS KMS MRK Match for Decrypt"): identical
// references match; otherwise both must be key ARNs of multi-Region keys that agree
// in everything but the region. The envelope layer uses it to accept an encrypted
// data key whose provider info names a replica of the keyring's key; it then
// decrypts with its own key ARN, so the call goes to its own region.
func MRKMatch(a, b string) bool {
	if a == b {
		return true
	}
	ra, err := ParseKeyRef(a)
	if err != nil {
		return false
	}
	rb, err := ParseKeyRef(b)
	if err != nil {
		return false
	}
	if ra.Form != FormKeyARN || rb.Form != FormKeyARN || !ra.MultiRegion() || !rb.MultiRegion() {
		return false
	}
	return ra.Partition == rb.Partition && ra.Account == rb.Account && ra.KeyID == rb.KeyID
}

// KeyARN returns the ARN of key ID id in partition, region and account.
func KeyARN(partition, region, account, id string) string {
	return "arn:" + partition + ":kms:" + region + ":" + account + ":key/" + id
}

// AliasARN returns the ARN of alias (with its "alias/" prefix) in partition, region and account.
func AliasARN(partition, region, account, alias string) string {
	return "arn:" + partition + ":kms:" + region + ":" + account + ":" + alias
}

// isKeyID reports whether s is a key ID: a lower-case UUID, or mrk- and 32 lower-case hex digits.
func isKeyID(s string) bool {
	if rest, ok := strings.CutPrefix(s, "mrk-"); ok {
		return len(rest) == 32 && allHex(rest)
	}
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// checkAliasName checks an alias name as AWS does: "alias/" and then 1 to 250 of
// the letters, digits, '/', '_' and '-' (AWS allows 256 bytes in all).
func checkAliasName(s string) error {
	name := strings.TrimPrefix(s, "alias/")
	if name == "" {
		return fmt.Errorf("alias name is empty")
	}
	if len(s) > 256 {
		return fmt.Errorf("alias name longer than 256 bytes")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '_' || c == '-') {
			return fmt.Errorf("alias name has a character other than [a-zA-Z0-9/_-]")
		}
	}
	return nil
}

func isPartition(p string) bool {
	switch p {
	case "aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b", "aws-iso-e", "aws-iso-f", "aws-eusc":
		return true
	}
	return false
}

// isRegion accepts region names as AWS spells them: lower-case letters, digits and
// dashes, starting with a letter (us-east-1, cn-north-1, us-gov-west-1, eu-isoe-west-1).
func isRegion(r string) bool {
	if r == "" || len(r) > 32 || !(r[0] >= 'a' && r[0] <= 'z') {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// IsAccountID reports whether s is an AWS account ID: exactly 12 decimal digits.
func IsAccountID(s string) bool { return isAccount(s) }

func isAccount(a string) bool {
	if len(a) != 12 {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i] < '0' || a[i] > '9' {
			return false
		}
	}
	return true
}

// isScheme reports whether s is a URI scheme (RFC 3986) of at least two characters,
// so that a Windows drive letter is never taken for one.
func isScheme(s string) bool {
	if len(s) < 2 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' }

func allHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
