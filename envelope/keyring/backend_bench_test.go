package keyring_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/benchcpu"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// BenchmarkSmallMessage compares 1 KiB messages under a key of backends/local
// (keyport envelope, suite 0x0478 and the signed default 0x0578) with tink-go's KMS
// envelope AEAD (NewKMSEnvelopeAEAD2, AES-256-GCM data keys) under a local
// AES-256-GCM key-encryption key. Each operation makes (or unwraps) a fresh data
// key through the key service, as both libraries do per message. scripts/bench.sh
// prints the ratios.
func BenchmarkSmallMessage(b *testing.B) {
	ctx := context.Background()
	pt := make([]byte, 1024)
	rand.Read(pt)
	ec := map[string]string{"tenant": "42"}
	ad := []byte("tenant=42")

	svc := local.New()
	b.Cleanup(func() { svc.Close() })
	c := svc.Client(local.Identity{Account: "111122223333"})
	key, err := c.CreateKey(ctx, &local.CreateKeyInput{Description: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	kr, err := keyring.NewBackend(c, key.KeyMetadata.Arn, nil)
	if err != nil {
		b.Fatal(err)
	}

	for _, s := range []struct {
		name  string
		suite envelope.SuiteID
	}{{"keyport-0478", envelope.SuiteAES256GCMHKDFSHA512CommitKey}, {"keyport-0578", envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384}} {
		eo := envelope.EncryptOptions{Keyring: kr, Suite: s.suite, EncryptionContext: ec}
		do := envelope.DecryptOptions{Keyring: kr, EncryptionContext: ec}
		b.Run("encrypt/"+s.name, func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			defer benchcpu.Start().PerOp(b)
			for b.Loop() {
				if _, err := envelope.Encrypt(ctx, pt, eo); err != nil {
					b.Fatal(err)
				}
			}
		})
		msg, err := envelope.Encrypt(ctx, pt, eo)
		if err != nil {
			b.Fatal(err)
		}
		b.Run("decrypt/"+s.name, func(b *testing.B) {
			b.SetBytes(int64(len(pt)))
			defer benchcpu.Start().PerOp(b)
			for b.Loop() {
				got, _, err := envelope.Decrypt(ctx, msg, do)
				if err != nil || !bytes.Equal(got, pt) {
					b.Fatal(err)
				}
			}
		})
	}

	kh, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	kek, err := aead.New(kh)
	if err != nil {
		b.Fatal(err)
	}
	env := aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), kek)
	b.Run("encrypt/tink", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		defer benchcpu.Start().PerOp(b)
		for b.Loop() {
			if _, err := env.Encrypt(pt, ad); err != nil {
				b.Fatal(err)
			}
		}
	})
	ct, err := env.Encrypt(pt, ad)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decrypt/tink", func(b *testing.B) {
		b.SetBytes(int64(len(pt)))
		defer benchcpu.Start().PerOp(b)
		for b.Loop() {
			got, err := env.Decrypt(ct, ad)
			if err != nil || !bytes.Equal(got, pt) {
				b.Fatal(err)
			}
		}
	})
}
