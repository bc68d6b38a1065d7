package conformance

import (
	"bytes"
	"context"

	"github.com/keyport/keyport/backends"
)

// reEncryptFunc is a ReEncrypt: a backend's native one or the engine's.
type reEncryptFunc func(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error)

func (s *suite) testReEncrypt(t T) {
	t.Run("Native", s.testReEncryptNative)
	t.Run("Engine", s.testReEncryptEngine)
}

func (s *suite) testReEncryptNative(t T) {
	f := s.f
	r, ok := s.reEncrypter()
	if !ok {
		f.skipNoNative(t)
	}
	s.reEncryptCases(t, r.ReEncrypt, true, DeviationSourceKeyIDIgnored)
	t.Run("CrossAccount", func(t T) {
		f.skipIf(t, DeviationOneAccountPerProcess)
		if f.CrossAccountKey == "" {
			t.Skip("skipped: the harness gives no key of another account (Fixture.CrossAccountKey is empty)")
		}
		s.crossAccount(t, r.ReEncrypt, true)
	})
}

// crossAccount re-encrypts from KeyA to the key of another account by its ARN,
// and checks that its bare key ID does not resolve there.
func (s *suite) crossAccount(t T, re reEncryptFunc, native bool) {
	f := s.f
	ctx := context.Background()
	pt := secret(32)
	src := map[string]string{"case": "crossaccount"}
	dst := map[string]string{"case": "crossaccount", "to": "other-account"}
	blob := s.encrypt(t, f.KeyA, pt, src)
	out, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: src,
		DestinationKeyID: f.CrossAccountKey, DestinationEncryptionContext: dst})
	if wantOK(t, err, "ReEncrypt to the other account's key by ARN") {
		s.checkOutput(t, out, f.KeyA, f.CrossAccountKey, native, "ReEncrypt to the other account's key")
		decryptTo(t, s.kms, f.CrossAccountKey, out.CiphertextBlob, dst, pt, f.CrossAccountKey, "Decrypt of the re-encrypted blob by the other account's key ARN")
		// And back again, from the other account by ARN.
		back, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, SourceKeyID: f.CrossAccountKey, SourceEncryptionContext: dst,
			DestinationKeyID: f.KeyA, DestinationEncryptionContext: src})
		if wantOK(t, err, "ReEncrypt from the other account's key back to KeyA") {
			s.checkOutput(t, back, f.CrossAccountKey, f.KeyA, native, "ReEncrypt back to KeyA")
			decryptTo(t, s.kms, f.KeyA, back.CiphertextBlob, src, pt, f.KeyA, "Decrypt of the blob re-encrypted back")
		}
	}
	ref, err := backends.ParseKeyRef(f.CrossAccountKey)
	if err == nil && ref.Form == backends.FormKeyARN {
		_, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: src, DestinationKeyID: ref.KeyID})
		wantKind(t, err, backends.ErrNotFound, "ReEncrypt to another account's key by its bare key ID (resolves in the caller's account)")
		_, err = s.kms.Encrypt(ctx, &backends.EncryptInput{KeyID: ref.KeyID, Plaintext: pt})
		wantKind(t, err, backends.ErrNotFound, "Encrypt under another account's key by its bare key ID (resolves in the caller's account)")
	}
}

// checkOutput checks the fields of a ReEncrypt output.
func (s *suite) checkOutput(t T, out *backends.ReEncryptOutput, srcKey, dstKey string, native bool, what string) {
	t.Helper()
	if out == nil {
		t.Errorf("%s: no output", what)
		return
	}
	if len(out.CiphertextBlob) == 0 {
		t.Errorf("%s: the output has no ciphertext", what)
	}
	if out.SourceKeyID != srcKey {
		t.Errorf("%s: SourceKeyID = %q, want the canonical %q", what, out.SourceKeyID, srcKey)
	}
	if out.KeyID != dstKey {
		t.Errorf("%s: KeyID = %q, want the canonical %q", what, out.KeyID, dstKey)
	}
	if out.Native != native {
		t.Errorf("%s: Native = %v, want %v", what, out.Native, native)
	}
	if out.SourceEncryptionAlgorithm.OrDefault() != backends.SymmetricDefault || out.DestinationEncryptionAlgorithm.OrDefault() != backends.SymmetricDefault {
		t.Errorf("%s: algorithms %q -> %q, want %q both", what, out.SourceEncryptionAlgorithm, out.DestinationEncryptionAlgorithm, backends.SymmetricDefault)
	}
}

