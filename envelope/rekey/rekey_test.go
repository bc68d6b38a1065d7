package rekey_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/envelope/rekey"
)

const msgAccount = "111122223333"

// msgWorld is one local key service with two keys, reachable through a Front.
type msgWorld struct {
	front      *backends.Front
	keyA, keyB string // key ARNs
	client     *local.Client
}

func newMsgWorld(t testing.TB) *msgWorld {
	t.Helper()
	ctx := context.Background()
	svc := local.New()
	t.Cleanup(func() { svc.Close() })
	c := svc.Client(local.Identity{Account: msgAccount, Principal: "arn:aws:iam::" + msgAccount + ":role/app"})
	w := &msgWorld{front: new(backends.Front), client: c}
	for _, p := range []*string{&w.keyA, &w.keyB} {
		out, err := c.CreateKey(ctx, &local.CreateKeyInput{Description: "message test"})
		if err != nil {
			t.Fatal(err)
		}
		*p = out.KeyMetadata.Arn
	}
	if err := w.front.RegisterAccount(msgAccount, "", c); err != nil {
		t.Fatal(err)
	}
	w.front.SetDefault(c)
	return w
}

func (w *msgWorld) keyring(t testing.TB, id string) *keyring.Backend {
	t.Helper()
	k, err := keyring.NewBackend(w.front, id, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestMessageBetweenBackendKeys(t *testing.T) {
	ctx := context.Background()
	w := newMsgWorld(t)
	pt := make([]byte, 70000)
	rand.Read(pt)
	oldEC := map[string]string{"tenant": "a"}
	newEC := map[string]string{"tenant": "b", "Stage": "prod"}
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: w.keyring(t, w.keyA), EncryptionContext: oldEC, Suite: s, FrameLength: 4096})
		if err != nil {
			t.Fatal(err)
		}
		for _, byKeyID := range []bool{true, false} {
			opts := rekey.Options{
				Method:                       rekey.Rewrap,
				Front:                        w.front,
				SourceEncryptionContext:      oldEC,
				DestinationKeyIDs:            []string{w.keyB},
				DestinationEncryptionContext: newEC,
			}
			if byKeyID {
				opts.SourceKeyIDs = []string{w.keyA} // strict; otherwise discovery
			}
			var out bytes.Buffer
			res, err := rekey.Message(ctx, bytes.NewReader(msg), &out, opts)
			if err != nil {
				t.Fatalf("%04x: %v", uint16(s), err)
			}
			nm := out.Bytes()
			if len(res.EncryptedDataKeys) != 1 || string(res.EncryptedDataKeys[0].ProviderInfo) != w.keyB || res.EncryptedDataKeys[0].ProviderID != "aws-kms" {
				t.Fatalf("%04x: EDKs %+v", uint16(s), res.EncryptedDataKeys)
			}
			got, dres, err := envelope.Decrypt(ctx, nm, envelope.DecryptOptions{Keyring: w.keyring(t, w.keyB), EncryptionContext: newEC})
			if err != nil || !bytes.Equal(got, pt) || dres.EncryptionContext["Stage"] != "prod" {
				t.Fatalf("%04x: new key: %v", uint16(s), err)
			}
			if _, _, err := envelope.Decrypt(ctx, nm, envelope.DecryptOptions{Keyring: w.keyring(t, w.keyA)}); !errors.Is(err, backends.ErrIncorrectKey) {
				t.Fatalf("%04x: old key: %v", uint16(s), err)
			}
			// The body frames are the old ones.
			end := len(msg)
			nend := len(nm)
			if s == envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384 {
				end, nend = bodyEnd(msg), bodyEnd(nm)
			}
			if !bytes.Equal(msg[res.BodyOffset:end], nm[len(res.Header):nend]) {
				t.Fatalf("%04x: body differs", uint16(s))
			}
		}
		// The wrong source key is never asked and the allow-list refuses.
		_, err = rekey.Message(ctx, bytes.NewReader(msg), &bytes.Buffer{}, rekey.Options{
			Front: w.front, SourceKeyIDs: []string{w.keyB}, SourceEncryptionContext: oldEC, DestinationKeyIDs: []string{w.keyB}, Method: rekey.Rewrap,
		})
		if !errors.Is(err, backends.ErrIncorrectKey) {
			t.Fatalf("%04x: source key off the message: %v", uint16(s), err)
		}
	}
}

// bodyEnd returns where a signed message's footer starts, from its frames.
func bodyEnd(msg []byte) int {
	for n := 110; n >= 2; n-- {
		if int(msg[len(msg)-n])<<8|int(msg[len(msg)-n+1]) == n-2 {
			return len(msg) - n
		}
	}
	return -1
}

