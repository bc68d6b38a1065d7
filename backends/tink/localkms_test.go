package tink_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/backends/tink"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/reencrypt"
	tinkawskms "github.com/tink-crypto/tink-go-awskms/v3/integration/awskms"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// localKMS is the us-east-1 local-kms process of account 111122223333 that
// scripts/test.sh starts, reached through the AWS SDK.
type localKMS struct {
	endpoint string
	client   *kms.Client
}

func newLocalKMS(t *testing.T) *localKMS {
	t.Helper()
	ep := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	cfg := aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "local-kms-does-not-check", "")}
	return &localKMS{endpoint: ep, client: kms.NewFromConfig(cfg, func(o *kms.Options) { o.BaseEndpoint = aws.String(ep) })}
}

// key makes a fresh symmetric key and returns its ARN.
func (l *localKMS) key(t *testing.T) string {
	t.Helper()
	out, err := l.client.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("tink test")})
	if err != nil {
		t.Fatalf("CreateKey on local-kms: %v", err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

// backend is keyport's own AWS KMS driver over the process.
func (l *localKMS) backend(t *testing.T) *awskms.Backend {
	t.Helper()
	b, err := awskms.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "x", "")},
		awskms.WithEndpoint(l.endpoint), awskms.WithAccount(testAccount))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestTinkAWSKMSClientOverLocalKMS drives Tink's own AWS KMS integration through
// the KMS adapter against local-kms, and checks that keyport's AWS KMS driver
// reads what it made: the context arrives as the one pair {"associatedData": hex}.
func TestTinkAWSKMSClientOverLocalKMS(t *testing.T) {
	ctx := context.Background()
	l := newLocalKMS(t)
	arnA, arnB := l.key(t), l.key(t)
	client, err := tinkawskms.NewClientWithOptions(ctx, "aws-kms://", tinkawskms.WithKMS(l.client))
	if err != nil {
		t.Fatal(err)
	}
	b := tink.NewKMS(client)
	uriA, uriB := "aws-kms://"+arnA, "aws-kms://"+arnB
	ec := map[string]string{"ab": "c"}
	pt := []byte("a data key of thirty-two bytes..")
	blob := encrypt(t, b, uriA, pt, ec)
	mustDecrypt(t, b, uriA, blob, ec, pt)
	// The bare ARN names the same key, and outputs name it by its ARN.
	out0, err := b.Decrypt(ctx, &backends.DecryptInput{KeyID: arnA, CiphertextBlob: blob, EncryptionContext: ec})
	if err != nil || out0.KeyID != arnA {
		t.Fatalf("Decrypt by the bare ARN: %v (output key %v)", err, out0)
	}
	clear(out0.Plaintext)
	for _, s := range []string{uriA, "awskms:///" + arnA} {
		if got, err := b.OpenBackendURL(ctx, mustURL(t, strings.Replace(s, "aws-kms://", "aws-kms:///", 1))); err != nil || got != b {
			t.Errorf("OpenBackendURL %s: %v", s, err)
		}
	}
	// local-kms joins context pairs without separators, but the adapter sends one
	// pair, so {a: bc} is not {ab: c} here.
	_, err = decrypt(b, uriA, blob, map[string]string{"a": "bc"})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt with a re-split context")
	_, err = decrypt(b, uriA, blob, nil)
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt without the context")
	_, err = decrypt(b, uriB, blob, ec)
	if k := backends.KindOf(err); err == nil || k != backends.ErrIncorrectKey && k != backends.ErrInvalidCiphertext {

		t.Errorf("Decrypt with the other key: want IncorrectKey (or local-kms's InvalidCiphertext), got %v", err)
	}
	var coded interface{ ErrorCode() string }
	if !errors.As(err, &coded) {
		t.Errorf("the SDK's error is not reachable with errors.As: %T", err)
	}
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: "aws-kms://arn:aws:kms:us-east-1:" + testAccount + ":key/00000000-0000-4000-8000-000000000000", Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under a key local-kms does not have")
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k", Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under a URI no client supports")

	// keyport's AWS KMS driver opens the blob with the context Tink's client sent.
	native := l.backend(t)
	out, err := native.Decrypt(ctx, &backends.DecryptInput{KeyID: arnA, CiphertextBlob: blob,
		EncryptionContext: map[string]string{"associatedData": bytesHex(backends.EncodeEncryptionContext(ec))}})
	if err != nil || !bytes.Equal(out.Plaintext, pt) {
		t.Fatalf("keyport's AWS KMS driver cannot open the adapter's blob: %v", err)
	}
	clear(out.Plaintext)

	// And the reverse: Tink's envelope AEAD over Tink's own AWS client opens
	// through a keyport Front, offered to Tink as a KMS client for every URI: the
	// Front routes Tink's aws-kms://<ARN> to keyport's AWS KMS driver.
	front := backends.NewFront(nil)
	if err := front.RegisterAccount(testAccount, "us-east-1", native); err != nil {
		t.Fatal(err)
	}
	tinkKEK, err := client.GetAEAD(uriA)
	if err != nil {
		t.Fatal(err)
	}
	env, err := aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), tinkKEK).Encrypt([]byte("payload"), []byte("ad"))
	if err != nil {
		t.Fatal(err)
	}
	remote, err := tink.NewKMSClient(front, "").GetAEAD(uriA)
	if err != nil {
		t.Fatal(err)
	}
	got, err := aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), remote).Decrypt(env, []byte("ad"))
	if err != nil || string(got) != "payload" {
		t.Fatalf("Tink's envelope over AWS KMS does not open through keyport's Front: %v", err)
	}
	// Non-empty associated data travels as Tink's client sends it.
	ct, err := tinkKEK.Encrypt([]byte("x"), []byte("bound"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := remote.Decrypt(ct, []byte("bound")); err != nil || string(got) != "x" {
		t.Errorf("keyport's KMS client cannot open Tink's AWS ciphertext with associated data: %v", err)
	}
}

// TestKeysetMigratesToAWSKMSAndBack moves ciphertexts of a Tink keyset to an AWS
// KMS key (local-kms) with reencrypt.Engine, and back to the keyset.
func TestKeysetMigratesToAWSKMSAndBack(t *testing.T) {
	ctx := context.Background()
	l := newLocalKMS(t)
	arn := l.key(t)
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		t.Fatal(err)
	}
	ks, err := tink.FromHandle("legacy", h, tink.Storage{})
	if err != nil {
		t.Fatal(err)
	}
	tb, _ := tink.New(ks)
	var router backends.Front
	if err := tb.Register(&router); err != nil {
		t.Fatal(err)
	}
	if err := router.RegisterAccount(testAccount, "us-east-1", l.backend(t)); err != nil {
		t.Fatal(err)
	}
	engine := reencrypt.New(&router)

	// A ciphertext Tink made itself, with the encoded context as associated data.
	prim, _ := aead.New(h)
	ec := map[string]string{"tenant": "acme"}
	pt := []byte("a data key of thirty-two bytes..")
	blob, err := prim.Encrypt(pt, backends.EncodeEncryptionContext(ec))
	if err != nil {
		t.Fatal(err)
	}
	toAWS, err := engine.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: ks.URI(), SourceEncryptionContext: ec, DestinationKeyID: arn, DestinationEncryptionContext: ec})
	if err != nil {
		t.Fatalf("ReEncrypt keyset -> AWS KMS: %v", err)
	}
	if toAWS.SourceKeyID != ks.URI() || toAWS.KeyID != arn || toAWS.Native {
		t.Errorf("ReEncrypt keyset -> AWS KMS: %+v", toAWS)
	}
	mustDecrypt(t, &router, arn, toAWS.CiphertextBlob, ec, pt)
	back, err := engine.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: toAWS.CiphertextBlob, SourceKeyID: arn, SourceEncryptionContext: ec, DestinationKeyID: ks.URI(), DestinationEncryptionContext: ec})
	if err != nil {
		t.Fatalf("ReEncrypt AWS KMS -> keyset: %v", err)
	}
	got, err := prim.Decrypt(back.CiphertextBlob, backends.EncodeEncryptionContext(ec))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Tink cannot open the ciphertext moved back to its keyset: %v", err)
	}
	_, err = engine.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: ks.URI(), DestinationKeyID: arn})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "ReEncrypt keyset -> AWS KMS without the source context")
}

