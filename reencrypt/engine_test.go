package reencrypt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/kmstest"
)

var (
	ctxS = map[string]string{"app": "orders", "stage": "old"}
	ctxD = map[string]string{"app": "orders", "stage": "new"}
)

func dataKey() []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = byte(i*7 + 1)
	}
	return k
}

// checkOut checks a successful ReEncrypt output: canonical keys, algorithms,
// Native, and that the new blob decrypts under dst and dstCtx to pt.
func checkOut(t *testing.T, w *world, out *backends.ReEncryptOutput, src, dst key, dstCtx map[string]string, pt []byte, native bool) {
	t.Helper()
	if out.SourceKeyID != src.arn || out.KeyID != dst.arn {
		t.Errorf("SourceKeyID %q KeyID %q, want %q %q", out.SourceKeyID, out.KeyID, src.arn, dst.arn)
	}
	if out.SourceEncryptionAlgorithm != backends.SymmetricDefault || out.DestinationEncryptionAlgorithm != backends.SymmetricDefault {
		t.Errorf("algorithms %q %q", out.SourceEncryptionAlgorithm, out.DestinationEncryptionAlgorithm)
	}
	if out.Native != native {
		t.Errorf("Native = %v, want %v", out.Native, native)
	}
	got, err := w.decrypt(dst, out.CiphertextBlob, dstCtx)
	if err != nil {
		t.Fatalf("decrypting the new blob: %v", err)
	}
	if !bytes.Equal(got, pt) {
		t.Errorf("new blob decrypts to %x, want %x", got, pt)
	}
}

func TestAllReferenceForms(t *testing.T) {
	for _, p := range sameServicePaths {
		t.Run(p.name, func(t *testing.T) {
			w := newWorld(t, false)
			eng := p.engine(w.front)
			pt := dataKey()
			blob := w.encrypt(w.a1, pt, ctxS)
			for _, sf := range forms {
				for _, df := range forms {
					t.Run(sf.String()+" to "+df.String(), func(t *testing.T) {
						out, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
							CiphertextBlob: blob, SourceKeyID: w.a1.ref(sf), SourceEncryptionContext: ctxS,
							DestinationKeyID: w.a2.ref(df), DestinationEncryptionContext: ctxD})
						if err != nil {
							t.Fatal(err)
						}
						checkOut(t, w, out, w.a1, w.a2, ctxD, pt, p.native)
					})
				}
			}
		})
	}
}

func TestCrossAccountByARN(t *testing.T) {
	arnForms := []backends.RefForm{backends.FormKeyARN, backends.FormAliasARN}
	for _, p := range crossPaths {
		t.Run(p.name, func(t *testing.T) {
			w := newWorld(t, p.split)
			eng := p.engine(w.front)
			pt := dataKey()
			blobA := w.encrypt(w.a1, pt, ctxS)
			blobB := w.encrypt(w.b1, pt, ctxS)
			for _, own := range forms {
				for _, other := range arnForms {
					t.Run("A "+own.String()+" to B "+other.String(), func(t *testing.T) {
						out, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
							CiphertextBlob: blobA, SourceKeyID: w.a1.ref(own), SourceEncryptionContext: ctxS,
							DestinationKeyID: w.b1.ref(other), DestinationEncryptionContext: ctxD})
						if err != nil {
							t.Fatal(err)
						}
						checkOut(t, w, out, w.a1, w.b1, ctxD, pt, p.native)
					})
					t.Run("B "+other.String()+" to A "+own.String(), func(t *testing.T) {
						out, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
							CiphertextBlob: blobB, SourceKeyID: w.b1.ref(other), SourceEncryptionContext: ctxS,
							DestinationKeyID: w.a1.ref(own), DestinationEncryptionContext: ctxD})
						if err != nil {
							t.Fatal(err)
						}
						checkOut(t, w, out, w.b1, w.a1, ctxD, pt, p.native)
					})
				}
			}
			// A bare key ID or alias name resolves in the caller's account: account
			// B's key is not found by them, on either side.
			for _, bare := range []backends.RefForm{backends.FormKeyID, backends.FormAliasName} {
				_, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
					CiphertextBlob: blobA, SourceKeyID: w.a1.arn, SourceEncryptionContext: ctxS,
					DestinationKeyID: w.b1.ref(bare)})
				wantErr(t, err, backends.ErrNotFound, "destination B by "+bare.String())
				_, err = eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
					CiphertextBlob: blobB, SourceKeyID: w.b1.ref(bare), SourceEncryptionContext: ctxS,
					DestinationKeyID: w.a1.arn})
				wantErr(t, err, backends.ErrNotFound, "source B by "+bare.String())
			}
		})
	}
}

