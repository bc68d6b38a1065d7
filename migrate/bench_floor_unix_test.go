//go:build unix

package migrate

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/internal/tempfile"
)

// BenchmarkMigrateFloorTurns sets the in-place migration of 2,000 files of
// 1 KiB (-j 8, local key to local key, as BenchmarkMigrate) against the floor
// the file system sets for it: the same number of files replaced durably with
// nothing else done, as Publish does it (in batches of 256: each new file
// written beside its target and synced, 16 at a time; then renamed; then one
// sync per directory). No reading, no cryptography, no journal. The two run in
// turns, each on a fresh tree written and synced beforehand, so that both see
// the same disk at about the same time: a virtual disk's fsync rate moves
// several-fold within minutes. "x-floor" is the migration's files/s over the
// floor's.
func BenchmarkMigrateFloorTurns(b *testing.B) {
	const n, size = 2000, 1 << 10
	ctx := context.Background()
	w := newWorld(b, local.New())
	pt := make([]byte, size)
	msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: w.srcKR, EncryptionContext: testEC,
		Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey})
	if err != nil {
		b.Fatal(err)
	}
	tree := func() string {
		root := b.TempDir()
		writeBenchTree(b, root, w.srcKR, n, pt)
		return root
	}
	var tMigrate, tFloor time.Duration
	for b.Loop() {
		b.StopTimer()
		a, c := tree(), tree()
		journal := filepath.Join(b.TempDir(), "j.db")
		syscall.Sync() // the trees' writeback is not measured
		b.StartTimer()
		t0 := time.Now()
		rep, err := Run(ctx, Options{Front: w.front, Source: a, To: []string{w.dst}, SourceEncryptionContext: testEC,
			Jobs: 8, Journal: journal})
		t1 := time.Now()
		if err != nil {
			b.Fatal(err)
		}
		if rep.Migrated != n || rep.Failed != 0 {
			b.Fatalf("migrated %d of %d, failed %d", rep.Migrated, n, rep.Failed)
		}
		replaceDurably(b, c, n, msg)
		tMigrate, tFloor = tMigrate+t1.Sub(t0), tFloor+time.Since(t1)
	}
	b.ReportMetric(float64(b.N*n)/tMigrate.Seconds(), "objects/s")
	b.ReportMetric(float64(b.N*n)/tFloor.Seconds(), "floor-objects/s")
	b.ReportMetric(tFloor.Seconds()/tMigrate.Seconds(), "x-floor")
}

// replaceDurably replaces the n files benchKey(0..n-1) under root with data as
// Publish does, with nothing else: batches of 256, each file written to a
// temporary file beside it and synced (16 at a time), then renamed, then each
// directory synced once.
func replaceDurably(b *testing.B, root string, n int, data []byte) {
	const batch, syncing = 256, 16
	for s := 0; s < n; s += batch {
		e := min(n, s+batch)
		var wg sync.WaitGroup
		sem := make(chan struct{}, syncing)
		tmp := make([]string, e-s)
		errs := make([]error, e-s)
		for k := s; k < e; k++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				p := filepath.Join(root, benchKey(k))
				f, err := os.CreateTemp(filepath.Dir(p), filepath.Base(p)+".tmp*")
				if err != nil {
					errs[k-s] = err
					return
				}
				tmp[k-s] = f.Name()
				if _, err := f.Write(data); err != nil {
					errs[k-s] = err
				} else if err := f.Sync(); err != nil {
					errs[k-s] = err
				}
				if err := f.Close(); err != nil && errs[k-s] == nil {
					errs[k-s] = err
				}
			}()
		}
		wg.Wait()
		dirs := map[string]bool{}
		for k := s; k < e; k++ {
			if errs[k-s] != nil {
				b.Fatal(errs[k-s])
			}
			p := filepath.Join(root, benchKey(k))
			if err := os.Rename(tmp[k-s], p); err != nil {
				b.Fatal(err)
			}
			dirs[filepath.Dir(p)] = true
		}
		for d := range dirs {
			if err := tempfile.SyncDir(d); err != nil {
				b.Fatal(err)
			}
		}
	}
}
