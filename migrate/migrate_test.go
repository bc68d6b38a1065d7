package migrate

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
)

// localTree writes n small messages under src (two of them 0x0578), big large
// ones, a README.txt, 3 messages under the other key and 2 under the
// destination already.
func (w *world) localTree(t testing.TB, root string, n, big, bigSize int) *tree {
	tr := newTree()
	put := func(key, arn string, size int, suite envelope.SuiteID) {
		msg, sum := message(t, w.keyringFor(t, arn), size, suite)
		writeFile(t, root, key, msg)
		tr.sums[key], tr.keys[key] = sum, arn
	}
	for i := range n {
		suite := envelope.SuiteAES256GCMHKDFSHA512CommitKey
		if i%50 == 7 {
			suite = envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384
		}
		put(fmt.Sprintf("d%02d/f%05d.enc", i%7, i), w.src, 1024, suite)
	}
	for i := range big {
		put(fmt.Sprintf("big/b%d.enc", i), w.src, bigSize, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384)
	}
	for i := range 3 {
		put(fmt.Sprintf("other/o%d.enc", i), w.other, 100, 0)
	}
	for i := range 2 {
		put(fmt.Sprintf("done/a%d.enc", i), w.dst, 100, 0)
	}
	writeFile(t, root, "README.txt", []byte("not a message\n"))
	return tr
}

func TestLocalInPlace(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, local.New())
	root := t.TempDir()
	tr := w.localTree(t, root, 60, 2, 3<<20)
	journal := filepath.Join(t.TempDir(), "j.db")
	o := Options{
		Front: w.front, Source: root, From: []string{"alias/src"}, To: []string{"alias/dst"},
		SourceEncryptionContext: testEC, Jobs: 4, Journal: journal, LargeObject: 1 << 20,
	}
	w.calls.reset()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	c := w.calls.snapshot()
	if rep.Migrated != 62 || rep.Skipped != 6 || rep.Failed != 0 || rep.NotReached != 0 || !rep.Complete {
		t.Fatalf("report: migrated %d skipped %d failed %d not reached %d complete %v; failures %v",
			rep.Migrated, rep.Skipped, rep.Failed, rep.NotReached, rep.Complete, rep.Failures)
	}
	want := map[string]int64{ReasonNotMessage: 1, ReasonNotFromKeys: 3, ReasonAlreadyMigrated: 2}
	for k, v := range want {
		if rep.SkippedBy[k] != v {
			t.Errorf("SkippedBy[%s] = %d, want %d", k, rep.SkippedBy[k], v)
		}
	}
	if kc := rep.BySourceKey[w.src]; kc == nil || kc.Migrated != 62 {
		t.Errorf("BySourceKey[src] = %+v", kc)
	}
	// Key-service calls: one DescribeKey per named key, the canary's
	// GenerateDataKey and Decrypt, then one unwrap and one wrap per object.
	wantCalls := map[string]int{"DescribeKey": 2, "Decrypt": 62 + 1, "GenerateDataKey": 62 + 1}
	for op, n := range wantCalls {
		if c[op] != n {
			t.Errorf("%s calls: %d, want %d (all: %v)", op, c[op], n, c)
		}
	}
	if m := w.calls.maxIn.Load(); m > int64(o.Jobs) {
		t.Errorf("%d key-service calls in flight, -j %d", m, o.Jobs)
	}
	migrated := func(key string) bool { return tr.keys[key] == w.src || tr.keys[key] == w.dst }
	w.checkObjects(t, tr, readTree(t, root), migrated)

	// A rerun reads nothing it finished and calls no key service per object.
	w.calls.reset()
	rep2, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	c = w.calls.snapshot()
	if rep2.Run.Objects != 0 || rep2.Run.Bytes != 0 {
		t.Errorf("rerun processed %d objects, read %d bytes", rep2.Run.Objects, rep2.Run.Bytes)
	}
	if c["Decrypt"] != 1 || c["GenerateDataKey"] != 1 {
		t.Errorf("rerun calls: %v (want only the canary's)", c)
	}
	if rep2.Migrated != rep.Migrated || rep2.Skipped != rep.Skipped {
		t.Errorf("rerun report differs: %+v", rep2)
	}
	if _, err := os.Stat(journal); err != nil {
		t.Error(err)
	}
}

