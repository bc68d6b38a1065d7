//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
)

func TestOpenErrors(t *testing.T) {
	s := newSoftHSM(t, "open-errors")
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		opts Options
		want *backends.Kind
		says string
	}{
		{"MissingModule", Options{Module: "/nonexistent/libnothing.so", Token: s.label, PINFile: s.pinFile}, backends.ErrInvalidArgument, "/nonexistent/libnothing.so"},
		{"NotAPKCS11Library", Options{Module: s.pinFile, Token: s.label, PINFile: s.pinFile}, backends.ErrInvalidArgument, "not a PKCS#11 library"},
		{"NoModule", Options{Token: s.label, PINFile: s.pinFile}, backends.ErrInvalidArgument, EnvModule},
		{"NoSuchToken", Options{Module: s.module, Token: "not-there", PINFile: s.pinFile}, backends.ErrNotFound, `"not-there"`},
		{"NoSuchSerial", Options{Module: s.module, Serial: "0000", PINFile: s.pinFile}, backends.ErrNotFound, `"0000"`},
		{"NoPINFile", Options{Module: s.module, Token: s.label, PINFile: s.pinFile + ".missing"}, backends.ErrAccessDenied, "PIN file"},
		{"UnsetPINVariable", Options{Module: s.module, Token: s.label, PINEnv: "KEYPORT_TEST_NO_SUCH_PIN"}, backends.ErrAccessDenied, "KEYPORT_TEST_NO_SUCH_PIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(EnvModule, "")
			b, err := Open(ctx, tc.opts)
			if b != nil {
				b.Close()
				t.Fatal("Open succeeded")
			}
			kmstest.WantKind(t, err, tc.want, "Open")
			if err != nil && !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Open: error %q does not say %q", err, tc.says)
			}
		})
	}
	t.Run("WrongPIN", func(t *testing.T) {
		t.Setenv("KEYPORT_TEST_PIN", "wrong-pin-1234")
		b, err := Open(ctx, Options{Module: s.module, Token: s.label, PINEnv: "KEYPORT_TEST_PIN"})
		if b != nil {
			b.Close()
			t.Fatal("Open with a wrong PIN succeeded")
		}
		kmstest.WantKind(t, err, backends.ErrAccessDenied, "Open with a wrong PIN")
		var pe p11.Error
		if !errors.As(err, &pe) || pe != p11.CKR_PIN_INCORRECT {
			t.Errorf("Open with a wrong PIN: the library's error is not reachable as CKR_PIN_INCORRECT: %v", err)
		}
		if strings.Contains(err.Error(), "wrong-pin-1234") {
			t.Errorf("the error carries the PIN: %v", err)
		}
	})
	t.Run("PINFromEnvironment", func(t *testing.T) {
		t.Setenv(EnvPIN, s.pin)
		t.Setenv(EnvPINFile, "")
		b := s.open(t, Options{Module: s.module, Token: s.label})
		if b.Token() != s.label {
			t.Errorf("Token() = %q, want %q", b.Token(), s.label)
		}
	})
	t.Run("CancelledContext", func(t *testing.T) {
		c, cancel := context.WithCancel(ctx)
		cancel()
		_, err := Open(c, s.options())
		kmstest.WantKind(t, err, backends.ErrCanceled, "Open with a cancelled context")
	})
}

