//go:build unix

package outfile

import (
	"io/fs"
	"os"
	"syscall"
)

// KeepOwner gives f the owner and group of the file fi describes, when the
// process may change them (root); otherwise it does nothing.
func KeepOwner(f *os.File, fi fs.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || os.Geteuid() != 0 {
		return nil
	}
	return f.Chown(int(st.Uid), int(st.Gid))
}
