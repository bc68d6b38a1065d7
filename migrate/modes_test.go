package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/migrate/internal/journal"
)

func TestCopyLeavesSourceAndFilters(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, local.New())
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	tr := w.localTree(t, src, 20, 1, 2<<20)
	writeFile(t, src, "skipme/x.enc", func() []byte { m, _ := message(t, w.srcKR, 10, 0); return m }())
	before := readTree(t, src)
	rep, err := Run(ctx, Options{
		Front: w.front, Source: src, Destination: dst, To: []string{w.dst}, SourceEncryptionContext: testEC,
		Exclude: []string{"skipme/**", "README.txt"}, Include: []string{"**/*.enc"}, Jobs: 3,
		Journal: filepath.Join(t.TempDir(), "j.db"), LargeObject: 1 << 20,
	})
	if err != nil {
		t.Fatal(err)
	}
	// Without --from, the other key's messages migrate too.
	if rep.Migrated != 24 || rep.Excluded != 2 || rep.Failed != 0 || rep.SkippedBy[ReasonAlreadyMigrated] != 2 {
		t.Fatalf("report %+v", rep)
	}
	if !reflect.DeepEqual(before, readTree(t, src)) {
		t.Fatal("the source changed")
	}
	copied := readTree(t, dst)
	if _, ok := copied["README.txt"]; ok {
		t.Error("an excluded object was copied")
	}
	// Only migrated objects are written: those already under the destination
	// (skipped) are not copied.
	for key := range tr.sums {
		if strings.HasPrefix(key, "done/") {
			if _, ok := copied[key]; ok {
				t.Errorf("%s was already under the destination: nothing to copy", key)
			}
			delete(tr.sums, key)
		}
	}
	w.checkObjects(t, tr, copied, func(string) bool { return true })
}

func TestBlobs(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, local.New())
	root := t.TempDir()
	sums := map[string][32]byte{}
	for i := range 12 {
		pt := []byte(fmt.Sprintf("data key %d", i))
		key := w.src
		if i%4 == 3 {
			key = w.other
		}
		out, err := w.front.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: pt, EncryptionContext: testEC})
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("b%02d.bin", i)
		writeFile(t, root, name, out.CiphertextBlob)
		sums[name] = sha256.Sum256(pt)
	}
	writeFile(t, root, "notes.txt", []byte("plain text"))
	writeFile(t, root, "big.bin", bytes.Repeat([]byte{1}, 7000))
	rep, err := Run(ctx, Options{
		Front: w.front, Source: root, From: []string{"alias/src"}, To: []string{"alias/dst"}, SourceEncryptionContext: testEC,
		Format: Blobs, Jobs: 2, Journal: filepath.Join(t.TempDir(), "j.db"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Migrated != 9 || rep.SkippedBy[ReasonNotFromKeys] != 3 || rep.SkippedBy[ReasonNotBlob] != 2 || rep.Failed != 0 {
		t.Fatalf("report %+v", rep)
	}
	for name, want := range sums {
		blob, _ := os.ReadFile(filepath.Join(root, name))
		out, err := w.front.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: blob, EncryptionContext: testEC})
		if err != nil {
			t.Fatal(name, err)
		}
		wantKey := w.dst
		if name == "b03.bin" || name == "b07.bin" || name == "b11.bin" {
			wantKey = w.other
		}
		if out.KeyID != wantKey || sha256.Sum256(out.Plaintext) != want {
			t.Errorf("%s: under %s, plaintext ok %v", name, out.KeyID, sha256.Sum256(out.Plaintext) == want)
		}
	}
}

func TestMaxFailuresAndDryRun(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, local.New())
	root := t.TempDir()
	for i := range 30 {
		msg, _ := message(t, w.srcKR, 100, 0)
		if i%3 == 0 {
			msg[len(msg)-1] ^= 1 // a damaged tag
		}
		writeFile(t, root, fmt.Sprintf("m%02d.enc", i), msg)
	}
	before := readTree(t, root)
	o := Options{Front: w.front, Source: root, To: []string{w.dst}, SourceEncryptionContext: testEC, DryRun: true}
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.DryRun || rep.Migrated != 20 || rep.Failed != 10 || rep.Journal != "" || !reflect.DeepEqual(before, readTree(t, root)) {
		t.Fatalf("dry run: %+v", rep)
	}
	for _, f := range rep.Failures {
		if f.Kind != backends.ErrInvalidCiphertext.Name() {
			t.Errorf("%s: kind %q", f.Key, f.Kind)
		}
	}
	o.DryRun, o.MaxFailures, o.Journal = false, 2, filepath.Join(t.TempDir(), "j.db")
	rep, err = Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	// Objects in flight when the limit is reached still finish.
	if !rep.StoppedEarly || rep.Failed < 2 || rep.Failed > 2+int64(o.Jobs) || rep.Complete || rep.NotReached == 0 || len(rep.NotReachedKeys) != int(rep.NotReached) {
		t.Fatalf("max failures: %+v", rep)
	}
}

