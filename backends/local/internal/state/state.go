// Package state is the data model of backends/local: keys with their backing-key
// versions, aliases and grants; what the clock does to them (rotation, deletion);
// and their encoding in a store file.
package state

import (
	"crypto/rand"
	"encoding/hex"
	"slices"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/blob"
	"github.com/keyport/keyport/backends/local/internal/policy"
)

// State is everything a service holds. The caller serializes access.
type State struct {
	// Secret keys the MACs of grant tokens.
	Secret  []byte                       `json:"secret"`
	Keys    map[string]*Key              `json:"keys"`
	Aliases map[string]map[string]string `json:"aliases"` // account -> alias name -> key ID
	Grants  map[string]*Grant            `json:"grants"`  // grant ID -> grant

	// changes records what changed since the last TakeChanges, once Track has
	// been called (a state kept in a store); nil for a state kept in memory only.
	changes *Changes
}

// Changes names the records that changed: created, changed or deleted (a record
// named here but absent from the state was deleted).
type Changes struct {
	Keys    map[string]bool    // key IDs
	Aliases map[AliasName]bool // aliases
	Grants  map[string]bool    // grant IDs
}

// AliasName is an alias of an account.
type AliasName struct{ Account, Name string }

// Empty reports whether nothing changed.
func (c *Changes) Empty() bool {
	return c == nil || len(c.Keys)+len(c.Aliases)+len(c.Grants) == 0
}

// Track makes the state record its changes (see TakeChanges).
func (st *State) Track() {
	if st.changes == nil {
		st.changes = newChanges()
	}
}

func newChanges() *Changes {
	return &Changes{Keys: map[string]bool{}, Aliases: map[AliasName]bool{}, Grants: map[string]bool{}}
}

// TakeChanges returns what changed since the last call (nil if the state does
// not track its changes) and starts afresh.
func (st *State) TakeChanges() *Changes {
	c := st.changes
	if c != nil {
		st.changes = newChanges()
	}
	return c
}

// MarkKey records that the key id changed (or was created or deleted).
func (st *State) MarkKey(id string) {
	if st.changes != nil {
		st.changes.Keys[id] = true
	}
}

// MarkAlias records that an alias changed (or was created or deleted).
func (st *State) MarkAlias(account, name string) {
	if st.changes != nil {
		st.changes.Aliases[AliasName{account, name}] = true
	}
}

// MarkGrant records that a grant changed (or was created or deleted).
func (st *State) MarkGrant(id string) {
	if st.changes != nil {
		st.changes.Grants[id] = true
	}
}

// PutKey adds or replaces a key.
func (st *State) PutKey(k *Key) {
	st.Keys[k.ID] = k
	st.MarkKey(k.ID)
}

// PutAlias points an alias of account at the key id.
func (st *State) PutAlias(account, name, id string) {
	if st.Aliases[account] == nil {
		st.Aliases[account] = map[string]string{}
	}
	st.Aliases[account][name] = id
	st.MarkAlias(account, name)
}

// DeleteAlias deletes an alias of account.
func (st *State) DeleteAlias(account, name string) {
	delete(st.Aliases[account], name)
	st.MarkAlias(account, name)
}

// PutGrant adds a grant.
func (st *State) PutGrant(g *Grant) {
	st.Grants[g.ID] = g
	st.MarkGrant(g.ID)
}

// DeleteGrant deletes a grant.
func (st *State) DeleteGrant(id string) {
	delete(st.Grants, id)
	st.MarkGrant(id)
}

// Key is one KMS key.
type Key struct {
	ID                 string            `json:"id"`
	Account            string            `json:"account"`
	Description        string            `json:"description,omitempty"`
	State              backends.KeyState `json:"state"`
	Created            time.Time         `json:"created"`
	DeletionDate       time.Time         `json:"deletionDate,omitzero"`
	Policy             string            `json:"policy"`
	MultiRegion        bool              `json:"multiRegion,omitempty"`
	Versions           []Version         `json:"versions"`
	RotationEnabled    bool              `json:"rotationEnabled,omitempty"`
	RotationPeriodDays int               `json:"rotationPeriodDays,omitempty"`
	NextRotation       time.Time         `json:"nextRotation,omitzero"`
	OnDemandRotations  int               `json:"onDemandRotations,omitempty"`

	// Parsed is Policy, parsed.
	Parsed *policy.Policy `json:"-"`
	// ARN is the key's ARN, set by the service that holds the key (it depends on
	// the service's partition and region); empty until then.
	ARN string `json:"-"`
}

