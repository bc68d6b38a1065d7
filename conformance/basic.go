package conformance

import (
	"bytes"
	"context"
	"fmt"

	"github.com/keyport/keyport/backends"
)

func (s *suite) testRoundTrip(t T) {
	f := s.f
	ec := map[string]string{"suite": "conformance", "case": "roundtrip"}
	for _, tc := range []struct {
		name string
		n    int
	}{{"OneByte", 1}, {"4096Bytes", backends.MaxPlaintextBytes}} {
		t.Run(tc.name, func(t T) {
			if tc.n == backends.MaxPlaintextBytes {
				f.skipIf(t, DeviationSmallPlaintextLimit)
			}
			pt := secret(tc.n)
			out, err := s.kms.Encrypt(context.Background(), &backends.EncryptInput{KeyID: f.KeyA, Plaintext: pt, EncryptionContext: ec})
			mustOK(t, err, "Encrypt")
			if out.KeyID != f.KeyA {
				t.Errorf("Encrypt: output KeyID = %q, want the canonical %q", out.KeyID, f.KeyA)
			}
			if out.EncryptionAlgorithm.OrDefault() != backends.SymmetricDefault {
				t.Errorf("Encrypt: output algorithm = %q, want %q", out.EncryptionAlgorithm, backends.SymmetricDefault)
			}
			if tc.n >= 16 && bytes.Contains(out.CiphertextBlob, pt) {
				t.Errorf("Encrypt: the ciphertext contains the plaintext")
			}
			decryptTo(t, s.kms, f.KeyA, out.CiphertextBlob, ec, pt, f.KeyA, "Decrypt with KeyID")
			if _, ok := s.inspector(); ok {
				decryptTo(t, s.kms, "", out.CiphertextBlob, ec, pt, f.KeyA, "Decrypt without KeyID")
			}
		})
	}
	// AWS KMS takes 1 to 4096 bytes; the Front refuses anything else for every
	// driver, before the driver sees it.
	t.Run("Limits", func(t T) {
		for _, n := range []int{0, backends.MaxPlaintextBytes + 1} {
			out, err := s.kms.Encrypt(context.Background(), &backends.EncryptInput{KeyID: f.KeyA, Plaintext: secret(n)})
			wantKind(t, err, backends.ErrInvalidArgument, fmt.Sprintf("Encrypt of %d bytes", n))
			if out != nil {
				t.Errorf("Encrypt of %d bytes returned an output", n)
			}
		}
	})
}

func (s *suite) testFreshCiphertext(t T) {
	f := s.f
	pt := secret(32)
	ec := map[string]string{"case": "fresh"}
	a := s.encrypt(t, f.KeyA, pt, ec)
	b := s.encrypt(t, f.KeyA, pt, ec)
	if bytes.Equal(a, b) {
		t.Errorf("two encryptions of the same plaintext under the same key and context gave the same ciphertext")
	}
	decryptTo(t, s.kms, f.KeyA, a, ec, pt, f.KeyA, "Decrypt first")
	decryptTo(t, s.kms, f.KeyA, b, ec, pt, f.KeyA, "Decrypt second")
}

func (s *suite) testContextBinding(t T) {
	f := s.f
	pt := secret(32)
	ec := map[string]string{"tenant": "acme", "purpose": "conformance", "z": ""}
	blob := s.encrypt(t, f.KeyA, pt, ec)
	for _, tc := range []struct {
		name string
		ec   map[string]string
	}{
		{"WrongValue", map[string]string{"tenant": "acme2", "purpose": "conformance", "z": ""}},
		{"WrongKeyName", map[string]string{"tenant": "acme", "purpose": "conformance", "Z": ""}},
		{"Missing", nil},
		{"MissingPair", map[string]string{"tenant": "acme", "purpose": "conformance"}},
		{"ExtraPair", map[string]string{"tenant": "acme", "purpose": "conformance", "z": "", "extra": "x"}},
	} {
		t.Run(tc.name, func(t T) {
			wantKind(t, s.decryptErr(t, f.KeyA, blob, tc.ec), backends.ErrInvalidCiphertext, "Decrypt with a "+tc.name+" encryption context")
		})
	}
	t.Run("ReorderedMap", func(t T) {
		// A map built in another order is the same context and must decrypt.
		re := make(map[string]string)
		for _, k := range []string{"z", "purpose", "tenant"} {
			re[k] = ec[k]
		}
		decryptTo(t, s.kms, f.KeyA, blob, re, pt, f.KeyA, "Decrypt with the same pairs in another order")
	})
	t.Run("EmptyIsNil", func(t T) {
		b := s.encrypt(t, f.KeyA, pt, map[string]string{})
		decryptTo(t, s.kms, f.KeyA, b, nil, pt, f.KeyA, "Decrypt with a nil context of a blob made with an empty one")
		wantKind(t, s.decryptErr(t, f.KeyA, b, map[string]string{"a": "b"}), backends.ErrInvalidCiphertext, "Decrypt with a context of a blob made without one")
	})
	t.Run("ResplitPairs", func(t T) {
		f.skipIf(t, DeviationContextPairCollision)
		b := s.encrypt(t, f.KeyA, pt, map[string]string{"ab": "c"})
		wantKind(t, s.decryptErr(t, f.KeyA, b, map[string]string{"a": "bc"}), backends.ErrInvalidCiphertext, "Decrypt with {a:bc} of a blob made under {ab:c}")
		b2 := s.encrypt(t, f.KeyA, pt, map[string]string{"a": "b", "c": "d"})
		wantKind(t, s.decryptErr(t, f.KeyA, b2, map[string]string{"a": "bc", "": "d"}), backends.ErrInvalidCiphertext, "Decrypt with {a:bc, \"\":d} of a blob made under {a:b, c:d}")
		wantKind(t, s.decryptErr(t, f.KeyA, b2, map[string]string{"ab": "cd"}), backends.ErrInvalidCiphertext, "Decrypt with {ab:cd} of a blob made under {a:b, c:d}")
	})
}

