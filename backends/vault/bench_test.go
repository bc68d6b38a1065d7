package vault

import (
	"context"
	"testing"

	"github.com/keyport/keyport/backends"
)

// The benchmarks encrypt, decrypt and rewrap a 32-byte data key against the Vault dev
// server, sequentially and from parallel goroutines (b.RunParallel), and report
// ops/s. "upsert-check" is a mount with Transit's default config, where Encrypt
// first reads the key (two round trips); "no-upsert" a mount with disable_upsert,
// where Encrypt is one round trip.

func benchSetup(b *testing.B, disableUpsert bool, params map[string]any) (*devVault, string) {
	v := newDevVault(b)
	if disableUpsert {
		v.write(v.mount+"/config/keys", map[string]any{"disable_upsert": true})
	}
	return v, v.key("bench", params)
}

var benchEC = map[string]string{"app": "bench", "tenant": "42"}

func benchKey() []byte { return []byte("0123456789abcdef0123456789abcdef") }

func reportOps(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}

func run(b *testing.B, parallel bool, op func() error) {
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for i := 0; i < b.N; i++ {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
	}
	reportOps(b)
}

func BenchmarkEncrypt(b *testing.B) {
	for _, mode := range []struct {
		name          string
		disableUpsert bool
	}{{"upsert-check", false}, {"no-upsert", true}} {
		for _, parallel := range []bool{false, true} {
			b.Run(mode.name+"/"+seqPar(parallel), func(b *testing.B) {
				v, key := benchSetup(b, mode.disableUpsert, nil)
				pt := benchKey()
				run(b, parallel, func() error {
					_, err := v.b.Encrypt(context.Background(), &backends.EncryptInput{KeyID: key, Plaintext: pt, EncryptionContext: benchEC})
					return err
				})
			})
		}
	}
}

func BenchmarkDecrypt(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(seqPar(parallel), func(b *testing.B) {
			v, key := benchSetup(b, false, nil)
			blob := mustEncrypt(b, v.b, key, benchKey(), benchEC)
			run(b, parallel, func() error {
				out, err := v.b.Decrypt(context.Background(), &backends.DecryptInput{KeyID: key, CiphertextBlob: blob, EncryptionContext: benchEC})
				if err == nil {
					clear(out.Plaintext)
				}
				return err
			})
		})
	}
}

// BenchmarkRewrap rewraps a version-1 blob of a derived key (the context travels as
// the derivation context) to version 2.
func BenchmarkRewrap(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		b.Run(seqPar(parallel), func(b *testing.B) {
			v, key := benchSetup(b, false, map[string]any{"derived": true})
			blob := mustEncrypt(b, v.b, key, benchKey(), benchEC)
			v.write(v.mount+"/keys/bench/rotate", nil)
			in := &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: key, DestinationKeyID: key,
				SourceEncryptionContext: benchEC, DestinationEncryptionContext: benchEC}
			run(b, parallel, func() error {
				_, err := v.b.ReEncrypt(context.Background(), in)
				return err
			})
		})
	}
}

// BenchmarkEncryptBatch encrypts 100 data keys per request.
func BenchmarkEncryptBatch(b *testing.B) {
	v, key := benchSetup(b, false, nil)
	items := make([]BatchItem, 100)
	for i := range items {
		items[i] = BatchItem{Plaintext: benchKey(), EncryptionContext: benchEC}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := v.b.EncryptBatch(context.Background(), key, items)
		if err != nil || res[99].Err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(items))/b.Elapsed().Seconds(), "keys/s")
}

func seqPar(parallel bool) string {
	if parallel {
		return "parallel"
	}
	return "sequential"
}
