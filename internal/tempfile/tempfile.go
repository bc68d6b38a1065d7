// Package tempfile names, creates and recognises the temporary files keyport
// writes beside a file it is about to replace, and makes the rename that
// replaces it durable. The keyport command's output files and the migration's
// directory store share the form, so either recognises the other's leftovers:
// ".NAME" + [Marker] + "PID-RANDOM", beside the file NAME.
package tempfile

import (
	"os"
	"strconv"
	"strings"
)

// Marker is in the name of every temporary file keyport makes.
const Marker = ".keyport-tmp-"

// CreateBeside creates a temporary file in dir for the file named base:
// ".BASE" + Marker + "PID-RANDOM", PID this process's ID.
func CreateBeside(dir, base string) (*os.File, error) {
	return os.CreateTemp(dir, "."+base+Marker+strconv.Itoa(os.Getpid())+"-*")
}

// PID returns the ID of the process that made the temporary file named name
// (a base name), and whether name has the form of one.
func PID(name string) (int, bool) {
	i := strings.LastIndex(name, Marker)
	if i < 0 {
		return 0, false
	}
	pidStr, _, ok := strings.Cut(name[i+len(Marker):], "-")
	pid, err := strconv.Atoi(pidStr)
	if !ok || err != nil || pid <= 0 {
		return 0, false
	}
	return pid, true
}

// SyncDir makes the renames in dir durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
