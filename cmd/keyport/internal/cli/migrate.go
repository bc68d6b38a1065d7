package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/migrate"
)

// rewrapCaveat is printed when --rewrap is used.
const rewrapCaveat = `--rewrap keeps each message's data key and message ID and
  recomputes the header tag under the same key and IV: whoever holds both an old and a new
  copy of a message can forge that message. Destroy old copies (backups, snapshots) or use
  the default method (reseal), which encrypts every message again under a new data key.`

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

// migrateGrace is how long Main waits, on a signal, for migrate to print its
// report of an interrupted run.
const migrateGrace = 10 * time.Second

func newMigrateCmd(a *app) *cobra.Command {
	var from, to, include, exclude []string
	var srcEC, newEC contextFlag
	var rewrap, allowV1, dryRun bool
	var jobs, maxFailures int
	var format, shard, journal, copyTo string
	c := &cobra.Command{
		Use:   "migrate --to KEY [--to KEY...] [--from KEY...] [flags] SOURCE...",
		Short: "Re-encrypt files or bucket objects under other keys, verified before each replace",
		Long: `Migrate re-encrypts AWS Encryption SDK messages (or, with --format blob, raw
KMS ciphertext blobs) from their current keys to the --to keys. A SOURCE is a
file, a directory, or a bucket URL: s3://BUCKET, gs://BUCKET, azblob://CONTAINER,
mem://, file:///DIR, with ?prefix=PATH/ for a prefix (gocloud.dev URLs: S3-compatible
servers take ?endpoint=URL&use_path_style=true, Azurite ?localemu=true...).
Objects are replaced in place, or with --copy-to written to another directory or
bucket and the source left untouched.

Each object is read once and decrypted once: the new message is verified in full
(every frame, the signature, the plaintext's SHA-256, exactly the destination
keys) before it replaces the original; a local file through a temporary file
beside it, synced, renamed, its directory synced (durability paid per batch); a
bucket object with the store's precondition on the version read (If-Match, or
the generation), so an object another writer changed meanwhile is left alone
and reported. Objects that are not messages, or under none of the --from keys,
are skipped and never fail the run.

A journal (an SQLite file, by default .keyport-migrate-HASH.db in the working
directory; --journal) records every object's state, so a run that was stopped or
killed resumes where it was: finished objects are neither read again nor sent
to a key service. --shard K/N takes the objects whose key hashes to K of N: N
copies of the command on N machines cover every object exactly once, each with
its own journal and report; "keyport migrate report" merges the reports.

A progress bar shows on a terminal, a progress line every 10 seconds otherwise
(JSON lines with --log-format json). The result is a summary on stdout, or with
--output json the report: counts by outcome, reason and source key, bytes,
objects/s and MB/s, failures with their errors, objects not reached. Exit
status 1 when an object failed or the run stopped early.

--rewrap is faster (the body is copied, not re-encrypted), but whoever holds an
old and a new copy of a message can then forge that message: destroy old copies.`,
		Example: `  keyport migrate --to alias/archive --context tenant=acme --dry-run ./data
  keyport migrate --from alias/orders --to vault://transit/orders -j 8 ./data
  keyport migrate --to alias/archive --include '**/*.enc' --output json 's3://bucket?prefix=2024/' > report.json
  keyport migrate --to alias/archive --shard $JOB_COMPLETION_INDEX/3 --output json gs://bucket > shard.json
  keyport migrate report shard-*.json`,
		Args: cobra.ArbitraryArgs,
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			switch {
			case len(to) == 0:
				return usagef("at least one --to key is needed")
			case len(args) == 0:
				return usagef("name at least one file or directory (or a bucket URL)")
			case jobs < 1:
				return usagef("-j must be at least 1")
			case maxFailures < 0:
				return usagef("--max-failures must not be negative")
			case len(args) > 1 && (journal != "" || copyTo != ""):
				return usagef("--journal and --copy-to take one SOURCE")
			}
			f, err := migrate.ParseFormat(format)
			if err != nil {
				return &usageError{err}
			}
			sh, err := migrate.ParseShard(shard)
			if err != nil {
				return &usageError{err}
			}
			// On SIGINT or SIGTERM, Main waits this long for the report of the
			// objects not reached (the objects in flight are abandoned at once).
			serveGrace.Store(int64(migrateGrace))
			defer serveGrace.Store(0)
			svc, err := a.openServices(ctx, openOptions{readOnly: true, keys: append(append([]string(nil), from...), to...)})
			if err != nil {
				return err
			}
			defer svc.Close()
			// Throttling and timeouts are retried with backoff, for every key service.
			svc.router.Use(backends.Retry(backends.RetryPolicy{MaxAttempts: 6}))
			if rewrap {
				a.logger().Warn(rewrapCaveat)
			}
			o := migrate.Options{
				Front: &svc.router, Destination: copyTo, From: from, To: to,
				SourceEncryptionContext: srcEC.value(), DestinationEncryptionContext: newEC.value(),
				Format: f, Rewrap: rewrap, AllowNonCommitting: allowV1,
				Include: include, Exclude: exclude, Shard: sh,
				Jobs: jobs, MaxFailures: maxFailures, DryRun: dryRun, Journal: journal,
				Logger: a.logger(),
			}
			var finish func()
			if a.g.logFormat == "text" && isTerminal(a.stderr) && !a.json() {
				o.Progress, finish = migrate.ProgressBar(a.stderr)
			} else {
				o.Progress = migrate.LogProgress(a.logger(), 10*time.Second)
				o.ProgressInterval = time.Second
			}
			var reps []*migrate.Report
			for _, src := range args {
				o.Source = src
				rep, err := migrate.Run(ctx, o)
				if finish != nil {
					finish()
				}
				if err != nil {
					return fmt.Errorf("%s: %w", displayPath(src), err)
				}
				a.reportFailures(src, rep)
				reps = append(reps, rep)
				if ctx.Err() != nil {
					break
				}
			}
			rep := reps[0]
			if len(reps) > 1 {
				rep = migrate.MergeReports(reps...)
			}
			if err := a.printReport(rep); err != nil {
				return err
			}
			if rep.Failed > 0 || rep.StoppedEarly {
				return errReported
			}
			return ctx.Err()
		}),
	}
	fl := c.Flags()
	fl.SetNormalizeFunc(normalize)
	fl.StringArrayVar(&from, "from", nil, "source `key` allowed to unwrap the data keys (repeatable; default: any key the services reach); objects under none are skipped")
	fl.StringArrayVar(&to, "to", nil, "destination `key` (repeatable; the first generates the new data key; one for --format blob)")
	fl.Var(&srcEC, "context", "encryption context pair `k=v` the objects are bound to (repeatable; required pairs must be given)")
	fl.Var(&newEC, "new-context", "new encryption context pair `k=v` (repeatable; --new-context '' empties it; default: keep)")
	fl.BoolVar(&rewrap, "rewrap", false, "rewrap the data key and keep the body (fast; read the caveat) instead of resealing")
	fl.BoolVar(&allowV1, "allow-non-committing", false, "also read messages of suites without key commitment")
	fl.BoolVar(&dryRun, "dry-run", false, "re-encrypt and verify every object, change nothing (the journal stays in memory)")
	fl.IntVarP(&jobs, "jobs", "j", 1, "objects migrated at `once` (and so key-service calls in flight)")
	fl.StringVar(&format, "format", "message", "what the objects are: message (AWS Encryption SDK) or blob (raw KMS ciphertext)")
	fl.StringArrayVar(&include, "include", nil, "only objects whose key (path under SOURCE) matches this `glob` (repeatable; ** spans directories)")
	fl.StringArrayVar(&exclude, "exclude", nil, "leave out objects whose key matches this `glob` (repeatable)")
	fl.StringVar(&shard, "shard", "", "take shard `K/N` of the objects, by a hash of their keys (0 <= K < N)")
	fl.IntVar(&maxFailures, "max-failures", 0, "stop after `N` failed objects (0: never)")
	fl.StringVar(&journal, "journal", "", "journal `file` (default .keyport-migrate-HASH.db in the working directory)")
	fl.StringVar(&copyTo, "copy-to", "", "write the new objects under this directory or bucket `URL` instead, leaving SOURCE untouched")
	_ = c.RegisterFlagCompletionFunc("format", fixedCompletion("message", "blob"))
	c.AddCommand(newMigrateReportCmd(a))
	return c
}

