package migrate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/migrate/internal/journal"
	"github.com/keyport/keyport/migrate/internal/store"
	"github.com/keyport/keyport/reencrypt"
)

// testHookBeforePublish, if set (by tests), is called with the key of each
// verified object just before it is published.
var testHookBeforePublish atomic.Pointer[func(key string)]

func beforePublish(key string) {
	if h := testHookBeforePublish.Load(); h != nil {
		(*h)(key)
	}
}

// op is the operation errors of this package name.
const op = "Migrate"

// Skip reasons, as the journal and the report name them.
const (
	ReasonNotMessage       = "not-a-message"
	ReasonNotBlob          = "not-a-ciphertext-blob"
	ReasonNotFromKeys      = "not-under-source-keys"
	ReasonAlreadyMigrated  = "already-under-destination"
	ReasonVanished         = "vanished"
	ReasonChanged          = "changed-during-migration"
	ReasonError            = "error"
	ReasonStaleTempRemoved = "stale-temp-file"
)

// runner is one run.
type runner struct {
	o       Options
	log     *slog.Logger
	src     store.Store
	dst     store.Store // == src in place
	inPlace bool
	j       *journal.Journal

	policy  envelope.CommitmentPolicy
	srcKR   envelope.Keyring
	dstKR   envelope.Keyring // makes and wraps the data key (reseal)
	dstWrap envelope.Keyring // only wraps an existing one (rewrap)
	dstIDs  map[string]bool  // canonical IDs of the destination keys
	fromIDs map[string]bool  // canonical IDs of --from keys; nil: any
	to      []string         // canonical IDs of the destination keys, in order
	engine  *reencrypt.Engine

	journalAbs string // the journal file, to keep it out of a local listing
	excluded   atomic.Int64
	staleTemps atomic.Int64

	// this run's counters
	started                              time.Time
	listed                               atomic.Int64
	listingDone                          atomic.Bool
	total                                atomic.Int64
	processed, migrated, skipped, failed atomic.Int64
	bytesRead, bytesWritten              atomic.Int64
	stopEarly                            atomic.Bool

	results chan journal.Entry // to the journal writer
}

// Run migrates the objects o names and returns the report of the migration so
// far (the whole journal: this run and the runs before it). An error is
// returned only when the run could not start or its journal failed; objects
// that fail are in the report. When ctx is canceled the run stops, publishes
// nothing more, and reports the objects it never reached.
func Run(ctx context.Context, o Options) (*Report, error) {
	r, err := newRunner(ctx, o)
	if err != nil {
		return nil, err
	}
	defer r.close()
	return r.run(ctx)
}

func newRunner(ctx context.Context, o Options) (*runner, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	r := &runner{o: o, log: o.Logger, started: time.Now(), policy: envelope.RequireEncryptRequireDecrypt}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if o.AllowNonCommitting {
		r.policy = envelope.RequireEncryptAllowDecrypt
	}
	if err := r.keys(ctx); err != nil {
		return nil, err
	}
	if err := r.openStores(ctx); err != nil {
		r.close()
		return nil, err
	}
	jpath := o.Journal
	if o.DryRun {
		jpath = ":memory:"
	} else if jpath == "" {
		jpath = DefaultJournal(o)
	}
	if jpath != ":memory:" {
		if abs, err := filepath.Abs(jpath); err == nil {
			r.journalAbs = abs
		}
	}
	var from []string
	for id := range r.fromIDs {
		from = append(from, id)
	}
	slices.Sort(from)
	j, err := journal.Open(ctx, jpath, o.identity(r.to, from))
	if err != nil {
		r.close()
		return nil, err
	}
	r.j = j
	return r, nil
}

