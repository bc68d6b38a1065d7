package rewrap_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/rewrap"
	"github.com/keyport/keyport/internal/testenv"
)

// vectorsDir returns ../shared/vectors/esdk relative to the module root (the
// directory of go.mod, found above the test's working directory).
func vectorsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared", "vectors", "esdk"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// rewrapDEK is a keyring that knows one message's plaintext data key, as the
// compat vectors carry it.
type rewrapDEK []byte

func (k rewrapDEK) OnEncrypt(context.Context, *envelope.EncryptionMaterials) error {
	return backends.Errorf(backends.ErrUnsupported, "OnEncrypt", "", "test keyring")
}

func (k rewrapDEK) OnDecrypt(_ context.Context, m *envelope.DecryptionMaterials, _ []envelope.EncryptedDataKey) error {
	if m.PlaintextDataKey == nil {
		m.PlaintextDataKey = bytes.Clone(k)
	}
	return nil
}

// TestCompatVectors rewraps the 46 message-format v2 vectors written by the
// JS, C, Python and Java ESDKs (framed with frame lengths 1 to 4096 and
// non-framed, signed and unsigned) for a new raw AES key and a new context: each
// positive vector's rewrapped message decrypts to the original's plaintext with
// identical body bytes; each negative vector (invalid key commitment) is refused.
func TestCompatVectors(t *testing.T) {
	root, err := vectorsDir()
	if err != nil {
		t.Fatal(err)
	}
	dir := testenv.RequireDir(t, filepath.Join(root, "message-format-v2-compat"), "the ESDK compat vectors")
	raw, err := os.ReadFile(filepath.Join(dir, "compat-v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Tests []struct {
			Ciphertext string `json:"ciphertext"`
			DEK        string `json:"decrypted-dek"`
			Status     bool   `json:"status"`
			Comment    string `json:"comment"`
		} `json:"tests"`
	}
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if len(f.Tests) != 46 {
		t.Fatalf("%d compat vectors, want 46", len(f.Tests))
	}
	ctx := context.Background()
	dst := rawAES(t, "compat")
	newEC := map[string]string{"rewrapped": "yes"}
	var pos, neg, signed, nonFramed, signedNonFramed int
	for i, v := range f.Tests {
		msg, err1 := base64.StdEncoding.DecodeString(v.Ciphertext)
		dek, err2 := base64.StdEncoding.DecodeString(v.DEK)
		if err1 != nil || err2 != nil {
			t.Fatalf("vector %d: bad base64", i)
		}
		var out bytes.Buffer
		res, err := rewrap.Message(ctx, bytes.NewReader(msg), &out, rewrap.Options{Source: rewrapDEK(dek), Destination: dst, EncryptionContext: newEC})
		if !v.Status {
			neg++
			if !errors.Is(err, backends.ErrInvalidCiphertext) || out.Len() != 0 {
				t.Errorf("vector %d (%s, negative): %v, %d bytes written", i, v.Comment, err, out.Len())
			}
			continue
		}
		pos++
		if err != nil {
			t.Errorf("vector %d (%s): %v", i, v.Comment, err)
			continue
		}
		want, old, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: rewrapDEK(dek)})
		if err != nil {
			t.Fatalf("vector %d: the original does not decrypt: %v", i, err)
		}
		got, nres, err := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: dst})
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("vector %d (%s): rewrapped: %v", i, v.Comment, err)
			continue
		}
		if nres.EncryptionContext["rewrapped"] != "yes" || nres.Header.Framed != old.Header.Framed || nres.Header.FrameLength != old.Header.FrameLength {
			t.Errorf("vector %d: new header %+v", i, nres.Header)
		}
		body, nbody := msg[res.BodyOffset:], out.Bytes()[len(res.Header):]
		if !old.Header.Framed {
			nonFramed++
		}
		if old.Suite == envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384 {
			signed++
			if !old.Header.Framed {
				signedNonFramed++
			}
			body, nbody = body[:len(body)-footerLen(msg)], nbody[:len(nbody)-footerLen(out.Bytes())]
		}
		if !bytes.Equal(body, nbody) {
			t.Errorf("vector %d: body bytes differ", i)
		}
	}
	t.Logf("%d positive (%d signed, %d non-framed, %d both), %d negative", pos, signed, nonFramed, signedNonFramed, neg)
	if pos != 41 || neg != 5 || signed == 0 || signedNonFramed == 0 {
		t.Fatalf("%d positive, %d negative, %d signed, %d signed non-framed vectors", pos, neg, signed, signedNonFramed)
	}
}

// FuzzMessageCompat mutates the compat vectors (with their data keys, so that
// mutations reach the body and footer walk of every layout): Message never panics,
// returns only typed errors, and accepts a message only if the rewrapped one
// decrypts exactly when the original does, to the same plaintext.
func FuzzMessageCompat(f *testing.F) {
	root, err := vectorsDir()
	if err != nil {
		f.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "message-format-v2-compat", "compat-v2.json"))
	if err == nil {
		var v struct {
			Tests []struct {
				Ciphertext string `json:"ciphertext"`
				DEK        string `json:"decrypted-dek"`
			} `json:"tests"`
		}
		if json.Unmarshal(raw, &v) == nil {
			for _, t := range v.Tests {
				msg, _ := base64.StdEncoding.DecodeString(t.Ciphertext)
				dek, _ := base64.StdEncoding.DecodeString(t.DEK)
				f.Add(msg, dek)
			}
		}
	}
	dst := rawAES(f, "fuzz-dst")
	f.Fuzz(func(t *testing.T, msg, dek []byte) {
		ctx := context.Background()
		var out bytes.Buffer
		_, err := rewrap.Message(ctx, bytes.NewReader(msg), &out, rewrap.Options{Source: rewrapDEK(dek), Destination: dst})
		if err != nil {
			if backends.KindOf(err) == nil {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		want, _, derr := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: rewrapDEK(dek)})
		got, _, nerr := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: dst})
		if (derr == nil) != (nerr == nil) || !bytes.Equal(want, got) {
			t.Fatalf("original: %v, rewrapped: %v", derr, nerr)
		}
	})
}
