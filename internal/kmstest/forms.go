package kmstest

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"testing"

	"github.com/keyport/keyport/backends"
)

// WantURLOpener fails t unless o, a driver's URL opener, opens one and the same
// backend ([backends.SameBackend]) for every URL of urls, each of which names
// the key whose canonical ID is key, and each backend it opens encrypts by the
// URL under key.
func WantURLOpener(t testing.TB, o backends.URLOpener, key string, urls ...string) {
	t.Helper()
	ctx := context.Background()
	var first backends.Backend
	for _, s := range urls {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		b, err := o.OpenBackendURL(ctx, u)
		if err != nil {
			t.Errorf("OpenBackendURL(%s): %v", s, err)
			continue
		}
		if first == nil {
			first = b
		} else if !backends.SameBackend(first, b) {
			t.Errorf("OpenBackendURL(%s) opened a second backend", s)
		}
		out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: s, Plaintext: []byte("k")})
		if err != nil || out.KeyID != key {
			t.Errorf("Encrypt through the backend opened by %s: %v, %v; want the key %s", s, keyOf(out), err, key)
		}
	}
}

// WantKeyForms fails t unless every operation of f by each reference of refs,
// all of which name the key whose canonical ID is key, is served by that key
// and answers with key: Encrypt under ec, Decrypt of what it encrypted,
// DescribeKey, and GenerateDataKey, whose blob Decrypt opens to its data key.
// It wipes every plaintext it handles, and returns the blob of the last
// Encrypt, whose plaintext is "k".
func WantKeyForms(t testing.TB, f *backends.Front, ec map[string]string, key string, refs ...string) []byte {
	t.Helper()
	ctx := context.Background()
	var last []byte
	for _, ref := range refs {
		pt := []byte("k")
		out, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: ref, Plaintext: pt, EncryptionContext: ec})
		clear(pt)
		if err != nil || out.KeyID != key {
			t.Errorf("Front.Encrypt by %s: %v, %v; want the key %s", ref, keyOf(out), err, key)
			continue
		}
		last = out.CiphertextBlob
		d, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: ref, CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
		if err != nil || string(d.Plaintext) != "k" || d.KeyID != key {
			t.Errorf("Front.Decrypt by %s: %v", ref, err)
		}
		if d != nil {
			clear(d.Plaintext)
		}
		md, err := f.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: ref})
		if err != nil || md.Arn != key {
			t.Errorf("Front.DescribeKey by %s: %+v, %v; want the key %s", ref, md, err, key)
		}
		dk, err := f.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: ref, EncryptionContext: ec})
		if err != nil || len(dk.Plaintext) != 32 || dk.KeyID != key {
			t.Errorf("Front.GenerateDataKey by %s: %v, %v; want 32 bytes under the key %s", ref, keyOf(dk), err, key)
			continue
		}
		d, err = f.Decrypt(ctx, &backends.DecryptInput{KeyID: ref, CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
		if err != nil || !bytes.Equal(d.Plaintext, dk.Plaintext) {
			t.Errorf("Front.Decrypt by %s of the data key: %v", ref, err)
		}
		if d != nil {
			clear(d.Plaintext)
		}
		clear(dk.Plaintext)
	}
	return last
}

// keyOf says which key an output names, and how much plaintext it holds, for a
// failure message that shows neither ciphertext nor plaintext.
func keyOf(out any) string {
	switch o := out.(type) {
	case *backends.EncryptOutput:
		if o != nil {
			return "under " + o.KeyID
		}
	case *backends.GenerateDataKeyOutput:
		if o != nil {
			return fmt.Sprintf("%d bytes under %s", len(o.Plaintext), o.KeyID)
		}
	}
	return "no output"
}

// WantReEncryptForms fails t unless e (a [backends.ReEncrypter] over f, such as
// reencrypt.Engine) re-encrypts a blob of the key whose canonical ID is key from
// every reference of refs to every reference of refs, all of which name that
// key: by the default path and through the plaintext, and, when native is set,
// natively as well ([backends.ViaNative], whose output says Native). Each output
// names key as its source and its destination, and f decrypts it by the
// destination reference. ec is both contexts. It wipes every plaintext it handles.
func WantReEncryptForms(t testing.TB, e backends.ReEncrypter, f *backends.Front, ec map[string]string, key string, native bool, refs ...string) {
	t.Helper()
	if len(refs) == 0 {
		t.Fatal("WantReEncryptForms: no references")
	}
	ctx := context.Background()
	pt := []byte("k")
	out, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: refs[0], Plaintext: pt, EncryptionContext: ec})
	clear(pt)
	if err != nil {
		t.Fatalf("Front.Encrypt by %s: %v", refs[0], err)
	}
	vias := []backends.Via{backends.ViaAny, backends.ViaPlaintext}
	if native {
		vias = append(vias, backends.ViaNative)
	}
	for _, src := range refs {
		for _, dst := range refs {
			for _, via := range vias {
				re, err := e.ReEncrypt(ctx, &backends.ReEncryptInput{
					CiphertextBlob: out.CiphertextBlob, SourceKeyID: src, SourceEncryptionContext: ec,
					DestinationKeyID: dst, DestinationEncryptionContext: ec, Via: via,
				})
				if err != nil {
					t.Errorf("ReEncrypt from %s to %s (Via %d): %v", src, dst, via, err)
					continue
				}
				if re.SourceKeyID != key || re.KeyID != key || (via == backends.ViaNative && !re.Native) || (via == backends.ViaPlaintext && re.Native) {
					t.Errorf("ReEncrypt from %s to %s (Via %d): source %s, destination %s, native %v; want %s for both", src, dst, via, re.SourceKeyID, re.KeyID, re.Native, key)
				}
				d, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: dst, CiphertextBlob: re.CiphertextBlob, EncryptionContext: ec})
				if err != nil || string(d.Plaintext) != "k" || d.KeyID != key {
					t.Errorf("Front.Decrypt by %s of what ReEncrypt from %s made (Via %d): %v", dst, src, via, err)
				}
				if d != nil {
					clear(d.Plaintext)
				}
			}
		}
	}
}