// keys resolves the destination (and --from) keys once each, builds the
// keyrings once for the run, and checks that the destination can unwrap what
// it wraps.
func (r *runner) keys(ctx context.Context) error {
	var err error
	if r.to, err = canonicalIDs(ctx, r.o.Front, r.o.To); err != nil {
		return fmt.Errorf("destination key: %w", err)
	}
	r.dstIDs = map[string]bool{}
	for _, id := range r.to {
		r.dstIDs[id] = true
	}
	bo := &keyring.BackendOptions{GrantTokens: r.o.GrantTokens}
	if len(r.o.From) > 0 {
		from, err := canonicalIDs(ctx, r.o.Front, r.o.From)
		if err != nil {
			return fmt.Errorf("source key: %w", err)
		}
		r.fromIDs = map[string]bool{}
		for _, id := range from {
			r.fromIDs[id] = true
		}
		if r.srcKR, err = keyring.NewStrict(r.o.Front, bo, from...); err != nil {
			return err
		}
	} else if r.srcKR, err = keyring.NewDiscovery(r.o.Front, &keyring.DiscoveryOptions{GrantTokens: r.o.GrantTokens}); err != nil {
		return err
	}
	if r.o.Format == Blobs {
		r.engine = reencrypt.New(r.o.Front)
		return nil
	}
	if r.dstKR, err = keyring.NewStrict(r.o.Front, bo, r.to...); err != nil {
		return err
	}
	ks := make([]envelope.Keyring, len(r.to))
	for i, id := range r.to {
		if ks[i], err = keyring.NewBackend(r.o.Front, id, bo); err != nil {
			return err
		}
	}
	if r.dstWrap, err = keyring.NewMulti(nil, ks...); err != nil {
		return err
	}
	return r.canary(ctx)
}

// canary encrypts a small message under the destination keys and decrypts it
// with each of them, once per run: the new objects are verified with the data
// key the destination just wrapped (no key-service call per object), and this
// proves, once, that the destination keys also unwrap what they wrap.
func (r *runner) canary(ctx context.Context) error {
	ec := r.o.DestinationEncryptionContext
	if ec == nil {
		ec = map[string]string{"keyport-migrate": "canary"}
	}
	msg, err := envelope.Encrypt(ctx, []byte("keyport migrate canary"), envelope.EncryptOptions{
		Keyring: r.dstKR, EncryptionContext: ec, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey,
	})
	if err != nil {
		return fmt.Errorf("destination keys cannot wrap a data key: %w", err)
	}
	for _, id := range r.to {
		kr, err := keyring.NewBackend(r.o.Front, id, &keyring.BackendOptions{GrantTokens: r.o.GrantTokens})
		if err != nil {
			return err
		}
		pt, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: kr, EncryptionContext: ec})
		if err != nil {
			return fmt.Errorf("destination key %s cannot unwrap what it wraps: %w", id, err)
		}
		clear(pt)
	}
	return nil
}

// canonicalIDs returns the canonical ID (key ARN or URI) of each key, with one
// DescribeKey each. A service without DescribeKey keeps a key named by ARN or
// URI as it is; any other form needs DescribeKey.
func canonicalIDs(ctx context.Context, f *backends.Front, keys []string) ([]string, error) {
	var ids []string
	for _, k := range keys {
		md, err := f.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: k})
		switch {
		case err == nil:
			if !slices.Contains(ids, md.Arn) {
				ids = append(ids, md.Arn)
			}
		case errors.Is(err, backends.ErrUnsupported):
			ref, perr := backends.ParseKeyRef(k)
			if perr != nil || ref.Form != backends.FormKeyARN && ref.Form != backends.FormURI {
				return nil, backends.Errorf(backends.ErrInvalidArgument, op, k, "the key's service cannot describe it: name it by key ARN or URI")
			}
			if !slices.Contains(ids, k) {
				ids = append(ids, k)
			}
		default:
			return nil, err
		}
	}
	return ids, nil
}

// openStores opens the source and, for a copy, the destination.
func (r *runner) openStores(ctx context.Context) error {
	var err error
	if r.o.SourceBucket != nil {
		r.src = store.NewBucket(r.o.SourceBucket)
	} else if r.src, err = openStore(ctx, r.o.Source, false); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if d, ok := r.src.(*store.Dir); ok {
		d.RemoveStale = !r.o.DryRun
		d.OnStale = r.stale
	}
	if r.o.DestinationBucket != nil {
		r.dst = store.NewBucket(r.o.DestinationBucket)
		return nil
	}
	if r.o.Destination == "" {
		r.dst, r.inPlace = r.src, true
		return nil
	}
	if r.dst, err = openStore(ctx, r.o.Destination, true); err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	return nil
}

