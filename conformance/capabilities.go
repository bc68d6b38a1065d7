package conformance

import (
	"context"
	"fmt"
	"reflect"

	"github.com/keyport/keyport/backends"
)

func (s *suite) testDryRun(t T) {
	f := s.f
	f.skipIf(t, DeviationNoDryRun)
	ctx := context.Background()
	pt := secret(16)
	ec := map[string]string{"case": "dryrun"}
	blob := s.encrypt(t, f.KeyA, pt, ec)
	before := s.describe(t, f.KeyA)

	t.Run("Encrypt", func(t T) {
		out, err := s.kms.Encrypt(ctx, &backends.EncryptInput{KeyID: f.KeyA, Plaintext: pt, EncryptionContext: ec, DryRun: true})
		wantKind(t, err, backends.ErrDryRunOperation, "Encrypt with DryRun")
		if out != nil {
			t.Errorf("Encrypt with DryRun returned an output")
		}
	})
	t.Run("Decrypt", func(t T) {
		out, err := s.kms.Decrypt(ctx, &backends.DecryptInput{KeyID: f.KeyA, CiphertextBlob: blob, EncryptionContext: ec, DryRun: true})
		wantKind(t, err, backends.ErrDryRunOperation, "Decrypt with DryRun")
		if out != nil {
			clear(out.Plaintext)
			t.Errorf("Decrypt with DryRun returned an output")
		}
	})
	t.Run("ChecksEverything", func(t T) {
		// A dry run that would fail reports the failure, not DryRunOperation.
		_, err := s.kms.Encrypt(ctx, &backends.EncryptInput{KeyID: f.Unknown, Plaintext: pt, DryRun: true})
		wantKind(t, err, backends.ErrNotFound, "Encrypt with DryRun under the unknown key")
		_, err = s.kms.Decrypt(ctx, &backends.DecryptInput{KeyID: f.KeyA, CiphertextBlob: blob, EncryptionContext: map[string]string{"case": "other"}, DryRun: true})
		wantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt with DryRun and the wrong context")
		if f.Disabled != "" && f.unless(t, DeviationDisabledAccessDenied) {
			_, err = s.kms.Encrypt(ctx, &backends.EncryptInput{KeyID: f.Disabled, Plaintext: pt, DryRun: true})
			wantKind(t, err, backends.ErrDisabled, "Encrypt with DryRun under the disabled key")
		}
	})
	t.Run("GenerateDataKey", func(t T) {
		g, ok := s.generator()
		if !ok {
			t.Skip("skipped: the backend is not a backends.DataKeyGenerator")
		}
		out, err := g.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: f.KeyA, DryRun: true})
		wantKind(t, err, backends.ErrDryRunOperation, "GenerateDataKey with DryRun")
		if out != nil {
			clear(out.Plaintext)
			t.Errorf("GenerateDataKey with DryRun returned an output")
		}
		out, err = g.GenerateDataKeyWithoutPlaintext(ctx, &backends.GenerateDataKeyInput{KeyID: f.KeyA, DryRun: true})
		wantKind(t, err, backends.ErrDryRunOperation, "GenerateDataKeyWithoutPlaintext with DryRun")
		if out != nil {
			t.Errorf("GenerateDataKeyWithoutPlaintext with DryRun returned an output")
		}
	})
	t.Run("ReEncrypt", func(t T) {
		r, ok := s.reEncrypter()
		if !ok {
			f.skipNoNative(t)
		}
		out, err := r.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, SourceEncryptionContext: ec, DestinationKeyID: f.KeyB, DryRun: true})
		wantKind(t, err, backends.ErrDryRunOperation, "ReEncrypt with DryRun")
		if out != nil {
			t.Errorf("ReEncrypt with DryRun returned an output")
		}
		_, err = r.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, DestinationKeyID: f.KeyB, DryRun: true})
		wantKind(t, err, backends.ErrInvalidCiphertext, "ReEncrypt with DryRun and the wrong source context")
	})
	t.Run("NothingChanged", func(t T) {
		decryptTo(t, s.kms, f.KeyA, blob, ec, pt, f.KeyA, "Decrypt after the dry runs")
		if before == nil {
			return
		}
		after := s.describe(t, f.KeyA)
		if after != nil && !reflect.DeepEqual(before, after) {
			t.Errorf("DescribeKey after the dry runs differs from before: %+v, was %+v", *after, *before)
		}
	})
}

// describe returns the metadata of key, or nil when the backend is no KeyDescriber.
func (s *suite) describe(t T, key string) *backends.KeyMetadata {
	t.Helper()
	d, ok := s.describer()
	if !ok {
		return nil
	}
	md, err := d.DescribeKey(context.Background(), &backends.DescribeKeyInput{KeyID: key})
	mustOK(t, err, "DescribeKey of "+key)
	return md
}

