package local_test

import (
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
)

func benchSetup(b *testing.B) (*local.Client, string, string, []byte, map[string]string) {
	b.Helper()
	svc := local.New()
	b.Cleanup(func() { svc.Close() })
	c := svc.Client(local.Identity{Account: acctA})
	k1, err := c.CreateKey(bg, nil)
	if err != nil {
		b.Fatal(err)
	}
	k2, err := c.CreateKey(bg, nil)
	if err != nil {
		b.Fatal(err)
	}
	ec := map[string]string{"purpose": "bench", "tenant": "t1"}
	dataKey := make([]byte, 32)
	return c, k1.KeyMetadata.Arn, k2.KeyMetadata.Arn, dataKey, ec
}

// BenchmarkEncrypt encrypts a 32-byte data key with an encryption context.
func BenchmarkEncrypt(b *testing.B) {
	c, k1, _, dk, ec := benchSetup(b)
	in := &backends.EncryptInput{KeyID: k1, Plaintext: dk, EncryptionContext: ec}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Encrypt(bg, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecrypt decrypts a 32-byte data key.
func BenchmarkDecrypt(b *testing.B) {
	c, k1, _, dk, ec := benchSetup(b)
	out, err := c.Encrypt(bg, &backends.EncryptInput{KeyID: k1, Plaintext: dk, EncryptionContext: ec})
	if err != nil {
		b.Fatal(err)
	}
	in := &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec}
	b.ReportAllocs()
	for b.Loop() {
		dec, err := c.Decrypt(bg, in)
		if err != nil {
			b.Fatal(err)
		}
		clear(dec.Plaintext)
	}
}

// BenchmarkReEncrypt re-encrypts a 32-byte data key natively to another key.
func BenchmarkReEncrypt(b *testing.B) {
	c, k1, k2, dk, ec := benchSetup(b)
	out, err := c.Encrypt(bg, &backends.EncryptInput{KeyID: k1, Plaintext: dk, EncryptionContext: ec})
	if err != nil {
		b.Fatal(err)
	}
	in := &backends.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyID: k2, DestinationEncryptionContext: ec}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.ReEncrypt(bg, in); err != nil {
			b.Fatal(err)
		}
	}
}
