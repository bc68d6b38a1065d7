package local_test

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
)

// wantRootKeyErr fails unless err is a refused root key whose message names
// source and says what a root key is.
func wantRootKeyErr(t *testing.T, err error, source string) {
	t.Helper()
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "the root key of "+source)
	if !errors.Is(err, local.ErrInvalidRootKey) {
		t.Fatalf("%v does not match ErrInvalidRootKey", err)
	}
	var re *local.RootKeyError
	if !errors.As(err, &re) || re.Reason == "" {
		t.Fatalf("%v holds no *RootKeyError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, source) || !strings.Contains(msg, "base64") {
		t.Fatalf("message %q does not name %q and say what a root key is", msg, source)
	}
}

func TestParseRootKey(t *testing.T) {
	text, err := local.GenerateRootKey()
	mustOK(t, err)
	key, err := local.ParseRootKey(text + "\n")
	mustOK(t, err)
	if len(key) != local.RootKeySize {
		t.Fatalf("%d bytes", len(key))
	}
	text2, err := local.GenerateRootKey()
	mustOK(t, err)
	if text2 == text {
		t.Fatal("two generated root keys are equal")
	}
	for _, enc := range []string{hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key)), " " + base64.StdEncoding.EncodeToString(key) + " \n"} {
		got, err := local.ParseRootKey(enc)
		mustOK(t, err)
		if string(got) != string(key) {
			t.Fatalf("%q decodes to another key", enc)
		}
	}
	b64 := base64.StdEncoding.EncodeToString
	for name, text := range map[string]string{
		"raw text":                  "passwordpasswordpasswordpassword",
		"base64 of a password":      b64([]byte("passwordpasswordpasswordpassword")),
		"32 zero bytes":             b64(make([]byte, 32)),
		"32 equal bytes in hex":     strings.Repeat("ff", 32),
		"31 bytes":                  b64(key[:31]),
		"33 bytes":                  b64(append(key[:32:32], 1)),
		"16 bytes in hex":           hex.EncodeToString(key[:16]),
		"empty":                     " \n",
		"base64 without padding":    strings.TrimRight(b64(key), "="),
		"base64url":                 strings.NewReplacer("+", "-", "/", "_").Replace(b64(append([]byte{0xfb, 0xff}, key[2:]...))),
		"31 characters and newline": "abcdefghijklmnopqrstuvwxyz01234\n",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := local.ParseRootKey(text)
			wantRootKeyErr(t, err, "root key")
		})
	}
}

// TestOpenRefusesWeakRootKeys is issue 9's finding 5: weak root keys were used
// as they came.
func TestOpenRefusesWeakRootKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.db")
	for _, v := range []string{"passwordpasswordpasswordpassword", base64.StdEncoding.EncodeToString(make([]byte, 32)), ""} {
		t.Setenv(local.RootKeyEnv, v)
		_, err := local.Open(path)
		wantRootKeyErr(t, err, local.RootKeyEnv)
	}
	_, err := local.Open(path, local.WithRootKey(make([]byte, 32)))
	wantRootKeyErr(t, err, "WithRootKey")
	_, err = local.Open(path, local.WithRootKey([]byte("passwordpasswordpasswordpassword")))
	wantRootKeyErr(t, err, "WithRootKey")

	text, err := local.GenerateRootKey()
	mustOK(t, err)
	keyFile := filepath.Join(dir, "root.key")
	mustOK(t, os.WriteFile(keyFile, []byte(text+"\n"), 0o644))
	_, err = local.Open(path, local.WithRootKeyFile(keyFile))
	wantRootKeyErr(t, err, keyFile)
	if !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("%v does not say what to do", err)
	}
	short := filepath.Join(dir, "short.key")
	mustOK(t, os.WriteFile(short, []byte("abcdefghijklmnopqrstuvwxyz01234\n"), 0o600))
	_, err = local.Open(path, local.WithRootKeyFile(short))
	wantRootKeyErr(t, err, short)
	_, err = local.Open(path, local.WithRootKeyFile(filepath.Join(dir, "missing")))
	wantRootKeyErr(t, err, "missing")
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused root key left a store behind: %v", err)
	}

	// The good ones: a 0600 file, and the environment.
	mustOK(t, os.Chmod(keyFile, 0o600))
	svc, err := local.Open(path, local.WithRootKeyFile(keyFile))
	mustOK(t, err)
	_, err = svc.Client(local.Identity{Account: acctA}).CreateKey(bg, nil)
	mustOK(t, err)
	mustOK(t, svc.Close())
	t.Setenv(local.RootKeyEnv, text)
	svc, err = local.Open(path)
	mustOK(t, err)
	keys, err := svc.Client(local.Identity{Account: acctA}).ListKeys(bg, nil)
	mustOK(t, err)
	if len(keys.Keys) != 1 {
		t.Fatalf("%d keys", len(keys.Keys))
	}
	mustOK(t, svc.Close())
}