// TestConformanceKMSOverLocalKMS runs the conformance suite against the KMS
// adapter over Tink's own AWS KMS integration (tink-go-awskms), against local-kms.
func TestConformanceKMSOverLocalKMS(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		l := newLocalKMS(t)
		client, err := tinkawskms.NewClientWithOptions(ctx, "aws-kms://", tinkawskms.WithKMS(l.client))
		if err != nil {
			t.Fatal(err)
		}
		b := tink.NewKMS(client)
		keyA, keyB, disabled, pending := l.key(t), l.key(t), l.key(t), l.key(t)
		disabledBlob := encrypt(t, b, disabled, []byte("conformance"), nil)
		pendingBlob := encrypt(t, b, pending, []byte("conformance"), nil)
		if _, err := l.client.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(disabled)}); err != nil {
			t.Fatal(err)
		}
		if _, err := l.client.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(pending), PendingWindowInDays: aws.Int32(7)}); err != nil {
			t.Fatal(err)
		}
		other, otherKey := otherProvider(ctx, t)
		return &conformance.Fixture{
			Backend:                   b,
			KeyA:                      keyA,
			KeyAForms:                 []string{keyA, "aws-kms://" + keyA},
			KeyB:                      keyB,
			Unknown:                   "arn:aws:kms:us-east-1:" + testAccount + ":key/00000000-0000-4000-8000-000000000000",
			Disabled:                  disabled,
			DisabledCiphertext:        disabledBlob,
			PendingDeletion:           pending,
			PendingDeletionCiphertext: pendingBlob,
			Other:                     other,
			OtherKey:                  otherKey,
			ErrorAs: func(err error) bool {
				var coded interface{ ErrorCode() string }
				return errors.As(err, &coded)
			},
			Deviations: []conformance.Deviation{
				// A Tink KMS client has no dry run.
				conformance.DeviationNoDryRun,
				// local-kms's own deviations (see backends/awskms): a wrong KeyId
				// is InvalidCiphertext, no grants, AccessDenied for a disabled
				// key, and a blob header that is only partly authenticated.
				conformance.DeviationIncorrectKeyIsInvalidCiphertext,
				conformance.DeviationNoGrants,
				conformance.DeviationDisabledAccessDenied,
				conformance.DeviationUnauthenticatedBlobHeader,
				conformance.DeviationTamperKindMisreported,
			},
		}
	}))
}