func TestRSA(t *testing.T) {
	s := newSoftHSM(t, "rsa")
	b := s.open(t, s.options())
	ctx := context.Background()
	pair := mustCreate(t, b, "pair", []byte{1}, RSA2048)
	aes := mustCreate(t, b, "aes", []byte{2}, AES256)
	dataKey := bytes.Repeat([]byte{0x5a}, 32)

	t.Run("DefaultIsOAEPSHA256", func(t *testing.T) {
		out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: pair, Plaintext: dataKey})
		if softHSMDeviations.oaepSHA1Only {
			// Declared token deviation oaepSHA1Only: the default must fail
			// clearly, not fall back to SHA-1.
			kmstest.WantKind(t, err, backends.ErrUnsupported, "Encrypt with the default (RSAES_OAEP_SHA_256) on SoftHSM")
			if out != nil {
				t.Errorf("Encrypt returned an output with the error")
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if out.EncryptionAlgorithm != backends.RSAESOAEPSHA256 {
			t.Errorf("algorithm = %s, want %s", out.EncryptionAlgorithm, backends.RSAESOAEPSHA256)
		}
	})
	t.Run("OAEPSHA1", func(t *testing.T) {
		out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: "pkcs11:object=pair", Plaintext: dataKey, EncryptionAlgorithm: backends.RSAESOAEPSHA1})
		if err != nil {
			t.Fatal(err)
		}
		if out.KeyID != pair || out.EncryptionAlgorithm != backends.RSAESOAEPSHA1 {
			t.Errorf("Encrypt: KeyID %q algorithm %s, want %q %s", out.KeyID, out.EncryptionAlgorithm, pair, backends.RSAESOAEPSHA1)
		}
		for _, alg := range []backends.Algorithm{"", backends.RSAESOAEPSHA1} {
			d, err := b.Decrypt(ctx, &backends.DecryptInput{KeyID: pair, CiphertextBlob: out.CiphertextBlob, EncryptionAlgorithm: alg})
			if err != nil {
				t.Fatalf("Decrypt with algorithm %q: %v", alg, err)
			}
			if !bytes.Equal(d.Plaintext, dataKey) || d.EncryptionAlgorithm != backends.RSAESOAEPSHA1 {
				t.Errorf("Decrypt with algorithm %q: wrong plaintext or algorithm %s", alg, d.EncryptionAlgorithm)
			}
			clear(d.Plaintext)
		}
		d, err := b.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob})
		if err != nil || !bytes.Equal(d.Plaintext, dataKey) {
			t.Errorf("Decrypt without KeyID: %v", err)
		}
		_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: pair, CiphertextBlob: out.CiphertextBlob, EncryptionAlgorithm: backends.RSAESOAEPSHA256})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt naming another OAEP hash than the blob's")
		_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: pair, CiphertextBlob: out.CiphertextBlob, EncryptionContext: map[string]string{"a": "b"}})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt with an encryption context of an RSA blob")
		_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: aes, CiphertextBlob: out.CiphertextBlob})
		kmstest.WantKind(t, err, backends.ErrIncorrectKey, "Decrypt of an RSA blob with an AES key")
		tampered := bytes.Clone(out.CiphertextBlob)
		tampered[len(tampered)-1] ^= 1
		_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: pair, CiphertextBlob: tampered})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt of a damaged RSA blob")
	})
	t.Run("Refusals", func(t *testing.T) {
		_, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: pair, Plaintext: dataKey, EncryptionAlgorithm: backends.RSAESOAEPSHA1, EncryptionContext: map[string]string{"a": "b"}})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt under an RSA pair with an encryption context")
		_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: pair, Plaintext: dataKey, EncryptionAlgorithm: backends.SymmetricDefault})
		kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "Encrypt under an RSA pair with SYMMETRIC_DEFAULT")
		_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: aes, Plaintext: dataKey, EncryptionAlgorithm: backends.RSAESOAEPSHA1})
		kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "Encrypt under an AES key with RSA-OAEP")
		_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: pair, Plaintext: make([]byte, 256), EncryptionAlgorithm: backends.RSAESOAEPSHA1})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt of 256 bytes under RSA-2048-OAEP")
		g, err := b.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: pair})
		kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "GenerateDataKey under an RSA pair")
		if g != nil {
			t.Errorf("GenerateDataKey returned an output with the error")
		}
	})
	t.Run("Describe", func(t *testing.T) {
		md, err := b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: "pkcs11:object=pair;type=private"})
		if err != nil {
			t.Fatal(err)
		}
		if md.Arn != pair || md.KeySpec != "RSA_2048" || md.KeyID != "pair" || len(md.EncryptionAlgorithms) != 2 {
			t.Errorf("DescribeKey: %+v", md)
		}
	})
}

