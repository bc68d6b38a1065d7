package local_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/reencrypt"
)

func TestRoundTrip(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	for _, n := range []int{0, 1, 32, 4096} {
		pt := bytes.Repeat([]byte{0xA5}, n)
		out, err := f.a.Encrypt(bg, &backends.EncryptInput{KeyID: k.KeyID, Plaintext: pt})
		mustOK(t, err)
		if out.KeyID != k.Arn || out.EncryptionAlgorithm != backends.SymmetricDefault {
			t.Fatalf("Encrypt output %q %q", out.KeyID, out.EncryptionAlgorithm)
		}
		again := f.encrypt(f.a, k.KeyID, pt, nil)
		if bytes.Equal(again, out.CiphertextBlob) {
			t.Fatalf("%d bytes: two encryptions gave the same ciphertext", n)
		}
		dec, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob})
		mustOK(t, err)
		if !bytes.Equal(dec.Plaintext, pt) || dec.KeyID != k.Arn || dec.Plaintext == nil {
			t.Fatalf("%d bytes: round trip gave %d bytes from %s", n, len(dec.Plaintext), dec.KeyID)
		}
	}
	// The 4096-byte limit is the Front's, for every driver.
	_, err := backends.NewFront(f.a).Encrypt(bg, &backends.EncryptInput{KeyID: k.KeyID, Plaintext: make([]byte, 4097)})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt of 4097 bytes through the Front")
}

func TestKeyReferenceForms(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	mustOK(t, f.a.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/app", TargetKeyID: k.KeyID}))
	aliasARN := "arn:aws:kms:us-east-1:" + acctA + ":alias/app"
	for _, ref := range []string{k.KeyID, k.Arn, "alias/app", aliasARN} {
		ct := f.encrypt(f.a, ref, []byte("x"), nil)
		out, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, KeyID: ref})
		mustOK(t, err)
		if out.KeyID != k.Arn {
			t.Fatalf("%s: decrypted by %s", ref, out.KeyID)
		}
		if _, err := f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: ref}); err != nil {
			t.Fatalf("DescribeKey(%s): %v", ref, err)
		}
	}
	// Account B: bare forms resolve in B's own account; ARNs reach A's key but the
	// default policy keeps B out.
	for _, tc := range []struct {
		ref  string
		want *backends.Kind
	}{
		{k.KeyID, backends.ErrNotFound},
		{"alias/app", backends.ErrNotFound},
		{k.Arn, backends.ErrAccessDenied},
		{aliasARN, backends.ErrAccessDenied},
	} {
		_, err := f.b.Encrypt(bg, &backends.EncryptInput{KeyID: tc.ref, Plaintext: []byte("x")})
		kmstest.WantKind(t, err, tc.want, "Encrypt by B by "+tc.ref)
	}
	mustOK(t, f.a.PutKeyPolicy(bg, &local.PutKeyPolicyInput{KeyID: k.KeyID, Policy: allowPolicy(acctA, []string{acctB}, "kms:Encrypt", "kms:Decrypt")}))
	for _, ref := range []string{k.Arn, aliasARN} {
		ct := f.encrypt(f.b, ref, []byte("y"), nil)
		if _, err := f.b.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct}); err != nil {
			t.Fatalf("B decrypt of %s: %v", ref, err)
		}
	}
	// B may encrypt and decrypt but not describe: the policy does not say so.
	_, err := f.b.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: k.Arn})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "DescribeKey by B, whose policy allows Encrypt and Decrypt only")
}

