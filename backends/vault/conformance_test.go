package vault

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/reencrypt"
)

// TestConformance runs the conformance suite against Vault Transit twice: with plain
// AES-256-GCM keys (the context bound as associated_data) and with derived keys (the
// context bound as the derivation context, so rewrap works with a context too). The
// second provider of the cross-provider ReEncrypt subtests is backends/local.
//
// Declared deviations: Transit ciphertexts do not name their key, so a blob of
// another key is InvalidCiphertext, not IncorrectKey; Vault has no grants. Vault has
// no Disabled or PendingDeletion key state (those fields stay empty, so the suite
// skips those subtests saying so), and no accounts (no CrossAccountKey).
//
// Transit's rewrap re-encrypts natively only within one key and one context, and
// answers ErrUnsupported for the other pairs, on which reencrypt.Engine decrypts
// and encrypts: DeviationPartialNativeReEncrypt, so the suite checks the engine's
// path for every pair; the native rewrap is tested by
// TestRotationRewrapAndMinDecryptionVersion and TestReEncryptAcrossProviders.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		name   string
		params map[string]any
	}{
		{"aes256-gcm96", nil},
		{"derived", map[string]any{"derived": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
				return vaultFixture(t, tc.params)
			}))
		})
	}
}

func vaultFixture(t *testing.T, params map[string]any) *conformance.Fixture {
	v := newDevVault(t)
	keyA := v.key("key-a", params)
	keyB := v.key("key-b", params)

	svc := local.New()
	t.Cleanup(func() { _ = svc.Close() })
	lc := svc.Client(local.Identity{Account: "111122223333"})
	lk, err := lc.CreateKey(context.Background(), &local.CreateKeyInput{Description: "conformance: the other provider"})
	if err != nil {
		t.Fatal(err)
	}
	return &conformance.Fixture{
		Backend:   v.b,
		KeyA:      keyA,
		KeyB:      keyB,
		KeyAForms: []string{keyA, "VAULT://" + v.mount + "/key-a", "vault:///" + v.mount + "/key-a"},
		Unknown:   "vault://" + v.mount + "/no-such-key",
		Deviations: []conformance.Deviation{
			conformance.DeviationIncorrectKeyIsInvalidCiphertext,
			conformance.DeviationNoGrants,
			conformance.DeviationPartialNativeReEncrypt,
		},
		Other:    lc,
		OtherKey: lk.KeyMetadata.Arn,
		ErrorAs: func(err error) bool {
			var re *api.ResponseError
			return errors.As(err, &re)
		},
		Rotate: func(ctx context.Context, keyID string) error {
			ref, err := ParseRef(keyID)
			if err != nil {
				return err
			}
			_, err = v.root.Logical().WriteWithContext(ctx, ref.Mount+"/keys/"+ref.Name+"/rotate", nil)
			return err
		},
	}
}

// TestReEncryptAcrossProviders moves a data key from backends/local to Vault and back
// through the reencrypt engine, and checks that the engine uses Transit's rewrap for
// a same-key request and falls back for other Vault keys.
func TestReEncryptAcrossProviders(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	vk := v.key("orders", nil)
	vk2 := v.key("archive", map[string]any{"derived": true})

	svc := local.New()
	t.Cleanup(func() { _ = svc.Close() })
	lc := svc.Client(local.Identity{Account: "111122223333"})
	lk, err := lc.CreateKey(ctx, &local.CreateKeyInput{Description: "source"})
	if err != nil {
		t.Fatal(err)
	}
	localKey := lk.KeyMetadata.Arn

	var r backends.Front
	if err := v.b.Register(&r); err != nil {
		t.Fatal(err)
	}
	if err := r.RegisterAccount("111122223333", "", lc); err != nil {
		t.Fatal(err)
	}
	r.SetDefault(lc)
	eng := reencrypt.New(&r)

	pt := []byte("0123456789abcdef0123456789abcdef") // a 32-byte data key
	ecL := map[string]string{"app": "billing"}
	ecV := map[string]string{"app": "billing", "moved": "yes"}
	lout, err := lc.Encrypt(ctx, &backends.EncryptInput{KeyID: localKey, Plaintext: pt, EncryptionContext: ecL})
	if err != nil {
		t.Fatal(err)
	}

	// local -> Vault
	toV, err := eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: lout.CiphertextBlob, SourceKeyID: localKey,
		SourceEncryptionContext: ecL, DestinationKeyID: vk, DestinationEncryptionContext: ecV})
	if err != nil {
		t.Fatalf("local -> Vault: %v", err)
	}
	if toV.Native || toV.KeyID != vk || toV.SourceKeyID != localKey {
		t.Fatalf("local -> Vault output: native=%v key=%s source=%s", toV.Native, toV.KeyID, toV.SourceKeyID)
	}
	if got := mustDecrypt(t, v.b, vk, toV.CiphertextBlob, ecV); string(got) != string(pt) {
		t.Fatal("local -> Vault: the Vault blob does not decrypt to the data key")
	}

	// Vault -> Vault, another key: Transit cannot rewrap across keys, so the engine
	// decrypts and encrypts.
	vv, err := eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: toV.CiphertextBlob, SourceKeyID: vk,
		SourceEncryptionContext: ecV, DestinationKeyID: vk2, DestinationEncryptionContext: ecV})
	if err != nil {
		t.Fatalf("Vault -> Vault (another key): %v", err)
	}
	if vv.Native || vv.KeyID != vk2 {
		t.Fatalf("Vault -> Vault (another key): native=%v key=%s", vv.Native, vv.KeyID)
	}

	// Same derived key, same context, after a rotation: native rewrap.
	v.write(v.mount+"/keys/archive/rotate", nil)
	rw, err := eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: vv.CiphertextBlob, SourceKeyID: vk2,
		SourceEncryptionContext: ecV, DestinationKeyID: vk2, DestinationEncryptionContext: ecV})
	if err != nil {
		t.Fatalf("rewrap through the engine: %v", err)
	}
	if !rw.Native || string(rw.CiphertextBlob[:9]) != "vault:v2:" {
		t.Fatalf("rewrap through the engine: native=%v", rw.Native)
	}

	// Vault -> local
	back, err := eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: rw.CiphertextBlob, SourceKeyID: vk2,
		SourceEncryptionContext: ecV, DestinationKeyID: localKey, DestinationEncryptionContext: ecL})
	if err != nil {
		t.Fatalf("Vault -> local: %v", err)
	}
	if back.Native || back.KeyID != localKey || back.SourceKeyID != vk2 {
		t.Fatalf("Vault -> local output: native=%v key=%s source=%s", back.Native, back.KeyID, back.SourceKeyID)
	}
	dout, err := lc.Decrypt(ctx, &backends.DecryptInput{KeyID: localKey, CiphertextBlob: back.CiphertextBlob, EncryptionContext: ecL})
	if err != nil || string(dout.Plaintext) != string(pt) {
		t.Fatalf("Vault -> local: the local blob does not decrypt to the data key: %v", err)
	}

	// A wrong source context fails at Vault with InvalidCiphertext, through the engine.
	_, err = eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: rw.CiphertextBlob, SourceKeyID: vk2,
		SourceEncryptionContext: ecL, DestinationKeyID: localKey})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Vault -> local with a wrong source context")
}
