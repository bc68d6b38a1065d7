package cli

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra/doc"
)

// WriteDocs writes the Markdown reference of every command into dir, one file
// per command (keyport.md, keyport_encrypt.md, ...), replacing the *.md files
// there so that a removed command's page goes too.
func WriteDocs(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil {
		return err
	}
	for _, f := range old {
		if err := os.Remove(f); err != nil {
			return err
		}
	}
	root := NewRootCommand()
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	return doc.GenMarkdownTreeCustom(root, dir, func(string) string { return "" }, func(name string) string {
		return strings.ToLower(name)
	})
}
