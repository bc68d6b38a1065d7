package blob

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"hash/crc32"
	"os"
	"testing"

	"github.com/keyport/keyport/backends"
)

const arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// header builds the header of a blob of format version v by hand: iv is the
// nonce (version 1) or the salt (version 2).
func header(v byte, keyARN string, version uint32, iv []byte) []byte {
	h := []byte{Magic, v}
	h = binary.BigEndian.AppendUint16(h, uint16(len(keyARN)))
	h = append(h, keyARN...)
	h = binary.BigEndian.AppendUint32(h, version)
	h = append(h, iv...)
	return binary.BigEndian.AppendUint32(h, crc32.Checksum(h, crc32.MakeTable(crc32.Castagnoli)))
}

func testGCM(t testing.TB, key []byte) cipher.AEAD {
	t.Helper()
	g, err := gcm(key)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func testKey(t testing.TB, material []byte) *Key {
	t.Helper()
	k, err := NewKey(material)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestDeriveIsHKDF: the hand-made derivation is crypto/hkdf's Expand, for every
// call of a pooled HMAC.
func TestDeriveIsHKDF(t *testing.T) {
	material := bytes.Repeat([]byte{0x42}, 32)
	k := testKey(t, material)
	for i := range 5 {
		salt := bytes.Repeat([]byte{byte(i)}, SaltSize)
		g, nonce, err := k.derive(salt)
		if err != nil {
			t.Fatal(err)
		}
		okm, err := hkdf.Expand(sha256.New, material, "keyport local blob v2"+string(salt), 44)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(nonce, okm[32:]) {
			t.Fatalf("salt %d: nonce %x, HKDF gives %x", i, nonce, okm[32:])
		}
		want := testGCM(t, okm[:32]).Seal(nil, nonce, []byte("x"), nil)
		if got := g.Seal(nil, nonce, []byte("x"), nil); !bytes.Equal(got, want) {
			t.Fatalf("salt %d: the derived key is not HKDF's", i)
		}
	}
	if _, err := NewKey(material[:31]); err == nil {
		t.Fatal("NewKey of 31 bytes")
	}
}

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		v  byte
		iv []byte
	}{{Version1, bytes.Repeat([]byte{9}, NonceSize)}, {Version2, bytes.Repeat([]byte{9}, SaltSize)}} {
		h := header(tc.v, arn, 3, tc.iv)
		b := append(bytes.Clone(h), bytes.Repeat([]byte{0xCC}, 20)...)
		p, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		iv := p.Nonce
		if tc.v == Version2 {
			iv = p.Salt
		}
		if p.Version != tc.v || p.KeyARN() != arn || p.KeyVersion != 3 || !bytes.Equal(iv, tc.iv) ||
			!bytes.Equal(p.Header, h) || len(p.Ciphertext) != 20 {
			t.Fatalf("parsed %+v", p)
		}
		// Every flipped header byte is caught by the checksum (or the magic,
		// version, length checks), so a damaged header never names another key.
		for i := range p.Header {
			for _, m := range []byte{1, 0x80, 0xFF} {
				bad := bytes.Clone(b)
				bad[i] ^= m
				if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
					t.Fatalf("version %d, byte %d ^ %#x: %v", tc.v, i, m, err)
				}
			}
		}
		for n := range len(h) + TagSize {
			if _, err := Parse(b[:n]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("version %d truncated to %d: %v", tc.v, n, err)
			}
		}
	}
	for _, bad := range [][]byte{header(3, arn, 1, make([]byte, SaltSize)), header(Version2, arn, 0, make([]byte, SaltSize)), header(Version2, "", 1, make([]byte, SaltSize))} {
		if _, err := Parse(append(bad, make([]byte, TagSize+1)...)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%x: %v", bad, err)
		}
	}
}

// FuzzParseBlob: Parse never panics, and whatever it accepts re-encodes to the
// same bytes.
func FuzzParseBlob(f *testing.F) {
	f.Add(append(header(Version1, arn, 3, make([]byte, NonceSize)), make([]byte, TagSize)...))
	f.Add(append(header(Version2, arn, 3, make([]byte, SaltSize)), make([]byte, TagSize+1)...))
	f.Add([]byte{Magic, Version2, 0, 1, 'a'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v", err)
			}
			return
		}
		iv := p.Nonce
		if p.Version == Version2 {
			iv = p.Salt
		}
		h := header(p.Version, p.KeyARN(), p.KeyVersion, iv)
		if !bytes.Equal(h, p.Header) || len(p.Ciphertext) < TagSize || !bytes.Equal(append(bytes.Clone(h), p.Ciphertext...), b) {
			t.Fatalf("accepted blob does not re-encode")
		}
		// Opening it under some key fails cleanly (it authenticates only by chance).
		if _, err := Open(testKey(t, make([]byte, 32)), p, nil); err != nil && !errors.Is(err, ErrAuth) {
			t.Fatalf("Open: %v", err)
		}
	})
}

