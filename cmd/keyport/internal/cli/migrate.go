package cli

import (
	"bufio"
	"sort"
	"strconv"

	"github.com/spf13/cobra"

	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/keyport/keyport/cmd/keyport/internal/outfile"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/envelope/rekey"
)

// rewrapCaveat is printed when --rewrap is used.
const rewrapCaveat = `--rewrap keeps each message's data key and message ID and
  recomputes the header tag under the same key and IV: whoever holds both an old and a new
  copy of a message can forge that message. Destroy old copies (backups, snapshots) or use
  the default method (reseal), which encrypts every message again under a new data key.`

// migrator re-encrypts envelope message files in place.
type migrator struct {
	files    *outfile.Registry
	opts     rekey.Options     // shared by every file (keyrings are concurrency-safe)
	dst      envelope.Keyring  // strict over the destination keys: skip check and verification
	dstIDs   map[string]bool   // canonical IDs of the destination keys; nil when unknown
	verifyEC map[string]string // context that opens the new message
	policy   envelope.CommitmentPolicy
	dryRun   bool
}

// outcome is what happened to one file.
type outcome int

const (
	migrated outcome = iota
	skipped
	failed
	removedTemp // a stale temporary file of a killed run, removed
)

// fileReport is one file's line of the JSON report.
type fileReport struct {
	Path    string `json:"Path"`
	Outcome string `json:"Outcome"` // migrated, would-migrate, skipped, failed, removed-stale-temp
	Error   string `json:"Error,omitempty"`
	Kind    string `json:"Kind,omitempty"`
}

// migrateReport is migrate's JSON result.
type migrateReport struct {
	DryRun                bool         `json:"DryRun"`
	Migrated              int          `json:"Migrated"`
	Skipped               int          `json:"Skipped"`
	Failed                int          `json:"Failed"`
	StaleTempFilesRemoved int          `json:"StaleTempFilesRemoved"`
	Files                 []fileReport `json:"Files"`
}

// displayPath quotes a path that holds control characters (a newline would
// break the text output's lines).
func displayPath(p string) string {
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return strconv.Quote(p)
		}
	}
	return p
}

