package jsesdk_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/keyport/keyport/internal/jsesdk"
	"github.com/keyport/keyport/internal/testenv"
)

func TestRoundTripInNode(t *testing.T) {
	dir := testenv.Require(t, jsesdk.EnvDir, "the JS ESDK")
	ctx := context.Background()
	kr := []jsesdk.Keyring{{Type: "raw-aes", Namespace: "ns", Name: "k", Key: bytes.Repeat([]byte{7}, 32)}}
	ec := map[string]string{"a": "lower", "B": "upper", "ü": "ñ"}
	enc, err := jsesdk.Encrypt(ctx, dir, jsesdk.Options{}, []jsesdk.EncryptCase{
		{ID: "ok", Keyrings: kr, SuiteID: 0x0478, FrameLength: 7, EncryptionContext: ec, Plaintext: []byte("hello, world")},
		{ID: "bad", Keyrings: []jsesdk.Keyring{{Type: "nope"}}, Plaintext: []byte("x")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if enc[0].Error != "" || len(enc[0].Ciphertext) == 0 {
		t.Fatalf("encrypt: %q", enc[0].Error)
	}
	if enc[1].Error == "" {
		t.Fatal("an unknown keyring type was accepted")
	}
	dec, err := jsesdk.Decrypt(ctx, dir, jsesdk.Options{}, []jsesdk.DecryptCase{
		{ID: "ok", Keyrings: kr, Ciphertext: enc[0].Ciphertext},
		{ID: "ok-with-context", Keyrings: kr, Ciphertext: enc[0].Ciphertext, EncryptionContext: map[string]string{"B": "upper", "ü": "ñ"}},
		{ID: "wrong-value", Keyrings: kr, Ciphertext: enc[0].Ciphertext, EncryptionContext: map[string]string{"B": "lower"}},
		{ID: "missing-key", Keyrings: kr, Ciphertext: enc[0].Ciphertext, EncryptionContext: map[string]string{"b": "upper"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if dec[0].Error != "" || string(dec[0].Plaintext) != "hello, world" || dec[0].SuiteID != 0x0478 || dec[0].EncryptionContext["ü"] != "ñ" {
		t.Fatalf("decrypt: %+v", dec[0])
	}
	if dec[1].Error != "" || string(dec[1].Plaintext) != "hello, world" {
		t.Fatalf("decrypt with a matching context: %+v", dec[1])
	}
	for _, r := range dec[2:] {
		if r.Error == "" || len(r.Plaintext) != 0 {
			t.Errorf("%s: decrypted despite a context the message does not have: %+v", r.ID, r)
		}
	}
}
