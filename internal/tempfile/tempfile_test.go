package tempfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCreateBesideAndPID(t *testing.T) {
	dir := t.TempDir()
	f, err := CreateBeside(dir, "out.enc")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	name := filepath.Base(f.Name())
	if !strings.HasPrefix(name, ".out.enc"+Marker) || filepath.Dir(f.Name()) != dir {
		t.Fatalf("temporary file %s", f.Name())
	}
	if pid, ok := PID(name); !ok || pid != os.Getpid() {
		t.Fatalf("PID(%q) = %d, %v; want %d", name, pid, ok, os.Getpid())
	}
	if Gone(os.Getpid()) {
		t.Fatal("this process is taken as gone")
	}
	for _, bad := range []string{"out.enc", ".out.enc" + Marker, ".out.enc" + Marker + "x-1", ".out.enc" + Marker + "0-1", ".out.enc" + Marker + "12"} {
		if _, ok := PID(bad); ok {
			t.Errorf("PID(%q) ok", bad)
		}
	}
	if err := SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	if err := SyncDir(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("SyncDir of a missing directory succeeded")
	}
}
