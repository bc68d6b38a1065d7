// Command gendocs writes the Markdown reference of the keyport command into a
// directory (go generate in cmd/keyport writes docs/cli).
package main

import (
	"fmt"
	"os"

	"github.com/keyport/keyport/cmd/keyport/internal/cli"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DIR")
		os.Exit(2)
	}
	if err := cli.WriteDocs(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "gendocs:", err)
		os.Exit(1)
	}
}
