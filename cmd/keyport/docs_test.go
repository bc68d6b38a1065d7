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

// TestHelpNamesRealFlags reads every command's help, and every help topic: each
// --flag it names is a flag of that command or of one of its subcommands (whose
// examples a parent's help may show); a help topic's are global flags. So the
// help never sends a user to a flag that does not exist.
func TestHelpNamesRealFlags(t *testing.T) {
	foreignFlags := map[string]bool{
		"buffer":       true, // the AWS Encryption SDK CLI's, which decrypt's help compares
		"endpoint-url": true, // the AWS CLI's, in serve's example
		"ca-bundle":    true, // the AWS CLI's, in serve's example
	}
	flagRE := regexp.MustCompile(`(?:^|[\s(\[,'"])--([a-z][a-z0-9-]*)`)
	root := cli.NewRootCommand()
	has := func(c *cobra.Command, name string) bool {
		return c.Flags().Lookup(name) != nil || c.InheritedFlags().Lookup(name) != nil || c.PersistentFlags().Lookup(name) != nil
	}
	var hasBelow func(c *cobra.Command, name string) bool
	hasBelow = func(c *cobra.Command, name string) bool {
		if has(c, name) {
			return true
		}
		for _, s := range c.Commands() {
			if hasBelow(s, name) {
				return true
			}
		}
		return false
	}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Name() != "help" && !strings.HasPrefix(c.CommandPath(), "keyport completion") {
			path := strings.Fields(c.CommandPath())[1:]
			var help, errb bytes.Buffer
			cli.Run(context.Background(), append([]string{"help"}, path...), strings.NewReader(""), &help, &errb)
			topic := !c.Runnable() && !c.HasAvailableSubCommands()
			for _, line := range strings.Split(help.String(), "\n") {
				// An example of another keyport command names that command's flags.
				owner := c
				if i := strings.Index(line, "keyport "); i >= 0 {
					if o, _, err := root.Find(strings.Fields(line[i+len("keyport "):])); err == nil && o != root {
						owner = o
					}
				}
				for _, m := range flagRE.FindAllStringSubmatch(line, -1) {
					name := m[1]
					ok := name == "help" || name == "version" || foreignFlags[name]
					if topic && owner == c {
						ok = ok || root.PersistentFlags().Lookup(name) != nil
					} else {
						ok = ok || hasBelow(owner, name)
					}
					if !ok {
						t.Errorf("%s: the help names --%s, which %s does not have: %q", c.CommandPath(), name, owner.CommandPath(), line)
					}
				}
			}
		}
		for _, s := range c.Commands() {
			walk(s)
		}
	}
	walk(root)
}
