package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/internal/vaulttest"
)

func TestRoundTripAndContextBinding(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		params map[string]any
	}{
		{"aes256", map[string]any{"type": "aes256-gcm96"}},
		{"aes128", map[string]any{"type": "aes128-gcm96"}},
		{"chacha", map[string]any{"type": "chacha20-poly1305"}},
		{"derived", map[string]any{"type": "aes256-gcm96", "derived": true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := v.key(tc.name, tc.params)
			pt := []byte("a 32-byte data key, more or less")
			ec := map[string]string{"a": "bc", "tenant": "42"}
			out, err := v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: pt, EncryptionContext: ec})
			if err != nil {
				t.Fatal(err)
			}
			if out.KeyID != key || out.EncryptionAlgorithm != backends.SymmetricDefault {
				t.Fatalf("output names %q/%s, want %q/SYMMETRIC_DEFAULT", out.KeyID, out.EncryptionAlgorithm, key)
			}
			if !strings.HasPrefix(string(out.CiphertextBlob), "vault:v1:") {
				t.Fatalf("blob is not a Transit v1 ciphertext")
			}
			got := mustDecrypt(t, v.b, key, out.CiphertextBlob, ec)
			if !bytes.Equal(got, pt) {
				t.Fatal("round trip changed the plaintext")
			}
			for name, wrong := range map[string]map[string]string{
				"missing": nil,
				"changed": {"a": "bc", "tenant": "43"},
				"extra":   {"a": "bc", "tenant": "42", "x": ""},
				"fewer":   {"a": "bc"},
				"resplit": {"ab": "c", "tenant": "42"},
			} {
				_, err := v.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: out.CiphertextBlob, EncryptionContext: wrong})
				kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "decrypt with "+name+" context")
			}
			// Empty context and empty plaintext round-trip too.
			blob := mustEncrypt(t, v.b, key, []byte{}, nil)
			if got := mustDecrypt(t, v.b, key, blob, nil); len(got) != 0 {
				t.Fatal("empty plaintext did not round-trip")
			}
			// A flipped byte inside the base64 body fails.
			bad := append([]byte(nil), out.CiphertextBlob...)
			i := len("vault:v1:") + 4
			if bad[i] == 'A' {
				bad[i] = 'B'
			} else {
				bad[i] = 'A'
			}
			_, err = v.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: bad, EncryptionContext: ec})
			kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "decrypt a damaged blob")
		})
	}
}

// TestBindingIsReal checks against Vault itself (raw API calls) that the context is
// bound where the package documentation says: as associated_data for a non-derived
// key and as the derivation context for a derived one. It guards against Transit's
// silent acceptance of a context for a non-derived key.
func TestBindingIsReal(t *testing.T) {
	v := newDevVault(t)
	ec := map[string]string{"purpose": "test"}
	enc := base64.StdEncoding.EncodeToString

	plain := v.key("plain", nil)
	blob := mustEncrypt(t, v.b, plain, []byte("secret"), ec)
	if _, err := v.root.Logical().Write(v.mount+"/decrypt/plain", map[string]any{"ciphertext": string(blob)}); err == nil {
		t.Fatal("a non-derived key's blob decrypted without associated_data: the context is not bound")
	}
	s := v.write(v.mount+"/decrypt/plain", map[string]any{"ciphertext": string(blob), "associated_data": enc(backends.EncodeEncryptionContext(ec))})
	if s.Data["plaintext"] != enc([]byte("secret")) {
		t.Fatal("associated_data is not the keyport encoding of the context")
	}

	derived := v.key("derived", map[string]any{"derived": true})
	blob = mustEncrypt(t, v.b, derived, []byte("secret"), ec)
	if _, err := v.root.Logical().Write(v.mount+"/decrypt/derived", map[string]any{"ciphertext": string(blob), "context": enc([]byte{0, 0, 0, 0})}); err == nil {
		t.Fatal("a derived key's blob decrypted under the empty context")
	}
	s = v.write(v.mount+"/decrypt/derived", map[string]any{"ciphertext": string(blob), "context": enc(backends.EncodeEncryptionContext(ec))})
	if s.Data["plaintext"] != enc([]byte("secret")) {
		t.Fatal("the derivation context is not the keyport encoding of the context")
	}
}

