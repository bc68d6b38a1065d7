package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/keyport/keyport/internal/testenv"
)

// TestMigrateCopyToBucket copies a directory's messages into a prefix of an S3
// bucket (gofakes3) with the command alone: every object there decrypts under
// the new key, and not the old, to the original plaintext; the source files are
// byte for byte as they were; nothing else is written to the bucket; and a
// second run, with the same journal, migrates nothing again.
func TestMigrateCopyToBucket(t *testing.T) {
	ep := testenv.Require(t, "KEYPORT_GOFAKES3", "gofakes3")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDGOFAKES3")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "gofakes3-does-not-check")
	t.Setenv("AWS_REGION", "us-east-1")
	dir, env, kp := localCLI(t)
	kp(nil, "keys", "create", "--alias", "alias/old")
	kp(nil, "keys", "create", "--alias", "alias/new")

	data := filepath.Join(dir, "data")
	plain := map[string][]byte{}   // object key -> plaintext
	sources := map[string][]byte{} // file -> its bytes
	for i, name := range []string{"a.enc", "sub/b.enc", "sub/deeper/c.enc"} {
		pt := make([]byte, 1000+i*70000)
		rand.Read(pt)
		p := filepath.Join(data, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		msg := kp(pt, "encrypt", "--key", "alias/old")
		if err := os.WriteFile(p, msg, 0o600); err != nil {
			t.Fatal(err)
		}
		plain[name], sources[p] = pt, msg
	}
	if err := os.WriteFile(filepath.Join(data, "README.txt"), []byte("not a message"), 0o600); err != nil {
		t.Fatal(err)
	}

	b := make([]byte, 6)
	rand.Read(b)
	bucket := "s3://kp" + hex.EncodeToString(b) + "?endpoint=" + url.QueryEscape(ep) +
		"&use_path_style=true&disable_https=true&region=us-east-1&request_checksum_calculation=when_required&response_checksum_validation=when_required"
	dest := bucket + "&prefix=" + url.QueryEscape("copied/")
	journal := filepath.Join(dir, "journal.db")
	type report struct {
		Migrated, Skipped, Failed int
		Run                       struct{ Objects, Migrated int }
	}
	var rep report
	run := func() {
		t.Helper()
		out := kp(nil, "migrate", "--from", "alias/old", "--to", "alias/new", "--copy-to", dest, "--journal", journal, "-j", "2", "--output", "json", data)
		rep = report{}
		if err := json.Unmarshal(out, &rep); err != nil {
			t.Fatalf("the report: %v\n%s", err, out)
		}
	}
	run()
	if rep.Migrated != 3 || rep.Skipped != 1 || rep.Failed != 0 || rep.Run.Migrated != 3 {
		t.Errorf("report %+v, want 3 migrated by this run, 1 skipped (README.txt)", rep)
	}

	ctx := context.Background()
	bkt, err := blob.OpenBucket(ctx, bucket)
	if err != nil {
		t.Fatal(err)
	}
	defer bkt.Close()
	it := bkt.List(nil)
	seen := 0
	for {
		obj, err := it.Next(ctx)
		if err != nil {
			break
		}
		seen++
		name, ok := bytes.CutPrefix([]byte(obj.Key), []byte("copied/"))
		want, known := plain[string(name)]
		if !ok || !known {
			t.Errorf("an object the copy should not have written: %s", obj.Key)
			continue
		}
		msg, err := bkt.ReadAll(ctx, obj.Key)
		if err != nil {
			t.Fatal(err)
		}
		if got := kp(msg, "decrypt", "--key", "alias/new"); !bytes.Equal(got, want) {
			t.Errorf("%s does not decrypt to its plaintext under alias/new", obj.Key)
		}
		old := exec.Command("keyport", "decrypt", "--key", "alias/old")
		old.Env, old.Dir, old.Stdin = env, dir, bytes.NewReader(msg)
		if out, err := old.Output(); err == nil || len(out) != 0 {
			t.Errorf("%s still decrypts under alias/old", obj.Key)
		}
	}
	if seen != len(plain) {
		t.Errorf("%d objects in the bucket, want %d", seen, len(plain))
	}
	for p, msg := range sources {
		if got, err := os.ReadFile(p); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("the source %s changed: %v", p, err)
		}
	}

	// The report counts the whole migration; its Run, this run alone.
	run()
	if rep.Migrated != 3 || rep.Failed != 0 || rep.Run.Objects != 0 || rep.Run.Migrated != 0 {
		t.Errorf("the second run: %+v, want the migration's 3 and nothing done by the run", rep)
	}
}
