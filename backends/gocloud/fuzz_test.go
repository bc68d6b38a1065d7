package gocloud_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gocloud"
	"gocloud.dev/secrets/localsecrets"
)

// FuzzBoundContext decrypts a framed blob under arbitrary contexts: only the
// context it was made with opens it, and every other fails as InvalidCiphertext.
func FuzzBoundContext(f *testing.F) {
	ctx := context.Background()
	key, err := localsecrets.NewRandomKey()
	if err != nil {
		f.Fatal(err)
	}
	b := gocloud.New(gocloud.Options{URLMux: localMux(), BindContext: true})
	if err := b.Add("gocloud://fuzz", localsecrets.NewKeeper(key)); err != nil {
		f.Fatal(err)
	}
	want := map[string]string{"ab": "c", "tenant": "acme"}
	pt := []byte("fuzz")
	out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: "gocloud://fuzz", Plaintext: pt, EncryptionContext: want})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("ab", "c", "tenant", "acme")
	f.Add("a", "bc", "tenant", "acme")
	f.Add("ab", "c", "", "")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		ec := map[string]string{k1: v1, k2: v2}
		if k1 == "" && v1 == "" {
			delete(ec, k1)
		}
		dec, err := b.Decrypt(ctx, &backends.DecryptInput{KeyID: "gocloud://fuzz", CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
		same := len(ec) == len(want)
		for k, v := range want {
			if x, ok := ec[k]; !ok || x != v {
				same = false
			}
		}
		switch {
		case same && (err != nil || !bytes.Equal(dec.Plaintext, pt)):
			t.Fatalf("the right context did not open the blob: %v", err)
		case !same && err == nil:
			t.Fatalf("the context %q opened a blob bound to another", ec)
		case !same && backends.KindOf(err) != backends.ErrInvalidCiphertext:
			t.Fatalf("a wrong context: want InvalidCiphertext, got %v", err)
		}
	})
}
