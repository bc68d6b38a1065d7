package tink_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/backends/tink"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/mac"
)

// encrypt encrypts pt under keyID with ec and fails t on error.
func encrypt(t *testing.T, b backends.Backend, keyID string, pt []byte, ec map[string]string) []byte {
	t.Helper()
	out, err := b.Encrypt(context.Background(), &backends.EncryptInput{KeyID: keyID, Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		t.Fatalf("Encrypt under %s: %v", keyID, err)
	}
	return out.CiphertextBlob
}

// decrypt decrypts blob and returns the plaintext and the error.
func decrypt(b backends.Backend, keyID string, blob []byte, ec map[string]string) ([]byte, error) {
	out, err := b.Decrypt(context.Background(), &backends.DecryptInput{KeyID: keyID, CiphertextBlob: blob, EncryptionContext: ec})
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

func mustDecrypt(t *testing.T, b backends.Backend, keyID string, blob []byte, ec map[string]string, want []byte) {
	t.Helper()
	pt, err := decrypt(b, keyID, blob, ec)
	if err != nil {
		t.Fatalf("Decrypt with %s: %v", keyID, err)
	}
	if !bytes.Equal(pt, want) {
		t.Fatalf("Decrypt with %s: plaintext differs", keyID)
	}
}

// TestKeysetFileLifecycle rotates, disables, enables and destroys keys of a
// keyset encrypted under a local key, reopening the file after every change.
func TestKeysetFileLifecycle(t *testing.T) {
	ctx := context.Background()
	kek, kekID := newLocalKey(ctx, t)
	for _, format := range []tink.Format{tink.JSON, tink.Binary} {
		st := tink.Storage{Path: filepath.Join(t.TempDir(), "orders.keyset"), Format: format, KEK: kek, KEKKeyID: kekID, AssociatedData: []byte("orders")}
		ks, err := tink.Create(ctx, "orders", tink.AES128GCM, st)
		if err != nil {
			t.Fatalf("Create: %v", err)
		}
		first := ks.Keys()[0].ID
		// reopen reads the file back into a fresh backend.
		reopen := func() (*tink.Keyset, *tink.Backend) {
			t.Helper()
			ks2, err := tink.Open(ctx, "orders", st)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			b2, err := tink.New(ks2)
			if err != nil {
				t.Fatal(err)
			}
			return ks2, b2
		}
		ec := map[string]string{"tenant": "acme"}
		pt := []byte("a data key of thirty-two bytes..")
		b, _ := tink.New(ks)
		old := encrypt(t, b, ks.URI(), pt, ec)

		second, err := ks.Rotate(ctx, tink.AES256GCMSIV)
		if err != nil {
			t.Fatalf("Rotate: %v", err)
		}
		ks2, b2 := reopen()
		if got := ks2.Keys(); len(got) != 2 || got[0].ID != first || got[1].ID != second || !got[1].Primary || got[0].Primary {
			t.Fatalf("reopened keyset after Rotate: keys %+v, want %d then primary %d", got, first, second)
		}
		mustDecrypt(t, b2, ks.URI(), old, ec, pt)
		fresh := encrypt(t, b2, ks.URI(), pt, ec)
		if !bytes.Equal(fresh[1:5], be32(second)) {
			t.Errorf("a blob after Rotate carries key ID %x in its prefix, want the new primary %d", fresh[1:5], second)
		}
		md, err := b2.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: ks.URI()})
		if err != nil {
			t.Fatalf("DescribeKey: %v", err)
		}
		if md.CurrentVersion != 2 || md.MinDecryptionVersion != 1 || md.KeySpec != "AesGcmSivKey" || md.KeyID != "orders" {
			t.Errorf("DescribeKey = %+v, want CurrentVersion 2, MinDecryptionVersion 1, KeySpec AesGcmSivKey, KeyID orders", md)
		}
		for _, want := range []string{u32(first) + " AesGcmKey ENABLED", u32(second) + " AesGcmSivKey ENABLED primary"} {
			if !strings.Contains(md.Description, want) {
				t.Errorf("DescribeKey Description %q does not list %q", md.Description, want)
			}
		}

		if err := ks.Disable(ctx, first); err != nil {
			t.Fatalf("Disable: %v", err)
		}
		_, b2 = reopen()
		_, err = decrypt(b2, ks.URI(), old, ec)
		kmstest.WantKind(t, err, backends.ErrDisabled, "Decrypt of a blob of a disabled key")
		_, err = decrypt(b2, "", old, ec)
		kmstest.WantKind(t, err, backends.ErrDisabled, "Decrypt without KeyID of a blob of a disabled key")
		md, _ = b2.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: ks.URI()})
		if md.MinDecryptionVersion != 2 || !strings.Contains(md.Description, u32(first)+" AesGcmKey DISABLED") {
			t.Errorf("DescribeKey after Disable: MinDecryptionVersion %d, Description %q", md.MinDecryptionVersion, md.Description)
		}
		kmstest.WantKind(t, ks.Disable(ctx, second), backends.ErrInvalidState, "Disable of the primary")
		kmstest.WantKind(t, ks.Destroy(ctx, second), backends.ErrInvalidState, "Destroy of the primary")
		kmstest.WantKind(t, ks.Promote(ctx, first), backends.ErrInvalidState, "Promote of a disabled key")
		kmstest.WantKind(t, ks.Disable(ctx, 12345), backends.ErrNotFound, "Disable of a key the keyset has not")

		if err := ks.Enable(ctx, first); err != nil {
			t.Fatalf("Enable: %v", err)
		}
		_, b2 = reopen()
		mustDecrypt(t, b2, ks.URI(), old, ec, pt)

		if err := ks.Promote(ctx, first); err != nil {
			t.Fatalf("Promote: %v", err)
		}
		if err := ks.Destroy(ctx, second); err != nil {
			t.Fatalf("Destroy: %v", err)
		}
		ks2, b2 = reopen()
		if got := ks2.Keys(); len(got) != 1 || got[0].ID != first || !got[0].Primary {
			t.Fatalf("reopened keyset after Destroy: keys %+v, want only %d, primary", got, first)
		}
		_, err = decrypt(b2, ks.URI(), fresh, ec)
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt of a blob of a destroyed key")
		mustDecrypt(t, b2, ks.URI(), old, ec, pt)

		// The file holds no key material in the clear.
		data, err := os.ReadFile(st.Path)
		if err != nil {
			t.Fatal(err)
		}
		clearKS := insecurecleartextkeyset.KeysetMaterial(ks.Handle())
		for _, k := range clearKS.GetKey() {
			if v := k.GetKeyData().GetValue(); bytes.Contains(data, v) {
				t.Errorf("the keyset file carries key %d's serialized key in the clear", k.GetKeyId())
			}
		}
		if fi, err := os.Stat(st.Path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("keyset file mode: %v, %v; want 0600", fi.Mode(), err)
		}

		// Other associated data, or another KEK, does not open it.
		bad := st
		bad.AssociatedData = []byte("invoices")
		_, err = tink.Open(ctx, "orders", bad)
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Open with other associated data")
		_, otherKEK := newLocalKeyIn(ctx, t, kek)
		bad = st
		bad.KEKKeyID = otherKEK
		_, err = tink.Open(ctx, "orders", bad)
		kmstest.WantKind(t, err, backends.ErrIncorrectKey, "Open under another KEK")
	}
}

