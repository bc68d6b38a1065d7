// Package store keeps the state of backends/local in an SQLite database
// (modernc.org/sqlite: pure Go, write-ahead log), which several processes may
// open at once.
//
// Every key, alias and grant is one row of keyport_rows. Its id is an HMAC,
// under a key derived from the root key, of what it is (a key's ARN, an alias's
// ARN, a grant's ID), so the file names no key, alias or account in the clear.
// Its record (package state's encoding) is sealed under another key derived from
// the root key, with the row's id and rev as associated data; the record names
// what it is, and a record whose name does not hash to its row's id is refused.
// So a record moved to another row, or edited, fails to open (ErrCorrupt).
//
// The meta row digest holds, sealed, the generation and the XOR of an HMAC
// (under a third derived key) of every row's (id, rev). Every write updates it
// in its transaction, and every load and refresh checks it against the rows, so
// a row deleted, added, or put back as an older sealed copy (whose rev is bound
// to it) is found (ErrCorrupt). What is not found is the whole store put back
// as it was at an earlier generation: whoever can write the file can replace it
// whole with an older copy, and only something outside the file could tell.
//
// Every change is one write transaction (BEGIN IMMEDIATE) that first reads what
// other processes committed, so nothing another process wrote is lost; a
// generation counter in the meta table tells a process whether its cached state
// is still current. WAL with synchronous=FULL makes each commit durable and a
// crash (SIGKILL at any moment) harmless: SQLite rolls back an unfinished
// transaction when the database is next opened.
//
// Tables:
//
//	keyport_meta(name PRIMARY KEY, value): format, region, partition,
//	    generation (a counter every write increments), check (a sealed constant
//	    that tells a wrong root key from a damaged store), secret (sealed: the MAC
//	    key of grant tokens), digest (sealed: the generation, then the XOR of
//	    the rows' HMACs)
//	keyport_rows(id PRIMARY KEY, kind, rev, record): kind is key, alias or
//	    grant; rev the generation that last wrote the row, so that a refresh
//	    opens only the records that changed
//
// Format keyport-local/v2 (before the digest: records sealed to their id
// alone, in a table keyport_records) is converted in place on the first
// writable Open, in one transaction that reseals every record at a new
// generation into keyport_rows and drops keyport_records (see upgradeV2).
package store

import (
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/crypto/chacha20poly1305"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/state"
)

// Format names the layout of the tables and records.
const Format = "keyport-local/v3"

// formatV2 is the format before the digest, which Open converts.
const formatV2 = "keyport-local/v2"

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// Errors of Open, Refresh and Update.
var (
	ErrForeign  = errors.New("not a keyport local store")
	ErrCorrupt  = errors.New("keyport local store is damaged or was altered")
	ErrWrongKey = errors.New("keyport local store was written under another root key")
	ErrNoStore  = errors.New("no keyport local store")
	ErrReadOnly = errors.New("keyport local store is read-only")
)

// Meta is what a store says of its service.
type Meta struct {
	Region, Partition string
}

// Options are the options of Open.
type Options struct {
	// Create makes a new store when there is none at the path (or the file is
	// empty); otherwise that is ErrNoStore.
	Create bool
	// Meta is the region and partition of a new store.
	Meta Meta
	// LegacyRoot, if set, is the root key of a version 1 store file to convert
	// (when it was not the root key).
	LegacyRoot []byte
}

// DB is an open store. Its methods are not safe for concurrent use, except Stale
// (the caller serializes the others, as backends/local does with its lock).
type DB struct {
	path      string
	db        *sql.DB
	aead      cipher.AEAD
	meta      Meta
	readOnly  bool
	idKey     []byte // keys the HMAC of row ids
	digestKey []byte // keys the HMAC of (id, rev) pairs the digest sums
	// gen is the generation the caller's state reflects; rows the rows it
	// holds (by row id), and ids the row id of each (by kind and name).
	gen     int64
	genStmt *sql.Stmt // reads the generation (Stale), prepared once
	rows    map[string]row
	ids     map[name]string
	digest  [digestSize]byte // the XOR of rows' macs
	tx      *sql.Tx
}

