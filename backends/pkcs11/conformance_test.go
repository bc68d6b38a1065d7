//go:build cgo

package pkcs11

import (
	"context"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/kmstest"
)

// TestConformance runs the conformance suite against a SoftHSM2 token with two
// AES-256 keys, the second provider of the cross-provider ReEncrypt subtests
// being an account of a fake AWS KMS (internal/kmstest).
//
// Declared deviations: PKCS#11 has no grants. A token has no Disabled or
// PendingDeletion key state, and no accounts, so those fields stay empty and the
// suite skips those subtests saying so. There is no native ReEncrypt (PKCS#11
// cannot re-encrypt inside the token), so ReEncrypt runs through the engine.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		s := newSoftHSM(t, "conformance")
		b := s.open(t, s.options())
		keyA := mustCreate(t, b, "key-a", []byte{0x0a}, AES256)
		keyB := mustCreate(t, b, "key-b", []byte{0x0b}, AES256)

		other := kmstest.New()
		otherKey := other.AddKey(backends.KeyARN("aws", "us-east-1", "111122223333", kmstest.NewKeyID()))
		return &conformance.Fixture{
			Backend: b,
			KeyA:    keyA,
			KeyB:    keyB,
			KeyAForms: []string{
				keyA,
				"pkcs11:object=key-a",
				"pkcs11:id=%0a",
				"PKCS11:token=conformance;object=key-a;type=secret-key",
				"pkcs11:serial=" + s.serial + ";object=key-a",
				keyA + "?module-path=" + s.module,
			},
			Unknown:    "pkcs11:token=conformance;object=no-such-key",
			Deviations: []conformance.Deviation{conformance.DeviationNoGrants},
			Other:      other,
			OtherKey:   otherKey,
		}
	}))
}