// rawSession returns a session of b's token for a test to make objects with
// directly, given back when the test ends.
func rawSession(t *testing.T, b *Backend) p11.SessionHandle {
	t.Helper()
	sh, err := b.tok.get(context.Background(), "test", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.tok.put(sh) })
	return sh
}

// rawAES makes an AES key with the attributes given over the backend's defaults.
func rawAES(t *testing.T, b *Backend, sh p11.SessionHandle, label string, id []byte, bytes int, attrs ...*p11.Attribute) {
	t.Helper()
	tmpl := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_TOKEN, true), p11.NewAttribute(p11.CKA_LABEL, label), p11.NewAttribute(p11.CKA_ID, id),
		p11.NewAttribute(p11.CKA_VALUE_LEN, bytes),
	}
	set := map[uint]bool{}
	for _, a := range attrs {
		set[a.Type] = true
	}
	for _, a := range []*p11.Attribute{
		p11.NewAttribute(p11.CKA_SENSITIVE, true), p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_ENCRYPT, true), p11.NewAttribute(p11.CKA_DECRYPT, true),
	} {
		if !set[a.Type] {
			tmpl = append(tmpl, a)
		}
	}
	tmpl = append(tmpl, attrs...)
	if _, err := b.tok.mod.ctx.GenerateKey(sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}, tmpl); err != nil {
		t.Fatalf("C_GenerateKey %s: %v", label, err)
	}
}

