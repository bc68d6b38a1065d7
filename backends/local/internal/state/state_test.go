package state

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/policy"
	"github.com/keyport/keyport/backends/local/internal/store"
)

var (
	root = bytes.Repeat([]byte{3}, 32)
	t0   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	meta = Meta{Region: "us-east-1", Partition: "aws"}
)

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

func TestEncodeDecode(t *testing.T) {
	st := sample()
	b, err := Encode(root, st, meta)
	if err != nil {
		t.Fatal(err)
	}
	got, m, err := Decode(root, b)
	if err != nil {
		t.Fatal(err)
	}
	if m != meta || len(got.Keys) != 1 || len(got.Grants) != 1 || !bytes.Equal(got.Secret, st.Secret) {
		t.Fatalf("decoded %+v %+v", m, got)
	}
	for id, k := range got.Keys {
		if k.Parsed == nil || !bytes.Equal(k.Versions[0].Material, st.Keys[id].Versions[0].Material) {
			t.Fatal("key not restored")
		}
	}
	caller := policy.Caller{Account: "444455556666", ARN: "arn:aws:iam::444455556666:role/r"}
	k := got.Keys[got.Aliases["111122223333"]["alias/a"]]
	if !got.GrantAllows(k, caller, "Decrypt", map[string]string{"a": "b", "c": "d"}) || got.GrantAllows(k, caller, "Decrypt", nil) || got.GrantAllows(k, caller, "Encrypt", map[string]string{"a": "b"}) {
		t.Fatal("grant not restored")
	}
	// States a service cannot have written are corrupt.
	for _, bad := range []string{`null`, `{"format":"x"}`, `{"format":"keyport-local/v1","region":"us-east-1","partition":"aws","state":{"secret":"AA==","keys":{}}}`} {
		sealed, _ := store.Seal(root, []byte(bad))
		if _, _, err := Decode(root, sealed); !errors.Is(err, store.ErrCorrupt) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
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

// FuzzParseStore fuzzes the store-file parser as a whole (decryption, JSON,
// validation) under a fixed root key; with seal set the fuzzed bytes are sealed
// first, so the fuzzer reaches the JSON and validation layers. Decode never panics
// and fails only with the store's errors; what it accepts re-encodes.
func FuzzParseStore(f *testing.F) {
	sealed, err := Encode(root, sample(), meta)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed, false)
	f.Add([]byte(`{"format":"keyport-local/v1","region":"us-east-1","partition":"aws","state":{"secret":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=","keys":{}}}`), true)
	f.Add([]byte("junk"), false)
	f.Fuzz(func(t *testing.T, b []byte, seal bool) {
		if seal {
			var err error
			if b, err = store.Seal(root, b); err != nil {
				t.Fatal(err)
			}
		}
		st, m, err := Decode(root, b)
		if err != nil {
			if !errors.Is(err, store.ErrForeign) && !errors.Is(err, store.ErrCorrupt) && !errors.Is(err, store.ErrWrongKey) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := Encode(root, st, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := Decode(root, again); err != nil {
			t.Fatalf("accepted state does not re-encode: %v", err)
		}
	})
}

// TestVersionCipher: every backing key has its AES-GCM from the start (and again
// after a load), and wiping drops it with the material.
func TestVersionCipher(t *testing.T) {
	st := sample()
	var k *Key
	for _, k = range st.Keys {
	}
	k.AddVersion(t0.AddDate(0, 0, 1))
	b, err := Encode(root, st, meta)
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := Decode(root, b)
	if err != nil {
		t.Fatal(err)
	}
	for _, kk := range []*Key{k, got.Keys[k.ID]} {
		if len(kk.Versions) != 2 {
			t.Fatalf("%d versions", len(kk.Versions))
		}
		for i := range kk.Versions {
			v := &kk.Versions[i]
			if v.AEAD == nil {
				t.Fatalf("version %d has no cipher", i+1)
			}
			other, err := NewAEAD(v.Material)
			if err != nil {
				t.Fatal(err)
			}
			nonce := make([]byte, 12)
			ct := v.AEAD.Seal(nil, nonce, []byte("pt"), nil)
			if pt, err := other.Open(nil, nonce, ct, nil); err != nil || string(pt) != "pt" {
				t.Fatalf("version %d: cached cipher is not the material's: %v", i+1, err)
			}
		}
	}
	k.Wipe()
	for i, v := range k.Versions {
		if v.AEAD != nil || !bytes.Equal(v.Material, make([]byte, 32)) {
			t.Fatalf("version %d not wiped", i+1)
		}
	}
	// A Version made without the cipher still works through Cipher.
	v := Version{Material: bytes.Repeat([]byte{1}, 32)}
	if g, err := v.Cipher(); err != nil || g == nil || v.AEAD != nil {
		t.Fatalf("Cipher of a bare version: %v", err)
	}
}
