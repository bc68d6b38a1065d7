package migrate

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
)

// BenchmarkMigrate migrates a directory in place, each iteration a fresh tree
// (made with the timer stopped): 2,000 files of 1 KiB or 4 of 16 MiB, suite
// 0x0478, from a key of the embedded service to another of it ("local") or to
// an AWS KMS key (local-kms, "awskms"), with -j 1 and -j 8. It reports
// objects/s, MB/s (of source bytes) and the key-service calls per object (the
// run's canary excluded), counted by an interceptor on the Front.
//
//	go test -run '^$' -bench Migrate -benchtime 3x ./migrate
func BenchmarkMigrate(b *testing.B) {
	for _, size := range []struct {
		name  string
		n, sz int
	}{{"1KiB", 2000, 1 << 10}, {"16MiB", 4, 16 << 20}} {
		for _, dst := range []string{"local", "awskms"} {
			for _, j := range []int{1, 8} {
				b.Run(fmt.Sprintf("%s/%s/j%d", size.name, dst, j), func(b *testing.B) {
					benchMigrate(b, size.n, size.sz, dst, j, b.TempDir)
				})
			}
		}
	}
	// The same 1 KiB migration on tmpfs: what the migration itself costs once
	// the disk's fsync is out of the way (a tmpfs sync returns at once).
	b.Run("1KiB/local/j8/tmpfs", func(b *testing.B) {
		if st, err := os.Stat("/dev/shm"); err != nil || !st.IsDir() {
			b.Skip("no tmpfs at /dev/shm")
		}
		temp := func() string {
			d, err := os.MkdirTemp("/dev/shm", "keyport-bench-")
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
		benchMigrate(b, 2000, 1<<10, "local", 8, temp)
	})
}

// benchMigrate migrates n files of size bytes to a key of dstKind with jobs
// workers, each iteration in a fresh tree made in a directory of temp.
func benchMigrate(b *testing.B, n, size int, dstKind string, jobs int, temp func() string) {
	ctx := context.Background()
	var w *world
	var to string
	if dstKind == "awskms" {
		if os.Getenv("KEYPORT_LOCALKMS_A") == "" {
			b.Skip("local-kms is not running (KEYPORT_LOCALKMS_A): scripts/dev.sh starts it")
		}
		cw := newCrashWorldTB(b)
		w = &world{front: cw.front, src: cw.src, dst: cw.dst, srcKR: cw.srcKR, dstKR: cw.dstKR, calls: &calls{n: map[string]int{}}}
		cw.front.Use(w.calls.interceptor())
		to = cw.dst
	} else {
		w = newWorld(b, local.New())
		to = w.dst
	}
	pt := make([]byte, size)
	var objects, bytes int64
	calls := 0
	var secs float64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := temp()
		writeBenchTree(b, root, w.srcKR, n, pt)
		w.calls.reset()
		b.StartTimer()
		rep, err := Run(ctx, Options{Front: w.front, Source: root, To: []string{to}, SourceEncryptionContext: testEC,
			Jobs: jobs, Journal: filepath.Join(temp(), "j.db")})
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if rep.Migrated != int64(n) || rep.Failed != 0 {
			b.Fatalf("migrated %d of %d, failed %d", rep.Migrated, n, rep.Failed)
		}
		c := w.calls.snapshot()
		calls += c["Decrypt"] + c["Encrypt"] + c["GenerateDataKey"] - 2 // the canary's
		objects += rep.Run.Objects
		bytes += rep.Run.Bytes
		secs += rep.Run.Seconds
		b.StartTimer()
	}
	b.ReportMetric(float64(objects)/secs, "objects/s")
	b.ReportMetric(float64(bytes)/1e6/secs, "MB/s")
	b.ReportMetric(float64(calls)/float64(objects), "kms-calls/object")
}

// benchKey is the key of file k of a benchmark's tree: eight directories, the
// files dealt out among them.
func benchKey(k int) string { return fmt.Sprintf("d%d/f%05d.enc", k%8, k) }

// writeBenchTree writes n messages of pt under kr (suite 0x0478, the test's
// encryption context) to root, file k at benchKey(k).
func writeBenchTree(b *testing.B, root string, kr envelope.Keyring, n int, pt []byte) {
	for k := range n {
		msg, err := envelope.Encrypt(context.Background(), pt, envelope.EncryptOptions{Keyring: kr, EncryptionContext: testEC,
			Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, Workers: envelope.AllCores})
		if err != nil {
			b.Fatal(err)
		}
		writeFile(b, root, benchKey(k), msg)
	}
}
