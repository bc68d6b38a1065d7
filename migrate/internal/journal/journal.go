// Package journal is the resumable record of one migration: an SQLite database
// (modernc.org/sqlite, pure Go) with one row per object and its state, so that
// a run that was killed resumes where it stopped, without reading the objects it
// finished and without a key-service call for them.
//
// The journal is an accelerator and an account, never a safeguard: every object
// is checked before it is replaced, whatever the journal says, so a lost or
// stale journal costs work, not data. It therefore commits with WAL and
// synchronous=NORMAL: a process crash (SIGKILL) loses nothing that was
// committed; a power failure may lose the last commits, which a rerun redoes.
package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"
)

// State is where an object stands.
type State int

// States. The numbers are stored: never renumber them.
const (
	// Pending: listed, not finished. A run processes it.
	Pending State = 0
	// Replacing: its new version was made, verified and is being published;
	// NewSHA256 is the digest of the new object. A run after a crash reads the
	// object once: if it is the new version the object is Done, else Pending.
	Replacing State = 1
	// Done: migrated, with its new digest and key.
	Done State = 2
	// Skipped: left as it is, for Reason.
	Skipped State = 3
	// Failed: left as it is, for Error; a rerun tries it again.
	Failed State = 4
)

// String returns the state's name as reports print it.
func (s State) String() string {
	switch s {
	case Pending:
		return "pending"
	case Replacing:
		return "replacing"
	case Done:
		return "done"
	case Skipped:
		return "skipped"
	case Failed:
		return "failed"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// Entry is one object's row.
type Entry struct {
	RowID int64
	Key   string
	State State
	// Prev is the state the row had before a listing found the object changed
	// (Done or Skipped), else Pending.
	Prev State
	// Size and Version describe the source object as listed (Version is the
	// store's fingerprint: never a digest of plaintext).
	Size    int64
	Version string
	// Reason says why an object was skipped or failed (a short word).
	Reason string
	// Error and Kind describe a failure (Kind: the backends taxonomy's name).
	Error, Kind string
	// SourceKey is the key the object was under; DestKey the key it is under now.
	SourceKey, DestKey string
	// PlainSHA256 is the digest of the plaintext, verified on both sides;
	// NewSHA256 and NewSize describe the new object.
	PlainSHA256, NewSHA256 []byte
	NewSize                int64
	// FinalVersion is the fingerprint at which the state holds: the object's
	// version after it was replaced, or the source's version when it was copied
	// or skipped. A listing that finds it unchanged leaves the row alone.
	FinalVersion string
}

// Journal is an open journal. Its methods are safe for concurrent use, but a
// migration writes through one goroutine.
type Journal struct {
	db   *sql.DB
	path string
	run  int64
}

const schema = `
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
	key           TEXT NOT NULL UNIQUE,
	state         INTEGER NOT NULL,
	prev          INTEGER NOT NULL DEFAULT 0,
	size          INTEGER NOT NULL DEFAULT 0,
	version       TEXT NOT NULL DEFAULT '',
	reason        TEXT NOT NULL DEFAULT '',
	error         TEXT NOT NULL DEFAULT '',
	kind          TEXT NOT NULL DEFAULT '',
	source_key    TEXT NOT NULL DEFAULT '',
	dest_key      TEXT NOT NULL DEFAULT '',
	plain_sha256  BLOB,
	new_sha256    BLOB,
	new_size      INTEGER NOT NULL DEFAULT 0,
	final_version TEXT,
	run           INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS objects_state ON objects(state);
`

// ErrOtherRun means the journal records a different migration (another
// source, destination, key or shard): it is not used, so that one run never
// takes another's progress for its own.
var ErrOtherRun = errors.New("the journal belongs to another migration")

// Open opens the journal at path (":memory:" for one that lives only as long as
// the process: a dry run), creating it if need be. identity names the migration
// (source, destination, keys, shard...): an existing journal with a different
// identity is refused with ErrOtherRun.
func Open(ctx context.Context, path string, identity map[string]string) (*Journal, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_txlock", "immediate")
	var dsn string
	if path == ":memory:" {
		dsn = "file::memory:?" + q.Encode()
	} else {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		dsn = (&url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}).String()
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	// One connection: the in-memory database is per connection, and one writer
	// is all a migration has.
	db.SetMaxOpenConns(1)
	db.SetConnMaxIdleTime(0)
	j := &Journal{db: db, path: path}
	if err := j.init(ctx, identity); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return j, nil
}

// OpenAny opens an existing journal whatever migration it records, to read it
// (a report, a test); it does not count as a run.
func OpenAny(ctx context.Context, path string) (*Journal, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	return Open(ctx, path, nil)
}

func (j *Journal) init(ctx context.Context, identity map[string]string) error {
	if identity == nil {
		return nil
	}
	if _, err := j.db.ExecContext(ctx, schema); err != nil {
		return err
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT k, v FROM meta`)
	if err != nil {
		return err
	}
	have := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			rows.Close()
			return err
		}
		have[k] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(have) > 0 {
		var diff []string
		for k, v := range identity {
			if have["id."+k] != v {
				diff = append(diff, k)
			}
		}
		if len(diff) > 0 {
			sort.Strings(diff)
			return fmt.Errorf("%w (it differs in %s); give another journal file or remove this one", ErrOtherRun, strings.Join(diff, ", "))
		}
	} else {
		for k, v := range identity {
			if _, err := tx.ExecContext(ctx, `INSERT INTO meta(k, v) VALUES(?, ?)`, "id."+k, v); err != nil {
				return err
			}
		}
	}
	var run int64
	if v, ok := have["run"]; ok {
		fmt.Sscan(v, &run)
	}
	j.run = run + 1
	if _, err := tx.ExecContext(ctx, `INSERT INTO meta(k, v) VALUES('run', ?) ON CONFLICT(k) DO UPDATE SET v=excluded.v`, fmt.Sprint(j.run)); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the journal.
func (j *Journal) Close() error { return j.db.Close() }

// Path returns the journal's file.
func (j *Journal) Path() string { return j.path }

// Listing records the objects a listing finds, in batches.
type Listing struct {
	j     *Journal
	tx    *sql.Tx
	stmt  *sql.Stmt
	n     int
	count int64
}

// BeginListing starts recording a listing of the source.
func (j *Journal) BeginListing(ctx context.Context) (*Listing, error) {
	l := &Listing{j: j}
	return l, l.begin(ctx)
}

// upsert records a listed object: a new one is Pending; a Done or Skipped one
// whose fingerprint is what the state holds at stays as it is; a Done or
// Skipped one that changed since becomes Pending (remembering its old state); a
// Replacing one stays Replacing (the run checks it); a Failed one is tried
// again. (SQLite evaluates every SET expression on the old row.)
const upsert = `
INSERT INTO objects(key, state, size, version, run) VALUES(?1, 0, ?2, ?3, ?4)
ON CONFLICT(key) DO UPDATE SET
	run = ?4,
	prev = CASE WHEN state IN (2, 3) AND final_version IS NOT ?3 THEN state ELSE prev END,
	state = CASE WHEN state IN (2, 3) AND final_version IS ?3 THEN state WHEN state = 1 THEN 1 ELSE 0 END,
	size = CASE WHEN state IN (1, 2, 3) THEN size ELSE ?2 END,
	version = CASE WHEN state IN (1, 2, 3) THEN version ELSE ?3 END`

func (l *Listing) begin(ctx context.Context) error {
	tx, err := l.j.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, upsert)
	if err != nil {
		tx.Rollback()
		return err
	}
	l.tx, l.stmt, l.n = tx, stmt, 0
	return nil
}

func (l *Listing) flush(ctx context.Context, again bool) error {
	l.stmt.Close()
	if err := l.tx.Commit(); err != nil {
		return err
	}
	l.tx = nil
	if again {
		return l.begin(ctx)
	}
	return nil
}

// Add records one listed object.
func (l *Listing) Add(ctx context.Context, key string, size int64, version string) error {
	if _, err := l.stmt.ExecContext(ctx, key, size, version, l.j.run); err != nil {
		return err
	}
	l.count++
	if l.n++; l.n >= 2000 {
		return l.flush(ctx, true)
	}
	return nil
}

// Count returns the number of objects recorded so far.
func (l *Listing) Count() int64 { return l.count }

// Finish commits the listing. When the listing was complete, rows of objects
// it no longer found that were not finished (Pending, Failed) are dropped:
// those objects are gone.
func (l *Listing) Finish(ctx context.Context, complete bool) error {
	if l.tx == nil {
		return nil
	}
	if complete {
		if _, err := l.tx.ExecContext(ctx, `DELETE FROM objects WHERE run < ? AND state IN (0, 4)`, l.j.run); err != nil {
			l.tx.Rollback()
			return err
		}
	}
	return l.flush(ctx, false)
}

// Abort drops what the listing has not committed.
func (l *Listing) Abort() {
	if l.tx != nil {
		l.stmt.Close()
		l.tx.Rollback()
		l.tx = nil
	}
}

const columns = `rowid, key, state, prev, size, version, reason, error, kind, source_key, dest_key, plain_sha256, new_sha256, new_size, final_version`

func scan(rows *sql.Rows) (Entry, error) {
	var e Entry
	var fv sql.NullString
	err := rows.Scan(&e.RowID, &e.Key, &e.State, &e.Prev, &e.Size, &e.Version, &e.Reason, &e.Error, &e.Kind,
		&e.SourceKey, &e.DestKey, &e.PlainSHA256, &e.NewSHA256, &e.NewSize, &fv)
	e.FinalVersion = fv.String
	return e, err
}

// Unfinished returns up to limit Pending or Replacing rows after rowid after,
// in listing order.
func (j *Journal) Unfinished(ctx context.Context, after int64, limit int) ([]Entry, error) {
	return j.query(ctx, `SELECT `+columns+` FROM objects WHERE state IN (0, 1) AND rowid > ? ORDER BY rowid LIMIT ?`, after, limit)
}

// Get returns key's row.
func (j *Journal) Get(ctx context.Context, key string) (Entry, bool, error) {
	es, err := j.query(ctx, `SELECT `+columns+` FROM objects WHERE key = ?`, key)
	if err != nil || len(es) == 0 {
		return Entry{}, false, err
	}
	return es[0], true, nil
}

// Entries returns the rows in state s, by key, at most limit (0: all).
func (j *Journal) Entries(ctx context.Context, s State, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = -1
	}
	return j.query(ctx, `SELECT `+columns+` FROM objects WHERE state = ? ORDER BY key LIMIT ?`, s, limit)
}

func (j *Journal) query(ctx context.Context, q string, args ...any) ([]Entry, error) {
	rows, err := j.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Apply records entries (by key) in one transaction.
func (j *Journal) Apply(ctx context.Context, es []Entry) error {
	if len(es) == 0 {
		return nil
	}
	tx, err := j.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, `UPDATE objects SET state=?, prev=?, reason=?, error=?, kind=?, source_key=?, dest_key=?,
		plain_sha256=?, new_sha256=?, new_size=?, final_version=? WHERE key=?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	for _, e := range es {
		var fv any
		if e.FinalVersion != "" {
			fv = e.FinalVersion
		}
		if _, err := stmt.ExecContext(ctx, e.State, e.Prev, e.Reason, e.Error, e.Kind, e.SourceKey, e.DestKey,
			e.PlainSHA256, e.NewSHA256, e.NewSize, fv, e.Key); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// Group is one line of a summary: the objects of one state, reason and source
// key, their number and their bytes before and after.
type Group struct {
	State          State
	Reason         string
	SourceKey      string
	DestKey        string
	Count          int64
	Bytes, NewSize int64
}

// Summary returns the rows grouped by state, reason, source and destination key.
func (j *Journal) Summary(ctx context.Context) ([]Group, error) {
	rows, err := j.db.QueryContext(ctx, `SELECT state, reason, source_key, dest_key, count(*), coalesce(sum(size), 0), coalesce(sum(new_size), 0)
		FROM objects GROUP BY state, reason, source_key, dest_key ORDER BY state, reason, source_key, dest_key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		var g Group
		if err := rows.Scan(&g.State, &g.Reason, &g.SourceKey, &g.DestKey, &g.Count, &g.Bytes, &g.NewSize); err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	return out, rows.Err()
}
