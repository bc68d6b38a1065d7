package chaintest

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
)

// BenchmarkWrap and BenchmarkUnwrap measure how many 32-byte data keys each key
// service wraps (Encrypt) and unwraps (Decrypt) per second through its driver,
// one call at a time and with 16 goroutines, all in one run: local-kms (AWS KMS
// API), Vault Transit, and the Cloud KMS and Key Vault loopback servers with the
// real clients, and the embedded service for reference. Run them with
// scripts/test.sh's components (or scripts/dev.sh) started:
//
//	go test -run '^$' -bench 'Wrap' ./internal/chaintest
func BenchmarkWrap(b *testing.B)   { benchServices(b, false) }
func BenchmarkUnwrap(b *testing.B) { benchServices(b, true) }

var (
	benchOnce  sync.Once
	benchWorld *world
)

func benchServices(b *testing.B, unwrap bool) {
	benchOnce.Do(func() { benchWorld = newWorld(&onceTB{TB: b}) })
	if benchWorld == nil {
		b.Skip("the key services did not start")
	}
	w := benchWorld
	for _, s := range []struct{ name, key string }{
		{"local", w.local}, {"localkms", w.aws}, {"vault", w.vault}, {"gcpkms", w.gcp}, {"azurekv", w.azure},
	} {
		d := w.drivers[s.key]
		ec := map[string]string{"bench": "wrap"}
		pt := []byte("0123456789abcdef0123456789abcdef")
		out, err := d.Encrypt(context.Background(), &backends.EncryptInput{KeyID: s.key, Plaintext: pt, EncryptionContext: ec})
		if err != nil {
			b.Fatalf("%s: %v", s.name, err)
		}
		blob := out.CiphertextBlob
		op := func() error {
			if unwrap {
				d, err := d.Decrypt(context.Background(), &backends.DecryptInput{KeyID: s.key, CiphertextBlob: blob, EncryptionContext: ec})
				if err == nil {
					clear(d.Plaintext)
				}
				return err
			}
			_, err := d.Encrypt(context.Background(), &backends.EncryptInput{KeyID: s.key, Plaintext: pt, EncryptionContext: ec})
			return err
		}
		b.Run(s.name+"/seq", func(b *testing.B) {
			start := time.Now()
			for i := 0; i < b.N; i++ {
				if err := op(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
		b.Run(s.name+"/par16", func(b *testing.B) {
			// RunParallel starts parallelism x GOMAXPROCS goroutines.
			b.SetParallelism((16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := op(); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}

// onceTB lets the shared world outlive the first benchmark that makes it: its
// clean-ups run when the process ends, not when that benchmark does.
type onceTB struct{ testing.TB }

func (o *onceTB) Cleanup(func()) {}
