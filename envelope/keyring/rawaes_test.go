package keyring_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/kmstest"
)

func TestRawAESRoundTripAndLayout(t *testing.T) {
	ctx := context.Background()
	for _, n := range []int{16, 24, 32} {
		kr, err := keyring.NewRawAES("ns", "name", bytes.Repeat([]byte{7}, n))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []envelope.SuiteID{envelope.SuiteAES128GCMIV12Tag16NoKDF, envelope.SuiteAES192GCMIV12Tag16HKDFSHA256, envelope.SuiteAES256GCMHKDFSHA512CommitKey} {
			ec := map[string]string{"a": "1", "B": "2"}
			em := &envelope.EncryptionMaterials{Suite: s, EncryptionContext: ec}
			if err := kr.OnEncrypt(ctx, em); err != nil {
				t.Fatal(err)
			}
			if len(em.PlaintextDataKey) != s.DataKeyLen() || len(em.EncryptedDataKeys) != 1 {
				t.Fatalf("AES-%d %04x: data key %d bytes, %d EDKs", n*8, uint16(s), len(em.PlaintextDataKey), len(em.EncryptedDataKeys))
			}
			edk := em.EncryptedDataKeys[0]
			info := edk.ProviderInfo
			if edk.ProviderID != "ns" || string(info[:4]) != "name" || binary.BigEndian.Uint32(info[4:]) != 128 || binary.BigEndian.Uint32(info[8:]) != 12 || len(info) != 4+8+12 {
				t.Fatalf("provider info layout %x", info)
			}
			if len(edk.Ciphertext) != s.DataKeyLen()+16 {
				t.Fatalf("ciphertext %d bytes", len(edk.Ciphertext))
			}
			// A second keyring wraps the same data key.
			kr2, _ := keyring.NewRawAES("ns", "other", bytes.Repeat([]byte{8}, 32))
			if err := kr2.OnEncrypt(ctx, em); err != nil || len(em.EncryptedDataKeys) != 2 {
				t.Fatalf("second keyring: %v", err)
			}
			for _, k := range []*keyring.RawAES{kr, kr2} {
				dm := &envelope.DecryptionMaterials{Suite: s, EncryptionContext: map[string]string{"B": "2", "a": "1"}}
				if err := k.OnDecrypt(ctx, dm, em.EncryptedDataKeys); err != nil || !bytes.Equal(dm.PlaintextDataKey, em.PlaintextDataKey) {
					t.Fatalf("unwrap: %v", err)
				}
			}
			// Wrong context, wrong key material, other namespace: ErrIncorrectKey.
			for name, c := range map[string]struct {
				k  *keyring.RawAES
				ec map[string]string
			}{
				"context":   {kr, map[string]string{"a": "1"}},
				"material":  {mustAES(t, "ns", "name", bytes.Repeat([]byte{9}, n)), ec},
				"namespace": {mustAES(t, "ns2", "name", bytes.Repeat([]byte{7}, n)), ec},
			} {
				dm := &envelope.DecryptionMaterials{Suite: s, EncryptionContext: c.ec}
				err := c.k.OnDecrypt(ctx, dm, em.EncryptedDataKeys)
				kmstest.WantKind(t, err, backends.ErrIncorrectKey, name)
				if dm.PlaintextDataKey != nil {
					t.Fatalf("%s: a data key is set", name)
				}
			}
		}
	}
}

func mustAES(t *testing.T, ns, name string, key []byte) *keyring.RawAES {
	k, err := keyring.NewRawAES(ns, name, key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestRawAESRejects(t *testing.T) {
	for name, f := range map[string]func() error{
		"key length": func() error { _, err := keyring.NewRawAES("ns", "n", make([]byte, 20)); return err },
		"empty name": func() error { _, err := keyring.NewRawAES("ns", "", make([]byte, 32)); return err },
		"aws-kms":    func() error { _, err := keyring.NewRawAES("aws-kms", "n", make([]byte, 32)); return err },
		"unknown suite": func() error {
			k, _ := keyring.NewRawAES("ns", "n", make([]byte, 32))
			return k.OnEncrypt(context.Background(), &envelope.EncryptionMaterials{Suite: 0x999})
		},
		"bad data key": func() error {
			k, _ := keyring.NewRawAES("ns", "n", make([]byte, 32))
			return k.OnEncrypt(context.Background(), &envelope.EncryptionMaterials{Suite: 0x0478, PlaintextDataKey: []byte{1}})
		},
		"bad utf8 in ec": func() error {
			k, _ := keyring.NewRawAES("ns", "n", make([]byte, 32))
			return k.OnEncrypt(context.Background(), &envelope.EncryptionMaterials{Suite: 0x0478, EncryptionContext: map[string]string{"\xff": ""}})
		},
	} {
		kmstest.WantKind(t, f(), backends.ErrInvalidArgument, name)

	}
}
