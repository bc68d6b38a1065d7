package local_test

import (
	"bytes"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
)

func TestStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.db")
	c := newClock()
	svc, err := local.Open(path, local.WithRootKey(rootKey(1)), local.WithClock(c.Now))
	mustOK(t, err)
	a := svc.Client(local.Identity{Account: acctA, Principal: roleA})
	k1out, err := a.CreateKey(bg, &local.CreateKeyInput{Description: "one", Policy: allowPolicy(acctA, []string{acctB}, "kms:Encrypt")})
	mustOK(t, err)
	k1 := k1out.KeyMetadata
	k2out, err := a.CreateKey(bg, nil)
	mustOK(t, err)
	k2 := k2out.KeyMetadata
	mustOK(t, a.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/one", TargetKeyID: k1.KeyID}))
	ec := map[string]string{"a": "b"}
	old, err := a.Encrypt(bg, &backends.EncryptInput{KeyID: k1.KeyID, Plaintext: []byte("v1"), EncryptionContext: ec})
	mustOK(t, err)
	mustOK(t, a.EnableKeyRotation(bg, &local.EnableKeyRotationInput{KeyID: k1.KeyID, RotationPeriodInDays: 100}))
	_, err = a.RotateKeyOnDemand(bg, &local.RotateKeyOnDemandInput{KeyID: k1.KeyID})
	mustOK(t, err)
	g, err := a.CreateGrant(bg, &local.CreateGrantInput{KeyID: k1.KeyID, GranteePrincipal: roleB, Operations: []local.GrantOperation{local.GrantDecrypt}})
	mustOK(t, err)
	_, err = a.ScheduleKeyDeletion(bg, &local.ScheduleKeyDeletionInput{KeyID: k2.KeyID, PendingWindowInDays: 10})
	mustOK(t, err)
	mustOK(t, svc.Close())
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("store file: %v %v", fi, err)
	}
	if raw, _ := os.ReadFile(path); bytes.Contains(raw, []byte("alias/one")) || bytes.Contains(raw, []byte(k1.KeyID)) ||
		bytes.Contains(raw, []byte(acctA)) || bytes.Contains(raw, []byte("kms:Encrypt")) {
		t.Fatal("the store file holds key IDs, alias names, accounts or policies in the clear")
	}
	onlyStoreLeft(t, path)

	svc2, err := local.Open(path, local.WithRootKey(rootKey(1)), local.WithClock(c.Now))
	mustOK(t, err)
	defer svc2.Close()
	a = svc2.Client(local.Identity{Account: acctA, Principal: roleA})
	b := svc2.Client(local.Identity{Account: acctB, Principal: roleB})
	md, err := a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/one"})
	mustOK(t, err)
	if md.KeyID != k1.KeyID || md.Description != "one" || md.CurrentVersion != 2 {
		t.Fatalf("after restart: %+v", md)
	}
	dec, err := b.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: old.CiphertextBlob, EncryptionContext: ec, GrantTokens: []string{g.GrantToken}})
	mustOK(t, err) // grant, token and old version survived
	if string(dec.Plaintext) != "v1" {
		t.Fatal("wrong plaintext")
	}
	if _, err := b.Encrypt(bg, &backends.EncryptInput{KeyID: k1.Arn, Plaintext: []byte("p")}); err != nil {
		t.Fatalf("policy did not survive: %v", err)
	}
	st, err := a.GetKeyRotationStatus(bg, &local.GetKeyRotationStatusInput{KeyID: k1.KeyID})
	mustOK(t, err)
	if !st.KeyRotationEnabled || st.RotationPeriodInDays != 100 {
		t.Fatalf("rotation %+v", st)
	}
	md2, err := a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: k2.KeyID})
	mustOK(t, err)
	if md2.KeyState != backends.KeyStatePendingDeletion {
		t.Fatalf("k2 is %s", md2.KeyState)
	}
	// The clock deletes k2 and rotates k1; both are persisted.
	c.Advance(101 * day)
	_, err = a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: k2.KeyID})
	kmstest.WantKind(t, err, backends.ErrNotFound, "DescribeKey of a key the clock deleted")
	mustOK(t, svc2.Close())
	svc3, err := local.Open(path, local.WithRootKey(rootKey(1)), local.WithClock(c.Now))
	mustOK(t, err)
	defer svc3.Close()
	a = svc3.Client(local.Identity{Account: acctA})
	md, err = a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: k1.KeyID})
	mustOK(t, err)
	if md.CurrentVersion != 3 {
		t.Fatalf("after the rotation period: version %d", md.CurrentVersion)
	}
	keys, err := a.ListKeys(bg, nil)
	mustOK(t, err)
	if len(keys.Keys) != 1 {
		t.Fatalf("keys after deletion: %+v", keys.Keys)
	}
}

