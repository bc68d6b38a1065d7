package store

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/keyport/keyport/backends/local/internal/state"
	"github.com/keyport/keyport/backends/local/internal/v1store"
	"github.com/keyport/keyport/internal/tempfile"
)

// convertPrefix starts the name of the temporary database a conversion builds
// beside the store (".NAME.convert-RANDOM"); a conversion removes those that
// killed ones left.
func convertPrefix(path string) string { return "." + filepath.Base(path) + ".convert-" }

// convert replaces the version 1 store file at path with an SQLite store holding
// the same state: it decrypts the file under legacy, writes the state to a new
// database beside it (sealed under root), reads that back and checks that it
// holds exactly the same keys, aliases, grants and grant token secret, and only
// then renames it over the original, whose mode it keeps. Until that rename the
// original is untouched; a conversion killed before it leaves a temporary file
// that the next conversion removes. An exclusive lock on the original (flock)
// keeps two processes from converting at once; the second finds the store
// converted.
func convert(ctx context.Context, path string, legacy, root []byte) (err error) {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening store %s: %w", path, err)
	}
	defer f.Close()
	if err := lockFile(f); err != nil {
		return fmt.Errorf("locking store %s for its conversion: %w", path, err)
	}
	defer unlockFile(f)
	held, err := f.Stat()
	if err != nil {
		return err
	}
	if now, err := os.Stat(path); err != nil || !os.SameFile(held, now) {
		return nil // another process converted it while this one waited
	}
	if err := removeStale(path); err != nil {
		return err
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("reading store %s: %w", path, err)
	}
	old, meta, err := v1store.Decode(legacy, b)
	if err != nil {
		switch {
		case errors.Is(err, v1store.ErrWrongKey):
			return fmt.Errorf("%w: %s (a version 1 store: give its root key as the legacy root key to convert it under a new one)", ErrWrongKey, path)
		case errors.Is(err, v1store.ErrForeign):
			return fmt.Errorf("%w: %s", ErrForeign, path)
		}
		return fmt.Errorf("%w: %s: %v", ErrCorrupt, path, err)
	}
	defer old.Wipe()

	tmp := filepath.Join(filepath.Dir(path), convertPrefix(path)+hex.EncodeToString(state.RandomBytes(8)))
	defer func() {
		if err != nil {
			os.Remove(tmp)
			os.Remove(tmp + "-journal")
		}
	}()
	if err := build(ctx, tmp, root, old, Meta{Region: meta.Region, Partition: meta.Partition}, held.Mode().Perm()); err != nil {
		return fmt.Errorf("converting store %s: %w", path, err)
	}
	if err := verify(ctx, tmp, root, old); err != nil {
		return fmt.Errorf("converting store %s: the new store does not hold what the old one did (the old one is kept): %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("converting store %s: %w", path, err)
	}
	return tempfile.SyncDir(filepath.Dir(path))
}

// build writes st to a new database at path, in one transaction, in the rollback
// journal mode (so that it is one file once closed), and syncs it.
func build(ctx context.Context, path string, root []byte, st *state.State, m Meta, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	f.Close()
	d, err := newDB(path, root)
	if err != nil {
		return err
	}
	d.meta = m
	if d.db, err = openSQL(path, false); err != nil {
		return err
	}
	defer d.db.Close()
	if err := d.create(ctx, m, st.Secret); err != nil {
		return err
	}
	d.rows, d.ids = map[string]row{}, map[name]string{}
	ch := &state.Changes{Keys: map[string]bool{}, Aliases: map[state.AliasName]bool{}, Grants: map[string]bool{}}
	for id := range st.Keys {
		ch.Keys[id] = true
	}
	for account, names := range st.Aliases {
		for name := range names {
			ch.Aliases[state.AliasName{Account: account, Name: name}] = true
		}
	}
	for id := range st.Grants {
		ch.Grants[id] = true
	}
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.sqlErr("locking", err)
	}
	defer tx.Rollback()
	if err := d.write(ctx, tx, st, ch, 1); err != nil {
		return err
	}
	if err := d.writeGeneration(ctx, tx, 1); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return d.sqlErr("committing to", err)
	}
	if err := d.db.Close(); err != nil {
		return err
	}
	f, err = os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// verify opens the database at path and checks that it holds exactly st.
func verify(ctx context.Context, path string, root []byte, want *state.State) error {
	d, err := newDB(path, root)
	if err != nil {
		return err
	}
	if d.db, err = openSQL(path, true); err != nil {
		return err
	}
	defer d.db.Close()
	got := &state.State{}
	if err := d.load(ctx, got); err != nil {
		return err
	}
	defer got.Wipe()
	if !bytes.Equal(got.Secret, want.Secret) {
		return errors.New("the grant token secret differs")
	}
	if len(got.Keys) != len(want.Keys) || len(got.Grants) != len(want.Grants) {
		return fmt.Errorf("%d keys and %d grants, not %d and %d", len(got.Keys), len(got.Grants), len(want.Keys), len(want.Grants))
	}
	for id, k := range want.Keys {
		if err := sameRecord(state.EncodeKey, k, got.Keys[id]); err != nil {
			return fmt.Errorf("key %s: %w", id, err)
		}
	}
	for id, g := range want.Grants {
		if err := sameRecord(state.EncodeGrant, g, got.Grants[id]); err != nil {
			return fmt.Errorf("grant %s: %w", id, err)
		}
	}
	nonEmpty := func(m map[string]map[string]string) map[string]map[string]string {
		out := map[string]map[string]string{}
		for a, names := range m {
			if len(names) > 0 {
				out[a] = names
			}
		}
		return out
	}
	if !maps.EqualFunc(nonEmpty(got.Aliases), nonEmpty(want.Aliases), maps.Equal) {
		return errors.New("the aliases differ")
	}
	return nil
}