// row is a row the caller's state holds.
type row struct {
	name name
	rev  int64
	mac  [digestSize]byte // rowMAC(id, rev)
}

// digestSize is the size of a row's MAC and of the digest.
const digestSize = sha256.Size

// name says what a row holds: a key (by key ID), an alias (account and alias
// name) or a grant (by grant ID).
type name struct {
	kind, account, id string
}

const (
	kindKey   = "key"
	kindAlias = "alias"
	kindGrant = "grant"
)

const schema = `
CREATE TABLE IF NOT EXISTS keyport_meta(name TEXT PRIMARY KEY, value BLOB NOT NULL);
` + rowsSchema

const rowsSchema = `
CREATE TABLE IF NOT EXISTS keyport_rows(id TEXT PRIMARY KEY, kind TEXT NOT NULL, rev INTEGER NOT NULL, record BLOB NOT NULL);
`

// busyTimeout is how long SQLite waits for another process's write lock.
const busyTimeout = 30 * time.Second

// Open opens the store at path under root and returns it with the state it holds.
// A version 1 store file is converted first (see convert). A file that is
// neither is ErrForeign; a file whose mode gives its owner no write permission
// is opened read-only (ReadOnly; Update fails with ErrReadOnly).
func Open(ctx context.Context, path string, root []byte, o Options) (*DB, *state.State, error) {
	kind, readOnly, err := sniff(path)
	if err != nil {
		return nil, nil, err
	}
	switch kind {
	case kindNone:
		if !o.Create {
			return nil, nil, fmt.Errorf("%w at %s", ErrNoStore, path)
		}
		if readOnly {
			return nil, nil, fmt.Errorf("%w: %s (its mode gives its owner no write permission)", ErrReadOnly, path)
		}
		// SQLite would make the file readable by all (0644 less the umask); a
		// store is its owner's only, and SQLite gives its WAL and shared-memory
		// files the mode of the database file.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, nil, fmt.Errorf("creating store %s: %w", path, err)
		}
		f.Close()
	case kindV1:
		if readOnly {
			return nil, nil, fmt.Errorf("%w: %s is a version 1 store file, which must be converted; make it writable (chmod 600) and open it again", ErrReadOnly, path)
		}
		legacy := o.LegacyRoot
		if legacy == nil {
			legacy = root
		}
		if err := convert(ctx, path, legacy, root); err != nil {
			return nil, nil, err
		}
	case kindForeign:
		return nil, nil, fmt.Errorf("%w: %s", ErrForeign, path)
	}
	d, err := newDB(path, root)
	if err != nil {
		return nil, nil, err
	}
	d.readOnly = readOnly
	if d.db, err = openSQL(path, readOnly); err != nil {
		return nil, nil, err
	}
	st, err := d.init(ctx, o)
	if err != nil {
		d.db.Close()
		return nil, nil, err
	}
	return d, st, nil
}

type fileKind int

const (
	kindNone fileKind = iota
	kindSQLite
	kindV1
	kindForeign
)

// v1Magic starts a version 1 store file.
const v1Magic = "keyport-local-store\n"

// sniff tells what is at path and whether its mode gives the owner no write
// permission. An empty file is kindNone.
func sniff(path string) (fileKind, bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return kindNone, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("opening store %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, false, err
	}
	if !fi.Mode().IsRegular() {
		return kindForeign, false, nil
	}
	readOnly := fi.Mode().Perm()&0o200 == 0
	head := make([]byte, 20)
	n, err := io.ReadFull(f, head)
	head = head[:n]
	switch {
	case n == 0:
		return kindNone, readOnly, nil
	case bytes.HasPrefix(head, []byte(sqliteMagic)):
		return kindSQLite, readOnly, nil
	case bytes.HasPrefix([]byte(v1Magic), head) || bytes.HasPrefix(head, []byte(v1Magic)):
		return kindV1, readOnly, nil
	case err != nil && !errors.Is(err, io.ErrUnexpectedEOF):
		return 0, false, err
	}
	return kindForeign, readOnly, nil
}

