package chaintest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/envelope/rekey"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/reencrypt"
)

type step struct {
	name, key, provider string
}

// steps is the chain local -> AWS KMS -> Vault -> Cloud KMS -> Key Vault -> local,
// with the provider ID an envelope header records for each key.
func (w *world) steps() []step {
	return []step{
		{"local", w.local, keyring.ProviderAWSKMS},
		{"awskms", w.aws, keyring.ProviderAWSKMS},
		{"vault", w.vault, "keyport:vault"},
		{"gcpkms", w.gcp, "keyport:gcpkms"},
		{"azurekv", w.azure, "keyport:azurekv"},
		{"local-again", w.local, keyring.ProviderAWSKMS},
	}
}

// keyrings returns a keyring over the world's Front for the key of each step.
func (w *world) keyrings(t *testing.T, steps []step) []envelope.Keyring {
	t.Helper()
	krs := make([]envelope.Keyring, len(steps))
	for i, s := range steps {
		kr, err := keyring.NewBackend(w.front, s.key, nil)
		if err != nil {
			t.Fatal(err)
		}
		krs[i] = kr
	}
	return krs
}

// TestChainBlob re-encrypts a data key along the chain with the reencrypt engine
// over one Front, a new encryption context at every step, and decrypts it at every
// step, with the Front and with the key's own driver.
func TestChainBlob(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	eng := reencrypt.New(w.front)
	pt := []byte("a 32-byte data key on a journey.")
	steps := w.steps()
	ec := func(i int) map[string]string {
		return map[string]string{"chain": "blob", "step": fmt.Sprint(i), "at": steps[i].name}
	}
	out, err := w.front.Encrypt(ctx, &backends.EncryptInput{KeyID: steps[0].key, Plaintext: pt, EncryptionContext: ec(0)})
	if err != nil {
		t.Fatal(err)
	}
	blob := out.CiphertextBlob
	for i := 1; i < len(steps); i++ {
		from, to := steps[i-1], steps[i]
		res, err := eng.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: from.key, SourceEncryptionContext: ec(i - 1),
			DestinationKeyID: to.key, DestinationEncryptionContext: ec(i)})
		if err != nil {
			t.Fatalf("%s -> %s: ReEncrypt: %v", from.name, to.name, err)
		}
		if res.SourceKeyID != from.key || res.KeyID != to.key || res.Native {
			t.Errorf("%s -> %s: ReEncrypt output %q -> %q native=%v, want %q -> %q through the plaintext", from.name, to.name, res.SourceKeyID, res.KeyID, res.Native, from.key, to.key)
		}
		blob = res.CiphertextBlob
		for _, via := range []struct {
			name string
			b    backends.Backend
		}{{"the Front", w.front}, {"its driver", w.drivers[to.key]}} {
			d, err := via.b.Decrypt(ctx, &backends.DecryptInput{KeyID: to.key, CiphertextBlob: blob, EncryptionContext: ec(i)})
			if err != nil {
				t.Fatalf("%s: Decrypt through %s: %v", to.name, via.name, err)
			}
			if !bytes.Equal(d.Plaintext, pt) || d.KeyID != to.key {
				t.Errorf("%s: Decrypt through %s gave another plaintext or key (%q)", to.name, via.name, d.KeyID)
			}
			clear(d.Plaintext)
		}
		_, err = w.front.Decrypt(ctx, &backends.DecryptInput{KeyID: to.key, CiphertextBlob: blob, EncryptionContext: ec(i - 1)})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, to.name+": Decrypt with the previous step's context")
	}
}

// TestChainMessage moves an envelope message along the chain with rekey.Message
// (a new data key at every step) and opens it at every step with the step's
// keyring alone; the header names the key and provider as the ESDK convention
// says, and the previous step's keyring no longer opens it.
func TestChainMessage(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	pt := bytes.Repeat([]byte("a message that travels across five key services. "), 200)
	ec := map[string]string{"chain": "message", "tenant": "acme"}
	steps := w.steps()
	krs := w.keyrings(t, steps)
	msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: krs[0], EncryptionContext: ec, FrameLength: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(steps); i++ {
		var buf bytes.Buffer
		if _, err := rekey.Message(ctx, bytes.NewReader(msg), &buf, rekey.Options{Source: krs[i-1], Destination: krs[i]}); err != nil {
			t.Fatalf("%s -> %s: rekey.Message: %v", steps[i-1].name, steps[i].name, err)
		}
		msg = buf.Bytes()
		got, res, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: krs[i]})
		if err != nil {
			t.Fatalf("%s: Decrypt: %v", steps[i].name, err)
		}
		if !bytes.Equal(got, pt) || res.EncryptionContext["tenant"] != "acme" {
			t.Errorf("%s: Decrypt gave another plaintext or context", steps[i].name)
		}
		edks := res.Header.EncryptedDataKeys
		if len(edks) != 1 || edks[0].ProviderID != steps[i].provider || string(edks[0].ProviderInfo) != steps[i].key {
			t.Errorf("%s: the header's data keys are %v, want one %s / %s", steps[i].name, describe(edks), steps[i].provider, steps[i].key)
		}
		if steps[i-1].key != steps[i].key {
			if _, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: krs[i-1]}); err == nil {
				t.Errorf("%s: the previous step's keyring (%s) still opens the message", steps[i].name, steps[i-1].name)
			}
		}
	}
}

// TestMultiKeyring encrypts one message with an encrypted data key per provider
// and opens it with each provider's keyring alone.
func TestMultiKeyring(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	pt := []byte("one message, five ways in")
	ec := map[string]string{"multi": "yes"}
	steps := w.steps()[:5]
	krs := w.keyrings(t, steps)
	multi, err := keyring.NewMulti(krs[0], krs[1:]...)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: multi, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		got, res, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: krs[i]})
		if err != nil {
			t.Errorf("%s alone: Decrypt: %v", s.name, err)
			continue
		}
		if !bytes.Equal(got, pt) {
			t.Errorf("%s alone: another plaintext", s.name)
		}
		if i == 0 {
			edks := res.Header.EncryptedDataKeys
			if len(edks) != len(steps) {
				t.Fatalf("the header has %d encrypted data keys, want %d", len(edks), len(steps))
			}
			for j, e := range edks {
				if e.ProviderID != steps[j].provider || string(e.ProviderInfo) != steps[j].key {
					t.Errorf("encrypted data key %d is %s / %s, want %s / %s", j, e.ProviderID, e.ProviderInfo, steps[j].provider, steps[j].key)
				}
			}
		}
	}
	// A keyring over a key of none of them opens nothing.
	other, err := keyring.NewBackend(w.front, w.gcp+"-other", nil)
	if err == nil {
		if _, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: other}); err == nil {
			t.Errorf("a keyring over another key opened the message")
		}
	}
}

func describe(edks []envelope.EncryptedDataKey) string {
	var b bytes.Buffer
	for _, e := range edks {
		fmt.Fprintf(&b, "[%s %s] ", e.ProviderID, e.ProviderInfo)
	}
	return b.String()
}
