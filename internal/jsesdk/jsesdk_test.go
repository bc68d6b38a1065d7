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
	dec, err := jsesdk.Decrypt(ctx, dir, jsesdk.Options{}, []jsesdk.DecryptCase{{ID: "ok", Keyrings: kr, Ciphertext: enc[0].Ciphertext}})
	if err != nil {
		t.Fatal(err)
	}
	if dec[0].Error != "" || string(dec[0].Plaintext) != "hello, world" || dec[0].SuiteID != 0x0478 || dec[0].EncryptionContext["ü"] != "ñ" {
		t.Fatalf("decrypt: %+v", dec[0])
	}
}
