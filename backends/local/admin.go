package local

import (
	"context"
	"strings"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/policy"
	"github.com/keyport/keyport/backends/local/internal/state"
	"github.com/keyport/keyport/backends/local/internal/token"
)

// parsePolicy parses a key policy and, unless bypass, checks that it lets id call
// PutKeyPolicy (the AWS lockout safety check). Failures match ErrInvalidArgument
// (AWS: MalformedPolicyDocumentException).
func parsePolicy(op, keyID, doc string, id Identity, bypass bool) (*policy.Policy, error) {
	p, err := policy.Parse(doc)
	if err != nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, keyID, "MalformedPolicyDocumentException: %v", err)
	}
	if !bypass && !p.Allows(policy.Request{Caller: caller(id), Action: "kms:PutKeyPolicy"}) {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, keyID, "MalformedPolicyDocumentException: the new key policy will not allow you to update the key policy in the future")
	}
	return p, nil
}

// CreateKey makes a symmetric encryption key in the caller's account, Enabled,
// with one backing-key version, and (AliasName) its alias, in one transaction.
func (c *Client) CreateKey(ctx context.Context, in *CreateKeyInput) (*CreateKeyOutput, error) {
	const op = "CreateKey"
	if in == nil {
		in = &CreateKeyInput{}
	}
	if in.KeyUsage != "" && in.KeyUsage != backends.KeyUsageEncryptDecrypt {
		return nil, backends.Errorf(backends.ErrUnsupported, op, "", "only ENCRYPT_DECRYPT keys are supported, not %s", in.KeyUsage)
	}
	if in.KeySpec != "" && in.KeySpec != "SYMMETRIC_DEFAULT" {
		return nil, backends.Errorf(backends.ErrUnsupported, op, "", "only SYMMETRIC_DEFAULT keys are supported, not %s", in.KeySpec)
	}
	if len(in.Description) > 8192 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "Description is longer than 8192 characters")
	}
	if in.AliasName != "" {
		if err := checkAlias(op, in.AliasName); err != nil {
			return nil, err
		}
	}
	if err := c.enter(ctx, op, ""); err != nil {
		return nil, err
	}
	s := c.s
	defer s.leave()
	doc := in.Policy
	if doc == "" {
		doc = policy.Default(s.partition, c.id.Account)
	}
	p, err := parsePolicy(op, "", doc, c.id, in.BypassPolicyLockoutSafetyCheck)
	if err != nil {
		return nil, err
	}
	if _, dup := s.st.Aliases[c.id.Account][in.AliasName]; in.AliasName != "" && dup {
		return nil, backends.Errorf(backends.ErrAlreadyExists, op, in.AliasName, "an alias with the name %s already exists", s.aliasARN(c.id.Account, in.AliasName))
	}
	now := s.now()
	k := &state.Key{ID: state.NewKeyID(in.MultiRegion), Account: c.id.Account, Description: in.Description,
		State: backends.KeyStateEnabled, Created: now, Policy: doc, MultiRegion: in.MultiRegion, Parsed: p}
	k.ARN = backends.KeyARN(s.partition, s.region, k.Account, k.ID)
	k.AddVersion(now)
	if err := s.commit(op, func() error {
		s.st.PutKey(k)
		if in.AliasName != "" {
			s.st.PutAlias(c.id.Account, in.AliasName, k.ID)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return &CreateKeyOutput{KeyMetadata: s.metadata(k)}, nil
}

// adminKey starts an admin operation on a key: it resolves ref, authorizes action
// (policy, or grant for gop if not empty) and returns the key with s.mu held; on
// error s.mu is released.
func (c *Client) adminKey(ctx context.Context, op, ref, action string, gop GrantOperation) (*state.Key, error) {
	if err := c.enter(ctx, op, ref); err != nil {
		return nil, err
	}
	s := c.s
	k, err := s.resolve(c.id, op, ref)
	if err == nil {
		err = s.authorize(c.id, op, k, action, gop, nil)
	}
	if err != nil {
		s.leave()
		return nil, err
	}
	return k, nil
}

// adminKeyRead is adminKey for an operation that only reads: on success the
// caller holds s.mu and calls unlock.
func (c *Client) adminKeyRead(ctx context.Context, op, ref, action string) (k *state.Key, unlock func(), err error) {
	unlock, err = c.enterRead(ctx, op, ref)
	if err != nil {
		return nil, nil, err
	}
	s := c.s
	k, err = s.resolve(c.id, op, ref)
	if err == nil {
		err = s.authorize(c.id, op, k, action, "", nil)
	}
	if err != nil {
		unlock()
		return nil, nil, err
	}
	return k, unlock, nil
}

func (s *Service) notPendingDeletion(op string, k *state.Key) error {
	if k.State == backends.KeyStatePendingDeletion {
		return backends.Errorf(backends.ErrInvalidState, op, s.keyARN(k), "%s is pending deletion", s.keyARN(k))
	}
	return nil
}

// setState is EnableKey and DisableKey.
func (c *Client) setState(ctx context.Context, op, ref string, to backends.KeyState) error {
	k, err := c.adminKey(ctx, op, ref, "kms:"+op, "")
	if err != nil {
		return err
	}
	s := c.s
	defer s.leave()
	if err := s.notPendingDeletion(op, k); err != nil {
		return err
	}
	if k.State == to {
		return nil
	}
	return s.commit(op, func() error {
		k.State = to
		s.st.MarkKey(k.ID)
		// AWS does not rotate a disabled key; once enabled, a rotation that fell due meanwhile happens.
		return nil
	})
}

// EnableKey makes a Disabled key Enabled (kms:EnableKey). A key pending deletion
// is KMSInvalidState.
func (c *Client) EnableKey(ctx context.Context, in *EnableKeyInput) error {
	if in == nil {
		return backends.Errorf(backends.ErrInvalidArgument, "EnableKey", "", "nil input")
	}
	return c.setState(ctx, "EnableKey", in.KeyID, backends.KeyStateEnabled)
}

// DisableKey makes a key Disabled (kms:DisableKey): cryptographic operations with
// it fail with Disabled. A key pending deletion is KMSInvalidState.
func (c *Client) DisableKey(ctx context.Context, in *DisableKeyInput) error {
	if in == nil {
		return backends.Errorf(backends.ErrInvalidArgument, "DisableKey", "", "nil input")
	}
	return c.setState(ctx, "DisableKey", in.KeyID, backends.KeyStateDisabled)
}

// ScheduleKeyDeletion puts a key in PendingDeletion for 7 to 30 days (default 30)
// by the service's clock; then the key, its aliases and grants are deleted and its
// ciphertexts can no longer be decrypted (kms:ScheduleKeyDeletion).
func (c *Client) ScheduleKeyDeletion(ctx context.Context, in *ScheduleKeyDeletionInput) (*ScheduleKeyDeletionOutput, error) {
	const op = "ScheduleKeyDeletion"
	if in == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	days := in.PendingWindowInDays
	if days == 0 {
		days = 30
	}
	if days < 7 || days > 30 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, in.KeyID, "PendingWindowInDays must be 7 to 30")
	}
	k, err := c.adminKey(ctx, op, in.KeyID, "kms:ScheduleKeyDeletion", "")
	if err != nil {
		return nil, err
	}
	s := c.s
	defer s.leave()
	if err := s.notPendingDeletion(op, k); err != nil {
		return nil, err
	}
	when := s.now().AddDate(0, 0, days)
	if err := s.commit(op, func() error {
		k.State, k.DeletionDate = backends.KeyStatePendingDeletion, when
		s.st.MarkKey(k.ID)
		return nil
	}); err != nil {
		return nil, err
	}
	return &ScheduleKeyDeletionOutput{KeyID: s.keyARN(k), DeletionDate: when, KeyState: k.State, PendingWindowInDays: days}, nil
}

