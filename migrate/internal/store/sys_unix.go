//go:build unix

package store

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// sysInfo returns a file's device, inode and change time (ns).
func sysInfo(fi fs.FileInfo) (dev, ino uint64, ctime int64) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, 0, 0
	}
	return uint64(st.Dev), uint64(st.Ino), int64(st.Ctim.Sec)*1e9 + int64(st.Ctim.Nsec)
}

// keepOwner gives f the owner and group of fi where the process may (root, or
// the owner for the group); otherwise it leaves them.
func keepOwner(f *os.File, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	err := f.Chown(int(st.Uid), int(st.Gid))
	if errors.Is(err, fs.ErrPermission) {
		return nil
	}
	return err
}
