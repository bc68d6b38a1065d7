package local

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/policy"
)

// state is everything a Service holds; a file store persists it as JSON.
type state struct {
	// Secret keys the MACs of grant tokens.
	Secret  []byte                       `json:"secret"`
	Keys    map[string]*keyRec           `json:"keys"`
	Aliases map[string]map[string]string `json:"aliases"` // account -> alias name -> key ID
	Grants  map[string]*grantRec         `json:"grants"`  // grant ID -> grant
}

type keyRec struct {
	ID                 string            `json:"id"`
	Account            string            `json:"account"`
	Description        string            `json:"description,omitempty"`
	State              backends.KeyState `json:"state"`
	Created            time.Time         `json:"created"`
	DeletionDate       time.Time         `json:"deletionDate,omitzero"`
	Policy             string            `json:"policy"`
	MultiRegion        bool              `json:"multiRegion,omitempty"`
	Versions           []keyVersion      `json:"versions"`
	RotationEnabled    bool              `json:"rotationEnabled,omitempty"`
	RotationPeriodDays int               `json:"rotationPeriodDays,omitempty"`
	NextRotation       time.Time         `json:"nextRotation,omitzero"`
	OnDemandRotations  int               `json:"onDemandRotations,omitempty"`

	policy *policy.Policy // parsed Policy
}

type keyVersion struct {
	Material []byte    `json:"material"`
	Created  time.Time `json:"created"`
}

type grantRec struct {
	ID                string            `json:"id"`
	KeyID             string            `json:"keyId"`
	Name              string            `json:"name,omitempty"`
	GranteePrincipal  string            `json:"grantee"`
	RetiringPrincipal string            `json:"retiring,omitempty"`
	IssuingAccount    string            `json:"issuingAccount"`
	Operations        []GrantOperation  `json:"operations"`
	Constraints       *GrantConstraints `json:"constraints,omitempty"`
	Created           time.Time         `json:"created"`

	grantee  string // normalized GranteePrincipal
	retiring string // normalized RetiringPrincipal
}

func newState() *state {
	return &state{
		Secret:  randomBytes(32),
		Keys:    map[string]*keyRec{},
		Aliases: map[string]map[string]string{},
		Grants:  map[string]*grantRec{},
	}
}

// wipe clears every secret the state holds.
func (st *state) wipe() {
	if st == nil {
		return
	}
	clear(st.Secret)
	for _, k := range st.Keys {
		k.wipe()
	}
}

func (k *keyRec) wipe() {
	for _, v := range k.Versions {
		clear(v.Material)
	}
}

// deleteKey removes a key, its aliases and its grants, wiping its material.
func (st *state) deleteKey(id string) {
	k := st.Keys[id]
	if k == nil {
		return
	}
	k.wipe()
	delete(st.Keys, id)
	for name, target := range st.Aliases[k.Account] {
		if target == id {
			delete(st.Aliases[k.Account], name)
		}
	}
	for gid, g := range st.Grants {
		if g.KeyID == id {
			delete(st.Grants, gid)
		}
	}
}

// addVersion adds a new backing key, which becomes current.
func (k *keyRec) addVersion(at time.Time) {
	k.Versions = append(k.Versions, keyVersion{Material: randomBytes(32), Created: at})
}

// fixup rebuilds what the JSON form does not keep and validates it; it reports
// false for a state that cannot have been written by a Service.
func (st *state) fixup() bool {
	if len(st.Secret) != 32 || st.Keys == nil {
		return false
	}
	if st.Aliases == nil {
		st.Aliases = map[string]map[string]string{}
	}
	if st.Grants == nil {
		st.Grants = map[string]*grantRec{}
	}
	for id, k := range st.Keys {
		if k == nil || k.ID != id || !isAccount(k.Account) || len(k.Versions) == 0 ||
			(k.RotationEnabled && (k.RotationPeriodDays < 90 || k.RotationPeriodDays > 2560)) {
			return false
		}
		for _, v := range k.Versions {
			if len(v.Material) != 32 {
				return false
			}
		}
		p, err := policy.Parse(k.Policy)
		if err != nil {
			return false
		}
		k.policy = p
	}
	for gid, g := range st.Grants {
		if g == nil || g.ID != gid || st.Keys[g.KeyID] == nil {
			return false
		}
		var ok bool
		if g.grantee, ok = policy.NormalizePrincipal(g.GranteePrincipal); !ok {
			return false
		}
		if g.RetiringPrincipal != "" {
			if g.retiring, ok = policy.NormalizePrincipal(g.RetiringPrincipal); !ok {
				return false
			}
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

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("keyport/local: crypto/rand failed: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return b
}

// newKeyID returns a random (version 4) UUID, or mrk- and 32 hex digits for a
// multi-Region key.
func newKeyID(multiRegion bool) string {
	b := randomBytes(16)
	if multiRegion {
		return "mrk-" + hex.EncodeToString(b)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
