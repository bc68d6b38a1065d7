// Package cli is the keyport command: its commands, flags, configuration,
// output formats and exit statuses. cmd/keyport is a one-line main over [Main];
// the generated reference (docs/cli) comes from [NewRootCommand].
//
// The commands are github.com/spf13/cobra commands: cobra (over pflag) takes
// flags anywhere on the line, prints --help and "help COMMAND" alike on stdout,
// writes bash, zsh and fish completion scripts, and its doc package generates
// the Markdown reference; alecthomas/kong would need third-party packages for
// completion and documentation.
//
// Conventions every command follows (a new command too):
//   - Flags anywhere on the line; one vocabulary: --key, --context, --from,
//     --to, --new-context, -o/--out, --force, --dry-run; AWS CLI spellings
//     (--key-id, --encryption-context, --destination-key-id, ...) are aliases.
//   - --output text|json: results on stdout; JSON with AWS field names where AWS
//     has the operation. Diagnostics (warnings, errors) go to stderr, as text or
//     as JSON lines with --log-format json; never plaintext, key material or
//     whole ciphertexts.
//   - Exit statuses: [ExitOK], [ExitFailure], [ExitUsage], [ExitInterrupted],
//     [ExitTerminated].
//   - Output files through internal/outfile (never a partial file, never a
//     replaced device, FIFO or link), binary never to a terminal unless --force.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/cmd/keyport/internal/outfile"
)

// Exit statuses.
const (
	ExitOK          = 0   // the command did what it was asked
	ExitFailure     = 1   // an operation failed (the message names the error kind)
	ExitUsage       = 2   // the command line is wrong
	ExitInterrupted = 130 // SIGINT: stopped, no output file left
	ExitTerminated  = 143 // SIGTERM: stopped, no output file left
)

// Main runs the command line args (without the program name) and returns the
// exit status. On SIGINT or SIGTERM it cancels the command, removes every
// temporary output file (outfile.Registry.Abort) and returns at once with
// ExitInterrupted or ExitTerminated, even while the command is blocked reading
// its input; the caller then exits.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan int, 1)
	files := new(outfile.Registry)
	go func() { done <- run(ctx, files, args, stdin, stdout, stderr) }()
	select {
	case code := <-done:
		return code
	case sig := <-sigs:
		cancel()
		files.Abort()
		if g := time.Duration(serveGrace.Load()); g > 0 {
			// keyport serve lets the requests in flight finish: wait for it.
			select {
			case <-done:
			case <-time.After(g + time.Second):
			}
		}
		fmt.Fprintf(stderr, "keyport: %v: stopped; no output file written\n", sig)
		if sig == syscall.SIGTERM {
			return ExitTerminated
		}
		return ExitInterrupted
	}
}

// Run runs the command line args with ctx and returns the exit status.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return run(ctx, new(outfile.Registry), args, stdin, stdout, stderr)
}

// run is Run with the registry of the run's temporary files.
func run(ctx context.Context, files *outfile.Registry, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	app := &app{stdin: stdin, stdout: stdout, stderr: stderr, files: files}
	root := newRoot(app)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	return app.exit(cmd, err)
}

// app is one run of the command: its streams and the global options.
type app struct {
	files          *outfile.Registry // temporary files of this run
	stdin          io.Reader
	stdout, stderr io.Writer
	g              globals
	log            *slog.Logger
	ran            bool // a command's RunE was called (else err is a usage error)
	cmdName        string
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ err error }

func (u *usageError) Error() string { return u.err.Error() }
func (u *usageError) Unwrap() error { return u.err }

// usagef returns a usage error.
func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// errReported is returned by a command that has already reported its
// failures (migrate, per file): exit status 1, nothing more printed.
var errReported = errors.New("failed")

// exit reports err and returns the exit status.
func (a *app) exit(cmd interface{ CommandPath() string }, err error) int {
	if err == nil {
		return ExitOK
	}
	if errors.Is(err, errReported) {
		return ExitFailure
	}
	name := "keyport"
	if cmd != nil {
		name = cmd.CommandPath()
	}
	var ue *usageError
	if !a.ran || errors.As(err, &ue) {
		a.logger().Error(describe(err), "command", name, "usage", true)
		if a.g.logFormat != "json" {
			fmt.Fprintf(a.stderr, "Run '%s --help' for usage.\n", name)
		}
		return ExitUsage
	}
	attrs := []any{"command", name}
	if k := backends.KindOf(err); k != nil {
		attrs = append(attrs, "kind", k.Name())
	}
	var be *backends.Error
	if errors.As(err, &be) && be.KeyID != "" {
		attrs = append(attrs, "key", be.KeyID)
	}
	msg := describe(err)
	if backends.KindOf(err) == backends.ErrNotFound && strings.Contains(msg, "no backend is registered") {
		msg += "\n  no configured service serves this key: configure one (keyport help config), or name the key by its URL"
	}
	a.logger().Error(msg, attrs...)
	return ExitFailure
}

// describe formats err for a message, naming its kind of the backends
// taxonomy (as the error's own text or in brackets after it).
func describe(err error) string {
	msg := strings.ReplaceAll(err.Error(), "keyport: ", "") // one prefix per wrapped layer is noise
	if k := backends.KindOf(err); k != nil && !strings.Contains(msg, k.Name()) {
		msg += " [" + k.Name() + "]"
	}
	return msg
}