// openSQL opens the database pool. Writes take the write lock at BEGIN
// (BEGIN IMMEDIATE), so that a transaction reads the state it changes under the
// lock; commits are durable (synchronous=FULL) once they return.
func openSQL(path string, readOnly bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_txlock", "immediate")
	if readOnly {
		q.Set("mode", "ro")
		// A read-only connection cannot remove the WAL and shared-memory files
		// it makes. With no WAL beside it, no process is writing the store (it
		// is read-only), so it is opened immutable: no side files at all.
		if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
			q.Set("immutable", "1")
		}
	}
	// A file: URI takes an absolute path: a relative one would be read as the
	// URI's authority.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(0)
	return db, nil
}

// init checks a store, or makes the tables and meta rows of a new one, and loads
// the state.
func (d *DB) init(ctx context.Context, o Options) (*state.State, error) {
	var tables, any int
	if err := d.retry(ctx, func() error {
		return d.sqlErr("reading", d.db.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE type='table' AND name='keyport_meta'), count(*) FROM sqlite_master`).Scan(&tables, &any))
	}); err != nil {
		return nil, err
	}
	if tables == 0 {
		if any > 0 {
			return nil, fmt.Errorf("%w: %s is an SQLite database of something else", ErrForeign, d.path)
		}
		if !o.Create {
			return nil, fmt.Errorf("%w at %s", ErrNoStore, d.path)
		}
		if d.readOnly {
			return nil, fmt.Errorf("%w: %s", ErrReadOnly, d.path)
		}
	}
	if !d.readOnly {
		// WAL is a property of the file: set once, it holds for every process.
		// Switching a new file to WAL takes an exclusive lock, for which SQLite
		// may answer BUSY at once when another process opens the same new store.
		if err := d.retry(ctx, func() error {
			_, err := d.db.ExecContext(ctx, `PRAGMA journal_mode=WAL`)
			return err
		}); err != nil {
			return nil, d.sqlErr("setting WAL mode on", err)
		}
		if err := d.retry(ctx, func() error { return d.create(ctx, o.Meta, nil) }); err != nil {
			return nil, err
		}
	}
	st := &state.State{}
	err := d.retry(ctx, func() error { return d.load(ctx, st) })
	if errors.Is(err, errV2) {
		if d.readOnly {
			return nil, fmt.Errorf("%w: %s is in the format %s, which must be converted; make it writable (chmod 600) and open it again", ErrReadOnly, d.path, formatV2)
		}
		if err = d.retry(ctx, func() error { return d.upgradeV2(ctx) }); err == nil {
			err = d.retry(ctx, func() error { return d.load(ctx, st) })
		}
	}
	if err != nil {
		return nil, err
	}
	if d.genStmt, err = d.db.PrepareContext(ctx, `SELECT value FROM keyport_meta WHERE name='generation'`); err != nil {
		st.Wipe()
		return nil, d.sqlErr("reading", err)
	}
	return st, nil
}

// create makes the tables and meta rows when they are missing (a new store, or
// one whose creator was killed before it committed), with a fresh grant token
// secret unless one is given.
func (d *DB) create(ctx context.Context, m Meta, secret []byte) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.sqlErr("locking", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return d.sqlErr("creating", err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM keyport_meta WHERE name='format'`).Scan(&n); err != nil {
		return d.sqlErr("reading", err)
	}
	if n > 0 {
		return nil
	}
	if secret == nil {
		secret = state.RandomBytes(32)
		defer clear(secret)
	}
	rows := []struct {
		name  string
		value any
	}{
		{"format", Format},
		{"region", m.Region},
		{"partition", m.Partition},
		{"generation", int64(0)},
		{"check", d.seal("meta/check", []byte(Format))},
		{"secret", d.seal("meta/secret", secret)},
		{"digest", d.sealDigest(0, [digestSize]byte{})},
	}
	for _, r := range rows {
		if _, err := tx.ExecContext(ctx, `INSERT INTO keyport_meta(name, value) VALUES(?, ?)`, r.name, r.value); err != nil {
			return d.sqlErr("creating", err)
		}
	}
	return d.sqlErr("committing to", tx.Commit())
}

// Meta returns the region and partition of the store.
func (d *DB) Meta() Meta { return d.meta }

// ReadOnly reports whether the store was opened read-only.
func (d *DB) ReadOnly() bool { return d.readOnly }

// Path returns the path of the store.
func (d *DB) Path() string { return d.path }

// Stale reports whether another process has committed a change since the
// caller's state was last brought up to date. It is safe for concurrent use
// with itself (not with the other methods).
func (d *DB) Stale(ctx context.Context) (bool, error) {
	var gen int64
	if err := d.genStmt.QueryRowContext(ctx).Scan(&gen); err != nil {
		return false, d.sqlErr("reading", err)
	}
	return gen != d.gen, nil
}

// Refresh brings st up to date with what other processes committed.
func (d *DB) Refresh(ctx context.Context, st *state.State) error {
	return d.retry(ctx, func() error {
		tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		if err != nil {
			return d.sqlErr("reading", err)
		}
		defer tx.Rollback()
		return d.refresh(ctx, tx, st)
	})
}

// Begin starts a write transaction (waiting for other processes' writes to end)
// and brings st up to date within it. The caller ends it with Commit or
// Rollback.
func (d *DB) Begin(ctx context.Context, st *state.State) error {
	if d.readOnly {
		return fmt.Errorf("%w: %s (its mode gives its owner no write permission)", ErrReadOnly, d.path)
	}
	if d.tx != nil {
		return errors.New("keyport local store: a transaction is already open")
	}
	return d.retry(ctx, func() error {
		tx, err := d.db.BeginTx(ctx, nil)
		if err != nil {
			return d.sqlErr("locking", err)
		}
		if err := d.refresh(ctx, tx, st); err != nil {
			tx.Rollback()
			return err
		}
		d.tx = tx
		return nil
	})
}

// Commit writes the records that st says changed (st.TakeChanges) and commits
// the transaction Begin started. On failure the transaction is rolled back and
// st no longer matches the store: the caller reloads it (Reload).
func (d *DB) Commit(st *state.State) error {
	tx := d.tx
	d.tx = nil
	if tx == nil {
		return errors.New("keyport local store: no transaction is open")
	}
	ctx := context.Background() // a half-written change is never left behind, but a commit is not cut short either
	ch := st.TakeChanges()
	if ch.Empty() {
		tx.Rollback()
		return nil
	}
	gen := d.gen + 1
	if err := d.write(ctx, tx, st, ch, gen); err != nil {
		tx.Rollback()
		return err
	}
	if err := d.writeGeneration(ctx, tx, gen); err != nil {
		tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return d.sqlErr("committing to", err)
	}
	d.gen = gen
	return nil
}

// Rollback ends the transaction Begin started without writing anything. It
// reports whether st had changes that are now lost (the caller reloads it).
func (d *DB) Rollback(st *state.State) bool {
	if d.tx != nil {
		d.tx.Rollback()
		d.tx = nil
	}
	return !st.TakeChanges().Empty()
}

// Reload replaces everything st holds with what the store holds.
func (d *DB) Reload(ctx context.Context, st *state.State) error {
	if d.tx != nil {
		d.tx.Rollback()
		d.tx = nil
	}
	return d.retry(ctx, func() error { return d.load(ctx, st) })
}

// Close closes the database (the last process to close it checkpoints the WAL
// and removes it and the shared-memory file).
func (d *DB) Close() error {
	if d.tx != nil {
		d.tx.Rollback()
		d.tx = nil
	}
	return d.db.Close()
}

// write writes the changed records of st at generation gen, and keeps the
// digest (which writeGeneration then writes) in step with the rows.
func (d *DB) write(ctx context.Context, tx *sql.Tx, st *state.State, ch *state.Changes, gen int64) error {
	put := func(n name, rec []byte) error {
		id := d.rowID(n)
		full := append([]byte(n.kind+":"), rec...)
		clear(rec)
		sealed := d.seal(recordPlace(id, gen), full)
		clear(full)
		if _, err := tx.ExecContext(ctx, `INSERT INTO keyport_rows(id, kind, rev, record) VALUES(?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET rev=excluded.rev, record=excluded.record`, id, n.kind, gen, sealed); err != nil {
			return d.sqlErr("writing", err)
		}
		if old, ok := d.rows[id]; ok {
			xorInto(&d.digest, &old.mac)
		}
		r := row{n, gen, d.rowMAC(id, gen)}
		xorInto(&d.digest, &r.mac)
		d.rows[id] = r
		d.ids[n] = id
		return nil
	}
	del := func(n name) error {
		id, ok := d.ids[n]
		if !ok {
			return nil // made and deleted within the transaction, or never written
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM keyport_rows WHERE id=?`, id); err != nil {
			return d.sqlErr("writing", err)
		}
		old := d.rows[id]
		xorInto(&d.digest, &old.mac)
		delete(d.rows, id)
		delete(d.ids, n)
		return nil
	}
	for id := range ch.Keys {
		k := st.Keys[id]
		if k == nil {
			if err := del(name{kind: kindKey, id: id}); err != nil {
				return err
			}
			continue
		}
		rec, err := state.EncodeKey(k)
		if err != nil {
			return err
		}
		if err := put(name{kindKey, k.Account, k.ID}, rec); err != nil {
			return err
		}
	}
	for a := range ch.Aliases {
		n := name{kindAlias, a.Account, a.Name}
		target, ok := st.Aliases[a.Account][a.Name]
		if !ok {
			if err := del(n); err != nil {
				return err
			}
			continue
		}
		rec, err := state.EncodeAlias(a.Account, a.Name, target)
		if err != nil {
			return err
		}
		if err := put(n, rec); err != nil {
			return err
		}
	}
	for id := range ch.Grants {
		g := st.Grants[id]
		if g == nil {
			if err := del(name{kind: kindGrant, id: id}); err != nil {
				return err
			}
			continue
		}
		rec, err := state.EncodeGrant(g)
		if err != nil {
			return err
		}
		if err := put(name{kind: kindGrant, id: id}, rec); err != nil {
			return err
		}
	}
	return nil
}

// rowID returns the id of the row that holds n: an HMAC of the key's ARN, the
// alias's ARN or the grant's ID.
func (d *DB) rowID(n name) string {
	var what string
	switch n.kind {
	case kindKey:
		what = backends.KeyARN(d.meta.Partition, d.meta.Region, n.account, n.id)
	case kindAlias:
		what = backends.AliasARN(d.meta.Partition, d.meta.Region, n.account, n.id)
	default:
		what = n.id
	}
	m := hmac.New(sha256.New, d.idKey)
	m.Write([]byte(n.kind + "\x00" + what))
	return hex.EncodeToString(m.Sum(nil))
}

// writeGeneration sets the store's generation to gen and seals the digest of
// the rows with it, within tx.
func (d *DB) writeGeneration(ctx context.Context, tx *sql.Tx, gen int64) error {
	if _, err := tx.ExecContext(ctx, `UPDATE keyport_meta SET value=? WHERE name='generation'`, gen); err != nil {
		return d.sqlErr("writing", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO keyport_meta(name, value) VALUES('digest', ?) ON CONFLICT(name) DO UPDATE SET value=excluded.value`, d.sealDigest(gen, d.digest)); err != nil {
		return d.sqlErr("writing", err)
	}
	return nil
}

// recordPlace is where the record of row id at rev belongs: the associated
// data it is sealed with, so that an older record of the row fails to open at
// a later rev.
func recordPlace(id string, rev int64) string { return id + "\x00" + strconv.FormatInt(rev, 10) }

// rowMAC is the HMAC of a row's (id, rev) that the digest sums.
func (d *DB) rowMAC(id string, rev int64) [digestSize]byte {
	m := hmac.New(sha256.New, d.digestKey)
	m.Write([]byte(recordPlace(id, rev)))
	var out [digestSize]byte
	m.Sum(out[:0])
	return out
}

func xorInto(dst, src *[digestSize]byte) {
	subtle.XORBytes(dst[:], dst[:], src[:])
}

// sealDigest seals the digest of the rows at generation gen.
func (d *DB) sealDigest(gen int64, digest [digestSize]byte) []byte {
	pt := binary.BigEndian.AppendUint64(make([]byte, 0, 8+digestSize), uint64(gen))
	return d.seal("meta/digest", append(pt, digest[:]...))
}

// checkDigest checks the rows' digest, as the cache now holds them, against
// the sealed one of generation gen.
func (d *DB) checkDigest(gen int64, sealed []byte) error {
	pt, err := d.open("meta/digest", sealed)
	if err != nil || len(pt) != 8+digestSize {
		return fmt.Errorf("%w: %s: its digest does not open under the root key", ErrCorrupt, d.path)
	}
	if int64(binary.BigEndian.Uint64(pt)) != gen || subtle.ConstantTimeCompare(pt[8:], d.digest[:]) != 1 {
		return fmt.Errorf("%w: %s: its rows do not match its digest (a row was deleted, added, or put back as an older copy)", ErrCorrupt, d.path)
	}
	return nil
}

// readMeta reads the rows of keyport_meta within tx.
func (d *DB) readMeta(ctx context.Context, tx *sql.Tx) (map[string][]byte, error) {
	rows, err := tx.QueryContext(ctx, `SELECT name, value FROM keyport_meta`)
	if err != nil {
		return nil, d.sqlErr("reading", err)
	}
	defer rows.Close()
	meta := map[string][]byte{}
	for rows.Next() {
		var name string
		var value []byte
		if err := rows.Scan(&name, &value); err != nil {
			return nil, d.sqlErr("reading", err)
		}
		meta[name] = value
	}
	if err := rows.Err(); err != nil {
		return nil, d.sqlErr("reading", err)
	}
	return meta, nil
}

// checkRootKey checks the store's check value, which a store of the format
// sealed: one that does not open tells a wrong root key (ErrWrongKey).
func (d *DB) checkRootKey(format string, check []byte) error {
	if c, err := d.openFormat(format, "meta/check", check); err != nil || string(c) != format {
		return fmt.Errorf("%w: %s", ErrWrongKey, d.path)
	}
	return nil
}

// load reads the whole state into st (which it replaces), in one read
// transaction.
func (d *DB) load(ctx context.Context, st *state.State) error {
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return d.sqlErr("reading", err)
	}
	defer tx.Rollback()
	meta, err := d.readMeta(ctx, tx)
	if err != nil {
		return err
	}
	if string(meta["format"]) == formatV2 {
		return errV2
	}
	if string(meta["format"]) != Format {
		return fmt.Errorf("%w: %s has format %q, not %q", ErrCorrupt, d.path, meta["format"], Format)
	}
	if err := d.checkRootKey(Format, meta["check"]); err != nil {
		return err
	}
	d.meta = Meta{Region: string(meta["region"]), Partition: string(meta["partition"])}
	if _, err := backends.ParseKeyRef(backends.KeyARN(d.meta.Partition, d.meta.Region, "111122223333", "mrk-00000000000000000000000000000000")); err != nil {
		return fmt.Errorf("%w: %s names no valid region and partition", ErrCorrupt, d.path)
	}
	secret, err := d.open("meta/secret", meta["secret"])
	if err != nil || len(secret) != 32 {
		return fmt.Errorf("%w: %s: the grant token secret does not open", ErrCorrupt, d.path)
	}
	st.Wipe()
	*st = state.State{Secret: secret, Keys: map[string]*state.Key{}, Aliases: map[string]map[string]string{}, Grants: map[string]*state.Grant{}}
	st.Track()
	d.rows, d.ids, d.gen, d.digest = map[string]row{}, map[name]string{}, -1, [digestSize]byte{}
	return d.refresh(ctx, tx, st)
}

// refresh brings st up to date within tx: it opens the rows whose rev changed
// since st was last brought up to date and drops the rows that are gone.
func (d *DB) refresh(ctx context.Context, tx *sql.Tx, st *state.State) error {
	var gen int64
	var digest []byte
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT value FROM keyport_meta WHERE name='generation'), (SELECT value FROM keyport_meta WHERE name='digest')`).Scan(&gen, &digest); err != nil {
		return d.sqlErr("reading", err)
	}
	if gen == d.gen {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, rev, CASE WHEN rev > ? THEN record END FROM keyport_rows`, d.gen)
	if err != nil {
		return d.sqlErr("reading", err)
	}
	defer rows.Close()
	seen := make(map[string]bool, len(d.rows))
	for rows.Next() {
		var id string
		var rev int64
		var rec []byte
		if err := rows.Scan(&id, &rev, &rec); err != nil {
			return d.sqlErr("reading", err)
		}
		seen[id] = true
		if old, ok := d.rows[id]; ok && old.rev == rev {
			continue
		}
		if rec == nil {
			// Not newer than the cache, yet not in it at that rev: read it whole.
			if err := tx.QueryRowContext(ctx, `SELECT record FROM keyport_rows WHERE id=?`, id).Scan(&rec); err != nil {
				return d.sqlErr("reading", err)
			}
		}
		n, err := d.apply(st, id, rev, rec)
		if err != nil {
			return err
		}
		if old, ok := d.rows[id]; ok && old.name != n {
			return fmt.Errorf("%w: %s: row %s changed what it holds", ErrCorrupt, d.path, id)
		}
		d.rows[id] = row{n, rev, d.rowMAC(id, rev)}
		d.ids[n] = id
	}
	if err := rows.Err(); err != nil {
		return d.sqlErr("reading", err)
	}
	for id, r := range d.rows {
		if seen[id] {
			continue
		}
		switch r.name.kind {
		case kindKey:
			if k := st.Keys[r.name.id]; k != nil {
				k.Wipe()
				delete(st.Keys, r.name.id)
			}
		case kindAlias:
			delete(st.Aliases[r.name.account], r.name.id)
		case kindGrant:
			delete(st.Grants, r.name.id)
		}
		delete(d.rows, id)
		delete(d.ids, r.name)
	}
	st.TakeChanges()
	d.digest = [digestSize]byte{}
	for _, r := range d.rows {
		xorInto(&d.digest, &r.mac)
	}
	if err := d.checkDigest(gen, digest); err != nil {
		return err
	}
	d.gen = gen
	return nil
}

