package tink_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/tink"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// TestKMSEnvelopeOverKeysetOpensInKeyport checks that a ciphertext made by Tink's
// own NewKMSEnvelopeAEAD2 over a Tink keyset opens through keyport: through the
// keyset backend offered to Tink as a KMS client, and its data key directly with
// the keyset backend's Decrypt.
func TestKMSEnvelopeOverKeysetOpensInKeyport(t *testing.T) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	kek, err := aead.New(h)
	if err != nil {
		t.Fatal(err)
	}
	dekTemplate := aead.AES256GCMKeyTemplate()
	pt, ad := []byte("a message Tink enveloped"), []byte("header")
	ct, err := aead.NewKMSEnvelopeAEAD2(dekTemplate, kek).Encrypt(pt, ad)
	if err != nil {
		t.Fatal(err)
	}

	ks, err := tink.FromHandle("tink-kek", h, tink.Storage{})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := tink.New(ks)
	remote, err := tink.NewKMSClient(b, "").GetAEAD(ks.URI())
	if err != nil {
		t.Fatal(err)
	}
	got, err := aead.NewKMSEnvelopeAEAD2(dekTemplate, remote).Decrypt(ct, ad)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Tink's envelope over keyport's keyset backend: %v", err)
	}
	if _, err := aead.NewKMSEnvelopeAEAD2(dekTemplate, remote).Decrypt(ct, []byte("other")); err == nil {
		t.Errorf("the envelope opened with other associated data")
	}

	// The encrypted data key is a keyset blob with no encryption context: the
	// keyset backend opens it and finds its keyset by the output prefix.
	n := binary.BigEndian.Uint32(ct)
	out, err := b.Decrypt(context.Background(), &backends.DecryptInput{CiphertextBlob: ct[4 : 4+n]})
	if err != nil {
		t.Fatalf("Decrypt of the envelope's data key: %v", err)
	}
	// Tink wraps the serialized AesGcmKey (a 2-byte header, then the 32-byte key).
	if len(out.Plaintext) != 34 || out.KeyID != ks.URI() {
		t.Errorf("Decrypt of the envelope's data key: %d bytes by %s, want 34 by %s", len(out.Plaintext), out.KeyID, ks.URI())
	}
	clear(out.Plaintext)
}

// TestKMSEnvelopeOverLocalService checks Tink's envelope AEAD over keyport's local
// service offered as a Tink KMS client: Tink writes, and keyport's own Decrypt
// opens the data key.
func TestKMSEnvelopeOverLocalService(t *testing.T) {
	ctx := context.Background()
	c, arn := newLocalKey(ctx, t)
	client := tink.NewKMSClient(c, "keyport:")
	if client.Supported("aws-kms://" + arn) {
		t.Errorf("the client supports a URI without its prefix")
	}
	remote, err := client.GetAEAD("keyport:" + arn)
	if err != nil {
		t.Fatal(err)
	}
	env := aead.NewKMSEnvelopeAEAD2(aead.XChaCha20Poly1305KeyTemplate(), remote)
	ct, err := env.Encrypt([]byte("payload"), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := env.Decrypt(ct, nil)
	if err != nil || string(got) != "payload" {
		t.Fatalf("envelope round trip over the local service: %v", err)
	}
	n := binary.BigEndian.Uint32(ct)
	out, err := c.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: ct[4 : 4+n]})
	if err != nil {
		t.Fatalf("the local service cannot open the data key Tink wrapped: %v", err)
	}
	if out.KeyID != arn {
		t.Errorf("data key opened by %s, want %s", out.KeyID, arn)
	}
	clear(out.Plaintext)

	// Associated data reaches the service as the context {"associatedData": hex}.
	blob, err := remote.Encrypt([]byte("x"), []byte{0xca, 0xfe})
	if err != nil {
		t.Fatal(err)
	}
	out, err = c.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"associatedData": "cafe"}})
	if err != nil {
		t.Fatalf("Decrypt with the context Tink's AWS KMS client would send: %v", err)
	}
	clear(out.Plaintext)
	_, err = client.GetAEAD("aws-kms://" + arn)
	kmstest.WantKind(t, err, backends.ErrNotFound, "GetAEAD of a URI without the prefix")
}

// TestKMSOpenBackendURL checks the KMS adapter as a backends.URLOpener.
func TestKMSOpenBackendURL(t *testing.T) {
	ctx := context.Background()
	c, _ := newLocalKey(ctx, t)
	k := tink.NewKMS(tink.NewKMSClient(c, "keyport:"))
	if got, err := k.OpenBackendURL(ctx, mustURL(t, "keyport:alias/x")); err != nil || got != k {
		t.Errorf("OpenBackendURL of a supported URI: %v", err)
	}
	_, err := k.OpenBackendURL(ctx, mustURL(t, "hcvault://transit/keys/x"))
	kmstest.WantKind(t, err, backends.ErrNotFound, "OpenBackendURL of an unsupported URI")
}
