package awskms_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
)

// Benchmarks of a 32-byte data key against local-kms (account A), each run
// sequentially and by 16 goroutines at once; they report ops/s.
//
//	scripts/test.sh starts local-kms; then, with its KEYPORT_LOCALKMS_* exported:
//	go test -run '^$' -bench . -benchtime 2s ./backends/awskms/

func BenchmarkEncrypt(b *testing.B) {
	kp := localA(b)
	dk := make([]byte, 32)
	bench(b, func() error {
		_, err := kp.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPrimary, Plaintext: dk, EncryptionContext: map[string]string{"k": "v"}})
		return err
	})
}

func BenchmarkDecrypt(b *testing.B) {
	kp := localA(b)
	enc, err := kp.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPrimary, Plaintext: make([]byte, 32), EncryptionContext: map[string]string{"k": "v"}})
	if err != nil {
		b.Fatal(err)
	}
	bench(b, func() error {
		out, err := kp.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyID: keyPrimary, EncryptionContext: map[string]string{"k": "v"}})
		if err == nil {
			clear(out.Plaintext)
		}
		return err
	})
}

func BenchmarkReEncrypt(b *testing.B) {
	kp := localA(b)
	enc, err := kp.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPrimary, Plaintext: make([]byte, 32), EncryptionContext: map[string]string{"k": "v"}})
	if err != nil {
		b.Fatal(err)
	}
	bench(b, func() error {
		_, err := kp.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: keyPrimary,
			SourceEncryptionContext: map[string]string{"k": "v"}, DestinationKeyID: keySecondary})
		return err
	})
}

// bench runs op as the sub-benchmarks Sequential and Goroutines16.
func bench(b *testing.B, op func() error) {
	b.Run("Sequential", func(b *testing.B) {
		for b.Loop() {
			if err := op(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
	b.Run("Goroutines16", func(b *testing.B) {
		// RunParallel starts SetParallelism(p) * GOMAXPROCS goroutines.
		p := (16 + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0)
		b.SetParallelism(p)
		var failed atomic.Pointer[error]
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := op(); err != nil {
					failed.CompareAndSwap(nil, &err)
					return
				}
			}
		})
		if e := failed.Load(); e != nil {
			b.Fatal(*e)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}

// TestConnectionReuse checks that the Backend keeps its connections to an endpoint
// open: sequential calls use one connection, 16 concurrent callers at most 16.
func TestConnectionReuse(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // as a real server does: else net/http may drop the connection
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		fmt.Fprint(w, `{"CiphertextBlob":"AQID","KeyId":"arn:aws:kms:us-east-1:111122223333:key/k"}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	kp, err := awskms.NewFromConfig(staticConfig(east), awskms.WithEndpoint(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	in := &backends.EncryptInput{KeyID: "alias/x", Plaintext: make([]byte, 32)}
	for i := 0; i < 100; i++ {
		if _, err := kp.Encrypt(ctxBG, in); err != nil {
			t.Fatal(err)
		}
	}
	// net/http may dial while a finished connection is on its way back to the idle
	// pool, so a few extra connections are normal; without reuse there are 100.
	seq := conns.Load()
	t.Logf("100 sequential calls opened %d connections", seq)
	if seq > 50 {
		t.Fatalf("100 sequential calls opened %d connections, want at most 50 (100 without reuse)", seq)
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := kp.Encrypt(ctxBG, in); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	par := conns.Load() - seq
	t.Logf("16 goroutines x 50 calls opened %d more connections", par)
	if par > 200 {
		t.Fatalf("16 goroutines x 50 calls opened %d connections, want at most 200 (800 without reuse)", par)
	}
}
