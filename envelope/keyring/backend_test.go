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
	"github.com/keyport/keyport/internal/kmstest"
)

const (
	arnA     = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	arnB     = "arn:aws:kms:us-east-1:444455556666:key/0987dcba-09fe-87dc-65ba-ab0987654321"
	mrkEast  = "arn:aws:kms:us-east-1:111122223333:key/mrk-1234567890abcdef1234567890abcdef"
	mrkWest  = "arn:aws:kms:us-west-2:111122223333:key/mrk-1234567890abcdef1234567890abcdef"
	vaultURI = "vault://transit/orders"
)

var ec = map[string]string{"purpose": "test", "Ünïcode": "✓", "B": "upper"}

func encMaterials(s envelope.SuiteID) *envelope.EncryptionMaterials {
	return &envelope.EncryptionMaterials{Suite: s, EncryptionContext: ec}
}

func decMaterials(s envelope.SuiteID) *envelope.DecryptionMaterials {
	return &envelope.DecryptionMaterials{Suite: s, EncryptionContext: ec}
}

func mustBackend(t testing.TB, b backends.Backend, id string, o *keyring.BackendOptions) *keyring.Backend {
	t.Helper()
	k, err := keyring.NewBackend(b, id, o)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestBackendRoundTripProviderIDs(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		key, provider string
		generator     bool
	}{
		{arnA, "aws-kms", true},
		{arnA, "aws-kms", false},
		{vaultURI, "keyport:vault", true},
		{"VAULT://transit/orders", "keyport:vault", false},
	} {
		f := kmstest.New(tc.key)
		var b backends.Backend = f
		if !tc.generator {
			b = f.Only(backends.Capabilities{})
		}
		k := mustBackend(t, b, tc.key, nil)
		for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES128GCMIV12Tag16HKDFSHA256} {
			m := encMaterials(s)
			if err := k.OnEncrypt(ctx, m); err != nil {
				t.Fatalf("%s: %v", tc.key, err)
			}
			if len(m.PlaintextDataKey) != s.DataKeyLen() || len(m.EncryptedDataKeys) != 1 {
				t.Fatalf("%s: data key %d bytes, %d EDKs", tc.key, len(m.PlaintextDataKey), len(m.EncryptedDataKeys))
			}
			edk := m.EncryptedDataKeys[0]
			if edk.ProviderID != tc.provider || string(edk.ProviderInfo) != tc.key {
				t.Fatalf("EDK names %q %q, want %q %q", edk.ProviderID, edk.ProviderInfo, tc.provider, tc.key)
			}
			d := decMaterials(s)
			if err := k.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
				t.Fatal("unwrapped a different data key")
			}
		}
		if got := f.Count("GenerateDataKey"); (got > 0) != tc.generator {
			t.Errorf("%s: GenerateDataKey called %d times, generator capability %v", tc.key, got, tc.generator)
		}
	}
}

func TestBackendAliasLearnsCanonicalID(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA)
	f.AddAlias("alias/orders", arnA)
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
	if err := mustBackend(t, f, "alias/orders", nil).OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	if string(m.EncryptedDataKeys[0].ProviderInfo) != arnA {
		t.Fatalf("provider info %q, want the key ARN", m.EncryptedDataKeys[0].ProviderInfo)
	}
	// A fresh keyring on the alias recognises the EDK through DescribeKey.
	d := decMaterials(m.Suite)
	if err := mustBackend(t, f, "alias/orders", nil).OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil {
		t.Fatal(err)
	}
	if f.Count("DescribeKey") != 1 || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
		t.Fatalf("DescribeKey called %d times", f.Count("DescribeKey"))
	}
	// Without a KeyDescriber the alias cannot be matched: strict means not tried.
	d = decMaterials(m.Suite)
	err := mustBackend(t, f.Only(backends.Capabilities{}), "alias/orders", nil).OnDecrypt(ctx, d, m.EncryptedDataKeys)
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "an alias keyring over a driver that cannot describe keys")
	if d.PlaintextDataKey != nil {
		t.Fatal("an alias keyring over a driver that cannot describe keys set a data key")
	}
}