func TestMissingKeyIsNotCreated(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	missing := "vault://" + v.mount + "/typo"
	_, err := v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: missing, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "encrypt to a missing key")
	_, err = v.b.EncryptBatch(ctx, missing, []BatchItem{{Plaintext: []byte("x")}})
	kmstest.WantKind(t, err, backends.ErrNotFound, "batch encrypt to a missing key")
	_, err = v.b.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: missing})
	kmstest.WantKind(t, err, backends.ErrNotFound, "data key under a missing key")
	_, err = v.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: missing})
	kmstest.WantKind(t, err, backends.ErrNotFound, "describe a missing key")
	if v.exists("typo") {
		t.Fatal("encrypting to a missing key created it")
	}
	_, err = v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: "vault://no-such-mount/k", Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "encrypt in a missing mount")

	// With disable_upsert on the mount the backend trusts Vault to refuse.
	v.write(v.mount+"/config/keys", map[string]any{"disable_upsert": true})
	b, _ := New(Options{Client: v.root})
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: missing, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "encrypt to a missing key (disable_upsert)")
	if !b.upsertDisabled(ctx, v.mount) {
		t.Fatal("the backend did not read disable_upsert")
	}
	if v.exists("typo") {
		t.Fatal("encrypting to a missing key created it (disable_upsert)")
	}
}

func TestDeletedKey(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	key := v.key("doomed", nil)
	blob := mustEncrypt(t, v.b, key, []byte("x"), nil)
	v.write(v.mount+"/keys/doomed/config", map[string]any{"deletion_allowed": true})
	if _, err := v.root.Logical().Delete(v.mount + "/keys/doomed"); err != nil {
		t.Fatal(err)
	}
	// The backend's cache still knows the key; Vault's answer must win, and
	// Transit's upsert must not bring the key back.
	_, err := v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "encrypt to a deleted key")
	_, err = v.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: blob})
	kmstest.WantKind(t, err, backends.ErrNotFound, "decrypt under a deleted key")
	if v.exists("doomed") {
		t.Fatal("encrypting to a deleted key recreated it")
	}
}

func TestRotationRewrapAndMinDecryptionVersion(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	for _, derived := range []bool{false, true} {
		name := "plain"
		var ec map[string]string
		if derived {
			name, ec = "derived", map[string]string{"order": "7"}
		}
		t.Run(name, func(t *testing.T) {
			key := v.key(name, map[string]any{"derived": derived})
			old := mustEncrypt(t, v.b, key, []byte("v1 secret"), ec)
			v.write(v.mount+"/keys/"+name+"/rotate", nil)
			cur := mustEncrypt(t, v.b, key, []byte("v2 secret"), ec)
			if o, err := v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x"), EncryptionContext: ec}); err != nil {
				t.Fatal(err)
			} else if o.KeyVersion != "2" {
				t.Fatalf("Encrypt after rotation reports version %q, want 2", o.KeyVersion)
			}
			if !strings.HasPrefix(string(old), "vault:v1:") || !strings.HasPrefix(string(cur), "vault:v2:") {
				t.Fatal("rotation did not move new ciphertexts to version 2")
			}
			if string(mustDecrypt(t, v.b, key, old, ec)) != "v1 secret" {
				t.Fatal("an old version no longer decrypts after rotation")
			}
			md, err := v.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
			if err != nil {
				t.Fatal(err)
			}
			if md.CurrentVersion != 2 || md.MinDecryptionVersion != 1 || md.Derived != derived || md.KeySpec != "aes256-gcm96" ||
				md.Arn != key || md.KeyState != backends.KeyStateEnabled || md.KeyUsage != backends.KeyUsageEncryptDecrypt || md.CreationDate.IsZero() {
				t.Fatalf("DescribeKey = %+v", md)
			}

			out, err := v.b.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: old, SourceKeyID: key, DestinationKeyID: key,
				SourceEncryptionContext: ec, DestinationEncryptionContext: ec})
			if err != nil {
				t.Fatalf("rewrap: %v", err)
			}
			if !out.Native || out.KeyID != key || out.SourceKeyID != key || !strings.HasPrefix(string(out.CiphertextBlob), "vault:v2:") {
				t.Fatalf("rewrap output: native=%v key=%s source=%s v2=%v", out.Native, out.KeyID, out.SourceKeyID, strings.HasPrefix(string(out.CiphertextBlob), "vault:v2:"))
			}
			if string(mustDecrypt(t, v.b, key, out.CiphertextBlob, ec)) != "v1 secret" {
				t.Fatal("the rewrapped blob does not decrypt to the original plaintext")
			}
			if derived {
				_, err = v.b.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: old, SourceKeyID: key, DestinationKeyID: key,
					SourceEncryptionContext: map[string]string{"order": "8"}, DestinationEncryptionContext: map[string]string{"order": "8"}})
				kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "rewrap under a wrong context")
			}

			v.write(v.mount+"/keys/"+name+"/config", map[string]any{"min_decryption_version": 2})
			_, err = v.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: old, EncryptionContext: ec})
			kmstest.WantKind(t, err, backends.ErrDisabled, "decrypt below min_decryption_version")
			_, err = v.b.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: old, SourceKeyID: key, DestinationKeyID: key,
				SourceEncryptionContext: ec, DestinationEncryptionContext: ec})
			kmstest.WantKind(t, err, backends.ErrDisabled, "rewrap below min_decryption_version")
			if string(mustDecrypt(t, v.b, key, out.CiphertextBlob, ec)) != "v1 secret" {
				t.Fatal("the rewrapped blob stopped decrypting after min_decryption_version moved")
			}
			md, err = v.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
			if err != nil || md.MinDecryptionVersion != 2 {
				t.Fatalf("DescribeKey after config: %+v, %v", md, err)
			}
		})
	}
}

