//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/reencrypt"
)

// TestReEncryptWithLocal moves a data key from the HSM to backends/local and
// back through the reencrypt engine (decrypt at the source, encrypt at the
// destination), with a different encryption context on each side.
func TestReEncryptWithLocal(t *testing.T) {
	s := newSoftHSM(t, "reencrypt")
	b := s.open(t, s.options())
	hsmKey := mustCreate(t, b, "hsm", nil, AES256)
	ctx := context.Background()
	svc := local.New()
	t.Cleanup(func() { _ = svc.Close() })
	lc := svc.Client(local.Identity{Account: "111122223333"})
	lk, err := lc.CreateKey(ctx, &local.CreateKeyInput{Description: "reencrypt with the HSM"})
	if err != nil {
		t.Fatal(err)
	}
	localKey := lk.KeyMetadata.Arn

	var r backends.Front
	if err := r.Register(Scheme, b); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterAccount("111122223333", "", lc); err != nil {
		t.Fatal(err)
	}
	eng := reencrypt.New(&r)
	dataKey := bytes.Repeat([]byte{0x42}, 32)
	ecHSM := map[string]string{"at": "hsm"}
	ecLocal := map[string]string{"at": "local"}

	out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: hsmKey, Plaintext: dataKey, EncryptionContext: ecHSM})
	if err != nil {
		t.Fatal(err)
	}
	toLocal, err := eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, SourceKeyID: hsmKey,
		SourceEncryptionContext: ecHSM, DestinationKeyID: localKey, DestinationEncryptionContext: ecLocal})
	if err != nil {
		t.Fatalf("ReEncrypt HSM -> local: %v", err)
	}
	if toLocal.Native || toLocal.SourceKeyID != hsmKey || toLocal.KeyID != localKey {
		t.Errorf("ReEncrypt HSM -> local: native %t, source %q, key %q", toLocal.Native, toLocal.SourceKeyID, toLocal.KeyID)
	}
	d, err := lc.Decrypt(ctx, &backends.DecryptInput{KeyID: localKey, CiphertextBlob: toLocal.CiphertextBlob, EncryptionContext: ecLocal})
	if err != nil || !bytes.Equal(d.Plaintext, dataKey) {
		t.Fatalf("Decrypt at local of the re-encrypted data key: %v", err)
	}
	clear(d.Plaintext)

	// And back, without naming the source key: the local blob names its key.
	back, err := eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: toLocal.CiphertextBlob,
		SourceEncryptionContext: ecLocal, DestinationKeyID: "pkcs11:object=hsm", DestinationEncryptionContext: ecHSM})
	if err != nil {
		t.Fatalf("ReEncrypt local -> HSM: %v", err)
	}
	if back.KeyID != hsmKey || back.SourceKeyID != localKey {
		t.Errorf("ReEncrypt local -> HSM: source %q, key %q", back.SourceKeyID, back.KeyID)
	}
	d, err = b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: back.CiphertextBlob, EncryptionContext: ecHSM})
	if err != nil || !bytes.Equal(d.Plaintext, dataKey) {
		t.Fatalf("Decrypt at the HSM of the data key brought back: %v", err)
	}
	clear(d.Plaintext)
	_, err = eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: back.CiphertextBlob, SourceKeyID: hsmKey,
		SourceEncryptionContext: ecLocal, DestinationKeyID: localKey})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "ReEncrypt from the HSM with the wrong source context")
}

// TestEnvelopeHSMAndAWSKMS writes an envelope message whose data key is wrapped
// by an HSM key and by an AWS KMS key (local-kms), and opens it with either
// alone.
func TestEnvelopeHSMAndAWSKMS(t *testing.T) {
	endpoint := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	s := newSoftHSM(t, "envelope")
	hsm := s.open(t, s.options())
	hsmKey := mustCreate(t, hsm, "envelope", nil, AES256)
	ctx := context.Background()
	kms, err := awskms.NewFromConfig(aws.Config{Region: "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "local-kms-does-not-check", "")},
		awskms.WithEndpoint(endpoint), awskms.WithAccount("111122223333"))
	if err != nil {
		t.Fatal(err)
	}
	kmsKey := backends.KeyARN("aws", "us-east-1", "111122223333", "11111111-1111-4111-8111-000000000001") // "primary" in testdata/seed-a.yaml

	hsmRing, err := keyring.NewBackend(hsm, hsmKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	kmsRing, err := keyring.NewBackend(kms, kmsKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	both, err := keyring.NewMulti(hsmRing, kmsRing)
	if err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"tenant": "acme", "purpose": "hsm-and-kms"}
	body := bytes.Repeat([]byte("wrapped by an HSM and by AWS KMS. "), 200)
	msg, err := envelope.Encrypt(ctx, body, envelope.EncryptOptions{Keyring: both, EncryptionContext: ec, FrameLength: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for name, kr := range map[string]envelope.Keyring{"HSMOnly": hsmRing, "AWSKMSOnly": kmsRing} {
		t.Run(name, func(t *testing.T) {
			pt, res, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: kr, EncryptionContext: ec})
			if err != nil {
				t.Fatalf("envelope.Decrypt: %v", err)
			}
			if !bytes.Equal(pt, body) {
				t.Fatal("the message body differs")
			}
			if n := len(res.Header.EncryptedDataKeys); n != 2 {
				t.Errorf("the header has %d encrypted data keys, want 2", n)
			}
			if _, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: kr, EncryptionContext: map[string]string{"tenant": "other"}}); err == nil {
				t.Error("the message opened under another encryption context")
			}
		})
	}
}
