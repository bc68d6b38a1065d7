package awskms_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/internal/testenv"
)

var ctxBG = context.Background()

func TestEncryptDecryptForms(t *testing.T) {
	b := localA(t)
	ec := map[string]string{"purpose": "test", "tenant": "a"}
	for _, keyID := range []string{
		keyPrimary,
		arnA(keyPrimary),
		aliasPrimary,
		backends.AliasARN("aws", east, accountA, aliasPrimary),
		"awskms:///" + aliasPrimary,
		"awskms:///" + arnA(keyPrimary),
		"awskms:///" + keyPrimary + "?region=us-east-1",
	} {
		t.Run(keyID, func(t *testing.T) {
			pt := []byte("0123456789abcdef0123456789abcdef")
			enc, err := b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyID, Plaintext: pt, EncryptionContext: ec})
			if err != nil {
				t.Fatal(err)
			}
			if enc.KeyID != arnA(keyPrimary) {
				t.Errorf("Encrypt KeyID = %q, want the key ARN %q", enc.KeyID, arnA(keyPrimary))
			}
			if enc.EncryptionAlgorithm != backends.SymmetricDefault {
				t.Errorf("algorithm = %q", enc.EncryptionAlgorithm)
			}
			if bytes.Contains(enc.CiphertextBlob, pt) {
				t.Fatal("ciphertext contains the plaintext")
			}
			// Without a KeyID, and with each form of it.
			for _, dk := range []string{"", keyID} {
				dec, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyID: dk, EncryptionContext: ec})
				if err != nil {
					t.Fatalf("Decrypt(KeyID %q): %v", dk, err)
				}
				if !bytes.Equal(dec.Plaintext, pt) || dec.KeyID != arnA(keyPrimary) {
					t.Fatalf("Decrypt(KeyID %q) = %q by %q", dk, dec.Plaintext, dec.KeyID)
				}
			}
		})
	}
}

func TestEncryptionContextBound(t *testing.T) {
	b := localA(t)
	ec := map[string]string{"a": "1", "b": "2"}
	enc, err := b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPrimary, Plaintext: []byte("secret"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	for name, bad := range map[string]map[string]string{
		"missing":   nil,
		"fewer":     {"a": "1"},
		"extra":     {"a": "1", "b": "2", "c": "3"},
		"different": {"a": "1", "b": "3"},
	} {
		_, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: bad})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, name+" context")
	}
	// The SDK's typed exception is reachable.
	_, err = b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	var ice *types.InvalidCiphertextException
	if !errors.As(err, &ice) {
		t.Errorf("errors.As(*types.InvalidCiphertextException) failed for %v", err)
	}
}

func TestKeyStates(t *testing.T) {
	b := localA(t)
	pt := []byte("data key")
	_, err := b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyDisabled, Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Encrypt under a disabled key")
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: "alias/keyport/disabled", Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Encrypt under the alias of a disabled key")
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPending, Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "Encrypt under a key pending deletion")
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyImport, Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "Encrypt under a key pending import")
	_, err = b.GenerateDataKey(ctxBG, &backends.GenerateDataKeyInput{KeyID: keyDisabled})
	kmstest.WantKind(t, err, backends.ErrDisabled, "GenerateDataKey under a disabled key")
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyECC, Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "Encrypt under an ECC key")
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: "11111111-1111-4111-8111-0000000000ff", Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under an unknown key ID")
	var nfe *types.NotFoundException
	if !errors.As(err, &nfe) {
		t.Errorf("errors.As(*types.NotFoundException) failed for %v", err)
	}
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: "alias/keyport/none", Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under an unknown alias")
	// A key of another account, by ARN, is not in this process.
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: arnB(keyBPrimary), Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under another account's key ARN")

	for _, tc := range []struct {
		key   string
		state backends.KeyState
	}{
		{keyPrimary, backends.KeyStateEnabled},
		{keyDisabled, backends.KeyStateDisabled},
		{keyPending, backends.KeyStatePendingDeletion},
		{keyImport, backends.KeyStatePendingImport},
	} {
		md, err := b.DescribeKey(ctxBG, &backends.DescribeKeyInput{KeyID: tc.key})
		if err != nil {
			t.Fatal(err)
		}
		if md.KeyState != tc.state || md.Arn != arnA(tc.key) || md.KeyID != tc.key || md.AWSAccountID != accountA || md.Region != east {
			t.Errorf("DescribeKey(%s) = %+v, want state %s", tc.key, md, tc.state)
		}
		if tc.state == backends.KeyStatePendingDeletion && md.DeletionDate.IsZero() {
			t.Errorf("pending-deletion key has no deletion date")
		}
	}
	md, err := b.DescribeKey(ctxBG, &backends.DescribeKeyInput{KeyID: "alias/keyport/rsa"})
	if err != nil {
		t.Fatal(err)
	}
	if md.Arn != arnA(keyRSA) || md.KeySpec != "RSA_2048" || md.KeyUsage != backends.KeyUsageEncryptDecrypt || len(md.EncryptionAlgorithms) != 2 {
		t.Errorf("DescribeKey(rsa) = %+v", md)
	}
}

