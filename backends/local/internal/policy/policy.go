// Package policy parses and evaluates the subset of IAM policy language that
// backends/local supports in key policies:
//
//	{"Version": "2012-10-17", "Statement": [{
//	    "Sid": "...", "Effect": "Allow" | "Deny",
//	    "Principal": "*" | {"AWS": "ARN-or-account" | ["...", ...]},
//	    "Action": "kms:Encrypt" | ["kms:Re*", ...],
//	    "Resource": "*",
//	    "Condition": {"StringEquals": {"kms:EncryptionContext:KEY": "v" | ["v", ...],
//	                                   "kms:CallerAccount": "111122223333"}}}]}
//
// A principal "*" is anyone; an account ID or "arn:PARTITION:iam::ACCOUNT:root" is
// any principal of that account; any other ARN is that principal exactly. Actions
// match case-insensitively with the wildcards * and ?. An explicit Deny beats every
// Allow. Anything outside the subset (NotAction, NotPrincipal, other condition
// operators, ...) is rejected at parse time rather than silently ignored.
package policy

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/keyport/keyport/backends"
	"strings"
)

// MaxSize is the largest policy document accepted, in bytes (the AWS limit).
const MaxSize = 32 * 1024

// Caller is who makes a request.
type Caller struct {
	Account string // 12 digits
	ARN     string // principal ARN
}

// Request is one authorization question.
type Request struct {
	Caller Caller
	// Action is the KMS action, e.g. "kms:Encrypt".
	Action string
	// EncryptionContext is the context of the request, for kms:EncryptionContext conditions.
	EncryptionContext map[string]string
}

// Decision is the outcome of evaluating a policy.
type Decision int

// Decisions.
const (
	NotApplicable Decision = iota // no statement applies: an implicit deny
	Allow
	Deny
)

// Policy is a parsed key policy. It is immutable and safe for concurrent use.
type Policy struct {
	stmts []statement
}

type statement struct {
	allow      bool
	principals []string
	actions    []string
	conds      []cond
}

type cond struct {
	key    string // lower-cased condition key
	values []string
}

// Default returns the default key policy AWS gives a key of account: the account's
// principals may do everything (kms:*).
func Default(partition, account string) string {
	return `{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions",` +
		`"Effect":"Allow","Principal":{"AWS":"arn:` + partition + `:iam::` + account + `:root"},"Action":"kms:*","Resource":"*"}]}`
}

// stringList accepts a JSON string or an array of strings.
type stringList []string

func (l *stringList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*l = []string{s}
		return nil
	}
	var ss []string
	if err := json.Unmarshal(b, &ss); err != nil {
		return errors.New("want a string or an array of strings")
	}
	*l = ss
	return nil
}

type rawStatement struct {
	Sid          string                           `json:"Sid"`
	Effect       string                           `json:"Effect"`
	Principal    json.RawMessage                  `json:"Principal"`
	Action       stringList                       `json:"Action"`
	Resource     stringList                       `json:"Resource"`
	Condition    map[string]map[string]stringList `json:"Condition"`
	NotAction    json.RawMessage                  `json:"NotAction"`
	NotPrincipal json.RawMessage                  `json:"NotPrincipal"`
	NotResource  json.RawMessage                  `json:"NotResource"`
}

// Parse parses and validates a key policy document.
func Parse(doc string) (*Policy, error) {
	if len(doc) == 0 || len(doc) > MaxSize {
		return nil, fmt.Errorf("policy must be 1 to %d bytes", MaxSize)
	}
	var raw struct {
		Version   string          `json:"Version"`
		ID        string          `json:"Id"`
		Statement json.RawMessage `json:"Statement"`
	}
	if err := json.Unmarshal([]byte(doc), &raw); err != nil {
		return nil, fmt.Errorf("policy is not a JSON object: %v", err)
	}
	if raw.Version != "" && raw.Version != "2012-10-17" && raw.Version != "2008-10-17" {
		return nil, fmt.Errorf("unsupported policy Version %q", raw.Version)
	}
	var rs []rawStatement
	if err := json.Unmarshal(raw.Statement, &rs); err != nil {
		var one rawStatement
		if err2 := json.Unmarshal(raw.Statement, &one); err2 != nil {
			return nil, errors.New("the Statement must be an object or an array of objects")
		}
		rs = []rawStatement{one}
	}
	if len(rs) == 0 {
		return nil, errors.New("policy has no Statement")
	}
	p := &Policy{}
	for i, r := range rs {
		st, err := parseStatement(r)
		if err != nil {
			return nil, fmt.Errorf("statement %d: %v", i, err)
		}
		p.stmts = append(p.stmts, st)
	}
	return p, nil
}

func parseStatement(r rawStatement) (statement, error) {
	var st statement
	if r.NotAction != nil || r.NotPrincipal != nil || r.NotResource != nil {
		return st, errors.New("NotAction, NotPrincipal and NotResource are not supported")
	}
	switch r.Effect {
	case "Allow":
		st.allow = true
	case "Deny":
	default:
		return st, fmt.Errorf("the Effect must be Allow or Deny, not %q", r.Effect)
	}
	princ, err := parsePrincipal(r.Principal)
	if err != nil {
		return st, err
	}
	st.principals = princ
	if len(r.Action) == 0 {
		return st, errors.New("no Action")
	}
	for _, a := range r.Action {
		la := strings.ToLower(a)
		if la != "*" && !strings.HasPrefix(la, "kms:") {
			return st, fmt.Errorf("action %q is not a kms: action", a)
		}
		st.actions = append(st.actions, la)
	}
	if len(r.Resource) == 0 {
		return st, errors.New("no Resource")
	}
	for op, m := range r.Condition {
		if op != "StringEquals" {
			return st, fmt.Errorf("condition operator %q is not supported (only StringEquals)", op)
		}
		for k, vs := range m {
			lk := strings.ToLower(k)
			if lk != "kms:calleraccount" && !strings.HasPrefix(lk, "kms:encryptioncontext:") {
				return st, fmt.Errorf("condition key %q is not supported", k)
			}
			st.conds = append(st.conds, cond{key: lk, values: vs})
		}
	}
	return st, nil
}

