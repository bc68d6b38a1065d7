package awskms_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/jsesdk"
	"github.com/keyport/keyport/internal/testenv"
)

// jsKMS describes the JS ESDK's KMS keyring against the local-kms process of
// account A (us-east-1), with the given key ARNs (the first is the generator) or,
// with none, in discovery mode limited to account A.
func jsKMS(endpoint string, keys ...string) jsesdk.Keyring {
	k := jsesdk.Keyring{Type: "aws-kms", Endpoint: endpoint, Region: east,
		AccessKeyID: "AKIDLOCALKMS", SecretAccessKey: "local-kms-does-not-check"}
	if len(keys) == 0 {
		k.Discovery = true
		k.DiscoveryFilter = &jsesdk.DiscoveryFilter{AccountIDs: []string{accountA}, Partition: "aws"}
		return k
	}
	k.GeneratorKeyID = keys[0]
	k.KeyIDs = keys[1:]
	return k
}

// TestEnvelopeInteropJSESDK: messages that keyport writes with a backend keyring
// over an AWS KMS key open in the JavaScript AWS Encryption SDK's KMS keyring
// pointed at the same local-kms, and the other way round.
func TestEnvelopeInteropJSESDK(t *testing.T) {
	dir := testenv.Require(t, jsesdk.EnvDir, "the JS AWS Encryption SDK harness")
	b := localA(t)
	epA := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	ctx := context.Background()
	ec := map[string]string{"tenant": "acme", "purpose": "interop"}
	pt := bytes.Repeat([]byte("keyport and the JS ESDK agree. "), 300) // several frames

	primary, err := keyring.NewBackend(b, arnA(keyPrimary), nil)
	if err != nil {
		t.Fatal(err)
	}
	secondary, err := keyring.NewBackend(b, arnA(keySecondary), nil)
	if err != nil {
		t.Fatal(err)
	}
	both, err := keyring.NewMulti(primary, secondary)
	if err != nil {
		t.Fatal(err)
	}

	// keyport -> JS.
	type kpCase struct {
		name  string
		kr    envelope.Keyring
		suite envelope.SuiteID
		js    jsesdk.Keyring // how the JS ESDK opens it
	}
	kpCases := []kpCase{
		{"default-suite/primary", primary, 0, jsKMS(epA, arnA(keyPrimary))},
		{"0x0478/primary", primary, envelope.SuiteAES256GCMHKDFSHA512CommitKey, jsKMS(epA, arnA(keyPrimary))},
		{"multi/opened-by-secondary", both, 0, jsKMS(epA, arnA(keySecondary))},
		{"default-suite/discovery", primary, 0, jsKMS(epA)},
	}
	var dec []jsesdk.DecryptCase
	for _, c := range kpCases {
		msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: c.kr, EncryptionContext: ec, Suite: c.suite, FrameLength: 1024})
		if err != nil {
			t.Fatalf("%s: keyport Encrypt: %v", c.name, err)
		}
		// The header names the key as the ESDK does.
		_, res, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: c.kr})
		if err != nil {
			t.Fatalf("%s: keyport Decrypt: %v", c.name, err)
		}
		edk := res.Header.EncryptedDataKeys[0]
		if edk.ProviderID != "aws-kms" || string(edk.ProviderInfo) != arnA(keyPrimary) {
			t.Fatalf("%s: first EDK is %q / %q, want aws-kms / the key ARN", c.name, edk.ProviderID, edk.ProviderInfo)
		}
		dec = append(dec, jsesdk.DecryptCase{ID: c.name, Keyrings: []jsesdk.Keyring{c.js}, Ciphertext: msg, EncryptionContext: ec})
	}
	// A message the JS ESDK must refuse: a strict keyring over a key that did not
	// wrap its data key.
	bad := dec[0]
	bad.ID = "wrong-key"
	bad.Keyrings = []jsesdk.Keyring{jsKMS(epA, arnA(keyRotated))}
	dec = append(dec, bad)
	results, err := jsesdk.Decrypt(ctx, dir, jsesdk.Options{}, dec)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range results {
		if r.ID == "wrong-key" {
			if r.Error == "" {
				t.Errorf("the JS ESDK opened a message with a keyring over another key")
			}
			continue
		}
		if r.Error != "" {
			t.Errorf("%s: the JS ESDK refused keyport's message: %s", r.ID, r.Error)
			continue
		}
		if !bytes.Equal(r.Plaintext, pt) || r.EncryptionContext["tenant"] != "acme" {
			t.Errorf("%s: the JS ESDK read another plaintext or context", r.ID)
		}
	}

	// JS -> keyport.
	jsCases := []jsesdk.EncryptCase{
		{ID: "js/default-suite", Keyrings: []jsesdk.Keyring{jsKMS(epA, arnA(keyPrimary))}, EncryptionContext: ec, Plaintext: pt},
		{ID: "js/0x0478/two-keys", Keyrings: []jsesdk.Keyring{jsKMS(epA, arnA(keyPrimary), arnA(keySecondary))}, SuiteID: 0x0478, FrameLength: 512, EncryptionContext: ec, Plaintext: pt},
		{ID: "js/mrk", Keyrings: []jsesdk.Keyring{jsKMS(epA, arnA(keyMRK))}, EncryptionContext: ec, Plaintext: pt},
	}
	enc, err := jsesdk.Encrypt(ctx, dir, jsesdk.Options{}, jsCases)
	if err != nil {
		t.Fatal(err)
	}
	router := new(backends.Front)
	router.SetDefault(b)
	if err := b.Register(router); err != nil {
		t.Fatal(err)
	}
	discovery, err := keyring.NewDiscovery(router, &keyring.DiscoveryOptions{Filter: &keyring.DiscoveryFilter{Partition: "aws", Accounts: []string{accountA}}})
	if err != nil {
		t.Fatal(err)
	}
	westMRK, err := keyring.NewBackend(b, arnC(keyMRK), &keyring.BackendOptions{MRKAware: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range enc {
		if r.Error != "" {
			t.Errorf("%s: the JS ESDK could not encrypt: %s", r.ID, r.Error)
			continue
		}
		krs := map[string]envelope.Keyring{"strict": primary, "discovery": discovery}
		switch {
		case strings.Contains(r.ID, "two-keys"):
			krs["strict-secondary"] = secondary
		case strings.Contains(r.ID, "mrk"):
			// The replica in us-west-2 opens what the us-east-1 replica wrapped.
			krs = map[string]envelope.Keyring{"mrk-aware-west-replica": westMRK, "discovery": discovery}
		}
		for name, kr := range krs {
			got, res, err := envelope.Decrypt(ctx, r.Ciphertext, envelope.DecryptOptions{Keyring: kr, EncryptionContext: ec})
			if err != nil {
				t.Errorf("%s with the %s keyring: keyport refused the JS ESDK's message: %v", r.ID, name, err)
				continue
			}
			if !bytes.Equal(got, pt) {
				t.Errorf("%s with the %s keyring: another plaintext", r.ID, name)
			}
			if e := res.Header.EncryptedDataKeys[0]; e.ProviderID != "aws-kms" || !strings.HasPrefix(string(e.ProviderInfo), "arn:aws:kms:us-east-1:"+accountA+":key/") {
				t.Errorf("%s: the JS ESDK's EDK is %q / %q", r.ID, e.ProviderID, e.ProviderInfo)
			}
		}
		// The wrong context is refused.
		if _, _, err := envelope.Decrypt(ctx, r.Ciphertext, envelope.DecryptOptions{Keyring: discovery, EncryptionContext: map[string]string{"tenant": "other"}}); err == nil {
			t.Errorf("%s: keyport opened the JS ESDK's message with the wrong context", r.ID)
		}
	}
	if t.Failed() {
		t.Logf("local-kms A at %s, JS harness at %s", epA, dir)
	}
}