// reportFailures logs each failed object, named by its path under src.
func (a *app) reportFailures(src string, rep *migrate.Report) {
	for _, f := range rep.Failures {
		name := f.Key
		if !strings.Contains(src, "://") {
			if fi, err := os.Stat(src); err == nil && fi.IsDir() {
				name = filepath.Join(src, filepath.FromSlash(f.Key))
			} else {
				name = src
			}
		}
		msg := displayPath(name) + ": " + f.Error
		if f.Kind != "" && !strings.Contains(msg, f.Kind) {
			msg += " [" + f.Kind + "]"
		}
		a.logger().Error(msg, "reason", f.Reason)
	}
	if n := rep.NotReached; n > 0 {
		a.logger().Warn(fmt.Sprintf("%d objects not reached; run the same command again to resume", n))
	}
}

// printReport prints the report: JSON, or a summary.
func (a *app) printReport(rep *migrate.Report) error {
	return a.print(rep, func(w *textWriter) {
		verb := "migrated"
		if rep.DryRun {
			verb = "would migrate"
		}
		w.line("%s %d, skipped %d, failed %d, not reached %d", verb, rep.Migrated, rep.Skipped, rep.Failed, rep.NotReached)
		for _, r := range sortedReasons(rep.SkippedBy) {
			w.line("  skipped %d: %s", rep.SkippedBy[r], r)
		}
		for _, r := range sortedReasons(rep.FailedBy) {
			w.line("  failed %d: %s", rep.FailedBy[r], r)
		}
		if rep.StaleTempFilesRemoved > 0 {
			w.line("  removed %d temporary files of killed runs", rep.StaleTempFilesRemoved)
		}
		w.line("%d objects, %.1f MB read in %.1fs: %.0f objects/s, %.1f MB/s", rep.Run.Objects, float64(rep.Run.Bytes)/1e6,
			rep.Run.Seconds, rep.Run.ObjectsPerSecond, rep.Run.MBPerSecond)
	})
}

func sortedReasons(m map[string]int64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func newMigrateReportCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "report REPORT.json...",
		Short: "Merge the JSON reports of the shards of one migration",
		Long: `Report reads the JSON reports that "keyport migrate --output json" wrote (one per
shard, say) and prints the report of the whole: counts and bytes added up,
failures and objects not reached listed together, the run as long as the
longest shard's. Exit status 1 when the merged migration is not complete or an
object failed.`,
		Example:     `  keyport migrate report --output json shard-0.json shard-1.json shard-2.json`,
		Args:        cobra.MinimumNArgs(1),
		Annotations: map[string]string{"noConfig": "1"},
		RunE: a.run(func(_ *cobra.Command, args []string) error {
			var reps []*migrate.Report
			for _, p := range args {
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				rep, err := migrate.ReadReport(f)
				f.Close()
				if err != nil {
					return backends.Errorf(backends.ErrInvalidArgument, "", "", "%s is not a migrate report: %w", displayPath(p), err)
				}
				reps = append(reps, rep)
			}
			m := migrate.MergeReports(reps...)
			if err := a.printReport(m); err != nil {
				return err
			}
			if m.Failed > 0 || !m.Complete {
				return errReported
			}
			return nil
		}),
	}
}