func TestRewrapOfAssociatedDataBlobIsUnsupported(t *testing.T) {
	v := newDevVault(t)
	key := v.key("plain", nil)
	ec := map[string]string{"k": "v"}
	blob := mustEncrypt(t, v.b, key, []byte("x"), ec)
	_, err := v.b.ReEncrypt(context.Background(), &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: key, DestinationKeyID: key,
		SourceEncryptionContext: ec, DestinationEncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "rewrap an associated_data-bound blob")
}

func TestPermissionDenied(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	key := v.key("guarded", nil)
	blob := mustEncrypt(t, v.b, key, []byte("x"), nil)

	nothing := v.tokenWith(`path "sys/capabilities-self" { capabilities = ["update"] }`)
	_, err := nothing.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "encrypt without any permission")
	_, err = nothing.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: blob})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "decrypt without any permission")

	decryptOnly := v.tokenWith(`
path "` + v.mount + `/keys/guarded" { capabilities = ["read"] }
path "` + v.mount + `/decrypt/guarded" { capabilities = ["update"] }
path "sys/capabilities-self" { capabilities = ["update"] }
`)
	if got := mustDecrypt(t, decryptOnly, key, blob, nil); string(got) != "x" {
		t.Fatal("a token allowed to decrypt could not")
	}
	_, err = decryptOnly.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "encrypt with a decrypt-only token")
	_, err = decryptOnly.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x"), DryRun: true})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "dry-run encrypt with a decrypt-only token")
	_, err = decryptOnly.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: blob, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "dry-run decrypt with a decrypt-only token")
}

func TestDryRun(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	key := v.key("k", nil)
	_, err := v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x"), DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "dry-run encrypt")
	_, err = v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: "vault://" + v.mount + "/nope", Plaintext: []byte("x"), DryRun: true})
	kmstest.WantKind(t, err, backends.ErrNotFound, "dry-run encrypt to a missing key")
	_, err = v.b.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: key, DryRun: true})
	kmstest.WantKind(t, err, backends.ErrDryRunOperation, "dry-run data key")
}

func TestDataKeys(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	plain := v.key("plain", nil)
	derived := v.key("derived", map[string]any{"derived": true})
	ec := map[string]string{"file": "a.txt"}
	for _, key := range []string{plain, derived} {
		for _, n := range []int{0, 16, 32, 64, 20, 1} {
			for _, ctxt := range []map[string]string{nil, ec} {
				out, err := v.b.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: key, NumberOfBytes: n, EncryptionContext: ctxt})
				if err != nil {
					t.Fatalf("GenerateDataKey %s n=%d ec=%v: %v", key, n, ctxt != nil, err)
				}
				want := n
				if want == 0 {
					want = 32
				}
				if len(out.Plaintext) != want || out.KeyID != key {
					t.Fatalf("GenerateDataKey %s n=%d: %d bytes, key %s", key, n, len(out.Plaintext), out.KeyID)
				}
				if got := mustDecrypt(t, v.b, key, out.CiphertextBlob, ctxt); !bytes.Equal(got, out.Plaintext) {
					t.Fatalf("data key %s n=%d ec=%v does not decrypt to itself", key, n, ctxt != nil)
				}
				clear(out.Plaintext)

				w, err := v.b.GenerateDataKeyWithoutPlaintext(ctx, &backends.GenerateDataKeyInput{KeyID: key, NumberOfBytes: n, EncryptionContext: ctxt})
				if err != nil {
					t.Fatalf("GenerateDataKeyWithoutPlaintext %s n=%d: %v", key, n, err)
				}
				if w.Plaintext != nil {
					t.Fatal("GenerateDataKeyWithoutPlaintext returned a plaintext")
				}
				if got := mustDecrypt(t, v.b, key, w.CiphertextBlob, ctxt); len(got) != want {
					t.Fatalf("wrapped data key decrypts to %d bytes, want %d", len(got), want)
				}
				if ctxt != nil {
					_, err := v.b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: w.CiphertextBlob})
					kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "data key without its context")
				}
			}
		}
	}
}