func TestBackendStrictTriesOnlyItsKeys(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA, arnB)
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
	if err := mustBackend(t, f, arnA, nil).OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	before := f.Count("Decrypt")
	d := decMaterials(m.Suite)
	err := mustBackend(t, f, arnB, nil).OnDecrypt(ctx, d, m.EncryptedDataKeys)
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "a keyring of B given only A's data key")
	if d.PlaintextDataKey != nil {
		t.Fatal("a keyring of B set a data key from A's")
	}
	if f.Count("Decrypt") != before {
		t.Fatal("a strict keyring asked the backend about another key's EDK")
	}
}

func TestBackendKeepsBackendErrors(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA)
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384)
	k := mustBackend(t, f, arnA, nil)
	if err := k.OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	// Wrong encryption context: the backend's InvalidCiphertext comes through.
	d := &envelope.DecryptionMaterials{Suite: m.Suite, EncryptionContext: map[string]string{"purpose": "other"}}
	kmstest.WantKind(t, k.OnDecrypt(ctx, d, m.EncryptedDataKeys), backends.ErrInvalidCiphertext, "wrong context")
	if d.PlaintextDataKey != nil {
		t.Fatal("wrong context: a data key is set")
	}
	// Disabled key: the backend's Disabled comes through, for every EDK tried.
	f.SetState(arnA, backends.KeyStateDisabled)
	edks := append(append([]envelope.EncryptedDataKey(nil), m.EncryptedDataKeys...), m.EncryptedDataKeys...)
	kmstest.WantKind(t, k.OnDecrypt(ctx, decMaterials(m.Suite), edks), backends.ErrDisabled, "disabled")
	f.SetState(arnA, backends.KeyStateEnabled)
	// A mangled blob.
	bad := append([]envelope.EncryptedDataKey(nil), m.EncryptedDataKeys...)
	bad[0].Ciphertext = append([]byte(nil), bad[0].Ciphertext...)
	bad[0].Ciphertext[len(bad[0].Ciphertext)-1] ^= 1
	kmstest.WantKind(t, k.OnDecrypt(ctx, decMaterials(m.Suite), bad), backends.ErrInvalidCiphertext, "flipped bit")
	// Encrypt errors come through as they are.
	f.SetState(arnA, backends.KeyStateDisabled)
	kmstest.WantKind(t, k.OnEncrypt(ctx, encMaterials(m.Suite)), backends.ErrDisabled, "encrypt with disabled key")
}

func TestBackendRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA)
	_, err := keyring.NewBackend(nil, arnA, nil)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "nil backend")
	_, err = keyring.NewBackend(f, "not a key", nil)
	kmstest.WantKind(t, err, backends.ErrNotFound, "bad key reference")
	k := mustBackend(t, f, arnA, nil)
	kmstest.WantKind(t, k.OnEncrypt(ctx, &envelope.EncryptionMaterials{Suite: 0x9999}), backends.ErrInvalidArgument, "unknown suite")
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
	m.PlaintextDataKey = make([]byte, 16)
	kmstest.WantKind(t, k.OnEncrypt(ctx, m), backends.ErrInvalidArgument, "short data key")
	// An aws-kms EDK whose provider info is not an ARN, and a keyport EDK whose
	// scheme does not fit, are refused as invalid ciphertext by a matching keyring.
	for _, bogus := range []envelope.EncryptedDataKey{
		{ProviderID: "keyport:gcpkms", ProviderInfo: []byte(arnA), Ciphertext: []byte{1}},
		{ProviderID: "keyport:gcpkms", ProviderInfo: []byte(vaultURI), Ciphertext: []byte{1}},
	} {
		kr := mustBackend(t, f, string(bogus.ProviderInfo), nil)
		err := kr.OnDecrypt(ctx, decMaterials(m.Suite), []envelope.EncryptedDataKey{bogus})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, fmt.Sprintf("EDK %s %s", bogus.ProviderID, bogus.ProviderInfo))
	}
	// The data key length from the backend is checked.
	m = encMaterials(envelope.SuiteAES128GCMIV12Tag16HKDFSHA256)
	if err := k.OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	err = k.OnDecrypt(ctx, decMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey), m.EncryptedDataKeys)
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "16-byte key for a 32-byte suite")
	// A key that cannot be named in a header.
	f.AddKey("1234abcd-12ab-34cd-56ef-1234567890ab")
	f.AddAlias("alias/bare", "1234abcd-12ab-34cd-56ef-1234567890ab")
	err = mustBackend(t, f.Only(backends.Capabilities{}), "alias/bare", nil).OnEncrypt(ctx, encMaterials(m.Suite))
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "bare key ID as canonical")
}