// openStore opens a directory (a path or file:// URL) or a bucket URL.
func openStore(ctx context.Context, s string, create bool) (store.Store, error) {
	dir := s
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "%q is not a URL: %w", s, err)
		}
		if u.Scheme != "file" {
			return store.OpenBucket(ctx, s)
		}
		if dir, err = fileURLDir(u); err != nil {
			return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "%q: %w", s, err)
		}
	}
	if create {
		return store.CreateDir(dir)
	}
	if fi, err := os.Stat(dir); err == nil && fi.Mode().IsRegular() {
		return store.OpenFile(dir)
	}
	return store.OpenDir(dir)
}

// fileURLDir returns the directory a file:// URL names: its path, and within it
// the directory its ?prefix= names (a prefix of directories, ending in /, as a
// bucket's prefix of keys does).
func fileURLDir(u *url.URL) (string, error) {
	dir := filepath.FromSlash(u.Path)
	q := u.Query()
	prefix := q.Get("prefix")
	q.Del("prefix")
	switch {
	case len(q) > 0:
		return "", errors.New("a file:// URL takes no parameter but prefix")
	case prefix == "":
		return dir, nil
	case !strings.HasSuffix(prefix, "/") || !filepath.IsLocal(filepath.FromSlash(prefix)):
		return "", fmt.Errorf("the prefix %q of a directory names a directory inside it, ending in /", prefix)
	}
	return filepath.Join(dir, filepath.FromSlash(prefix)), nil
}

func (r *runner) stale(key string, removed bool, err error) {
	switch {
	case err != nil:
		r.log.Warn("cannot remove a temporary file of a killed run", "object", key, "error", err.Error())
	case removed:
		r.staleTemps.Add(1)
		r.log.Info("removed a temporary file of a killed run", "object", key)
	default:
		r.log.Info("temporary file of a killed run (kept: dry run)", "object", key)
	}
}

func (r *runner) close() {
	if r.j != nil {
		r.j.Close()
	}
	if r.dst != nil && r.dst != r.src {
		r.dst.Close()
	}
	if r.src != nil {
		r.src.Close()
	}
}

// run lists the source into the journal, then migrates every unfinished
// object of the journal.
func (r *runner) run(ctx context.Context) (*Report, error) {
	stopProgress := r.startProgress()
	listed, err := r.list(ctx)
	if err != nil && ctx.Err() == nil {
		stopProgress()
		return nil, err
	}
	var runErr error
	if ctx.Err() == nil {
		runErr = r.process(ctx) // marks the listing done once the total is known
	}
	stopProgress()
	if runErr != nil {
		return nil, runErr
	}
	rep, err := r.report(context.WithoutCancel(ctx), listed, ctx.Err() != nil)
	if err != nil {
		return nil, err
	}
	if r.o.Progress != nil {
		r.o.Progress(r.progress())
	}
	return rep, nil
}

// list records every selected object of the source (this shard's) in the
// journal. It reports whether the listing was complete.
func (r *runner) list(ctx context.Context) (bool, error) {
	l, err := r.j.BeginListing(ctx)
	if err != nil {
		return false, err
	}
	err = r.src.List(ctx, func(obj store.Object) error {
		if r.isJournal(obj.Key) {
			return nil
		}
		if !r.o.Shard.Contains(obj.Key) {
			return nil
		}
		if !r.o.selected(obj.Key) {
			r.excluded.Add(1)
			return nil
		}
		r.listed.Add(1)
		return l.Add(ctx, obj.Key, obj.Size, obj.Version)
	})
	if err != nil {
		// Keep what was listed: a rerun lists again anyway.
		if ferr := l.Finish(context.WithoutCancel(ctx), false); ferr != nil {
			return false, ferr
		}
		return false, err
	}
	return true, l.Finish(ctx, true)
}

