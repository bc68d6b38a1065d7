package local_test

import (
	"bytes"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
)

// rawRow is one row of the records table as the file holds it.
type rawRow struct {
	kind   string
	rev    int64
	record []byte
}

// rawRows returns every row of the store's records table (keyport_rows;
// keyport_records in format keyport-local/v2), by id.
func rawRows(t *testing.T, db *sql.DB, table string) map[string]rawRow {
	t.Helper()
	rows, err := db.Query(`SELECT id, kind, rev, record FROM ` + table)
	mustOK(t, err)
	defer rows.Close()
	out := map[string]rawRow{}
	for rows.Next() {
		var id string
		var r rawRow
		mustOK(t, rows.Scan(&id, &r.kind, &r.rev, &r.record))
		out[id] = r
	}
	mustOK(t, rows.Err())
	return out
}

// rawMeta returns a value of the store's meta table.
func rawMeta(t *testing.T, db *sql.DB, name string) []byte {
	t.Helper()
	var v []byte
	mustOK(t, db.QueryRow(`SELECT CAST(value AS BLOB) FROM keyport_meta WHERE name=?`, name).Scan(&v))
	return v
}

// rollbackFixture makes a store (two keys with an alias each, a grant), keeps
// a copy of its file and rows, then disables key one and deletes alias/two. It
// returns the store's path, the copy's path, the rows before and after the
// change, the id of key one's row and of alias/two's row.
type rollbackFixture struct {
	path, earlier           string
	before, after           map[string]rawRow
	keyRow, deletedAliasRow string
	beforeDigest, beforeGen []byte
}

func newRollbackFixture(t *testing.T) *rollbackFixture {
	t.Helper()
	dir := t.TempDir()
	f := &rollbackFixture{path: filepath.Join(dir, "keys.db"), earlier: filepath.Join(dir, "earlier.db")}
	newStore(t, f.path, rootKey(1))
	raw, err := os.ReadFile(f.path)
	mustOK(t, err)
	mustOK(t, os.WriteFile(f.earlier, raw, 0o600))
	db := rawDB(t, f.path)
	f.before, f.beforeDigest, f.beforeGen = rawRows(t, db, "keyport_rows"), rawMeta(t, db, "digest"), rawMeta(t, db, "generation")
	mustOK(t, db.Close())

	svc, err := local.Open(f.path, local.WithRootKey(rootKey(1)))
	mustOK(t, err)
	a := svc.Client(local.Identity{Account: acctA})
	mustOK(t, a.DisableKey(bg, &local.DisableKeyInput{KeyID: "alias/one"}))
	mustOK(t, a.DeleteAlias(bg, &local.DeleteAliasInput{AliasName: "alias/two"}))
	mustOK(t, svc.Close())

	db = rawDB(t, f.path)
	f.after = rawRows(t, db, "keyport_rows")
	mustOK(t, db.Close())
	for id, r := range f.before {
		now, ok := f.after[id]
		switch {
		case !ok && r.kind == "alias":
			f.deletedAliasRow = id
		case ok && now.rev != r.rev && r.kind == "key":
			f.keyRow = id
		}
	}
	if f.keyRow == "" || f.deletedAliasRow == "" || len(f.after) != len(f.before)-1 {
		t.Fatalf("the change did not rewrite one key row and delete one alias row (%d rows before, %d after)", len(f.before), len(f.after))
	}
	return f
}

// copyTampered copies the store and lets edit change the copy's rows.
func (f *rollbackFixture) copyTampered(t *testing.T, name string, edit func(db *sql.DB)) string {
	t.Helper()
	raw, err := os.ReadFile(f.path)
	mustOK(t, err)
	p := filepath.Join(filepath.Dir(f.path), name)
	mustOK(t, os.WriteFile(p, raw, 0o600))
	db := rawDB(t, p)
	edit(db)
	mustOK(t, db.Close())
	return p
}

func execOne(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	res, err := db.Exec(query, args...)
	mustOK(t, err)
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("%s changed %d rows (%v), want 1", query, n, err)
	}
}