func TestDisabledKeyDecrypt(t *testing.T) {
	b := localA(t)
	// Encrypt under the secondary key, then ask to decrypt it under the disabled
	// key: AWS answers DisabledException for a disabled key; local-kms answers
	// AccessDeniedException (a known deviation), which must map to ErrAccessDenied
	// by its code alone.
	_, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: []byte("not a blob at all"), KeyID: keyDisabled})
	if !errors.Is(err, backends.ErrDisabled) && !errors.Is(err, backends.ErrAccessDenied) {
		t.Fatalf("Decrypt with a disabled key: %v", err)
	}
	var api smithy.APIError
	if !errors.As(err, &api) || api.ErrorCode() == "" {
		t.Fatalf("the SDK's API error is not reachable: %v", err)
	}
}

func TestRSA(t *testing.T) {
	b := localA(t)
	pt := []byte("an RSA-wrapped data key")
	for _, alg := range []backends.Algorithm{backends.RSAESOAEPSHA1, backends.RSAESOAEPSHA256} {
		enc, err := b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyRSA, Plaintext: pt, EncryptionAlgorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		if enc.EncryptionAlgorithm != alg || enc.KeyID != arnA(keyRSA) {
			t.Errorf("Encrypt = %q, %q", enc.EncryptionAlgorithm, enc.KeyID)
		}
		dec, err := b.Decrypt(ctxBG, &backends.DecryptInput{KeyID: keyRSA, CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: alg})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dec.Plaintext, pt) || dec.EncryptionAlgorithm != alg {
			t.Errorf("Decrypt = %q, %q", dec.Plaintext, dec.EncryptionAlgorithm)
		}
	}
}

func TestGenerateDataKey(t *testing.T) {
	b := localA(t)
	ec := map[string]string{"k": "v"}
	for _, n := range []int{0, 16, 64, 1024} {
		out, err := b.GenerateDataKey(ctxBG, &backends.GenerateDataKeyInput{KeyID: aliasPrimary, NumberOfBytes: n, EncryptionContext: ec})
		if err != nil {
			t.Fatal(err)
		}
		want := n
		if n == 0 {
			want = 32
		}
		if len(out.Plaintext) != want || out.KeyID != arnA(keyPrimary) {
			t.Fatalf("GenerateDataKey(%d): %d bytes by %q", n, len(out.Plaintext), out.KeyID)
		}
		dec, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(dec.Plaintext, out.Plaintext) {
			t.Fatal("the data key does not decrypt to its plaintext")
		}
		clear(dec.Plaintext)
		clear(out.Plaintext)
	}
	out, err := b.GenerateDataKeyWithoutPlaintext(ctxBG, &backends.GenerateDataKeyInput{KeyID: keyPrimary, NumberOfBytes: 24})
	if err != nil {
		t.Fatal(err)
	}
	if out.Plaintext != nil || out.KeyID != arnA(keyPrimary) {
		t.Fatalf("WithoutPlaintext = %+v", out)
	}
	dec, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob})
	if err != nil || len(dec.Plaintext) != 24 {
		t.Fatalf("Decrypt of a data key without plaintext: %v, %d bytes", err, len(dec.Plaintext))
	}
	for _, n := range []int{-1, 1025} {
		_, err := b.GenerateDataKey(ctxBG, &backends.GenerateDataKeyInput{KeyID: keyPrimary, NumberOfBytes: n})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, "GenerateDataKey of a bad length")
	}
}