// CancelKeyDeletion takes a key out of PendingDeletion and leaves it Disabled, as
// AWS does (kms:CancelKeyDeletion). A key not pending deletion is KMSInvalidState.
func (c *Client) CancelKeyDeletion(ctx context.Context, in *CancelKeyDeletionInput) (*CancelKeyDeletionOutput, error) {
	const op = "CancelKeyDeletion"
	if in == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	k, err := c.adminKey(ctx, op, in.KeyID, "kms:CancelKeyDeletion", "")
	if err != nil {
		return nil, err
	}
	s := c.s
	defer s.leave()
	if k.State != backends.KeyStatePendingDeletion {
		return nil, backends.Errorf(backends.ErrInvalidState, op, s.keyARN(k), "%s is not pending deletion", s.keyARN(k))
	}
	if err := s.commit(op, func() error {
		k.State, k.DeletionDate = backends.KeyStateDisabled, time.Time{}
		s.st.MarkKey(k.ID)
		return nil
	}); err != nil {
		return nil, err
	}
	return &CancelKeyDeletionOutput{KeyID: s.keyARN(k)}, nil
}

// checkAlias validates an alias name for creation: "alias/" and 1 to 250 of
// [a-zA-Z0-9/_-], not in the reserved alias/aws/ namespace.
func checkAlias(op, name string) error {
	r, err := backends.ParseKeyRef(name)
	if err != nil || r.Form != backends.FormAliasName {
		return backends.Errorf(backends.ErrInvalidAliasName, op, name, "alias name %q is not valid", name)
	}
	if strings.HasPrefix(strings.ToLower(name), "alias/aws/") {
		return backends.Errorf(backends.ErrInvalidAliasName, op, name, "alias names that begin with alias/aws/ are reserved")
	}
	return nil
}