func (s *suite) testGenerateDataKey(t T) {
	f := s.f
	g, ok := s.generator()
	if !ok {
		t.Skip("skipped: the backend is not a backends.DataKeyGenerator")
	}
	ctx := context.Background()
	ec := map[string]string{"case": "datakey"}
	for _, n := range []int{0, 16, 32, 64} {
		want := n
		if n == 0 {
			want = 32
		}
		t.Run(fmt.Sprintf("%dBytes", n), func(t T) {
			out, err := g.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: f.KeyA, NumberOfBytes: n, EncryptionContext: ec})
			mustOK(t, err, "GenerateDataKey")
			defer clear(out.Plaintext)
			if len(out.Plaintext) != want {
				t.Errorf("GenerateDataKey: %d plaintext bytes, want %d", len(out.Plaintext), want)
			}
			if out.KeyID != f.KeyA {
				t.Errorf("GenerateDataKey: output KeyID = %q, want the canonical %q", out.KeyID, f.KeyA)
			}
			decryptTo(t, s.kms, f.KeyA, out.CiphertextBlob, ec, out.Plaintext, f.KeyA, "Decrypt of the data key")
			wantKind(t, s.decryptErr(t, f.KeyA, out.CiphertextBlob, nil), backends.ErrInvalidCiphertext, "Decrypt of the data key without its context")
		})
	}
	t.Run("Fresh", func(t T) {
		a, err := g.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: f.KeyA})
		mustOK(t, err, "GenerateDataKey")
		defer clear(a.Plaintext)
		b, err := g.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: f.KeyA})
		mustOK(t, err, "GenerateDataKey")
		defer clear(b.Plaintext)
		if string(a.Plaintext) == string(b.Plaintext) {
			t.Errorf("two GenerateDataKey calls gave the same data key")
		}
	})
	t.Run("WithoutPlaintext", func(t T) {
		out, err := g.GenerateDataKeyWithoutPlaintext(ctx, &backends.GenerateDataKeyInput{KeyID: f.KeyA, EncryptionContext: ec})
		mustOK(t, err, "GenerateDataKeyWithoutPlaintext")
		if out.Plaintext != nil {
			clear(out.Plaintext)
			t.Errorf("GenerateDataKeyWithoutPlaintext returned a plaintext")
		}
		if out.KeyID != f.KeyA {
			t.Errorf("GenerateDataKeyWithoutPlaintext: output KeyID = %q, want the canonical %q", out.KeyID, f.KeyA)
		}
		d, err := s.kms.Decrypt(ctx, &backends.DecryptInput{KeyID: f.KeyA, CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
		mustOK(t, err, "Decrypt of the data key")
		if len(d.Plaintext) != 32 {
			t.Errorf("Decrypt of the data key: %d bytes, want 32", len(d.Plaintext))
		}
		clear(d.Plaintext)
	})
	t.Run("BadLength", func(t T) {
		for _, n := range []int{-1, 1025} {
			out, err := g.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: f.KeyA, NumberOfBytes: n})
			wantKind(t, err, backends.ErrInvalidArgument, fmt.Sprintf("GenerateDataKey of %d bytes", n))
			if out != nil {
				clear(out.Plaintext)
			}
		}
	})
}

func (s *suite) testDescribeKey(t T) {
	f := s.f
	d, ok := s.describer()
	if !ok {
		t.Skip("skipped: the backend is not a backends.KeyDescriber")
	}
	ctx := context.Background()
	var first *backends.KeyMetadata
	for _, form := range f.forms() {
		md, err := d.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: form})
		if !wantOK(t, err, "DescribeKey by "+form) {
			continue
		}
		if md.Arn != f.KeyA {
			t.Errorf("DescribeKey by %s: KeyID = %q, want the canonical %q", form, md.Arn, f.KeyA)
		}
		if md.KeyState != backends.KeyStateEnabled {
			t.Errorf("DescribeKey by %s: State = %q, want %q", form, md.KeyState, backends.KeyStateEnabled)
		}
		if md.KeyUsage != "" && md.KeyUsage != backends.KeyUsageEncryptDecrypt {
			t.Errorf("DescribeKey by %s: Usage = %q, want %q", form, md.KeyUsage, backends.KeyUsageEncryptDecrypt)
		}
		if md.KeyID == "" {
			t.Errorf("DescribeKey by %s: ID (the service's short identifier) is empty", form)
		}
		if first == nil {
			first = md
		} else if !reflect.DeepEqual(first, md) {
			t.Errorf("DescribeKey by %s differs from DescribeKey by %s", form, f.forms()[0])
		}
	}
	md, err := d.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: f.KeyB})
	if wantOK(t, err, "DescribeKey of KeyB") && md.Arn != f.KeyB {
		t.Errorf("DescribeKey of KeyB: KeyID = %q, want %q", md.Arn, f.KeyB)
	}
}