func TestReEncryptNative(t *testing.T) {
	b := localA(t)
	pt := []byte("moving data key")
	srcEC := map[string]string{"from": "here"}
	dstEC := map[string]string{"to": "there"}
	enc, err := b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPrimary, Plaintext: pt, EncryptionContext: srcEC})
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.ReEncrypt(ctxBG, &backends.ReEncryptInput{
		CiphertextBlob:               enc.CiphertextBlob,
		SourceKeyID:                  aliasPrimary,
		SourceEncryptionContext:      srcEC,
		DestinationKeyID:             "alias/keyport/secondary",
		DestinationEncryptionContext: dstEC,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Native || out.SourceKeyID != arnA(keyPrimary) || out.KeyID != arnA(keySecondary) ||
		out.SourceEncryptionAlgorithm != backends.SymmetricDefault || out.DestinationEncryptionAlgorithm != backends.SymmetricDefault {
		t.Fatalf("ReEncrypt = %+v", out)
	}
	dec, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, KeyID: keySecondary, EncryptionContext: dstEC})
	if err != nil || !bytes.Equal(dec.Plaintext, pt) {
		t.Fatalf("Decrypt after ReEncrypt: %v", err)
	}
	// Same key, new context only.
	out2, err := b.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, SourceEncryptionContext: dstEC, DestinationKeyID: keySecondary})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: out2.CiphertextBlob}); err != nil {
		t.Fatalf("Decrypt after a context-only ReEncrypt: %v", err)
	}
	// Wrong source context, disabled destination, DryRun.
	_, err = b.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyID: keySecondary})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "ReEncrypt without the source context")
	_, err = b.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: srcEC, DestinationKeyID: keyDisabled})
	kmstest.WantKind(t, err, backends.ErrDisabled, "ReEncrypt to a disabled key")
	_, err = b.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: srcEC, DestinationKeyID: keySecondary, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "ReEncrypt with DryRun")
	// KMS has no cross-region ReEncrypt.
	_, err = b.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: arnA(keyPrimary), DestinationKeyID: arnC(keyCPrimary)})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "ReEncrypt across regions")
}

func TestDryRun(t *testing.T) {
	b := localA(t)
	enc, err := b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPrimary, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPrimary, Plaintext: []byte("x"), DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "Encrypt with DryRun")
	_, err = b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "Decrypt with DryRun")
	_, err = b.GenerateDataKey(ctxBG, &backends.GenerateDataKeyInput{KeyID: keyPrimary, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "GenerateDataKey with DryRun")
	_, err = b.GenerateDataKeyWithoutPlaintext(ctxBG, &backends.GenerateDataKeyInput{KeyID: keyPrimary, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "GenerateDataKeyWithoutPlaintext with DryRun")
	// A dry run that would fail fails with the real reason.
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyDisabled, Plaintext: []byte("x"), DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDisabled, "Encrypt under a disabled key with DryRun")
}

// TestRotatedKey: a key seeded with two backing keys (as if rotated once) encrypts
// and decrypts. (local-kms has no on-demand rotation, so no blob of the older
// backing key can be made through the API; the conformance Rotation subtest is
// skipped for want of a Rotate hook.)
func TestRotatedKey(t *testing.T) {
	b := localA(t)
	enc, err := b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyRotated, Plaintext: []byte("rotated")})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil || string(dec.Plaintext) != "rotated" {
		t.Fatalf("Decrypt under a rotated key: %v", err)
	}
}

func TestCrossRegionAndMRK(t *testing.T) {
	b := localA(t)
	// An ARN of us-west-2 goes to the us-west-2 process.
	enc, err := b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: arnC(keyCPrimary), Plaintext: []byte("west")})
	if err != nil {
		t.Fatal(err)
	}
	if enc.KeyID != arnC(keyCPrimary) {
		t.Fatalf("KeyID = %q", enc.KeyID)
	}
	if _, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyID: arnC(keyCPrimary)}); err != nil {
		t.Fatal(err)
	}
	// So does a URI with a region parameter, and an alias ARN of that region.
	for _, k := range []string{"awskms:///alias/keyport/primary?region=us-west-2", backends.AliasARN("aws", west, accountA, aliasPrimary)} {
		out, err := b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: k, Plaintext: []byte("west")})
		if err != nil || out.KeyID != arnC(keyCPrimary) {
			t.Fatalf("Encrypt(%s) = %v, %v", k, out, err)
		}
	}
	// A multi-Region key: encrypted by the us-east-1 replica, decrypted by the
	// us-west-2 replica named by its own ARN.
	eastMRK, westMRK := arnA(keyMRK), arnC(keyMRK)
	if !backends.MRKMatch(eastMRK, westMRK) {
		t.Fatal("MRKMatch(east, west) = false")
	}
	enc, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: eastMRK, Plaintext: []byte("mrk data key"), EncryptionContext: map[string]string{"m": "r"}})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyID: westMRK, EncryptionContext: map[string]string{"m": "r"}})
	if err != nil {
		t.Fatal(err)
	}
	if string(dec.Plaintext) != "mrk data key" || dec.KeyID != westMRK {
		t.Fatalf("replica Decrypt = %q by %q", dec.Plaintext, dec.KeyID)
	}
	md, err := b.DescribeKey(ctxBG, &backends.DescribeKeyInput{KeyID: westMRK})
	if err != nil || !md.MultiRegion || md.Region != west {
		t.Fatalf("DescribeKey(west MRK) = %+v, %v", md, err)
	}
}