func TestNotFound(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	for _, ref := range []string{
		"00000000-0000-4000-8000-000000000000",
		"arn:aws:kms:us-east-1:" + acctA + ":key/00000000-0000-4000-8000-000000000000",
		"alias/missing",
		"arn:aws:kms:us-east-1:" + acctA + ":alias/missing",
		"arn:aws:kms:eu-west-1:" + acctA + ":key/" + k.KeyID, // another region
		"arn:aws-cn:kms:us-east-1:" + acctA + ":key/" + k.KeyID,
		"arn:aws:kms:us-east-1:" + acctB + ":key/" + k.KeyID, // the key is not B's
		"vault://transit/orders",
		"not a key",
	} {
		_, err := f.a.Encrypt(bg, &backends.EncryptInput{KeyID: ref, Plaintext: []byte("x")})
		kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt by "+ref)
		_, err = f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: ref})
		kmstest.WantKind(t, err, backends.ErrNotFound, "DescribeKey by "+ref)
	}
	_, err := f.a.Encrypt(bg, &backends.EncryptInput{Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt without a KeyID")
}

func TestEncryptionContextBinding(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	ec := map[string]string{"ab": "c", "tenant": "t1"}
	ct := f.encrypt(f.a, k.KeyID, []byte("secret"), ec)
	for _, tc := range []struct {
		name string
		ec   map[string]string
		ok   bool
	}{
		{"same", map[string]string{"tenant": "t1", "ab": "c"}, true},
		{"missing", nil, false},
		{"one missing", map[string]string{"ab": "c"}, false},
		{"extra", map[string]string{"ab": "c", "tenant": "t1", "x": "y"}, false},
		{"wrong value", map[string]string{"ab": "c", "tenant": "t2"}, false},
		{"re-split", map[string]string{"a": "bc", "tenant": "t1"}, false},
		{"empty value", map[string]string{"ab": "", "tenant": "t1"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, EncryptionContext: tc.ec})
			if tc.ok {
				mustOK(t, err)
				if string(out.Plaintext) != "secret" {
					t.Fatal("wrong plaintext")
				}
				return
			}
			kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt under another context")
		})
	}
	// A blob with no context does not decrypt with one.
	ct2 := f.encrypt(f.a, k.KeyID, []byte("s"), nil)
	_, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct2, EncryptionContext: map[string]string{"a": "b"}})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt under a context of a blob made without one")
}

func TestTamperedCiphertext(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	other := f.key(f.a, nil)
	ec := map[string]string{"k": "v"}
	ct := f.encrypt(f.a, k.KeyID, make([]byte, 32), ec)
	for _, keyID := range []string{"", k.KeyID} {
		for i := range ct {
			for _, mask := range []byte{0x01, 0x80, 0xFF} {
				bad := bytes.Clone(ct)
				bad[i] ^= mask
				_, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: bad, KeyID: keyID, EncryptionContext: ec})
				if kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, fmt.Sprintf("Decrypt by KeyID %q with byte %d ^ %#x", keyID, i, mask)) == nil {
					t.FailNow()
				}
			}
		}
		for n := 0; n < len(ct); n++ {
			_, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct[:n], KeyID: keyID, EncryptionContext: ec})
			if kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, fmt.Sprintf("Decrypt by KeyID %q of the blob truncated to %d bytes", keyID, n)) == nil {
				t.FailNow()
			}
		}
	}
	// ReEncrypt rejects the same damage.
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	_, err := f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: bad, SourceEncryptionContext: ec, DestinationKeyID: other.KeyID})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "ReEncrypt of a damaged blob")
	_, err = f.a.CiphertextKeyID(ct[:10])
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "CiphertextKeyID of 10 bytes")
	id, err := f.a.CiphertextKeyID(ct)
	mustOK(t, err)
	if id != k.Arn {
		t.Fatalf("CiphertextKeyID = %s, want %s", id, k.Arn)
	}
}

func TestIncorrectKey(t *testing.T) {
	f := newFixture(t)
	k1, k2 := f.key(f.a, nil), f.key(f.a, nil)
	ct := f.encrypt(f.a, k1.KeyID, []byte("x"), nil)
	_, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, KeyID: k2.KeyID})
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "Decrypt naming another key")
	_, err = f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, SourceKeyID: k2.Arn, DestinationKeyID: k2.KeyID})
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "ReEncrypt naming another source key")
	// A key the caller cannot even find is NotFound.
	_, err = f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, KeyID: "alias/none"})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Decrypt naming an unknown alias")
}

func TestAlgorithms(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	ct := f.encrypt(f.a, k.KeyID, []byte("x"), nil)
	_, err := f.a.Encrypt(bg, &backends.EncryptInput{KeyID: k.KeyID, EncryptionAlgorithm: backends.RSAESOAEPSHA256})
	kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "Encrypt under a symmetric key with an RSA algorithm")
	_, err = f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, EncryptionAlgorithm: "ROT13"})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Decrypt with an unknown algorithm")
	_, err = f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, EncryptionAlgorithm: backends.SymmetricDefault})
	mustOK(t, err)
	_, err = f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, DestinationKeyID: k.KeyID, DestinationEncryptionAlgorithm: backends.RSAESOAEPSHA1})
	kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "ReEncrypt to a symmetric key with an RSA algorithm")
}