// isJournal reports whether a local key is the journal or one of its side files.
func (r *runner) isJournal(key string) bool {
	d, ok := r.src.(*store.Dir)
	if !ok || r.journalAbs == "" {
		return false
	}
	p := filepath.Join(d.Root(), filepath.FromSlash(key))
	return p == r.journalAbs || strings.HasPrefix(p, r.journalAbs+"-")
}

// process migrates the unfinished objects of the journal with o.Jobs workers.
func (r *runner) process(ctx context.Context) error {
	n, err := r.countUnfinished(ctx)
	if err != nil {
		return err
	}
	r.total.Store(n)
	r.listingDone.Store(true)

	pctx, stop := context.WithCancel(ctx)
	defer stop()
	jobs := make(chan journal.Entry, r.o.Jobs*2)
	r.results = make(chan journal.Entry, 1024)
	var jerr error
	jdone := make(chan struct{})
	go func() { defer close(jdone); jerr = r.writeJournal(context.WithoutCancel(ctx)) }()

	var pub *publisher
	if r.dst.Batched() && !r.o.DryRun {
		pub = r.startPublisher(context.WithoutCancel(ctx))
	}
	var feedErr error
	var wg sync.WaitGroup
	for range r.o.Jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := newWorker(r, pub)
			for e := range jobs {
				if pctx.Err() != nil || r.stopEarly.Load() {
					continue // interrupted or stopped: the object stays Pending
				}
				w.object(pctx, e)
			}
		}()
	}
	feedErr = r.feed(pctx, jobs)
	close(jobs)
	wg.Wait()
	if pub != nil {
		pub.close()
	}
	close(r.results)
	<-jdone
	if feedErr != nil && pctx.Err() == nil {
		return feedErr
	}
	if jerr != nil {
		return fmt.Errorf("journal: %w", jerr)
	}
	return nil
}

func (r *runner) countUnfinished(ctx context.Context) (int64, error) {
	var n int64
	var after int64
	for {
		es, err := r.j.Unfinished(ctx, after, 5000)
		if err != nil {
			return 0, err
		}
		if len(es) == 0 {
			return n, nil
		}
		n += int64(len(es))
		after = es[len(es)-1].RowID
	}
}

// feed sends the unfinished objects, in listing order, until done, canceled or
// stopped by MaxFailures.
func (r *runner) feed(ctx context.Context, jobs chan<- journal.Entry) error {
	var after int64
	for {
		es, err := r.j.Unfinished(ctx, after, 512)
		if err != nil {
			return err
		}
		if len(es) == 0 {
			return nil
		}
		for _, e := range es {
			if r.stopEarly.Load() {
				return nil
			}
			select {
			case jobs <- e:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		after = es[len(es)-1].RowID
	}
}

// record sends a finished object's row to the journal writer and counts it.
func (r *runner) record(e journal.Entry) {
	r.processed.Add(1)
	switch e.State {
	case journal.Done:
		r.migrated.Add(1)
	case journal.Skipped:
		r.skipped.Add(1)
	case journal.Failed:
		if n := r.failed.Add(1); r.o.MaxFailures > 0 && n >= int64(r.o.MaxFailures) {
			r.stopEarly.Store(true)
		}
		r.log.Debug("object failed", "object", e.Key, "reason", e.Reason, "error", e.Error)
	}
	r.results <- e
}

// writeJournal applies finished rows in batches: whatever arrived while the
// last batch was being committed.
func (r *runner) writeJournal(ctx context.Context) error {
	var failed error
	batch := make([]journal.Entry, 0, 1024)
	for e := range r.results {
		batch = append(batch[:0], e)
	more:
		for len(batch) < 1024 {
			select {
			case e, ok := <-r.results:
				if !ok {
					break more
				}
				batch = append(batch, e)
			default:
				break more
			}
		}
		if failed == nil {
			failed = r.j.Apply(ctx, batch)
		}
	}
	return failed
}

// startProgress calls o.Progress every interval until the returned function
// is called.
func (r *runner) startProgress() func() {
	if r.o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(r.o.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				r.o.Progress(r.progress())
			case <-done:
				return
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
