package envelope_test

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/testenv"
)

// vectorsDir returns ../shared/vectors/esdk relative to the module root.
func vectorsDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the test's directory")
		}
		dir = parent
	}
	return testenv.RequireDir(t, filepath.Join(dir, "..", "shared", "vectors", "esdk"), "ESDK test vectors (../shared/vectors/esdk)")
}

// firstOf is a minimal multi-keyring for tests: the first child that unwraps wins.
type firstOf []envelope.Keyring

func (f firstOf) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	for _, k := range f {
		if err := k.OnEncrypt(ctx, m); err != nil {
			return err
		}
	}
	return nil
}

func (f firstOf) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	var errs []error
	for _, k := range f {
		if err := k.OnDecrypt(ctx, m, edks); err != nil {
			errs = append(errs, err)
			continue
		}
		if m.PlaintextDataKey != nil {
			return nil
		}
	}
	return errors.Join(errs...)
}

type manifest struct {
	Keys  string `json:"keys"`
	Tests map[string]struct {
		Ciphertext string `json:"ciphertext"`
		MasterKeys []struct {
			Type        string `json:"type"`
			Key         string `json:"key"`
			ProviderID  string `json:"provider-id"`
			Algorithm   string `json:"encryption-algorithm"`
			Padding     string `json:"padding-algorithm"`
			PaddingHash string `json:"padding-hash"`
		} `json:"master-keys"`
		CMM               string            `json:"cmm"`
		EncryptionContext map[string]string `json:"encryption-context"`
		Result            struct {
			Output struct {
				Plaintext string `json:"plaintext"`
			} `json:"output"`
		} `json:"result"`
	} `json:"tests"`
}

type keyManifest struct {
	Keys map[string]struct {
		KeyID    string `json:"key-id"`
		Type     string `json:"type"`
		Encoding string `json:"encoding"`
		Material string `json:"material"`
	} `json:"keys"`
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func fileURI(dir, uri string) string { return filepath.Join(dir, strings.TrimPrefix(uri, "file://")) }

type vector struct {
	name      string
	msg, want []byte
	keyring   envelope.Keyring
	ec        map[string]string
}

// loadManifest turns an awses-decrypt manifest into vectors with raw keyrings.
func loadManifest(t *testing.T, dir string) []vector {
	var m manifest
	readJSON(t, filepath.Join(dir, "manifest.json"), &m)
	var km keyManifest
	readJSON(t, fileURI(dir, m.Keys), &km)
	var out []vector
	names := make([]string, 0, len(m.Tests))
	for n := range m.Tests {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		tc := m.Tests[name]
		var krs firstOf
		for _, mk := range tc.MasterKeys {
			if mk.Type != "raw" {
				t.Fatalf("%s: master key type %q", name, mk.Type)
			}
			key, ok := km.Keys[mk.Key]
			if !ok {
				t.Fatalf("%s: unknown key %q", name, mk.Key)
			}
			switch mk.Algorithm {
			case "aes":
				raw, err := base64.StdEncoding.DecodeString(key.Material)
				if err != nil {
					t.Fatal(err)
				}
				kr, err := keyring.NewRawAES(mk.ProviderID, key.KeyID, raw)
				if err != nil {
					t.Fatal(err)
				}
				krs = append(krs, kr)
			case "rsa":
				if key.Type != "private" {
					continue // a public key cannot decrypt
				}
				kr, err := keyring.NewRawRSA(mk.ProviderID, key.KeyID, nil, parseRSAPrivate(t, key.Material), padding(t, mk.Padding, mk.PaddingHash))
				if err != nil {
					t.Fatal(err)
				}
				krs = append(krs, kr)
			default:
				t.Fatalf("%s: algorithm %q", name, mk.Algorithm)
			}
		}
		msg, err := os.ReadFile(fileURI(dir, tc.Ciphertext))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(fileURI(dir, tc.Result.Output.Plaintext))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, vector{name: name, msg: msg, want: want, keyring: krs, ec: tc.EncryptionContext})
	}
	return out
}

func parseRSAPrivate(t testing.TB, p string) *rsa.PrivateKey {
	blk, _ := pem.Decode([]byte(p))
	if blk == nil {
		t.Fatal("bad PEM")
		return nil
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		rk, err2 := x509.ParsePKCS1PrivateKey(blk.Bytes)
		if err2 != nil {
			t.Fatal(err)
		}
		return rk
	}
	return k.(*rsa.PrivateKey)
}

