package rekey_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"testing"

	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/envelope/rekey"
	"github.com/keyport/keyport/internal/jsesdk"
	"github.com/keyport/keyport/internal/testenv"
)

// TestMessageOpensInJSESDK re-encrypts messages written by the JS ESDK
// and by keyport to a new key and a new encryption context, and checks that the
// JS ESDK opens the result with the new key (and sees the new context), and no
// longer with the old key.
func TestMessageOpensInJSESDK(t *testing.T) {
	dir := testenv.Require(t, jsesdk.EnvDir, "the JS ESDK")
	ctx := context.Background()

	oldKey := bytes.Repeat([]byte{0x11}, 32)
	newKey := make([]byte, 32)
	rand.Read(newKey)
	oldKR, _ := keyring.NewRawAES("reencrypt-interop", "old", oldKey)
	newKR, _ := keyring.NewRawAES("reencrypt-interop", "new", newKey)
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	rsaKR, _ := keyring.NewRawRSA("reencrypt-interop", "rsa", nil, rk, keyring.OAEPSHA256)
	p8, _ := x509.MarshalPKCS8PrivateKey(rk)
	spki, _ := x509.MarshalPKIXPublicKey(&rk.PublicKey)
	jsOld := jsesdk.Keyring{Type: "raw-aes", Namespace: "reencrypt-interop", Name: "old", Key: oldKey}
	jsNew := jsesdk.Keyring{Type: "raw-aes", Namespace: "reencrypt-interop", Name: "new", Key: newKey}
	jsRSA := jsesdk.Keyring{Type: "raw-rsa", Namespace: "reencrypt-interop", Name: "rsa", Padding: "oaep-sha256",
		PrivateKeyPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})),
		PublicKeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: spki}))}
	newBoth, _ := keyring.NewMulti(nil, newKR, rsaKR)

	oldEC := map[string]string{"tenant": "old", "Zone": "ä"}
	newEC := map[string]string{"tenant": "new", "B": "upper", "a": "lower", "ключ": "🔑"}

	type msgCase struct {
		name   string
		suite  envelope.SuiteID
		frame  int
		pt     []byte
		byJS   bool
		header bool // header-only form
	}
	var cases []msgCase
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		for _, frame := range []int{1, 512, 4096} {
			for _, byJS := range []bool{true, false} {
				for _, header := range []bool{false, true} {
					if header && s == envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384 {
						continue
					}
					pt := make([]byte, 3*frame+7)
					rand.Read(pt)
					cases = append(cases, msgCase{fmt.Sprintf("%04x/frame%d/js%v/header%v", uint16(s), frame, byJS, header), s, frame, pt, byJS, header})
				}
			}
		}
	}
	// The source messages: some written by JS, some by keyport.
	var enc []jsesdk.EncryptCase
	for i, c := range cases {
		if c.byJS {
			enc = append(enc, jsesdk.EncryptCase{ID: fmt.Sprint(i), Keyrings: []jsesdk.Keyring{jsOld}, SuiteID: uint16(c.suite), FrameLength: c.frame, EncryptionContext: oldEC, Plaintext: c.pt})
		}
	}
	jsMsgs, err := jsesdk.Encrypt(ctx, dir, jsesdk.Options{}, enc)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string][]byte{}
	for _, r := range jsMsgs {
		if r.Error != "" {
			t.Fatalf("JS encrypt %s: %s", r.ID, r.Error)
		}
		byID[r.ID] = r.Ciphertext
	}
	var dec []jsesdk.DecryptCase
	for i, c := range cases {
		msg := byID[fmt.Sprint(i)]
		if !c.byJS {
			msg, err = envelope.Encrypt(ctx, c.pt, envelope.EncryptOptions{Keyring: oldKR, Suite: c.suite, FrameLength: c.frame, EncryptionContext: oldEC})
			if err != nil {
				t.Fatal(err)
			}
		}
		opts := rekey.Options{Method: rekey.Rewrap, Source: oldKR, SourceEncryptionContext: oldEC, Destination: newBoth, DestinationEncryptionContext: newEC}
		var nm []byte
		if c.header {
			res, err := rekey.Header(ctx, bytes.NewReader(msg), opts)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			nm = append(bytes.Clone(res.Header), msg[res.BodyOffset:]...)
		} else {
			var out bytes.Buffer
			if _, err := rekey.Message(ctx, bytes.NewReader(msg), &out, opts); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			nm = out.Bytes()
		}
		dec = append(dec,
			jsesdk.DecryptCase{ID: c.name + "/new", Keyrings: []jsesdk.Keyring{jsNew}, Ciphertext: nm},
			jsesdk.DecryptCase{ID: c.name + "/rsa", Keyrings: []jsesdk.Keyring{jsRSA}, Ciphertext: nm},
			jsesdk.DecryptCase{ID: c.name + "/old", Keyrings: []jsesdk.Keyring{jsOld}, Ciphertext: nm})
	}
	res, err := jsesdk.Decrypt(ctx, dir, jsesdk.Options{}, dec)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		for j, r := range res[3*i : 3*i+3] {
			if j == 2 {
				if r.Error == "" {
					t.Errorf("%s: the JS ESDK opened the re-encrypted message with the old key", r.ID)
				}
				continue
			}
			if r.Error != "" {
				t.Errorf("%s: JS decrypt: %s", r.ID, r.Error)
				continue
			}
			if !bytes.Equal(r.Plaintext, c.pt) {
				t.Errorf("%s: JS decrypted other bytes", r.ID)
			}
			for k, v := range newEC {
				if r.EncryptionContext[k] != v {
					t.Errorf("%s: JS sees %q=%q, want %q", r.ID, k, r.EncryptionContext[k], v)
				}
			}
			if _, ok := r.EncryptionContext["Zone"]; ok {
				t.Errorf("%s: the old context survived", r.ID)
			}
		}
	}
}
