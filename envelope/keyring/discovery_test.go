package keyring_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/kmstest"
)

// wrapAll encrypts a data key for each key in turn (the first generates it).
func wrapAll(t testing.TB, f backends.Backend, keys ...string) *envelope.EncryptionMaterials {
	t.Helper()
	m := encMaterials(envelope.SuiteAES256GCMHKDFSHA512CommitKey)
	for _, k := range keys {
		if err := mustBackend(t, f, k, nil).OnEncrypt(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

func TestDiscoveryFilter(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA, arnB, vaultURI)
	for _, tc := range []struct {
		name   string
		filter *keyring.DiscoveryFilter
		edks   []string // keys that wrap, in header order
		want   string   // key whose EDK must be unwrapped ("" = none)
	}{
		{"no filter, first EDK", nil, []string{arnB, arnA}, arnB},
		{"account filter skips B", &keyring.DiscoveryFilter{Partition: "aws", Accounts: []string{"111122223333"}}, []string{arnB, arnA}, arnA},
		{"account filter, nothing", &keyring.DiscoveryFilter{Partition: "aws", Accounts: []string{"999999999999"}}, []string{arnB, arnA}, ""},
		{"partition filter", &keyring.DiscoveryFilter{Partition: "aws-cn", Accounts: []string{"111122223333"}}, []string{arnA}, ""},
		{"scheme filter excludes ARNs", &keyring.DiscoveryFilter{Schemes: []string{"vault"}}, []string{arnA, vaultURI}, vaultURI},
		{"account filter excludes URIs", &keyring.DiscoveryFilter{Partition: "aws", Accounts: []string{"111122223333"}}, []string{vaultURI}, ""},
	} {
		m := wrapAll(t, f, tc.edks...)
		k, err := keyring.NewDiscovery(f, &keyring.DiscoveryOptions{Filter: tc.filter})
		if err != nil {
			t.Fatal(err)
		}
		before := f.Count("Decrypt")
		d := decMaterials(m.Suite)
		err = k.OnDecrypt(ctx, d, m.EncryptedDataKeys)
		if tc.want == "" {
			kmstest.WantKind(t, err, backends.ErrIncorrectKey, tc.name)
			if d.PlaintextDataKey != nil || f.Count("Decrypt") != before {
				t.Errorf("%s: a data key set (%v) after %d backend calls", tc.name, d.PlaintextDataKey != nil, f.Count("Decrypt")-before)
			}
			continue
		}
		if err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if f.Count("Decrypt") != before+1 {
			t.Errorf("%s: %d backend calls, want 1", tc.name, f.Count("Decrypt")-before)
		}
	}
}

func TestDiscoveryCollectsErrorsAndRefusesBadEDKs(t *testing.T) {
	ctx := context.Background()
	f := kmstest.New(arnA, arnB)
	m := wrapAll(t, f, arnA, arnB)
	f.SetState(arnA, backends.KeyStateDisabled)
	k, err := keyring.NewDiscovery(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A fails (disabled), B works.
	d := decMaterials(m.Suite)
	if err := k.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
		t.Fatalf("fallback to the second EDK: %v", err)
	}
	// Both fail differently: the error is of one kind (IncorrectKey, as no kind
	// is common to them) and says why each data key failed.
	f.SetState(arnB, backends.KeyStateDisabled)
	f.SetState(arnA, backends.KeyStateEnabled)
	bad := append([]envelope.EncryptedDataKey(nil), m.EncryptedDataKeys...)
	bad[0].Ciphertext = bytes.Clone(bad[0].Ciphertext)
	bad[0].Ciphertext[20] ^= 0x80
	err = k.OnDecrypt(ctx, decMaterials(m.Suite), bad)
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "two data keys failing differently")
	if err == nil || !strings.Contains(err.Error(), backends.ErrInvalidCiphertext.Name()) || !strings.Contains(err.Error(), backends.ErrDisabled.Name()) {
		t.Fatalf("collected errors do not say why each data key failed: %v", err)
	}
	// An aws-kms EDK whose provider info is an alias ARN fails the call.
	alias := []envelope.EncryptedDataKey{{ProviderID: "aws-kms", ProviderInfo: []byte("arn:aws:kms:us-east-1:111122223333:alias/x"), Ciphertext: []byte{1}}}
	kmstest.WantKind(t, k.OnDecrypt(ctx, decMaterials(m.Suite), alias), backends.ErrInvalidCiphertext, "alias ARN as provider info")
	// EDKs of other providers (raw keyrings) are ignored.
	raw := []envelope.EncryptedDataKey{{ProviderID: "my-namespace", ProviderInfo: []byte("k"), Ciphertext: []byte{1}}}
	kmstest.WantKind(t, k.OnDecrypt(ctx, decMaterials(m.Suite), raw), backends.ErrIncorrectKey, "raw EDK")
	kmstest.WantKind(t, k.OnEncrypt(ctx, encMaterials(m.Suite)), backends.ErrUnsupported, "discovery encrypt")
}

func TestDiscoveryMRKRegion(t *testing.T) {
	ctx := context.Background()
	arnEastSingle := arnA
	f := kmstest.New(mrkEast, mrkWest, arnEastSingle)
	m := wrapAll(t, f, mrkEast)
	k, err := keyring.NewDiscovery(f, &keyring.DiscoveryOptions{MRKRegion: "us-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	f.SetState(mrkEast, backends.KeyStateDisabled) // only the west replica may be used
	d := decMaterials(m.Suite)
	if err := k.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
		t.Fatalf("MRK replica in the keyring's region: %v", err)
	}
	// A single-Region key in another region is not tried.
	m = wrapAll(t, f, arnEastSingle)
	before := f.Count("Decrypt")
	kmstest.WantKind(t, k.OnDecrypt(ctx, decMaterials(m.Suite), m.EncryptedDataKeys), backends.ErrIncorrectKey, "single-Region key in another region")
	if f.Count("Decrypt") != before {
		t.Fatal("single-Region key in another region: the backend was asked")
	}
}

func TestNewDiscoveryValidatesFilter(t *testing.T) {
	f := kmstest.New()
	for _, bad := range []*keyring.DiscoveryFilter{
		{},
		{Partition: "aws"},
		{Accounts: []string{"111122223333"}},
		{Partition: "aws", Accounts: []string{""}},
	} {
		_, err := keyring.NewDiscovery(f, &keyring.DiscoveryOptions{Filter: bad})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, fmt.Sprintf("filter %+v", bad))
	}
	_, err := keyring.NewDiscovery(nil, nil)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "nil backend")

}

