package conformance

import (
	"context"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/reencrypt"
)

// unrouted is a key reference that no Front of the suite routes.
const unrouted = "keyport-conformance-unrouted://nowhere/key"

func (s *suite) testReEncryptEngine(t T) {
	f := s.f
	eng := viaPlaintext(reencrypt.New(s.kms))
	// Through the engine a wrong SourceKeyId is caught by the source backend's
	// Decrypt, so it is the Decrypt deviations that excuse it.
	t.Run("ViaPlaintext", func(t T) {
		s.reEncryptCases(t, eng.ReEncrypt, false, DeviationDecryptKeyIDIgnored)
	})
	t.Run("CrossAccount", func(t T) {
		if f.CrossAccountKey == "" {
			t.Skip("skipped: the harness gives no key of another account (Fixture.CrossAccountKey is empty)")
		}
		s.crossAccount(t, eng.ReEncrypt, false)
	})
	t.Run("CrossProvider", func(t T) {
		if f.Other == nil {
			t.Skip("skipped: the harness gives no second provider (Fixture.Other is nil)")
		}
		s.crossProvider(t, eng.ReEncrypt)
	})
	t.Run("NativeWhenPossible", func(t T) {
		native := s.caps.ReEncrypt
		if !native {
			f.unless(t, DeviationPartialNativeReEncrypt) // says the native check is left out
		}
		pt := secret(32)
		blob := s.encrypt(t, f.KeyA, pt, nil)
		out, err := reencrypt.New(s.kms).ReEncrypt(context.Background(), &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, DestinationKeyID: f.KeyB})
		if wantOK(t, err, "ReEncrypt through an engine that may go native") {
			s.checkOutput(t, out, f.KeyA, f.KeyB, native, "ReEncrypt through an engine that may go native")
			decryptTo(t, s.kms, f.KeyB, out.CiphertextBlob, nil, pt, f.KeyB, "Decrypt of the re-encrypted blob")
		}
	})
	t.Run("DryRun", func(t T) {
		f.skipIf(t, DeviationNoDryRun)
		ctx := context.Background()
		pt := secret(32)
		ec := map[string]string{"case": "engine-dryrun"}
		blob := s.encrypt(t, f.KeyA, pt, ec)
		dests := []string{f.KeyB}
		if f.Other != nil {
			dests = append(dests, f.OtherKey)
		}
		for _, dst := range dests {
			out, err := eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: ec, DestinationKeyID: dst, DryRun: true})
			wantKind(t, err, backends.ErrDryRunOperation, "ReEncrypt with DryRun to "+dst)
			if out != nil {
				t.Errorf("ReEncrypt with DryRun to %s returned an output", dst)
			}
			_, err = eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, DestinationKeyID: dst, DryRun: true})
			wantKind(t, err, backends.ErrInvalidCiphertext, "ReEncrypt with DryRun and the wrong source context to "+dst)
			_, err = eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: ec, DestinationKeyID: f.Unknown, DryRun: true})
			wantKind(t, err, backends.ErrNotFound, "ReEncrypt with DryRun to the unknown key")
		}
		decryptTo(t, s.kms, f.KeyA, blob, ec, pt, f.KeyA, "Decrypt after the dry runs")
	})
	t.Run("Unroutable", func(t T) {
		ctx := context.Background()
		blob := s.encrypt(t, f.KeyA, secret(8), nil)
		_, err := eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: unrouted, DestinationKeyID: f.KeyB})
		wantKind(t, err, backends.ErrNotFound, "ReEncrypt from a source key no backend owns")
		_, err = eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, DestinationKeyID: unrouted})
		wantKind(t, err, backends.ErrNotFound, "ReEncrypt to a destination key no backend owns")
	})
}

// crossProvider re-encrypts from KeyA to OtherKey and back to KeyB.
func (s *suite) crossProvider(t T, re reEncryptFunc) {
	f := s.f
	ctx := context.Background()
	pt := secret(32)
	src := map[string]string{"case": "crossprovider"}
	dst := map[string]string{"case": "crossprovider", "at": "other"}
	blob := s.encrypt(t, f.KeyA, pt, src)
	out, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: src,
		DestinationKeyID: f.OtherKey, DestinationEncryptionContext: dst})
	if !wantOK(t, err, "ReEncrypt from KeyA to the other provider's key") {
		return
	}
	s.checkOutput(t, out, f.KeyA, f.OtherKey, false, "ReEncrypt to the other provider")
	decryptTo(t, s.kms, f.OtherKey, out.CiphertextBlob, dst, pt, f.OtherKey, "Decrypt at the other provider")
	back, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, SourceKeyID: f.OtherKey, SourceEncryptionContext: dst,
		DestinationKeyID: f.KeyB, DestinationEncryptionContext: src})
	if wantOK(t, err, "ReEncrypt from the other provider's key to KeyB") {
		s.checkOutput(t, back, f.OtherKey, f.KeyB, false, "ReEncrypt back from the other provider")
		decryptTo(t, s.kms, f.KeyB, back.CiphertextBlob, src, pt, f.KeyB, "Decrypt of the blob brought back")
	}
	_, err = re(ctx, &backends.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, SourceKeyID: f.OtherKey, SourceEncryptionContext: src, DestinationKeyID: f.KeyB})
	wantKind(t, err, backends.ErrInvalidCiphertext, "ReEncrypt from the other provider with the wrong source context")
}
