package cli

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/cmd/keyport/internal/outfile"
)

// outFlags are -o/--out FILE and --force.
type outFlags struct {
	path  string
	force bool
}

func (o *outFlags) register(c *cobra.Command, what string) {
	c.Flags().StringVarP(&o.path, "out", "o", "", "write "+what+" to `file` (default stdout); an existing file needs --force")
	c.Flags().BoolVar(&o.force, "force", false, "replace an existing --out file; write binary output to a terminal")
}

// output is where a command's data goes: stdout, or a file opened through
// outfile. Commit publishes it; Discard drops it (after Commit it does nothing).
type output struct {
	io.Writer
	file   *outfile.File // nil for stdout
	bw     *bufio.Writer
	stream bool // written as produced (stdout, FIFO, device), not published whole
	tty    bool
	null   bool // /dev/null: nothing reads it
}

// openOutput opens o.path (stdout for "" or "-"). A binary output to a
// terminal is refused unless --force.
func (a *app) openOutput(o *outFlags, binary bool) (*output, error) {
	out := &output{stream: true}
	if o.path == "" || o.path == "-" {
		out.tty = isTerminal(a.stdout)
		out.null = isDevNull(a.stdout)
		out.bw = bufio.NewWriterSize(a.stdout, 64<<10)
	} else {
		f, err := a.files.Open(o.path, outfile.Options{Force: o.force})
		if err != nil {
			return nil, err
		}
		out.file, out.stream = f, f.Stream()
		out.tty = f.Stream() && term.IsTerminal(int(f.Fd()))
		out.null = f.Stream() && sameFile(o.path, os.DevNull)
		out.bw = bufio.NewWriterSize(f, 64<<10)
	}
	out.Writer = out.bw
	if binary && out.tty && !o.force {
		out.Discard()
		return nil, usagef("refusing to write binary output to a terminal: redirect it, give -o FILE, or --force")
	}
	return out, nil
}

// Commit flushes and publishes the output.
func (o *output) Commit() error {
	if err := o.bw.Flush(); err != nil {
		o.Discard()
		return err
	}
	if o.file != nil {
		return o.file.Commit()
	}
	return nil
}

// Discard drops a file's output (a stream's bytes are gone already).
func (o *output) Discard() {
	if o.file != nil {
		o.file.Discard()
	}
}

// isDevNull reports whether w is the null device.
func isDevNull(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	null, nerr := os.Stat(os.DevNull)
	return err == nil && nerr == nil && os.SameFile(fi, null)
}

// sameFile reports whether the paths name one file.
func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err == nil && err2 == nil && os.SameFile(fa, fb)
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// openInput opens the one positional argument, or stdin for none or "-". A
// file comes back as its *os.File, unbuffered: the Encrypter reads it straight
// into its batches, and the Decrypter reads a regular file's batches at their
// offsets on every core (envelope.NewDecrypter); both buffer what else they read.
func (a *app) openInput(args []string) (io.Reader, func(), error) {
	switch {
	case len(args) > 1:
		return nil, nil, usagef("one input file at most, got %d", len(args))
	case len(args) == 0 || args[0] == "-":
		return a.stdin, func() {}, nil
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, nil, err
	}
	return f, func() { f.Close() }, nil
}

// remaining returns the bytes of in from its position to its end when in is the
// *os.File of a regular file.
func remaining(in io.Reader) (int64, bool) {
	f, ok := in.(*os.File)
	if !ok {
		return 0, false
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		return 0, false
	}
	pos, err := f.Seek(0, io.SeekCurrent)
	if err != nil || pos > fi.Size() {
		return 0, false
	}
	return fi.Size() - pos, true
}

// maxBlobInput bounds a blob or plaintext argument read from a file (KMS takes
// at most 6 KiB of ciphertext and 4 KiB of plaintext; base64 is larger).
const maxBlobInput = 64 << 10

// readBinaryArg reads a binary argument as the AWS CLI v2 takes one:
// fileb://PATH (the file's bytes; fileb://- for stdin), file://PATH (the
// file's text, base64) or the base64 text itself.
func (a *app) readBinaryArg(flag, v string) ([]byte, error) {
	var data []byte
	var err error
	switch {
	case strings.HasPrefix(v, "fileb://"):
		return a.readLimited(flag, strings.TrimPrefix(v, "fileb://"))
	case strings.HasPrefix(v, "file://"):
		if data, err = a.readLimited(flag, strings.TrimPrefix(v, "file://")); err != nil {
			return nil, err
		}
	default:
		data = []byte(v)
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, usagef("--%s is not base64: give the base64 text, file://PATH of base64 text, or fileb://PATH of raw bytes", flag)
	}
	return b, nil
}

func (a *app) readLimited(flag, path string) ([]byte, error) {
	var r io.Reader
	if path == "-" {
		r = a.stdin
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--%s: %w", flag, err)
		}
		defer f.Close()
		r = f
	}
	data, err := io.ReadAll(io.LimitReader(r, maxBlobInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBlobInput {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "", "", "--%s: more than %d bytes", flag, maxBlobInput)
	}
	return data, nil
}

// print writes a result to stdout: v as indented JSON with --output json,
// else the lines text writes.
func (a *app) print(v any, text func(w *textWriter)) error {
	if a.json() {
		b, err := json.MarshalIndent(v, "", "    ")
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(a.stdout, "%s\n", b)
		return err
	}
	var w textWriter
	text(&w)
	_, err := io.WriteString(a.stdout, w.b.String())
	return err
}

// awsText formats a flat JSON object as the AWS CLI's text output does: the
// scalar values, ordered by field name, separated by tabs, on one line; or
// one field's value with query.
func awsText(v any, query string) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	if query != "" {
		f, ok := m[query]
		if !ok {
			return "", usagef("--query %q: no such field (fields: %s)", query, strings.Join(sortedKeys(m), ", "))
		}
		return scalarText(f) + "\n", nil
	}
	var vals []string
	for _, k := range sortedKeys(m) {
		if s := scalarText(m[k]); s != "" {
			vals = append(vals, s)
		}
	}
	return strings.Join(vals, "\t") + "\n", nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func scalarText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool, float64:
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// printAWS prints an AWS-shaped result: JSON, or the AWS CLI's text form
// (one field with --query).
func (a *app) printAWS(v any, query string) error {
	if a.json() {
		if query != "" {
			return usagef("--query selects a field of --output text; with JSON, use jq")
		}
		return a.print(v, nil)
	}
	s, err := awsText(v, query)
	if err != nil {
		return err
	}
	_, err = io.WriteString(a.stdout, s)
	return err
}

// errUnsupported is the error for an operation a service does not have.
func errUnsupported(op, key, service string) error {
	return backends.Errorf(backends.ErrUnsupported, op, key, "unsupported by this service (%s)", service)
}