func TestRefusedKeys(t *testing.T) {
	s := newSoftHSM(t, "refused")
	b := s.open(t, s.options())
	ctx := context.Background()
	sh := rawSession(t, b)
	rawAES(t, b, sh, "extractable", []byte{1}, 32, p11.NewAttribute(p11.CKA_EXTRACTABLE, true))
	rawAES(t, b, sh, "not-sensitive", []byte{2}, 32, p11.NewAttribute(p11.CKA_SENSITIVE, false))
	rawAES(t, b, sh, "no-decrypt", []byte{3}, 32, p11.NewAttribute(p11.CKA_DECRYPT, false))
	rawAES(t, b, sh, "no-encrypt", []byte{4}, 32, p11.NewAttribute(p11.CKA_ENCRYPT, false))
	rawAES(t, b, sh, "aes-128", []byte{5}, 16)
	rawAES(t, b, sh, "twice", []byte{6}, 32)
	rawAES(t, b, sh, "twice", []byte{7}, 32)
	pt := bytes.Repeat([]byte{1}, 32)

	for _, tc := range []struct {
		label, op string
		want      *backends.Kind
		says      string
	}{
		{"extractable", "Encrypt", backends.ErrInvalidKeyUsage, "extractable"},
		{"extractable", "Decrypt", backends.ErrInvalidKeyUsage, "extractable"},
		{"not-sensitive", "Encrypt", backends.ErrInvalidKeyUsage, "not sensitive"},
		{"no-decrypt", "Encrypt", backends.ErrInvalidKeyUsage, "CKA_DECRYPT"},
		{"no-encrypt", "Encrypt", backends.ErrInvalidKeyUsage, "CKA_ENCRYPT"},
		{"aes-128", "Encrypt", backends.ErrInvalidKeyUsage, "AES_128"},
		{"twice", "Encrypt", backends.ErrInvalidArgument, "2 secret keys"},
		{"twice", "Decrypt", backends.ErrInvalidArgument, "2 secret keys"},
	} {
		t.Run(tc.label+"/"+tc.op, func(t *testing.T) {
			ref := "pkcs11:object=" + tc.label
			var err error
			if tc.op == "Encrypt" {
				_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: ref, Plaintext: pt})
			} else {
				// A well-formed blob naming the key: refused before any decryption.
				blob := append(header(formatAESGCM, "pkcs11:token=refused;object="+tc.label, make([]byte, gcmIVLen)), make([]byte, 48)...)
				_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: ref, CiphertextBlob: blob})
			}
			kmstest.WantKind(t, err, tc.want, tc.op+" under "+tc.label)
			if err != nil && !strings.Contains(err.Error(), tc.says) {
				t.Errorf("%s under %s: error %q does not say %q", tc.op, tc.label, err, tc.says)
			}
		})
	}
	t.Run("NoEncryptStillDecrypts", func(t *testing.T) {
		// A key that may decrypt but not encrypt keeps opening what it made.
		_, err := b.Decrypt(ctx, &backends.DecryptInput{KeyID: "pkcs11:object=no-encrypt",
			CiphertextBlob: append(header(formatAESGCM, "pkcs11:token=refused;object=no-encrypt;id=%04", make([]byte, gcmIVLen)), make([]byte, 48)...)})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt of a forged blob under a decrypt-only key")
	})
	t.Run("DuplicateResolvedByID", func(t *testing.T) {
		out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: "pkcs11:object=twice;id=%07", Plaintext: pt})
		if err != nil {
			t.Fatal(err)
		}
		if out.KeyID != "pkcs11:token=refused;object=twice;id=%07" {
			t.Errorf("KeyID = %q", out.KeyID)
		}
	})
	t.Run("ListKeys", func(t *testing.T) {
		// Every key, usable or not, duplicates included, sorted by URI; a key
		// pair once, with its public key's CKA_ENCRYPT.
		pair, err := b.CreateKey(ctx, &CreateKeyInput{Label: "pair", ID: []byte{9}, Spec: RSA2048})
		if err != nil {
			t.Fatal(err)
		}
		keys, err := b.ListKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range keys {
			usable := "usable"
			if err := k.Usable(); err != nil {
				usable = "unusable"
				kmstest.WantKind(t, err, backends.ErrInvalidKeyUsage, "Usable of "+k.URI)
			}
			got = append(got, fmt.Sprintf("%s %s %s enc=%t dec=%t", k.URI, k.Spec, usable, k.Encrypt, k.Decrypt))
			if k.Token != "refused" {
				t.Errorf("%s: token %q", k.URI, k.Token)
			}
		}
		want := []string{
			"pkcs11:token=refused;object=aes-128;id=%05 AES_128 unusable enc=true dec=true",
			"pkcs11:token=refused;object=extractable;id=%01 AES_256 unusable enc=true dec=true",
			"pkcs11:token=refused;object=no-decrypt;id=%03 AES_256 unusable enc=true dec=false",
			"pkcs11:token=refused;object=no-encrypt;id=%04 AES_256 unusable enc=false dec=true",
			"pkcs11:token=refused;object=not-sensitive;id=%02 AES_256 unusable enc=true dec=true",
			pair.URI + " RSA_2048 usable enc=true dec=true",
			"pkcs11:token=refused;object=twice;id=%06 AES_256 usable enc=true dec=true",
			"pkcs11:token=refused;object=twice;id=%07 AES_256 usable enc=true dec=true",
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("ListKeys:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})
	t.Run("DescribeShowsWhy", func(t *testing.T) {
		info, err := b.KeyInfo(ctx, "pkcs11:object=extractable")
		if err != nil {
			t.Fatal(err)
		}
		if !info.Extractable || !info.Sensitive || info.Spec != AES256 || !bytes.Equal(info.ID, []byte{1}) || info.Label != "extractable" {
			t.Errorf("KeyInfo: %+v", info)
		}
		md, err := b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: "pkcs11:id=%01"})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(md.Description, "extractable=true") || md.KeyID != "extractable" || md.Arn != info.URI {
			t.Errorf("DescribeKey: %+v", md)
		}
	})
}

func TestCreateKey(t *testing.T) {
	s := newSoftHSM(t, "create")
	b := s.open(t, s.options())
	ctx := context.Background()
	info, err := b.CreateKey(ctx, &CreateKeyInput{Label: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	if len(info.ID) != 16 || info.Extractable || !info.Sensitive || !info.Encrypt || !info.Decrypt || info.Spec != AES256 {
		t.Errorf("CreateKey: %+v", info)
	}
	if want := keyURI("create", "orders", info.ID); info.URI != want {
		t.Errorf("URI = %q, want %q", info.URI, want)
	}
	_, err = b.CreateKey(ctx, &CreateKeyInput{Label: "orders"})
	kmstest.WantKind(t, err, backends.ErrAlreadyExists, "CreateKey of a label the token has")
	_, err = b.CreateKey(ctx, &CreateKeyInput{Label: "other", ID: info.ID, Spec: RSA2048})
	kmstest.WantKind(t, err, backends.ErrAlreadyExists, "CreateKey of an id the token has")
	_, err = b.CreateKey(ctx, &CreateKeyInput{Label: ""})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "CreateKey without a label")
	_, err = b.CreateKey(ctx, &CreateKeyInput{Label: "x", Spec: "DES"})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "CreateKey of a DES key")

	// Racing creations of one label: exactly one key is made, while other calls
	// go on through a pool of one session.
	small := s.open(t, Options{Module: s.module, Token: s.label, PINFile: s.pinFile, MaxSessions: 1})
	var wg sync.WaitGroup
	errs := make([]error, 6)
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if i%2 == 0 {
				_, errs[i] = small.CreateKey(ctx, &CreateKeyInput{Label: "raced"})
				return
			}
			_, errs[i] = small.Encrypt(ctx, &backends.EncryptInput{KeyID: info.URI, Plaintext: []byte("x")})
		}(i)
	}
	wg.Wait()
	made := 0
	for i, err := range errs {
		switch {
		case i%2 == 1 && err != nil:
			t.Errorf("Encrypt beside CreateKey: %v", err)
		case i%2 == 0 && err == nil:
			made++
		case i%2 == 0:
			kmstest.WantKind(t, err, backends.ErrAlreadyExists, "CreateKey of a label another CreateKey made")
		}
	}
	if made != 1 {
		t.Errorf("%d racing CreateKey calls of one label succeeded, want 1", made)
	}

	// The key's value never leaves the token.
	sh := rawSession(t, b)
	hs, err := b.tok.findObjects(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, "orders")})
	if err != nil || len(hs) != 1 {
		t.Fatalf("find: %v %d", err, len(hs))
	}
	if _, err := b.tok.mod.ctx.GetAttributeValue(sh, hs[0], []*p11.Attribute{p11.NewAttribute(p11.CKA_VALUE, nil)}); err == nil {
		t.Errorf("the token revealed the value of a key CreateKey made")
	}
}