// TestStoreRowRollback: whoever can write the store file, without the root key,
// cannot put back part of an earlier state: a key row put back as it was
// before the key was disabled, a deleted alias row put back, a row deleted,
// and each of those with the digest (and generation) of the earlier state
// copied too, are all refused with ErrCorruptStore, and Open leaves the file
// as it is. Putting back the whole file, which nothing inside it can tell, is
// the limit: that opens, and the key is enabled again.
func TestStoreRowRollback(t *testing.T) {
	f := newRollbackFixture(t)
	old := f.before[f.keyRow]
	for _, tc := range []struct {
		name string
		edit func(db *sql.DB)
	}{
		{"key row put back as it was before it was disabled", func(db *sql.DB) {
			execOne(t, db, `UPDATE keyport_rows SET rev=?, record=? WHERE id=?`, old.rev, old.record, f.keyRow)
		}},
		{"key row's earlier record at its current rev", func(db *sql.DB) {
			execOne(t, db, `UPDATE keyport_rows SET record=? WHERE id=?`, old.record, f.keyRow)
		}},
		{"deleted alias row put back", func(db *sql.DB) {
			r := f.before[f.deletedAliasRow]
			execOne(t, db, `INSERT INTO keyport_rows(id, kind, rev, record) VALUES(?, ?, ?, ?)`, f.deletedAliasRow, r.kind, r.rev, r.record)
		}},
		{"a key row deleted", func(db *sql.DB) {
			execOne(t, db, `DELETE FROM keyport_rows WHERE id=?`, f.keyRow)
		}},
		{"key row and the earlier digest put back", func(db *sql.DB) {
			execOne(t, db, `UPDATE keyport_rows SET rev=?, record=? WHERE id=?`, old.rev, old.record, f.keyRow)
			execOne(t, db, `UPDATE keyport_meta SET value=? WHERE name='digest'`, f.beforeDigest)
		}},
		{"key row, the earlier digest and generation put back, a newer change kept", func(db *sql.DB) {
			execOne(t, db, `UPDATE keyport_rows SET rev=?, record=? WHERE id=?`, old.rev, old.record, f.keyRow)
			execOne(t, db, `UPDATE keyport_meta SET value=? WHERE name='digest'`, f.beforeDigest)
			execOne(t, db, `UPDATE keyport_meta SET value=CAST(? AS INTEGER) WHERE name='generation'`, string(f.beforeGen))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := f.copyTampered(t, "tampered.db", tc.edit)
			defer os.Remove(p)
			before, err := os.ReadFile(p)
			mustOK(t, err)
			_, err = local.Open(p, local.WithRootKey(rootKey(1)))
			if !errors.Is(err, local.ErrCorruptStore) {
				t.Fatalf("Open: %v, want ErrCorruptStore", err)
			}
			kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Open")
			if after, _ := os.ReadFile(p); !bytes.Equal(before, after) {
				t.Fatal("Open changed a file it could not use")
			}
		})
	}
	// The whole file put back as an earlier copy opens, its key Enabled (the
	// documented limit); the store as it is shows the key Disabled.
	for _, c := range []struct {
		name, path string
		want       backends.KeyState
	}{{"the whole file put back", f.earlier, backends.KeyStateEnabled}, {"untouched", f.path, backends.KeyStateDisabled}} {
		t.Run(c.name, func(t *testing.T) {
			svc, err := local.Open(c.path, local.WithRootKey(rootKey(1)))
			mustOK(t, err)
			defer svc.Close()
			k, err := svc.Client(local.Identity{Account: acctA}).DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/one"})
			mustOK(t, err)
			if k.KeyState != c.want {
				t.Fatalf("key one is %s, want %s", k.KeyState, c.want)
			}
		})
	}
}

// TestStoreRowRollbackWhileOpen: a key row put back as it was before the key was
// disabled, while a service has the store open (the generation raised, so that
// the service reads the row again), is refused at the next call and every call
// after it: the service never encrypts under the key it saw disabled.
func TestStoreRowRollbackWhileOpen(t *testing.T) {
	f := newRollbackFixture(t)
	svc, err := local.Open(f.path, local.WithRootKey(rootKey(1)))
	mustOK(t, err)
	defer svc.Close()
	a := svc.Client(local.Identity{Account: acctA})
	_, err = a.Encrypt(bg, &backends.EncryptInput{KeyID: "alias/one", Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Encrypt under the disabled key")
	db := rawDB(t, f.path)
	old := f.before[f.keyRow]
	execOne(t, db, `UPDATE keyport_rows SET rev=?, record=? WHERE id=?`, old.rev, old.record, f.keyRow)
	execOne(t, db, `UPDATE keyport_meta SET value=value+1 WHERE name='generation'`)
	mustOK(t, db.Close())
	for i := range 3 {
		_, err = a.Encrypt(bg, &backends.EncryptInput{KeyID: "alias/one", Plaintext: []byte("x")})
		if !errors.Is(err, local.ErrCorruptStore) {
			t.Fatalf("Encrypt %d after the key row was put back: %v, want ErrCorruptStore", i+1, err)
		}
	}
}
