package local

import (
	"context"
	"encoding/hex"
	"slices"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/policy"
	"github.com/keyport/keyport/backends/local/internal/state"
	"github.com/keyport/keyport/backends/local/internal/token"
)

// maxGrantTokens is the most grant tokens a request may carry (the AWS limit).
const maxGrantTokens = 10

func caller(id Identity) policy.Caller { return policy.Caller{Account: id.Account, ARN: id.Principal} }

// authorize decides whether id may perform action on k: an explicit Deny in the
// key policy refuses; an Allow in it, or a grant to id for gop whose constraints
// ec meets, allows; anything else is AccessDenied. The caller holds s.mu.
func (s *Service) authorize(id Identity, op string, k *state.Key, action string, gop GrantOperation, ec map[string]string) error {
	switch k.Parsed.Evaluate(policy.Request{Caller: caller(id), Action: action, EncryptionContext: ec}) {
	case policy.Allow:
		return nil
	case policy.Deny:
		return backends.Errorf(backends.ErrAccessDenied, op, s.keyARN(k), "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in a resource-based policy", id.Principal, action, s.keyARN(k))
	}
	if gop != "" && s.st.GrantAllows(k, caller(id), string(gop), ec) {
		return nil
	}
	return backends.Errorf(backends.ErrAccessDenied, op, s.keyARN(k), "User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action", id.Principal, action, s.keyARN(k), action)
}

// toState and fromState convert between the API's and the state's form of constraints.
func toState(c *GrantConstraints) *state.Constraints {
	if c == nil {
		return nil
	}
	return &state.Constraints{
		EncryptionContextEquals: backends.CloneEncryptionContext(c.EncryptionContextEquals),
		EncryptionContextSubset: backends.CloneEncryptionContext(c.EncryptionContextSubset),
	}
}

func fromState(c *state.Constraints) *GrantConstraints {
	if c == nil {
		return nil
	}
	return &GrantConstraints{
		EncryptionContextEquals: backends.CloneEncryptionContext(c.EncryptionContextEquals),
		EncryptionContextSubset: backends.CloneEncryptionContext(c.EncryptionContextSubset),
	}
}

// checkGrantTokens rejects a request whose grant tokens are not all tokens this
// service made (InvalidGrantToken). Tokens of retired grants pass the check but
// authorize nothing. The caller holds s.mu.
func (s *Service) checkGrantTokens(op, keyID string, tokens []string) error {
	if len(tokens) > maxGrantTokens {
		return backends.Errorf(backends.ErrInvalidArgument, op, keyID, "at most %d grant tokens are allowed", maxGrantTokens)
	}
	for _, t := range tokens {
		if _, err := token.Check(s.st.Secret, t); err != nil {
			return backends.Errorf(backends.ErrInvalidGrantToken, op, keyID, "a grant token is not valid")
		}
	}
	return nil
}

var grantOps = []GrantOperation{GrantDecrypt, GrantEncrypt, GrantGenerateDataKey, GrantGenerateDataKeyWithoutPlaintext,
	GrantReEncryptFrom, GrantReEncryptTo, GrantDescribeKey, GrantCreateGrant, GrantRetireGrant}

// CreateGrant gives GranteePrincipal the right to perform Operations on a key,
// optionally only with a given encryption context. The grant takes effect at once;
// its token is accepted in GrantTokens. Needs kms:CreateGrant (policy or grant).
func (c *Client) CreateGrant(ctx context.Context, in *CreateGrantInput) (*CreateGrantOutput, error) {
	const op = "CreateGrant"
	if in == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	grantee, ok := policy.NormalizePrincipal(in.GranteePrincipal)
	if !ok {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, in.KeyID, "GranteePrincipal %q is not an ARN or account ID", in.GranteePrincipal)
	}
	var retiring string
	if in.RetiringPrincipal != "" {
		if retiring, ok = policy.NormalizePrincipal(in.RetiringPrincipal); !ok {
			return nil, backends.Errorf(backends.ErrInvalidArgument, op, in.KeyID, "RetiringPrincipal %q is not an ARN or account ID", in.RetiringPrincipal)
		}
	}
	if len(in.Operations) == 0 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, in.KeyID, "Operations is empty")
	}
	var ops []string
	for _, o := range in.Operations {
		ops = append(ops, string(o))
		if !slices.Contains(grantOps, o) {
			return nil, backends.Errorf(backends.ErrInvalidArgument, op, in.KeyID, "grant operation %q is not supported", o)
		}
		if in.Constraints != nil && (o == GrantDescribeKey || o == GrantCreateGrant || o == GrantRetireGrant) {
			return nil, backends.Errorf(backends.ErrInvalidArgument, op, in.KeyID, "grant constraints are not allowed with the %s operation", o)
		}
	}
	if err := c.enter(ctx, op, in.KeyID); err != nil {
		return nil, err
	}
	s := c.s
	defer s.leave()
	k, err := c.useKey(op, in.KeyID, in.GrantTokens, "kms:CreateGrant", GrantCreateGrant, nil)
	if err != nil {
		return nil, err
	}
	g := &state.Grant{
		ID: hex.EncodeToString(state.RandomBytes(32)), KeyID: k.ID, Name: in.Name,
		GranteePrincipal: in.GranteePrincipal, RetiringPrincipal: in.RetiringPrincipal,
		IssuingAccount: "arn:" + s.partition + ":iam::" + c.id.Account + ":root",
		Operations:     ops, Created: s.now(), Constraints: toState(in.Constraints),
		Grantee: grantee, Retiring: retiring,
	}
	tok, err := token.Make(s.st.Secret, g.ID)
	if err != nil {
		return nil, backends.Errorf(backends.ErrInternal, op, in.KeyID, "%v", err)
	}
	if err := s.commit(op, func() error { s.st.PutGrant(g); return nil }); err != nil {
		return nil, err
	}
	return &CreateGrantOutput{GrantID: g.ID, GrantToken: tok}, nil
}

