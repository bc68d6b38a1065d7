package main

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
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

// TestMigrateKilledThenCompleted kills migrate with SIGKILL at random moments,
// ten times, then lets it finish: every file decrypts to its original SHA-256
// under the new key, no temporary file remains, and every mode is kept.
func TestMigrateKilledThenCompleted(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and reruns a migration")
	}
	dir, env, kp := localCLI(t)
	kp(nil, "keys", "create", "--alias", "alias/old")
	kp(nil, "keys", "create", "--alias", "alias/new")

	data := filepath.Join(dir, "data")
	sums := map[string][32]byte{}
	modes := map[string]fs.FileMode{}
	// Enough work (60 files, 20 of them 6 MiB) that runs killed within 170ms
	// are killed midway, although each run resumes from its journal.
	for i := range 60 {
		size := 1000 * (i + 1)
		if i%3 == 0 {
			size = 6 << 20
		}
		pt := make([]byte, size)
		rand.Read(pt)
		p := filepath.Join(data, string(rune('a'+i%5)), "f"+strconv.Itoa(i)+".enc")
		os.MkdirAll(filepath.Dir(p), 0o755)
		mode := fs.FileMode(0o600 | (i%3)*0o040)
		if err := os.WriteFile(p, kp(pt, "encrypt", "--key", "alias/old"), mode); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, mode)
		sums[p], modes[p] = sha256.Sum256(pt), mode
	}

	interrupted := 0
	for interrupted < 5 {
		cmd := exec.Command("keyport", "migrate", "--to", "alias/new", "-j", "2", data)
		cmd.Env, cmd.Dir = env, dir
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		n, _ := rand.Int(rand.Reader, big.NewInt(150))
		time.Sleep(time.Duration(20+n.Int64()) * time.Millisecond)
		cmd.Process.Kill()
		if err := cmd.Wait(); err != nil && strings.Contains(err.Error(), "killed") {
			interrupted++
		} else {
			t.Logf("a run ended by itself: %v %s", err, errb.String())
			break // the migration is complete
		}
	}
	if interrupted < 3 {
		t.Fatalf("only %d runs were killed before the migration finished: the test proves little", interrupted)
	}
	out := kp(nil, "migrate", "--to", "alias/new", "--output", "json", data)
	t.Logf("%d runs killed midway; the last run: %s", interrupted, bytes.Split(out, []byte(`"Files"`))[0])
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
		want, ok := sums[p]
		if !ok {
			t.Errorf("unexpected file %s", p)
			return nil
		}
		delete(sums, p)
		fi, _ := d.Info()
		if fi.Mode().Perm() != modes[p] {
			t.Errorf("%s: mode %v, want %v", p, fi.Mode().Perm(), modes[p])
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