// TestSignedMessageCosts migrates messages of the signed suite 0x0578, small
// and streamed: each costs one decryption at the source (one key-service
// Decrypt), one encryption (one GenerateDataKey) and one verifying decryption
// (the verifier keyring, called once per pass). A decryption of a signed
// message verifies its one signature and an encryption makes one, so a file
// costs two signature verifications and one signature.
func TestSignedMessageCosts(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, local.New())
	root := t.TempDir()
	const small, large = 20, 2
	for i := range small + large {
		size := 1000
		if i >= small {
			size = 3 << 20
		}
		msg, _ := message(t, w.srcKR, size, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384)
		writeFile(t, root, fmt.Sprintf("m%02d.enc", i), msg)
	}
	var verifies atomic.Int64
	hook := func() { verifies.Add(1) }
	testHookVerify.Store(&hook)
	defer testHookVerify.Store(nil)
	w.calls.reset()
	rep, err := Run(ctx, Options{Front: w.front, Source: root, To: []string{w.dst}, SourceEncryptionContext: testEC, Jobs: 3,
		Journal: filepath.Join(t.TempDir(), "j.db"), LargeObject: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	c := w.calls.snapshot()
	n := small + large
	// The run's canary adds one GenerateDataKey and one Decrypt.
	if rep.Migrated != int64(n) || c["Decrypt"]-1 != n || c["GenerateDataKey"]-1 != n || verifies.Load() != int64(n) {
		t.Fatalf("%d migrated; per file: %d source decryptions, %d encryptions, %d verifying decryptions (want 1 each)",
			rep.Migrated, c["Decrypt"]-1, c["GenerateDataKey"]-1, verifies.Load())
	}
}

// TestProgressWithinObject: the bytes read of a large object move while it is
// migrated (its count comes only at its end), and the bar shows them.
func TestProgressWithinObject(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, local.New())
	root := t.TempDir()
	msg, _ := message(t, w.srcKR, 48<<20, 0)
	writeFile(t, root, "big.enc", msg)
	var (
		mu      sync.Mutex
		during  []int64 // Bytes while the object was not yet processed
		bar     bytes.Buffer
		draw, _ = ProgressBar(&bar)
	)
	rep, err := Run(ctx, Options{Front: w.front, Source: root, To: []string{w.dst}, SourceEncryptionContext: testEC,
		Journal: filepath.Join(t.TempDir(), "j.db"), LargeObject: 1 << 20, ProgressInterval: time.Millisecond,
		Progress: func(p Progress) {
			draw(p)
			mu.Lock()
			defer mu.Unlock()
			if p.ListingDone && p.Processed == 0 && p.Bytes > 0 {
				during = append(during, p.Bytes)
			}
		}})
	if err != nil || rep.Migrated != 1 {
		t.Fatalf("Run: %+v, %v", rep, err)
	}
	mu.Lock()
	defer mu.Unlock()
	partial := 0
	for _, b := range during {
		if b < int64(len(msg)) {
			partial++
		}
	}
	if partial < 2 {
		t.Errorf("the bytes read moved %d times within the object (%v), want at least 2", partial, during)
	}
	if !strings.Contains(bar.String(), "MiB read") {
		t.Errorf("the bar never showed the bytes read: %q", bar.String())
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 48 << 20: "48.0 MiB", 3 << 30: "3.0 GiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestRetriesThrottling runs a migration through a Front whose key service
// throttles the first attempt of every other call: the Front's Retry
// interceptor retries them with backoff and every object migrates. (Throttling
// every third attempt, whichever call it belonged to, let four workers' retries
// land on throttled attempts five times running: a flaky test.)
func TestRetriesThrottling(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, local.New())
	root := t.TempDir()
	for i := range 30 {
		msg, _ := message(t, w.srcKR, 200, 0)
		writeFile(t, root, fmt.Sprintf("m%02d.enc", i), msg)
	}
	var (
		mu        sync.Mutex
		calls     int
		attempted = map[*backends.Call]bool{} // calls seen: a retry is never throttled
		throttled atomic.Int64
	)
	w.front.Use(backends.Retry(backends.RetryPolicy{MaxAttempts: 5, BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond}),
		func(ctx context.Context, c *backends.Call, invoke backends.Invoker) error {
			mu.Lock()
			first := !attempted[c]
			attempted[c] = true
			if first {
				calls++
			}
			throttle := first && calls%2 == 0
			mu.Unlock()
			if throttle {
				throttled.Add(1)
				return backends.Errorf(backends.ErrThrottling, c.Op, c.KeyID, "rate exceeded (injected)")
			}
			return invoke(ctx)
		})
	rep, err := Run(ctx, Options{Front: w.front, Source: root, To: []string{w.dst}, SourceEncryptionContext: testEC, Jobs: 4,
		Journal: filepath.Join(t.TempDir(), "j.db")})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Migrated != 30 || rep.Failed != 0 || throttled.Load() < 30 {
		t.Fatalf("migrated %d, failed %d, %d calls throttled", rep.Migrated, rep.Failed, throttled.Load())
	}
}

// TestProgress draws the progress bar and logs progress lines (JSON) during a
// run: both end at the number of objects.
func TestProgress(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, local.New())
	root := t.TempDir()
	for i := range 40 {
		msg, _ := message(t, w.srcKR, 100, 0)
		writeFile(t, root, fmt.Sprintf("m%02d.enc", i), msg)
	}
	var bar, logs bytes.Buffer
	draw, finish := ProgressBar(&bar)
	logf := LogProgress(slog.New(slog.NewJSONHandler(&logs, nil)), 0)
	var last Progress
	rep, err := Run(ctx, Options{Front: w.front, Source: root, To: []string{w.dst}, SourceEncryptionContext: testEC,
		Journal: filepath.Join(t.TempDir(), "j.db"), ProgressInterval: time.Millisecond,
		Progress: func(p Progress) { draw(p); logf(p); last = p }})
	finish()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Migrated != 40 || !last.ListingDone || last.Total != 40 || last.Processed != 40 || last.Migrated != 40 || last.ETA() != 0 {
		t.Fatalf("last progress %+v", last)
	}
	if !strings.Contains(bar.String(), "40/40") {
		t.Errorf("the bar never showed 40/40: %q", bar.String())
	}
	if !strings.Contains(logs.String(), `"msg":"progress","processed":40,"total":40`) {
		t.Errorf("no final progress line: %s", logs.String())
	}
}