// rawDB opens a store file as a plain SQLite database, as an attacker with
// write access to it would.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	mustOK(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// records returns the ids and records of the store's rows of a kind.
func records(t *testing.T, db *sql.DB, kind string) (ids []string, recs [][]byte) {
	t.Helper()
	rows, err := db.Query(`SELECT id, record FROM keyport_rows WHERE kind=? ORDER BY id`, kind)
	mustOK(t, err)
	defer rows.Close()
	for rows.Next() {
		var id string
		var rec []byte
		mustOK(t, rows.Scan(&id, &rec))
		ids, recs = append(ids, id), append(recs, rec)
	}
	return ids, recs
}

// newStore makes a store with two keys, an alias and a grant, and closes it.
func newStore(t *testing.T, path string, root []byte) {
	t.Helper()
	svc, err := local.Open(path, local.WithRootKey(root))
	mustOK(t, err)
	a := svc.Client(local.Identity{Account: acctA})
	k, err := a.CreateKey(bg, &local.CreateKeyInput{AliasName: "alias/one"})
	mustOK(t, err)
	_, err = a.CreateKey(bg, &local.CreateKeyInput{AliasName: "alias/two"})
	mustOK(t, err)
	_, err = a.CreateGrant(bg, &local.CreateGrantInput{KeyID: k.KeyMetadata.KeyID, GranteePrincipal: roleB, Operations: []local.GrantOperation{local.GrantDecrypt}})
	mustOK(t, err)
	mustOK(t, svc.Close())
}