func TestGenerateDataKey(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	ec := map[string]string{"p": "q"}
	for _, n := range []int{0, 1, 16, 64, 1024} {
		out, err := f.a.GenerateDataKey(bg, &backends.GenerateDataKeyInput{KeyID: "arn:aws:kms:us-east-1:" + acctA + ":key/" + k.KeyID, NumberOfBytes: n, EncryptionContext: ec})
		mustOK(t, err)
		want := n
		if n == 0 {
			want = 32
		}
		if len(out.Plaintext) != want || out.KeyID != k.Arn {
			t.Fatalf("NumberOfBytes %d: got %d bytes from %s", n, len(out.Plaintext), out.KeyID)
		}
		dec, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
		mustOK(t, err)
		if !bytes.Equal(dec.Plaintext, out.Plaintext) {
			t.Fatal("data key does not decrypt to its plaintext")
		}
	}
	for _, n := range []int{-1, 1025} {
		_, err := f.a.GenerateDataKey(bg, &backends.GenerateDataKeyInput{KeyID: k.KeyID, NumberOfBytes: n})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, fmt.Sprintf("GenerateDataKey of %d bytes", n))
	}
	out, err := f.a.GenerateDataKeyWithoutPlaintext(bg, &backends.GenerateDataKeyInput{KeyID: k.KeyID})
	mustOK(t, err)
	if out.Plaintext != nil {
		t.Fatal("WithoutPlaintext returned a plaintext")
	}
	dec, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob})
	mustOK(t, err)
	if len(dec.Plaintext) != 32 {
		t.Fatalf("data key is %d bytes", len(dec.Plaintext))
	}
}

func TestReEncrypt(t *testing.T) {
	f := newFixture(t)
	src, dst := f.key(f.a, nil), f.key(f.a, nil)
	bKey := f.key(f.b, &local.CreateKeyInput{Policy: allowPolicy(acctB, []string{roleA}, "kms:ReEncryptTo")})
	ec := map[string]string{"app": "orders"}
	ct := f.encrypt(f.a, src.KeyID, []byte("dk"), ec)
	mustOK(t, f.a.CreateAlias(bg, &local.CreateAliasInput{AliasName: "alias/dst", TargetKeyID: dst.KeyID}))

	for _, tc := range []struct {
		name              string
		srcRef, dstRef    string
		dstEC             map[string]string
		wantSrc, wantDest string
	}{
		{"to another key by ID", "", dst.KeyID, ec, src.Arn, dst.Arn},
		{"by alias, naming the source", src.KeyID, "alias/dst", nil, src.Arn, dst.Arn},
		{"context change only", src.Arn, src.KeyID, map[string]string{"app": "billing"}, src.Arn, src.Arn},
		{"to another account by ARN", "", bKey.Arn, ec, src.Arn, bKey.Arn},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: ec, SourceKeyID: tc.srcRef,
				DestinationKeyID: tc.dstRef, DestinationEncryptionContext: tc.dstEC})
			mustOK(t, err)
			if !out.Native || out.SourceKeyID != tc.wantSrc || out.KeyID != tc.wantDest ||
				out.SourceEncryptionAlgorithm != backends.SymmetricDefault || out.DestinationEncryptionAlgorithm != backends.SymmetricDefault {
				t.Fatalf("output %+v", out)
			}
			// Whoever owns the destination decrypts with the destination context only.
			owner := f.a
			if tc.wantDest == bKey.Arn {
				owner = f.b
			}
			dec, err := owner.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: tc.dstEC})
			mustOK(t, err)
			if string(dec.Plaintext) != "dk" {
				t.Fatal("wrong plaintext after ReEncrypt")
			}
			if len(tc.dstEC) > 0 && tc.dstEC["app"] != "orders" {
				_, err = owner.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
				kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt of the re-encrypted blob under the source context")
			}
		})
	}
	// Wrong source context, missing destination.
	_, err := f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, DestinationKeyID: dst.KeyID})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "ReEncrypt without the source context")
	_, err = f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "ReEncrypt without a destination")
	// Another account by bare key ID: not found in A.
	_, err = f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: ec, DestinationKeyID: bKey.KeyID})
	kmstest.WantKind(t, err, backends.ErrNotFound, "ReEncrypt to another account's key by bare key ID")
}