func newMigrateCmd(a *app) *cobra.Command {
	var from, to []string
	var srcEC, newEC contextFlag
	var rewrap, allowV1, dryRun bool
	var jobs int
	c := &cobra.Command{
		Use:   "migrate --to KEY [--to KEY...] [--from KEY...] [flags] PATH...",
		Short: "Re-encrypt message files in place under other keys, verified before each replace",
		Long: `Migrate re-encrypts AWS Encryption SDK message files (named, or found under
directories) from their current keys to the --to keys, in place. Each file is
replaced only after the new message is written to a temporary file beside it,
synced, and verified to decrypt with the destination keys alone (to the same
plaintext, by SHA-256, with the default method, reseal); the mode and owner are
kept, the rename is atomic and the directory synced; on any error the original
is untouched. Files already under exactly the destination keys are skipped, so a
run can be repeated. Temporary files left by a killed run (named
.NAME.keyport-tmp-PID-N, of a process that no longer runs) are removed and
reported.

--rewrap is faster (the body is copied, not re-encrypted), but whoever holds an
old and a new copy of a message can then forge that message: destroy old copies.

Results go to stdout, one line per file (or a JSON report with --output json);
exit status 1 if any file failed.`,
		Example: `  keyport migrate --to alias/archive --context tenant=acme --dry-run ./data
  keyport migrate --from alias/orders --to vault://transit/orders -j 4 ./data
  keyport migrate --to arn:aws:kms:eu-west-1:111122223333:alias/archive --output json ./data > report.json`,
		Args: cobra.ArbitraryArgs,
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if len(to) == 0 {
				return usagef("at least one --to key is needed")
			}
			if len(args) == 0 {
				return usagef("name at least one file or directory")
			}
			if jobs < 1 {
				return usagef("-j must be at least 1")
			}
			svc, err := a.openServices(ctx, openOptions{readOnly: true, keys: append(append([]string(nil), from...), to...)})
			if err != nil {
				return err
			}
			defer svc.Close()

			m := &migrator{files: a.files, policy: envelope.RequireEncryptRequireDecrypt, dryRun: dryRun, verifyEC: srcEC.value()}
			if allowV1 {
				m.policy = envelope.RequireEncryptAllowDecrypt
			}
			if newEC.set {
				m.verifyEC = newEC.value()
			}
			src, err := decryptKeyring(&svc.router, from)
			if err != nil {
				return err
			}
			if m.dst, err = keyring.NewStrict(&svc.router, nil, to...); err != nil {
				return err
			}
			if m.dstIDs, err = canonicalIDs(ctx, &svc.router, to); err != nil {
				return fmt.Errorf("destination key: %w", err)
			}
			m.opts = rekey.Options{
				Source:                       src,
				Front:                        &svc.router,
				DestinationKeyIDs:            to,
				SourceEncryptionContext:      srcEC.value(),
				DestinationEncryptionContext: newEC.value(),
				CommitmentPolicy:             m.policy,
			}
			if rewrap {
				m.opts.Method = rekey.Rewrap
				a.logger().Warn(rewrapCaveat)
			}

			paths := make(chan string)
			var mu sync.Mutex
			report := migrateReport{DryRun: dryRun, Files: []fileReport{}}
			note := func(path string, o outcome, err error) {
				mu.Lock()
				defer mu.Unlock()
				r := fileReport{Path: path}
				dp := displayPath(path)
				switch {
				case o == failed:
					report.Failed++
					r.Outcome, r.Error = "failed", describe(err)
					if k := backends.KindOf(err); k != nil {
						r.Kind = k.Name()
					}
					if !a.json() {
						a.logger().Error(dp + ": " + describe(err))
					}
				case o == removedTemp:
					report.StaleTempFilesRemoved++
					r.Outcome = "removed-stale-temp"
					if !a.json() {
						fmt.Fprintf(a.stdout, "removed   %s (temporary file of a run that was killed)\n", dp)
					}
				case o == skipped:
					report.Skipped++
					r.Outcome = "skipped"
					if !a.json() {
						fmt.Fprintf(a.stdout, "skipped   %s (already under the destination)\n", dp)
					}
				case m.dryRun:
					report.Migrated++
					r.Outcome = "would-migrate"
					if !a.json() {
						fmt.Fprintf(a.stdout, "would migrate %s (verified)\n", dp)
					}
				default:
					report.Migrated++
					r.Outcome = "migrated"
					if !a.json() {
						fmt.Fprintf(a.stdout, "migrated  %s\n", dp)
					}
				}
				if o != failed && err != nil {
					r.Error = describe(err)
					a.logger().Warn(dp + ": " + describe(err))
				}
				report.Files = append(report.Files, r)
			}
			var wg sync.WaitGroup
			for range jobs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for p := range paths {
						o, err := m.file(ctx, p)
						note(p, o, err)
					}
				}()
			}
			walkPaths(ctx, a.files, args, paths, note, m.dryRun)
			close(paths)
			wg.Wait()

			if a.json() {
				sort.Slice(report.Files, func(i, j int) bool { return report.Files[i].Path < report.Files[j].Path })
				if err := a.print(report, nil); err != nil {
					return err
				}
			} else {
				verb := "migrated"
				if m.dryRun {
					verb = "would migrate"
				}
				fmt.Fprintf(a.stdout, "%s %d, skipped %d (already under the destination), failed %d\n", verb, report.Migrated, report.Skipped, report.Failed)
			}
			if report.Failed > 0 {
				return errReported
			}
			return ctx.Err() // interrupted before every file was seen
		}),
	}
	f := c.Flags()
	f.SetNormalizeFunc(normalize)
	f.StringArrayVar(&from, "from", nil, "source `key` allowed to unwrap the data keys (repeatable; default: any key the services reach)")
	f.StringArrayVar(&to, "to", nil, "destination `key` (repeatable; the first generates the new data key)")
	f.Var(&srcEC, "context", "encryption context pair `k=v` the messages are bound to (repeatable; required pairs must be given)")
	f.Var(&newEC, "new-context", "new encryption context pair `k=v` (repeatable; --new-context '' empties it; default: keep)")
	f.BoolVar(&rewrap, "rewrap", false, "rewrap the data key and keep the body (fast; read the caveat) instead of resealing")
	f.BoolVar(&allowV1, "allow-non-committing", false, "also read messages of suites without key commitment")
	f.BoolVar(&dryRun, "dry-run", false, "re-encrypt and verify every file, change nothing")
	f.IntVarP(&jobs, "jobs", "j", 1, "files migrated at `once`")
	return c
}

