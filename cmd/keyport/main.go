// Command keyport encrypts, decrypts and re-encrypts data with any key service
// keyport supports, manages keys, and migrates encrypted files from one key to
// another. Run "keyport --help"; the reference is in docs/cli.
package main

import (
	"os"

	"github.com/keyport/keyport/cmd/keyport/internal/cli"
)

//go:generate go run ./internal/gendocs ../../docs/cli

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
