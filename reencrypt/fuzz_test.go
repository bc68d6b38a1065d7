package reencrypt

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/keyport/keyport/backends"
)

// FuzzReEncrypt feeds the engine arbitrary blobs and key references, on the native
// path and through the engine. It must never panic; every failure must be a
// *backends.Error of Op ReEncrypt and a Kind of the taxonomy; every success must
// carry the blob's plaintext to the destination key.
func FuzzReEncrypt(f *testing.F) {
	w := newWorld(f, false)
	native, engine := withVia(New(w.front), backends.ViaAny), withVia(New(w.front), backends.ViaPlaintext)
	good := w.encrypt(w.a1, []byte("fuzz data key"), nil)
	f.Add(good, w.a1.arn, w.a2.alias, false, false)
	f.Add(good, "", w.b1.aliasARN, true, false)
	f.Add(good, w.a1.alias, w.a1.id, false, true)
	f.Add(good[:len(good)/2], w.a2.id, w.b1.arn, true, false)
	f.Add([]byte{0x6b, 1, 0, 0}, "", "alias/x", false, false)
	f.Add([]byte("x"), "vault://transit/k", "arn:aws:kms:us-east-1:111111111111:alias/", true, true)
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, blob []byte, src, dst string, useEngine, dryRun bool) {
		eng := native
		if useEngine {
			eng = engine
		}
		out, err := eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: src, DestinationKeyID: dst, DryRun: dryRun})
		if err != nil {
			var be *backends.Error
			if out != nil || !errors.As(err, &be) || be.Op != "ReEncrypt" || backends.KindOf(err) == nil {
				t.Fatalf("out %v, err %#v: want no output and a *backends.Error of Op ReEncrypt", out, err)
			}
			return
		}
		if dryRun {
			t.Fatal("a DryRun returned an output")
		}
		before, err := w.front.Decrypt(ctx, &backends.DecryptInput{KeyID: out.SourceKeyID, CiphertextBlob: blob})
		if err != nil {
			t.Fatalf("the input blob re-encrypted but does not decrypt under %s: %v", out.SourceKeyID, err)
		}
		after, err := w.front.Decrypt(ctx, &backends.DecryptInput{KeyID: out.KeyID, CiphertextBlob: out.CiphertextBlob})
		if err != nil {
			t.Fatalf("the output blob does not decrypt under %s: %v", out.KeyID, err)
		}
		if !bytes.Equal(before.Plaintext, after.Plaintext) {
			t.Fatal("the plaintext changed")
		}
	})
}