// TestKeysetChangeFailsWhole checks that a change whose write fails (the KEK is
// disabled) changes nothing, in memory or on disk.
func TestKeysetChangeFailsWhole(t *testing.T) {
	ctx := context.Background()
	kek, kekID := newLocalKey(ctx, t)
	st := tink.Storage{Path: filepath.Join(t.TempDir(), "k.json"), KEK: kek, KEKKeyID: kekID}
	ks, err := tink.Create(ctx, "k", "", st)
	if err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(st.Path)
	if err := kek.DisableKey(ctx, &local.DisableKeyInput{KeyID: kekID}); err != nil {
		t.Fatal(err)
	}
	_, err = ks.Rotate(ctx, tink.AES256GCM)
	kmstest.WantKind(t, err, backends.ErrDisabled, "Rotate with the KEK disabled")
	if n := len(ks.Keys()); n != 1 {
		t.Errorf("after a failed Rotate the keyset has %d keys, want 1", n)
	}
	after, _ := os.ReadFile(st.Path)
	if !bytes.Equal(before, after) {
		t.Errorf("a failed Rotate changed the keyset file")
	}
	_, err = tink.Open(ctx, "k", st)
	kmstest.WantKind(t, err, backends.ErrDisabled, "Open with the KEK disabled")
}

// TestKeysetCleartextOptIn checks that a keyset goes to or comes from a file in
// cleartext only when Storage.InsecureCleartext says so.
func TestKeysetCleartextOptIn(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "clear.json")
	_, err := tink.Create(ctx, "clear", tink.AES256GCM, tink.Storage{Path: path})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Create of a file with neither KEK nor InsecureCleartext")
	if _, err := os.Stat(path); err == nil {
		t.Errorf("a refused Create wrote a file")
	}
	ks, err := tink.Create(ctx, "clear", tink.AES256GCM, tink.Storage{Path: path, InsecureCleartext: true})
	if err != nil {
		t.Fatalf("Create with InsecureCleartext: %v", err)
	}
	// Tink reads the file as its own cleartext keyset.
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := insecurecleartextkeyset.Read(keyset.NewJSONReader(f))
	f.Close()
	if err != nil {
		t.Fatalf("Tink cannot read the cleartext keyset keyport wrote: %v", err)
	}
	if h.KeysetInfo().GetPrimaryKeyId() != ks.Keys()[0].ID {
		t.Errorf("Tink reads primary %d, keyport made %d", h.KeysetInfo().GetPrimaryKeyId(), ks.Keys()[0].ID)
	}
	_, err = tink.Open(ctx, "clear", tink.Storage{Path: path})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Open of a cleartext file without InsecureCleartext")
	kek, kekID := newLocalKey(ctx, t)
	_, err = tink.Open(ctx, "clear", tink.Storage{Path: path, KEK: kek, KEKKeyID: kekID})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Open of a cleartext file as an encrypted one")
	_, err = tink.Create(ctx, "x", tink.AES256GCM, tink.Storage{KEK: kek, KEKKeyID: kekID, InsecureCleartext: true})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Create with both KEK and InsecureCleartext")
	_, err = tink.Open(ctx, "missing", tink.Storage{Path: filepath.Join(t.TempDir(), "none.json"), InsecureCleartext: true})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Open of a file that does not exist")
	_, err = tink.Create(ctx, "bad/name", tink.AES256GCM, tink.Storage{})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Create with a name that has a slash")
	_, err = tink.Create(ctx, "t", "AES512_GCM", tink.Storage{})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Create with an unknown key type")
}

