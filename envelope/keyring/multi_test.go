package keyring_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/kmstest"
)

func TestMultiAcrossProviders(t *testing.T) {
	ctx := context.Background()
	aws := kmstest.New(arnA, arnB)
	vault := kmstest.New(vaultURI)
	gen := mustBackend(t, aws, arnA, nil)
	kB := mustBackend(t, aws, arnB, nil)
	kV := mustBackend(t, vault, vaultURI, nil)
	mk, err := keyring.NewMulti(gen, kB, kV)
	if err != nil {
		t.Fatal(err)
	}
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384)
	if err := mk.OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	if len(m.EncryptedDataKeys) != 3 {
		t.Fatalf("%d EDKs, want 3", len(m.EncryptedDataKeys))
	}
	want := []string{"aws-kms " + arnA, "aws-kms " + arnB, "keyport:vault " + vaultURI}
	for i, e := range m.EncryptedDataKeys {
		if got := e.ProviderID + " " + string(e.ProviderInfo); got != want[i] {
			t.Errorf("EDK %d is %s, want %s", i, got, want[i])
		}
	}
	// Each key alone opens the same data key.
	for _, k := range []envelope.Keyring{gen, kB, kV} {
		d := decMaterials(m.Suite)
		if err := k.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
			t.Fatalf("%T: %v", k, err)
		}
	}
	// The multi-keyring falls through failing keyrings and keeps their errors.
	aws.SetState(arnA, backends.KeyStateDisabled)
	aws.SetState(arnB, backends.KeyStateDisabled)
	d := decMaterials(m.Suite)
	if err := mk.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
		t.Fatalf("fallthrough to the vault key: %v", err)
	}
	vault.SetState(vaultURI, backends.KeyStateDisabled)
	kmstest.WantKind(t, mk.OnDecrypt(ctx, decMaterials(m.Suite), m.EncryptedDataKeys), backends.ErrDisabled, "all disabled")
	// A data key already set is left alone.
	d = decMaterials(m.Suite)
	d.PlaintextDataKey = []byte("already")
	if err := mk.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || string(d.PlaintextDataKey) != "already" {
		t.Fatalf("set data key: %v", err)
	}
}

func TestMultiEncryptRules(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA, arnB)
	kA, kB := mustBackend(t, f, arnA, nil), mustBackend(t, f, arnB, nil)
	_, err := keyring.NewMulti(nil)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "empty multi")
	_, err = keyring.NewMulti(kA, nil)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "nil child")
	withGen, _ := keyring.NewMulti(kA, kB)
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
	m.PlaintextDataKey = make([]byte, 32)
	kmstest.WantKind(t, withGen.OnEncrypt(ctx, m), backends.ErrInvalidArgument, "generator with a data key present")
	childrenOnly, _ := keyring.NewMulti(nil, kA, kB)
	kmstest.WantKind(t, childrenOnly.OnEncrypt(ctx, encMaterials(m.Suite)), backends.ErrInvalidArgument, "no generator, no data key")
	m = encMaterials(m.Suite)
	m.PlaintextDataKey = bytes.Repeat([]byte{9}, 32)
	if err := childrenOnly.OnEncrypt(ctx, m); err != nil || len(m.EncryptedDataKeys) != 2 {
		t.Errorf("children wrap a given data key: %v, %d EDKs", err, len(m.EncryptedDataKeys))
	}
	// A failing child fails the whole and wipes the generated data key.
	f.SetState(arnB, backends.KeyStateDisabled)
	m = encMaterials(m.Suite)
	kmstest.WantKind(t, withGen.OnEncrypt(ctx, m), backends.ErrDisabled, "failing child")
	if m.PlaintextDataKey != nil {
		t.Error("failing child: the data key is kept")
	}
}

func TestNewStrict(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA, arnB, vaultURI)
	k, err := keyring.NewStrict(f, nil, arnA, vaultURI)
	if err != nil {
		t.Fatal(err)
	}
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
	if err := k.OnEncrypt(ctx, m); err != nil || len(m.EncryptedDataKeys) != 2 {
		t.Fatalf("%v, %d EDKs", err, len(m.EncryptedDataKeys))
	}
	// An EDK of a key off the allow-list is never tried.
	other := wrapAll(t, f, arnB)
	before := f.Count("Decrypt")
	kmstest.WantKind(t, k.OnDecrypt(ctx, decMaterials(m.Suite), other.EncryptedDataKeys), backends.ErrIncorrectKey, "off the allow-list")
	if f.Count("Decrypt") != before {
		t.Fatal("off the allow-list: the backend was asked")
	}
	_, err = keyring.NewStrict(f, nil)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "no keys")

}

// A message's data key wrapped for an AWS KMS key and a Vault key through one
// multi-keyring; here both services are one in-memory fake.
func ExampleNewMulti() {
	ctx := context.Background()
	svc := kmstest.New(arnA, vaultURI)
	gen, _ := keyring.NewBackend(svc, arnA, nil)
	vault, _ := keyring.NewBackend(svc, vaultURI, nil)
	mk, _ := keyring.NewMulti(gen, vault)

	m := &envelope.EncryptionMaterials{Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: map[string]string{"tenant": "42"}}
	if err := mk.OnEncrypt(ctx, m); err != nil {
		fmt.Println(err)
		return
	}
	for _, e := range m.EncryptedDataKeys {
		fmt.Println(e.ProviderID, string(e.ProviderInfo))
	}
	d := &envelope.DecryptionMaterials{Suite: m.Suite, EncryptionContext: m.EncryptionContext}
	err := vault.OnDecrypt(ctx, d, m.EncryptedDataKeys)
	fmt.Println(err == nil && bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey))
	// Output:
	// aws-kms arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab
	// keyport:vault vault://transit/orders
	// true
}
