// Package testenv tells tests where the real components started by scripts/test.sh
// are, and decides what a test does when one is missing: in CI (CI=true) it fails,
// elsewhere it skips with a message that says how to run it.
package testenv

import (
	"os"
	"testing"
)

// InCI reports whether the tests run in CI (the environment variable CI is "true").
func InCI() bool { return os.Getenv("CI") == "true" }

// Require returns the value of the environment variable name, which
// scripts/test.sh sets when it has started component. When it is unset the test
// fails in CI and is skipped elsewhere.
func Require(t testing.TB, name, component string) string {
	t.Helper()
	v := os.Getenv(name)
	if v != "" {
		return v
	}
	msg := component + " is not running (" + name + " is unset); run the whole suite with scripts/test.sh, which installs and starts it"
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// RequireDir returns dir if it exists; otherwise the test fails in CI and is
// skipped elsewhere, with what names the directory.
func RequireDir(t testing.TB, dir, what string) string {
	t.Helper()
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		return dir
	}
	msg := what + " not found at " + dir
	if InCI() {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