func TestNativeAndEngineOutputsMatch(t *testing.T) {
	w := newWorld(t, false)
	pt := dataKey()
	blob := w.encrypt(w.a1, pt, ctxS)
	in := &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: w.a1.alias, SourceEncryptionContext: ctxS,
		DestinationKeyID: w.b1.aliasARN, DestinationEncryptionContext: ctxD}
	nat, err := New(w.front).ReEncrypt(context.Background(), in)
	must(t, err)
	eng, err := withVia(New(w.front), backends.ViaPlaintext).ReEncrypt(context.Background(), in)
	must(t, err)
	if !nat.Native || eng.Native {
		t.Fatalf("Native: native path %v, engine path %v", nat.Native, eng.Native)
	}
	if nat.SourceKeyID != eng.SourceKeyID || nat.KeyID != eng.KeyID ||
		nat.SourceEncryptionAlgorithm != eng.SourceEncryptionAlgorithm ||
		nat.DestinationEncryptionAlgorithm != eng.DestinationEncryptionAlgorithm {
		t.Errorf("outputs differ:\nnative %+v\nengine %+v", nat, eng)
	}
	if len(nat.CiphertextBlob) != len(eng.CiphertextBlob) || bytes.Equal(nat.CiphertextBlob, eng.CiphertextBlob) {
		t.Errorf("blobs: %d and %d bytes, equal %v; want the same length and fresh ciphertexts",
			len(nat.CiphertextBlob), len(eng.CiphertextBlob), bytes.Equal(nat.CiphertextBlob, eng.CiphertextBlob))
	}
	for _, out := range []*backends.ReEncryptOutput{nat, eng} {
		checkOut(t, w, out, w.a1, w.b1, ctxD, pt, out.Native)
	}
}

func TestIncorrectKey(t *testing.T) {
	for _, p := range crossPaths {
		t.Run(p.name, func(t *testing.T) {
			w := newWorld(t, p.split)
			eng := p.engine(w.front)
			blob := w.encrypt(w.a1, dataKey(), ctxS)
			wrong := []string{w.a2.id, w.a2.arn, w.a2.alias, w.a2.aliasARN, w.b1.arn, w.b1.aliasARN}
			for _, src := range wrong {
				_, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
					CiphertextBlob: blob, SourceKeyID: src, SourceEncryptionContext: ctxS, DestinationKeyID: w.a2.arn})
				wantErr(t, err, backends.ErrIncorrectKey, "SourceKeyId "+src)
			}
			// A wrong source context is not a wrong key.
			_, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
				CiphertextBlob: blob, SourceKeyID: w.a1.arn, SourceEncryptionContext: ctxD, DestinationKeyID: w.a2.arn})
			wantErr(t, err, backends.ErrInvalidCiphertext, "wrong source context")
			// A damaged blob.
			bad := bytes.Clone(blob)
			bad[len(bad)-1] ^= 1
			_, err = eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
				CiphertextBlob: bad, SourceKeyID: w.a1.arn, SourceEncryptionContext: ctxS, DestinationKeyID: w.b1.arn})
			wantErr(t, err, backends.ErrInvalidCiphertext, "damaged blob")
		})
	}
}

func TestKeyStates(t *testing.T) {
	for _, p := range crossPaths {
		t.Run(p.name, func(t *testing.T) {
			for _, tc := range []struct {
				name   string
				change func(w *world, k key)
				kind   *backends.Kind
			}{
				{"disabled", (*world).disable, backends.ErrDisabled},
				{"pending deletion", (*world).scheduleDeletion, backends.ErrInvalidState},
			} {
				for _, side := range []string{"source", "destination"} {
					t.Run(tc.name+" "+side, func(t *testing.T) {
						w := newWorld(t, p.split)
						eng := p.engine(w.front)
						blob := w.encrypt(w.a1, dataKey(), ctxS)
						src, dst := w.a1, w.b1
						if side == "source" {
							tc.change(w, src)
						} else {
							tc.change(w, dst)
						}
						for _, dryRun := range []bool{false, true} {
							_, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
								CiphertextBlob: blob, SourceKeyID: src.arn, SourceEncryptionContext: ctxS,
								DestinationKeyID: dst.aliasARN, DryRun: dryRun})
							wantErr(t, err, tc.kind, fmt.Sprintf("DryRun=%v", dryRun))
						}
					})
				}
			}
		})
	}
}