func sameRecord[T any](encode func(T) ([]byte, error), want, got T) error {
	w, err := encode(want)
	if err != nil {
		return err
	}
	defer clear(w)
	g, err := encode(got)
	if err != nil {
		return err
	}
	defer clear(g)
	if !bytes.Equal(w, g) {
		return errors.New("differs")
	}
	return nil
}

// removeStale removes the temporary files that killed conversions of the store
// at path left beside it.
func removeStale(path string) error {
	ents, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		return err
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), convertPrefix(path)) {
			if err := os.Remove(filepath.Join(filepath.Dir(path), e.Name())); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}

// errV2 is load's answer for a store of format keyport-local/v2.
var errV2 = errors.New("keyport local store in format " + formatV2)

// upgradeV2 converts a store of format keyport-local/v2 in place, in one write
// transaction: it opens every record of keyport_records as v2 sealed it (to its
// row id alone), checks that it names what hashes to its row, reseals it to its
// row and a new generation into keyport_rows, drops keyport_records, reseals
// the meta values to the new format, writes the digest and only then the new
// format. A process killed during it leaves the v2 store as it was (SQLite
// rolls the transaction back); a process that finds the store converted when it
// gets the write lock does nothing. A process of the v2 code that has the store
// open finds the generation changed at its next call, and its next read of
// keyport_records fails (no such table), so it writes nothing, even into a store
// that was empty (where it would find no record failing to open).
func (d *DB) upgradeV2(ctx context.Context) error {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return d.sqlErr("locking", err)
	}
	defer tx.Rollback()
	meta, err := d.readMeta(ctx, tx)
	if err != nil {
		return err
	}
	if string(meta["format"]) != formatV2 {
		return nil // converted by another process meanwhile; load checks what it is
	}
	if err := d.checkRootKey(formatV2, meta["check"]); err != nil {
		return err
	}
	secret, err := d.openFormat(formatV2, "meta/secret", meta["secret"])
	if err != nil || len(secret) != 32 {
		return fmt.Errorf("%w: %s: the grant token secret does not open", ErrCorrupt, d.path)
	}
	defer clear(secret)
	var gen int64
	if err := tx.QueryRowContext(ctx, `SELECT value FROM keyport_meta WHERE name='generation'`).Scan(&gen); err != nil {
		return d.sqlErr("reading", err)
	}
	gen++
	d.meta = Meta{Region: string(meta["region"]), Partition: string(meta["partition"])}
	type resealed struct {
		id, kind string
		record   []byte
	}
	var out []resealed
	recs, err := tx.QueryContext(ctx, `SELECT id, record FROM keyport_records`)
	if err != nil {
		return d.sqlErr("reading", err)
	}
	// scratch receives each record once resealed, so that apply checks it opens
	// and names what hashes to its row, as load will.
	scratch := state.New()
	defer scratch.Wipe()
	d.digest = [digestSize]byte{}
	for recs.Next() {
		var id string
		var rec []byte
		if err := recs.Scan(&id, &rec); err != nil {
			recs.Close()
			return d.sqlErr("reading", err)
		}
		pt, err := d.openFormat(formatV2, id, rec)
		if err != nil {
			recs.Close()
			return fmt.Errorf("%w: %s: the record of row %s does not open under the root key (moved or edited)", ErrCorrupt, d.path, id)
		}
		sealed := d.seal(recordPlace(id, gen), pt)
		clear(pt)
		n, err := d.apply(scratch, id, gen, sealed)
		if err != nil {
			recs.Close()
			return err
		}
		mac := d.rowMAC(id, gen)
		xorInto(&d.digest, &mac)
		out = append(out, resealed{id, n.kind, sealed}) // the kind its record names
	}
	if err := recs.Close(); err != nil {
		return d.sqlErr("reading", err)
	}
	if _, err := tx.ExecContext(ctx, rowsSchema); err != nil {
		return d.sqlErr("converting", err)
	}
	for _, r := range out {
		if _, err := tx.ExecContext(ctx, `INSERT INTO keyport_rows(id, kind, rev, record) VALUES(?, ?, ?, ?)`, r.id, r.kind, gen, r.record); err != nil {
			return d.sqlErr("converting", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `DROP TABLE keyport_records`); err != nil {
		return d.sqlErr("converting", err)
	}
	for name, value := range map[string][]byte{"check": d.seal("meta/check", []byte(Format)), "secret": d.seal("meta/secret", secret)} {
		if _, err := tx.ExecContext(ctx, `UPDATE keyport_meta SET value=? WHERE name=?`, value, name); err != nil {
			return d.sqlErr("converting", err)
		}
	}
	if err := d.writeGeneration(ctx, tx, gen); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE keyport_meta SET value=? WHERE name='format'`, Format); err != nil {
		return d.sqlErr("converting", err)
	}
	return d.sqlErr("committing to", tx.Commit())
}