func parsePrincipal(raw json.RawMessage) ([]string, error) {
	if raw == nil {
		return nil, errors.New("no Principal")
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if s != "*" {
			return nil, errors.New(`the Principal must be "*" or {"AWS": ...}`)
		}
		return []string{"*"}, nil
	}
	var m map[string]stringList
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, errors.New(`the Principal must be "*" or {"AWS": ...}`)
	}
	var out []string
	for typ, vs := range m {
		if typ != "AWS" {
			return nil, fmt.Errorf("principal type %q is not supported (only AWS)", typ)
		}
		for _, v := range vs {
			switch {
			case v == "*":
				out = append(out, "*")
			case backends.IsAccountID(v):
				out = append(out, "acct:"+v)
			case strings.HasPrefix(v, "arn:"):
				if acct, ok := rootAccount(v); ok {
					out = append(out, "acct:"+acct)
				} else {
					out = append(out, v)
				}
			default:
				return nil, fmt.Errorf("principal %q is neither *, an account ID nor an ARN", v)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("the Principal names nobody")
	}
	return out, nil
}

// rootAccount returns ACCOUNT for "arn:PARTITION:iam::ACCOUNT:root".
func rootAccount(arn string) (string, bool) {
	parts := strings.Split(arn, ":")
	if len(parts) == 6 && parts[2] == "iam" && parts[3] == "" && backends.IsAccountID(parts[4]) && parts[5] == "root" {
		return parts[4], true
	}
	return "", false
}

// Evaluate decides a request: Deny if a Deny statement applies, else Allow if an
// Allow statement applies, else NotApplicable.
func (p *Policy) Evaluate(r Request) Decision {
	d := NotApplicable
	for _, st := range p.stmts {
		if !st.applies(r) {
			continue
		}
		if !st.allow {
			return Deny
		}
		d = Allow
	}
	return d
}

// Allows reports whether the policy allows r (an Allow applies and no Deny does).
func (p *Policy) Allows(r Request) bool { return p.Evaluate(r) == Allow }

func (st *statement) applies(r Request) bool {
	return MatchPrincipal(st.principals, r.Caller) && st.matchAction(r.Action) && st.matchConds(r)
}

// MatchPrincipal reports whether caller is one of the normalized principals (as
// Parse stores them: "*", "acct:ACCOUNT" or an exact ARN).
func MatchPrincipal(principals []string, caller Caller) bool {
	for _, p := range principals {
		switch {
		case p == "*":
			return true
		case strings.HasPrefix(p, "acct:"):
			if p[5:] == caller.Account {
				return true
			}
		case p == caller.ARN:
			return true
		}
	}
	return false
}

// NormalizePrincipal turns a grantee principal (ARN, account root ARN or account
// ID) into the form MatchPrincipal takes; ok is false for anything else.
func NormalizePrincipal(v string) (string, bool) {
	switch {
	case backends.IsAccountID(v):
		return "acct:" + v, true
	case strings.HasPrefix(v, "arn:"):
		if acct, ok := rootAccount(v); ok {
			return "acct:" + acct, true
		}
		return v, true
	}
	return "", false
}

func (st *statement) matchAction(action string) bool {
	if isASCII(action) {
		// The actions of requests are ASCII: lower-case them while matching
		// instead of making a lower-cased copy (strings.ToLower does the same
		// to ASCII).
		for _, pat := range st.actions {
			if pat == "kms:*" && len(action) >= 4 && lowerASCII(action[0]) == 'k' && lowerASCII(action[1]) == 'm' &&
				lowerASCII(action[2]) == 's' && action[3] == ':' {
				return true
			}
			if globFold(pat, action) {
				return true
			}
		}
		return false
	}
	a := strings.ToLower(action)
	for _, pat := range st.actions {
		if Glob(pat, a) {
			return true
		}
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

func (st *statement) matchConds(r Request) bool {
	for _, c := range st.conds {
		var have string
		var ok bool
		if c.key == "kms:calleraccount" {
			have, ok = r.Caller.Account, true
		} else {
			want := strings.TrimPrefix(c.key, "kms:encryptioncontext:")
			for k, v := range r.EncryptionContext {
				if strings.ToLower(k) == want {
					have, ok = v, true
					break
				}
			}
		}
		if !ok {
			return false
		}
		match := false
		for _, v := range c.values {
			if v == have {
				match = true
				break
			}
		}
		if !match {
			return false
		}
	}
	return true
}

// Glob matches s against pattern, where * matches any run of bytes and ? one byte.
func Glob(pattern, s string) bool { return glob(pattern, s, false) }

// globFold is Glob(pattern, strings.ToLower(s)) for an ASCII s.
func globFold(pattern, s string) bool { return glob(pattern, s, true) }

func glob(pattern, s string, fold bool) bool {
	px, sx := 0, 0
	nextPx, nextSx := -1, -1
	for px < len(pattern) || sx < len(s) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				nextPx, nextSx = px, sx+1
				px++
				continue
			case '?':
				if sx < len(s) {
					px++
					sx++
					continue
				}
			default:
				if sx < len(s) && (s[sx] == c || fold && lowerASCII(s[sx]) == c) {
					px++
					sx++
					continue
				}
			}
		}
		if nextSx > 0 && nextSx <= len(s) {
			px, sx = nextPx, nextSx
			continue
		}
		return false
	}
	return true
}