func (s *suite) testRotation(t T) {
	f := s.f
	if f.Rotate == nil {
		t.Skip("skipped: the harness gives no Rotate hook (the service has no on-demand rotation)")
	}
	ctx := context.Background()
	pt := secret(32)
	ec := map[string]string{"case": "rotation"}
	old := s.encrypt(t, f.KeyB, pt, ec)
	before := s.describe(t, f.KeyB)
	mustOK(t, f.Rotate(ctx, f.KeyB), "Rotate KeyB")
	after := s.describe(t, f.KeyB)
	if before != nil && after != nil && before.CurrentVersion != 0 && after.CurrentVersion <= before.CurrentVersion {
		t.Errorf("DescribeKey after Rotate: CurrentVersion = %d, want more than %d", after.CurrentVersion, before.CurrentVersion)
	}
	decryptTo(t, s.kms, f.KeyB, old, ec, pt, f.KeyB, "Decrypt of a blob made before the rotation")
	fresh := s.encrypt(t, f.KeyB, pt, ec)
	decryptTo(t, s.kms, f.KeyB, fresh, ec, pt, f.KeyB, "Decrypt of a blob made after the rotation")
	if r, ok := s.reEncrypter(); ok {
		out, err := r.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: old, SourceKeyID: f.KeyB, SourceEncryptionContext: ec, DestinationKeyID: f.KeyB, DestinationEncryptionContext: ec})
		if wantOK(t, err, "ReEncrypt of an old blob to the rotated key") {
			decryptTo(t, s.kms, f.KeyB, out.CiphertextBlob, ec, pt, f.KeyB, "Decrypt of the re-encrypted blob")
		}
	}
}

func (s *suite) testGrants(t T) {
	f := s.f
	f.skipIf(t, DeviationNoGrants)
	if f.Grant == nil {
		t.Skip("skipped: the harness gives no Grant hook (the service has no grants)")
	}
	ctx := context.Background()
	grantee, token, err := f.Grant(ctx, f.KeyA)
	mustOK(t, err, "Grant on KeyA")
	if grantee == nil || token == "" {
		t.Fatalf("Grant on KeyA: want a grantee backend and a token, got grantee=%v, token of %d bytes", grantee != nil, len(token))
	}
	// Without the token a grant takes effect only eventually (AWS KMS), so the
	// suite checks the token's effect, and that the grantee has nothing else.
	pt := secret(16)
	out, err := grantee.Encrypt(ctx, &backends.EncryptInput{KeyID: f.KeyA, Plaintext: pt, GrantTokens: []string{token}})
	if !wantOK(t, err, "Encrypt by the grantee with the grant token") {
		return
	}
	if out.KeyID != f.KeyA {
		t.Errorf("Encrypt by the grantee: output KeyID = %q, want the canonical %q", out.KeyID, f.KeyA)
	}
	d, err := grantee.Decrypt(ctx, &backends.DecryptInput{KeyID: f.KeyA, CiphertextBlob: out.CiphertextBlob, GrantTokens: []string{token}})
	if wantOK(t, err, "Decrypt by the grantee with the grant token") {
		if string(d.Plaintext) != string(pt) {
			t.Errorf("Decrypt by the grantee: plaintext differs from what was encrypted")
		}
		clear(d.Plaintext)
	}
	decryptTo(t, s.kms, f.KeyA, out.CiphertextBlob, nil, pt, f.KeyA, "Decrypt by the key's owner of the grantee's blob")
	_, err = grantee.Encrypt(ctx, &backends.EncryptInput{KeyID: f.KeyB, Plaintext: pt, GrantTokens: []string{token}})
	wantKind(t, err, backends.ErrAccessDenied, "Encrypt by the grantee under KeyB (no grant) with KeyA's grant token")
	_, err = grantee.Encrypt(ctx, &backends.EncryptInput{KeyID: f.KeyB, Plaintext: pt})
	wantKind(t, err, backends.ErrAccessDenied, "Encrypt by the grantee under KeyB (no grant)")
	_, err = grantee.Encrypt(ctx, &backends.EncryptInput{KeyID: f.KeyA, Plaintext: pt, GrantTokens: []string{"not-a-grant-token"}})
	if !errorsIs(err, backends.ErrInvalidGrantToken) && !errorsIs(err, backends.ErrAccessDenied) {
		t.Errorf("Encrypt by the grantee with a bogus grant token: want %s or %s, got %s", backends.ErrInvalidGrantToken.Name(), backends.ErrAccessDenied.Name(), describeErr(err))
	}
}