// apply opens the sealed record of the row id and puts what it holds into st.
func (d *DB) apply(st *state.State, id string, rev int64, sealed []byte) (name, error) {
	pt, err := d.open(recordPlace(id, rev), sealed)
	if err != nil {
		return name{}, fmt.Errorf("%w: %s: the record of row %s does not open under the root key (moved, edited or put back from an earlier generation)", ErrCorrupt, d.path, id)
	}
	defer clear(pt)
	bad := func(what string) (name, error) {
		return name{}, fmt.Errorf("%w: %s: row %s holds %s", ErrCorrupt, d.path, id, what)
	}
	var n name
	switch {
	case bytes.HasPrefix(pt, []byte(kindKey+":")):
		k, err := state.DecodeKey(pt[len(kindKey)+1:])
		if err != nil {
			return bad("a key record that is not valid")
		}
		n = name{kindKey, k.Account, k.ID}
		if d.rowID(n) != id {
			k.Wipe()
			return bad("the record of another key")
		}
		if old := st.Keys[k.ID]; old != nil {
			old.Wipe()
		}
		k.ARN = backends.KeyARN(d.meta.Partition, d.meta.Region, k.Account, k.ID)
		st.Keys[k.ID] = k
	case bytes.HasPrefix(pt, []byte(kindAlias+":")):
		account, alias, target, err := state.DecodeAlias(pt[len(kindAlias)+1:])
		if err != nil {
			return bad("an alias record that is not valid")
		}
		n = name{kindAlias, account, alias}
		if d.rowID(n) != id {
			return bad("the record of another alias")
		}
		if st.Aliases[account] == nil {
			st.Aliases[account] = map[string]string{}
		}
		st.Aliases[account][alias] = target
	case bytes.HasPrefix(pt, []byte(kindGrant+":")):
		g, err := state.DecodeGrant(pt[len(kindGrant)+1:])
		if err != nil {
			return bad("a grant record that is not valid")
		}
		n = name{kind: kindGrant, id: g.ID}
		if d.rowID(n) != id {
			return bad("the record of another grant")
		}
		st.Grants[g.ID] = g
	default:
		return bad("a record of no known kind")
	}
	return n, nil
}