func TestSessionRecovery(t *testing.T) {
	s := newSoftHSM(t, "recovery")
	b := s.open(t, Options{Module: s.module, Token: s.label, PINFile: s.pinFile, MaxSessions: 2})
	ctx := context.Background()
	key := mustCreate(t, b, "k", nil, AES256)
	roundTrip := func(what string) {
		t.Helper()
		out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("data key")})
		if err != nil {
			t.Fatalf("%s: Encrypt: %v", what, err)
		}
		d, err := b.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: out.CiphertextBlob})
		if err != nil || string(d.Plaintext) != "data key" {
			t.Fatalf("%s: Decrypt: %v", what, err)
		}
	}
	roundTrip("before")

	// A session closed behind the backend's back (CKR_SESSION_HANDLE_INVALID):
	// the call runs again on a fresh one.
	sh := <-b.tok.idle
	if err := b.tok.mod.ctx.CloseSession(sh); err != nil {
		t.Fatal(err)
	}
	b.tok.idle <- sh
	roundTrip("after a session was closed")

	// Every session closed: the token logs out, and the backend logs in again.
	if err := b.tok.mod.ctx.CloseAllSessions(b.tok.slot); err != nil {
		t.Fatal(err)
	}
	roundTrip("after all sessions were closed (logged out)")

	// The key deleted behind the cache: NotFound, not a stale handle.
	sh = rawSession(t, b)
	hs, err := b.tok.findObjects(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_LABEL, "k")})
	if err != nil || len(hs) != 1 {
		t.Fatalf("find: %v %d", err, len(hs))
	}
	if err := b.tok.mod.ctx.DestroyObject(sh, hs[0]); err != nil {
		t.Fatal(err)
	}
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt under a key deleted after it was cached")
}