func TestAccessDenied(t *testing.T) {
	// Keys of account A whose policies name alice's actions one by one (the
	// account root is not in them, so nothing else lets alice in). Natively,
	// kms:ReEncryptFrom and kms:ReEncryptTo authorize; through the plaintext,
	// kms:Decrypt and kms:Encrypt do, and kms:ReEncrypt* alone never releases
	// the plaintext.
	owner := allow(`"`+adminA+`"`, "kms:*")
	for _, p := range sameServicePaths {
		t.Run(p.name, func(t *testing.T) {
			w := newWorld(t, false)
			eng := p.engine(w.front)
			noFrom := w.makeKey(w.adminA, policy(owner, allow(`"`+alice+`"`, "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptTo")))
			noTo := w.makeKey(w.adminA, policy(owner, allow(`"`+alice+`"`, "kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom")))
			onlyRe := w.makeKey(w.adminA, policy(owner, allow(`"`+alice+`"`, "kms:Encrypt", "kms:ReEncrypt*")))
			noEnc := w.makeKey(w.adminA, policy(owner, allow(`"`+alice+`"`, "kms:Decrypt", "kms:ReEncrypt*")))
			pt := dataKey()
			reEncrypt := func(src key, dst string, dryRun bool) error {
				_, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
					CiphertextBlob: w.encrypt(src, pt, nil), SourceKeyID: src.arn, DestinationKeyID: dst, DryRun: dryRun})
				return err
			}
			if p.native {
				wantErr(t, reEncrypt(noFrom, w.a2.arn, false), backends.ErrAccessDenied, "source without kms:ReEncryptFrom")
				wantErr(t, reEncrypt(w.a1, noTo.arn, false), backends.ErrAccessDenied, "destination without kms:ReEncryptTo")
				wantErr(t, reEncrypt(noFrom, w.a2.arn, true), backends.ErrAccessDenied, "DryRun, source without kms:ReEncryptFrom")
				// kms:ReEncrypt* without kms:Decrypt is enough natively.
				must(t, reEncrypt(onlyRe, onlyRe.alias, false))
			} else {
				must(t, reEncrypt(noFrom, w.a2.arn, false))
				must(t, reEncrypt(w.a1, noTo.arn, false))
				wantErr(t, reEncrypt(onlyRe, w.a2.arn, false), backends.ErrAccessDenied, "through the plaintext, source with kms:ReEncryptFrom but not kms:Decrypt")
				wantErr(t, reEncrypt(onlyRe, w.a2.arn, true), backends.ErrAccessDenied, "DryRun through the plaintext, source without kms:Decrypt")
				wantErr(t, reEncrypt(w.a1, noEnc.arn, false), backends.ErrAccessDenied, "through the plaintext, destination with kms:ReEncryptTo but not kms:Encrypt")
			}
			_, err := w.decrypt(onlyRe, w.encrypt(onlyRe, pt, nil), nil)
			kmstest.WantKind(t, err, backends.ErrAccessDenied, "plain Decrypt without kms:Decrypt")
		})
	}
	t.Run("two services", func(t *testing.T) {
		w := newWorld(t, true)
		eng := New(w.front)
		ownerB := allow(`"`+adminB+`"`, "kms:*")
		bNoEnc := w.makeKey(w.adminB, policy(ownerB, allow(`"`+acctA+`"`, "kms:Decrypt", "kms:ReEncrypt*")))
		bNoDec := w.makeKey(w.adminB, policy(ownerB, allow(`"`+acctA+`"`, "kms:Encrypt", "kms:ReEncrypt*")))
		pt := dataKey()
		_, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: w.encrypt(w.a1, pt, nil), SourceKeyID: w.a1.arn, DestinationKeyID: bNoEnc.arn})
		wantErr(t, err, backends.ErrAccessDenied, "B destination with kms:ReEncryptTo but not kms:Encrypt")
		_, err = eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: w.encrypt(bNoDec, pt, nil), SourceKeyID: bNoDec.arn, DestinationKeyID: w.a1.arn})
		wantErr(t, err, backends.ErrAccessDenied, "B source with kms:ReEncryptFrom but not kms:Decrypt")
	})
}