func TestBackendMRKAware(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(mrkEast, mrkWest)
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
	if err := mustBackend(t, f, mrkEast, nil).OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	d := decMaterials(m.Suite)
	kmstest.WantKind(t, mustBackend(t, f, mrkWest, nil).OnDecrypt(ctx, d, m.EncryptedDataKeys), backends.ErrIncorrectKey, "MRK-unaware keyring given a replica's EDK")
	d = decMaterials(m.Suite)
	if err := mustBackend(t, f, mrkWest, &keyring.BackendOptions{MRKAware: true}).OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
		t.Fatal("wrong data key")
	}
}

func TestProviderID(t *testing.T) {
	for in, want := range map[string]string{arnA: "aws-kms", vaultURI: "keyport:vault", "gcpkms://projects/p/locations/l/keyRings/r/cryptoKeys/k": "keyport:gcpkms", "pkcs11:token=t;object=o": "keyport:pkcs11"} {
		if got, err := keyring.ProviderID(in); err != nil || got != want {
			t.Errorf("ProviderID(%s) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"alias/x", "arn:aws:kms:us-east-1:111122223333:alias/x", "1234abcd-12ab-34cd-56ef-1234567890ab", ""} {
		_, err := keyring.ProviderID(in)
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, fmt.Sprintf("ProviderID(%q)", in))

	}
}

func TestBackendConcurrentUse(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA, vaultURI)
	f.AddAlias("alias/orders", arnA)
	alias := mustBackend(t, f, "alias/orders", nil)
	mk, err := keyring.NewMulti(alias, mustBackend(t, f, vaultURI, nil))
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 16)
	for range 16 {
		go func() {
			m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
			if err := mk.OnEncrypt(ctx, m); err != nil {
				errs <- err
				return
			}
			d := decMaterials(m.Suite)
			if err := alias.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil {
				errs <- err
				return
			}
			if !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
				errs <- errors.New("wrong data key")
				return
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

func TestBackendThroughFrontUsesDriverCapabilities(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA)
	f.AddAlias("alias/orders", arnA)
	r := backends.NewFront(f)
	if err := r.RegisterAccount("111122223333", "", f); err != nil {
		t.Fatal(err)
	}
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
	if err := mustBackend(t, r, arnA, nil).OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	if f.Count("GenerateDataKey") != 1 {
		t.Fatalf("GenerateDataKey called %d times through the Front", f.Count("GenerateDataKey"))
	}
	// An alias keyring over the Front recognises the key through the driver's DescribeKey.
	d := decMaterials(m.Suite)
	if err := mustBackend(t, r, "alias/orders", nil).OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
		t.Fatalf("alias through the Front: %v", err)
	}
}

// TestBackendEveryKeyFormRoundTrips encrypts with a keyring over each form of one
// key and decrypts with a keyring over each other form: the header always names
// the key ARN, so every pair works.
func TestBackendEveryKeyFormRoundTrips(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA)
	f.AddAlias("alias/orders", arnA)
	f.AddAlias("awskms:///1234abcd-12ab-34cd-56ef-1234567890ab", arnA) // the driver reads its own URLs
	r := backends.NewFront(f)
	if err := r.RegisterAccount("111122223333", "", f); err != nil {
		t.Fatal(err)
	}
	if err := r.Register("awskms", f); err != nil {
		t.Fatal(err)
	}
	forms := []string{arnA, "alias/orders", "aws-kms://" + arnA, "awskms:///" + arnA, "awskms:///1234abcd-12ab-34cd-56ef-1234567890ab"}
	for _, enc := range forms {
		m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
		if err := mustBackend(t, r, enc, nil).OnEncrypt(ctx, m); err != nil {
			t.Fatalf("OnEncrypt by %s: %v", enc, err)
		}
		if got := string(m.EncryptedDataKeys[0].ProviderInfo); got != arnA {
			t.Errorf("OnEncrypt by %s: the header names %q, want the key ARN", enc, got)
		}
		for _, dec := range forms {
			d := decMaterials(m.Suite)
			if err := mustBackend(t, r, dec, nil).OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
				t.Errorf("encrypted by %s, decrypted by %s: %v", enc, dec, err)
			}
		}
	}
}