// mutationTargets returns the keys to decrypt tampered blobs with: KeyA, and no
// key at all when the blobs name their key.
func (s *suite) mutationTargets() []string {
	if _, ok := s.inspector(); ok {
		return []string{s.f.KeyA, ""}
	}
	return []string{s.f.KeyA}
}

func keyLabel(k string) string {
	if k == "" {
		return "without KeyID"
	}
	return "with KeyID"
}

func keyTestName(k string) string {
	if k == "" {
		return "WithoutKeyID"
	}
	return "WithKeyID"
}

// mutant is a damaged copy of a blob and what was done to it.
type mutant struct {
	what string
	blob []byte
	// validation says AWS KMS may also answer ValidationException (an empty blob).
	validation bool
}

// checkMutants decrypts every mutant of a blob of pt and checks, in named
// subtests, that each is rejected (Rejected; skipped under
// DeviationUnauthenticatedBlobHeader), that each rejection is InvalidCiphertext
// (AsInvalidCiphertext; skipped under DeviationTamperKindMisreported), and that
// none ever decrypts to anything but pt under KeyA (NeverWrongPlaintext; always).
func (s *suite) checkMutants(t T, ms []mutant, pt []byte, ec map[string]string) {
	f := s.f
	for _, key := range s.mutationTargets() {
		t.Run(keyTestName(key), func(t T) {
			errs := make([]error, len(ms))
			wrong := make([]bool, len(ms)) // decrypted to another plaintext or key
			for i, m := range ms {
				out, err := s.kms.Decrypt(context.Background(), &backends.DecryptInput{KeyID: key, CiphertextBlob: m.blob, EncryptionContext: ec})
				errs[i] = err
				if out != nil {
					wrong[i] = err == nil && (!bytes.Equal(out.Plaintext, pt) || out.KeyID != f.KeyA)
					if err != nil {
						t.Errorf("Decrypt %s of the blob %s returned an output together with an error (%s)", keyLabel(key), m.what, kindName(err))
					}
					clear(out.Plaintext)
				}
			}
			t.Logf("decrypted %d damaged blobs %s", len(ms), keyLabel(key))
			report := func(t T, ok func(i int) bool, want string) {
				t.Helper()
				bad := 0
				for i, m := range ms {
					if ok(i) {
						continue
					}
					bad++
					if bad <= 5 {
						t.Errorf("Decrypt %s of the blob %s: want %s, got %s", keyLabel(key), m.what, want, describeErr(errs[i]))
					}
				}
				if bad > 5 {
					t.Errorf("... %d of %d damaged blobs in all: want %s", bad, len(ms), want)
				}
			}
			t.Run("Rejected", func(t T) {
				f.skipIf(t, DeviationUnauthenticatedBlobHeader)
				report(t, func(i int) bool { return errs[i] != nil }, "an error")
			})
			t.Run("AsInvalidCiphertext", func(t T) {
				f.skipIf(t, DeviationTamperKindMisreported)
				report(t, func(i int) bool {
					return errs[i] == nil || errorsIs(errs[i], backends.ErrInvalidCiphertext) || ms[i].validation && errorsIs(errs[i], backends.ErrInvalidArgument)
				}, backends.ErrInvalidCiphertext.Name())
			})
			t.Run("NeverWrongPlaintext", func(t T) {
				report(t, func(i int) bool { return !wrong[i] }, "an error, or at worst the original plaintext under KeyA")
			})
		})
	}
}

