package keyring_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/kmstest"
)

// TestBackendKnownKeyDataKeys covers the data keys a keyring recognises as its
// own without parsing them (its canonical key ARN under provider aws-kms): a
// damaged one before a good one is an error kept and skipped; the same ARN
// under another provider ID, or another key's ARN, is never sent to the backend;
// and with no good one the errors say why.
func TestBackendKnownKeyDataKeys(t *testing.T) {
	ctx := context.Background()
	svc := local.New()
	defer svc.Close()
	c := svc.Client(local.Identity{Account: "111122223333"})
	key, err := c.CreateKey(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.CreateKey(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A bare key ID: the keyring learns the canonical ARN from its first call.
	k := mustBackend(t, c, key.KeyMetadata.KeyID, nil)
	s := envelope.SuiteAES256GCMHKDFSHA512CommitKey
	m := encMaterials(s)
	if err := k.OnEncrypt(ctx, m); err != nil {
		t.Fatal(err)
	}
	good := m.EncryptedDataKeys[0]
	if good.ProviderID != keyring.ProviderAWSKMS || string(good.ProviderInfo) != key.KeyMetadata.Arn {
		t.Fatalf("provider %q info %q, want aws-kms and the key ARN", good.ProviderID, good.ProviderInfo)
	}
	damaged := good
	damaged.Ciphertext = bytes.Clone(good.Ciphertext)
	damaged.Ciphertext[len(damaged.Ciphertext)-1] ^= 1
	otherProvider := good
	otherProvider.ProviderID = "aws-kms-x"
	otherKey := good
	otherKey.ProviderInfo = []byte(other.KeyMetadata.Arn)

	d := decMaterials(s)
	if err := k.OnDecrypt(ctx, d, []envelope.EncryptedDataKey{otherProvider, otherKey, damaged, good}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d.PlaintextDataKey, m.PlaintextDataKey) {
		t.Fatal("wrong data key")
	}
	d = decMaterials(s)
	err = k.OnDecrypt(ctx, d, []envelope.EncryptedDataKey{otherProvider, otherKey, damaged})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "only a damaged data key of the keyring's")
	if d.PlaintextDataKey != nil {
		t.Fatal("only a damaged data key of the keyring's: a data key is set")
	}
	d = decMaterials(s)
	err = k.OnDecrypt(ctx, d, []envelope.EncryptedDataKey{otherProvider, otherKey})
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "no data key of the keyring's")
	if d.PlaintextDataKey != nil {
		t.Fatal("no data key of the keyring's: a data key is set")
	}
	// A keyring of the other key does not take this key's data key.
	k2 := mustBackend(t, c, other.KeyMetadata.Arn, nil)
	err = k2.OnDecrypt(ctx, decMaterials(s), []envelope.EncryptedDataKey{good})
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "another key's keyring")

}
