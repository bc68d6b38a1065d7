package store

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/keyport/keyport/backends/local/internal/state"
)

// FuzzRecord feeds arbitrary records, sealed at an arbitrary row (as a holder of
// the root key could write them) or not sealed at all, to the code that reads a
// store's rows: it never panics, refuses everything but a valid record at its own
// row with ErrCorrupt, and what it accepts is at the row its name hashes to.
func FuzzRecord(f *testing.F) {
	root := sha256.Sum256([]byte("fuzz"))
	d, err := newDB("fuzz.db", root[:])
	if err != nil {
		f.Fatal(err)
	}
	d.meta = Meta{Region: "us-east-1", Partition: "aws"}
	k := &state.Key{ID: "1234abcd-12ab-34cd-56ef-1234567890ab", Account: "111122223333", State: "Enabled",
		Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}`}
	k.AddVersion(k.Created)
	rec, err := state.EncodeKey(k)
	if err != nil {
		f.Fatal(err)
	}
	id := d.rowID(name{kindKey, k.Account, k.ID})
	f.Add(append([]byte("key:"), rec...), id, true)
	f.Add([]byte(`alias:{"account":"111122223333","name":"alias/a","target":"x"}`), d.rowID(name{kindAlias, "111122223333", "alias/a"}), true)
	f.Add([]byte(`grant:{"id":"g","keyId":"k","grantee":"111122223333","operations":["Decrypt"]}`), d.rowID(name{kind: kindGrant, id: "g"}), true)
	f.Add([]byte("junk"), id, false)
	f.Fuzz(func(t *testing.T, rec []byte, id string, seal bool) {
		sealed := rec
		if seal {
			sealed = d.seal(id, rec)
		}
		st := &state.State{Keys: map[string]*state.Key{}, Aliases: map[string]map[string]string{}, Grants: map[string]*state.Grant{}}
		n, err := d.apply(st, id, sealed)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if !seal || d.rowID(n) != id {
			t.Fatalf("accepted a record that is not sealed at its own row (%+v at %s)", n, id)
		}
	})
}
