package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
)

func TestMultiAcrossProviders(t *testing.T) {
	ctx := context.Background()
	aws := newFakeKMS(arnA, arnB)
	vault := newFakeKMS(vaultURI)
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
	aws.disabled[arnA] = true
	aws.disabled[arnB] = true
	d := decMaterials(m.Suite)
	if err := mk.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
		t.Fatalf("fallthrough to the vault key: %v", err)
	}
	vault.disabled[vaultURI] = true
	err = mk.OnDecrypt(ctx, decMaterials(m.Suite), m.EncryptedDataKeys)
	var be *backends.Error
	if !errors.Is(err, backends.ErrDisabled) || !errors.As(err, &be) || be.Kind != backends.ErrDisabled {
		t.Fatalf("all disabled: %v", err)
	}
	// A data key already set is left alone.
	d = decMaterials(m.Suite)
	d.PlaintextDataKey = []byte("already")
	if err := mk.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || string(d.PlaintextDataKey) != "already" {
		t.Fatalf("set data key: %v", err)
	}
}

func TestMultiEncryptRules(t *testing.T) {
	ctx := context.Background()
	f := newFakeKMS(arnA, arnB)
	kA, kB := mustBackend(t, f, arnA, nil), mustBackend(t, f, arnB, nil)
	if _, err := keyring.NewMulti(nil); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("empty multi: %v", err)
	}
	if _, err := keyring.NewMulti(kA, nil); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("nil child: %v", err)
	}
	withGen, _ := keyring.NewMulti(kA, kB)
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
	m.PlaintextDataKey = make([]byte, 32)
	if err := withGen.OnEncrypt(ctx, m); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("generator with a data key present: %v", err)
	}
	childrenOnly, _ := keyring.NewMulti(nil, kA, kB)
	if err := childrenOnly.OnEncrypt(ctx, encMaterials(m.Suite)); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("no generator, no data key: %v", err)
	}
	m = encMaterials(m.Suite)
	m.PlaintextDataKey = bytes.Repeat([]byte{9}, 32)
	if err := childrenOnly.OnEncrypt(ctx, m); err != nil || len(m.EncryptedDataKeys) != 2 {
		t.Errorf("children wrap a given data key: %v, %d EDKs", err, len(m.EncryptedDataKeys))
	}
	// A failing child fails the whole and wipes the generated data key.
	f.disabled[arnB] = true
	m = encMaterials(m.Suite)
	if err := withGen.OnEncrypt(ctx, m); !errors.Is(err, backends.ErrDisabled) || m.PlaintextDataKey != nil {
		t.Errorf("failing child: %v, data key kept: %v", err, m.PlaintextDataKey != nil)
	}
}

func TestNewStrict(t *testing.T) {
	ctx := context.Background()
	f := newFakeKMS(arnA, arnB, vaultURI)
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
	before := f.count("Decrypt")
	if err := k.OnDecrypt(ctx, decMaterials(m.Suite), other.EncryptedDataKeys); !errors.Is(err, backends.ErrIncorrectKey) || f.count("Decrypt") != before {
		t.Fatalf("off the allow-list: %v", err)
	}
	if _, err := keyring.NewStrict(f, nil); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("no keys: %v", err)
	}
}

// A message's data key wrapped for an AWS KMS key and a Vault key through one
// multi-keyring; here both services are one in-memory fake.
func ExampleNewMulti() {
	ctx := context.Background()
	svc := newFakeKMS(arnA, vaultURI)
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
