package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyport/keyport/internal/testenv"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"keyport": main})
}

// params are the testscript settings every script shares: a fresh root key,
// no configuration file but the script's own, AWS settings of the script's
// own, and the json and jsonvar commands.
func params(dir string, files ...string) testscript.Params {
	return testscript.Params{
		Dir:                 dir,
		Files:               files,
		RequireExplicitExec: true,
		Setup: func(e *testscript.Env) error {
			key := make([]byte, 32)
			rand.Read(key)
			e.Setenv("KEYPORT_LOCAL_ROOT_KEY", base64.StdEncoding.EncodeToString(key))
			e.Setenv("HOME", e.WorkDir)
			e.Setenv("XDG_CONFIG_HOME", filepath.Join(e.WorkDir, ".config"))
			e.Setenv("AWS_CONFIG_FILE", filepath.Join(e.WorkDir, "no-aws-config"))
			e.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(e.WorkDir, "no-aws-credentials"))
			e.Setenv("AWS_ACCESS_KEY_ID", "test")
			e.Setenv("AWS_SECRET_ACCESS_KEY", "test")
			e.Setenv("AWS_REGION", "us-east-1")
			e.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"json":     cmdJSON,
			"jsonvar":  cmdJSONVar,
			"exitcode": cmdExitCode,
		},
	}
}

func TestScripts(t *testing.T) {
	testscript.Run(t, params("testdata/script"))
}

// cmdJSON checks a JSON file (or stdout): json FILE PATH[=VALUE]... Each PATH
// (Field.Sub.0.Name; # for an array's length) must exist and, with =VALUE,
// have that value as text.
func cmdJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: json FILE PATH[=VALUE]...")
	}
	v := readJSON(ts, args[0])
	for _, a := range args[1:] {
		path, want, hasWant := strings.Cut(a, "=")
		got, ok := lookup(v, path)
		match := ok && (!hasWant || got == want)
		if match == neg {
			if ok {
				ts.Fatalf("%s: %s is %q", args[0], path, got)
			}
			ts.Fatalf("%s: no %s", args[0], path)
		}
	}
}

// cmdJSONVar sets an environment variable from a JSON file: jsonvar FILE PATH VAR.
func cmdJSONVar(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: jsonvar FILE PATH VAR")
	}
	got, ok := lookup(readJSON(ts, args[0]), args[1])
	if !ok {
		ts.Fatalf("%s: no %s", args[0], args[1])
	}
	ts.Setenv(args[2], got)
}

func readJSON(ts *testscript.TestScript, file string) any {
	var v any
	if err := json.Unmarshal([]byte(ts.ReadFile(file)), &v); err != nil {
		ts.Fatalf("%s is not JSON: %v", file, err)
	}
	return v
}

func lookup(v any, path string) (string, bool) {
	for _, p := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[p]; !ok {
				return "", false
			}
		case []any:
			if p == "#" {
				return strconv.Itoa(len(x)), true
			}
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(x) {
				return "", false
			}
			v = x[i]
		default:
			return "", false
		}
	}
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	b, _ := json.Marshal(v)
	return string(b), true
}

// cmdExitCode runs a program and checks its exit status: exitcode CODE PROG ARGS...
func cmdExitCode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exitcode CODE PROG ARGS...")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exitcode: %v", err)
	}
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("exitcode: %v", err)
	}
	if got != want {
		ts.Fatalf("%s exited %d, want %d", args[1], got, want)
	}
}

// keysParams runs testdata/keys/keys.txtar against one service, configured by
// a configuration file: kind is local, awskms or vault.
func keysParams(t *testing.T, kind, serviceURL string) testscript.Params {
	p := params("", "testdata/keys/keys.txtar")
	setup := p.Setup
	name := fmt.Sprintf("cli-%s-%d", kind, time.Now().UnixNano())
	p.Setup = func(e *testscript.Env) error {
		if err := setup(e); err != nil {
			return err
		}
		e.Setenv("NAME", name)
		e.Setenv("ACCOUNT", "111122223333")
		if kind == "vault" {
			e.Setenv("KEY", "vault://transit/"+name)
			e.Setenv("VAULT_TOKEN", os.Getenv("VAULT_TOKEN"))
		} else {
			e.Setenv("KEY", "alias/"+name)
		}
		cfg := fmt.Sprintf("[profiles.default.services.%s]\nurl = %q\n", kind, serviceURL)
		dir := filepath.Join(e.WorkDir, ".config", "keyport")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "config.toml"), []byte(cfg), 0o600)
	}
	p.Condition = func(cond string) (bool, error) {
		switch cond {
		case "local", "awskms", "vault":
			return cond == kind, nil
		}
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	return p
}

func TestKeysLocal(t *testing.T) {
	testscript.Run(t, keysParams(t, "local", "local:s.db?account=111122223333"))
}

func TestKeysLocalKMS(t *testing.T) {
	ep := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	testscript.Run(t, keysParams(t, "awskms", "awskms://?region=us-east-1&account=111122223333&endpoint="+ep))
}

func TestKeysVault(t *testing.T) {
	addr := testenv.Require(t, "KEYPORT_VAULT_ADDR", "vault")
	testscript.Run(t, keysParams(t, "vault", "vault://?address="+addr))
}