// retry runs fn again while it fails because another process holds a lock
// SQLite could not wait for (SQLITE_BUSY after the busy timeout, or a snapshot
// that another writer made stale), up to a limit.
func (d *DB) retry(ctx context.Context, fn func() error) error {
	var err error
	for attempt := 0; attempt < 8; attempt++ {
		if err = fn(); err == nil || !isBusy(err) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Duration(attempt+1) * 20 * time.Millisecond):
		}
	}
	return err
}

// isBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED (any extended code).
func isBusy(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}

// sqlErr describes a failure of SQLite on the store; a write to a read-only
// database matches ErrReadOnly.
func (d *DB) sqlErr(doing string, err error) error {
	if err == nil {
		return nil
	}
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() & 0xff {
		case sqlite3.SQLITE_READONLY:
			return fmt.Errorf("%w: %s: %v", ErrReadOnly, d.path, err)
		case sqlite3.SQLITE_NOTADB:
			return fmt.Errorf("%w: %s: %v", ErrForeign, d.path, err)
		case sqlite3.SQLITE_CORRUPT:
			return fmt.Errorf("%w: %s: %v", ErrCorrupt, d.path, err)
		}
	}
	return fmt.Errorf("%s store %s: %w", doing, d.path, err)
}

// newDB returns a DB for path whose keys are derived from the root key: the
// record key (XChaCha20-Poly1305, whose 192-bit random nonces put no practical
// bound on the number of records sealed under one key) and the row id key.
func newDB(path string, root []byte) (*DB, error) {
	k, err := hkdf.Key(sha256.New, root, nil, "keyport local store v2 records", chacha20poly1305.KeySize)
	if err != nil {
		return nil, err
	}
	defer clear(k)
	a, err := chacha20poly1305.NewX(k)
	if err != nil {
		return nil, err
	}
	idKey, err := hkdf.Key(sha256.New, root, nil, "keyport local store v2 row ids", 32)
	if err != nil {
		return nil, err
	}
	digestKey, err := hkdf.Key(sha256.New, root, nil, "keyport local store v3 row digest", 32)
	if err != nil {
		return nil, err
	}
	return &DB{path: path, aead: a, idKey: idKey, digestKey: digestKey}, nil
}

const sealVersion = 1

// seal seals a record for the place it goes (a row id, or meta/NAME): the
// associated data.
func (d *DB) seal(place string, pt []byte) []byte {
	out := make([]byte, 1+chacha20poly1305.NonceSizeX, 1+chacha20poly1305.NonceSizeX+len(pt)+d.aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		panic("keyport/local: crypto/rand failed: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return d.aead.Seal(out, out[1:], pt, ad(Format, place))
}

// open opens a record sealed for place.
func (d *DB) open(place string, sealed []byte) ([]byte, error) {
	return d.openFormat(Format, place, sealed)
}

// openFormat opens a record that a store of the format sealed for place.
func (d *DB) openFormat(format, place string, sealed []byte) ([]byte, error) {
	if len(sealed) < 1+chacha20poly1305.NonceSizeX+d.aead.Overhead() || sealed[0] != sealVersion {
		return nil, errors.New("not a sealed record")
	}
	return d.aead.Open(nil, sealed[1:1+chacha20poly1305.NonceSizeX], sealed[1+chacha20poly1305.NonceSizeX:], ad(format, place))
}

func ad(format, place string) []byte { return []byte(format + "\x00" + place) }
