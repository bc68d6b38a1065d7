package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// localCLI sets up a temporary directory with a configuration whose default
// profile is a fresh local store (under a random root key), and returns the
// directory, the environment that selects it, and a function that runs the
// keyport binary there with stdin and returns its stdout, failing the test
// (with its stderr) if it fails.
func localCLI(t *testing.T) (dir string, env []string, kp func(stdin []byte, args ...string) []byte) {
	t.Helper()
	dir = t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte("[profiles.default.services.store]\nurl = \"local:"+filepath.Join(dir, "s.db")+"?account=111122223333\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env = append(os.Environ(), "KEYPORT_LOCAL_ROOT_KEY="+base64.StdEncoding.EncodeToString(key), "KEYPORT_CONFIG="+cfg, "KEYPORT_STORE=")
	kp = func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command("keyport", args...)
		cmd.Env, cmd.Dir, cmd.Stdin = env, dir, bytes.NewReader(stdin)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("keyport %s: %v\n%s", strings.Join(args, " "), err, errb.String())
		}
		return out
	}
	return dir, env, kp
}