func TestContextChangeOnly(t *testing.T) {
	for _, p := range crossPaths {
		t.Run(p.name, func(t *testing.T) {
			w := newWorld(t, p.split)
			eng := p.engine(w.front)
			pt := dataKey()
			for _, k := range []key{w.a1, w.b1} {
				blob := w.encrypt(k, pt, ctxS)
				out, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
					CiphertextBlob: blob, SourceKeyID: k.arn, SourceEncryptionContext: ctxS,
					DestinationKeyID: k.aliasARN, DestinationEncryptionContext: ctxD})
				must(t, err)
				// In the split world each account's keys share one backend: native.
				native := p.native || p.split
				checkOut(t, w, out, k, k, ctxD, pt, native)
				_, err = w.decrypt(k, out.CiphertextBlob, ctxS)
				kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "new blob under the old context")

				// No destination context means none: the source's is not carried over.
				out, err = eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
					CiphertextBlob: blob, SourceKeyID: k.arn, SourceEncryptionContext: ctxS, DestinationKeyID: k.arn})
				must(t, err)
				checkOut(t, w, out, k, k, nil, pt, native)
			}
		})
	}
}

func TestDryRun(t *testing.T) {
	for _, p := range crossPaths {
		t.Run(p.name, func(t *testing.T) {
			w := newWorld(t, p.split)
			eng := p.engine(w.front)
			blob := w.encrypt(w.a1, dataKey(), ctxS)
			before := bytes.Clone(blob)
			in := &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: w.a1.alias, SourceEncryptionContext: ctxS,
				DestinationKeyID: w.b1.arn, DestinationEncryptionContext: ctxD, DryRun: true}
			out, err := eng.ReEncrypt(context.Background(), in)
			if out != nil {
				t.Errorf("DryRun returned an output: %+v", out)
			}
			wantErr(t, err, backends.ErrDryRunOperation, "DryRun")
			if !bytes.Equal(blob, before) {
				t.Error("DryRun changed the input blob")
			}
			// Nothing changed: the same request without DryRun still works, and the
			// keys' metadata (state, versions) are as they were.
			md1, err := w.adminA.DescribeKey(context.Background(), &backends.DescribeKeyInput{KeyID: w.a1.id})
			must(t, err)
			mdB, err := w.adminB.DescribeKey(context.Background(), &backends.DescribeKeyInput{KeyID: w.b1.id})
			must(t, err)
			if md1.KeyState != backends.KeyStateEnabled || mdB.KeyState != backends.KeyStateEnabled || md1.CurrentVersion != 1 || mdB.CurrentVersion != 1 {
				t.Errorf("after DryRun: %+v %+v", md1, mdB)
			}
			real := *in
			real.DryRun = false
			out, err = eng.ReEncrypt(context.Background(), &real)
			must(t, err)
			checkOut(t, w, out, w.a1, w.b1, ctxD, dataKey(), p.native)

			// DryRun checks everything: a wrong context, a wrong key, an unknown key.
			for _, tc := range []struct {
				name string
				mod  func(in *backends.ReEncryptInput)
				kind *backends.Kind
			}{
				{"wrong source context", func(in *backends.ReEncryptInput) { in.SourceEncryptionContext = ctxD }, backends.ErrInvalidCiphertext},
				{"wrong source key", func(in *backends.ReEncryptInput) { in.SourceKeyID = w.a2.arn }, backends.ErrIncorrectKey},
				{"unknown destination", func(in *backends.ReEncryptInput) { in.DestinationKeyID = "alias/no-such-alias" }, backends.ErrNotFound},
			} {
				bad := *in
				tc.mod(&bad)
				_, err := eng.ReEncrypt(context.Background(), &bad)
				wantErr(t, err, tc.kind, "DryRun with "+tc.name)
			}
		})
	}
}

