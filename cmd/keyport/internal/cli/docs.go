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
	if err := doc.GenMarkdownTreeCustom(root, dir, func(string) string { return "" }, strings.ToLower); err != nil {
		return err
	}
	// Help topics ("keyport help config") have no page of their own in cobra's
	// generator.
	for _, c := range root.Commands() {
		if !c.IsAdditionalHelpTopicCommand() {
			continue
		}
		page := "## " + c.CommandPath() + "\n\n" + c.Short + "\n\n### Synopsis\n\n```\n" + c.Long + "\n```\n\n### SEE ALSO\n\n* [keyport](keyport.md)\t - " + root.Short + "\n"
		name := filepath.Join(dir, strings.ReplaceAll(c.CommandPath(), " ", "_")+".md")
		if err := os.WriteFile(name, []byte(page), 0o644); err != nil {
			return err
		}
	}
	return nil
}