func TestBatch(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	for _, params := range []map[string]any{nil, {"derived": true}} {
		key := v.key(vaulttest.Name("b"), params)
		items := []BatchItem{
			{Plaintext: []byte("one"), EncryptionContext: map[string]string{"i": "1"}},
			{Plaintext: []byte("two")},
			{Plaintext: []byte("three"), EncryptionContext: map[string]string{"i": "3"}},
		}
		enc, err := v.b.EncryptBatch(ctx, key, items)
		if err != nil {
			t.Fatal(err)
		}
		dec := make([]BatchItem, len(items))
		for i, r := range enc {
			if r.Err != nil {
				t.Fatalf("item %d: %v", i, r.Err)
			}
			if got := mustDecrypt(t, v.b, key, r.CiphertextBlob, items[i].EncryptionContext); !bytes.Equal(got, items[i].Plaintext) {
				t.Fatalf("batch item %d does not decrypt singly", i)
			}
			dec[i] = BatchItem{CiphertextBlob: r.CiphertextBlob, EncryptionContext: items[i].EncryptionContext}
		}
		dec[2].EncryptionContext = map[string]string{"i": "wrong"}          // fails in Vault: partial failure, HTTP 400
		dec = append(dec, BatchItem{CiphertextBlob: []byte("garbage")})     // fails before Vault
		dec = append(dec, BatchItem{CiphertextBlob: enc[0].CiphertextBlob}) // context missing
		res, err := v.b.DecryptBatch(ctx, key, dec)
		if err != nil {
			t.Fatalf("a partial failure failed the whole batch: %v", err)
		}
		if len(res) != len(dec) {
			t.Fatalf("%d results for %d items", len(res), len(dec))
		}
		for i := 0; i < 2; i++ {
			if res[i].Err != nil || !bytes.Equal(res[i].Plaintext, items[i].Plaintext) {
				t.Fatalf("item %d: %v", i, res[i].Err)
			}
		}
		kmstest.WantKind(t, res[2].Err, backends.ErrInvalidCiphertext, "batch item under a wrong context")
		kmstest.WantKind(t, res[3].Err, backends.ErrInvalidCiphertext, "batch item that is no ciphertext")
		kmstest.WantKind(t, res[4].Err, backends.ErrInvalidCiphertext, "batch item without its context")
	}
}

func TestRouterAndDefaultMount(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	var r backends.Front
	if err := v.b.Register(&r); err != nil {
		t.Fatal(err)
	}
	key := v.key("routed", nil)
	out, err := r.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := r.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: out.CiphertextBlob}); err != nil || string(got.Plaintext) != "x" {
		t.Fatalf("decrypt through the router: %v", err)
	}
	// vault:///<key> names the key in the "transit" mount that scripts/test.sh makes.
	name := vaulttest.Name("dm")
	if _, err := v.root.Logical().Write("transit/keys/"+name, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = v.root.Logical().Write("transit/keys/"+name+"/config", map[string]any{"deletion_allowed": true})
		_, _ = v.root.Logical().Delete("transit/keys/" + name)
	})
	out, err = r.Encrypt(ctx, &backends.EncryptInput{KeyID: "vault:///" + name, Plaintext: []byte("y")})
	if err != nil {
		t.Fatal(err)
	}
	if out.KeyID != "vault://transit/"+name {
		t.Fatalf("canonical KeyID = %q", out.KeyID)
	}
}

func TestCancelledContext(t *testing.T) {
	v := newDevVault(t)
	key := v.key("k", nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrCanceled, "encrypt with a cancelled context")
	_, err = v.b.EncryptBatch(ctx, key, []BatchItem{{Plaintext: []byte("x")}})
	kmstest.WantKind(t, err, backends.ErrCanceled, "batch with a cancelled context")
}

func TestKeyTypes(t *testing.T) {
	v := newDevVault(t)
	ctx := context.Background()
	rsa := v.key("rsa", map[string]any{"type": "rsa-2048"})
	_, err := v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: rsa, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "RSA key with SYMMETRIC_DEFAULT")
	out, err := v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: rsa, Plaintext: []byte("x"), EncryptionAlgorithm: backends.RSAESOAEPSHA256})
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.b.Decrypt(ctx, &backends.DecryptInput{KeyID: rsa, CiphertextBlob: out.CiphertextBlob, EncryptionAlgorithm: backends.RSAESOAEPSHA256})
	if err != nil || string(got.Plaintext) != "x" {
		t.Fatalf("RSA round trip: %v", err)
	}
	_, err = v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: rsa, Plaintext: []byte("x"), EncryptionAlgorithm: backends.RSAESOAEPSHA256,
		EncryptionContext: map[string]string{"k": "v"}})
	kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "RSA key with a context")
	signing := v.key("ed", map[string]any{"type": "ed25519"})
	_, err = v.b.Encrypt(ctx, &backends.EncryptInput{KeyID: signing, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "signing key")
	md, err := v.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: signing})
	if err != nil || md.KeyUsage != backends.KeyUsageSignVerify {
		t.Fatalf("describe signing key: %+v, %v", md, err)
	}
}