// TestStoreBadFiles: a file that is not a store, a store under another root key,
// and a store whose records were moved or edited are refused with their typed
// errors, and the file is left as it is.
func TestStoreBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	newStore(t, good, rootKey(1))

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		mustOK(t, os.WriteFile(p, b, 0o600))
		return p
	}
	foreignDB := filepath.Join(dir, "foreign.db")
	db := rawDB(t, foreignDB)
	_, err := db.Exec(`CREATE TABLE notes(x TEXT); INSERT INTO notes VALUES('mine')`)
	mustOK(t, err)
	mustOK(t, db.Close())
	// tampered makes a copy of the good store and lets edit change its rows.
	tampered := func(name string, edit func(db *sql.DB)) string {
		raw, err := os.ReadFile(good)
		mustOK(t, err)
		p := write(name, raw)
		db := rawDB(t, p)
		edit(db)
		mustOK(t, db.Close())
		return p
	}
	swapRecords := func(kind string) func(db *sql.DB) {
		return func(db *sql.DB) {
			ids, recs := records(t, db, kind)
			if len(ids) < 2 {
				t.Fatalf("fewer than two %s rows", kind)
			}
			_, err := db.Exec(`UPDATE keyport_rows SET record=? WHERE id=?`, recs[1], ids[0])
			mustOK(t, err)
			_, err = db.Exec(`UPDATE keyport_rows SET record=? WHERE id=?`, recs[0], ids[1])
			mustOK(t, err)
		}
	}
	flip := func(kind string) func(db *sql.DB) {
		return func(db *sql.DB) {
			ids, recs := records(t, db, kind)
			rec := bytes.Clone(recs[0])
			rec[len(rec)/2] ^= 1
			_, err := db.Exec(`UPDATE keyport_rows SET record=? WHERE id=?`, rec, ids[0])
			mustOK(t, err)
		}
	}
	moveRow := func(db *sql.DB) {
		ids, _ := records(t, db, "key")
		_, err := db.Exec(`UPDATE keyport_rows SET id=? WHERE id=?`, strings.Repeat("0", 64), ids[0])
		mustOK(t, err)
	}
	for _, tc := range []struct {
		name string
		path string
		root []byte
		want error
		kind *backends.Kind
	}{
		{"wrong root key", good, rootKey(2), local.ErrWrongRootKey, backends.ErrInvalidArgument},
		{"swapped key records", tampered("swapped-keys", swapRecords("key")), rootKey(1), local.ErrCorruptStore, backends.ErrInvalidArgument},
		{"swapped alias records", tampered("swapped-aliases", swapRecords("alias")), rootKey(1), local.ErrCorruptStore, backends.ErrInvalidArgument},
		{"edited key record", tampered("flipped-key", flip("key")), rootKey(1), local.ErrCorruptStore, backends.ErrInvalidArgument},
		{"edited grant record", tampered("flipped-grant", flip("grant")), rootKey(1), local.ErrCorruptStore, backends.ErrInvalidArgument},
		{"key record moved to another row", tampered("moved", moveRow), rootKey(1), local.ErrCorruptStore, backends.ErrInvalidArgument},
		{"version 1 header, truncated", write("v1-short", []byte("keyport-local-store\n\x01")), rootKey(1), local.ErrCorruptStore, backends.ErrInvalidArgument},
		{"json", write("json", []byte(`{"keys":{}}`)), rootKey(1), local.ErrForeignStore, backends.ErrInvalidArgument},
		{"text", write("text", []byte("hello, world, this is not a store file")), rootKey(1), local.ErrForeignStore, backends.ErrInvalidArgument},
		{"another SQLite database", foreignDB, rootKey(1), local.ErrForeignStore, backends.ErrInvalidArgument},
		{"a directory", dir, rootKey(1), local.ErrForeignStore, backends.ErrInvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(tc.path)
			_, err := local.Open(tc.path, local.WithRootKey(tc.root))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			kmstest.WantKind(t, err, tc.kind, "Open")
			after, _ := os.ReadFile(tc.path)
			if !bytes.Equal(before, after) {
				t.Fatal("Open changed a file it could not use")
			}
		})
	}
}

// TestStoreTamperedWhileOpen: a record edited while a service has the store open
// is found at the next call, which fails with ErrCorruptStore.
func TestStoreTamperedWhileOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	newStore(t, path, rootKey(1))
	svc, err := local.Open(path, local.WithRootKey(rootKey(1)))
	mustOK(t, err)
	defer svc.Close()
	a := svc.Client(local.Identity{Account: acctA})
	_, err = a.Encrypt(bg, &backends.EncryptInput{KeyID: "alias/one", Plaintext: []byte("x")})
	mustOK(t, err)
	db := rawDB(t, path)
	ids, recs := records(t, db, "alias")
	_, err = db.Exec(`UPDATE keyport_rows SET record=?, rev=rev+100 WHERE id=?`, recs[1], ids[0])
	mustOK(t, err)
	_, err = db.Exec(`UPDATE keyport_meta SET value=value+100 WHERE name='generation'`)
	mustOK(t, err)
	_, err = a.Encrypt(bg, &backends.EncryptInput{KeyID: "alias/one", Plaintext: []byte("x")})
	if !errors.Is(err, local.ErrCorruptStore) {
		t.Fatalf("Encrypt after an alias record was swapped: %v, want ErrCorruptStore", err)
	}
	kmstest.WantKind(t, err, backends.ErrInternal, "Encrypt after an alias record was swapped")
	_, err = a.CreateKey(bg, nil)
	if !errors.Is(err, local.ErrCorruptStore) {
		t.Fatalf("CreateKey after an alias record was swapped: %v, want ErrCorruptStore", err)
	}
}

