package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
)

func TestDecryptReleasesNothingUnauthenticated(t *testing.T) {
	w := newWorld(t)
	w.key(t, "alias/a")
	pt := randBytes(3000)
	for _, suite := range []string{"0x0478", "0x0578"} {
		msg := []byte(w.must(t, pt, "encrypt", "--key", "alias/a", "--suite", suite)) // one frame
		for name, bad := range map[string][]byte{
			"truncated": msg[:len(msg)-20],
			"flipped":   flip(msg, len(msg)-10),
		} {
			code, out, errs := w.kp(t, bad, "decrypt")
			if code != ExitFailure || out != "" || !strings.Contains(errs, "InvalidCiphertextException") {
				t.Errorf("%s %s to stdout: exit %d, %d bytes of output, stderr %q", suite, name, code, len(out), errs)
			}
			outPath := filepath.Join(w.dir, "out")
			if code, _, _ := w.kp(t, bad, "decrypt", "-o", outPath); code != ExitFailure {
				t.Errorf("%s %s to a file: exit %d", suite, name, code)
			}
			assertEntries(t, w.dir, "keys.db")
		}
	}
}

// flip returns a copy of b with the byte at i changed.
func flip(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0x40
	return c
}

// assertEntries fails unless dir holds exactly the named entries.
func assertEntries(t *testing.T, dir string, names ...string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range ents {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(names, " ") {
		t.Fatalf("%s holds %q, want %q", dir, got, names)
	}
}

func TestReEncryptBlob(t *testing.T) {
	w := newWorld(t)
	a := w.key(t, "alias/a")
	b := w.key(t, "alias/b")
	ec := map[string]string{"k": "v"}
	svc, c := w.service(t)
	enc, err := c.Encrypt(context.Background(), &backends.EncryptInput{KeyID: a, Plaintext: []byte("data key"), EncryptionContext: ec})
	svc.Close()
	if err != nil {
		t.Fatal(err)
	}
	b64 := []byte(base64.StdEncoding.EncodeToString(enc.CiphertextBlob) + "\n")

	// Dry run: success says so, prints no blob. The AWS CLI's flag names work.
	code, out, errs := w.kp(t, b64, "re-encrypt", "--source-key-id", "alias/a", "--source-encryption-context", "k=v", "--destination-key-id", "alias/b", "--dry-run")
	if code != ExitOK || !strings.Contains(out, "DryRunOperationException") || strings.Contains(out, "CiphertextBlob") {
		t.Fatalf("dry run: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// Dry run of a request that would fail fails: wrong source key.
	code, out, errs = w.kp(t, b64, "re-encrypt", "--from", "alias/b", "--context", "k=v", "--to", "alias/b", "--dry-run")
	if code != ExitFailure || out != "" || !strings.Contains(errs, "IncorrectKeyException") {
		t.Fatalf("dry run with the wrong source key: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	// Real run, raw input file and raw output file: the fields go to stdout
	// (JSON, AWS names), the blob only to the file.
	blobPath := filepath.Join(w.dir, "blob")
	writeFile(t, blobPath, enc.CiphertextBlob, 0o600)
	newPath := filepath.Join(w.dir, "new")
	code, out, errs = w.kp(t, nil, "re-encrypt", "--context", "k=v", "--to", "alias/b", "--output", "json",
		"--new-context", "k=w", "--in-format", "raw", "--out-format", "raw", "-o", newPath, blobPath)
	if code != ExitOK {
		t.Fatalf("re-encrypt: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	want := map[string]any{"SourceKeyId": a, "KeyId": b, "SourceEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "DestinationEncryptionAlgorithm": "SYMMETRIC_DEFAULT", "Native": true}
	for k, v := range want {
		if res[k] != v {
			t.Errorf("%s = %v, want %v", k, res[k], v)
		}
	}
	if _, ok := res["CiphertextBlob"]; ok {
		t.Error("the blob was printed although -o was given")
	}
	// Base64 on stdout, as the AWS CLI's text output with --query prints it.
	out = w.must(t, b64, "re-encrypt", "--context", "k=v", "--to", b, "--query", "CiphertextBlob")
	newB64, err := base64.StdEncoding.DecodeString(strings.TrimSpace(out))
	if err != nil {
		t.Fatalf("stdout is not base64: %v", err)
	}

	svc, c = w.service(t)
	defer svc.Close()
	dec, err := c.Decrypt(context.Background(), &backends.DecryptInput{KeyID: b, CiphertextBlob: readFile(t, newPath), EncryptionContext: map[string]string{"k": "w"}})
	if err != nil || string(dec.Plaintext) != "data key" {
		t.Fatalf("the new blob does not decrypt under the destination: %v", err)
	}
	dec, err = c.Decrypt(context.Background(), &backends.DecryptInput{KeyID: b, CiphertextBlob: newB64})
	if err != nil || string(dec.Plaintext) != "data key" || dec.KeyID != b {
		t.Fatalf("the base64 blob does not decrypt under the destination with an empty context: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"frobnicate"}, ExitUsage, "unknown command"},
		{[]string{"encrypt"}, ExitUsage, "--key"},
		{[]string{"migrate", "x"}, ExitUsage, "--to"},
		{[]string{"migrate", "--to", "alias/x"}, ExitUsage, "file or directory"},
		{[]string{"encrypt", "--key", "k", "--context", "novalue"}, ExitUsage, "key=value"},
		{[]string{"encrypt", "--key", "k", "--suite", "0x9999"}, ExitUsage, "unknown suite"},
		{[]string{"keys", "create", "--alias", "nope"}, ExitUsage, "alias name"},
		{[]string{"keys", "describe"}, ExitUsage, "KEY"},
		{[]string{"encrypt", "--output", "xml", "--key", "k"}, ExitUsage, "--output must be text or json"},
		{[]string{"migrate", "--to", "alias/missing", "."}, ExitFailure, "NotFoundException"},
		{[]string{"re-encrypt", "--destination-key-id", "alias/x", "--in-format", "base64"}, ExitFailure, "InvalidCiphertextException"},
	} {
		code, _, errs := w.kp(t, []byte("!!"), tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
	// No service at all.
	var out, errb bytes.Buffer
	if code := Run(context.Background(), []string{"encrypt", "--key", "alias/a"}, strings.NewReader(""), &out, &errb); code != ExitUsage || !strings.Contains(errb.String(), "no key service") {
		t.Errorf("no service: exit %d, stderr %q", code, errb.String())
	}
	// A wrong root key is refused with a taxonomy kind and the store left as is.
	w.key(t, "alias/a")
	before := readFile(t, w.store)
	t.Setenv(local.RootKeyEnv, base64.StdEncoding.EncodeToString(make([]byte, 32)))
	code, _, errs := w.kp(t, nil, "keys", "list")
	if code != ExitFailure || !strings.Contains(errs, backends.ErrInvalidArgument.Name()) || !bytes.Equal(before, readFile(t, w.store)) {
		t.Errorf("wrong root key: exit %d, stderr %q", code, errs)
	}
}

// TestKeyReferenceForms names one key in each AWS form, on the command line of
// encrypt, decrypt and migrate.
func TestKeyReferenceForms(t *testing.T) {
	w := newWorld(t)
	arn := w.key(t, "alias/one")
	w.key(t, "alias/two")
	id := arn[strings.LastIndex(arn, "/")+1:]
	aliasARN := backends.AliasARN("aws", "us-east-1", defaultAccount, "alias/one")
	pt := []byte("forms")
	for _, ref := range []string{id, arn, "alias/one", aliasARN} {
		msg := []byte(w.must(t, pt, "encrypt", "--key", ref))
		for _, dec := range []string{id, arn, "alias/one", aliasARN} {
			if got := w.must(t, msg, "decrypt", "--key", dec); got != string(pt) {
				t.Fatalf("encrypt --key %s, decrypt --key %s: plaintext differs", ref, dec)
			}
		}
	}
	p := filepath.Join(w.dir, "m.enc")
	writeFile(t, p, []byte(w.must(t, pt, "encrypt", "--key", "alias/two")), 0o600)
	if out := w.must(t, nil, "migrate", "--to", aliasARN, p); !strings.Contains(out, "migrated 1") {
		t.Fatalf("migrate to an alias ARN: %s", out)
	}
	if out := w.must(t, nil, "migrate", "--to", id, p); !strings.Contains(out, "skipped 1") {
		t.Fatalf("migrate again to the same key by key ID: %s", out)
	}
	if got := w.must(t, readFile(t, p), "decrypt", "--key", arn); got != string(pt) {
		t.Fatal("the migrated file does not open with the key ARN")
	}
}

// TestDecryptFile: a message file of several batches decrypts whole (the
// Decrypter reads a regular file at offsets on every core), its summary counts
// the message's bytes as stdin's does, and the file cut at a batch's edge or
// followed by a byte fails with nothing written.
func TestDecryptFile(t *testing.T) {
	w := newWorld(t)
	w.key(t, "alias/a")
	pt := randBytes(3<<20 + 5) // 4 KiB frames: three batches of 1 MiB and a bit
	in, enc, out := filepath.Join(w.dir, "pt"), filepath.Join(w.dir, "msg"), filepath.Join(w.dir, "out")
	if err := os.WriteFile(in, pt, 0o600); err != nil {
		t.Fatal(err)
	}
	w.must(t, nil, "encrypt", "--key", "alias/a", "--suite", "0x0478", "-o", enc, in)
	msg, err := os.ReadFile(enc)
	if err != nil {
		t.Fatal(err)
	}
	for _, stdin := range []bool{false, true} {
		args := []string{"decrypt", "-o", out, "--output", "json", enc}
		var input []byte
		if stdin {
			args, input = args[:len(args)-1], msg
		}
		var s messageSummary
		if err := json.Unmarshal([]byte(w.must(t, input, args...)), &s); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(out)
		if err != nil || !bytes.Equal(got, pt) || s.MessageBytes != int64(len(msg)) || s.PlaintextBytes != int64(len(pt)) {
			t.Fatalf("stdin %v: plaintext equal %v (%v); summary: %d message bytes (want %d), %d plaintext bytes", stdin, bytes.Equal(got, pt), err, s.MessageBytes, len(msg), s.PlaintextBytes)
		}
		os.Remove(out)
	}
	os.Remove(in)
	for name, bad := range map[string][]byte{
		"cut at 2 MiB":  msg[:2<<20],
		"trailing byte": append(bytes.Clone(msg), 0),
	} {
		if err := os.WriteFile(enc, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, errs := w.kp(t, nil, "decrypt", "-o", out, enc)
		if code != ExitFailure || !strings.Contains(errs, "InvalidCiphertextException") {
			t.Errorf("%s: exit %d, stderr %q", name, code, errs)
		}
		assertEntries(t, w.dir, "keys.db", "msg")
	}
}