// RetireGrant deletes a grant, named by its token or by key ARN and grant ID. The
// retiring principal, a grantee whose grant allows RetireGrant, or a principal of
// the key's account whose key policy allows kms:RetireGrant may retire it.
func (c *Client) RetireGrant(ctx context.Context, in *RetireGrantInput) error {
	const op = "RetireGrant"
	if in == nil {
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	if err := c.enter(ctx, op, in.KeyID); err != nil {
		return err
	}
	s := c.s
	defer s.leave()
	var g *state.Grant
	switch {
	case in.GrantToken != "":
		gid, err := token.Check(s.st.Secret, in.GrantToken)
		if err != nil {
			return backends.Errorf(backends.ErrInvalidGrantToken, op, in.KeyID, "the grant token is not valid")
		}
		if g = s.st.Grants[gid]; g == nil {
			return backends.Errorf(backends.ErrNotFound, op, in.KeyID, "grant %s is not found", gid)
		}
	case in.KeyID != "" && in.GrantID != "":
		k, err := s.resolve(c.id, op, in.KeyID)
		if err != nil {
			return err
		}
		if g = s.st.Grants[in.GrantID]; g == nil || g.KeyID != k.ID {
			return backends.Errorf(backends.ErrNotFound, op, in.KeyID, "grant %s is not found", in.GrantID)
		}
	default:
		return backends.Errorf(backends.ErrInvalidArgument, op, in.KeyID, "give GrantToken, or KeyId and GrantId")
	}
	k := s.st.Keys[g.KeyID]
	cl := caller(c.id)
	allowed := (g.Retiring != "" && policy.MatchPrincipal([]string{g.Retiring}, cl)) ||
		(policy.MatchPrincipal([]string{g.Grantee}, cl) && slices.Contains(g.Operations, string(GrantRetireGrant))) ||
		(c.id.Account == k.Account && k.Parsed.Allows(policy.Request{Caller: cl, Action: "kms:RetireGrant"}))
	if !allowed {
		return backends.Errorf(backends.ErrAccessDenied, op, s.keyARN(k), "User: %s is not authorized to retire grant %s", c.id.Principal, g.ID)
	}
	return s.commit(op, func() error { s.st.DeleteGrant(g.ID); return nil })
}

// RevokeGrant deletes a grant of a key (kms:RevokeGrant).
func (c *Client) RevokeGrant(ctx context.Context, in *RevokeGrantInput) error {
	const op = "RevokeGrant"
	if in == nil {
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	if err := c.enter(ctx, op, in.KeyID); err != nil {
		return err
	}
	s := c.s
	defer s.leave()
	k, err := s.resolve(c.id, op, in.KeyID)
	if err != nil {
		return err
	}
	if err := s.authorize(c.id, op, k, "kms:RevokeGrant", "", nil); err != nil {
		return err
	}
	g := s.st.Grants[in.GrantID]
	if g == nil || g.KeyID != k.ID {
		return backends.Errorf(backends.ErrNotFound, op, in.KeyID, "grant %q is not found", in.GrantID)
	}
	return s.commit(op, func() error { s.st.DeleteGrant(g.ID); return nil })
}

// ListGrants lists the grants of a key (kms:ListGrants), optionally only one grant
// ID or one grantee, a page at a time.
func (c *Client) ListGrants(ctx context.Context, in *ListGrantsInput) (*ListGrantsOutput, error) {
	const op = "ListGrants"
	if in == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	limit, err := checkLimit(op, in.Limit, 50, 100)
	if err != nil {
		return nil, err
	}
	unlock, err := c.enterRead(ctx, op, in.KeyID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := c.s
	if err := s.checkGrantTokens(op, in.KeyID, in.GrantTokens); err != nil {
		return nil, err
	}
	k, err := s.resolve(c.id, op, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c.id, op, k, "kms:ListGrants", "", nil); err != nil {
		return nil, err
	}
	var ids []string
	for id, g := range s.st.Grants {
		if g.KeyID == k.ID && (in.GrantID == "" || in.GrantID == id) && (in.GranteePrincipal == "" || in.GranteePrincipal == g.GranteePrincipal) {
			ids = append(ids, id)
		}
	}
	page, next, err := token.Page(ids, limit, in.Marker)
	if err != nil {
		return nil, backends.Errorf(backends.ErrInvalidMarker, op, in.KeyID, "%v", err)
	}
	out := &ListGrantsOutput{NextMarker: next, Truncated: next != ""}
	for _, id := range page {
		g := s.st.Grants[id]
		e := GrantListEntry{GrantID: g.ID, KeyID: s.keyARN(k), Name: g.Name, GranteePrincipal: g.GranteePrincipal,
			RetiringPrincipal: g.RetiringPrincipal, IssuingAccount: g.IssuingAccount,
			CreationDate: g.Created, Constraints: fromState(g.Constraints)}
		for _, o := range g.Operations {
			e.Operations = append(e.Operations, GrantOperation(o))
		}
		out.Grants = append(out.Grants, e)
	}
	return out, nil
}

func checkLimit(op string, limit, def, max int) (int, error) {
	if limit == 0 {
		return def, nil
	}
	if limit < 1 || limit > max {
		return 0, backends.Errorf(backends.ErrInvalidArgument, op, "", "Limit must be 1 to %d", max)
	}
	return limit, nil
}