// TestOpenExisting is finding 7's "read-only commands create an empty store at a
// mistyped path": OpenExisting never creates a store.
func TestOpenExisting(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo.db")
	_, err := local.OpenExisting(missing, local.WithRootKey(rootKey(1)))
	if !errors.Is(err, local.ErrNoStore) || !strings.Contains(err.Error(), "no keyport local store at "+missing) {
		t.Fatalf("got %v, want ErrNoStore naming the path", err)
	}
	kmstest.WantKind(t, err, backends.ErrNotFound, "OpenExisting of a missing store")
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("OpenExisting left a file at the path: %v", err)
	}
	empty := filepath.Join(dir, "empty.db")
	mustOK(t, os.WriteFile(empty, nil, 0o600))
	_, err = local.OpenExisting(empty, local.WithRootKey(rootKey(1)))
	if !errors.Is(err, local.ErrNoStore) {
		t.Fatalf("empty file: %v, want ErrNoStore", err)
	}
	if fi, err := os.Stat(empty); err != nil || fi.Size() != 0 {
		t.Fatalf("OpenExisting changed an empty file: %v", err)
	}
	onlyFiles(t, dir, "empty.db")

	good := filepath.Join(dir, "good.db")
	newStore(t, good, rootKey(1))
	svc, err := local.OpenExisting(good, local.WithRootKey(rootKey(1)))
	mustOK(t, err)
	_, err = svc.Client(local.Identity{Account: acctA}).DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/one"})
	mustOK(t, err)
	mustOK(t, svc.Close())
}

func onlyFiles(t *testing.T, dir string, want ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	mustOK(t, err)
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("files %v, want %v", got, want)
	}
}

// TestStoreReadOnly is finding 7's "a read-only (0444) store file is silently
// replaced by a writable one": the store opens read-only; reads work, every
// change fails with ErrReadOnlyStore, and the file is left as it was.
func TestStoreReadOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	newStore(t, path, rootKey(1))
	svc, err := local.Open(path, local.WithRootKey(rootKey(1)))
	mustOK(t, err)
	enc, err := svc.Client(local.Identity{Account: acctA}).Encrypt(bg, &backends.EncryptInput{KeyID: "alias/one", Plaintext: []byte("pt")})
	mustOK(t, err)
	mustOK(t, svc.Close())
	mustOK(t, os.Chmod(path, 0o444))
	before, err := os.ReadFile(path)
	mustOK(t, err)

	for _, open := range []func(string, ...local.Option) (*local.Service, error){local.Open, local.OpenExisting} {
		svc, err := open(path, local.WithRootKey(rootKey(1)))
		mustOK(t, err)
		if !svc.ReadOnly() {
			t.Fatal("ReadOnly() = false for a 0444 store")
		}
		a := svc.Client(local.Identity{Account: acctA})
		dec, err := a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
		mustOK(t, err)
		if string(dec.Plaintext) != "pt" {
			t.Fatal("wrong plaintext")
		}
		_, err = a.Encrypt(bg, &backends.EncryptInput{KeyID: "alias/one", Plaintext: []byte("pt")})
		mustOK(t, err)
		keys, _ := listAll(t, a)
		if len(keys) != 2 {
			t.Fatalf("%d keys", len(keys))
		}
		_, err = a.CreateKey(bg, &local.CreateKeyInput{AliasName: "alias/three"})
		if !errors.Is(err, local.ErrReadOnlyStore) || !strings.Contains(err.Error(), path) {
			t.Fatalf("CreateKey on a read-only store: %v, want ErrReadOnlyStore naming the file", err)
		}
		kmstest.WantKind(t, err, backends.ErrAccessDenied, "CreateKey on a read-only store")
		err = a.DisableKey(bg, &local.DisableKeyInput{KeyID: "alias/one"})
		if !errors.Is(err, local.ErrReadOnlyStore) {
			t.Fatalf("DisableKey on a read-only store: %v", err)
		}
		mustOK(t, svc.Close())
	}
	after, err := os.ReadFile(path)
	mustOK(t, err)
	fi, err := os.Stat(path)
	mustOK(t, err)
	if !bytes.Equal(before, after) || fi.Mode().Perm() != 0o444 {
		t.Fatalf("the read-only store changed (mode %v)", fi.Mode())
	}
	onlyStoreLeft(t, path)
}

