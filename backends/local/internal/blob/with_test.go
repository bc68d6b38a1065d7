package blob

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"testing"

	"github.com/keyport/keyport/backends"
)

func testAEAD(t testing.TB, key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// FuzzAppendContext: AppendContext is backends.EncodeEncryptionContext, appended.
func FuzzAppendContext(f *testing.F) {
	f.Add([]byte("a\x00b\x00c\x00d"), []byte("pre"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte("1\x002\x003\x004\x005\x006\x007\x008\x009\x0010\x0011\x0012\x0013\x0014\x0015\x0016\x0017\x0018\x00"), []byte(nil))
	f.Fuzz(func(t *testing.T, pairs, prefix []byte) {
		ec := map[string]string{}
		parts := bytes.Split(pairs, []byte{0})
		for i := 0; i+1 < len(parts); i += 2 {
			ec[string(parts[i])] = string(parts[i+1])
		}
		want := append(bytes.Clone(prefix), backends.EncodeEncryptionContext(ec)...)
		if got := AppendContext(bytes.Clone(prefix), ec); !bytes.Equal(got, want) {
			t.Fatalf("AppendContext = %x, want %x", got, want)
		}
		var small [8]pair
		if n := pairsLen(sortedPairs(ec, &small)); n != len(want)-len(prefix) {
			t.Fatalf("pairsLen = %d, encoding is %d bytes", n, len(want)-len(prefix))
		}
	})
}

// TestSealWithOpenWith: the AEAD forms read and write the same blobs as Seal and
// Open, and bind the context the same way.
func TestSealWithOpenWith(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	g := testAEAD(t, key)
	for _, ec := range []map[string]string{nil, {"a": "b"}, {"ab": "c"}, {"k1": "v1", "k2": "v2", "é": "ü"}} {
		enc := backends.EncodeEncryptionContext(ec)
		for _, pt := range [][]byte{nil, {1}, bytes.Repeat([]byte{2}, 4096)} {
			b, err := SealWith(g, arn, 2, pt, ec)
			if err != nil {
				t.Fatal(err)
			}
			if cap(b) != len(b) {
				t.Fatalf("SealWith leaves %d bytes of capacity past the blob", cap(b)-len(b))
			}
			p, err := Parse(b)
			if err != nil || p.KeyVersion != 2 || p.KeyARN() != arn {
				t.Fatalf("Parse: %+v %v", p, err)
			}
			if got, err := Open(key, p, enc); err != nil || !bytes.Equal(got, pt) {
				t.Fatalf("Open of a SealWith blob: %v", err)
			}
			old, err := Seal(key, arn, 2, pt, enc)
			if err != nil {
				t.Fatal(err)
			}
			po, _ := Parse(old)
			if got, err := OpenWith(g, po, ec); err != nil || got == nil || !bytes.Equal(got, pt) {
				t.Fatalf("OpenWith of a Seal blob: %v", err)
			}
			if _, err := OpenWith(g, p, map[string]string{"a": "c"}); !errors.Is(err, ErrAuth) {
				t.Fatalf("other context: %v", err)
			}
			if _, err := OpenWith(testAEAD(t, bytes.Repeat([]byte{8}, 32)), p, ec); !errors.Is(err, ErrAuth) {
				t.Fatalf("other key: %v", err)
			}
		}
	}
	if _, err := OpenWith(g, &Blob{Ciphertext: make([]byte, TagSize-1)}, nil); !errors.Is(err, ErrAuth) {
		t.Fatalf("short ciphertext: %v", err)
	}
	if _, err := SealWith(g, "", 1, nil, nil); err == nil {
		t.Fatal("SealWith without a key ARN")
	}
}