// Version is one backing key; version numbers are 1-based indexes into Key.Versions.
type Version struct {
	Material []byte    `json:"material"`
	Created  time.Time `json:"created"`
	// Key is Material made ready for blobs (blob.NewKey), built once when the
	// material is made or loaded (AddVersion, Fixup) so that no call pays for it;
	// nil once the key is wiped, or for a Version made otherwise (see
	// Version.BlobKey).
	Key *blob.Key `json:"-"`
}

// BlobKey returns the version's blob key: the one built with the material, or a
// new one when there is none. It never changes v, so callers that only read the
// state may use it concurrently.
func (v *Version) BlobKey() (*blob.Key, error) {
	if v.Key != nil {
		return v.Key, nil
	}
	return blob.NewKey(v.Material)
}

// Grant is one grant.
type Grant struct {
	ID                string       `json:"id"`
	KeyID             string       `json:"keyId"`
	Name              string       `json:"name,omitempty"`
	GranteePrincipal  string       `json:"grantee"`
	RetiringPrincipal string       `json:"retiring,omitempty"`
	IssuingAccount    string       `json:"issuingAccount"`
	Operations        []string     `json:"operations"`
	Constraints       *Constraints `json:"constraints,omitempty"`
	Created           time.Time    `json:"created"`

	// Grantee and Retiring are the principals as policy.MatchPrincipal takes them.
	Grantee  string `json:"-"`
	Retiring string `json:"-"`
}

// Constraints restrict a grant to requests with a given encryption context.
type Constraints struct {
	EncryptionContextEquals map[string]string `json:"equals,omitempty"`
	EncryptionContextSubset map[string]string `json:"subset,omitempty"`
}

// New returns an empty state with a fresh secret.
func New() *State {
	return &State{
		Secret:  RandomBytes(32),
		Keys:    map[string]*Key{},
		Aliases: map[string]map[string]string{},
		Grants:  map[string]*Grant{},
	}
}

// Wipe clears every secret the state holds.
func (st *State) Wipe() {
	if st == nil {
		return
	}
	clear(st.Secret)
	for _, k := range st.Keys {
		k.Wipe()
	}
}

// Wipe clears the key's backing keys and drops their blob keys. (Go gives no way
// to clear the AES key schedule and HMAC state a blob key holds: once dropped
// they are garbage, unreachable, until the collector reuses their memory.)
func (k *Key) Wipe() {
	for i := range k.Versions {
		clear(k.Versions[i].Material)
		k.Versions[i].Key = nil
	}
}

// AddVersion adds a new backing key, which becomes current.
func (k *Key) AddVersion(at time.Time) {
	m := RandomBytes(32)
	bk, err := blob.NewKey(m)
	if err != nil {
		panic("keyport/local: a blob key over 32 bytes: " + err.Error()) // unreachable: the key is 32 bytes
	}
	k.Versions = append(k.Versions, Version{Material: m, Created: at, Key: bk})
}

// DeleteKey removes a key, its aliases and its grants, wiping its material.
func (st *State) DeleteKey(id string) {
	k := st.Keys[id]
	if k == nil {
		return
	}
	k.Wipe()
	delete(st.Keys, id)
	st.MarkKey(id)
	for name, target := range st.Aliases[k.Account] {
		if target == id {
			st.DeleteAlias(k.Account, name)
		}
	}
	for gid, g := range st.Grants {
		if g.KeyID == id {
			st.DeleteGrant(gid)
		}
	}
}

// Advance applies what the clock has made due by now: keys whose deletion window
// has passed are deleted; an enabled key whose rotation period has passed gets a
// new backing key for each period that passed. A disabled key does not rotate;
// once enabled again it catches up.
func (st *State) Advance(now time.Time) {
	for id, k := range st.Keys {
		if k.State == backends.KeyStatePendingDeletion && !now.Before(k.DeletionDate) {
			st.DeleteKey(id)
			continue
		}
		if k.State == backends.KeyStateEnabled && k.RotationEnabled && k.RotationPeriodDays > 0 && !k.NextRotation.IsZero() {
			for i := 0; i < 1000 && !now.Before(k.NextRotation); i++ {
				k.AddVersion(k.NextRotation)
				k.NextRotation = k.NextRotation.AddDate(0, 0, k.RotationPeriodDays)
				st.MarkKey(id)
			}
		}
	}
}

