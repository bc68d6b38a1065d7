package awskms

import (
	"net/url"
	"strings"

	"github.com/keyport/keyport/backends"
)

// URL schemes of AWS KMS keys: keyport's and gocloud.dev's
// (awskms:///<key ID, key ARN, alias name or alias ARN>?region=<region>), and
// Tink's (aws-kms://<key ARN or alias ARN>).
const (
	Scheme     = "awskms"
	TinkScheme = "aws-kms"
)

// Target is a key reference resolved for a call: the KeyId to send to KMS, and the
// region whose endpoint gets the call ("" for the home region).
type Target struct {
	// KeyID is one of the four AWS forms, as KMS takes it.
	KeyID string
	// Region is the region of the ARN or of the URI's region parameter, or "".
	Region string
	// Ref is the parsed AWS reference.
	Ref backends.KeyRef
}

// ParseKeyID resolves a key reference as the Backend takes it: one of the four AWS
// forms (key ID, key ARN, alias name, alias ARN), an awskms URL in the form
// gocloud.dev uses, or Tink's aws-kms URL:
//
//	awskms:///1234abcd-12ab-34cd-56ef-1234567890ab?region=us-east-1
//	awskms:///alias/orders?region=eu-west-1
//	awskms:///arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
//	awskms://alias/orders            (host form: the host is the first path element)
//	aws-kms://arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
//
// The query parameters are region, which must agree with the region of an ARN,
// and endpoint, the base URL of the KMS API server (an [Opener] connects to it;
// the Backend ignores it). A reference that is malformed or names another service
// is an error matching backends.ErrNotFound, as AWS answers a malformed KeyId.
func ParseKeyID(keyID string) (Target, error) {
	ref, err := backends.ParseKeyRef(keyID)
	if err != nil {
		return Target{}, err
	}
	if ref.IsAWS() {
		return Target{KeyID: keyID, Region: ref.Region, Ref: ref}, nil
	}
	if ref.Scheme != Scheme && ref.Scheme != TinkScheme {
		return Target{}, backends.Errorf(backends.ErrNotFound, "", keyID, "not an AWS KMS key reference (scheme %q)", ref.Scheme)
	}
	return parseURI(keyID, ref.URI)
}

func parseURI(raw string, u *url.URL) (Target, error) {
	bad := func(format string, args ...any) (Target, error) {
		return Target{}, backends.Errorf(backends.ErrNotFound, "", raw, "invalid awskms URI: "+format, args...)
	}
	if u.Opaque != "" {
		return bad("want awskms:///<key> or awskms://<key>")
	}
	if u.User != nil || u.Fragment != "" || u.Port() != "" {
		return bad("user info, port and fragment are not allowed")
	}
	key := strings.TrimPrefix(u.Host+u.Path, "/")
	if key == "" {
		return bad("no key")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return bad("bad query: %v", err)
	}
	region := ""
	for name, vs := range q {
		if len(vs) != 1 || vs[0] == "" {
			return bad("%s must be given once, not empty", name)
		}
		switch name {
		case "region":
			region = vs[0]
		case "endpoint":
			if e, err := url.Parse(vs[0]); err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" {
				return bad("endpoint %q is not an http(s) URL", truncate(vs[0], 80))
			}
		default:
			return bad("unknown parameter %q", name)
		}
	}
	ref, err := backends.ParseKeyRef(key)
	if err != nil || !ref.IsAWS() {
		return bad("%q is not a key ID, key ARN, alias name or alias ARN", truncate(key, 80))
	}
	if region != "" {
		if ref.IsARN() && ref.Region != region {
			return bad("region %q differs from the ARN's region %q", region, ref.Region)
		}
		// Checked the way an ARN's region is: the ARN parser knows region syntax.
		if _, err := backends.ParseKeyRef(backends.AliasARN("aws", region, "000000000000", "alias/x")); err != nil {
			return bad("bad region %q", region)
		}
	}
	if region == "" {
		region = ref.Region
	}
	return Target{KeyID: key, Region: region, Ref: ref}, nil
}

// URI returns the awskms URI of an AWS key reference, with the region parameter
// when region is not empty and keyID is not an ARN.
func URI(keyID, region string) string {
	u := Scheme + ":///" + keyID
	if region != "" && !strings.HasPrefix(keyID, "arn:") {
		u += "?region=" + url.QueryEscape(region)
	}
	return u
}

// IsMultiRegionKey reports whether keyID names a multi-Region key by its key ID or
// key ARN (the key ID starts with "mrk-"). An alias never counts: what it points to
// is known only to KMS.
func IsMultiRegionKey(keyID string) bool {
	ref, err := backends.ParseKeyRef(keyID)
	return err == nil && (ref.Form == backends.FormKeyID || ref.Form == backends.FormKeyARN) && ref.MultiRegion()
}

// ReplicaARN returns the ARN of the replica in region of the multi-Region key whose
// key ARN is keyARN. It is an error matching backends.ErrInvalidArgument for a
// reference that is not the key ARN of a multi-Region key.
func ReplicaARN(keyARN, region string) (string, error) {
	ref, err := backends.ParseKeyRef(keyARN)
	if err != nil {
		return "", err
	}
	if ref.Form != backends.FormKeyARN || !ref.MultiRegion() {
		return "", backends.Errorf(backends.ErrInvalidArgument, "", keyARN, "not the key ARN of a multi-Region key")
	}
	out := backends.KeyARN(ref.Partition, region, ref.Account, ref.KeyID)
	if _, err := backends.ParseKeyRef(out); err != nil {
		return "", backends.Errorf(backends.ErrInvalidArgument, "", keyARN, "bad region %q", region)
	}
	return out, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