// TestCreateKeyWithAlias is finding 7's "keys create --alias commits the key and
// the alias separately": an alias that exists fails the call and leaves no key.
func TestCreateKeyWithAlias(t *testing.T) {
	for _, store := range []bool{false, true} {
		var svc *local.Service
		if store {
			var err error
			svc, err = local.Open(filepath.Join(t.TempDir(), "keys.db"), local.WithRootKey(rootKey(1)))
			mustOK(t, err)
		} else {
			svc = local.New()
		}
		a := svc.Client(local.Identity{Account: acctA})
		k, err := a.CreateKey(bg, &local.CreateKeyInput{AliasName: "alias/taken"})
		mustOK(t, err)
		md, err := a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/taken"})
		mustOK(t, err)
		if md.KeyID != k.KeyMetadata.KeyID {
			t.Fatal("the alias names another key")
		}
		_, err = a.CreateKey(bg, &local.CreateKeyInput{AliasName: "alias/taken"})
		kmstest.WantKind(t, err, backends.ErrAlreadyExists, "CreateKey with an alias name in use")
		_, err = a.CreateKey(bg, &local.CreateKeyInput{AliasName: "alias/aws/reserved"})
		kmstest.WantKind(t, err, backends.ErrInvalidAliasName, "CreateKey with a reserved alias name")
		keys, aliases := listAll(t, a)
		if len(keys) != 1 || len(aliases) != 1 {
			t.Fatalf("store=%v: %d keys and %d aliases after the refused calls, want 1 and 1", store, len(keys), len(aliases))
		}
		mustOK(t, svc.Close())
	}
}

// v1Expect is testdata/store-v1.json.
type v1Expect struct {
	RootKey     string            `json:"rootKey"`
	Now         time.Time         `json:"now"`
	KeyOne      string            `json:"keyOne"`
	KeyDisabled string            `json:"keyDisabled"`
	KeyPending  string            `json:"keyPending"`
	KeyOther    string            `json:"keyOther"`
	KeyMRK      string            `json:"keyMRK"`
	GrantID     string            `json:"grantId"`
	GrantToken  string            `json:"grantToken"`
	Context     map[string]string `json:"context"`
	Blobs       []struct {
		Key       string `json:"key"`
		Version   int    `json:"version"`
		Plaintext string `json:"plaintext"`
		Blob      string `json:"blob"`
	} `json:"blobs"`
}

// readV1Expect reads testdata/store-v1.json and returns it with the store's
// root key.
func readV1Expect(t *testing.T) (v1Expect, []byte) {
	t.Helper()
	var ex v1Expect
	raw, err := os.ReadFile(filepath.Join("testdata", "store-v1.json"))
	mustOK(t, err)
	mustOK(t, json.Unmarshal(raw, &ex))
	root, err := base64.StdEncoding.DecodeString(ex.RootKey)
	mustOK(t, err)
	return ex, root
}

// copyFile copies testdata file name into dir.
func copyFile(t *testing.T, name, dir string) string {
	t.Helper()
	in, err := os.Open(filepath.Join("testdata", name))
	mustOK(t, err)
	defer in.Close()
	p := filepath.Join(dir, name)
	out, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	mustOK(t, err)
	_, err = io.Copy(out, in)
	mustOK(t, err)
	mustOK(t, out.Close())
	return p
}

