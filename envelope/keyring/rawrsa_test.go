package keyring_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/kmstest"
)

func TestRawRSAAllPaddings(t *testing.T) {
	ctx := context.Background()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for _, p := range []keyring.RSAPadding{keyring.PKCS1, keyring.OAEPSHA1, keyring.OAEPSHA256, keyring.OAEPSHA384, keyring.OAEPSHA512} {
		enc, err := keyring.NewRawRSA("ns", "rsa", &priv.PublicKey, nil, p)
		if err != nil {
			t.Fatal(err)
		}
		em := &envelope.EncryptionMaterials{Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey}
		if err := enc.OnEncrypt(ctx, em); err != nil {
			t.Fatal(err)
		}
		edk := em.EncryptedDataKeys[0]
		if edk.ProviderID != "ns" || string(edk.ProviderInfo) != "rsa" || len(edk.Ciphertext) != 256 {
			t.Fatalf("padding %d: EDK %q %q %d", p, edk.ProviderID, edk.ProviderInfo, len(edk.Ciphertext))
		}
		dec, _ := keyring.NewRawRSA("ns", "rsa", nil, priv, p)
		dm := &envelope.DecryptionMaterials{Suite: em.Suite}
		if err := dec.OnDecrypt(ctx, dm, em.EncryptedDataKeys); err != nil || !bytes.Equal(dm.PlaintextDataKey, em.PlaintextDataKey) {
			t.Fatalf("padding %d: unwrap %v", p, err)
		}
		// Another padding, another private key, or an encrypt-only keyring fail.
		wrongPad := keyring.OAEPSHA256
		if p == wrongPad {
			wrongPad = keyring.OAEPSHA1
		}
		bad1, _ := keyring.NewRawRSA("ns", "rsa", nil, priv, wrongPad)
		bad2, _ := keyring.NewRawRSA("ns", "rsa", nil, other, p)
		for i, k := range []*keyring.RawRSA{bad1, bad2} {
			dm := &envelope.DecryptionMaterials{Suite: em.Suite}
			err := k.OnDecrypt(ctx, dm, em.EncryptedDataKeys)
			kmstest.WantKind(t, err, backends.ErrIncorrectKey, fmt.Sprintf("padding %d, wrong keyring %d", p, i))
			if dm.PlaintextDataKey != nil {
				t.Fatalf("padding %d, wrong keyring %d: a data key is set", p, i)
			}
		}
		err = enc.OnDecrypt(ctx, &envelope.DecryptionMaterials{Suite: em.Suite}, em.EncryptedDataKeys)
		kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "an encrypt-only keyring decrypting")
	}
	// End to end, with a message.
	kr, _ := keyring.NewRawRSA("ns", "rsa", nil, priv, keyring.OAEPSHA256)
	msg, err := envelope.Encrypt(ctx, []byte("hi"), envelope.EncryptOptions{Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	if pt, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: kr}); err != nil || string(pt) != "hi" {
		t.Fatalf("message: %v", err)
	}
	_, err = keyring.NewRawRSA("ns", "rsa", nil, nil, keyring.PKCS1)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "a keyring without a key")

}
