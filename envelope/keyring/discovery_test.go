package keyring_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
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
	f := newFakeKMS(arnA, arnB, vaultURI)
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
		before := f.count("Decrypt")
		d := decMaterials(m.Suite)
		err = k.OnDecrypt(ctx, d, m.EncryptedDataKeys)
		if tc.want == "" {
			if !errors.Is(err, backends.ErrIncorrectKey) || d.PlaintextDataKey != nil || f.count("Decrypt") != before {
				t.Errorf("%s: got %v after %d backend calls", tc.name, err, f.count("Decrypt")-before)
			}
			continue
		}
		if err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
			t.Errorf("%s: %v", tc.name, err)
		}
		if f.count("Decrypt") != before+1 {
			t.Errorf("%s: %d backend calls, want 1", tc.name, f.count("Decrypt")-before)
		}
	}
}

func TestDiscoveryCollectsErrorsAndRefusesBadEDKs(t *testing.T) {
	ctx := context.Background()
	f := newFakeKMS(arnA, arnB)
	m := wrapAll(t, f, arnA, arnB)
	f.disabled[arnA] = true
	k, err := keyring.NewDiscovery(f, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A fails (disabled), B works.
	d := decMaterials(m.Suite)
	if err := k.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
		t.Fatalf("fallback to the second EDK: %v", err)
	}
	// Both fail differently: both kinds are kept.
	f.disabled[arnB] = true
	delete(f.disabled, arnA)
	bad := append([]envelope.EncryptedDataKey(nil), m.EncryptedDataKeys...)
	bad[0].Ciphertext = bytes.Clone(bad[0].Ciphertext)
	bad[0].Ciphertext[20] ^= 0x80
	err = k.OnDecrypt(ctx, decMaterials(m.Suite), bad)
	if !errors.Is(err, backends.ErrInvalidCiphertext) || !errors.Is(err, backends.ErrDisabled) {
		t.Fatalf("collected errors: %v", err)
	}
	// An aws-kms EDK whose provider info is an alias ARN fails the call.
	alias := []envelope.EncryptedDataKey{{ProviderID: "aws-kms", ProviderInfo: []byte("arn:aws:kms:us-east-1:111122223333:alias/x"), Ciphertext: []byte{1}}}
	if err := k.OnDecrypt(ctx, decMaterials(m.Suite), alias); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Fatalf("alias ARN as provider info: %v", err)
	}
	// EDKs of other providers (raw keyrings) are ignored.
	raw := []envelope.EncryptedDataKey{{ProviderID: "my-namespace", ProviderInfo: []byte("k"), Ciphertext: []byte{1}}}
	if err := k.OnDecrypt(ctx, decMaterials(m.Suite), raw); !errors.Is(err, backends.ErrIncorrectKey) {
		t.Fatalf("raw EDK: %v", err)
	}
	if err := k.OnEncrypt(ctx, encMaterials(m.Suite)); !errors.Is(err, backends.ErrUnsupported) {
		t.Fatalf("discovery encrypt: %v", err)
	}
}

func TestDiscoveryMRKRegion(t *testing.T) {
	ctx := context.Background()
	arnEastSingle := arnA
	f := newFakeKMS(mrkEast, mrkWest, arnEastSingle)
	m := wrapAll(t, f, mrkEast)
	k, err := keyring.NewDiscovery(f, &keyring.DiscoveryOptions{MRKRegion: "us-west-2"})
	if err != nil {
		t.Fatal(err)
	}
	f.disabled[mrkEast] = true // only the west replica may be used
	d := decMaterials(m.Suite)
	if err := k.OnDecrypt(ctx, d, m.EncryptedDataKeys); err != nil || !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
		t.Fatalf("MRK replica in the keyring's region: %v", err)
	}
	// A single-Region key in another region is not tried.
	m = wrapAll(t, f, arnEastSingle)
	before := f.count("Decrypt")
	if err := k.OnDecrypt(ctx, decMaterials(m.Suite), m.EncryptedDataKeys); !errors.Is(err, backends.ErrIncorrectKey) || f.count("Decrypt") != before {
		t.Fatalf("single-Region key in another region: %v", err)
	}
}

func TestNewDiscoveryValidatesFilter(t *testing.T) {
	f := newFakeKMS()
	for _, bad := range []*keyring.DiscoveryFilter{
		{},
		{Partition: "aws"},
		{Accounts: []string{"111122223333"}},
		{Partition: "aws", Accounts: []string{""}},
	} {
		if _, err := keyring.NewDiscovery(f, &keyring.DiscoveryOptions{Filter: bad}); !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("filter %+v: %v", bad, err)
		}
	}
	if _, err := keyring.NewDiscovery(nil, nil); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("nil backend: %v", err)
	}
}

// FuzzBackendKeyringsOnDecrypt feeds arbitrary encrypted data keys to the
// discovery, strict and multi keyrings: no panic, every error typed, and a data
// key only from a real wrapping.
func FuzzBackendKeyringsOnDecrypt(f *testing.F) {
	fk := newFakeKMS(arnA, vaultURI, mrkWest)
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
