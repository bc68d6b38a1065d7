package rewrap_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/envelope/rewrap"
)

func rawAES(t testing.TB, name string) *keyring.RawAES {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	k, err := keyring.NewRawAES("rewrap-test", name, key)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rwEncrypt(t testing.TB, pt []byte, o envelope.EncryptOptions) []byte {
	t.Helper()
	msg, err := envelope.Encrypt(context.Background(), pt, o)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// footerLen returns the length of a signed message's footer.
func footerLen(msg []byte) int {
	// The footer is a 2-byte length and a DER signature of 102 to 104 bytes; find
	// the split whose length field fits.
	for n := 110; n >= 2; n-- {
		if len(msg) >= n && int(msg[len(msg)-n])<<8|int(msg[len(msg)-n+1]) == n-2 {
			return n
		}
	}
	return -1
}

func TestReplacesKeyAndContext(t *testing.T) {
	ctx := context.Background()
	oldK, newK := rawAES(t, "old"), rawAES(t, "new")
	oldEC := map[string]string{"tenant": "a", "Mixed": "ÄÖÜ"}
	newEC := map[string]string{"tenant": "b", "ключ": "значение"}
	pt := make([]byte, 10000)
	rand.Read(pt)
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		for _, frame := range []int{1, 100, 4096, 20000} {
			name := fmt.Sprintf("%04x/frame%d", uint16(s), frame)
			msg := rwEncrypt(t, pt, envelope.EncryptOptions{Keyring: oldK, EncryptionContext: oldEC, Suite: s, FrameLength: frame})
			var out bytes.Buffer
			res, err := rewrap.Message(ctx, bytes.NewReader(msg), &out, rewrap.Options{
				Source: oldK, SourceEncryptionContext: oldEC, Destination: newK, EncryptionContext: newEC,
			})
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			nm := out.Bytes()
			if res.Written != int64(len(nm)) || !bytes.Equal(nm[:len(res.Header)], res.Header) {
				t.Fatalf("%s: written %d of %d, header mismatch", name, res.Written, len(nm))
			}
			got, dres, err := envelope.Decrypt(ctx, nm, envelope.DecryptOptions{Keyring: newK, EncryptionContext: newEC})
			if err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s: new key: %v", name, err)
			}
			if dres.EncryptionContext["tenant"] != "b" || dres.EncryptionContext["ключ"] != "значение" {
				t.Fatalf("%s: context %v", name, dres.EncryptionContext)
			}
			if _, ok := dres.EncryptionContext["Mixed"]; ok {
				t.Fatalf("%s: old context pair survived", name)
			}
			if _, _, err := envelope.Decrypt(ctx, nm, envelope.DecryptOptions{Keyring: oldK}); err == nil {
				t.Fatalf("%s: the old key still opens the re-encrypted message", name)
			}
			// The body is copied byte for byte.
			oldBody, newBody := msg[res.BodyOffset:], nm[len(res.Header):]
			if s == envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384 {
				oldBody, newBody = oldBody[:len(oldBody)-footerLen(msg)], newBody[:len(newBody)-footerLen(nm)]
			}
			if !bytes.Equal(oldBody, newBody) {
				t.Fatalf("%s: body bytes differ", name)
			}
			// The header-only form gives the same splice for unsigned suites.
			hres, err := rewrap.Header(ctx, bytes.NewReader(msg), rewrap.Options{
				Source: oldK, SourceEncryptionContext: oldEC, Destination: newK, EncryptionContext: newEC,
			})
			if s == envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384 {
				if !errors.Is(err, backends.ErrUnsupported) {
					t.Fatalf("%s: header-only rewrap of a signed suite: %v", name, err)
				}
				continue
			}
			if err != nil || hres.BodyOffset != res.BodyOffset {
				t.Fatalf("%s: header-only: %v", name, err)
			}
			spliced := append(append([]byte(nil), hres.Header...), msg[hres.BodyOffset:]...)
			if got, _, err := envelope.Decrypt(ctx, spliced, envelope.DecryptOptions{Keyring: newK, EncryptionContext: newEC}); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("%s: spliced: %v", name, err)
			}
		}
	}
}