// TestConvertV1Store opens a store written by keyport's version 1 file format
// (testdata, written by the code before issue 9): it is converted, and its keys,
// aliases, policies, grants, key states and rotation state are all there; a
// converted store is an SQLite database with no file left beside it.
func TestConvertV1Store(t *testing.T) {
	ex, root := readV1Expect(t)
	dir := t.TempDir()
	path := copyFile(t, "store-v1.keyport", dir)
	// A conversion killed before it renamed its database left this behind.
	stale := filepath.Join(dir, ".store-v1.keyport.convert-0123456789abcdef")
	mustOK(t, os.WriteFile(stale, []byte("half a database"), 0o600))
	original, err := os.ReadFile(path)
	mustOK(t, err)

	// Under another root key nothing is converted.
	_, err = local.Open(path, local.WithRootKey(rootKey(5)))
	if !errors.Is(err, local.ErrWrongRootKey) {
		t.Fatalf("wrong root key: %v", err)
	}
	if now, _ := os.ReadFile(path); !bytes.Equal(now, original) {
		t.Fatal("a failed conversion changed the version 1 file")
	}

	clk := &clock{t: ex.Now.Add(day)}
	svc, err := local.Open(path, local.WithRootKey(root), local.WithClock(clk.Now))
	mustOK(t, err)
	if head, _ := os.ReadFile(path); !bytes.HasPrefix(head, []byte("SQLite format 3\x00")) {
		t.Fatal("the store was not converted to SQLite")
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("converted store: %v %v", fi, err)
	}
	wantV1State(t, svc, ex)
	a := svc.Client(local.Identity{Account: acctA, Principal: roleA})
	// The clock still acts on what was converted: the pending key is deleted.
	clk.Advance(7 * day)
	_, err = a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: ex.KeyPending})
	kmstest.WantKind(t, err, backends.ErrNotFound, "DescribeKey of the pending key after the clock deleted it")
	mustOK(t, svc.Close())
	onlyStoreLeft(t, path)

	// And the converted store opens again, as SQLite.
	svc, err = local.OpenExisting(path, local.WithRootKey(root), local.WithClock(clk.Now))
	mustOK(t, err)
	keys, _ := listAll(t, svc.Client(local.Identity{Account: acctA}))
	if len(keys) != 3 { // one, disabled, MRK (pending was deleted)
		t.Fatalf("%d keys of account A after reopening", len(keys))
	}
	mustOK(t, svc.Close())
}

// wantV1State checks that svc holds what testdata/store-v1.keyport holds (as
// store-v1.json describes it), at ex.Now plus a day: every blob decrypts (the
// disabled key's refuses), keys, aliases of both accounts, rotation, the key
// policy, the grant and its token, the pending deletion and the multi-Region
// key.
func wantV1State(t *testing.T, svc *local.Service, ex v1Expect) {
	t.Helper()
	a := svc.Client(local.Identity{Account: acctA, Principal: roleA})
	b := svc.Client(local.Identity{Account: acctB, Principal: roleB})
	for _, bl := range ex.Blobs {
		blob, err := base64.StdEncoding.DecodeString(bl.Blob)
		mustOK(t, err)
		c := a
		if strings.Contains(bl.Key, acctB) {
			c = b
		}
		if bl.Key == ex.KeyDisabled {
			_, err := c.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: blob, EncryptionContext: ex.Context})
			kmstest.WantKind(t, err, backends.ErrDisabled, "Decrypt of a converted blob with the disabled key")
			continue
		}
		dec, err := c.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: blob, EncryptionContext: ex.Context})
		mustOK(t, err)
		if string(dec.Plaintext) != bl.Plaintext || dec.KeyID != bl.Key {
			t.Fatalf("blob of %s version %d: %q from %s", bl.Key, bl.Version, dec.Plaintext, dec.KeyID)
		}
	}
	one, err := a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/one"})
	mustOK(t, err)
	if one.Arn != ex.KeyOne || one.Description != "one" || one.CurrentVersion != 2 || one.KeyState != backends.KeyStateEnabled {
		t.Fatalf("key one after conversion: %+v", one)
	}
	also, err := a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/also-one"})
	mustOK(t, err)
	if also.Arn != ex.KeyOne {
		t.Fatal("alias/also-one lost")
	}
	other, err := b.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: "alias/one"})
	mustOK(t, err)
	if other.Arn != ex.KeyOther {
		t.Fatal("account B's alias/one lost")
	}
	rot, err := a.GetKeyRotationStatus(bg, &local.GetKeyRotationStatusInput{KeyID: ex.KeyOne})
	mustOK(t, err)
	if !rot.KeyRotationEnabled || rot.RotationPeriodInDays != 100 || !rot.NextRotationDate.Equal(ex.Now.AddDate(0, 0, 100)) {
		t.Fatalf("rotation after conversion: %+v", rot)
	}
	// The key policy lets account B encrypt under key one (by ARN), and the
	// grant (with its token, whose MAC key survived) lets B decrypt with the
	// constraint's context only.
	enc, err := b.Encrypt(bg, &backends.EncryptInput{KeyID: ex.KeyOne, Plaintext: []byte("from B"), EncryptionContext: ex.Context})
	mustOK(t, err)
	dec, err := b.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ex.Context, GrantTokens: []string{ex.GrantToken}})
	mustOK(t, err)
	if string(dec.Plaintext) != "from B" {
		t.Fatal("wrong plaintext")
	}
	grants, err := a.ListGrants(bg, &local.ListGrantsInput{KeyID: ex.KeyOne})
	mustOK(t, err)
	if len(grants.Grants) != 1 || grants.Grants[0].GrantID != ex.GrantID || grants.Grants[0].Name != "b-decrypts" {
		t.Fatalf("grants after conversion: %+v", grants.Grants)
	}
	pend, err := a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: ex.KeyPending})
	mustOK(t, err)
	if pend.KeyState != backends.KeyStatePendingDeletion || !pend.DeletionDate.Equal(ex.Now.AddDate(0, 0, 7)) {
		t.Fatalf("pending key after conversion: %+v", pend)
	}
	mrk, err := a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: ex.KeyMRK})
	mustOK(t, err)
	if !mrk.MultiRegion {
		t.Fatal("multi-Region key lost its flag")
	}
}

