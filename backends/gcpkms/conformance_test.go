package gcpkms_test

import (
	"context"
	"testing"

	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gcpkms"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/kmstest"
)

// TestConformance runs the suite against the real Cloud KMS client and the
// loopback KeyManagementService of internal/gcpkmstest.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		e := newEnv(t)
		keyA := e.key(t, "key-a", kmspb.ProtectionLevel_SOFTWARE)
		keyB := e.key(t, "key-b", kmspb.ProtectionLevel_HSM)

		disabled := e.key(t, "disabled", kmspb.ProtectionLevel_SOFTWARE)
		disabledBlob := encryptOrFatal(t, e.b, disabled)
		e.setState(t, disabled, "1", kmspb.CryptoKeyVersion_DISABLED)

		pending := e.key(t, "pending-deletion", kmspb.ProtectionLevel_SOFTWARE)
		pendingBlob := encryptOrFatal(t, e.b, pending)
		e.scheduleDestroy(t, pending, "1")

		// The other provider for ReEncrypt/Engine/CrossProvider: an account of a
		// fake AWS KMS.
		other := kmstest.New()
		otherKey := other.AddKey(backends.KeyARN("aws", "us-east-1", "111122223333", kmstest.NewKeyID()))
		router := new(backends.Front)
		if err := e.b.Register(router); err != nil {
			t.Fatal(err)
		}
		if err := router.RegisterAccount("111122223333", "", other); err != nil {
			t.Fatal(err)
		}
		return &conformance.Fixture{
			Backend: e.b,
			KeyA:    keyA,
			KeyB:    keyB,
			// The bare resource name is no key URL a Router can route, so it is
			// tested beside the suite (TestReferenceForms).
			KeyAForms:                 []string{keyA, "gcp-kms://" + name(keyA), "GCPKMS://" + name(keyA)},
			Disabled:                  disabled,
			DisabledCiphertext:        disabledBlob,
			PendingDeletion:           pending,
			PendingDeletionCiphertext: pendingBlob,
			Unknown:                   "gcpkms://" + keyRing + "/cryptoKeys/no-such-key",
			Deviations: []conformance.Deviation{
				// Cloud KMS ciphertexts do not name their key; a blob of
				// another key fails Decrypt as a damaged one does.
				conformance.DeviationIncorrectKeyIsInvalidCiphertext,
				// Cloud KMS has IAM, but no grants.
				conformance.DeviationNoGrants,
			},
			Other:    other,
			OtherKey: otherKey,
			Front:    router,
			ErrorAs:  gcpkms.IsServiceError,
			Rotate:   e.rotate,
		}
	}))
}

func encryptOrFatal(t *testing.T, b backends.Backend, key string) []byte {
	t.Helper()
	out, err := b.Encrypt(context.Background(), &backends.EncryptInput{KeyID: key, Plaintext: []byte("made before the state changed")})
	if err != nil {
		t.Fatal(err)
	}
	return out.CiphertextBlob
}