// TestConcurrentWriterLeftAlone changes an object between its verification
// and its publication: the migration leaves the writer's version and reports
// it; a rerun migrates the new version.
func TestConcurrentWriterLeftAlone(t *testing.T) {
	w := newWorld(t, local.New())
	for _, kind := range []string{"dir", "mem"} {
		t.Run(kind, func(t *testing.T) {
			var o Options
			var put func(key string, data []byte)
			var read func() map[string][]byte
			switch kind {
			case "dir":
				root := t.TempDir()
				o.Source = root
				put = func(key string, data []byte) { writeFile(t, root, key, data) }
				read = func() map[string][]byte { return readTree(t, root) }
			case "mem":
				b := memblob.OpenBucket(nil)
				t.Cleanup(func() { b.Close() })
				o.Source, o.SourceBucket = "mem://", b
				put = func(key string, data []byte) { putObject(t, b, key, data) }
				read = func() map[string][]byte { return readBucket(t, b) }
			}
			concurrentWriter(t, w, o, put, read)
		})
	}
}

func putObject(t testing.TB, b *blob.Bucket, key string, data []byte) {
	t.Helper()
	if err := b.WriteAll(context.Background(), key, data, nil); err != nil {
		t.Fatal(err)
	}
}

func readBucket(t testing.TB, b *blob.Bucket) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	it := b.List(nil)
	for {
		o, err := it.Next(context.Background())
		if err != nil {
			break
		}
		data, err := b.ReadAll(context.Background(), o.Key)
		if err != nil {
			t.Fatal(err)
		}
		out[o.Key] = data
	}
	return out
}

func concurrentWriter(t *testing.T, w *world, o Options, put func(string, []byte), read func() map[string][]byte) {
	ctx := context.Background()
	tr := newTree()
	for i := range 12 {
		msg, sum := message(t, w.srcKR, 300, 0)
		key := fmt.Sprintf("k%02d.enc", i)
		put(key, msg)
		tr.sums[key], tr.keys[key] = sum, w.src
	}
	theirs, theirSum := message(t, w.srcKR, 200, 0)
	const victim = "k05.enc"
	var once sync.Once
	hook := func(key string) {
		if key == victim {
			once.Do(func() { put(victim, theirs) })
		}
	}
	testHookBeforePublish.Store(&hook)
	defer testHookBeforePublish.Store(nil)
	o.Front, o.To, o.SourceEncryptionContext, o.Journal = w.front, []string{w.dst}, testEC, filepath.Join(t.TempDir(), "j.db")
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Migrated != 11 || rep.Failed != 1 || rep.FailedBy[ReasonChanged] != 1 || rep.Failures[0].Key != victim {
		t.Fatalf("report %+v", rep)
	}
	objs := read()
	if !bytes.Equal(objs[victim], theirs) {
		t.Fatal("the concurrent writer's version was overwritten")
	}
	tr.sums[victim] = theirSum
	w.checkObjects(t, tr, objs, func(key string) bool { return key != victim })
	// The rerun migrates the writer's version.
	testHookBeforePublish.Store(nil)
	rep, err = Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Migrated != 12 || rep.Failed != 0 || rep.Run.Objects != 1 {
		t.Fatalf("rerun: %+v", rep)
	}
	w.checkObjects(t, tr, read(), func(string) bool { return true })
}

