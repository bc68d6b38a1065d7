package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/keyport/keyport/internal/tempfile"
)

// Dir is a directory of the local file system. A new file is written to a
// temporary file beside its target and renamed over it; Publish makes a batch
// durable at once (every temporary file synced, renamed, then each directory
// synced once), so the cost of durability is paid per batch, not per file.
type Dir struct {
	root string
	// OnStale, if set, is told about every temporary file of a run that is no
	// longer running which List finds (removed is false in a dry run, when
	// RemoveStale is false).
	OnStale     func(key string, removed bool, err error)
	RemoveStale bool
	only        string // OpenFile: the one file listed
}

var _ Store = (*Dir)(nil)

// OpenDir opens the directory root (symbolic links resolved).
func OpenDir(root string) (*Dir, error) {
	p, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%s is neither a directory nor a regular file", root)
	}
	return &Dir{root: p}, nil
}

// OpenFile opens the directory of the regular file path with that file as its
// only object.
func OpenFile(path string) (*Dir, error) {
	p, err := filepath.EvalSymlinks(path)
	if err != nil {
		return nil, err
	}
	d, err := OpenDir(filepath.Dir(p))
	if err != nil {
		return nil, err
	}
	d.only = filepath.Base(p)
	return d, nil
}

// CreateDir opens the directory root, making it if need be (a copy's destination).
func CreateDir(root string) (*Dir, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	return OpenDir(root)
}

// Root returns the directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(key string) string { return filepath.Join(d.root, filepath.FromSlash(key)) }

// List walks the directory: regular files only (symbolic links and other
// special files are not objects), in lexical order within each directory. The
// store's own temporary files are not objects: those of runs that are gone are
// reported to OnStale (and removed with RemoveStale).
func (d *Dir) List(ctx context.Context, fn func(Object) error) error {
	if d.only != "" {
		fi, err := os.Lstat(d.path(d.only))
		if err != nil {
			return err
		}
		return fn(Object{Key: d.only, Size: fi.Size(), Version: fileVersion(fi)})
	}
	return filepath.WalkDir(d.root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if !e.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(d.root, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.Contains(e.Name(), tempfile.Marker) {
			if Stale(e.Name()) && d.OnStale != nil {
				var rerr error
				if d.RemoveStale {
					rerr = os.Remove(p)
				}
				d.OnStale(key, d.RemoveStale && rerr == nil, rerr)
			}
			return nil
		}
		fi, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil // gone since the directory was read
		}
		if err != nil {
			return err
		}
		return fn(Object{Key: key, Size: fi.Size(), Version: fileVersion(fi)})
	})
}

// Stale reports whether name is a temporary file of this store (or of the
// keyport command's output files) whose process no longer runs.
func Stale(name string) bool {
	pid, ok := tempfile.PID(name)
	return ok && pid != os.Getpid() && tempfile.Gone(pid)
}

// fileVersion is a file's fingerprint: device, inode, size, modification and
// change times. A write in place changes the times; a rename changes the inode.
func fileVersion(fi fs.FileInfo) string {
	dev, ino, ctime := sysInfo(fi)
	return fmt.Sprintf("%d:%d:%d:%d:%d", dev, ino, fi.Size(), fi.ModTime().UnixNano(), ctime)
}

// Version returns key's fingerprint.
func (d *Dir) Version(_ context.Context, key string) (string, error) {
	fi, err := os.Lstat(d.path(key))
	if err != nil {
		return "", err
	}
	return fileVersion(fi), nil
}

// dirReader reads one file.
type dirReader struct {
	*os.File
	fi fs.FileInfo
}

func (r *dirReader) Size() int64                { return r.fi.Size() }
func (r *dirReader) Version() string            { return fileVersion(r.fi) }
func (r *dirReader) fileInfo() fs.FileInfo      { return r.fi }
func (r *dirReader) Read(p []byte) (int, error) { return r.File.Read(p) }

