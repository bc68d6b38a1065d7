package state

import (
	"encoding/json"
	"errors"

	"github.com/keyport/keyport/backends"
)

// The records of a store: each key (with its backing keys, policy, state and
// rotation settings), alias and grant is one record, encoded as JSON. The store
// seals each record under the root key.

// ErrInvalidRecord is the error of the Decode functions for a record a service
// cannot have written.
var ErrInvalidRecord = errors.New("not a valid record")

// EncodeKey returns the record of k. The caller should wipe it: it holds the
// backing keys.
func EncodeKey(k *Key) ([]byte, error) { return json.Marshal(k) }

// DecodeKey decodes the record of a key, its ciphers and parsed policy rebuilt.
func DecodeKey(b []byte) (*Key, error) {
	var k Key
	if err := json.Unmarshal(b, &k); err != nil || !k.fixup() {
		k.Wipe()
		return nil, ErrInvalidRecord
	}
	return &k, nil
}

// EncodeGrant returns the record of g.
func EncodeGrant(g *Grant) ([]byte, error) { return json.Marshal(g) }

// DecodeGrant decodes the record of a grant.
func DecodeGrant(b []byte) (*Grant, error) {
	var g Grant
	if err := json.Unmarshal(b, &g); err != nil || !g.fixup() {
		return nil, ErrInvalidRecord
	}
	return &g, nil
}

type aliasRecord struct {
	Account string `json:"account"`
	Name    string `json:"name"`
	Target  string `json:"target"`
}

// EncodeAlias returns the record of the alias name of account, whose target is
// the key ID target.
func EncodeAlias(account, name, target string) ([]byte, error) {
	return json.Marshal(aliasRecord{account, name, target})
}

// DecodeAlias decodes the record of an alias.
func DecodeAlias(b []byte) (account, name, target string, err error) {
	var a aliasRecord
	if err := json.Unmarshal(b, &a); err != nil || a.Target == "" || a.Name == "" || !backends.IsAccountID(a.Account) {
		return "", "", "", ErrInvalidRecord
	}
	return a.Account, a.Name, a.Target, nil
}