// TestShards runs one migration as three shards and as one run over copies
// of the same tree: the shards take every object exactly once and their
// merged report equals the single run's.
func TestShards(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, local.New())
	one, three := t.TempDir(), t.TempDir()
	tr := w.localTree(t, one, 150, 1, 2<<20)
	for key, data := range readTree(t, one) {
		writeFile(t, three, key, data)
	}
	base := Options{Front: w.front, From: []string{w.src}, To: []string{w.dst}, SourceEncryptionContext: testEC, Jobs: 2, LargeObject: 1 << 20}
	o := base
	o.Source, o.Journal = one, filepath.Join(t.TempDir(), "one.db")
	single, err := Run(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	var reps []*Report
	seen := map[string]int{}
	jdir := t.TempDir()
	for k := range 3 {
		o := base
		o.Source, o.Shard = three, Shard{K: k, N: 3}
		o.Journal = filepath.Join(jdir, fmt.Sprintf("shard-%d.db", k))
		rep, err := Run(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Objects == 0 || rep.Objects == single.Objects {
			t.Errorf("shard %d has %d of %d objects", k, rep.Objects, single.Objects)
		}
		reps = append(reps, rep)
		if _, err := journal.Open(ctx, o.Journal, o.identity(nil, nil)); err == nil {
			t.Fatal("the shard's journal took another identity")
		}
		j := openJournalForTest(t, o.Journal)
		for _, s := range []journal.State{journal.Done, journal.Skipped, journal.Failed, journal.Pending} {
			es, err := j.Entries(ctx, s, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range es {
				seen[e.Key]++
			}
		}
	}
	objs := readTree(t, three)
	for key := range objs {
		if seen[key] != 1 {
			t.Errorf("%s taken by %d shards", key, seen[key])
		}
	}
	w.checkObjects(t, tr, objs, func(key string) bool { return tr.keys[key] != w.other })
	merged := MergeReports(reps...)
	if got := merged.Shards; !reflect.DeepEqual(got, []string{"0/3", "1/3", "2/3"}) {
		t.Errorf("merged shards %v", got)
	}
	norm := func(r *Report) Report {
		c := *r
		// ECDSA signatures (DER) vary in length by a byte or two, so the new
		// messages' sizes are compared apart.
		c.Source, c.Journal, c.Shards, c.Run, c.BytesWritten = "", "", nil, RunStats{}, 0
		sort.Slice(c.Failures, func(i, j int) bool { return c.Failures[i].Key < c.Failures[j].Key })
		return c
	}
	a, b := norm(merged), norm(single)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("merged report differs from the single run's:\nmerged %+v\nsingle %+v", a, b)
	}
	if d := merged.BytesWritten - single.BytesWritten; d < -64 || d > 64 {
		t.Errorf("bytes written: merged %d, single %d", merged.BytesWritten, single.BytesWritten)
	}
	if merged.Run.Objects != single.Run.Objects || merged.Run.Bytes != single.Run.Bytes {
		t.Errorf("merged run: %d objects, %d bytes; single: %d, %d", merged.Run.Objects, merged.Run.Bytes, single.Run.Objects, single.Run.Bytes)
	}
}

// openJournalForTest opens a journal whatever its identity, read only.
func openJournalForTest(t testing.TB, path string) *journal.Journal {
	t.Helper()
	j, err := journal.OpenAny(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

var _ = envelope.DefaultSuite

// TestFileURLPrefix migrates the directory a file:// URL's prefix names inside
// its path, and nothing outside it; a prefix that is no directory, or another
// parameter, is refused before anything is read.
func TestFileURLPrefix(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, local.New())
	root := t.TempDir()
	for _, name := range []string{"a.enc", "sub/b.enc", "sub/deeper/c.enc", "subway/d.enc"} {
		m, _ := message(t, w.srcKR, 10, 0)
		writeFile(t, root, name, m)
	}
	before := readTree(t, root)
	rep, err := Run(ctx, Options{Front: w.front, Source: "file://" + filepath.ToSlash(root) + "?prefix=sub/", To: []string{w.dst},
		SourceEncryptionContext: testEC, Journal: filepath.Join(t.TempDir(), "j.db")})
	if err != nil {
		t.Fatal(err)
	}
	after := readTree(t, root)
	if rep.Migrated != 2 || rep.Failed != 0 {
		t.Fatalf("report %+v", rep)
	}
	for name, b := range after {
		changed := !bytes.Equal(before[name], b)
		if inside := strings.HasPrefix(name, "sub/"); changed != inside {
			t.Errorf("%s: changed %v", name, changed)
		}
	}
	for _, q := range []string{"?prefix=su", "?prefix=../", "?prefix=sub/&create_dir=true"} {
		_, err := Run(ctx, Options{Front: w.front, Source: "file://" + filepath.ToSlash(root) + q, To: []string{w.dst},
			SourceEncryptionContext: testEC, Journal: filepath.Join(t.TempDir(), "j.db")})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Run on "+q)
	}
	if !reflect.DeepEqual(after, readTree(t, root)) {
		t.Error("a refused run changed the tree")
	}
}
