package local_test

import (
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
)

// FuzzDecrypt feeds arbitrary blobs to Decrypt and ReEncrypt: they never panic,
// every failure is a *backends.Error of the taxonomy, and only the one genuine
// blob decrypts.
func FuzzDecrypt(f *testing.F) {
	svc := local.New()
	defer svc.Close()
	c := svc.Client(local.Identity{Account: acctA})
	k, err := c.CreateKey(bg, nil)
	if err != nil {
		f.Fatal(err)
	}
	out, err := c.Encrypt(bg, &backends.EncryptInput{KeyID: k.KeyMetadata.KeyID, Plaintext: []byte("pt"), EncryptionContext: map[string]string{"a": "b"}})
	if err != nil {
		f.Fatal(err)
	}
	genuine := string(out.CiphertextBlob)
	f.Add(out.CiphertextBlob, "b")
	f.Add([]byte{0x6B, 1, 0, 0}, "")
	f.Fuzz(func(t *testing.T, blob []byte, v string) {
		ec := map[string]string{"a": v}
		dec, err := c.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
		if err == nil {
			if string(blob) != genuine || v != "b" || string(dec.Plaintext) != "pt" {
				t.Fatalf("decrypted a blob that is not the genuine one")
			}
		} else if backends.KindOf(err) == nil {
			t.Fatalf("untyped error %v", err)
		}
		if _, err := c.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec, DestinationKeyID: k.KeyMetadata.KeyID}); err != nil && backends.KindOf(err) == nil {
			t.Fatalf("untyped error %v", err)
		}
	})
}