func TestAddAndRemoveKeys(t *testing.T) {
	ctx := context.Background()
	a, b, c := rawAES(t, "a"), rawAES(t, "b"), rawAES(t, "c")
	ab, _ := keyring.NewMulti(a, b)
	ec := map[string]string{"k": "v"}
	pt := []byte("add and remove encrypted data keys")
	msg := rwEncrypt(t, pt, envelope.EncryptOptions{Keyring: ab, EncryptionContext: ec, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey})
	opens := func(m []byte, k envelope.Keyring) bool {
		got, _, err := envelope.Decrypt(ctx, m, envelope.DecryptOptions{Keyring: k, EncryptionContext: ec})
		return err == nil && bytes.Equal(got, pt)
	}
	// Add c, keeping a and b.
	var out bytes.Buffer
	res, err := rewrap.Message(ctx, bytes.NewReader(msg), &out, rewrap.Options{
		Source: b, Destination: c, Keep: func(envelope.EncryptedDataKey) bool { return true },
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.EncryptedDataKeys) != 3 || !opens(out.Bytes(), a) || !opens(out.Bytes(), b) || !opens(out.Bytes(), c) {
		t.Fatalf("add: %d EDKs", len(res.EncryptedDataKeys))
	}
	// Remove a: keep only b's EDK, no destination.
	keepB := func(e envelope.EncryptedDataKey) bool { return bytes.HasPrefix(e.ProviderInfo, []byte("b")) }
	out.Reset()
	if _, err := rewrap.Message(ctx, bytes.NewReader(msg), &out, rewrap.Options{Source: a, Keep: keepB}); err != nil {
		t.Fatal(err)
	}
	if opens(out.Bytes(), a) || !opens(out.Bytes(), b) {
		t.Fatal("remove: a still opens or b does not")
	}
	// Keeping keys while the context changes is refused (they bind the old one).
	_, err = rewrap.Header(ctx, bytes.NewReader(msg), rewrap.Options{Source: a, Keep: keepB, Destination: c, EncryptionContext: map[string]string{"k": "w"}})
	if !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("keep with a new context: %v", err)
	}
	// Keeping nothing and adding nothing is refused.
	_, err = rewrap.Header(ctx, bytes.NewReader(msg), rewrap.Options{Source: a, Keep: func(envelope.EncryptedDataKey) bool { return false }})
	if !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("no EDK left: %v", err)
	}
	// The EDK limit applies to the new header.
	_, err = rewrap.Header(ctx, bytes.NewReader(msg), rewrap.Options{Source: a, Destination: c, Keep: func(envelope.EncryptedDataKey) bool { return true }, MaxEncryptedDataKeys: 2})
	if !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("too many EDKs: %v", err)
	}
}