// TestReEncryptAuthorizedTwice checks that ReEncrypt needs kms:ReEncryptFrom on the
// source and kms:ReEncryptTo on the destination, and that Decrypt and Encrypt
// are not authorized by them (plaintext leaves only on kms:Decrypt).
func TestReEncryptAuthorizedTwice(t *testing.T) {
	f := newFixture(t)
	src := f.key(f.a, nil)
	ec := map[string]string{"a": "1"}
	ct := f.encrypt(f.a, src.KeyID, []byte("dk"), ec)
	for _, tc := range []struct {
		name       string
		srcActions []string // what the source key's policy lets B do
		dstActions []string // what the destination key's policy (owned by A) lets B do
		want       *backends.Kind
	}{
		{"both", []string{"kms:ReEncryptFrom"}, []string{"kms:ReEncryptTo"}, nil},
		{"wildcard", []string{"kms:ReEncrypt*"}, []string{"kms:ReEncrypt*"}, nil},
		{"no From", []string{"kms:Decrypt"}, []string{"kms:ReEncryptTo"}, backends.ErrAccessDenied},
		{"no To", []string{"kms:ReEncryptFrom"}, []string{"kms:Encrypt"}, backends.ErrAccessDenied},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustOK(t, f.a.PutKeyPolicy(bg, &local.PutKeyPolicyInput{KeyID: src.KeyID, Policy: allowPolicy(acctA, []string{roleB}, tc.srcActions...)}))
			dst := f.key(f.a, &local.CreateKeyInput{Policy: allowPolicy(acctA, []string{roleB}, tc.dstActions...)})
			_, err := f.b.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: ec, DestinationKeyID: dst.Arn})
			if tc.want == nil {
				mustOK(t, err)
			} else {
				kmstest.WantKind(t, err, tc.want, "ReEncrypt by B")
			}
			// Decrypt and Encrypt need kms:Decrypt and kms:Encrypt, whatever
			// ReEncrypt permissions the caller has: plaintext leaves the service
			// only on kms:Decrypt.
			out, derr := f.b.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, EncryptionContext: ec})
			_, eerr := f.b.Encrypt(bg, &backends.EncryptInput{KeyID: dst.Arn, Plaintext: []byte("dk")})
			if (derr == nil) != slices.Contains(tc.srcActions, "kms:Decrypt") {
				t.Fatalf("Decrypt with source permissions %v: %v", tc.srcActions, derr)
			}
			if out != nil && !bytes.Equal(out.Plaintext, []byte("dk")) {
				t.Fatalf("Decrypt returned the wrong plaintext")
			}
			if (eerr == nil) != slices.Contains(tc.dstActions, "kms:Encrypt") {
				t.Fatalf("Encrypt with destination permissions %v: %v", tc.dstActions, eerr)
			}
		})
	}
	// The ReEncrypt permissions alone never let B decrypt or encrypt.
	mustOK(t, f.a.PutKeyPolicy(bg, &local.PutKeyPolicyInput{KeyID: src.KeyID, Policy: allowPolicy(acctA, []string{roleB}, "kms:ReEncrypt*")}))
	_, err := f.b.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, EncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Decrypt by B with ReEncrypt permissions only")
	_, err = f.b.Encrypt(bg, &backends.EncryptInput{KeyID: src.Arn, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Encrypt by B with ReEncrypt permissions only")
}

// decryptSpy records whether a Decrypt through it returned plaintext.
type decryptSpy struct {
	backends.Backend
	leaked bool
}

func (d *decryptSpy) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	out, err := d.Backend.Decrypt(ctx, in)
	if out != nil && out.Plaintext != nil {
		d.leaked = true
	}
	return out, err
}

