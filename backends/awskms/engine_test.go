package awskms_test

import (
	"bytes"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/reencrypt"
)

// TestEngineAcrossAccounts re-encrypts between the two local-kms processes (two
// accounts, one Backend each, routed by account) through the reencrypt engine, and
// checks that the outputs are those of a native ReEncrypt: the same fields, the
// canonical key ARNs, both algorithms, only Native differs.
func TestEngineAcrossAccounts(t *testing.T) {
	a, b := localA(t), localB(t)
	r := new(backends.Front)
	r.SetDefault(a)
	if err := a.Register(r); err != nil {
		t.Fatal(err)
	}
	if err := b.RegisterAccount(r, accountB, ""); err != nil {
		t.Fatal(err)
	}
	eng := reencrypt.New(r)
	pt := []byte("a data key that changes accounts")
	src := map[string]string{"tenant": "a"}
	dst := map[string]string{"tenant": "b"}
	enc, err := a.Encrypt(ctxBG, &backends.EncryptInput{KeyID: keyPrimary, Plaintext: pt, EncryptionContext: src})
	if err != nil {
		t.Fatal(err)
	}

	// The reference: a native ReEncrypt inside account A.
	native, err := a.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: arnA(keyPrimary),
		SourceEncryptionContext: src, DestinationKeyID: arnA(keySecondary), DestinationEncryptionContext: dst})
	if err != nil {
		t.Fatal(err)
	}
	// The engine goes native inside one backend, with the same output.
	viaEngine, err := eng.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: arnA(keyPrimary),
		SourceEncryptionContext: src, DestinationKeyID: arnA(keySecondary), DestinationEncryptionContext: dst})
	if err != nil {
		t.Fatal(err)
	}
	sameShape(t, "engine inside account A", viaEngine, native, arnA(keyPrimary), arnA(keySecondary), true)

	// Across accounts: decrypt at A, encrypt at B.
	for _, dstKey := range []string{arnB(keyBPrimary), backends.AliasARN("aws", east, accountB, aliasPrimary)} {
		out, err := eng.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: arnA(keyPrimary),
			SourceEncryptionContext: src, DestinationKeyID: dstKey, DestinationEncryptionContext: dst})
		if err != nil {
			t.Fatalf("engine A -> B (%s): %v", dstKey, err)
		}
		sameShape(t, "engine A -> B", out, native, arnA(keyPrimary), arnB(keyBPrimary), false)
		dec, err := b.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, KeyID: arnB(keyBPrimary), EncryptionContext: dst})
		if err != nil || !bytes.Equal(dec.Plaintext, pt) {
			t.Fatalf("Decrypt at B: %v", err)
		}
		// And back, from B to A's secondary key, by alias ARN.
		back, err := eng.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, SourceKeyID: arnB(keyBPrimary),
			SourceEncryptionContext: dst, DestinationKeyID: backends.AliasARN("aws", east, accountA, "alias/keyport/secondary"), DestinationEncryptionContext: dst})
		if err != nil {
			t.Fatal(err)
		}
		sameShape(t, "engine B -> A", back, native, arnB(keyBPrimary), arnA(keySecondary), false)
		dec, err = a.Decrypt(ctxBG, &backends.DecryptInput{CiphertextBlob: back.CiphertextBlob, EncryptionContext: dst})
		if err != nil || !bytes.Equal(dec.Plaintext, pt) {
			t.Fatalf("Decrypt back at A: %v", err)
		}
	}

	// The same failures as native.
	_, err = eng.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: arnA(keyPrimary),
		DestinationKeyID: arnB(keyBPrimary)})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "ReEncrypt without the source context") // wrong (missing) source context
	_, err = eng.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: arnA(keyPrimary),
		SourceEncryptionContext: src, DestinationKeyID: arnB("44444444-4444-4444-8444-0000000000ff")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "ReEncrypt to an unknown key of account B")
	_, err = eng.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: arnA(keyPrimary),
		SourceEncryptionContext: src, DestinationKeyID: keyBPrimary}) // B's key by bare ID resolves in A
	kmstest.WantKind(t, err, backends.ErrNotFound, "ReEncrypt to B's key by bare ID")
	_, err = eng.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: arnA(keyPrimary),
		SourceEncryptionContext: src, DestinationKeyID: arnB(keyBPrimary), DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "ReEncrypt with DryRun")
	// Cross-region inside account A: the Backend answers Unsupported to the native
	// call and the engine decrypts in us-east-1 and encrypts in us-west-2.
	out, err := eng.ReEncrypt(ctxBG, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceKeyID: arnA(keyPrimary),
		SourceEncryptionContext: src, DestinationKeyID: arnC(keyCPrimary)})
	if err != nil {
		t.Fatal(err)
	}
	sameShape(t, "engine us-east-1 -> us-west-2", out, native, arnA(keyPrimary), arnC(keyCPrimary), false)
}

func sameShape(t *testing.T, what string, got, native *backends.ReEncryptOutput, srcKey, dstKey string, wantNative bool) {
	t.Helper()
	if len(got.CiphertextBlob) == 0 || got.SourceKeyID != srcKey || got.KeyID != dstKey || got.Native != wantNative ||
		got.SourceEncryptionAlgorithm != native.SourceEncryptionAlgorithm ||
		got.DestinationEncryptionAlgorithm != native.DestinationEncryptionAlgorithm {
		t.Errorf("%s: output %+v, want keys %s -> %s, algorithms %s -> %s, native %v", what, got, srcKey, dstKey,
			native.SourceEncryptionAlgorithm, native.DestinationEncryptionAlgorithm, wantNative)
	}
}