// TestKeysetRejectsOtherPrimitives checks that a keyset of another key type
// (a MAC keyset, an AES-CTR-HMAC AEAD) is refused by name.
func TestKeysetRejectsOtherPrimitives(t *testing.T) {
	for name, tmpl := range map[string]func() *keysetTemplate{
		"HMAC":              func() *keysetTemplate { return mac.HMACSHA256Tag256KeyTemplate() },
		"AES-CTR-HMAC":      func() *keysetTemplate { return aead.AES256CTRHMACSHA256KeyTemplate() },
		"ChaCha20-Poly1305": func() *keysetTemplate { return aead.ChaCha20Poly1305KeyTemplate() },
	} {
		h, err := keyset.NewHandle(tmpl())
		if err != nil {
			t.Fatal(err)
		}
		_, err = tink.FromHandle("x", h, tink.Storage{})
		kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "FromHandle of a "+name+" keyset")
	}
}

// TestTinkReadsKeyportAndBack checks that a blob is Tink's own ciphertext with
// the encoded encryption context as associated data, both ways, and that Tink's
// RAW keys (no prefix) decrypt by trial.
func TestTinkReadsKeyportAndBack(t *testing.T) {
	ctx := context.Background()
	for _, tmpl := range []*keysetTemplate{aead.AES256GCMKeyTemplate(), aead.AES256GCMNoPrefixKeyTemplate(), aead.AES256GCMSIVNoPrefixKeyTemplate()} {
		h, err := keyset.NewHandle(tmpl)
		if err != nil {
			t.Fatal(err)
		}
		ks, err := tink.FromHandle("interop", h, tink.Storage{})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := tink.New(ks)
		prim, err := aead.New(h)
		if err != nil {
			t.Fatal(err)
		}
		ec := map[string]string{"a": "b", "c": ""}
		pt := []byte("interop")
		blob := encrypt(t, b, ks.URI(), pt, ec)
		got, err := prim.Decrypt(blob, backends.EncodeEncryptionContext(ec))
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("Tink cannot decrypt keyport's blob with the encoded context: %v", err)
		}
		ct, err := prim.Encrypt(pt, backends.EncodeEncryptionContext(ec))
		if err != nil {
			t.Fatal(err)
		}
		mustDecrypt(t, b, ks.URI(), ct, ec, pt)
		_, err = decrypt(b, ks.URI(), ct, map[string]string{"a": "bc"})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt of Tink's ciphertext under another context")
		ct, _ = prim.Encrypt(pt, nil)
		mustDecrypt(t, b, ks.URI(), ct, nil, pt)
		_ = ctx
	}
}

// TestBackendErrors covers what the conformance suite cannot reach.
func TestBackendErrors(t *testing.T) {
	ctx := context.Background()
	a, _ := tink.Create(ctx, "a", tink.AES256GCM, tink.Storage{})
	b, err := tink.New(a)
	if err != nil {
		t.Fatal(err)
	}
	a2, _ := tink.Create(ctx, "a", tink.AES256GCM, tink.Storage{})
	kmstest.WantKind(t, b.Add(a2), backends.ErrAlreadyExists, "Add of a second keyset named a")
	for _, ref := range []string{"tink-keyset://", "tink-keyset://a/b", "tink-keyset://a?x=1", "vault://transit/a", "tink-keyset:a"} {
		_, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: ref, Plaintext: []byte("x")})
		kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under "+ref)
	}
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: a.URI(), Plaintext: []byte("x"), EncryptionAlgorithm: backends.RSAESOAEPSHA256})
	kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "Encrypt with RSAES_OAEP_SHA_256")
	_, err = b.CiphertextKeyID([]byte{1, 2})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "CiphertextKeyID of a short blob")
	if _, err := b.OpenBackendURL(ctx, mustURL(t, "tink-keyset://a")); err != nil {
		t.Errorf("OpenBackendURL of a keyset it serves: %v", err)
	}
	_, err = b.OpenBackendURL(ctx, mustURL(t, "tink-keyset://zz"))
	kmstest.WantKind(t, err, backends.ErrNotFound, "OpenBackendURL of a keyset it does not serve")
}
