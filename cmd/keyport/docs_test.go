package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/keyport/keyport/cmd/keyport/internal/cli"
)

// TestDocsUpToDate regenerates the Markdown reference and compares it with
// docs/cli: run "go generate ./cmd/keyport" after changing a command.
func TestDocsUpToDate(t *testing.T) {
	dir := t.TempDir()
	if err := cli.WriteDocs(dir); err != nil {
		t.Fatal(err)
	}
	want, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	have, _ := filepath.Glob("../../docs/cli/*.md")
	if len(want) != len(have) {
		t.Errorf("docs/cli has %d pages, the commands make %d: run go generate ./cmd/keyport", len(have), len(want))
	}
	for _, w := range want {
		got, err := os.ReadFile(filepath.Join("../../docs/cli", filepath.Base(w)))
		exp, _ := os.ReadFile(w)
		if err != nil || !bytes.Equal(got, exp) {
			t.Errorf("docs/cli/%s is out of date: run go generate ./cmd/keyport", filepath.Base(w))
		}
	}
}

// TestEveryCommandHasExamples walks the command tree: every command has
// examples, and its --help and "help COMMAND" print the same text, with them,
// on stdout, and exit 0.
func TestEveryCommandHasExamples(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		runnable := c.Runnable() || c.HasAvailableSubCommands()
		if runnable && !strings.HasPrefix(c.CommandPath(), "keyport completion") && c.Name() != "help" {
			if c.Example == "" {
				t.Errorf("%s has no example", c.CommandPath())
			}
			path := strings.Fields(c.CommandPath())[1:]
			var help, helpCmd, errb bytes.Buffer
			code := cli.Run(context.Background(), append(append([]string(nil), path...), "--help"), strings.NewReader(""), &help, &errb)
			code2 := cli.Run(context.Background(), append([]string{"help"}, path...), strings.NewReader(""), &helpCmd, &errb)
			if code != 0 || code2 != 0 || errb.Len() != 0 || !strings.Contains(help.String(), "Examples:") || help.String() != helpCmd.String() {
				t.Errorf("%s --help: exit %d, help %s: exit %d, stderr %q, same text %v", c.CommandPath(), code, c.CommandPath(), code2, errb.String(), help.String() == helpCmd.String())
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(cli.NewRootCommand())
}

// TestReadmeInstallLine runs the README's install command from a directory
// outside the module, as a new user would.
func TestReadmeInstallLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go -C (\S+) install \./cmd/keyport\s*$`).FindSubmatch(readme)
	if m == nil {
		t.Fatal("the README has no line `go -C DIR install ./cmd/keyport`")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	cmd := exec.Command("go", "-C", root, "install", "./cmd/keyport") // DIR stands for the checkout
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s (the README's %s): %v\n%s", strings.Join(cmd.Args, " "), m[0], err, out)
	}
	out, err := exec.Command(filepath.Join(bin, "keyport"), "--version").Output()
	if err != nil || !bytes.HasPrefix(out, []byte("keyport ")) {
		t.Fatalf("installed keyport --version: %q %v", out, err)
	}
}
