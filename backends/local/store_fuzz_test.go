package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/store"
)

// FuzzParseStore fuzzes the whole store-file parser (decryption, JSON, validation)
// with a fixed root key: it never panics and fails only with a typed error. The
// seeds include a sealed store, so the fuzzer reaches the JSON layer, and a second
// target seals the fuzzed payload to fuzz the state decoder directly.
func FuzzParseStore(f *testing.F) {
	root := bytes.Repeat([]byte{3}, 32)
	svc := New()
	c := svc.Client(Identity{Account: "111122223333"})
	k, err := c.CreateKey(context.Background(), &CreateKeyInput{})
	if err != nil {
		f.Fatal(err)
	}
	if _, err := c.CreateGrant(context.Background(), &CreateGrantInput{KeyID: k.KeyMetadata.ID, GranteePrincipal: "111122223333", Operations: []GrantOperation{GrantDecrypt}}); err != nil {
		f.Fatal(err)
	}
	if err := c.CreateAlias(context.Background(), &CreateAliasInput{AliasName: "alias/a", TargetKeyID: k.KeyMetadata.ID}); err != nil {
		f.Fatal(err)
	}
	payload, err := json.Marshal(storePayload{storeMeta{payloadFormat, "us-east-1", "aws"}, svc.st})
	if err != nil {
		f.Fatal(err)
	}
	sealed, err := store.Seal(root, payload)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed, false)
	f.Add(payload, true)
	f.Add([]byte(`{"format":"keyport-local/v1","region":"us-east-1","partition":"aws","state":{"keys":{}}}`), true)
	f.Fuzz(func(t *testing.T, b []byte, sealPayload bool) {
		if sealPayload {
			var err error
			if b, err = store.Seal(root, b); err != nil {
				t.Fatal(err)
			}
		}
		st, _, err := parseStore(root, b)
		if err != nil {
			if !errors.Is(err, backends.ErrInvalidArgument) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if st == nil || !st.fixup() {
			t.Fatal("accepted an invalid state")
		}
	})
}
