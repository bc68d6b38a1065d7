package outfile

import (
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/keyport/keyport/backends"
)

func write(t *testing.T, path string, o Options, data string) error {
	t.Helper()
	f, err := new(Registry).Open(path, o)
	if err != nil {
		return err
	}
	defer f.Discard()
	if _, err := f.Write([]byte(data)); err != nil {
		return err
	}
	return f.Commit()
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func TestRegularFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	if err := write(t, p, Options{}, "one"); err != nil {
		t.Fatal(err)
	}
	if got := read(t, p); got != "one" {
		t.Fatalf("got %q", got)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("new file mode %v, want 0600", fi.Mode().Perm())
	}
	// An existing file needs Force, and is left alone without it.
	err := write(t, p, Options{ForceFlag: "--yes"}, "two")
	if !errors.Is(err, backends.ErrAlreadyExists) || !strings.Contains(err.Error(), "--yes") {
		t.Fatalf("existing file without Force: %v", err)
	}
	if got := read(t, p); got != "one" {
		t.Fatalf("the file changed without Force: %q", got)
	}
	if err := os.Chmod(p, 0o640); err != nil {
		t.Fatal(err)
	}
	if err := write(t, p, Options{Force: true}, "two"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); read(t, p) != "two" || fi.Mode().Perm() != 0o640 {
		t.Fatalf("replaced: %q mode %v", read(t, p), fi.Mode().Perm())
	}
	// Discarded output leaves nothing; the old file stays.
	f, err := new(Registry).Open(p, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("partial"))
	f.Discard()
	if got := entries(t, dir); len(got) != 1 || read(t, p) != "two" {
		t.Fatalf("after Discard: %v %q", got, read(t, p))
	}
}

func TestSymlinkKept(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "sub", "target")
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(target, []byte("old"), 0o644)
	link := filepath.Join(dir, "link")
	if err := os.Symlink("sub/target", link); err != nil {
		t.Fatal(err)
	}
	if err := write(t, link, Options{Force: true}, "new"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(link)
	if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v %v", fi.Mode(), err)
	}
	if got := read(t, target); got != "new" {
		t.Fatalf("target holds %q", got)
	}
	// A dangling link: its target is created, the link kept.
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("sub/fresh", dangling)
	if err := write(t, dangling, Options{}, "fresh"); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Lstat(dangling); fi.Mode()&fs.ModeSymlink == 0 || read(t, filepath.Join(dir, "sub", "fresh")) != "fresh" {
		t.Fatal("dangling link not followed")
	}
	if got := entries(t, filepath.Join(dir, "sub")); strings.Join(got, " ") != "fresh target" {
		t.Fatalf("temporary files left: %v", got)
	}
}

func TestFIFOWrittenThrough(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skip("no FIFOs:", err)
	}
	got := make(chan string, 1)
	go func() {
		b, _ := os.ReadFile(p)
		got <- string(b)
	}()
	if err := write(t, p, Options{}, "through"); err != nil { // no Force needed: nothing is replaced
		t.Fatal(err)
	}
	if s := <-got; s != "through" {
		t.Fatalf("reader got %q", s)
	}
	if fi, err := os.Lstat(p); err != nil || fi.Mode()&fs.ModeNamedPipe == 0 {
		t.Fatalf("the FIFO was replaced: %v", err)
	}
	if got := entries(t, dir); len(got) != 1 {
		t.Fatalf("entries %v", got)
	}
}

func TestDevices(t *testing.T) {
	// /dev/null is written through and never replaced (as root, a rename over
	// it would succeed).
	if err := write(t, "/dev/null", Options{}, "x"); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat("/dev/null"); err != nil || fi.Mode()&fs.ModeCharDevice == 0 {
		t.Fatalf("/dev/null is no longer a device: %v %v", fi.Mode(), err)
	}
	// /dev/stdout of a child whose stdout is a regular file: the output lands in
	// that file, and no file named /dev/stdout appears.
	if os.Getenv("OUTFILE_CHILD") == "1" {
		if err := write(t, "/dev/stdout", Options{}, "via stdout"); err != nil {
			t.Fatal(err)
		}
		os.Exit(0) // before the test framework writes to stdout itself
	}
	out := filepath.Join(t.TempDir(), "captured")
	f, _ := os.Create(out)
	cmd := exec.Command(os.Args[0], "-test.run=^TestDevices$")
	cmd.Env = append(os.Environ(), "OUTFILE_CHILD=1")
	cmd.Stdout = f
	err := cmd.Run()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if got := read(t, out); got != "via stdout" {
		t.Fatalf("stdout file holds %q", got)
	}
	if fi, err := os.Lstat("/dev/stdout"); err != nil || fi.Mode()&fs.ModeSymlink == 0 {
		t.Fatalf("/dev/stdout was replaced: %v", err)
	}
}

func TestRefused(t *testing.T) {
	dir := t.TempDir()
	if err := write(t, dir, Options{Force: true}, "x"); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("a directory: %v", err)
	}
	// A hard-linked file is not replaced: the other names would keep the old content.
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	os.WriteFile(a, []byte("old"), 0o600)
	os.Link(a, b)
	if err := write(t, a, Options{Force: true}, "new"); !errors.Is(err, backends.ErrInvalidArgument) || read(t, b) != "old" {
		t.Fatalf("hard link: %v", err)
	}
	if err := write(t, "/dev/keyport-does-not-exist", Options{}, "x"); err == nil {
		t.Fatal("a new file under /dev was created")
	}
}

func TestAbortAndStale(t *testing.T) {
	dir := t.TempDir()
	var r Registry
	f, err := r.Open(filepath.Join(dir, "out"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	name := filepath.Base(f.tmp.Name())
	if !strings.Contains(name, TempMarker+strconv.Itoa(os.Getpid())+"-") {
		t.Fatalf("temporary name %q lacks the marker and PID", name)
	}
	if r.Stale(name) {
		t.Fatal("a live temporary file of this process is stale")
	}
	// A file of a process that is gone is stale; one of a live process is not.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := ".x" + TempMarker + strconv.Itoa(cmd.Process.Pid) + "-123"
	if !r.Stale(dead) {
		t.Fatal("a dead process's temporary file is not stale")
	}
	if r.Stale(".x"+TempMarker+"1-123") || r.Stale("x.keyport") || r.Stale(".x"+TempMarker+"abc-1") {
		t.Fatal("stale by mistake")
	}
	r.Abort()
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("Abort left %v", got)
	}
	if err := f.Commit(); !errors.Is(err, ErrAborted) {
		t.Fatalf("Commit after Abort: %v", err)
	}
	if got := entries(t, dir); len(got) != 0 {
		t.Fatalf("Commit after Abort wrote %v", got)
	}
	// Another registry (another run) is not aborted.
	if err := write(t, filepath.Join(dir, "other"), Options{}, "x"); err != nil {
		t.Fatal(err)
	}
}
