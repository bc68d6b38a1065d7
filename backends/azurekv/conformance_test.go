package azurekv_test

import (
	"context"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/azurekv"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/kmstest"
)

// TestConformance runs the suite against the real azkeys client and the HTTPS
// loopback server of internal/azurekvtest, with the context binding opted into
// (Key Vault has none of its own).
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		e := newEnv(t)
		keyA := e.key(t, "key-a", azkeys.KeyTypeRSA, 2048)
		keyB := e.key(t, "key-b", azkeys.KeyTypeRSAHSM, 2048)

		// A Backend of its own makes the blobs, so that the one under test has
		// cached nothing about these keys before their state changes.
		setup := e.backend(t, azurekv.Options{})
		disabled := e.key(t, "disabled", azkeys.KeyTypeRSA, 2048)
		disabledBlob := encryptOrFatal(t, setup, disabled)
		e.setEnabled(t, "disabled", false)
		pending := e.key(t, "pending-deletion", azkeys.KeyTypeRSA, 2048)
		pendingBlob := encryptOrFatal(t, setup, pending)
		e.delete(t, "pending-deletion")

		// The other provider for ReEncrypt/Engine/CrossProvider: an account of a
		// fake AWS KMS.
		other := kmstest.New()
		otherKey := other.AddKey(backends.KeyARN("aws", "us-east-1", "111122223333", kmstest.NewKeyID()))
		// Key Vault ciphertexts name their key: the Backend is the default, which
		// the Front asks to decrypt a blob given without a KeyID.
		router := backends.NewFront(e.b)
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
			KeyAForms: []string{keyA, "azurekeyvault://" + vaultHost + "/keys/key-a",
				"HTTPS://" + strings.ToUpper(vaultHost) + "/keys/key-a", "https://" + vaultHost + "/keys/key-a"},
			Disabled:                  disabled,
			DisabledCiphertext:        disabledBlob,
			PendingDeletion:           pending,
			PendingDeletionCiphertext: pendingBlob,
			Unknown:                   "azurekv://" + vaultHost + "/keys/no-such-key",
			Deviations: []conformance.Deviation{
				// RSA-OAEP-256 with a 2048-bit key wraps 190 bytes, less the
				// 32-byte digest of the context binding: 158, not 4096
				// (TestPlaintextLimit checks the limit itself).
				conformance.DeviationSmallPlaintextLimit,
				// Key Vault has access policies and RBAC, but no grants.
				conformance.DeviationNoGrants,
			},
			Other:    other,
			OtherKey: otherKey,
			Front:    router,
			ErrorAs:  azurekv.IsServiceError,
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