func TestCanceledContext(t *testing.T) {
	b := localA(t)
	ctx, cancel := context.WithCancel(ctxBG)
	cancel()
	_, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: keyPrimary, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrCanceled, "Encrypt with a cancelled ctx")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("%v does not match context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(ctxBG, time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	_, err = b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrDependencyTimeout, "Decrypt after the deadline")
}

func TestGrantsUnsupportedByLocalKMS(t *testing.T) {
	b := localA(t)
	// local-kms answers an HTTP 501 with a plain-text body for grants; the SDK's
	// error must come out as a clear, typed error. The Backend does not wrap
	// CreateGrant, so use KindOfSDKError on the raw client's error.
	_, err := b.Client().CreateGrant(ctxBG, &kms.CreateGrantInput{
		KeyId: aws.String(keyPrimary), GranteePrincipal: aws.String("arn:aws:iam::111122223333:root"),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	if err == nil {
		t.Fatal("local-kms implemented CreateGrant: update the declared deviations")
	}
	kerr := awskms.MapError(ctxBG, "CreateGrant", keyPrimary, err)
	if kmstest.WantKind(t, kerr, backends.ErrUnsupported, "CreateGrant on local-kms") == nil {
		return
	}

	if !strings.Contains(kerr.Error(), "501") {
		t.Fatalf("error does not say what happened: %v", kerr)
	}
}

// TestBadInput sends malformed requests through a Front, as every caller does:
// none reaches the network, and each fails with one kind.
func TestBadInput(t *testing.T) {
	b := backends.NewFront(localA(t))
	_, err := b.Encrypt(ctxBG, nil)
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt of a nil input")
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt without a key")
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: "vault://transit/x", Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under another service's URI")
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: "not a key", Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under a malformed key")
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPrimary})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt without plaintext")
	_, err = b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPrimary, Plaintext: make([]byte, 4097)})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt of 4097 bytes")
	_, err = b.Decrypt(ctxBG, &backends.DecryptInput{})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Decrypt without a blob") // as AWS: CiphertextBlob has a minimum length of 1
	_, err = b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: []byte("garbage that is no KMS blob")})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt of garbage")

	_, err = b.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "ReEncrypt without a destination")
	_, err = b.DescribeKey(ctxBG, &backends.DescribeKeyInput{})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "DescribeKey without a key")
}

// TestPendingDeletionDecryptLocalKMS pins what local-kms answers to a Decrypt
// without KeyId under a key pending deletion: AccessDeniedException, where AWS
// answers KMSInvalidStateException. Given the KeyId (as the conformance suite does),
// Decrypt, and Encrypt and ReEncrypt, answer KMSInvalidStateException as AWS does.
func TestPendingDeletionDecryptLocalKMS(t *testing.T) {
	b := localA(t)
	ctx := context.Background()
	c := b.Client()
	k, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: aws.ToString(k.KeyMetadata.Arn), Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: k.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	_, err = b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Decrypt by a caller without kms:Decrypt")
	_, err = b.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyID: keyPrimary})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "ReEncrypt of a blob of a key pending deletion")
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: aws.ToString(k.KeyMetadata.Arn), Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidState, "Encrypt under a key pending deletion")
}

// countingTransport counts the requests it carries.
type countingTransport struct {
	n  atomic.Int64
	rt http.RoundTripper
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return c.rt.RoundTrip(r)
}

// TestCallerClient builds the Backend from the caller's own *kms.Client (its
// endpoint and options kept), and with the caller's own HTTP client.
func TestCallerClient(t *testing.T) {
	ep := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	client := kms.NewFromConfig(staticConfig(east), func(o *kms.Options) { o.BaseEndpoint = aws.String(ep) })
	b, err := awskms.New(client)
	if err != nil {
		t.Fatal(err)
	}
	out, err := b.Encrypt(ctxBG, &backends.EncryptInput{KeyID: aliasPrimary, Plaintext: []byte("caller's client")})
	if err != nil || out.KeyID != arnA(keyPrimary) {
		t.Fatalf("Encrypt through the caller's client: %v, %v", out, err)
	}
	ct := &countingTransport{rt: http.DefaultTransport}
	b, err = awskms.New(client, awskms.WithHTTPClient(&http.Client{Transport: ct}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob}); err != nil {
		t.Fatal(err)
	}
	if ct.n.Load() != 1 {
		t.Fatalf("the caller's HTTP client carried %d requests, want 1", ct.n.Load())
	}
}
