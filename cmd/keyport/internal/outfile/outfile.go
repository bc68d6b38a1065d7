// Package outfile writes a command's output to a path without ever replacing
// what must not be replaced, and without leaving partial output behind.
//
// [Open] decides by what is at the path:
//   - nothing, or a regular file (with --force): the output goes to a temporary
//     file beside it, which [File.Commit] syncs and renames over the path, so the
//     path holds either the old file or the whole new one;
//   - a symbolic link: it is followed (to its final target, which may not exist
//     yet) and the target is replaced the same way; the link is kept;
//   - a FIFO, a character device (a terminal, /dev/null) or a path under /dev or
//     /proc (/dev/stdout, /dev/fd/3): written through as a stream;
//   - anything else (a directory, a socket, a block device): refused.
//
// Every temporary file is registered with a [Registry], one per run of a
// command, so that [Registry.Abort] (called on SIGINT or SIGTERM) removes them
// all and no later [File.Commit] renames one. Temporary names carry the
// process ID, so that [Registry.Stale] can tell the files of a killed run from
// those of a live one.
package outfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/tempfile"
)

// TempMarker is in the name of every temporary file this package makes:
// ".NAME" + TempMarker + "PID-RANDOM", beside the file NAME it will replace.
const TempMarker = tempfile.Marker

// Options say how to open an output path.
type Options struct {
	// Force allows an existing regular file to be replaced.
	Force bool
	// Perm is the mode of a new file (0600 when zero). A replaced file keeps its
	// own mode.
	Perm fs.FileMode
	// ForceFlag names the command-line flag that sets Force, for the error that
	// asks for it (default "--force").
	ForceFlag string
}

// File is an output opened by [Open]. Write to it, then call [File.Commit] to
// publish the output, or [File.Discard] to drop it; Discard after Commit does
// nothing, so `defer f.Discard()` is safe.
type File struct {
	r      *Registry
	path   string   // as given
	target string   // the regular file a commit replaces
	tmp    *os.File // the temporary file beside target
	stream *os.File // written through
	done   bool
}

// Open prepares path for writing; see the package documentation. Errors are
// *backends.Error values (ErrAlreadyExists for an existing file without Force,
// ErrInvalidArgument for what is never replaced) or the file system's own.
func (r *Registry) Open(path string, o Options) (*File, error) {
	if o.Perm == 0 {
		o.Perm = 0o600
	}
	if o.ForceFlag == "" {
		o.ForceFlag = "--force"
	}
	if path == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "", "", "empty output path")
	}
	clean := filepath.Clean(path)
	if special(clean) {
		// /dev/stdout, /dev/fd/N, /proc/self/fd/N, /dev/null: files the system
		// already has open or provides; written through, never created or
		// replaced. O_APPEND keeps a shell's ">>" redirection appending.
		f, err := os.OpenFile(clean, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return nil, err
		}
		return &File{path: path, stream: f}, nil
	}
	fi, err := os.Stat(path) // follows links
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Nothing there, or a dangling link: create its final target.
		target, err := resolve(path)
		if err != nil {
			return nil, err
		}
		return r.create(path, target, nil, o.Perm)
	case err != nil:
		return nil, err
	case fi.Mode().IsRegular():
		if !o.Force {
			return nil, backends.Errorf(backends.ErrAlreadyExists, "", "", "%s exists: give %s to replace it", path, o.ForceFlag)
		}
		if n := tempfile.LinkCount(fi); n > 1 {
			return nil, backends.Errorf(backends.ErrInvalidArgument, "", "", "%s has %d hard links: replacing it would leave the others as they are; remove it first", path, n)
		}
		target, err := filepath.EvalSymlinks(path)
		if err != nil {
			return nil, err
		}
		return r.create(path, target, fi, fi.Mode().Perm())
	case fi.Mode()&(fs.ModeNamedPipe|fs.ModeCharDevice) != 0:
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		return &File{path: path, stream: f}, nil
	}
	return nil, backends.Errorf(backends.ErrInvalidArgument, "", "", "%s is %s: not written or replaced", path, kindOf(fi))
}

// special reports whether a clean path is one the system provides.
func special(p string) bool {
	return strings.HasPrefix(p, "/dev/") || strings.HasPrefix(p, "/proc/")
}

func kindOf(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a block device"
	}
	return "not a regular file"
}

// resolve follows the symbolic links of path to the final target, which need
// not exist.
func resolve(path string) (string, error) {
	for range 40 {
		fi, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			return path, nil
		}
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return path, nil
		}
		link, err := os.Readlink(path)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(link) {
			link = filepath.Join(filepath.Dir(path), link)
		}
		path = link
	}
	return "", backends.Errorf(backends.ErrInvalidArgument, "", "", "%s: too many levels of symbolic links", path)
}