// TestConcurrentPool runs 16 goroutines encrypting and decrypting through a
// backends.Front for two seconds (under -race in CI), with a pool of 4 sessions.
func TestConcurrentPool(t *testing.T) {
	s := newSoftHSM(t, "pool")
	const sessions, workers = 4, 16
	b := s.open(t, Options{Module: s.module, Token: s.label, PINFile: s.pinFile, MaxSessions: sessions})
	ctx := context.Background()
	keys := []string{mustCreate(t, b, "a", nil, AES256), mustCreate(t, b, "b", nil, AES256)}
	f := backends.NewFront(nil)
	if err := b.Register(f); err != nil {
		t.Fatal(err)
	}
	d := 2 * time.Second
	if testing.Short() {
		d = 300 * time.Millisecond
	}
	stop := time.Now().Add(d)
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := make([]int, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			key := keys[w%2]
			ec := map[string]string{"worker": string(rune('a' + w))}
			for i := 0; time.Now().Before(stop); i++ {
				pt := []byte{byte(w), byte(i), byte(i >> 8), 7, 7, 7, 7, 7}
				out, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: pt, EncryptionContext: ec})
				if err != nil {
					t.Errorf("worker %d: Encrypt: %v", w, err)
					return
				}
				dec, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
				if err != nil {
					t.Errorf("worker %d: Decrypt: %v", w, err)
					return
				}
				if !bytes.Equal(dec.Plaintext, pt) {
					t.Errorf("worker %d: Decrypt gave another plaintext", w)
					return
				}
				mu.Lock()
				counts[w]++
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	for w, n := range counts {
		if n == 0 {
			t.Errorf("worker %d never finished a round trip", w)
		}
	}
	if n := len(b.tok.slots); n > sessions {
		t.Errorf("%d sessions open, want at most %d", n, sessions)
	}
	ti, err := b.tok.mod.ctx.GetTokenInfo(b.tok.slot)
	if err == nil && ti.SessionCount <= 1<<20 && ti.SessionCount > sessions {
		t.Errorf("the token counts %d sessions, want at most %d", ti.SessionCount, sessions)
	}

	// A call that finds every session busy waits, and gives up with its ctx.
	var held []p11.SessionHandle
	for i := 0; i < sessions; i++ {
		sh, err := b.tok.get(ctx, "test", "")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, sh)
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	_, err = b.Encrypt(short, &backends.EncryptInput{KeyID: keys[0], Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrDependencyTimeout, "Encrypt while every session is busy, with a deadline")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the error does not match context.DeadlineExceeded: %v", err)
	}
	// Through the Front, whose own check passes a live ctx on to the driver.
	short2, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	_, err = f.Encrypt(short2, &backends.EncryptInput{KeyID: keys[0], Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrDependencyTimeout, "Encrypt through the Front while every session is busy, with a deadline")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the error does not match context.DeadlineExceeded: %v", err)
	}
	for _, sh := range held {
		b.tok.put(sh)
	}
}

func TestClose(t *testing.T) {
	s := newSoftHSM(t, "close")
	b := s.open(t, s.options())
	key := mustCreate(t, b, "k", nil, AES256)
	b2 := s.open(t, s.options()) // a second Backend on the same library and token
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	_, err := b.Encrypt(context.Background(), &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrKeyUnavailable, "Encrypt after Close")
	// The library stays loaded for the other Backend.
	if _, err := b2.Encrypt(context.Background(), &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")}); err != nil {
		t.Errorf("Encrypt through a second Backend after the first closed: %v", err)
	}
}

