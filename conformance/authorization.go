package conformance

import (
	"context"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/reencrypt"
)

// testAuthorization checks that a ReEncrypt is authorized twice, as
// kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination, by a
// caller who may do nothing else.
func (s *suite) testAuthorization(t *testing.T) {
	f := s.f
	if f.ReEncryptCaller == nil {
		t.Skip("skipped: the harness gives no ReEncryptCaller hook (the service has no per-action key permissions)")
	}
	ctx := context.Background()
	rc, err := f.ReEncryptCaller(ctx, f.KeyA, f.KeyB)
	mustOK(t, err, "ReEncryptCaller(KeyA, KeyB)")
	if rc == nil {
		t.Fatal("ReEncryptCaller returned no backend")
	}
	pt := secret(32)
	ec := map[string]string{"case": "authorization"}
	blobA := s.encrypt(t, f.KeyA, pt, ec)
	blobB := s.encrypt(t, f.KeyB, pt, ec)

	t.Run("DecryptRefused", func(t *testing.T) {
		out, err := rc.Decrypt(ctx, &backends.DecryptInput{KeyID: f.KeyA, CiphertextBlob: blobA, EncryptionContext: ec})
		wantKind(t, err, backends.ErrAccessDenied, "Decrypt under KeyA by a caller allowed only kms:ReEncryptFrom on it")
		if out != nil {
			clear(out.Plaintext)
			t.Errorf("the refused Decrypt returned an output")
		}
	})
	t.Run("EncryptRefused", func(t *testing.T) {
		_, err := rc.Encrypt(ctx, &backends.EncryptInput{KeyID: f.KeyB, Plaintext: pt})
		wantKind(t, err, backends.ErrAccessDenied, "Encrypt under KeyB by a caller allowed only kms:ReEncryptTo on it")
	})
	check := func(t *testing.T, re reEncryptFunc, native bool) {
		t.Helper()
		out, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: blobA, SourceKeyID: f.KeyA, SourceEncryptionContext: ec,
			DestinationKeyID: f.KeyB, DestinationEncryptionContext: ec})
		if wantOK(t, err, "ReEncrypt from KeyA to KeyB (kms:ReEncryptFrom on KeyA, kms:ReEncryptTo on KeyB)") {
			s.checkOutput(t, out, f.KeyA, f.KeyB, native, "ReEncrypt from KeyA to KeyB")
			decryptTo(t, f.Backend, f.KeyB, out.CiphertextBlob, ec, pt, f.KeyB, "Decrypt by the keys' owner of the re-encrypted blob")
		}
		_, err = re(ctx, &backends.ReEncryptInput{CiphertextBlob: blobB, SourceKeyID: f.KeyB, SourceEncryptionContext: ec,
			DestinationKeyID: f.KeyA, DestinationEncryptionContext: ec})
		wantKind(t, err, backends.ErrAccessDenied, "ReEncrypt from KeyB to KeyA (neither permission)")
		_, err = re(ctx, &backends.ReEncryptInput{CiphertextBlob: blobA, SourceKeyID: f.KeyA, SourceEncryptionContext: ec,
			DestinationKeyID: f.KeyA, DestinationEncryptionContext: ec})
		wantKind(t, err, backends.ErrAccessDenied, "ReEncrypt from KeyA to KeyA (no kms:ReEncryptTo on KeyA)")
	}
	t.Run("Native", func(t *testing.T) {
		r, ok := rc.(backends.ReEncrypter)
		if !ok {
			t.Skip("skipped: the backend is not a backends.ReEncrypter (no native ReEncrypt)")
		}
		check(t, r.ReEncrypt, true)
	})
	t.Run("Engine", func(t *testing.T) {
		r := new(backends.Router)
		r.SetDefault(rc)
		ref, err := backends.ParseKeyRef(f.KeyA)
		mustOK(t, err, "parse KeyA")
		switch {
		case ref.Form == backends.FormURI:
			err = r.Register(ref.Scheme, rc)
		case ref.IsARN():
			err = r.RegisterPartitionAccount(ref.Partition, ref.Account, ref.Region, rc)
		}
		mustOK(t, err, "route KeyA's owner to the restricted caller")
		check(t, reencrypt.New(r, reencrypt.WithoutNative()).ReEncrypt, false)
	})
}
