package local_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
)

// storeFormat returns the format of the store at path: "v1" for a version 1
// file, else the format its meta table names.
func storeFormat(t *testing.T, path string) string {
	t.Helper()
	head, err := os.ReadFile(path)
	mustOK(t, err)
	if bytes.HasPrefix(head, []byte("keyport-local-store\n")) {
		return "v1"
	}
	db := rawDB(t, path)
	defer db.Close()
	return string(rawMeta(t, db, "format"))
}

// TestConvertV2Store opens a store written in the format keyport-local/v2 (the
// SQLite format before the digest; testdata, written by the code of main at
// dda122f): under a wrong root key, read-only, or with a record moved, nothing
// is converted; otherwise it is converted in place, holds everything it held,
// every record is at the new generation, and it opens again.
func TestConvertV2Store(t *testing.T) {
	ex, root := readV1Expect(t)
	const v2, v3 = "keyport-local/v2", "keyport-local/v3"
	if f := storeFormat(t, filepath.Join("testdata", "store-v2.keyport")); f != v2 {
		t.Fatalf("testdata/store-v2.keyport has format %q", f)
	}
	t.Run("refused", func(t *testing.T) {
		dir := t.TempDir()
		path := copyFile(t, "store-v2.keyport", dir)
		_, err := local.Open(path, local.WithRootKey(rootKey(5)))
		if !errors.Is(err, local.ErrWrongRootKey) {
			t.Fatalf("wrong root key: %v", err)
		}
		mustOK(t, os.Chmod(path, 0o400))
		_, err = local.Open(path, local.WithRootKey(root))
		if !errors.Is(err, local.ErrReadOnlyStore) || !strings.Contains(err.Error(), "chmod 600") {
			t.Fatalf("read-only: %v, want ErrReadOnlyStore naming chmod 600", err)
		}
		mustOK(t, os.Chmod(path, 0o600))
		if f := storeFormat(t, path); f != v2 {
			t.Fatalf("a refused conversion left format %q", f)
		}
		db := rawDB(t, path)
		var ids []string
		var recs [][]byte
		rows, err := db.Query(`SELECT id, record FROM keyport_records WHERE kind='key' ORDER BY id`)
		mustOK(t, err)
		for rows.Next() {
			var id string
			var rec []byte
			mustOK(t, rows.Scan(&id, &rec))
			ids, recs = append(ids, id), append(recs, rec)
		}
		mustOK(t, rows.Err())
		_, err = db.Exec(`UPDATE keyport_records SET record=? WHERE id=?`, recs[1], ids[0])
		mustOK(t, err)
		mustOK(t, db.Close())
		_, err = local.Open(path, local.WithRootKey(root))
		if !errors.Is(err, local.ErrCorruptStore) {
			t.Fatalf("a moved record: %v, want ErrCorruptStore", err)
		}
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Open of a v2 store with a moved record")
		if f := storeFormat(t, path); f != v2 {
			t.Fatalf("a conversion that found a moved record left format %q", f)
		}
	})
	t.Run("converted", func(t *testing.T) {
		path := copyFile(t, "store-v2.keyport", t.TempDir())
		db := rawDB(t, path)
		var gen int64
		mustOK(t, db.QueryRow(`SELECT value FROM keyport_meta WHERE name='generation'`).Scan(&gen))
		rowsBefore := rawRows(t, db, "keyport_records")
		mustOK(t, db.Close())

		clk := &clock{t: ex.Now.Add(day)}
		svc, err := local.Open(path, local.WithRootKey(root), local.WithClock(clk.Now))
		mustOK(t, err)
		if f := storeFormat(t, path); f != v3 {
			t.Fatalf("format after Open: %q", f)
		}
		db = rawDB(t, path)
		var now int64
		mustOK(t, db.QueryRow(`SELECT value FROM keyport_meta WHERE name='generation'`).Scan(&now))
		rowsAfter := rawRows(t, db, "keyport_rows")
		var v2Tables int
		mustOK(t, db.QueryRow(`SELECT count(*) FROM sqlite_master WHERE name='keyport_records'`).Scan(&v2Tables))
		mustOK(t, db.Close())
		// A process of the v2 code that still has the store open must fail at
		// its next read rather than write a v2 record into the v3 store.
		if v2Tables != 0 {
			t.Fatalf("the v2 table keyport_records is still there after the conversion")
		}
		if now != gen+1 || len(rowsAfter) != len(rowsBefore) {
			t.Fatalf("generation %d -> %d, %d rows -> %d", gen, now, len(rowsBefore), len(rowsAfter))
		}
		for id, r := range rowsAfter {
			if r.kind != rowsBefore[id].kind {
				t.Fatalf("row %s: kind %q, was %q", id, r.kind, rowsBefore[id].kind)
			}
			if r.rev != now || bytes.Equal(r.record, rowsBefore[id].record) {
				t.Fatalf("row %s: rev %d (generation %d), record resealed: %v", id, r.rev, now, !bytes.Equal(r.record, rowsBefore[id].record))
			}
		}
		wantV1State(t, svc, ex)
		mustOK(t, svc.Close())
		onlyStoreLeft(t, path)
		svc, err = local.OpenExisting(path, local.WithRootKey(root), local.WithClock(clk.Now))
		mustOK(t, err)
		keys, aliases := listAll(t, svc.Client(local.Identity{Account: acctA}))
		if len(keys) != 4 || len(aliases) != 2 {
			t.Fatalf("after reopening: %d keys and %d aliases of account A, want 4 and 2", len(keys), len(aliases))
		}
		mustOK(t, svc.Close())
	})
}