// walkPaths sends every regular file named by args, or found under a
// directory of args, to out, each once; symbolic links inside directories and
// the tool's own temporary files are not migrated: those a killed run left
// (outfile.Registry.Stale) are removed (not in a dry run), the others skipped. What
// happens goes to note.
func walkPaths(ctx context.Context, files *outfile.Registry, args []string, out chan<- string, note func(string, outcome, error), dryRun bool) {
	bad := func(p string, err error) { note(p, failed, err) }
	seen := map[string]bool{}
	send := func(p string) bool {
		abs, err := filepath.Abs(p)
		if err == nil && seen[abs] {
			return true
		}
		seen[abs] = true
		select {
		case out <- p:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for _, arg := range args {
		p, err := filepath.EvalSymlinks(arg) // a named link migrates its target, not the link
		if err != nil {
			bad(arg, err)
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			bad(arg, err)
			continue
		}
		if !fi.IsDir() {
			if !send(p) {
				return
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				bad(path, err)
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if strings.Contains(d.Name(), outfile.TempMarker) {
				if files.Stale(d.Name()) && !dryRun {
					if err := os.Remove(path); err != nil {
						bad(path, err)
					} else {
						note(path, removedTemp, nil)
					}
				}
				return nil
			}
			if !send(path) {
				return ctx.Err()
			}
			return nil
		})
		if err != nil {
			return
		}
	}
}

// canonicalIDs returns the canonical IDs (key ARN or URI) of keys, as the
// headers of messages name them, or nil when a key's service cannot say. A
// key that does not exist is an error.
func canonicalIDs(ctx context.Context, r *backends.Front, keys []string) (map[string]bool, error) {
	ids := map[string]bool{}
	for _, k := range keys {
		md, err := r.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: k})
		switch {
		case err == nil:
			ids[md.Arn] = true
		case errors.Is(err, backends.ErrUnsupported):
			ref, perr := backends.ParseKeyRef(k)
			if perr != nil || (ref.Form != backends.FormKeyARN && ref.Form != backends.FormURI) {
				return nil, nil
			}
			ids[k] = true
		default:
			return nil, err
		}
	}
	return ids, nil
}

// file migrates one file. The original is replaced only by a new message
// that has been written, synced, and verified to decrypt under the
// destination keys (to the same plaintext, for Reseal); on any error it is
// left untouched and the temporary file removed.
func (m *migrator) file(ctx context.Context, path string) (outcome, error) {
	f, err := os.Open(path)
	if err != nil {
		return failed, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return failed, err
	}
	if !fi.Mode().IsRegular() {
		return failed, backends.Errorf(backends.ErrInvalidArgument, "migrate", "", "not a regular file")
	}
	if n := outfile.LinkCount(fi); n > 1 {
		return failed, backends.Errorf(backends.ErrInvalidArgument, "migrate", "", "the file has %d hard links; replacing it would leave the others under the old key", n)
	}
	if skip, err := m.already(ctx, f); err != nil || skip {
		if err != nil {
			return failed, err
		}
		return skipped, nil
	}
	var want []byte
	if m.opts.Method == rekey.Reseal {
		// Reseal decrypts anyway: the new message must yield the same plaintext.
		if want, err = m.hashSource(ctx, f); err != nil {
			return failed, err
		}
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return failed, err
	}
	if m.dryRun {
		return m.dryRunFile(ctx, f, want)
	}

	tmp, err := m.files.CreateTemp(path)
	if err != nil {
		return failed, err
	}
	keep := false
	defer func() {
		if !keep {
			m.files.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	if _, err := rekey.Message(ctx, bufio.NewReaderSize(f, 256<<10), bw, m.opts); err != nil {
		return failed, err
	}
	if err := bw.Flush(); err != nil {
		return failed, err
	}
	if err := tmp.Sync(); err != nil {
		return failed, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return failed, err
	}
	if err := m.verify(ctx, bufio.NewReaderSize(tmp, 256<<10), want); err != nil {
		return failed, err
	}
	if err := tmp.Chmod(fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)); err != nil {
		return failed, err
	}
	if err := outfile.KeepOwner(tmp, fi); err != nil {
		return failed, err
	}
	// Refuse to replace a file that changed while it was being migrated.
	now, err := os.Lstat(path)
	if err != nil {
		return failed, err
	}
	if !os.SameFile(fi, now) || now.Size() != fi.Size() || !now.ModTime().Equal(fi.ModTime()) {
		return failed, errors.New("the file changed during the migration; run again")
	}
	keep = true // Replace removes it on failure
	if err := m.files.Replace(tmp, path); err != nil {
		return failed, err
	}
	return migrated, nil
}

// dryRunFile re-encrypts f into a pipe that the verifier reads, so that
// everything is checked and nothing is written.
func (m *migrator) dryRunFile(ctx context.Context, f *os.File, want []byte) (outcome, error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		bw := bufio.NewWriterSize(pw, 256<<10)
		_, err := rekey.Message(ctx, bufio.NewReaderSize(f, 256<<10), bw, m.opts)
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err) // nil: io.EOF for the reader
		done <- err
	}()
	verr := m.verify(ctx, pr, want)
	pr.CloseWithError(errors.New("verification ended")) // unblock the writer
	if err := <-done; err != nil {
		return failed, err
	}
	if verr != nil {
		return failed, verr
	}
	return migrated, nil
}

