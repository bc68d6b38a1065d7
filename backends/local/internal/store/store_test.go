package store

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/keyport/keyport/backends/local/internal/state"
)

// FuzzRecord feeds arbitrary records, sealed at an arbitrary row and rev (as a
// holder of the root key could write them) or not sealed at all, to the code
// that reads a store's rows at a rev: it never panics, refuses everything but a
// valid record at its own row and rev with ErrCorrupt, and what it accepts is at
// the row its name hashes to.
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
	f.Add(append([]byte("key:"), rec...), id, int64(3), int64(3), true)
	f.Add(append([]byte("key:"), rec...), id, int64(3), int64(2), true)
	f.Add([]byte(`alias:{"account":"111122223333","name":"alias/a","target":"x"}`), d.rowID(name{kindAlias, "111122223333", "alias/a"}), int64(1), int64(1), true)
	f.Add([]byte(`grant:{"id":"g","keyId":"k","grantee":"111122223333","operations":["Decrypt"]}`), d.rowID(name{kind: kindGrant, id: "g"}), int64(7), int64(7), true)
	f.Add([]byte("junk"), id, int64(1), int64(1), false)
	f.Fuzz(func(t *testing.T, rec []byte, id string, rev, sealedAt int64, seal bool) {
		sealed := rec
		if seal {
			sealed = d.seal(recordPlace(id, sealedAt), rec)
		}
		st := &state.State{Keys: map[string]*state.Key{}, Aliases: map[string]map[string]string{}, Grants: map[string]*state.Grant{}}
		n, err := d.apply(st, id, rev, sealed)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		if !seal || sealedAt != rev || d.rowID(n) != id {
			t.Fatalf("accepted a record that is not sealed at its own row and rev (%+v at %s, rev %d, sealed at %d)", n, id, rev, sealedAt)
		}
	})
}
