package local_test

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
)

// rootKey returns a fixed root key for seed b (SHA-256 of it: not 32 equal bytes,
// which Open refuses).
func rootKey(b byte) []byte {
	k := sha256.Sum256([]byte{b})
	return k[:]
}

func TestFileStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "keys.store")
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
	if raw, _ := os.ReadFile(path); bytes.Contains(raw, []byte("alias/one")) || bytes.Contains(raw, []byte(k1.KeyID)) {
		t.Fatal("the store file holds plain text")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("left-over files: %v", ents)
	}

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
	wantKind(t, err, backends.ErrNotFound)
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

func TestFileStoreBadFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	svc, err := local.Open(good, local.WithRootKey(rootKey(1)))
	mustOK(t, err)
	_, err = svc.Client(local.Identity{Account: acctA}).CreateKey(bg, nil)
	mustOK(t, err)
	mustOK(t, svc.Close())
	raw, err := os.ReadFile(good)
	mustOK(t, err)

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		mustOK(t, os.WriteFile(p, b, 0o600))
		return p
	}
	flipped := bytes.Clone(raw)
	flipped[len(flipped)/2] ^= 0x10
	for _, tc := range []struct {
		name string
		path string
		root []byte
		want error
	}{
		{"wrong root key", good, rootKey(2), local.ErrWrongRootKey},
		{"flipped byte", write("flipped", flipped), rootKey(1), local.ErrCorruptStore},
		{"truncated", write("truncated", raw[:len(raw)-1]), rootKey(1), local.ErrCorruptStore},
		{"truncated header", write("short", raw[:25]), rootKey(1), local.ErrCorruptStore},
		{"empty", write("empty", nil), rootKey(1), local.ErrCorruptStore},
		{"json", write("json", []byte(`{"keys":{}}`)), rootKey(1), local.ErrForeignStore},
		{"text", write("text", []byte("hello, world, this is not a store file")), rootKey(1), local.ErrForeignStore},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(tc.path)
			_, err := local.Open(tc.path, local.WithRootKey(tc.root))
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			wantKind(t, err, backends.ErrInvalidArgument)
			after, _ := os.ReadFile(tc.path)
			if !bytes.Equal(before, after) {
				t.Fatal("Open changed a file it could not read")
			}
		})
	}
	// A store whose file cannot be replaced (a directory stands in its way): the
	// change fails with an error and is not kept in memory either.
	p := filepath.Join(dir, "blocked")
	svc, err = local.Open(p, local.WithRootKey(rootKey(1)))
	mustOK(t, err)
	defer svc.Close()
	a := svc.Client(local.Identity{Account: acctA})
	_, err = a.CreateKey(bg, nil)
	mustOK(t, err)
	mustOK(t, os.Remove(p))
	mustOK(t, os.MkdirAll(filepath.Join(p, "x"), 0o700))
	_, err = a.CreateKey(bg, nil)
	wantKind(t, err, backends.ErrInternal)
	keys, err := a.ListKeys(bg, nil)
	mustOK(t, err)
	if len(keys.Keys) != 1 {
		t.Fatalf("%d keys listed after a failed write, want 1", len(keys.Keys))
	}
}