// TestReEncryptFromGivesNoPlaintext is issue 9's finding 2: a principal whose key
// policy allows kms:ReEncryptFrom and explicitly denies kms:Decrypt gets no
// plaintext, by Decrypt, GenerateDataKey or the engine's decrypt-then-encrypt,
// while the service's own ReEncrypt still works for it.
func TestReEncryptFromGivesNoPlaintext(t *testing.T) {
	f := newFixture(t)
	deny := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + acctA + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"` + roleB + `"},"Action":["kms:ReEncryptFrom","kms:ReEncryptTo"],"Resource":"*"},` +
		`{"Effect":"Deny","Principal":{"AWS":"` + roleB + `"},"Action":["kms:Decrypt","kms:GenerateDataKey*"],"Resource":"*"}]}`
	src := f.key(f.a, &local.CreateKeyInput{Policy: deny})
	dst := f.key(f.a, &local.CreateKeyInput{Policy: deny})
	ec := map[string]string{"a": "1"}
	ct := f.encrypt(f.a, src.Arn, []byte("the secret"), ec)

	out, err := f.b.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, EncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Decrypt by B, denied kms:Decrypt")
	if out != nil {
		t.Fatal("a refused Decrypt returned an output")
	}
	_, err = f.b.GenerateDataKey(bg, &backends.GenerateDataKeyInput{KeyID: src.Arn})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "GenerateDataKey by B, denied kms:GenerateDataKey")

	spy := &decryptSpy{Backend: f.b}
	front := backends.NewFront(spy)
	mustOK(t, front.RegisterAccount(acctA, "", spy))
	_, err = reencrypt.New(front).ReEncrypt(bg, &backends.ReEncryptInput{Via: backends.ViaPlaintext,
		CiphertextBlob: ct, SourceKeyID: src.Arn, SourceEncryptionContext: ec, DestinationKeyID: dst.Arn, DestinationEncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "the engine's decrypt-then-encrypt by B, denied kms:Decrypt")
	if spy.leaked {
		t.Fatal("the engine's Decrypt returned plaintext to a principal allowed only kms:ReEncryptFrom")
	}

	re, err := f.b.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, SourceEncryptionContext: ec, DestinationKeyID: dst.Arn, DestinationEncryptionContext: ec})
	mustOK(t, err)
	dec, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: ec})
	mustOK(t, err)
	if string(dec.Plaintext) != "the secret" {
		t.Fatal("the native ReEncrypt changed the plaintext")
	}
}

func TestDryRun(t *testing.T) {
	f := newFixture(t)
	k, k2 := f.key(f.a, nil), f.key(f.a, nil)
	ct := f.encrypt(f.a, k.KeyID, []byte("x"), nil)
	_, err := f.a.Encrypt(bg, &backends.EncryptInput{KeyID: k.KeyID, Plaintext: []byte("x"), DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "Encrypt with DryRun")
	_, err = f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "Decrypt with DryRun")
	_, err = f.a.GenerateDataKey(bg, &backends.GenerateDataKeyInput{KeyID: k.KeyID, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "GenerateDataKey with DryRun")
	_, err = f.a.GenerateDataKeyWithoutPlaintext(bg, &backends.GenerateDataKeyInput{KeyID: k.KeyID, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "GenerateDataKeyWithoutPlaintext with DryRun")
	_, err = f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, DestinationKeyID: k2.KeyID, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "ReEncrypt with DryRun")
	// DryRun checks everything: a failing request fails with its own error.
	_, err = f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: ct, EncryptionContext: map[string]string{"a": "b"}, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt with DryRun under a wrong context")
	_, err = f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, SourceKeyID: k2.KeyID, DestinationKeyID: k2.KeyID, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "ReEncrypt with DryRun naming another source key")
	_, err = f.b.Encrypt(bg, &backends.EncryptInput{KeyID: k.Arn, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Encrypt with DryRun by B")
	mustOK(t, f.a.DisableKey(bg, &local.DisableKeyInput{KeyID: k2.KeyID}))
	_, err = f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: ct, DestinationKeyID: k2.KeyID, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDisabled, "ReEncrypt with DryRun to a disabled key")
	_, err = backends.NewFront(f.a).Encrypt(bg, &backends.EncryptInput{KeyID: k.KeyID, Plaintext: make([]byte, 5000), DryRun: true})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt with DryRun of 5000 bytes through the Front")
}

func TestErrorShape(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	mustOK(t, f.a.DisableKey(bg, &local.DisableKeyInput{KeyID: k.KeyID}))
	_, err := f.a.Encrypt(bg, &backends.EncryptInput{KeyID: k.KeyID, Plaintext: []byte("x")})
	var e *backends.Error
	if !errors.As(err, &e) || e.Op != "Encrypt" || e.KeyID != k.Arn || e.Kind != backends.ErrDisabled || e.Retryable() {
		t.Fatalf("error %#v", err)
	}
	if !strings.Contains(err.Error(), "DisabledException") {
		t.Fatalf("message %q", err)
	}
}

func TestContextCanceled(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	_, err := f.a.Encrypt(ctx, &backends.EncryptInput{KeyID: k.KeyID, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrCanceled, "Encrypt with a cancelled context")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Encrypt with a cancelled context: %v does not match context.Canceled", err)
	}
	_, err = f.a.CreateKey(ctx, nil)
	kmstest.WantKind(t, err, backends.ErrCanceled, "CreateKey with a cancelled context")
	dctx, dcancel := context.WithDeadline(bg, time.Unix(1, 0))
	defer dcancel()
	_, err = f.a.Decrypt(dctx, &backends.DecryptInput{CiphertextBlob: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrDependencyTimeout, "Decrypt past its deadline")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Decrypt past its deadline: %v does not match context.DeadlineExceeded", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	f := newFixture(t)
	k1, k2 := f.key(f.a, nil), f.key(f.a, nil)
	mustOK(t, f.a.EnableKeyRotation(bg, &local.EnableKeyRotationInput{KeyID: k1.KeyID, RotationPeriodInDays: 90}))
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if g == 0 && i%5 == 0 {
					f.clock.Advance(30 * day) // rotations happen while others work
				}
				ec := map[string]string{"g": string(rune('a' + g))}
				out, err := f.a.Encrypt(bg, &backends.EncryptInput{KeyID: k1.KeyID, Plaintext: []byte{byte(g), byte(i)}, EncryptionContext: ec})
				if err != nil {
					errs <- err
					return
				}
				re, err := f.a.ReEncrypt(bg, &backends.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyID: k2.KeyID})
				if err != nil {
					errs <- err
					return
				}
				dec, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: re.CiphertextBlob})
				if err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(dec.Plaintext, []byte{byte(g), byte(i)}) {
					errs <- errors.New("wrong plaintext")
					return
				}
				if g%8 == 1 {
					if _, err := f.a.CreateKey(bg, nil); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	md, err := f.a.DescribeKey(bg, &backends.DescribeKeyInput{KeyID: k1.KeyID})
	mustOK(t, err)
	if md.CurrentVersion < 2 {
		t.Fatalf("no rotation happened: CurrentVersion %d", md.CurrentVersion)
	}
}

// TestBlobsOfTheirOwnKey is issue 9's finding 7, last item: blobs were sealed
// under the backing key itself with random 96-bit nonces, with no bound on their
// number. Now each blob is format version 2 and carries a random 256-bit salt
// from which its own key is derived: two blobs of one plaintext under one key
// share neither salt nor ciphertext, and both decrypt.
func TestBlobsOfTheirOwnKey(t *testing.T) {
	f := newFixture(t)
	k := f.key(f.a, nil)
	arnLen := len(k.Arn)
	var salts [][]byte
	for range 2 {
		b := f.encrypt(f.a, k.Arn, []byte("same"), nil)
		if b[0] != 0x6B || b[1] != 2 {
			t.Fatalf("blob format version %d, want 2", b[1])
		}
		// magic, version, ARN length, ARN, backing-key version, then the salt.
		salt := b[4+arnLen+4 : 4+arnLen+4+32]
		for _, s := range salts {
			if bytes.Equal(s, salt) {
				t.Fatal("two blobs share a salt")
			}
		}
		salts = append(salts, bytes.Clone(salt))
		dec, err := f.a.Decrypt(bg, &backends.DecryptInput{CiphertextBlob: b})
		mustOK(t, err)
		if string(dec.Plaintext) != "same" {
			t.Fatal("wrong plaintext")
		}
	}
}