// NextDue returns the earliest time Advance has work to do, or the zero time.
func (st *State) NextDue() time.Time {
	var due time.Time
	for _, k := range st.Keys {
		var t time.Time
		switch {
		case k.State == backends.KeyStatePendingDeletion:
			t = k.DeletionDate
		case k.State == backends.KeyStateEnabled && k.RotationEnabled:
			t = k.NextRotation
		}
		if !t.IsZero() && (due.IsZero() || t.Before(due)) {
			due = t
		}
	}
	return due
}

// GrantAllows reports whether a grant of key k lets caller perform op with the
// encryption context ec.
func (st *State) GrantAllows(k *Key, caller policy.Caller, op string, ec map[string]string) bool {
	for _, g := range st.Grants {
		if g.KeyID == k.ID && policy.MatchPrincipal([]string{g.Grantee}, caller) && slices.Contains(g.Operations, op) && g.Constraints.Allow(ec) {
			return true
		}
	}
	return false
}

// Allow reports whether ec meets the constraints (nil constraints allow anything).
func (c *Constraints) Allow(ec map[string]string) bool {
	if c == nil {
		return true
	}
	if c.EncryptionContextEquals != nil && len(ec) != len(c.EncryptionContextEquals) {
		return false
	}
	for _, m := range []map[string]string{c.EncryptionContextEquals, c.EncryptionContextSubset} {
		for k, v := range m {
			if w, ok := ec[k]; !ok || w != v {
				return false
			}
		}
	}
	return true
}

// Fixup rebuilds what the JSON form does not keep (parsed policies, normalized
// principals) and validates the state; it reports false for a state a service
// cannot have written.
func (st *State) Fixup() bool {
	if len(st.Secret) != 32 || st.Keys == nil {
		return false
	}
	if st.Aliases == nil {
		st.Aliases = map[string]map[string]string{}
	}
	if st.Grants == nil {
		st.Grants = map[string]*Grant{}
	}
	for id, k := range st.Keys {
		if k == nil || k.ID != id || !k.fixup() {
			return false
		}
	}
	for gid, g := range st.Grants {
		if g == nil || g.ID != gid || st.Keys[g.KeyID] == nil || !g.fixup() {
			return false
		}
	}
	for _, m := range st.Aliases {
		for _, target := range m {
			if st.Keys[target] == nil {
				return false
			}
		}
	}
	return true
}

// fixup rebuilds what the JSON form of a key does not keep (its ciphers, its
// parsed policy) and reports whether the key is one a service can have made.
func (k *Key) fixup() bool {
	if !backends.IsAccountID(k.Account) || len(k.Versions) == 0 ||
		(k.RotationEnabled && (k.RotationPeriodDays < 90 || k.RotationPeriodDays > 2560)) {
		return false
	}
	if r, err := backends.ParseKeyRef(k.ID); err != nil || r.Form != backends.FormKeyID {
		return false
	}
	for i := range k.Versions {
		v := &k.Versions[i]
		if len(v.Material) != 32 {
			return false
		}
		bk, err := blob.NewKey(v.Material)
		if err != nil {
			return false
		}
		v.Key = bk
	}
	p, err := policy.Parse(k.Policy)
	if err != nil {
		return false
	}
	k.Parsed = p
	return true
}

// fixup rebuilds the normalized principals of a grant and reports whether the
// grant is one a service can have made.
func (g *Grant) fixup() bool {
	var ok bool
	if g.ID == "" || g.KeyID == "" {
		return false
	}
	if g.Grantee, ok = policy.NormalizePrincipal(g.GranteePrincipal); !ok {
		return false
	}
	if g.RetiringPrincipal != "" {
		if g.Retiring, ok = policy.NormalizePrincipal(g.RetiringPrincipal); !ok {
			return false
		}
	}
	return true
}

// RandomBytes returns n bytes from crypto/rand.
func RandomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("keyport/local: crypto/rand failed: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return b
}

// NewKeyID returns a random (version 4) UUID, or mrk- and 32 hex digits for a
// multi-Region key.
func NewKeyID(multiRegion bool) string {
	b := RandomBytes(16)
	if multiRegion {
		return "mrk-" + hex.EncodeToString(b)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
