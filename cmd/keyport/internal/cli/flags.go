package cli

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
)

// contextFlag is a repeatable flag that builds an encryption context: k=v
// pairs, or a JSON object (as the AWS CLI's --encryption-context takes). set
// records whether it was given at all, so that an explicitly empty context
// (--new-context ”) differs from none.
type contextFlag struct {
	m   map[string]string
	set bool
}

var _ pflag.Value = (*contextFlag)(nil)

// String returns the keys of the context (values may be sensitive).
func (c *contextFlag) String() string {
	if c == nil || len(c.m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return strings.Join(keys, ",") // keys only: values may be sensitive in logs
}

// Type names the value in help.
func (c *contextFlag) Type() string { return "k=v" }

// Set adds one k=v pair, or the pairs of a JSON object; an empty string only
// marks the flag as given.
func (c *contextFlag) Set(s string) error {
	c.set = true
	if c.m == nil {
		c.m = map[string]string{}
	}
	if s == "" {
		return nil
	}
	pairs := map[string]string{}
	if strings.HasPrefix(strings.TrimSpace(s), "{") {
		if err := json.Unmarshal([]byte(s), &pairs); err != nil {
			return backends.Errorf(backends.ErrInvalidArgument, "", "", "encryption context is not a JSON object of strings")
		}
		for k := range pairs {
			if err := checkContextKey(k); err != nil {
				return err
			}
		}
	} else {
		k, v, err := parseContextPair(s)
		if err != nil {
			return err
		}
		pairs[k] = v
	}
	for k, v := range pairs {
		if old, dup := c.m[k]; dup && old != v {
			return backends.Errorf(backends.ErrInvalidArgument, "", "", "encryption context key %q given twice", truncate(k))
		}
		c.m[k] = v
	}
	return nil
}

// value returns the context, or nil when the flag was not given.
func (c *contextFlag) value() map[string]string {
	if !c.set {
		return nil
	}
	return c.m
}

// parseContextPair splits "k=v" at the first '='. The key must be non-empty;
// the value may be empty. Keys with the format's reserved prefix are refused.
func parseContextPair(s string) (string, string, error) {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return "", "", backends.Errorf(backends.ErrInvalidArgument, "", "", "encryption context pair %q is not key=value", truncate(s))
	}
	if err := checkContextKey(k); err != nil {
		return "", "", err
	}
	return k, v, nil
}

func checkContextKey(k string) error {
	if k == "" {
		return backends.Errorf(backends.ErrInvalidArgument, "", "", "encryption context pair with an empty key")
	}
	if strings.HasPrefix(k, envelope.ReservedPrefix) {
		return backends.Errorf(backends.ErrInvalidArgument, "", "", "encryption context key %q uses the reserved prefix %q", truncate(k), envelope.ReservedPrefix)
	}
	return nil
}

// aliases maps the AWS CLI's spellings (and older keyport ones) to keyport's
// one vocabulary; a command normalizes its flags through it.
var aliases = map[string]string{
	"key-id":                           "key",
	"encryption-context":               "context",
	"source-key-id":                    "from",
	"destination-key-id":               "to",
	"source-encryption-context":        "context",
	"destination-encryption-context":   "new-context",
	"encryption-algorithm":             "algorithm",
	"source-encryption-algorithm":      "from-algorithm",
	"destination-encryption-algorithm": "to-algorithm",
	"grant-tokens":                     "grant-token",
	"output-file":                      "out",
}

// normalize is the flag sets' normalize function: AWS spellings are aliases.
func normalize(_ *pflag.FlagSet, name string) pflag.NormalizedName {
	if n, ok := aliases[name]; ok {
		return pflag.NormalizedName(n)
	}
	return pflag.NormalizedName(name)
}

// suiteNames are the short names --suite takes besides the hex ID.
var suiteNames = map[string]envelope.SuiteID{
	"committing":        envelope.SuiteAES256GCMHKDFSHA512CommitKey,
	"committing-signed": envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384,
}

// parseSuite parses --suite: "" (the default suite), a short name, or a suite
// ID in hex (0x0478) or decimal. Whether the suite may be written is the
// envelope's decision (commitment policy).
func parseSuite(s string) (envelope.SuiteID, error) {
	if s == "" {
		return 0, nil
	}
	if id, ok := suiteNames[strings.ToLower(s)]; ok {
		return id, nil
	}
	n, err := strconv.ParseUint(s, 0, 16)
	if err != nil || n == 0 || envelope.SuiteID(n).DataKeyLen() == 0 {
		return 0, backends.Errorf(backends.ErrInvalidArgument, "", "", "unknown suite %q (use 0x0478, 0x0578, committing or committing-signed)", truncate(s))
	}
	return envelope.SuiteID(n), nil
}

// policyFor returns the commitment policy that lets suite be written.
func policyFor(suite envelope.SuiteID) envelope.CommitmentPolicy {
	switch suite {
	case 0, envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384:
		return envelope.RequireEncryptRequireDecrypt
	}
	return envelope.ForbidEncryptAllowDecrypt
}

// suiteName formats a suite ID as the ESDK names it in hex.
func suiteName(s envelope.SuiteID) string { return fmt.Sprintf("0x%04X", uint16(s)) }