func TestRequiredContext(t *testing.T) {
	ctx := context.Background()
	a, b := rawAES(t, "a"), rawAES(t, "b")
	ec := map[string]string{"stored": "1", "secret": "2"}
	pt := []byte("required encryption context")
	msg := rwEncrypt(t, pt, envelope.EncryptOptions{Keyring: a, EncryptionContext: ec, RequiredEncryptionContextKeys: []string{"secret"}, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey})
	// Without the required pair the old header does not authenticate.
	if _, err := rewrap.Header(ctx, bytes.NewReader(msg), rewrap.Options{Source: a, Destination: b}); err == nil {
		t.Fatal("rewrapped without the required context")
	}
	// Keeping the context keeps the pair required.
	res, err := rewrap.Header(ctx, bytes.NewReader(msg), rewrap.Options{Source: a, SourceEncryptionContext: map[string]string{"secret": "2"}, Destination: b})
	if err != nil {
		t.Fatal(err)
	}
	nm := append(res.Header, msg[res.BodyOffset:]...)
	if _, _, err := envelope.Decrypt(ctx, nm, envelope.DecryptOptions{Keyring: b}); err == nil {
		t.Fatal("decrypted without the required pair")
	}
	if got, _, err := envelope.Decrypt(ctx, nm, envelope.DecryptOptions{Keyring: b, EncryptionContext: map[string]string{"secret": "2"}}); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("with the required pair: %v", err)
	}
	if strings.Contains(string(res.Header), "secret") {
		t.Fatal("a required pair is stored in the new header")
	}
	// A new context with a new required key.
	res, err = rewrap.Header(ctx, bytes.NewReader(msg), rewrap.Options{
		Source: a, SourceEncryptionContext: ec, Destination: b,
		EncryptionContext: map[string]string{"x": "1", "y": "2"}, RequiredEncryptionContextKeys: []string{"y"},
	})
	if err != nil {
		t.Fatal(err)
	}
	nm = append(res.Header, msg[res.BodyOffset:]...)
	if got, _, err := envelope.Decrypt(ctx, nm, envelope.DecryptOptions{Keyring: b, EncryptionContext: map[string]string{"y": "2"}}); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("new required pair: %v", err)
	}
	for _, bad := range []rewrap.Options{
		{Source: a, SourceEncryptionContext: ec, Destination: b, EncryptionContext: map[string]string{"aws-crypto-x": "1"}},
		{Source: a, SourceEncryptionContext: ec, Destination: b, EncryptionContext: map[string]string{"x": "1"}, RequiredEncryptionContextKeys: []string{"z"}},
		{Source: a, SourceEncryptionContext: ec},
		{Destination: b},
		{Source: a, SourceEncryptionContext: ec, Destination: b, RequiredEncryptionContextKeys: []string{"stored"}},
	} {
		if _, err := rewrap.Header(ctx, bytes.NewReader(msg), bad); !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("bad options %+v: %v", bad, err)
		}
	}
}

func TestRefusesWhatDecryptRefuses(t *testing.T) {
	ctx := context.Background()
	a, b := rawAES(t, "a"), rawAES(t, "b")
	pt := make([]byte, 3000)
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		msg := rwEncrypt(t, pt, envelope.EncryptOptions{Keyring: a, Suite: s, FrameLength: 512, EncryptionContext: map[string]string{"c": "d"}})
		try := func(m []byte, o rewrap.Options) (int, error) {
			var out bytes.Buffer
			_, err := rewrap.Message(ctx, bytes.NewReader(m), &out, o)
			return out.Len(), err
		}
		ok := rewrap.Options{Source: a, Destination: b}
		// Wrong source key: nothing is written.
		if n, err := try(msg, rewrap.Options{Source: b, Destination: a}); err == nil || n != 0 {
			t.Fatalf("%04x: wrong key: %v, %d bytes written", uint16(s), err, n)
		}
		// Wrong reproduced context.
		if _, err := try(msg, rewrap.Options{Source: a, Destination: b, SourceEncryptionContext: map[string]string{"c": "x"}}); !errors.Is(err, backends.ErrInvalidCiphertext) {
			t.Fatalf("%04x: wrong context: %v", uint16(s), err)
		}
		// A wrong data key fails the key commitment.
		if _, err := try(msg, rewrap.Options{DataKey: make([]byte, 32), Destination: b}); !errors.Is(err, backends.ErrInvalidCiphertext) {
			t.Fatalf("%04x: wrong data key: %v", uint16(s), err)
		}
		// A flipped bit in the context value: the raw AES key (whose AAD is the
		// context) no longer unwraps, and nothing is written.
		i := bytes.Index(msg, []byte("\x00\x01c\x00\x01d"))
		bad := bytes.Clone(msg)
		bad[i+5] ^= 1
		if n, err := try(bad, ok); backends.KindOf(err) == nil || n != 0 {
			t.Fatalf("%04x: tampered context: %v, %d bytes written", uint16(s), err, n)
		}
		// A flipped bit in the frame length, which neither the keyring nor the key
		// commitment covers: the old header tag does not verify.
		_, dres, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: a})
		if err != nil {
			t.Fatal(err)
		}
		bad = bytes.Clone(msg)
		bad[dres.Header.Size-16-32-1] ^= 1
		if n, err := try(bad, ok); !errors.Is(err, backends.ErrInvalidCiphertext) || n != 0 {
			t.Fatalf("%04x: tampered frame length: %v, %d bytes written", uint16(s), err, n)
		}
		// Truncated header.
		if _, err := try(msg[:40], ok); !errors.Is(err, backends.ErrInvalidCiphertext) {
			t.Fatalf("%04x: truncated header: %v", uint16(s), err)
		}
		if s != envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384 {
			continue
		}
		// Signed suites: the old signature must verify over the whole message.
		bad = bytes.Clone(msg)
		bad[len(bad)-200] ^= 1 // in the body
		if _, err := try(bad, ok); !errors.Is(err, backends.ErrInvalidCiphertext) {
			t.Fatalf("tampered body of a signed message: %v", err)
		}
		for _, cut := range []int{1, 50, footerLen(msg), footerLen(msg) + 1, 600} {
			if _, err := try(msg[:len(msg)-cut], ok); !errors.Is(err, backends.ErrInvalidCiphertext) {
				t.Fatalf("signed message cut by %d: %v", cut, err)
			}
		}
		if _, err := try(append(bytes.Clone(msg), 0), ok); !errors.Is(err, backends.ErrInvalidCiphertext) {
			t.Fatalf("trailing byte: %v", err)
		}
	}
}