func TestMessageModes(t *testing.T) {
	ctx := context.Background()
	w := newMsgWorld(t)
	aes1, _ := keyring.NewRawAES("modes", "aes-1", bytes.Repeat([]byte{3}, 32))
	gen, _ := keyring.NewMulti(w.keyring(t, w.keyA), aes1)
	ec := map[string]string{"k": "v"}
	pt := []byte("modes")
	msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: gen, EncryptionContext: ec, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey})
	if err != nil {
		t.Fatal(err)
	}
	opens := func(m []byte, k envelope.Keyring) bool {
		got, _, err := envelope.Decrypt(ctx, m, envelope.DecryptOptions{Keyring: k})
		return err == nil && bytes.Equal(got, pt)
	}
	run := func(o rekey.Options) ([]byte, *rekey.Output, error) {
		o.Method = rekey.Rewrap
		res, err := rekey.Header(ctx, bytes.NewReader(msg), o)
		if err != nil {
			return nil, nil, err
		}
		return append(bytes.Clone(res.Header), msg[res.BodyOffset:]...), res, nil
	}
	// Add key B: A, the raw key and B all open it.
	m, res, err := run(rekey.Options{Front: w.front, Mode: rekey.Add, DestinationKeyIDs: []string{w.keyB}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.EncryptedDataKeys) != 3 || !opens(m, w.keyring(t, w.keyA)) || !opens(m, aes1) || !opens(m, w.keyring(t, w.keyB)) {
		t.Fatalf("add: %d EDKs", len(res.EncryptedDataKeys))
	}
	// Remove key A and the raw AES key (by its name); add B.
	m, res, err = run(rekey.Options{Front: w.front, Mode: rekey.Remove, RemoveKeyIDs: []string{w.keyA, "aes-1"}, DestinationKeyIDs: []string{w.keyB}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.EncryptedDataKeys) != 1 || opens(m, w.keyring(t, w.keyA)) || opens(m, aes1) || !opens(m, w.keyring(t, w.keyB)) {
		t.Fatalf("remove: %d EDKs", len(res.EncryptedDataKeys))
	}
	// Remove only the raw key, keep A, no destination.
	m, _, err = run(rekey.Options{Source: aes1, Mode: rekey.Remove, RemoveKeyIDs: []string{"aes-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if opens(m, aes1) || !opens(m, w.keyring(t, w.keyA)) {
		t.Fatal("remove the raw key")
	}
	// Replace both with two keys at once.
	m, res, err = run(rekey.Options{Source: aes1, Front: w.front, DestinationKeyIDs: []string{w.keyB, w.keyA}, DestinationEncryptionContext: map[string]string{"k": "new"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.EncryptedDataKeys) != 2 || opens(m, aes1) || !opens(m, w.keyring(t, w.keyA)) || !opens(m, w.keyring(t, w.keyB)) {
		t.Fatal("replace with two keys")
	}
	for name, bad := range map[string]rekey.Options{
		"no source":                       {DestinationKeyIDs: []string{w.keyB}},
		"replace, no destination":         {Front: w.front},
		"add, no destination":             {Front: w.front, Mode: rekey.Add},
		"remove, no keys":                 {Front: w.front, Mode: rekey.Remove},
		"replace with RemoveKeyIDs":       {Front: w.front, DestinationKeyIDs: []string{w.keyB}, RemoveKeyIDs: []string{w.keyA}},
		"unknown mode":                    {Front: w.front, DestinationKeyIDs: []string{w.keyB}, Mode: 9},
		"add with a new context":          {Front: w.front, Mode: rekey.Add, DestinationKeyIDs: []string{w.keyB}, DestinationEncryptionContext: map[string]string{"k": "x"}},
		"destination by ID without Front": {Source: aes1, DestinationKeyIDs: []string{w.keyB}},
	} {
		if _, _, err := run(bad); !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A disabled destination key: the backend's error comes through.
	if err := w.client.DisableKey(ctx, &local.DisableKeyInput{KeyID: w.keyB}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(rekey.Options{Front: w.front, DestinationKeyIDs: []string{w.keyB}}); !errors.Is(err, backends.ErrDisabled) {
		t.Errorf("disabled destination: %v", err)
	}
}

// Example re-encrypts an envelope message from one key of a key service to
// another, changing its encryption context. The default method, Reseal, encrypts
// the message again under a new data key.
func ExampleMessage() {
	ctx := context.Background()
	svc := local.New()
	defer svc.Close()
	c := svc.Client(local.Identity{Account: msgAccount})
	oldKey, _ := c.CreateKey(ctx, &local.CreateKeyInput{Description: "2025"})
	newKey, _ := c.CreateKey(ctx, &local.CreateKeyInput{Description: "2026"})
	front := new(backends.Front)
	front.SetDefault(c)
	_ = front.RegisterAccount(msgAccount, "", c)

	src, _ := keyring.NewBackend(front, oldKey.KeyMetadata.Arn, nil)
	msg, _ := envelope.Encrypt(ctx, []byte("quarterly numbers"), envelope.EncryptOptions{
		Keyring: src, EncryptionContext: map[string]string{"year": "2025"},
	})

	var out bytes.Buffer
	_, err := rekey.Message(ctx, bytes.NewReader(msg), &out, rekey.Options{
		Front:                        front,
		SourceKeyIDs:                 []string{oldKey.KeyMetadata.Arn},
		DestinationKeyIDs:            []string{newKey.KeyMetadata.Arn},
		DestinationEncryptionContext: map[string]string{"year": "2026"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	dst, _ := keyring.NewBackend(front, newKey.KeyMetadata.Arn, nil)
	pt, res, err := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: dst})
	fmt.Println(string(pt), res.EncryptionContext["year"], err)
	// Output: quarterly numbers 2026 <nil>
}

func TestMessageReseal(t *testing.T) {
	ctx := context.Background()
	w := newMsgWorld(t)
	pt := make([]byte, 20000)
	rand.Read(pt)
	oldEC := map[string]string{"tenant": "a"}
	for _, tc := range []struct {
		suite     envelope.SuiteID
		policy    envelope.CommitmentPolicy
		wantSuite envelope.SuiteID
	}{
		{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.RequireEncryptRequireDecrypt, envelope.SuiteAES256GCMHKDFSHA512CommitKey},
		{envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384, envelope.RequireEncryptRequireDecrypt, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384},
		{envelope.SuiteAES256GCMIV12Tag16HKDFSHA384ECDSAP384, envelope.RequireEncryptAllowDecrypt, envelope.DefaultSuite},
	} {
		encPolicy := envelope.RequireEncryptRequireDecrypt
		if tc.suite == envelope.SuiteAES256GCMIV12Tag16HKDFSHA384ECDSAP384 {
			encPolicy = envelope.ForbidEncryptAllowDecrypt
		}
		msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: w.keyring(t, w.keyA), EncryptionContext: oldEC, Suite: tc.suite, FrameLength: 1000, CommitmentPolicy: encPolicy})
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		res, err := rekey.Message(ctx, bytes.NewReader(msg), &out, rekey.Options{
			Front: w.front, SourceKeyIDs: []string{w.keyA}, DestinationKeyIDs: []string{w.keyB},
			CommitmentPolicy: tc.policy, // Method: Reseal, the default
		})
		if err != nil {
			t.Fatalf("%04x: %v", uint16(tc.suite), err)
		}
		if res.Written != int64(out.Len()) || res.Suite != tc.wantSuite || res.EncryptionContext["tenant"] != "a" {
			t.Fatalf("%04x: output %+v", uint16(tc.suite), res)
		}
		got, dres, err := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: w.keyring(t, w.keyB)})
		if err != nil || !bytes.Equal(got, pt) || dres.EncryptionContext["tenant"] != "a" || dres.Header.FrameLength != 1000 {
			t.Fatalf("%04x: resealed: %v", uint16(tc.suite), err)
		}
		_, ores, _ := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: w.keyring(t, w.keyA), CommitmentPolicy: tc.policy})
		if bytes.Equal(dres.Header.MessageID, ores.Header.MessageID) {
			t.Fatalf("%04x: the resealed message kept its message ID", uint16(tc.suite))
		}
		if _, _, err := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: w.keyring(t, w.keyA)}); err == nil {
			t.Fatalf("%04x: the old key opens the resealed message", uint16(tc.suite))
		}
	}
	msg, _ := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: w.keyring(t, w.keyA)})
	for name, bad := range map[string]rekey.Options{
		"add":            {Front: w.front, DestinationKeyIDs: []string{w.keyB}, Mode: rekey.Add},
		"no destination": {Front: w.front},
		"unknown method": {Front: w.front, DestinationKeyIDs: []string{w.keyB}, Method: 7},
	} {
		if _, err := rekey.Message(ctx, bytes.NewReader(msg), &bytes.Buffer{}, bad); !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := rekey.Header(ctx, bytes.NewReader(msg), rekey.Options{Front: w.front, DestinationKeyIDs: []string{w.keyB}}); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("header-only form without Method Rewrap: %v", err)
	}
	// A tampered signed message: an error, and never a complete new message.
	bad := bytes.Clone(msg)
	bad[len(bad)-300] ^= 1
	var out bytes.Buffer
	if _, err := rekey.Message(ctx, bytes.NewReader(bad), &out, rekey.Options{Front: w.front, DestinationKeyIDs: []string{w.keyB}}); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Errorf("tampered: %v", err)
	}
	if _, _, err := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: w.keyring(t, w.keyB)}); err == nil {
		t.Error("a tampered message was resealed into a valid one")
	}
}
