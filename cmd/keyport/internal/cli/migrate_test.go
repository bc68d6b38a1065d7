package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/cmd/keyport/internal/outfile"
)

// tree is a directory of envelope messages made by the tool, with their
// plaintexts and modes.
type tree struct {
	root  string
	plain map[string][]byte // path -> plaintext
	mode  map[string]fs.FileMode
}

func makeTree(t *testing.T, w *world, key string, ctx ...string) *tree {
	t.Helper()
	tr := &tree{root: filepath.Join(w.dir, "data"), plain: map[string][]byte{}, mode: map[string]fs.FileMode{}}
	for i, f := range []struct {
		name  string
		size  int
		mode  fs.FileMode
		flags []string
	}{
		{"a.enc", 0, 0o600, nil},
		{"b.enc", 5000, 0o640, []string{"--frame-length", "1000"}},
		{"sub/c.enc", 100, 0o444, []string{"--suite", "0x0478"}},
		{"sub/deeper/d.enc", 70_000, 0o604, []string{"--suite", "0x0478", "--frame-length", "4096"}},
	} {
		pt := randBytes(f.size + i)
		args := []string{"encrypt", "--key", key}
		for _, c := range ctx {
			args = append(args, "--context", c)
		}
		msg := w.must(t, pt, append(args, f.flags...)...)
		p := filepath.Join(tr.root, f.name)
		writeFile(t, p, []byte(msg), f.mode)
		tr.plain[p], tr.mode[p] = pt, f.mode
	}
	return tr
}