// aliasTarget resolves the target of CreateAlias and UpdateAlias: a key ID or key
// ARN of a key in the caller's account, not pending deletion, on which the caller
// has action.
func (c *Client) aliasTarget(op, ref, action string) (*state.Key, error) {
	s := c.s
	if r, err := backends.ParseKeyRef(ref); err == nil && r.Form != backends.FormKeyID && r.Form != backends.FormKeyARN {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, ref, "TargetKeyId must be a key ID or key ARN")
	}
	k, err := s.resolve(c.id, op, ref)
	if err != nil {
		return nil, err
	}
	if k.Account != c.id.Account {
		return nil, backends.Errorf(backends.ErrNotFound, op, ref, "an alias and its key must be in the same account")
	}
	if err := s.authorize(c.id, op, k, action, "", nil); err != nil {
		return nil, err
	}
	return k, s.notPendingDeletion(op, k)
}

// CreateAlias names a key of the caller's account (kms:CreateAlias on the key).
// An alias that exists is AlreadyExists.
func (c *Client) CreateAlias(ctx context.Context, in *CreateAliasInput) error {
	const op = "CreateAlias"
	if in == nil {
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	if err := checkAlias(op, in.AliasName); err != nil {
		return err
	}
	if err := c.enter(ctx, op, in.TargetKeyID); err != nil {
		return err
	}
	s := c.s
	defer s.leave()
	k, err := c.aliasTarget(op, in.TargetKeyID, "kms:CreateAlias")
	if err != nil {
		return err
	}
	if _, dup := s.st.Aliases[c.id.Account][in.AliasName]; dup {
		return backends.Errorf(backends.ErrAlreadyExists, op, in.AliasName, "an alias with the name %s already exists", s.aliasARN(c.id.Account, in.AliasName))
	}
	return s.commit(op, func() error { s.st.PutAlias(c.id.Account, in.AliasName, k.ID); return nil })
}

func (s *Service) aliasARN(account, name string) string {
	return backends.AliasARN(s.partition, s.region, account, name)
}

// UpdateAlias points an alias of the caller's account at another key
// (kms:UpdateAlias on both keys).
func (c *Client) UpdateAlias(ctx context.Context, in *UpdateAliasInput) error {
	const op = "UpdateAlias"
	if in == nil {
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	if err := c.enter(ctx, op, in.TargetKeyID); err != nil {
		return err
	}
	s := c.s
	defer s.leave()
	old, ok := s.st.Aliases[c.id.Account][in.AliasName]
	if !ok {
		return backends.Errorf(backends.ErrNotFound, op, in.AliasName, "alias %s is not found", s.aliasARN(c.id.Account, in.AliasName))
	}
	if err := s.authorize(c.id, op, s.st.Keys[old], "kms:UpdateAlias", "", nil); err != nil {
		return err
	}
	k, err := c.aliasTarget(op, in.TargetKeyID, "kms:UpdateAlias")
	if err != nil {
		return err
	}
	return s.commit(op, func() error { s.st.PutAlias(c.id.Account, in.AliasName, k.ID); return nil })
}

// DeleteAlias deletes an alias of the caller's account (kms:DeleteAlias on its key).
func (c *Client) DeleteAlias(ctx context.Context, in *DeleteAliasInput) error {
	const op = "DeleteAlias"
	if in == nil {
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	if err := c.enter(ctx, op, in.AliasName); err != nil {
		return err
	}
	s := c.s
	defer s.leave()
	target, ok := s.st.Aliases[c.id.Account][in.AliasName]
	if !ok {
		return backends.Errorf(backends.ErrNotFound, op, in.AliasName, "alias %s is not found", s.aliasARN(c.id.Account, in.AliasName))
	}
	if err := s.authorize(c.id, op, s.st.Keys[target], "kms:DeleteAlias", "", nil); err != nil {
		return err
	}
	return s.commit(op, func() error { s.st.DeleteAlias(c.id.Account, in.AliasName); return nil })
}

// ListAliases lists the aliases of the caller's account, or of one of its keys, a
// page at a time.
func (c *Client) ListAliases(ctx context.Context, in *ListAliasesInput) (*ListAliasesOutput, error) {
	const op = "ListAliases"
	if in == nil {
		in = &ListAliasesInput{}
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
	filter := ""
	if in.KeyID != "" {
		k, err := s.resolve(c.id, op, in.KeyID)
		if err != nil {
			return nil, err
		}
		if k.Account != c.id.Account {
			return nil, backends.Errorf(backends.ErrNotFound, op, in.KeyID, "ListAliases lists only the caller's account")
		}
		filter = k.ID
	}
	var names []string
	for name, target := range s.st.Aliases[c.id.Account] {
		if filter == "" || target == filter {
			names = append(names, name)
		}
	}
	page, next, err := token.Page(names, limit, in.Marker)
	if err != nil {
		return nil, backends.Errorf(backends.ErrInvalidMarker, op, "", "%v", err)
	}
	out := &ListAliasesOutput{NextMarker: next, Truncated: next != ""}
	for _, name := range page {
		out.Aliases = append(out.Aliases, AliasListEntry{AliasName: name, AliasArn: s.aliasARN(c.id.Account, name), TargetKeyID: s.st.Aliases[c.id.Account][name]})
	}
	return out, nil
}

// ListKeys lists the keys of the caller's account, a page at a time.
func (c *Client) ListKeys(ctx context.Context, in *ListKeysInput) (*ListKeysOutput, error) {
	const op = "ListKeys"
	if in == nil {
		in = &ListKeysInput{}
	}
	limit, err := checkLimit(op, in.Limit, 100, 1000)
	if err != nil {
		return nil, err
	}
	unlock, err := c.enterRead(ctx, op, "")
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := c.s
	var ids []string
	for id, k := range s.st.Keys {
		if k.Account == c.id.Account {
			ids = append(ids, id)
		}
	}
	page, next, err := token.Page(ids, limit, in.Marker)
	if err != nil {
		return nil, backends.Errorf(backends.ErrInvalidMarker, op, "", "%v", err)
	}
	out := &ListKeysOutput{NextMarker: next, Truncated: next != ""}
	for _, id := range page {
		out.Keys = append(out.Keys, KeyListEntry{KeyID: id, KeyArn: s.keyARN(s.st.Keys[id])})
	}
	return out, nil
}

func checkPolicyName(op, keyID, name string) error {
	if name != "" && name != "default" {
		return backends.Errorf(backends.ErrNotFound, op, keyID, "policy %q is not found; the only key policy is \"default\"", name)
	}
	return nil
}

// PutKeyPolicy replaces the key policy (kms:PutKeyPolicy). Unless
// BypassPolicyLockoutSafetyCheck, the new policy must let the caller call
// PutKeyPolicy again.
func (c *Client) PutKeyPolicy(ctx context.Context, in *PutKeyPolicyInput) error {
	const op = "PutKeyPolicy"
	if in == nil {
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	if err := checkPolicyName(op, in.KeyID, in.PolicyName); err != nil {
		return err
	}
	k, err := c.adminKey(ctx, op, in.KeyID, "kms:PutKeyPolicy", "")
	if err != nil {
		return err
	}
	s := c.s
	defer s.leave()
	p, err := parsePolicy(op, in.KeyID, in.Policy, c.id, in.BypassPolicyLockoutSafetyCheck)
	if err != nil {
		return err
	}
	return s.commit(op, func() error { k.Policy, k.Parsed = in.Policy, p; s.st.MarkKey(k.ID); return nil })
}

// GetKeyPolicy returns the key policy (kms:GetKeyPolicy).
func (c *Client) GetKeyPolicy(ctx context.Context, in *GetKeyPolicyInput) (*GetKeyPolicyOutput, error) {
	const op = "GetKeyPolicy"
	if in == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	if err := checkPolicyName(op, in.KeyID, in.PolicyName); err != nil {
		return nil, err
	}
	k, unlock, err := c.adminKeyRead(ctx, op, in.KeyID, "kms:GetKeyPolicy")
	if err != nil {
		return nil, err
	}
	defer unlock()
	return &GetKeyPolicyOutput{Policy: k.Policy, PolicyName: "default"}, nil
}
