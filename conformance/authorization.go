package conformance

import (
	"context"
	"fmt"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/reencrypt"
)

// testAuthorization checks that a ReEncrypt is authorized twice, as
// kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination, by a
// caller who may do nothing else; and that such a caller gets no plaintext by any
// path: plaintext leaves a key service only on kms:Decrypt, and ReEncryptFrom
// authorizes only the re-encryption the service does itself.
func (s *suite) testAuthorization(t T) {
	f := s.f
	if f.ReEncryptCaller == nil {
		t.Skip("skipped: the harness gives no ReEncryptCaller hook (the service has no per-action key permissions)")
	}
	ctx := context.Background()
	b, err := f.ReEncryptCaller(ctx, f.KeyA, f.KeyB)
	mustOK(t, err, "ReEncryptCaller(KeyA, KeyB)")
	if b == nil {
		t.Fatal("ReEncryptCaller returned no backend")
	}
	rc := s.frontFor(t, b)
	pt := secret(32)
	ec := map[string]string{"case": "authorization"}
	blobA := s.encrypt(t, f.KeyA, pt, ec)
	blobB := s.encrypt(t, f.KeyB, pt, ec)
	in := func(blob []byte, from, to string, via backends.Via, dryRun bool) *backends.ReEncryptInput {
		return &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: from, SourceEncryptionContext: ec,
			DestinationKeyID: to, DestinationEncryptionContext: ec, Via: via, DryRun: dryRun}
	}

	t.Run("DecryptRefused", func(t T) {
		out, err := rc.Decrypt(ctx, &backends.DecryptInput{KeyID: f.KeyA, CiphertextBlob: blobA, EncryptionContext: ec})
		wantKind(t, err, backends.ErrAccessDenied, "Decrypt under KeyA by a caller allowed only kms:ReEncryptFrom on it")
		if out != nil {
			clear(out.Plaintext)
			t.Errorf("the refused Decrypt returned an output")
		}
	})
	t.Run("EncryptRefused", func(t T) {
		_, err := rc.Encrypt(ctx, &backends.EncryptInput{KeyID: f.KeyB, Plaintext: pt})
		wantKind(t, err, backends.ErrAccessDenied, "Encrypt under KeyB by a caller allowed only kms:ReEncryptTo on it")
	})
	t.Run("GenerateDataKeyRefused", func(t T) {
		out, err := rc.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: f.KeyA, EncryptionContext: ec})
		wantKind(t, err, backends.ErrAccessDenied, "GenerateDataKey under KeyA by a caller allowed only kms:ReEncryptFrom on it")
		if out != nil {
			clear(out.Plaintext)
			t.Errorf("the refused GenerateDataKey returned an output")
		}
	})
	t.Run("Native", func(t T) {
		if !s.caps.ReEncrypt {
			t.Skip("skipped: the backend is not a backends.ReEncrypter (no native ReEncrypt)")
		}
		for _, re := range []struct {
			name string
			call reEncryptFunc
		}{{"Front", rc.ReEncrypt}, {"Engine", reencrypt.New(rc).ReEncrypt}} {
			out, err := re.call(ctx, in(blobA, f.KeyA, f.KeyB, backends.ViaAny, false))
			if wantOK(t, err, re.name+": ReEncrypt from KeyA to KeyB (kms:ReEncryptFrom on KeyA, kms:ReEncryptTo on KeyB)") {
				s.checkOutput(t, out, f.KeyA, f.KeyB, true, re.name+": ReEncrypt from KeyA to KeyB")
				decryptTo(t, s.kms, f.KeyB, out.CiphertextBlob, ec, pt, f.KeyB, "Decrypt by the keys' owner of the re-encrypted blob")
			}
			_, err = re.call(ctx, in(blobB, f.KeyB, f.KeyA, backends.ViaAny, false))
			wantKind(t, err, backends.ErrAccessDenied, re.name+": ReEncrypt from KeyB to KeyA (neither permission)")
			_, err = re.call(ctx, in(blobA, f.KeyA, f.KeyA, backends.ViaAny, false))
			wantKind(t, err, backends.ErrAccessDenied, re.name+": ReEncrypt from KeyA to KeyA (no kms:ReEncryptTo on KeyA)")
		}
	})
	t.Run("NoPlaintextWithoutDecrypt", func(t T) {
		eng := reencrypt.New(rc)
		for _, dryRun := range []bool{false, true} {
			out, err := eng.ReEncrypt(ctx, in(blobA, f.KeyA, f.KeyB, backends.ViaPlaintext, dryRun))
			wantKind(t, err, backends.ErrAccessDenied, fmt.Sprintf("ReEncrypt through the plaintext (DryRun %v) by a caller with kms:ReEncryptFrom but not kms:Decrypt on the source", dryRun))
			if out != nil {
				t.Errorf("the refused ReEncrypt returned an output")
			}
		}
	})
}