// snapshot records every entry under root with its mode and content.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		m[p] = fi.Mode().String()
		if d.Type().IsRegular() {
			m[p] += " " + string(readFile(t, p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func sameSnapshot(t *testing.T, before, after map[string]string) {
	t.Helper()
	if len(before) != len(after) {
		t.Fatalf("%d entries before, %d after", len(before), len(after))
	}
	for p, v := range before {
		if after[p] != v {
			t.Errorf("%s changed", p)
		}
	}
}

func TestMigrateDirectory(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flags  []string
		newCtx []string // the context that opens the migrated messages
	}{
		{"reseal", nil, []string{"tenant=acme"}},
		{"rewrap", []string{"--rewrap"}, []string{"tenant=acme"}},
		{"reseal-new-context", []string{"--new-context", "tenant=acme", "--new-context", "stage=2"}, []string{"tenant=acme", "stage=2"}},
		{"rewrap-new-context", []string{"--rewrap", "--new-context", "tenant=globex"}, []string{"tenant=globex"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			w.key(t, "alias/old")
			newARN := w.key(t, "alias/new")
			extra := w.key(t, "alias/extra")
			tr := makeTree(t, w, "alias/old", "tenant=acme")

			args := append([]string{"migrate", "--from", "alias/old", "--to", "alias/new", "--to", extra, "--context", "tenant=acme", "-j", "3"}, tc.flags...)
			code, out, errs := w.kp(t, nil, append(args, tr.root)...)
			if code != ExitOK || !strings.Contains(out, "migrated 4, skipped 0, failed 0, not reached 0") {
				t.Fatalf("migrate: exit %d\nstdout %s\nstderr %s", code, out, errs)
			}
			if rewrap := strings.Contains(errs, "--rewrap keeps"); rewrap != strings.Contains(tc.name, "rewrap") {
				t.Errorf("rewrap caveat printed: %v, in %q", rewrap, errs)
			}
			ctxArgs := func(keyArgs ...string) []string {
				a := append([]string{"decrypt"}, keyArgs...)
				for _, c := range tc.newCtx {
					a = append(a, "--context", c)
				}
				return a
			}
			for p, pt := range tr.plain {
				msg := readFile(t, p)
				for _, k := range []string{"alias/new", newARN, "alias/extra"} {
					if got := w.must(t, msg, ctxArgs("--key", k)...); got != string(pt) {
						t.Fatalf("%s under %s: plaintext differs", p, k)
					}
				}
				if code, _, errs := w.kp(t, msg, ctxArgs("--key", "alias/old")...); code != ExitFailure || !strings.Contains(errs, "IncorrectKeyException") {
					t.Errorf("%s still opens with the old key (exit %d, %q)", p, code, errs)
				}
				fi, err := os.Stat(p)
				if err != nil {
					t.Fatal(err)
				}
				if fi.Mode() != tr.mode[p] {
					t.Errorf("%s: mode %v, want %v", p, fi.Mode(), tr.mode[p])
				}
			}
			assertNoTemp(t, tr.root)

			// The same command again finds everything migrated in its journal,
			// reads nothing and changes nothing.
			before := snapshot(t, tr.root)
			code, out, errs = w.kp(t, nil, append(args, tr.root)...)
			if code != ExitOK || !strings.Contains(out, "migrated 4, skipped 0, failed 0") || !strings.Contains(out, "\n0 objects, 0.0 MB read") {
				t.Fatalf("second run: exit %d\nstdout %s\nstderr %s", code, out, errs)
			}
			sameSnapshot(t, before, snapshot(t, tr.root))
		})
	}
}

func assertNoTemp(t *testing.T, root string) {
	t.Helper()
	for p := range snapshot(t, root) {
		if strings.Contains(filepath.Base(p), outfile.TempMarker) {
			t.Errorf("temporary file left behind: %s", p)
		}
	}
}

func TestMigrateDryRunChangesNothing(t *testing.T) {
	w := newWorld(t)
	w.key(t, "alias/old")
	w.key(t, "alias/new")
	tr := makeTree(t, w, "alias/old")
	writeFile(t, filepath.Join(tr.root, "notes.txt"), []byte("not a message"), 0o644)
	for _, flags := range [][]string{nil, {"--rewrap"}} {
		before := snapshot(t, tr.root)
		code, out, errs := w.kp(t, nil, append(append([]string{"migrate", "--to", "alias/new", "--dry-run"}, flags...), tr.root)...)
		// A file that is not a message is skipped, and fails nothing.
		if code != ExitOK || !strings.Contains(out, "would migrate 4, skipped 1, failed 0") || !strings.Contains(out, "skipped 1: not-a-message") {
			t.Fatalf("dry run %v: exit %d\nstdout %s\nstderr %s", flags, code, out, errs)
		}
		sameSnapshot(t, before, snapshot(t, tr.root))
	}
	// Still under the old key.
	for p, pt := range tr.plain {
		if got := w.must(t, readFile(t, p), "decrypt", "--key", "alias/old"); got != string(pt) {
			t.Fatalf("%s no longer opens with the old key", p)
		}
	}
	// A dry run that the destination refuses fails (before any object) and
	// changes nothing.
	disable(t, w, "alias/new")
	before := snapshot(t, tr.root)
	code, out, errs := w.kp(t, nil, "migrate", "--to", "alias/new", "--dry-run", filepath.Join(tr.root, "b.enc"))
	if code != ExitFailure || !strings.Contains(errs, "DisabledException") {
		t.Fatalf("dry run to a disabled key: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	sameSnapshot(t, before, snapshot(t, tr.root))
}

// disable disables a key of the store.
func disable(t *testing.T, w *world, alias string) {
	t.Helper()
	svc, c := w.service(t)
	defer svc.Close()
	if err := c.DisableKey(context.Background(), &local.DisableKeyInput{KeyID: alias}); err != nil {
		t.Fatal(err)
	}
}

func TestMigrateFailuresLeaveOriginals(t *testing.T) {
	w := newWorld(t)
	w.key(t, "alias/old")
	w.key(t, "alias/new")
	w.key(t, "alias/other")
	dir := filepath.Join(w.dir, "data")
	pt := randBytes(20_000)
	unsigned := []byte(w.must(t, pt, "encrypt", "--key", "alias/old", "--suite", "0x0478", "--frame-length", "1024"))
	signed := []byte(w.must(t, pt, "encrypt", "--key", "alias/old", "--frame-length", "1024"))
	files := map[string][]byte{
		"truncated.enc":       unsigned[:len(unsigned)-100],
		"corrupt-body.enc":    flip(unsigned, len(unsigned)-500),
		"corrupt-signed.enc":  flip(signed, len(signed)-2000),
		"corrupt-footer.enc":  flip(signed, len(signed)-5),
		"other-key.enc":       []byte(w.must(t, pt, "encrypt", "--key", "alias/other")),
		"corrupt-header.enc":  flip(unsigned, 30),
		"not-a-message.enc":   []byte("hello"),
		"empty.enc":           nil,
		"ok-but-disabled.enc": unsigned,
	}
	for name, b := range files {
		writeFile(t, filepath.Join(dir, name), b, 0o640)
	}
	// The body of an unsigned message is copied unchecked by a rewrap, so a
	// corrupt frame is found only by the verification of the new file: the
	// failure happens after the temporary file was written.
	for _, flags := range [][]string{nil, {"--rewrap"}} {
		before := snapshot(t, dir)
		args := append([]string{"migrate", "--from", "alias/old", "--to", "alias/new", "-j", "2"}, flags...)
		code, out, errs := w.kp(t, nil, append(args, dir)...)
		if code != ExitFailure {
			t.Fatalf("%v: exit %d\nstdout %s\nstderr %s", flags, code, out, errs)
		}
		// Damaged messages fail; what is not a message, or is under another
		// key than --from, is skipped.
		if !strings.Contains(out, "migrated 1, skipped 3, failed 5") || !strings.Contains(out, "skipped 2: not-a-message") ||
			!strings.Contains(out, "skipped 1: not-under-source-keys") {
			t.Errorf("%v: summary:\n%s\nstderr %s", flags, out, errs)
		}
		for name := range files {
			switch name {
			case "ok-but-disabled.enc", "other-key.enc", "not-a-message.enc", "empty.enc":
				continue
			}
			line := lineWith(errs, name+": ")
			if line == "" || !strings.Contains(line, "Exception") {
				t.Errorf("%v: no error with a kind for %s:\n%s", flags, name, errs)
			}
		}
		// With --rewrap, the corrupt frame of the unsigned message is copied into the
		// temporary file and found by its verification: the midway failure.
		if line := lineWith(errs, "corrupt-body.enc: "); (flags != nil) != strings.Contains(line, "verifying the new message") {
			t.Errorf("%v: corrupt-body.enc failed at the wrong stage: %s", flags, line)
		}
		after := snapshot(t, dir)
		ok := filepath.Join(dir, "ok-but-disabled.enc")
		delete(before, ok)
		delete(after, ok)
		sameSnapshot(t, before, after)
		assertNoTemp(t, dir)
		writeFile(t, ok, unsigned, 0o640) // back under the old key
	}
	// A destination that refuses: nothing changes.
	disable(t, w, "alias/new")
	before := snapshot(t, dir)
	code, out, errs := w.kp(t, nil, "migrate", "--to", "alias/new", filepath.Join(dir, "ok-but-disabled.enc"))
	if code != ExitFailure || !strings.Contains(lineWith(errs, "ok-but-disabled.enc: "), "DisabledException") {
		t.Fatalf("to a disabled key: exit %d\nstdout %s\nstderr %s", code, out, errs)
	}
	sameSnapshot(t, before, snapshot(t, dir))
	assertNoTemp(t, dir)
}

func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func TestMigrateRefusesHardLinks(t *testing.T) {
	w := newWorld(t)
	w.key(t, "alias/old")
	w.key(t, "alias/new")
	p := filepath.Join(w.dir, "m.enc")
	msg := []byte(w.must(t, []byte("x"), "encrypt", "--key", "alias/old"))
	writeFile(t, p, msg, 0o600)
	if err := os.Link(p, filepath.Join(w.dir, "link.enc")); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	code, _, errs := w.kp(t, nil, "migrate", "--to", "alias/new", p)
	if code != ExitFailure || !strings.Contains(errs, "hard links") || !bytes.Equal(readFile(t, p), msg) {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

// TestMigrateVerificationFailureKeepsOriginal uses a destination key that
// wraps data keys but may not decrypt: the run's canary (a message wrapped
// and unwrapped by each destination key once per run) fails, before any
// object, so the original stays.
func TestMigrateVerificationFailureKeepsOriginal(t *testing.T) {
	w := newWorld(t)
	w.key(t, "alias/old")
	svc, c := w.service(t)
	out, err := c.CreateKey(context.Background(), &local.CreateKeyInput{
		Policy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + defaultAccount + `:root"},
		  "Action":["kms:Encrypt","kms:GenerateDataKey","kms:ReEncryptTo","kms:DescribeKey"],"Resource":"*"}]}`,
		BypassPolicyLockoutSafetyCheck: true,
	})
	svc.Close()
	if err != nil {
		t.Fatal(err)
	}
	noDecrypt := out.KeyMetadata.Arn
	p := filepath.Join(w.dir, "data", "m.enc")
	msg := []byte(w.must(t, randBytes(5000), "encrypt", "--key", "alias/old"))
	writeFile(t, p, msg, 0o600)
	for _, flags := range [][]string{nil, {"--rewrap"}, {"--dry-run"}} {
		code, stdout, errs := w.kp(t, nil, append(append([]string{"migrate", "--to", noDecrypt}, flags...), p)...)
		line := lineWith(errs, "m.enc: ")
		if code != ExitFailure || stdout != "" || !strings.Contains(line, "cannot unwrap what it wraps") || !strings.Contains(line, "AccessDeniedException") {
			t.Fatalf("%v: exit %d\nstdout %s\nstderr %s", flags, code, stdout, errs)
		}
		if !bytes.Equal(readFile(t, p), msg) {
			t.Fatalf("%v: the original changed", flags)
		}
		assertEntries(t, filepath.Dir(p), "m.enc")
	}
}

// TestMigrateShardsAndReport migrates one tree as three shards, each with its
// JSON report, and merges the reports with "migrate report": every file is
// migrated once and the merged counts cover the tree.
func TestMigrateShardsAndReport(t *testing.T) {
	w := newWorld(t)
	w.key(t, "alias/old")
	w.key(t, "alias/new")
	dir := filepath.Join(w.dir, "data")
	for i := range 30 {
		writeFile(t, filepath.Join(dir, "f"+strconv.Itoa(i)+".enc"), []byte(w.must(t, randBytes(100), "encrypt", "--key", "alias/old")), 0o600)
	}
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("not a message"), 0o600)
	var reports []string
	total := 0
	for k := range 3 {
		out := w.must(t, nil, "migrate", "--to", "alias/new", "--shard", fmt.Sprintf("%d/3", k), "--output", "json", dir)
		var rep struct{ Objects int }
		if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.Objects == 0 {
			t.Fatalf("shard %d: %v %s", k, err, out)
		}
		total += rep.Objects
		p := filepath.Join(w.dir, fmt.Sprintf("shard-%d.json", k))
		writeFile(t, p, []byte(out), 0o600)
		reports = append(reports, p)
	}
	if total != 31 {
		t.Fatalf("the shards hold %d objects, the tree 31", total)
	}
	out := w.must(t, nil, append([]string{"migrate", "report", "--output", "json"}, reports...)...)
	var m struct {
		Shards                             []string
		Objects, Migrated, Skipped, Failed int
		Complete                           bool
		SkippedBy                          map[string]int
	}
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	if m.Objects != 31 || m.Migrated != 30 || m.Skipped != 1 || m.SkippedBy["not-a-message"] != 1 || !m.Complete || len(m.Shards) != 3 {
		t.Fatalf("merged report: %+v", m)
	}
	if code, _, errs := w.kp(t, nil, "migrate", "report", filepath.Join(dir, "notes.txt")); code != ExitFailure || !strings.Contains(errs, "not a migrate report") {
		t.Errorf("a file that is not a report: exit %d, %s", code, errs)
	}
	for i := range 30 {
		if got := w.must(t, readFile(t, filepath.Join(dir, "f"+strconv.Itoa(i)+".enc")), "decrypt", "--key", "alias/new"); len(got) != 100 {
			t.Fatalf("f%d does not open under the new key", i)
		}
	}
}