func TestMissingSourceKeyID(t *testing.T) {
	for _, p := range crossPaths {
		t.Run(p.name, func(t *testing.T) {
			w := newWorld(t, p.split)
			eng := p.engine(w.front)
			pt := dataKey()
			// The blob names its key: the caller's own, or account B's (found by
			// asking the Router's backends, routed by the ARN inside).
			for _, tc := range []struct{ src, dst key }{{w.a1, w.b1}, {w.b1, w.a1}} {
				out, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
					CiphertextBlob: w.encrypt(tc.src, pt, ctxS), SourceEncryptionContext: ctxS,
					DestinationKeyID: tc.dst.arn, DestinationEncryptionContext: ctxD})
				if err != nil {
					t.Fatalf("%s to %s: %v", tc.src.arn, tc.dst.arn, err)
				}
				checkOut(t, w, out, tc.src, tc.dst, ctxD, pt, p.native)
			}
			// A blob no backend recognises does not name its key.
			_, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
				CiphertextBlob: []byte("this is not a keyport blob"), DestinationKeyID: w.a2.arn})
			// AWS KMS answers InvalidCiphertextException, and so does the engine.
			wantErr(t, err, backends.ErrInvalidCiphertext, "unrecognised blob")
		})
	}
	t.Run("no default backend", func(t *testing.T) {
		w := newWorld(t, true)
		r := new(backends.Front)
		b, _, err := w.front.Lookup(context.Background(), w.b1.arn)
		must(t, err)
		must(t, r.RegisterAccount(acctB, "", b))
		// The only backend is an inspector, so the blob is still found.
		out, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: w.encrypt(w.b1, dataKey(), nil), DestinationKeyID: w.b1.arn})
		must(t, err)
		if out.SourceKeyID != w.b1.arn {
			t.Errorf("SourceKeyID = %q", out.SourceKeyID)
		}
		// A blob of account A, whose backend is not registered, is named but not routable.
		_, err = New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: w.encrypt(w.a1, dataKey(), nil), DestinationKeyID: w.b1.arn})
		wantErr(t, err, backends.ErrNotFound, "blob of an unregistered account")
	})
}

func TestUnroutableKeys(t *testing.T) {
	w := newWorld(t, true)
	eng := New(w.front)
	blob := w.encrypt(w.a1, dataKey(), nil)
	unknown := []string{
		"vault://transit/orders",                                         // no such scheme registered
		backends.KeyARN("aws", "us-east-1", "333333333333", w.a1.id),     // unregistered account
		backends.AliasARN("aws", "us-east-1", "333333333333", "alias/x"), // unregistered account
		"not a key reference",
		"alias/",
	}
	for _, ref := range unknown {
		_, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: blob, SourceKeyID: ref, DestinationKeyID: w.a2.arn})
		wantErr(t, err, backends.ErrNotFound, "source "+ref)
		_, err = eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: blob, SourceKeyID: w.a1.arn, DestinationKeyID: ref})
		wantErr(t, err, backends.ErrNotFound, "destination "+ref)
	}
	// A routable reference to a key that does not exist.
	_, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
		CiphertextBlob: blob, SourceKeyID: w.a1.arn, DestinationKeyID: "alias/does-not-exist"})
	wantErr(t, err, backends.ErrNotFound, "missing alias")
	// An empty Router knows no key.
	_, err = New(nil).ReEncrypt(context.Background(), &backends.ReEncryptInput{
		CiphertextBlob: blob, SourceKeyID: w.a1.arn, DestinationKeyID: w.a2.arn})
	wantErr(t, err, backends.ErrNotFound, "nil Router")
}

func TestInvalidInput(t *testing.T) {
	w := newWorld(t, false)
	eng := New(w.front)
	blob := w.encrypt(w.a1, dataKey(), nil)
	for _, tc := range []struct {
		name string
		in   *backends.ReEncryptInput
	}{
		{"nil input", nil},
		{"empty blob", &backends.ReEncryptInput{SourceKeyID: w.a1.arn, DestinationKeyID: w.a2.arn}},
		{"empty destination", &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: w.a1.arn}},
	} {
		out, err := eng.ReEncrypt(context.Background(), tc.in)
		if out != nil {
			t.Errorf("%s: output %+v", tc.name, out)
		}
		wantErr(t, err, backends.ErrInvalidArgument, tc.name)
	}
}

func TestCancelledContext(t *testing.T) {
	for _, p := range crossPaths {
		t.Run(p.name, func(t *testing.T) {
			w := newWorld(t, p.split)
			eng := p.engine(w.front)
			in := &backends.ReEncryptInput{CiphertextBlob: w.encrypt(w.a1, dataKey(), nil), SourceKeyID: w.a1.arn, DestinationKeyID: w.b1.arn}
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := eng.ReEncrypt(ctx, in)
			wantErr(t, err, backends.ErrCanceled, "cancelled")
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v does not match context.Canceled", err)
			}
			ctx, cancel = context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
			defer cancel()
			_, err = eng.ReEncrypt(ctx, in)
			wantErr(t, err, backends.ErrDependencyTimeout, "deadline passed")
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v does not match context.DeadlineExceeded", err)
			}
		})
	}
}