func (r *Registry) create(path, target string, old fs.FileInfo, perm fs.FileMode) (*File, error) {
	tmp, err := r.CreateTemp(target)
	if err != nil {
		return nil, err
	}
	err = tmp.Chmod(perm)
	if err == nil && old != nil {
		err = KeepOwner(tmp, old)
	}
	if err != nil {
		r.Remove(tmp)
		return nil, err
	}
	return &File{r: r, path: path, target: target, tmp: tmp}, nil
}

// Write writes p to the temporary file or the stream.
func (f *File) Write(p []byte) (int, error) {
	if f.done {
		return 0, os.ErrClosed
	}
	if f.tmp != nil {
		return f.tmp.Write(p)
	}
	return f.stream.Write(p)
}

// Stream reports whether the output is written through (a FIFO, a device, a
// terminal) rather than published whole by Commit.
func (f *File) Stream() bool { return f.stream != nil }

// Fd returns the file descriptor of a stream (to ask whether it is a
// terminal), or ^uintptr(0).
func (f *File) Fd() uintptr {
	if f.stream == nil {
		return ^uintptr(0)
	}
	return f.stream.Fd()
}

// Commit publishes the output: the temporary file is synced and renamed over
// the target (and the directory synced), or the stream closed. After [Abort]
// it removes the temporary file and fails.
func (f *File) Commit() error {
	if f.done {
		return os.ErrClosed
	}
	f.done = true
	if f.stream != nil {
		return f.stream.Close()
	}
	if err := f.tmp.Sync(); err != nil {
		f.r.Remove(f.tmp)
		return err
	}
	return f.r.Replace(f.tmp, f.target)
}

// Discard drops the output: the temporary file is removed, a stream closed.
// It does nothing after Commit.
func (f *File) Discard() {
	if f.done {
		return
	}
	f.done = true
	if f.stream != nil {
		f.stream.Close()
		return
	}
	f.r.Remove(f.tmp)
}

// Registry records the temporary files of one run of a command, for Abort.
// The zero Registry is ready for use; it is safe for concurrent use.
type Registry struct {
	mu      sync.Mutex
	temps   map[string]bool
	aborted bool
}

// ErrAborted is returned by CreateTemp, Replace and Commit after Abort.
var ErrAborted = errors.New("interrupted: output not written")

// CreateTemp creates a registered temporary file beside path (in its
// directory), named ".BASE" + TempMarker + "PID-RANDOM".
func (r *Registry) CreateTemp(path string) (*os.File, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.aborted {
		return nil, ErrAborted
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := tempfile.CreateBeside(dir, base)
	if err != nil {
		return nil, err
	}
	if r.temps == nil {
		r.temps = map[string]bool{}
	}
	r.temps[tmp.Name()] = true
	return tmp, nil
}

// Replace closes the registered temporary file tmp and renames it to path,
// then syncs the directory. After Abort it removes tmp instead and returns
// ErrAborted. On error tmp is removed.
func (r *Registry) Replace(tmp *os.File, path string) error {
	r.mu.Lock()
	if r.aborted {
		r.mu.Unlock()
		r.Remove(tmp)
		return ErrAborted
	}
	err := tmp.Close()
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	delete(r.temps, tmp.Name())
	r.mu.Unlock()
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// Remove closes and removes the registered temporary file tmp.
func (r *Registry) Remove(tmp *os.File) {
	tmp.Close()
	r.mu.Lock()
	os.Remove(tmp.Name())
	delete(r.temps, tmp.Name())
	r.mu.Unlock()
}

// Abort removes every temporary file of r and makes every later CreateTemp,
// Replace and Commit of r fail with ErrAborted. A command's signal
// handler calls it before the process exits.
func (r *Registry) Abort() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.aborted = true
	for name := range r.temps {
		os.Remove(name)
		delete(r.temps, name)
	}
}

// Stale reports whether name (a base name) is a temporary file of this
// package left by a process that no longer runs (or by this process, outside
// r), and so may be removed.
func (r *Registry) Stale(name string) bool {
	pid, ok := tempfile.PID(name)
	if !ok || !strings.HasPrefix(name, ".") {
		return false
	}
	if pid == os.Getpid() {
		r.mu.Lock()
		defer r.mu.Unlock()
		for t := range r.temps {
			if filepath.Base(t) == name {
				return false
			}
		}
		return true
	}
	return tempfile.Gone(pid)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	if err := tempfile.SyncDir(dir); err != nil {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