// FuzzBackendKeyringsOnDecrypt feeds arbitrary encrypted data keys to the
// discovery, strict and multi keyrings: no panic, every error typed, and a data
// key only from a real wrapping.
func FuzzBackendKeyringsOnDecrypt(f *testing.F) {
	fk := kmstest.New(arnA, vaultURI, mrkWest)
	m := wrapAll(f, fk, arnA, vaultURI)
	for _, e := range m.EncryptedDataKeys {
		f.Add(e.ProviderID, e.ProviderInfo, e.Ciphertext)
	}
	f.Add("aws-kms", []byte(mrkEast), []byte{0, 1, 2})
	f.Add("keyport:", []byte("keyport:"), []byte{})
	f.Add("aws-kms", []byte("arn:aws:kms:us-east-1:111122223333:alias/x"), []byte{1})
	disc, _ := keyring.NewDiscovery(fk, &keyring.DiscoveryOptions{MRKRegion: "us-west-2"})
	strict, _ := keyring.NewStrict(fk, &keyring.BackendOptions{MRKAware: true}, mrkWest, arnA, vaultURI)
	multi, _ := keyring.NewMulti(nil, disc, strict)
	f.Fuzz(func(t *testing.T, pid string, info, ct []byte) {
		edks := append([]envelope.EncryptedDataKey{{ProviderID: pid, ProviderInfo: info, Ciphertext: ct}}, m.EncryptedDataKeys[:1]...)
		for _, k := range []envelope.Keyring{disc, strict, multi} {
			for _, list := range [][]envelope.EncryptedDataKey{edks[:1], edks} {
				d := decMaterials(m.Suite)
				err := k.OnDecrypt(context.Background(), d, list)
				if err != nil {
					if backends.KindOf(err) == nil {
						t.Fatalf("untyped error %v", err)
					}
					if d.PlaintextDataKey != nil {
						t.Fatal("data key set on error")
					}
					continue
				}
				if len(d.PlaintextDataKey) != 32 {
					t.Fatalf("%d-byte data key", len(d.PlaintextDataKey))
				}
			}
		}
	})
}
