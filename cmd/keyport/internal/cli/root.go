package cli

import (
	"fmt"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globals are the flags of every command.
type globals struct {
	configPath string
	profile    string
	output     string // text or json
	logFormat  string // text or json
	svc        serviceFlags
	cfg        *Config // loaded by the root's PersistentPreRunE
	prof       *Profile
}

// annService marks a service flag: subcommands' help points to them instead
// of repeating them.
const annService = "keyport-service-flag"

// NewRootCommand returns the keyport command tree, for the documentation
// generator and tests. Its output goes to the command's Out and Err writers.
func NewRootCommand() *cobra.Command {
	return newRoot(&app{})
}

func newRoot(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "keyport",
		Short: "Envelope encryption and re-encryption over any key service",
		Long: `keyport encrypts and decrypts files as AWS Encryption SDK messages, encrypts,
decrypts and re-encrypts raw KMS ciphertext blobs as the AWS CLI's "aws kms" does,
manages keys, and migrates encrypted files from one key (or key service) to another.

Key services come from the configuration file (see "keyport help config") and
from the service flags below; nothing is switched on by the environment alone.
Keys are named in any form: a key ID, alias/Name, a key or alias ARN, or a key
URL (vault://transit/orders, awskms:///alias/orders).

Exit status: 0 success; 1 an operation failed (the message names the error kind,
as AWS names its exceptions); 2 the command line is wrong; 130 and 143 stopped by
SIGINT or SIGTERM (no output file is left behind).`,
		Example: `  export KEYPORT_LOCAL_ROOT_KEY=$(keyport root-key generate)
  keyport --store keys.db --account 111122223333 keys create --alias alias/orders
  keyport --store keys.db --account 111122223333 encrypt --key alias/orders -o report.enc report.pdf
  keyport --store keys.db --account 111122223333 decrypt -o report.pdf --force report.enc`,
		Version:           version(),
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error { return a.setup(cmd) },
	}
	root.SetVersionTemplate("keyport {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })
	pf := root.PersistentFlags()
	pf.StringVar(&a.g.configPath, "config", "", "configuration `file` (env KEYPORT_CONFIG; default "+defaultConfigHint+")")
	pf.StringVar(&a.g.profile, "profile", "", "configuration `profile` (default: the file's \"profile\", else \"default\")")
	pf.StringVar(&a.g.output, "output", "", "result format: text or json (default: the profile's, else text)")
	pf.StringVar(&a.g.logFormat, "log-format", "text", "diagnostics on stderr: text or json (JSON lines)")
	a.g.svc.register(pf)
	for _, f := range []string{"output", "log-format"} {
		_ = root.RegisterFlagCompletionFunc(f, fixedCompletion("text", "json"))
	}
	root.SetUsageTemplate(usageTemplate)
	cobra.AddTemplateFunc("globalFlagUsages", globalFlagUsages)

	root.AddGroup(
		&cobra.Group{ID: "files", Title: "Encrypted files (AWS Encryption SDK messages):"},
		&cobra.Group{ID: "blobs", Title: "KMS ciphertext blobs (as aws kms does them):"},
		&cobra.Group{ID: "admin", Title: "Keys and key stores:"},
		&cobra.Group{ID: "kmsapi", Title: "The AWS KMS API:"},
	)
	for _, c := range []*cobra.Command{
		newEncryptCmd(a), newDecryptCmd(a), newMigrateCmd(a),
	} {
		c.GroupID = "files"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{
		newEncryptBlobCmd(a), newDecryptBlobCmd(a), newGenerateDataKeyCmd(a), newReEncryptCmd(a),
	} {
		c.GroupID = "blobs"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newKeysCmd(a), newRootKeyCmd(a)} {
		c.GroupID = "admin"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{newServeCmd(a), newConformanceCmd(a)} {
		c.GroupID = "kmsapi"
		root.AddCommand(c)
	}
	root.AddCommand(newVersionCmd(a), newConfigTopic())
	return root
}

// setup runs before every command: it checks the global flags and loads the
// configuration.
func (a *app) setup(cmd *cobra.Command) error {
	a.cmdName = cmd.CommandPath()
	switch a.g.logFormat {
	case "text", "json":
	default:
		return usagef("--log-format must be text or json, not %q", a.g.logFormat)
	}
	if cmd.Annotations["noConfig"] == "" && !strings.HasPrefix(cmd.CommandPath(), "keyport completion") {
		if err := a.loadConfig(cmd); err != nil {
			return err
		}
	}
	if a.g.output == "" && a.g.prof != nil {
		a.g.output = a.g.prof.Output
	}
	switch a.g.output {
	case "":
		a.g.output = "text"
	case "text", "json":
	default:
		return usagef("--output must be text or json, not %q", a.g.output)
	}
	return nil
}

// run wraps a command's body: it records that the command ran (so that its
// errors are failures, not usage errors) and names the command in diagnostics.
func (a *app) run(body func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		a.ran = true
		a.log = a.logger().With("command", cmd.CommandPath())
		return body(cmd, args)
	}
}

// json reports whether results are to be JSON.
func (a *app) json() bool { return a.g.output == "json" }

// fixedCompletion completes a flag from a fixed list.
func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}

// globalFlagUsages lists the inherited flags of a subcommand, without the
// service flags (see "keyport --help").
func globalFlagUsages(c *cobra.Command) string {
	fs := pflag.NewFlagSet("global", pflag.ContinueOnError)
	service := false
	c.InheritedFlags().VisitAll(func(f *pflag.Flag) {
		if _, ok := f.Annotations[annService]; ok {
			service = true
			return
		}
		fs.AddFlag(f)
	})
	s := fs.FlagUsages()
	if service {
		s += "      (service flags: --store, --aws, --service-url ...: see \"keyport --help\")\n"
	}
	return s
}

// usageTemplate is cobra's, with the service flags of subcommands collapsed
// into one line.
const usageTemplate = `Usage:{{if .Runnable}}
  {{.UseLine}}{{end}}{{if .HasAvailableSubCommands}}
  {{.CommandPath}} [command]{{end}}{{if gt (len .Aliases) 0}}

Aliases:
  {{.NameAndAliases}}{{end}}{{if .HasExample}}

Examples:
{{.Example}}{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}

Available Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{else}}{{range $group := .Groups}}

{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{if not .AllChildCommandsHaveGroup}}

Additional Commands:{{range $cmds}}{{if (and (eq .GroupID "") (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}

Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}{{end}}{{if .HasAvailableInheritedFlags}}

Global Flags:
{{globalFlagUsages . | trimTrailingWhitespaces}}{{end}}{{if .HasHelpSubCommands}}

Additional help topics:{{range .Commands}}{{if .IsAdditionalHelpTopicCommand}}
  {{rpad .CommandPath .CommandPathPadding}} {{.Short}}{{end}}{{end}}{{end}}{{if .HasAvailableSubCommands}}

Use "{{.CommandPath}} [command] --help" for more information about a command.{{end}}
`

// buildInfo is what debug.ReadBuildInfo says of this binary.
type buildInfo struct {
	Version   string `json:"Version"`
	Revision  string `json:"Revision,omitempty"`
	Time      string `json:"Time,omitempty"`
	Modified  bool   `json:"Modified,omitempty"`
	GoVersion string `json:"GoVersion"`
}

func readBuildInfo() buildInfo {
	bi := buildInfo{Version: "(unknown)"}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return bi
	}
	bi.GoVersion = info.GoVersion
	bi.Version = info.Main.Version
	if bi.Version == "" {
		bi.Version = "(devel)"
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			bi.Revision = s.Value
		case "vcs.time":
			bi.Time = s.Value
		case "vcs.modified":
			bi.Modified = s.Value == "true"
		}
	}
	return bi
}

// version is the module version and, when the build recorded it, the VCS
// revision: "v1.2.0", "(devel) 3f2a9c1d0e4b 2026-05-01T10:00:00Z modified".
func version() string {
	bi := readBuildInfo()
	s := bi.Version
	if bi.Revision != "" {
		s += " " + bi.Revision
		if bi.Time != "" {
			s += " " + bi.Time
		}
		if bi.Modified {
			s += " modified"
		}
	}
	return s + " (" + bi.GoVersion + ")"
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:         "version",
		Short:       "Print the module version and VCS revision of this binary",
		Args:        cobra.NoArgs,
		Annotations: map[string]string{"noConfig": "1"},
		Example: `  keyport version
  keyport version --output json`,
		RunE: a.run(func(*cobra.Command, []string) error {
			bi := readBuildInfo()
			return a.print(bi, func(w *textWriter) {
				w.line("keyport %s", version())
			})
		}),
	}
}

// textWriter collects text output lines.
type textWriter struct{ b strings.Builder }

func (w *textWriter) line(format string, args ...any) {
	fmt.Fprintf(&w.b, format, args...)
	w.b.WriteByte('\n')
}
