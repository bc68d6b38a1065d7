package kmsapi_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/jsesdk"
	"github.com/keyport/keyport/internal/testenv"
)

// TestJSESDK: the AWS Encryption SDK for JavaScript, its KMS keyring's
// @aws-sdk/client-kms pointed at the server, encrypts and decrypts through it
// (GenerateDataKey, Encrypt and Decrypt signed by the JS SDK's SigV4 signer), and
// a message it writes opens with keyport's aws-kms keyring against the same
// server, and the other way round.
func TestJSESDK(t *testing.T) {
	dir := testenv.Require(t, jsesdk.EnvDir, "the JS AWS Encryption SDK harness")
	ts := newTestServer(t)
	ctx := context.Background()
	admin := ts.client(akidA, east)
	var keys []string
	for range 2 {
		k, err := admin.CreateKey(ctx, &kms.CreateKeyInput{})
		mustOK(t, err)
		keys = append(keys, aws.ToString(k.KeyMetadata.Arn))
	}
	js := func(ids ...string) jsesdk.Keyring {
		return jsesdk.Keyring{Type: "aws-kms", Endpoint: ts.URL, Region: east, AccessKeyID: akidA, SecretAccessKey: secretFor + akidA,
			GeneratorKeyID: ids[0], KeyIDs: ids[1:]}
	}
	ec := map[string]string{"tenant": "acme", "purpose": "serve interop"}
	pt := bytes.Repeat([]byte("keyport serve speaks KMS to the JS ESDK. "), 200)

	// JS -> JS and JS -> keyport.
	enc, err := jsesdk.Encrypt(ctx, dir, jsesdk.Options{}, []jsesdk.EncryptCase{
		{ID: "one-key", Keyrings: []jsesdk.Keyring{js(keys[0])}, EncryptionContext: ec, Plaintext: pt},
		{ID: "two-keys", Keyrings: []jsesdk.Keyring{js(keys[0], keys[1])}, SuiteID: 0x0478, FrameLength: 512, EncryptionContext: ec, Plaintext: pt},
	})
	mustOK(t, err)
	var back []jsesdk.DecryptCase
	for _, r := range enc {
		if r.Error != "" {
			t.Fatalf("%s: the JS ESDK could not encrypt through the server: %s", r.ID, r.Error)
		}
		back = append(back, jsesdk.DecryptCase{ID: r.ID, Keyrings: []jsesdk.Keyring{js(keys[len(back)])}, Ciphertext: r.Ciphertext, EncryptionContext: ec})
	}
	res, err := jsesdk.Decrypt(ctx, dir, jsesdk.Options{}, back)
	mustOK(t, err)
	for _, r := range res {
		if r.Error != "" || !bytes.Equal(r.Plaintext, pt) {
			t.Errorf("%s: the JS ESDK did not decrypt its own message through the server: %s", r.ID, r.Error)
		}
	}
	if log := ts.log.String(); !strings.Contains(log, `"op":"GenerateDataKey"`) || !strings.Contains(log, `"op":"Decrypt"`) {
		t.Error("the access log shows no GenerateDataKey or Decrypt: the JS ESDK did not go through the server")
	}
	b, err := awskms.NewFromConfig(ts.config(akidA, east), awskms.WithEndpoint(ts.URL), awskms.WithAccount(accountA))
	mustOK(t, err)
	kr, err := keyring.NewBackend(b, keys[0], nil)
	mustOK(t, err)
	for _, r := range enc {
		got, hdr, err := envelope.Decrypt(ctx, r.Ciphertext, envelope.DecryptOptions{Keyring: kr, EncryptionContext: ec})
		if err != nil {
			t.Errorf("%s: keyport's aws-kms keyring refused the JS ESDK's message: %v", r.ID, err)
			continue
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("%s: keyport read another plaintext", r.ID)
		}
		if e := hdr.Header.EncryptedDataKeys[0]; e.ProviderID != "aws-kms" || string(e.ProviderInfo) != keys[0] {
			t.Errorf("%s: the JS ESDK's first EDK is %q / %q, want aws-kms / %s", r.ID, e.ProviderID, e.ProviderInfo, keys[0])
		}
	}

	// keyport -> JS, and a keyring over the other key must not open it.
	msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: kr, EncryptionContext: ec, FrameLength: 1024})
	mustOK(t, err)
	res, err = jsesdk.Decrypt(ctx, dir, jsesdk.Options{}, []jsesdk.DecryptCase{
		{ID: "keyport", Keyrings: []jsesdk.Keyring{js(keys[0])}, Ciphertext: msg, EncryptionContext: ec},
		{ID: "wrong-key", Keyrings: []jsesdk.Keyring{js(keys[1])}, Ciphertext: msg, EncryptionContext: ec},
	})
	mustOK(t, err)
	if res[0].Error != "" || !bytes.Equal(res[0].Plaintext, pt) {
		t.Errorf("the JS ESDK did not open keyport's message through the server: %s", res[0].Error)
	}
	if res[1].Error == "" {
		t.Error("the JS ESDK opened keyport's message with a keyring over another key")
	}
}