func TestGrantTokens(t *testing.T) {
	// alice may do nothing with the key by its policy; a grant whose token she
	// passes lets her use it at once. Between two services the engine decrypts
	// and encrypts, so the grant must allow Decrypt and Encrypt.
	w := newWorld(t, true)
	ctx := context.Background()
	k := w.makeKey(w.adminB, policy(allow(`"`+adminB+`"`, "kms:*")))
	pt := dataKey()
	blob := w.encrypt(w.a1, pt, nil)
	_, err := New(w.front).ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: w.a1.arn, DestinationKeyID: k.arn})
	wantErr(t, err, backends.ErrAccessDenied, "without a grant")
	g, err := w.adminB.CreateGrant(ctx, &local.CreateGrantInput{KeyID: k.id, GranteePrincipal: alice,
		Operations: []local.GrantOperation{local.GrantEncrypt, local.GrantDecrypt}})
	must(t, err)
	out, err := New(w.front).ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: w.a1.arn,
		DestinationKeyID: k.arn, GrantTokens: []string{g.GrantToken}})
	must(t, err)
	if out.KeyID != k.arn || out.Native {
		t.Errorf("output %+v", out)
	}
	back, err := New(w.front).ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: out.CiphertextBlob,
		DestinationKeyID: w.a1.arn, GrantTokens: []string{g.GrantToken}})
	must(t, err)
	checkOut(t, w, back, k, w.a1, nil, pt, false)

	// A token that no side accepts is invalid, whichever path runs.
	for _, p := range crossPaths {
		pw := w
		if !p.split {
			pw = newWorld(t, false)
		}
		_, err := p.engine(pw.front).ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: pw.encrypt(pw.a1, pt, nil),
			SourceKeyID: pw.a1.arn, DestinationKeyID: pw.b1.arn, GrantTokens: []string{"not-a-grant-token"}})
		wantErr(t, err, backends.ErrInvalidGrantToken, p.name+": a bogus grant token")
	}
}

func TestConcurrent(t *testing.T) {
	for _, p := range crossPaths {
		t.Run(p.name, func(t *testing.T) {
			w := newWorld(t, p.split)
			eng := p.engine(w.front)
			var wg sync.WaitGroup
			errs := make(chan error, 32)
			for i := range 32 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					pt := []byte(fmt.Sprintf("data key %02d", i))
					src, dst := w.a1, w.b1
					if i%2 == 1 {
						src, dst = dst, src
					}
					enc, err := w.front.Encrypt(context.Background(), &backends.EncryptInput{KeyID: src.arn, Plaintext: pt, EncryptionContext: ctxS})
					if err != nil {
						errs <- err
						return
					}
					out, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
						CiphertextBlob: enc.CiphertextBlob, SourceKeyID: src.arn, SourceEncryptionContext: ctxS,
						DestinationKeyID: dst.aliasARN, DestinationEncryptionContext: ctxD})
					if err != nil {
						errs <- err
						return
					}
					got, err := w.decrypt(dst, out.CiphertextBlob, ctxD)
					if err == nil && !bytes.Equal(got, pt) {
						err = fmt.Errorf("goroutine %d: got %q", i, got)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
		})
	}
}

// TestViaNative re-encrypts with ViaNative: where one service holds both keys the
// service does it; across two services the call fails with ErrUnsupported and
// nothing is decrypted, so no plaintext leaves the source.
func TestViaNative(t *testing.T) {
	ctx := context.Background()
	for _, split := range []bool{false, true} {
		w := newWorld(t, split)
		var ops []string
		w.front.Use(func(ctx context.Context, c *backends.Call, invoke backends.Invoker) error {
			ops = append(ops, c.Op)
			return invoke(ctx)
		})
		pt := dataKey()
		blob := w.encrypt(w.a1, pt, ctxS)
		ops = nil
		in := &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: w.a1.arn, SourceEncryptionContext: ctxS,
			DestinationKeyID: w.b1.aliasARN, DestinationEncryptionContext: ctxD, Via: backends.ViaNative}
		out, err := New(w.front).ReEncrypt(ctx, in)
		if !split {
			must(t, err)
			if !out.Native {
				t.Error("one service: ViaNative did not re-encrypt natively")
			}
			checkOut(t, w, out, w.a1, w.b1, ctxD, pt, true)
			continue
		}
		kmstest.WantKind(t, err, backends.ErrUnsupported, "ViaNative across two services")
		for _, op := range ops {
			if op != "ReEncrypt" {
				t.Errorf("ViaNative across two services called %s (calls %v)", op, ops)
			}
		}
	}
}