// already reports whether the message in f is under exactly the destination
// keys (and, when a new context is asked for, has it): its header names only
// them and authenticates with them.
func (m *migrator) already(ctx context.Context, f *os.File) (bool, error) {
	h, err := envelope.ParseHeader(bufio.NewReader(f), 0)
	if err != nil {
		return false, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return false, err
	}
	if m.dstIDs == nil || !m.onlyDestination(h.EncryptedDataKeys) {
		return false, nil
	}
	d, err := envelope.NewDecrypter(ctx, bufio.NewReader(f), envelope.DecryptOptions{
		Keyring: m.dst, EncryptionContext: m.verifyEC, CommitmentPolicy: m.policy,
	})
	if err != nil {
		return false, nil // not provably under the destination: migrate (which reports real errors)
	}
	defer d.Close()
	res := d.Result()
	if !m.onlyDestination(res.Header.EncryptedDataKeys) {
		return false, nil
	}
	if want := m.opts.DestinationEncryptionContext; want != nil && !sameContext(res.EncryptionContext, want) {
		return false, nil
	}
	return true, nil
}

// onlyDestination reports whether edks are wrapped by every destination key
// and by no other.
func (m *migrator) onlyDestination(edks []envelope.EncryptedDataKey) bool {
	found := map[string]bool{}
	for _, k := range edks {
		id := string(k.ProviderInfo)
		if !m.dstIDs[id] {
			return false
		}
		found[id] = true
	}
	return len(found) == len(m.dstIDs)
}

// sameContext compares a message's context (without the format's reserved
// pairs) with want.
func sameContext(got, want map[string]string) bool {
	n := 0
	for k, v := range got {
		if strings.HasPrefix(k, envelope.ReservedPrefix) {
			continue
		}
		if w, ok := want[k]; !ok || w != v {
			return false
		}
		n++
	}
	return n == len(want)
}

// hashSource decrypts the original message with the source keyring and
// returns the SHA-256 of its plaintext.
func (m *migrator) hashSource(ctx context.Context, f *os.File) ([]byte, error) {
	d, err := envelope.NewDecrypter(ctx, bufio.NewReaderSize(f, 256<<10), envelope.DecryptOptions{
		Keyring: m.opts.Source, EncryptionContext: m.opts.SourceEncryptionContext, CommitmentPolicy: m.policy,
	})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	h := sha256.New()
	if _, err := io.Copy(h, d); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}

// verify decrypts the new message with the destination keys alone (which
// authenticates its header, every frame and the signature), checks that its
// header names only destination keys and, when want is set, that the
// plaintext hashes to want.
func (m *migrator) verify(ctx context.Context, r io.Reader, want []byte) error {
	d, err := envelope.NewDecrypter(ctx, r, envelope.DecryptOptions{
		Keyring: m.dst, EncryptionContext: m.verifyEC, CommitmentPolicy: m.policy,
	})
	if err != nil {
		return fmt.Errorf("verifying the new message: %w", err)
	}
	defer d.Close()
	h := sha256.New()
	if _, err := io.Copy(h, d); err != nil {
		return fmt.Errorf("verifying the new message: %w", err)
	}
	if m.dstIDs != nil && !m.onlyDestination(d.Result().Header.EncryptedDataKeys) {
		return backends.Errorf(backends.ErrInternal, "migrate", "", "the new message is not under exactly the destination keys")
	}
	if want != nil && !bytes.Equal(h.Sum(nil), want) {
		return backends.Errorf(backends.ErrInternal, "migrate", "", "the new message decrypts to different plaintext")
	}
	return nil
}
