//go:build cgo

package pkcs11

import (
	"context"
	"runtime"
	"testing"

	"github.com/keyport/keyport/backends"
)

// BenchmarkWrap and BenchmarkUnwrap measure data-key wraps and unwraps per
// second against SoftHSM2: one goroutine, and 16 at once (RunParallel with
// 16/GOMAXPROCS goroutines per CPU) through the default pool of 8 sessions.
// AES-256-GCM under a secret key, and RSA-2048-OAEP-SHA-1 under a key pair
// (SoftHSM's only OAEP hash).
func BenchmarkWrap(b *testing.B)   { benchWrap(b, false) }
func BenchmarkUnwrap(b *testing.B) { benchWrap(b, true) }

func benchWrap(b *testing.B, unwrap bool) {
	s := newSoftHSM(b, "bench")
	be := s.open(b, s.options())
	ctx := context.Background()
	dataKey := make([]byte, 32)
	ec := map[string]string{"purpose": "bench"}
	for _, k := range []struct {
		name string
		spec KeySpec
		alg  backends.Algorithm
		ec   map[string]string
	}{
		{"AES256GCM", AES256, "", ec},
		{"RSA2048OAEPSHA1", RSA2048, backends.RSAESOAEPSHA1, nil},
	} {
		key := mustCreate(b, be, k.name, nil, k.spec)
		out, err := be.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: dataKey, EncryptionContext: k.ec, EncryptionAlgorithm: k.alg})
		if err != nil {
			b.Fatal(err)
		}
		op := func() error {
			if unwrap {
				d, err := be.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: out.CiphertextBlob, EncryptionContext: k.ec, EncryptionAlgorithm: k.alg})
				if err == nil {
					clear(d.Plaintext)
				}
				return err
			}
			_, err := be.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: dataKey, EncryptionContext: k.ec, EncryptionAlgorithm: k.alg})
			return err
		}
		unit := "wraps/s"
		if unwrap {
			unit = "unwraps/s"
		}
		b.Run(k.name+"/Sequential", func(b *testing.B) {
			for b.Loop() {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
		})
		b.Run(k.name+"/16Goroutines", func(b *testing.B) {
			b.SetParallelism(max(1, 16/testingProcs()))
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), unit)
		})
	}
}

func testingProcs() int { return runtime.GOMAXPROCS(0) }