func (s *suite) testEveryByteFlip(t T) {
	pt := secret(32)
	ec := map[string]string{"case": "flip"}
	blob := s.encrypt(t, s.f.KeyA, pt, ec)
	var ms []mutant
	for i := range blob {
		for _, mask := range []byte{0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40, 0x80, 0xff} {
			m := bytes.Clone(blob)
			m[i] ^= mask
			ms = append(ms, mutant{what: fmt.Sprintf("with byte %d of %d XOR %#02x", i, len(blob), mask), blob: m})
		}
	}
	s.checkMutants(t, ms, pt, ec)
}

func (s *suite) testEveryTruncation(t T) {
	pt := secret(32)
	ec := map[string]string{"case": "truncation"}
	blob := s.encrypt(t, s.f.KeyA, pt, ec)
	// An empty blob may also be a ValidationException, as AWS KMS answers a
	// CiphertextBlob shorter than its minimum length of 1.
	ms := []mutant{{what: "cut to 0 bytes", blob: []byte{}, validation: true}}
	for n := 1; n < len(blob); n++ {
		ms = append(ms, mutant{what: fmt.Sprintf("cut to %d of %d bytes", n, len(blob)), blob: bytes.Clone(blob[:n])})
	}
	// A blob with bytes appended is not the blob either.
	ms = append(ms, mutant{what: "with a zero byte appended", blob: append(bytes.Clone(blob), 0)},
		mutant{what: "twice over", blob: append(bytes.Clone(blob), blob...)})
	s.checkMutants(t, ms, pt, ec)
}

func (s *suite) testWrongKey(t T) {
	f := s.f
	f.skipIf(t, DeviationDecryptKeyIDIgnored, DeviationIncorrectKeyIsInvalidCiphertext)
	pt := secret(32)
	blobA := s.encrypt(t, f.KeyA, pt, nil)
	blobB := s.encrypt(t, f.KeyB, pt, nil)
	wantKind(t, s.decryptErr(t, f.KeyB, blobA, nil), backends.ErrIncorrectKey, "Decrypt with KeyB of a blob of KeyA")
	wantKind(t, s.decryptErr(t, f.KeyA, blobB, nil), backends.ErrIncorrectKey, "Decrypt with KeyA of a blob of KeyB")
	for _, form := range f.forms() {
		wantKind(t, s.decryptErr(t, form, blobB, nil), backends.ErrIncorrectKey, "Decrypt with KeyA as "+form+" of a blob of KeyB")
	}
}

func (s *suite) testUnknownKey(t T) {
	f := s.f
	ctx := context.Background()
	t.Run("Encrypt", func(t T) {
		out, err := s.kms.Encrypt(ctx, &backends.EncryptInput{KeyID: f.Unknown, Plaintext: secret(8)})
		wantKind(t, err, backends.ErrNotFound, "Encrypt under the unknown key")
		if out != nil {
			t.Errorf("Encrypt under the unknown key returned an output")
		}
	})
	t.Run("Decrypt", func(t T) {
		f.skipIf(t, DeviationDecryptKeyIDIgnored)
		blob := s.encrypt(t, f.KeyA, secret(8), nil)
		// The key named does not exist, and it is not the key that made the blob:
		// NotFound and IncorrectKey are both true answers.
		wantEither(t, s.decryptErr(t, f.Unknown, blob, nil), backends.ErrNotFound, backends.ErrIncorrectKey, "Decrypt of a blob of KeyA naming the unknown key")
	})
	t.Run("GenerateDataKey", func(t T) {
		g, ok := s.generator()
		if !ok {
			t.Skip("skipped: the backend is not a backends.DataKeyGenerator")
		}
		out, err := g.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: f.Unknown})
		wantKind(t, err, backends.ErrNotFound, "GenerateDataKey under the unknown key")
		if out != nil {
			clear(out.Plaintext)
			t.Errorf("GenerateDataKey under the unknown key returned an output")
		}
	})
	t.Run("DescribeKey", func(t T) {
		d, ok := s.describer()
		if !ok {
			t.Skip("skipped: the backend is not a backends.KeyDescriber")
		}
		_, err := d.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: f.Unknown})
		wantKind(t, err, backends.ErrNotFound, "DescribeKey of the unknown key")
	})
	t.Run("ReEncrypt", func(t T) {
		r, ok := s.reEncrypter()
		if !ok {
			f.skipNoNative(t)
		}
		blob := s.encrypt(t, f.KeyA, secret(8), nil)
		_, err := r.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, DestinationKeyID: f.Unknown})
		wantKind(t, err, backends.ErrNotFound, "ReEncrypt to the unknown key")
	})
}