func padding(t testing.TB, alg, hash string) keyring.RSAPadding {
	switch alg + "/" + hash {
	case "pkcs1/":
		return keyring.PKCS1
	case "oaep-mgf1/sha1":
		return keyring.OAEPSHA1
	case "oaep-mgf1/sha256":
		return keyring.OAEPSHA256
	case "oaep-mgf1/sha384":
		return keyring.OAEPSHA384
	case "oaep-mgf1/sha512":
		return keyring.OAEPSHA512
	}
	t.Fatalf("padding %s/%s", alg, hash)
	return 0
}

var allowAll = envelope.RequireEncryptAllowDecrypt

// decryptBoth decrypts with the byte-slice API and the streaming API (sequential
// and parallel) and checks that they agree.
func decryptBoth(t *testing.T, msg []byte, opts envelope.DecryptOptions) ([]byte, *envelope.Result, error) {
	t.Helper()
	pt, res, err := envelope.Decrypt(context.Background(), msg, opts)
	po := opts
	po.Workers = 3
	ppt, _, perr := envelope.Decrypt(context.Background(), msg, po)
	if (err == nil) != (perr == nil) || !bytes.Equal(pt, ppt) {
		t.Fatalf("Decrypt with 1 and 3 workers disagree: %v / %v", err, perr)
	}
	for _, w := range []int{1, 3} {
		o := opts
		o.Workers = w
		spt, serr := streamDecrypt(msg, o)
		if (err == nil) != (serr == nil) {
			t.Fatalf("workers=%d: Decrypt err %v, streaming err %v", w, err, serr)
		}
		if err == nil && !bytes.Equal(spt, pt) {
			t.Fatalf("workers=%d: streaming plaintext differs", w)
		}
	}
	return pt, res, err
}

func TestVectorsNet401Raw(t *testing.T) {
	dir := filepath.Join(vectorsDir(t), "net-4.0.1-raw")
	vs := loadManifest(t, dir)
	if len(vs) != 99 {
		t.Fatalf("%d vectors, want 99", len(vs))
	}
	suites := map[envelope.SuiteID]int{}
	for _, v := range vs {
		pt, res, err := decryptBoth(t, v.msg, envelope.DecryptOptions{Keyring: v.keyring, EncryptionContext: v.ec, CommitmentPolicy: allowAll})
		if err != nil {
			t.Errorf("%s: %v", v.name, err)
			continue
		}
		if !bytes.Equal(pt, v.want) {
			t.Errorf("%s: wrong plaintext", v.name)
		}
		for k, val := range v.ec {
			if res.EncryptionContext[k] != val {
				t.Errorf("%s: result context lacks %s", v.name, k)
			}
		}
		suites[res.Suite]++
		// A wrong required context fails.
		if strings.Contains(v.name, "RequiredEncryptionContext") && len(res.RequiredEncryptionContextKeys) > 0 {
			bad := map[string]string{}
			for k, val := range v.ec {
				bad[k] = val + "x"
			}
			if _, _, err := envelope.Decrypt(context.Background(), v.msg, envelope.DecryptOptions{Keyring: v.keyring, EncryptionContext: bad, CommitmentPolicy: allowAll}); err == nil {
				t.Errorf("%s: decrypted with a wrong required encryption context", v.name)
			}
			if _, _, err := envelope.Decrypt(context.Background(), v.msg, envelope.DecryptOptions{Keyring: v.keyring, CommitmentPolicy: allowAll}); err == nil {
				t.Errorf("%s: decrypted without its required encryption context", v.name)
			}
		}
	}
	if len(suites) != 11 {
		t.Errorf("suites seen: %v, want all 11", suites)
	}
}

func TestVectorsNet400Valid(t *testing.T) {
	vs := loadManifest(t, filepath.Join(vectorsDir(t), "net-4.0.0-valid"))
	if len(vs) != 5 {
		t.Fatalf("%d vectors, want 5", len(vs))
	}
	for _, v := range vs {
		pt, _, err := decryptBoth(t, v.msg, envelope.DecryptOptions{Keyring: v.keyring, EncryptionContext: v.ec, CommitmentPolicy: allowAll})
		if err != nil {
			t.Errorf("%s: %v", v.name, err)
		} else if !bytes.Equal(pt, v.want) {
			t.Errorf("%s: wrong plaintext", v.name)
		}
	}
}

