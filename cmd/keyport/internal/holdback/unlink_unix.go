//go:build unix

package holdback

import "os"

// unlink removes f's name; the open file stays readable and writable.
func unlink(f *os.File) { os.Remove(f.Name()) }
