package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMigrateInterruptedReports stops migrate with SIGINT midway: it still
// prints its JSON report, which says it was interrupted and names the objects
// it never reached, and exits with 130; a rerun finishes the rest.
func TestMigrateInterruptedReports(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command on a few hundred files")
	}
	dir, env, kp := localCLI(t)
	kp(nil, "keys", "create", "--alias", "alias/old")
	kp(nil, "keys", "create", "--alias", "alias/new")
	msg := kp([]byte("hello"), "encrypt", "--key", "alias/old")
	data := filepath.Join(dir, "data")
	os.MkdirAll(data, 0o755)
	const n = 3000
	for i := range n {
		// The same message many times: migrating each is the same work.
		os.WriteFile(filepath.Join(data, "m"+strconv.Itoa(i)+".enc"), msg, 0o600)
	}
	started := time.Now()
	cmd := exec.Command("keyport", "migrate", "--to", "alias/new", "-j", "1", "--output", "json", data)
	cmd.Env, cmd.Dir = env, dir
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Interrupt once the run is under way: the source is listed before any
	// object is migrated, so the first migrated file says both are done,
	// however slow the machine.
	deadline := time.Now().Add(2 * time.Minute)
	for !anyMigrated(t, data, started) {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("migrate migrated nothing in two minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 {
		t.Fatalf("exit: %v", err)
	}
	var rep struct {
		Interrupted    bool
		Objects        int
		Migrated       int
		NotReached     int
		NotReachedKeys []string
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("no report after SIGINT: %v\n%s", err, out.String())
	}
	if !rep.Interrupted || rep.Objects != n || rep.Migrated == 0 || rep.NotReached == 0 || len(rep.NotReachedKeys) != rep.NotReached || rep.Migrated+rep.NotReached != n {
		t.Fatalf("report after SIGINT: interrupted %v, %d objects, %d migrated, %d not reached (%d named); want %d objects, some migrated, the rest not reached and named",
			rep.Interrupted, rep.Objects, rep.Migrated, rep.NotReached, len(rep.NotReachedKeys), n)
	}
	rerun := kp(nil, "migrate", "--to", "alias/new", "-j", "2", data)
	if !bytes.Contains(rerun, []byte("migrated "+strconv.Itoa(n)+", skipped 0, failed 0, not reached 0")) {
		t.Fatalf("rerun: %s", rerun)
	}
}

// anyMigrated reports whether a file of dir was replaced after the given time:
// migrate renames each new file over the old one.
func anyMigrated(t *testing.T, dir string, after time.Time) bool {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".enc") {
			continue
		}
		if fi, err := e.Info(); err == nil && fi.ModTime().After(after) {
			return true
		}
	}
	return false
}