func TestOpener(t *testing.T) {
	s := newSoftHSM(t, "opener")
	ctx := context.Background()
	t.Setenv(EnvModule, "")
	// Without a configured library, a URL cannot name one.
	none := &Opener{Options: Options{PINFile: s.pinFile}}
	_, err := none.OpenBackendURL(ctx, &url.URL{Scheme: Scheme, Opaque: "token=opener;object=k", RawQuery: "module-path=" + s.module})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "an opener with no configured library, for a URL with module-path")
	o := &Opener{Options: Options{Module: s.module, PINFile: s.pinFile}}
	t.Cleanup(func() { _ = o.Close() })
	mustURL := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	b1, err := o.OpenBackendURL(ctx, mustURL("pkcs11:token=opener;object=k?module-path="+s.module))
	if err != nil {
		t.Fatal(err)
	}
	key := mustCreate(t, b1.(*Backend), "k", nil, AES256)
	b2, err := o.OpenBackendURL(ctx, mustURL("pkcs11:token=opener;object=other?module-path="+s.module))
	if err != nil {
		t.Fatal(err)
	}
	if b1 != b2 {
		t.Errorf("two URLs of one token opened two backends")
	}
	if _, err := b2.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("x")}); err != nil {
		t.Errorf("Encrypt through the opened backend: %v", err)
	}
	_, err = o.OpenBackendURL(ctx, mustURL("pkcs11:token=opener;object=k?module-path="+s.module+"&pin-value=secret-pin-987"))
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "a URL with pin-value")
	if err != nil && strings.Contains(err.Error(), "secret-pin-987") {
		t.Errorf("the error carries the PIN: %v", err)
	}
	_, err = o.OpenBackendURL(ctx, mustURL("pkcs11:token=opener;object=k?module-path=/tmp/evil.so"))
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "a URL naming another library than the configured one")
	if err != nil && !strings.Contains(err.Error(), "configured") {
		t.Errorf("the error does not say why: %v", err)
	}
	_, err = b2.Encrypt(ctx, &backends.EncryptInput{KeyID: "pkcs11:object=k?pin-value=secret-pin-987", Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt under a key reference with pin-value")
	if err != nil && strings.Contains(err.Error(), "secret-pin-987") {
		t.Errorf("the error carries the PIN: %v", err)
	}
}

// TestFrontOpener opens the backend through the Front from key URLs: the one
// that names the library encrypts, and the canonical URI in the output (which
// names no library) decrypts through the opener's default library.
func TestFrontOpener(t *testing.T) {
	s := newSoftHSM(t, "front")
	ctx := context.Background()
	o := &Opener{Options: Options{Module: s.module, PINFile: s.pinFile}}
	t.Cleanup(func() { _ = o.Close() })
	f := backends.NewFront(nil)
	if err := f.RegisterOpener(Scheme, o); err != nil {
		t.Fatal(err)
	}
	b, err := o.OpenBackendURL(ctx, &url.URL{Scheme: Scheme, Opaque: "token=front;object=k"})
	if err != nil {
		t.Fatal(err)
	}
	key := mustCreate(t, b.(*Backend), "k", []byte{9}, AES256)
	ec := map[string]string{"via": "front"}
	out, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "pkcs11:token=front;object=k?module-path=" + s.module, Plaintext: []byte("data key"), EncryptionContext: ec})
	if err != nil {
		t.Fatalf("Front.Encrypt by a URL with module-path: %v", err)
	}
	if out.KeyID != key {
		t.Errorf("Front.Encrypt: KeyID = %q, want the canonical %q", out.KeyID, key)
	}
	// A blob names its key: the Front finds it among the backends it opened.
	named, err := f.CiphertextKeyID(out.CiphertextBlob)
	if err != nil || named != key {
		t.Errorf("Front.CiphertextKeyID = %q, %v; want %q", named, err, key)
	}
	for _, keyID := range []string{out.KeyID, "pkcs11:object=k"} {
		d, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: keyID, CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
		if err != nil {
			t.Fatalf("Front.Decrypt with KeyID %q: %v", keyID, err)
		}
		if string(d.Plaintext) != "data key" || d.KeyID != key {
			t.Errorf("Front.Decrypt with KeyID %q: wrong plaintext or KeyID %q", keyID, d.KeyID)
		}
	}
	md, err := f.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: "pkcs11:token=front;id=%09"})
	if err != nil || md.Arn != key {
		t.Errorf("Front.DescribeKey: %v, %+v", err, md)
	}
	g, err := f.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: key, NumberOfBytes: 24})
	if err != nil || len(g.Plaintext) != 24 {
		t.Fatalf("Front.GenerateDataKey: %v", err)
	}
	clear(g.Plaintext)
	for sel, x := range o.opened {
		if x != b {
			t.Errorf("the opener keeps another backend for the selection %q of the same token", sel)
		}
	}
}
