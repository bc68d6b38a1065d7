package state

import (
	"bytes"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/blob"
	"github.com/keyport/keyport/backends/local/internal/policy"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func sample() *State {
	st := New()
	k := &Key{ID: NewKeyID(false), Account: "111122223333", State: backends.KeyStateEnabled, Created: t0,
		Policy: policy.Default("aws", "111122223333"), RotationEnabled: true, RotationPeriodDays: 90, NextRotation: t0.AddDate(0, 0, 90)}
	k.AddVersion(t0)
	st.Keys[k.ID] = k
	st.Aliases["111122223333"] = map[string]string{"alias/a": k.ID}
	st.Grants["g1"] = &Grant{ID: "g1", KeyID: k.ID, GranteePrincipal: "arn:aws:iam::444455556666:role/r", Operations: []string{"Decrypt"},
		Constraints: &Constraints{EncryptionContextSubset: map[string]string{"a": "b"}}}
	return st
}

func TestAdvance(t *testing.T) {
	st := sample()
	var k *Key
	for _, k = range st.Keys {
	}
	if due := st.NextDue(); !due.Equal(t0.AddDate(0, 0, 90)) {
		t.Fatalf("NextDue %v", due)
	}
	st.Advance(t0.AddDate(0, 0, 200)) // two periods
	if len(k.Versions) != 3 || !k.NextRotation.Equal(t0.AddDate(0, 0, 270)) {
		t.Fatalf("%d versions, next %v", len(k.Versions), k.NextRotation)
	}
	k.State, k.DeletionDate = backends.KeyStatePendingDeletion, t0.AddDate(0, 0, 300)
	if due := st.NextDue(); !due.Equal(k.DeletionDate) {
		t.Fatalf("NextDue %v", due)
	}
	mat := k.Versions[0].Material
	st.Advance(k.DeletionDate)
	if len(st.Keys) != 0 || len(st.Grants) != 0 || len(st.Aliases["111122223333"]) != 0 || !bytes.Equal(mat, make([]byte, 32)) {
		t.Fatal("deleted key left traces or material")
	}
}

func TestNewKeyID(t *testing.T) {
	for _, mrk := range []bool{false, true} {
		id := NewKeyID(mrk)
		if r, err := backends.ParseKeyRef(id); err != nil || r.Form != backends.FormKeyID || r.MultiRegion() != mrk {
			t.Fatalf("NewKeyID(%v) = %q: %v", mrk, id, err)
		}
	}
}

// TestVersionBlobKey: every backing key has its blob key from the start (and
// again after a load), and wiping drops it with the material.
func TestVersionBlobKey(t *testing.T) {
	st := sample()
	var k *Key
	for _, k = range st.Keys {
	}
	k.AddVersion(t0.AddDate(0, 0, 1))
	rec, err := EncodeKey(k)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeKey(rec)
	if err != nil {
		t.Fatal(err)
	}
	for _, kk := range []*Key{k, got} {
		if len(kk.Versions) != 2 {
			t.Fatalf("%d versions", len(kk.Versions))
		}
		for i := range kk.Versions {
			v := &kk.Versions[i]
			if v.Key == nil {
				t.Fatalf("version %d has no blob key", i+1)
			}
			b, err := blob.Seal(v.Key, "arn:aws:kms:us-east-1:111122223333:key/"+kk.ID, uint32(i+1), []byte("pt"), nil)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := blob.NewKey(v.Material)
			if err != nil {
				t.Fatal(err)
			}
			p, err := blob.Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := blob.Open(fresh, p, nil); err != nil || string(pt) != "pt" {
				t.Fatalf("version %d: cached blob key is not the material's: %v", i+1, err)
			}
		}
	}
	k.Wipe()
	for i, v := range k.Versions {
		if v.Key != nil || !bytes.Equal(v.Material, make([]byte, 32)) {
			t.Fatalf("version %d not wiped", i+1)
		}
	}
	// A Version made without the blob key still works through BlobKey.
	v := Version{Material: bytes.Repeat([]byte{1}, 32)}
	if bk, err := v.BlobKey(); err != nil || bk == nil || v.Key != nil {
		t.Fatalf("BlobKey of a bare version: %v", err)
	}
}