// TestConvertV1StoreWeakRoot: version 1 took any 32 bytes as the root key; such a
// store converts under a new root key given with WithLegacyRootKey, and not
// without it.
func TestConvertV1StoreWeakRoot(t *testing.T) {
	dir := t.TempDir()
	path := copyFile(t, "store-v1-weak-root.keyport", dir)
	blob, err := os.ReadFile(filepath.Join("testdata", "store-v1-weak-root.blob"))
	mustOK(t, err)
	_, err = local.Open(path, local.WithRootKey(rootKey(3)))
	if !errors.Is(err, local.ErrWrongRootKey) || !strings.Contains(err.Error(), "legacy root key") {
		t.Fatalf("without the legacy key: %v", err)
	}
	svc, err := local.Open(path, local.WithRootKey(rootKey(3)), local.WithLegacyRootKey([]byte("passwordpasswordpasswordpassword")))
	mustOK(t, err)
	dec, err := svc.Client(local.Identity{Account: acctA}).Decrypt(bg, &backends.DecryptInput{KeyID: "alias/weak", CiphertextBlob: blob})
	mustOK(t, err)
	if string(dec.Plaintext) != "weak root" {
		t.Fatal("wrong plaintext")
	}
	mustOK(t, svc.Close())
	// Now sealed under the new root key alone.
	svc, err = local.Open(path, local.WithRootKey(rootKey(3)))
	mustOK(t, err)
	mustOK(t, svc.Close())
}

// TestStoreRegion: a store keeps the region and partition it was made for; an
// Open that asks for others is refused, and one that names none takes the
// store's.
func TestStoreRegion(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.db")
	svc, err := local.Open(path, local.WithRootKey(rootKey(1)), local.WithRegion("eu-west-1"))
	mustOK(t, err)
	k, err := svc.Client(local.Identity{Account: acctA}).CreateKey(bg, nil)
	mustOK(t, err)
	mustOK(t, svc.Close())
	if !strings.Contains(k.KeyMetadata.Arn, ":eu-west-1:") {
		t.Fatalf("key ARN %s", k.KeyMetadata.Arn)
	}
	_, err = local.Open(path, local.WithRootKey(rootKey(1)), local.WithRegion("us-east-1"))
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Open of an eu-west-1 store in us-east-1")
	_, err = local.Open(path, local.WithRootKey(rootKey(1)), local.WithPartition("aws-cn"))
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Open of an aws store in aws-cn")
	svc, err = local.Open(path, local.WithRootKey(rootKey(1)))
	mustOK(t, err)
	defer svc.Close()
	if svc.Region() != "eu-west-1" || svc.Partition() != "aws" {
		t.Fatalf("reopened as %s/%s", svc.Partition(), svc.Region())
	}
	md, err := svc.Client(local.Identity{Account: acctA}).DescribeKey(bg, &backends.DescribeKeyInput{KeyID: k.KeyMetadata.Arn})
	mustOK(t, err)
	if md.Arn != k.KeyMetadata.Arn {
		t.Fatal("the key's ARN changed")
	}
}
