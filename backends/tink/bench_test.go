package tink_test

import (
	"context"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/tink"
	"github.com/keyport/keyport/internal/benchcpu"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// BenchmarkKeysetEncryptDecrypt32 measures a 32-byte data key's round trip
// through the keyset backend (with a two-pair context) against the same keyset's
// Tink AEAD called directly with the same associated data: the cost of the
// backend's lookup, prefix check and context encoding.
func BenchmarkKeysetEncryptDecrypt32(b *testing.B) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	ks, _ := tink.FromHandle("bench", h, tink.Storage{})
	be, _ := tink.New(ks)
	prim, _ := aead.New(h)
	ctx := context.Background()
	pt := make([]byte, 32)
	ec := map[string]string{"tenant": "acme", "purpose": "bench"}
	b.Run("Backend", func(b *testing.B) {
		m := benchcpu.Start()
		for b.Loop() {
			out, err := be.Encrypt(ctx, &backends.EncryptInput{KeyID: "tink-keyset://bench", Plaintext: pt, EncryptionContext: ec})
			if err != nil {
				b.Fatal(err)
			}
			dec, err := be.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
			if err != nil {
				b.Fatal(err)
			}
			clear(dec.Plaintext)
		}
		m.PerOp(b)
	})
	b.Run("TinkAEAD", func(b *testing.B) {
		m := benchcpu.Start()
		for b.Loop() {
			ct, err := prim.Encrypt(pt, backends.EncodeEncryptionContext(ec))
			if err != nil {
				b.Fatal(err)
			}
			got, err := prim.Decrypt(ct, backends.EncodeEncryptionContext(ec))
			if err != nil {
				b.Fatal(err)
			}
			clear(got)
		}
		m.PerOp(b)
	})
}
