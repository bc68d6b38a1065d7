//go:build !unix

package holdback

import "os"

// unlink does nothing where an open file cannot lose its name: Close removes it.
func unlink(*os.File) {}
