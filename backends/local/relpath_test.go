package local_test

import (
	"os"
	"testing"

	"github.com/keyport/keyport/backends/local"
)

// TestOpenRelativePath opens a store named by a path relative to the working
// directory, as a command line names it.
func TestOpenRelativePath(t *testing.T) {
	t.Chdir(t.TempDir())
	text, err := local.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := local.ParseRootKey(text)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // create, then open again
		svc, err := local.Open("keys.db", local.WithRootKey(key))
		if err != nil {
			t.Fatalf("Open(keys.db): %v", err)
		}
		if err := svc.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat("keys.db"); err != nil {
		t.Fatalf("the store is not where it was named: %v", err)
	}
}
