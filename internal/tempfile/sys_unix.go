//go:build unix

package tempfile

import (
	"errors"
	"io/fs"
	"syscall"
)

// Gone reports whether no process with the ID pid runs.
func Gone(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err != nil && !errors.Is(err, syscall.EPERM)
}

// LinkCount returns the number of hard links of the file fi describes.
func LinkCount(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}