// stateCase checks every operation on a key in a state other than Enabled.
func (s *suite) stateCase(t T, key string, blob []byte, want *backends.Kind, state backends.KeyState) {
	f := s.f
	ctx := context.Background()
	t.Run("Encrypt", func(t T) {
		out, err := s.kms.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: secret(8)})
		wantKind(t, err, want, "Encrypt")
		if out != nil {
			t.Errorf("Encrypt returned an output with the error")
		}
	})
	t.Run("Decrypt", func(t T) {
		if blob == nil {
			t.Skip("skipped: the harness gives no ciphertext made by this key before its state changed")
		}
		wantKind(t, s.decryptErr(t, key, blob, nil), want, "Decrypt with KeyID")
		if _, ok := s.inspector(); ok {
			wantKind(t, s.decryptErr(t, "", blob, nil), want, "Decrypt without KeyID")
		}
	})
	t.Run("GenerateDataKey", func(t T) {
		g, ok := s.generator()
		if !ok {
			t.Skip("skipped: the backend is not a backends.DataKeyGenerator")
		}
		out, err := g.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: key})
		wantKind(t, err, want, "GenerateDataKey")
		if out != nil {
			clear(out.Plaintext)
			t.Errorf("GenerateDataKey returned an output with the error")
		}
	})
	t.Run("ReEncrypt", func(t T) {
		r, ok := s.reEncrypter()
		if !ok {
			f.skipNoNative(t)
		}
		t.Run("To", func(t T) {
			good := s.encrypt(t, f.KeyA, secret(8), nil)
			_, err := r.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: good, SourceKeyID: f.KeyA, DestinationKeyID: key})
			wantKind(t, err, want, "ReEncrypt to the key")
		})
		t.Run("From", func(t T) {
			if blob == nil {
				t.Skip("skipped: the harness gives no ciphertext made by this key before its state changed")
			}
			_, err := r.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: key, DestinationKeyID: f.KeyA})
			wantKind(t, err, want, "ReEncrypt from the key")
		})
	})
	t.Run("DescribeKey", func(t T) {
		d, ok := s.describer()
		if !ok {
			t.Skip("skipped: the backend is not a backends.KeyDescriber")
		}
		md, err := d.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
		if !wantOK(t, err, "DescribeKey (works in every state)") {
			return
		}
		if md.KeyState != state {
			t.Errorf("DescribeKey: State = %q, want %q", md.KeyState, state)
		}
		if state == backends.KeyStatePendingDeletion && md.DeletionDate.IsZero() {
			t.Errorf("DescribeKey: DeletionDate is zero for a key pending deletion")
		}
	})
}

func (s *suite) testDisabled(t T) {
	f := s.f
	if f.Disabled == "" {
		t.Skip("skipped: the service has no Disabled key state (Fixture.Disabled is empty)")
	}
	f.skipIf(t, DeviationDisabledAccessDenied)
	s.stateCase(t, f.Disabled, f.DisabledCiphertext, backends.ErrDisabled, backends.KeyStateDisabled)
}

func (s *suite) testPendingDeletion(t T) {
	f := s.f
	if f.PendingDeletion == "" {
		t.Skip("skipped: the service has no PendingDeletion key state (Fixture.PendingDeletion is empty)")
	}
	s.stateCase(t, f.PendingDeletion, f.PendingDeletionCiphertext, backends.ErrInvalidState, backends.KeyStatePendingDeletion)
}

func (s *suite) testKeyReferenceForms(t T) {
	f := s.f
	forms := f.forms()
	if len(f.KeyAForms) == 0 {
		t.Logf("the harness gives only the canonical form of KeyA (Fixture.KeyAForms is empty)")
	}
	ec := map[string]string{"case": "forms"}
	pt := secret(24)
	blobs := make([][]byte, len(forms))
	for i, form := range forms {
		out, err := s.kms.Encrypt(context.Background(), &backends.EncryptInput{KeyID: form, Plaintext: pt, EncryptionContext: ec})
		if !wantOK(t, err, "Encrypt by "+form) {
			continue
		}
		if out.KeyID != f.KeyA {
			t.Errorf("Encrypt by %s: output KeyID = %q, want the canonical %q", form, out.KeyID, f.KeyA)
		}
		blobs[i] = out.CiphertextBlob
	}
	for i, blob := range blobs {
		if blob == nil {
			continue
		}
		for _, form := range forms {
			decryptTo(t, s.kms, form, blob, ec, pt, f.KeyA, fmt.Sprintf("Decrypt by %s of the blob made by %s", form, forms[i]))
		}
	}
}
