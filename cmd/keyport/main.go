// Command keyport encrypts, decrypts and re-encrypts data with any key service
// keyport supports, and migrates envelope-encrypted files from one key to another.
//
// Usage:
//
//	keyport [service flags] <command> [flags] [args]
//
// Commands:
//
//	encrypt     encrypt a file or stdin into an AWS Encryption SDK message
//	decrypt     decrypt an AWS Encryption SDK message
//	re-encrypt  re-encrypt one KMS ciphertext blob, as AWS KMS ReEncrypt does
//	migrate     re-encrypt envelope message files in place, from source keys to destination keys
//	keys        create, list and describe keys of the embedded local key service
//
// Service flags (accepted before the command or among its flags) choose the key
// services: the embedded local service persisted to a file (--store, root key
// from KEYPORT_LOCAL_ROOT_KEY or --root-key-file), AWS KMS (--aws, or
// --aws-endpoint for a server that speaks its API; region, credentials and
// account from the AWS SDK configuration) and Vault Transit (when VAULT_ADDR is
// set; token from VAULT_TOKEN). All are wired into one backends.Front, so a key
// is named by any reference form: alias/orders, a key or alias ARN,
// vault://transit/orders, awskms:///alias/orders.
//
// Exit status: 0 on success, 1 when an operation failed (the message names
// the file and the error kind of the backends taxonomy), 2 for a usage error.
// Nothing the tool prints contains plaintext, key material or a ciphertext,
// except the output a command is asked for (on stdout or in the -o file).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/keyport/keyport/backends"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env holds what a command reads and writes.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// command is one subcommand.
type command struct {
	name, summary string
	run           func(ctx context.Context, e *env, sf *serviceFlags, args []string) error
}

func commands() []command {
	return []command{
		{"encrypt", "encrypt a file or stdin into an AWS Encryption SDK message", runEncrypt},
		{"decrypt", "decrypt an AWS Encryption SDK message", runDecrypt},
		{"re-encrypt", "re-encrypt one KMS ciphertext blob (AWS KMS ReEncrypt)", runReEncrypt},
		{"migrate", "re-encrypt envelope message files in place to destination keys", runMigrate},
		{"keys", "create, list and describe keys (keys create|list|describe)", runKeys},
	}
}

// run is the whole program: it parses args, runs the command and returns the
// exit status.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	var sf serviceFlags
	fs := flag.NewFlagSet("keyport", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sf.register(fs)
	fs.Usage = func() { usage(stderr, fs) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	if fs.NArg() == 0 {
		usage(stderr, fs)
		return exitUsage
	}
	name := fs.Arg(0)
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		err := c.run(ctx, e, &sf, fs.Args()[1:])
		return report(stderr, c.name, err)
	}
	if name == "help" {
		usage(stdout, fs)
		return exitOK
	}
	fmt.Fprintf(stderr, "keyport: unknown command %q\n", name)
	usage(stderr, fs)
	return exitUsage
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintln(w, "usage: keyport [service flags] <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nservice flags (also accepted after the command):")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fmt.Fprintln(w, "\nRun 'keyport <command> -h' for a command's flags.")
}

// usageError is a mistake on the command line: exit status 2.
type usageError struct{ msg string }

func (u *usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errReported is returned by a command that has already printed its errors
// (migrate, per file) and only needs the failure exit status.
var errReported = errors.New("failed")

// report prints err (if any) and returns the exit status.
func report(w io.Writer, cmd string, err error) int {
	var ue *usageError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.As(err, &ue):
		if ue.msg != "" { // empty: the flag package has printed it
			fmt.Fprintf(w, "keyport %s: %s\n", cmd, ue.msg)
		}
		return exitUsage
	case errors.Is(err, errReported):
		return exitFail
	}
	fmt.Fprintf(w, "keyport %s: %s\n", cmd, describe(err))
	return exitFail
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

// newFlagSet returns a flag set for a subcommand, with the service flags.
func newFlagSet(e *env, sf *serviceFlags, name, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet("keyport "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	sf.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: keyport %s %s\n\nflags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses a subcommand's flags, turning a parse failure into a usage error.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{} // the flag package has printed the error and the usage
	}
	return nil
}