func TestCommitmentPolicyAndV1(t *testing.T) {
	ctx := context.Background()
	a, b := rawAES(t, "a"), rawAES(t, "b")
	pt := []byte("a v1 message")
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMIV12Tag16HKDFSHA256, envelope.SuiteAES256GCMIV12Tag16HKDFSHA384ECDSAP384, envelope.SuiteAES128GCMIV12Tag16NoKDF} {
		msg := rwEncrypt(t, pt, envelope.EncryptOptions{Keyring: a, Suite: s, CommitmentPolicy: envelope.ForbidEncryptAllowDecrypt})
		var out bytes.Buffer
		if _, err := rewrap.Message(ctx, bytes.NewReader(msg), &out, rewrap.Options{Source: a, Destination: b}); !errors.Is(err, backends.ErrUnsupported) {
			t.Fatalf("%04x under the default policy: %v", uint16(s), err)
		}
		out.Reset()
		if _, err := rewrap.Message(ctx, bytes.NewReader(msg), &out, rewrap.Options{Source: a, Destination: b, CommitmentPolicy: envelope.RequireEncryptAllowDecrypt}); err != nil {
			t.Fatalf("%04x: %v", uint16(s), err)
		}
		got, _, err := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: b, CommitmentPolicy: envelope.RequireEncryptAllowDecrypt})
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%04x: %v", uint16(s), err)
		}
	}
}

// errWriter fails after n bytes.
type errWriter struct{ n int }

func (w *errWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, io.ErrShortWrite
	}
	w.n -= len(p)
	return len(p), nil
}

func TestWriterErrors(t *testing.T) {
	ctx := context.Background()
	a, b := rawAES(t, "a"), rawAES(t, "b")
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		msg := rwEncrypt(t, make([]byte, 5000), envelope.EncryptOptions{Keyring: a, Suite: s, FrameLength: 100})
		for _, n := range []int{0, 10, 1000} {
			if _, err := rewrap.Message(ctx, bytes.NewReader(msg), &errWriter{n}, rewrap.Options{Source: a, Destination: b}); !errors.Is(err, io.ErrShortWrite) {
				t.Fatalf("%04x, writer fails after %d: %v", uint16(s), n, err)
			}
		}
	}
}