func TestVectorsNet400InvalidRejected(t *testing.T) {
	vs := loadManifest(t, filepath.Join(vectorsDir(t), "net-4.0.0-invalid"))
	if len(vs) != 28 {
		t.Fatalf("%d vectors, want 28", len(vs))
	}
	for _, v := range vs {
		pt, _, err := decryptBoth(t, v.msg, envelope.DecryptOptions{Keyring: v.keyring, EncryptionContext: v.ec, CommitmentPolicy: allowAll})
		if err == nil {
			t.Errorf("%s: decrypted a message with a bad header authentication tag", v.name)
			continue
		}
		if pt != nil {
			t.Errorf("%s: plaintext returned with the error", v.name)
		}
		if !errors.Is(err, backends.ErrInvalidCiphertext) {
			t.Errorf("%s: error %v, want ErrInvalidCiphertext", v.name, err)
		}
	}
}

// staticKey is a keyring that returns a fixed data key.
type staticKey []byte

func (s staticKey) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	return errors.New("static keyring cannot encrypt")
}

func (s staticKey) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	m.PlaintextDataKey = bytes.Clone(s)
	return nil
}

func TestVectorsCompatV2(t *testing.T) {
	var f struct {
		Tests []struct {
			Ciphertext     string            `json:"ciphertext"`
			DEK            string            `json:"decrypted-dek"`
			EC             map[string]string `json:"encryption-context"`
			PlaintextParts []string          `json:"plaintext-frames"`
			Status         bool              `json:"status"`
			Comment        string            `json:"comment"`
		} `json:"tests"`
	}
	readJSON(t, filepath.Join(vectorsDir(t), "message-format-v2-compat", "compat-v2.json"), &f)
	if len(f.Tests) != 46 {
		t.Fatalf("%d tests, want 46", len(f.Tests))
	}
	neg := 0
	for i, tc := range f.Tests {
		msg, err := base64.StdEncoding.DecodeString(tc.Ciphertext)
		if err != nil {
			t.Fatal(err)
		}
		dek, err := base64.StdEncoding.DecodeString(tc.DEK)
		if err != nil {
			t.Fatal(err)
		}
		pt, res, err := decryptBoth(t, msg, envelope.DecryptOptions{Keyring: staticKey(dek), EncryptionContext: tc.EC})
		if !tc.Status {
			neg++
			if err == nil || pt != nil {
				t.Errorf("%d (%s): negative vector decrypted", i, tc.Comment)
			} else if !errors.Is(err, backends.ErrInvalidCiphertext) {
				t.Errorf("%d (%s): error %v, want ErrInvalidCiphertext", i, tc.Comment, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%d (%s): %v", i, tc.Comment, err)
			continue
		}
		if want := strings.Join(tc.PlaintextParts, ""); string(pt) != want {
			t.Errorf("%d (%s): plaintext %q, want %q", i, tc.Comment, pt, want)
		}
		if res.Header.Version != 2 {
			t.Errorf("%d: version %d", i, res.Header.Version)
		}
	}
	if neg != 5 {
		t.Errorf("%d negative vectors, want 5", neg)
	}
}

func interopKeyring(t *testing.T) envelope.Keyring {
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i)
	}
	kr, err := keyring.NewRawAES("go-esdk-interop", "static-aes-256", key)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestVectorsGeneratedHere(t *testing.T) {
	dir := filepath.Join(vectorsDir(t), "generated-here")
	ec := map[string]string{"purpose": "interop-test", "a": "lower", "B": "upper"}
	for _, c := range []struct{ msg, pt string }{
		{"go-esdk-0.4.0.esdk", "go-plaintext.txt"},
		{"js-5.0.2-utf8sorting.esdk", "js-plaintext.txt"},
	} {
		msg, _ := os.ReadFile(filepath.Join(dir, c.msg))
		want, _ := os.ReadFile(filepath.Join(dir, c.pt))
		if len(msg) == 0 || len(want) == 0 {
			t.Fatalf("%s: missing files", c.msg)
		}
		pt, res, err := decryptBoth(t, msg, envelope.DecryptOptions{Keyring: interopKeyring(t), EncryptionContext: ec})
		if err != nil {
			t.Errorf("%s: %v", c.msg, err)
			continue
		}
		if !bytes.Equal(pt, want) {
			t.Errorf("%s: wrong plaintext", c.msg)
		}
		if res.Suite != envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384 {
			t.Errorf("%s: suite %04X", c.msg, uint16(res.Suite))
		}
	}
	msg, _ := os.ReadFile(filepath.Join(dir, "js-5.0.2-default-sorting.esdk"))
	pt, _, err := decryptBoth(t, msg, envelope.DecryptOptions{Keyring: interopKeyring(t)})
	if err == nil || pt != nil {
		t.Fatal("the default-sorting JS message decrypted; its wrapping AAD is not in UTF-8 byte order")
	}
	if !errors.Is(err, backends.ErrIncorrectKey) {
		t.Errorf("default-sorting message: error %v, want ErrIncorrectKey", err)
	}
}