func TestSealOpen(t *testing.T) {
	keyBytes := bytes.Repeat([]byte{7}, 32)
	key, other := testKey(t, keyBytes), testKey(t, bytes.Repeat([]byte{8}, 32))
	for _, ec := range []map[string]string{nil, {"a": "b"}, {"ab": "c"}, {"k1": "v1", "k2": "v2", "é": "ü", "1": "", "2": "", "3": "", "4": "", "5": "", "6": ""}} {
		for _, pt := range [][]byte{nil, {1}, bytes.Repeat([]byte{2}, 4096)} {
			b, err := Seal(key, arn, 2, pt, ec)
			if err != nil {
				t.Fatal(err)
			}
			if cap(b) != len(b) {
				t.Fatalf("Seal leaves %d bytes of capacity past the blob", cap(b)-len(b))
			}
			p, err := Parse(b)
			if err != nil || p.Version != Version2 || p.KeyVersion != 2 || p.KeyARN() != arn {
				t.Fatalf("Parse: %+v %v", p, err)
			}
			got, err := Open(key, p, ec)
			if err != nil || got == nil || !bytes.Equal(got, pt) {
				t.Fatalf("Open: %v", err)
			}
			if _, err := Open(key, p, map[string]string{"a": "c"}); !errors.Is(err, ErrAuth) {
				t.Fatalf("other context: %v", err)
			}
			if _, err := Open(other, p, ec); !errors.Is(err, ErrAuth) {
				t.Fatalf("other key: %v", err)
			}
			// The key is the blob's own: not the backing key, as version 1 had it.
			if _, err := testGCM(t, keyBytes).Open(nil, make([]byte, NonceSize), p.Ciphertext, append(bytes.Clone(p.Header), backends.EncodeEncryptionContext(ec)...)); err == nil {
				t.Fatal("a version 2 blob opens under the backing key itself")
			}
		}
	}
	a, _ := Seal(key, arn, 1, []byte("same"), nil)
	b, _ := Seal(key, arn, 1, []byte("same"), nil)
	pa, _ := Parse(a)
	pb, _ := Parse(b)
	if bytes.Equal(pa.Salt, pb.Salt) || bytes.Equal(pa.Ciphertext, pb.Ciphertext) {
		t.Fatal("two blobs of one plaintext share a salt or a ciphertext")
	}
	if _, err := Seal(key, "", 1, nil, nil); err == nil {
		t.Fatal("Seal without a key ARN")
	}
	if _, err := Open(key, &Blob{Version: Version2, Ciphertext: make([]byte, TagSize-1)}, nil); !errors.Is(err, ErrAuth) {
		t.Fatalf("short ciphertext: %v", err)
	}
}

// TestVersion2Layout builds a version 2 blob by hand from the documented
// derivation (HKDF-SHA256-Expand of the backing key with the label and the salt:
// 32 bytes of key, 12 of nonce) and opens it.
func TestVersion2Layout(t *testing.T) {
	key := bytes.Repeat([]byte{5}, 32)
	salt := bytes.Repeat([]byte{6}, SaltSize)
	ec := map[string]string{"tenant": "acme"}
	okm, err := hkdf.Expand(sha256.New, key, "keyport local blob v2"+string(salt), 44)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := aes.NewCipher(okm[:32])
	g, _ := cipher.NewGCM(blk)
	h := header(Version2, arn, 4, salt)
	blob := g.Seal(bytes.Clone(h), okm[32:], []byte("by hand"), append(bytes.Clone(h), backends.EncodeEncryptionContext(ec)...))
	p, err := Parse(blob)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Open(testKey(t, key), p, ec)
	if err != nil || string(got) != "by hand" {
		t.Fatalf("Open: %q %v", got, err)
	}
}

// TestVersion1Vectors: blobs written by the code before issue 9 (testdata) still
// decrypt, under the backing key or its cached cipher, and only with their
// context.
func TestVersion1Vectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/blobs-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	var vs []struct {
		Material  string            `json:"material"`
		ARN       string            `json:"arn"`
		Version   uint32            `json:"version"`
		Context   map[string]string `json:"context"`
		Plaintext string            `json:"plaintext"`
		Blob      string            `json:"blob"`
	}
	if err := json.Unmarshal(raw, &vs); err != nil || len(vs) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	for i, v := range vs {
		key, _ := hex.DecodeString(v.Material)
		blob, _ := hex.DecodeString(v.Blob)
		want, _ := hex.DecodeString(v.Plaintext)
		p, err := Parse(blob)
		if err != nil || p.Version != Version1 || p.KeyARN() != v.ARN || p.KeyVersion != v.Version {
			t.Fatalf("vector %d: %+v %v", i, p, err)
		}
		bk := testKey(t, key)
		got, err := Open(bk, p, v.Context)
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("vector %d: %x %v", i, got, err)
		}
		if _, err := Open(bk, p, map[string]string{"x": "y"}); !errors.Is(err, ErrAuth) {
			t.Fatalf("vector %d under another context: %v", i, err)
		}
		bad := bytes.Clone(blob)
		bad[len(bad)-1] ^= 1
		pb, _ := Parse(bad)
		if _, err := Open(bk, pb, v.Context); !errors.Is(err, ErrAuth) {
			t.Fatalf("vector %d with a flipped tag: %v", i, err)
		}
	}
}
