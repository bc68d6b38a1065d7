package awskms_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/smithy-go"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/testenv"
)

// localKMSDeviations are the ways local-kms departs from AWS KMS that the suite
// checks (see ../../../shared/DESIGN.md and the local-kms sources).
var localKMSDeviations = []conformance.Deviation{
	// Context pairs are concatenated without separators: {ab:c} opens {a:bc}.
	conformance.DeviationContextPairCollision,
	// ReEncrypt ignores SourceKeyId; Decrypt uses a given KeyId without checking
	// that it made the blob, so a wrong key is InvalidCiphertext, not IncorrectKey.
	conformance.DeviationSourceKeyIDIgnored,
	conformance.DeviationIncorrectKeyIsInvalidCiphertext,
	// CreateGrant and friends answer HTTP 501.
	conformance.DeviationNoGrants,
	// (Decrypt without a KeyId answers AccessDeniedException for a disabled key;
	// the suite decrypts with one, and then local-kms answers DisabledException
	// as AWS does, so DeviationDisabledAccessDenied is not declared.)
	// One account per process: no native ReEncrypt to another account's key.
	conformance.DeviationOneAccountPerProcess,
	// Its blobs are "key ARN, version, AES-GCM ciphertext" and only the last part
	// is authenticated: given a KeyId, a damaged ARN still decrypts (with the
	// right plaintext), and some truncations crash the request handler (the
	// connection drops: KeyUnavailable, not InvalidCiphertext).
	conformance.DeviationUnauthenticatedBlobHeader,
	conformance.DeviationTamperKindMisreported,
	// Not a deviation of local-kms: AWS KMS itself rejects an empty plaintext
	// (Plaintext has a minimum length of 1), and so does the Backend.
}

// localKMSHarness sets up the suite against local-kms: the Backend serves account
// A in us-east-1 and reaches account B's process by ARN (WithAccountEndpoint), so
// that CrossAccountKey works through the engine; the us-west-2 process is the
// second provider, through a Backend of its own.
func localKMSHarness(ctx context.Context, t *testing.T) *conformance.Fixture {
	epA := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	epB := testenv.Require(t, "KEYPORT_LOCALKMS_B", "local-kms")
	epC := testenv.Require(t, "KEYPORT_LOCALKMS_C", "local-kms")
	b, err := awskms.NewFromConfig(staticConfig(east), awskms.WithEndpoint(epA),
		awskms.WithAccountEndpoint(accountB, east, epB), awskms.WithAccount(accountA))
	if err != nil {
		t.Fatal(err)
	}
	other, err := awskms.NewFromConfig(staticConfig(west), awskms.WithEndpoint(epC), awskms.WithAccount(accountA))
	if err != nil {
		t.Fatal(err)
	}
	disabled, blobD := freshKey(ctx, t, b.Client())
	if _, err := b.Client().DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(disabled)}); err != nil {
		t.Fatal(err)
	}
	pending, blobP := freshKey(ctx, t, b.Client())
	if _, err := b.Client().ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(pending), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	r := new(backends.Front)
	r.SetDefault(b)
	for _, err := range []error{
		b.Register(r),                            // the awskms scheme, and account A in every region but...
		other.RegisterAccount(r, accountA, west), // ...us-west-2, which is the other provider
		b.RegisterAccount(r, accountB, east),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return &conformance.Fixture{
		Backend: b,
		KeyA:    arnA(keyPrimary),
		KeyB:    arnA(keySecondary),
		KeyAForms: []string{
			keyPrimary, arnA(keyPrimary), aliasPrimary, backends.AliasARN("aws", east, accountA, aliasPrimary),
			"awskms:///" + aliasPrimary + "?region=" + east,
		},
		Disabled:           disabled,
		DisabledCiphertext: blobD,
		PendingDeletion:    pending,
		// With a KeyId, local-kms answers a Decrypt under this key as AWS does
		// (KMSInvalidState); without one it answers AccessDenied, which
		// TestPendingDeletionDecryptLocalKMS pins (the suite decrypts without a
		// KeyId only for a backends.CiphertextInspector, which this is not).
		PendingDeletionCiphertext: blobP,
		Unknown:                   arnA("11111111-1111-4111-8111-00000000dead"),
		CrossAccountKey:           arnB(keyBPrimary),
		Deviations:                localKMSDeviations,
		Other:                     other,
		OtherKey:                  arnC(keyCPrimary),
		Front:                     r,
		ErrorAs: func(err error) bool {
			var api smithy.APIError
			return errors.As(err, &api)
		},
	}
}

// freshKey makes a new symmetric key and a blob it encrypted (empty context), and
// returns the key's ARN and the blob.
func freshKey(ctx context.Context, t *testing.T, c *kms.Client) (string, []byte) {
	t.Helper()
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("keyport conformance")})
	if err != nil {
		t.Fatal(err)
	}
	out, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.Arn, Plaintext: []byte("made before the state change")})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(k.KeyMetadata.Arn), out.CiphertextBlob
}

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(localKMSHarness))
}