// Open opens key. A file that is not regular, or has other hard links (which a
// replacement would leave under the old key), is refused with ErrNotRegular.
func (d *Dir) Open(_ context.Context, key string) (Reader, error) {
	f, err := os.Open(d.path(key))
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s", ErrNotRegular, fi.Mode().Type())
	}
	if n := tempfile.LinkCount(fi); n > 1 {
		f.Close()
		return nil, fmt.Errorf("%w: the file has %d hard links; replacing it would leave the others under the old key", ErrNotRegular, n)
	}
	return &dirReader{File: f, fi: fi}, nil
}

// dirWriter is a temporary file beside its target.
type dirWriter struct {
	tmp     *os.File
	target  string
	replace fs.FileInfo // nil: no precondition
	done    bool
}

func (w *dirWriter) Write(p []byte) (int, error) { return w.tmp.Write(p) }

// Abort removes the temporary file.
func (w *dirWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.tmp.Close()
	os.Remove(w.tmp.Name())
}

// Create makes a temporary file beside key's path (making its directory if
// need be), with the mode and owner of the file it replaces or copies.
func (d *Dir) Create(_ context.Context, key string, o CreateOptions) (Writer, error) {
	target := d.path(key)
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	tmp, err := tempfile.CreateBeside(dir, filepath.Base(target))
	if err != nil {
		return nil, err
	}
	w := &dirWriter{tmp: tmp, target: target}
	like := o.Like
	if o.Replace != nil {
		fr, ok := o.Replace.(fileInfoer)
		if !ok {
			w.Abort()
			return nil, fmt.Errorf("replacing %s: not a file of this store", key)
		}
		w.replace = fr.fileInfo()
		if like == nil {
			like = o.Replace
		}
	}
	if fl, ok := like.(fileInfoer); ok {
		fi := fl.fileInfo()
		if err := tmp.Chmod(fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
			w.Abort()
			return nil, err
		}
		if err := keepOwner(tmp, fi); err != nil {
			w.Abort()
			return nil, err
		}
	}
	return w, nil
}

// Batched is true: Publish syncs a batch at once.
func (d *Dir) Batched() bool { return true }

// Publish makes the writers' files durable and renames each over its target:
// every temporary file is synced (concurrently: the file system commits them
// together), each target that must still be the version read is checked just
// before its rename (ErrChanged otherwise; the file is left alone), and every
// directory that received a file is synced once. A file is renamed only after
// its own data is durable, and Publish returns only once the renames are.
func (d *Dir) Publish(_ context.Context, ws []Writer) []error {
	errs := make([]error, len(ws))
	dws := make([]*dirWriter, len(ws))
	for i, w := range ws {
		dw, ok := w.(*dirWriter)
		if !ok || dw.done {
			errs[i] = errors.New("store: Publish of a writer that is not an open file of this store")
			continue
		}
		dws[i] = dw
	}
	// Sync the batch, a few files at a time.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, dw := range dws {
		if dw == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := dw.tmp.Sync(); err != nil {
				errs[i] = err
				return
			}
			errs[i] = dw.tmp.Close()
		}()
	}
	wg.Wait()
	dirs := map[string]bool{}
	for i, dw := range dws {
		if dw == nil {
			continue
		}
		if errs[i] == nil && dw.replace != nil {
			now, err := os.Lstat(dw.target)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				errs[i] = ErrChanged
			case err != nil:
				errs[i] = err
			case fileVersion(now) != fileVersion(dw.replace):
				errs[i] = ErrChanged
			}
		}
		if errs[i] == nil {
			errs[i] = os.Rename(dw.tmp.Name(), dw.target)
		}
		if errs[i] != nil {
			dw.tmp.Close()
			os.Remove(dw.tmp.Name())
		} else {
			dirs[filepath.Dir(dw.target)] = true
		}
		dw.done = true
	}
	for dir := range dirs {
		if err := tempfile.SyncDir(dir); err != nil {
			for i, dw := range dws {
				if dw != nil && errs[i] == nil && filepath.Dir(dw.target) == dir {
					errs[i] = fmt.Errorf("renamed, but syncing the directory failed: %w", err)
				}
			}
		}
	}
	return errs
}

// Close does nothing.
func (d *Dir) Close() error { return nil }