// FuzzMessage feeds arbitrary messages to Message: no panic, and nothing but a
// complete message is ever accepted.
func FuzzMessage(f *testing.F) {
	k, err := keyring.NewRawAES("fuzz", "k", bytes.Repeat([]byte{1}, 32))
	if err != nil {
		f.Fatal(err)
	}
	dst, _ := keyring.NewRawAES("fuzz", "d", bytes.Repeat([]byte{2}, 32))
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		for _, n := range []int{0, 1, 33} {
			msg, err := envelope.Encrypt(context.Background(), make([]byte, n), envelope.EncryptOptions{Keyring: k, Suite: s, FrameLength: 16})
			if err != nil {
				f.Fatal(err)
			}
			f.Add(msg)
		}
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		ctx := context.Background()
		var out bytes.Buffer
		_, err := rewrap.Message(ctx, bytes.NewReader(msg), &out, rewrap.Options{Source: k, Destination: dst})
		if err != nil {
			if backends.KindOf(err) == nil {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		// Accepted: the result must decrypt under the destination key exactly
		// when the original decrypts under the source key.
		want, _, derr := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: k})
		got, _, nerr := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: dst})
		if (derr == nil) != (nerr == nil) || !bytes.Equal(want, got) {
			t.Fatalf("original: %v, rewrapped: %v", derr, nerr)
		}
	})
}

// ExampleHeader moves a message from one wrapping key to another and to a
// new encryption context, without reading or rewriting its body.
func ExampleHeader() {
	ctx := context.Background()
	oldKey, _ := keyring.NewRawAES("example", "2025", bytes.Repeat([]byte{1}, 32))
	newKey, _ := keyring.NewRawAES("example", "2026", bytes.Repeat([]byte{2}, 32))
	msg, _ := envelope.Encrypt(ctx, []byte("hello"), envelope.EncryptOptions{
		Keyring: oldKey, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey,
		EncryptionContext: map[string]string{"year": "2025"},
	})

	res, err := rewrap.Header(ctx, bytes.NewReader(msg), rewrap.Options{
		Source: oldKey, Destination: newKey,
		EncryptionContext: map[string]string{"year": "2026"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// Storage that can splice writes res.Header and then the old body.
	moved := append(res.Header, msg[res.BodyOffset:]...)

	pt, r, err := envelope.Decrypt(ctx, moved, envelope.DecryptOptions{Keyring: newKey})
	fmt.Println(string(pt), r.EncryptionContext["year"], err)
	_, _, err = envelope.Decrypt(ctx, moved, envelope.DecryptOptions{Keyring: oldKey})
	fmt.Println(err != nil)
	// Output:
	// hello 2026 <nil>
	// true
}

// ExampleMessage moves a signed message to a new wrapping key: the body is copied
// byte for byte, and the message gets a new signing key and signature.
func ExampleMessage() {
	ctx := context.Background()
	oldKey, _ := keyring.NewRawAES("example", "2025", bytes.Repeat([]byte{1}, 32))
	newKey, _ := keyring.NewRawAES("example", "2026", bytes.Repeat([]byte{2}, 32))
	msg, _ := envelope.Encrypt(ctx, []byte("hello"), envelope.EncryptOptions{Keyring: oldKey})

	var out bytes.Buffer
	res, err := rewrap.Message(ctx, bytes.NewReader(msg), &out, rewrap.Options{Source: oldKey, Destination: newKey})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("suite %04X, %d encrypted data key, written %v\n", uint16(res.Suite), len(res.EncryptedDataKeys), res.Written == int64(out.Len()))

	pt, _, err := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: newKey})
	fmt.Println(string(pt), err)
	_, _, err = envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: oldKey})
	fmt.Println(err != nil)
	// Output:
	// suite 0578, 1 encrypted data key, written true
	// hello <nil>
	// true
}
