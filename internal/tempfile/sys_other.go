//go:build !unix

package tempfile

import "io/fs"

// Gone cannot tell without a process API: another process's temporary file is
// taken as live.
func Gone(int) bool { return false }

// LinkCount returns 1: hard links are not counted here.
func LinkCount(fs.FileInfo) uint64 { return 1 }