// reEncryptCases runs the ReEncrypt cases shared by the native call and the
// engine. sourceDev is the deviation that, declared, lets a wrong SourceKeyId pass.
func (s *suite) reEncryptCases(t T, re reEncryptFunc, native bool, sourceDev Deviation) {
	f := s.f
	ctx := context.Background()
	pt := secret(32)
	src := map[string]string{"case": "reencrypt", "side": "source"}
	dst := map[string]string{"case": "reencrypt", "side": "destination"}

	t.Run("ReferenceForms", func(t T) {
		blobA := s.encrypt(t, f.KeyA, pt, src)
		blobB := s.encrypt(t, f.KeyB, pt, src)
		for _, form := range f.forms() {
			out, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: blobA, SourceKeyID: form, SourceEncryptionContext: src,
				DestinationKeyID: f.KeyB, DestinationEncryptionContext: dst})
			if wantOK(t, err, "ReEncrypt from KeyA as "+form) {
				s.checkOutput(t, out, f.KeyA, f.KeyB, native, "ReEncrypt from KeyA as "+form)
				decryptTo(t, s.kms, f.KeyB, out.CiphertextBlob, dst, pt, f.KeyB, "Decrypt of the blob re-encrypted from KeyA as "+form)
			}
			out, err = re(ctx, &backends.ReEncryptInput{CiphertextBlob: blobB, SourceKeyID: f.KeyB, SourceEncryptionContext: src,
				DestinationKeyID: form, DestinationEncryptionContext: dst})
			if wantOK(t, err, "ReEncrypt to KeyA as "+form) {
				s.checkOutput(t, out, f.KeyB, f.KeyA, native, "ReEncrypt to KeyA as "+form)
				decryptTo(t, s.kms, f.KeyA, out.CiphertextBlob, dst, pt, f.KeyA, "Decrypt of the blob re-encrypted to KeyA as "+form)
			}
		}
	})
	t.Run("ContextChangeOnly", func(t T) {
		blob := s.encrypt(t, f.KeyA, pt, src)
		out, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: src,
			DestinationKeyID: f.KeyA, DestinationEncryptionContext: dst})
		if !wantOK(t, err, "ReEncrypt to the same key with a new context") {
			return
		}
		s.checkOutput(t, out, f.KeyA, f.KeyA, native, "ReEncrypt to the same key")
		decryptTo(t, s.kms, f.KeyA, out.CiphertextBlob, dst, pt, f.KeyA, "Decrypt with the new context")
		wantKind(t, s.decryptErr(t, f.KeyA, out.CiphertextBlob, src), backends.ErrInvalidCiphertext, "Decrypt with the old context of the re-encrypted blob")
		// The context may also be dropped altogether.
		out, err = re(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: src, DestinationKeyID: f.KeyA})
		if wantOK(t, err, "ReEncrypt to the same key without a context") {
			decryptTo(t, s.kms, f.KeyA, out.CiphertextBlob, nil, pt, f.KeyA, "Decrypt without a context")
		}
	})
	t.Run("CrossKey", func(t T) {
		blob := s.encrypt(t, f.KeyA, pt, src)
		out, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: src,
			DestinationKeyID: f.KeyB, DestinationEncryptionContext: src})
		if !wantOK(t, err, "ReEncrypt from KeyA to KeyB") {
			return
		}
		s.checkOutput(t, out, f.KeyA, f.KeyB, native, "ReEncrypt from KeyA to KeyB")
		decryptTo(t, s.kms, f.KeyB, out.CiphertextBlob, src, pt, f.KeyB, "Decrypt with KeyB")
		if f.unless(t, DeviationDecryptKeyIDIgnored, DeviationIncorrectKeyIsInvalidCiphertext) {
			wantKind(t, s.decryptErr(t, f.KeyA, out.CiphertextBlob, src), backends.ErrIncorrectKey, "Decrypt with KeyA of the blob re-encrypted to KeyB")
		}
	})
	t.Run("WithoutSourceKeyID", func(t T) {
		if _, ok := s.inspector(); !ok {
			t.Skip("skipped: the backend's blobs do not name their key (not a backends.CiphertextInspector), so SourceKeyId is required")
		}
		blob := s.encrypt(t, f.KeyA, pt, src)
		out, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: src, DestinationKeyID: f.KeyB})
		if wantOK(t, err, "ReEncrypt without SourceKeyId") {
			s.checkOutput(t, out, f.KeyA, f.KeyB, native, "ReEncrypt without SourceKeyId")
		}
	})
	t.Run("WrongSourceKey", func(t T) {
		f.skipIf(t, sourceDev, DeviationIncorrectKeyIsInvalidCiphertext)
		blob := s.encrypt(t, f.KeyA, pt, src)
		out, err := re(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyB, SourceEncryptionContext: src, DestinationKeyID: f.KeyB})
		wantKind(t, err, backends.ErrIncorrectKey, "ReEncrypt of a blob of KeyA naming KeyB as SourceKeyId")
		if out != nil {
			t.Errorf("ReEncrypt with the wrong SourceKeyId returned an output")
		}
	})
	t.Run("Failures", func(t T) {
		blob := s.encrypt(t, f.KeyA, pt, src)
		tampered := bytes.Clone(blob)
		tampered[len(tampered)-1] ^= 0x01
		for _, c := range []struct {
			name string
			in   backends.ReEncryptInput
			want []*backends.Kind
			dev  Deviation
		}{
			{"WrongSourceContext", backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: dst, DestinationKeyID: f.KeyB}, []*backends.Kind{backends.ErrInvalidCiphertext}, ""},
			{"MissingSourceContext", backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, DestinationKeyID: f.KeyB}, []*backends.Kind{backends.ErrInvalidCiphertext}, ""},
			{"UnknownDestination", backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: src, DestinationKeyID: f.Unknown}, []*backends.Kind{backends.ErrNotFound}, ""},
			// The source key named does not exist, and it is not the key that made
			// the blob: NotFound and IncorrectKey are both true answers.
			{"UnknownSource", backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.Unknown, SourceEncryptionContext: src, DestinationKeyID: f.KeyB}, []*backends.Kind{backends.ErrNotFound, backends.ErrIncorrectKey}, sourceDev},
			{"Tampered", backends.ReEncryptInput{CiphertextBlob: tampered, SourceKeyID: f.KeyA, SourceEncryptionContext: src, DestinationKeyID: f.KeyB}, []*backends.Kind{backends.ErrInvalidCiphertext}, ""},
		} {
			t.Run(c.name, func(t T) {
				if c.dev != "" {
					f.skipIf(t, c.dev)
				}
				out, err := re(ctx, &c.in)
				if len(c.want) == 2 {
					wantEither(t, err, c.want[0], c.want[1], "ReEncrypt ("+c.name+")")
				} else {
					wantKind(t, err, c.want[0], "ReEncrypt ("+c.name+")")
				}
				if out != nil {
					t.Errorf("ReEncrypt (%s) returned an output with the error", c.name)
				}
			})
		}
	})
}
