package tink_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/backends/tink"
	"github.com/keyport/keyport/conformance"
)

// TestConformanceKeyset runs the conformance suite against keysets kept in files,
// encrypted under a key of the local service, with a second local service as the
// other provider.
func TestConformanceKeyset(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		kek, kekID := newLocalKey(ctx, t)
		dir := t.TempDir()
		b := new(tink.Backend)
		keysets := map[string]*tink.Keyset{}
		for _, c := range []struct {
			name string
			kt   tink.KeyType
		}{{"a", tink.AES256GCM}, {"b", tink.XChaCha20Poly1305}} {
			ks, err := tink.Create(ctx, c.name, c.kt, tink.Storage{Path: filepath.Join(dir, c.name+".json"), KEK: kek, KEKKeyID: kekID})
			if err != nil {
				t.Fatalf("Create %s: %v", c.name, err)
			}
			if err := b.Add(ks); err != nil {
				t.Fatalf("Add %s: %v", c.name, err)
			}
			keysets[ks.URI()] = ks
		}
		other, otherKey := newLocalKey(ctx, t)
		return &conformance.Fixture{
			Backend:  b,
			KeyA:     "tink-keyset://a",
			KeyB:     "tink-keyset://b",
			Unknown:  "tink-keyset://unknown",
			Other:    other,
			OtherKey: otherKey,
			Rotate: func(ctx context.Context, keyID string) error {
				_, err := keysets[keyID].Rotate(ctx, tink.AES256GCMSIV)
				return err
			},
		}
	}))
}

// TestConformanceKMSOverLocal runs the conformance suite against the Tink KMS
// client adapter over the local service offered to Tink as a KMS client: keyport
// -> Tink registry.KMSClient -> keyport, both adapters at once.
func TestConformanceKMSOverLocal(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		const prefix = "keyport:"
		c, keyA := newLocalKey(ctx, t)
		_, keyB := newLocalKeyIn(ctx, t, c)
		_, disabled := newLocalKeyIn(ctx, t, c)
		_, pending := newLocalKeyIn(ctx, t, c)
		kms := tink.NewKMS(tink.NewKMSClient(c, prefix))
		disabledBlob := encrypt(t, kms, prefix+disabled, []byte("conformance"), nil)
		pendingBlob := encrypt(t, kms, prefix+pending, []byte("conformance"), nil)
		if err := c.DisableKey(ctx, &local.DisableKeyInput{KeyID: disabled}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.ScheduleKeyDeletion(ctx, &local.ScheduleKeyDeletionInput{KeyID: pending, PendingWindowInDays: 7}); err != nil {
			t.Fatal(err)
		}
		other, otherKey := newLocalKey(ctx, t)
		return &conformance.Fixture{
			Backend:                   kms,
			KeyA:                      prefix + keyA,
			KeyB:                      prefix + keyB,
			Unknown:                   prefix + "arn:aws:kms:us-east-1:" + testAccount + ":key/00000000-0000-4000-8000-000000000000",
			Disabled:                  prefix + disabled,
			DisabledCiphertext:        disabledBlob,
			PendingDeletion:           prefix + pending,
			PendingDeletionCiphertext: pendingBlob,
			Other:                     other,
			OtherKey:                  otherKey,
			Deviations:                []conformance.Deviation{conformance.DeviationNoDryRun},
		}
	}))
}
