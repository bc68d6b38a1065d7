package v1store

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/policy"
	"github.com/keyport/keyport/backends/local/internal/state"
)

var (
	t0   = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	meta = Meta{Region: "us-east-1", Partition: "aws"}
)

func sample() *state.State {
	st := state.New()
	k := &state.Key{ID: state.NewKeyID(false), Account: "111122223333", State: backends.KeyStateEnabled, Created: t0,
		Policy: policy.Default("aws", "111122223333"), RotationEnabled: true, RotationPeriodDays: 90, NextRotation: t0.AddDate(0, 0, 90)}
	k.AddVersion(t0)
	st.Keys[k.ID] = k
	st.Aliases["111122223333"] = map[string]string{"alias/a": k.ID}
	st.Grants["g1"] = &state.Grant{ID: "g1", KeyID: k.ID, GranteePrincipal: "arn:aws:iam::444455556666:role/r", Operations: []string{"Decrypt"},
		Constraints: &state.Constraints{EncryptionContextSubset: map[string]string{"a": "b"}}}
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
		sealed, _ := Seal(root, []byte(bad))
		if _, _, err := Decode(root, sealed); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("%s: %v", bad, err)
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
			if b, err = Seal(root, b); err != nil {
				t.Fatal(err)
			}
		}
		st, m, err := Decode(root, b)
		if err != nil {
			if !errors.Is(err, ErrForeign) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongKey) {
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
