package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestMigrateKilledThenCompleted kills migrate with SIGKILL ten times, each at a
// random moment after the run has begun to write files, then lets it finish:
// every file decrypts to its original SHA-256 under the new key, no temporary
// file remains, every mode is kept, and the killed runs had done part of the
// work. The moments are drawn from a window of a fifth of the time a whole
// migration of a copy of the tree takes on this machine (with or without -race),
// so that the kills land among the files rather than all in the first (a killed
// run loses the file it was writing, so ten runs do far less than twice the work).
// If the runs go faster than the timed one and the migration ends before the
// tenth kill, the test starts again on a fresh copy with half the window.
func TestMigrateKilledThenCompleted(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and reruns a migration")
	}
	dir, env, kp := localCLI(t)
	kp(nil, "keys", "create", "--alias", "alias/old")
	kp(nil, "keys", "create", "--alias", "alias/new")

	// The tree, kept pristine in orig; each attempt migrates a copy of it.
	orig := filepath.Join(dir, "orig")
	sums := map[string][32]byte{} // by path in the tree
	modes := map[string]fs.FileMode{}
	// 60 files, 20 of them 6 MiB, on one worker.
	for i := range 60 {
		size := 1000 * (i + 1)
		if i%3 == 0 {
			size = 6 << 20
		}
		pt := make([]byte, size)
		rand.Read(pt)
		rel := filepath.Join(string(rune('a'+i%5)), "f"+strconv.Itoa(i)+".enc")
		p := filepath.Join(orig, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, kp(pt, "encrypt", "--key", "alias/old"), 0o600); err != nil {
			t.Fatal(err)
		}
		sums[rel], modes[rel] = sha256.Sum256(pt), fs.FileMode(0o600|(i%3)*0o040)
	}

	const kills = 10
	window := timeMigration(t, env, dir, orig) / 5
	var data string
	for attempt := 1; ; attempt++ {
		data = copyTree(t, orig, filepath.Join(dir, "data"+strconv.Itoa(attempt)), modes)
		interrupted := killRuns(t, env, dir, data, kills, window)
		if interrupted == kills {
			break
		}
		// The migration finished before the tenth kill: the runs went faster
		// than the calibration run (timed at a slow moment of a busy machine,
		// say). Not keyport's doing: again on a fresh copy, with kills sooner.
		if attempt == 4 {
			t.Fatalf("only %d runs were killed before the migration finished, not %d, in four attempts down to a window of %v: give the test more work", interrupted, kills, window)
		}
		window /= 2
		t.Logf("attempt %d: the migration finished after %d kills; again with a window of %v", attempt, interrupted, window)
	}
	out := kp(nil, "migrate", "--to", "alias/new", "--output", "json", data)
	var last struct{ Run struct{ Migrated int } }
	if err := json.Unmarshal(out, &last); err != nil {
		t.Fatal(err)
	}
	if last.Run.Migrated == len(sums) {
		t.Errorf("the killed runs replaced no file: the last run did all the work")
	}
	t.Logf("the killed runs replaced %d files of %d", len(sums)-last.Run.Migrated, len(sums))
	t.Logf("%d runs killed midway; the last run: %s", kills, bytes.Split(out, []byte(`"Files"`))[0])
	if !bytes.Contains(out, []byte(`"Failed": 0`)) {
		t.Fatalf("the last run: %s", out)
	}

	err := filepath.WalkDir(data, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.Contains(d.Name(), ".keyport-tmp-") {
			t.Errorf("temporary file left: %s", p)
			return nil
		}
		rel, _ := filepath.Rel(data, p)
		want, ok := sums[rel]
		if !ok {
			t.Errorf("unexpected file %s", p)
			return nil
		}
		delete(sums, rel)
		fi, _ := d.Info()
		if fi.Mode().Perm() != modes[rel] {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), modes[rel])
		}
		msg, _ := os.ReadFile(p)
		if got := sha256.Sum256(kp(msg, "decrypt", "--key", "alias/new")); got != want {
			t.Errorf("%s: plaintext differs", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(sums) != 0 {
		t.Errorf("files gone: %d", len(sums))
	}
}

// copyTree copies the tree orig to dst, giving each file its mode from modes (by
// path in the tree), and returns dst.
func copyTree(t *testing.T, orig, dst string, modes map[string]fs.FileMode) string {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(orig)); err != nil {
		t.Fatal(err)
	}
	for rel, mode := range modes {
		if err := os.Chmod(filepath.Join(dst, rel), mode); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// killRuns runs migrate on data and kills it with SIGKILL at a random moment
// of window after it has begun writing, again and again, until it has killed
// kills runs or a run ends by itself; it returns how many it killed.
func killRuns(t *testing.T, env []string, dir, data string, kills int, window time.Duration) int {
	t.Helper()
	interrupted := 0
	for interrupted < kills {
		cmd := exec.Command("keyport", "migrate", "--to", "alias/new", "-j", "1", data)
		cmd.Env, cmd.Dir = env, dir
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if writing(data, exited) {
			n, _ := rand.Int(rand.Reader, big.NewInt(int64(window)))
			time.Sleep(time.Duration(n.Int64()))
			cmd.Process.Kill()
		}
		if err := <-exited; err == nil || !strings.Contains(err.Error(), "killed") {
			if err != nil {
				t.Fatalf("a run failed: %v\n%s", err, errb.String())
			}
			return interrupted // the migration is complete
		}
		interrupted++
	}
	return interrupted
}

// writing waits until a temporary file of migrate's appears under dir (a file is
// being written) and reports true, or until the process exits (false).
func writing(dir string, exited chan error) bool {
	for {
		select {
		case err := <-exited:
			exited <- err
			return false
		default:
		}
		found := false
		filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.Contains(d.Name(), ".keyport-tmp-") {
				found = true
				return filepath.SkipAll
			}
			return nil
		})
		if found {
			return true
		}
		time.Sleep(time.Millisecond)
	}
}

// timeMigration migrates a copy of the tree data once and returns the time from
// its first write to its end.
func timeMigration(t *testing.T, env []string, dir, data string) time.Duration {
	t.Helper()
	calib := filepath.Join(dir, "calibration")
	if err := os.CopyFS(calib, os.DirFS(data)); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(calib)
	cmd := exec.Command("keyport", "migrate", "--to", "alias/new", "-j", "1", calib)
	cmd.Env, cmd.Dir = env, dir
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	writing(calib, exited)
	start := time.Now()
	if err := <-exited; err != nil {
		t.Fatalf("the calibration run: %v", err)
	}
	took := time.Since(start)
	t.Logf("a whole migration takes %v from its first write", took)
	return took
}
