package blob

import (
	"bytes"
	"errors"
	"testing"
)

const arn = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func sample(t testing.TB) []byte {
	h, err := Header(arn, 3, bytes.Repeat([]byte{9}, NonceSize))
	if err != nil {
		t.Fatal(err)
	}
	return append(h, bytes.Repeat([]byte{0xCC}, 20)...)
}

func TestParse(t *testing.T) {
	b := sample(t)
	p, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.KeyARN() != arn || p.KeyVersion != 3 || !bytes.Equal(p.Nonce, bytes.Repeat([]byte{9}, NonceSize)) ||
		len(p.Header) != fixedBytes+len(arn) || len(p.Ciphertext) != 20 {
		t.Fatalf("parsed %+v", p)
	}
	// Every flipped header byte is caught by the checksum (or the magic, version,
	// length checks), so a damaged header never names another key.
	for i := 0; i < len(p.Header); i++ {
		for _, m := range []byte{1, 0x80, 0xFF} {
			bad := bytes.Clone(b)
			bad[i] ^= m
			if _, err := Parse(bad); !errors.Is(err, ErrMalformed) {
				t.Fatalf("byte %d ^ %#x: %v", i, m, err)
			}
		}
	}
	for n := 0; n < len(p.Header)+TagSize; n++ {
		if _, err := Parse(b[:n]); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
}

func TestHeaderRejects(t *testing.T) {
	for _, tc := range []struct {
		arn   string
		v     uint32
		nonce int
	}{{"", 1, NonceSize}, {string(make([]byte, MaxARNLen+1)), 1, NonceSize}, {arn, 0, NonceSize}, {arn, 1, 8}} {
		if _, err := Header(tc.arn, tc.v, make([]byte, tc.nonce)); err == nil {
			t.Fatalf("Header(%d bytes, %d, %d) did not fail", len(tc.arn), tc.v, tc.nonce)
		}
	}
	if got := AAD([]byte("h"), []byte("ec")); string(got) != "hec" {
		t.Fatalf("AAD = %q", got)
	}
}

// FuzzParseBlob: Parse never panics, and whatever it accepts re-encodes to the
// same header.
func FuzzParseBlob(f *testing.F) {
	f.Add(sample(f))
	f.Add([]byte{Magic, Version1, 0, 1, 'a'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v", err)
			}
			return
		}
		h, err := Header(p.KeyARN(), p.KeyVersion, p.Nonce)
		if err != nil || !bytes.Equal(h, p.Header) || len(p.Ciphertext) < TagSize || !bytes.Equal(append(bytes.Clone(h), p.Ciphertext...), b) {
			t.Fatalf("accepted blob does not re-encode: %v", err)
		}
	})
}

func TestSealOpen(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	ec := []byte("encoded context")
	for _, pt := range [][]byte{nil, {1}, bytes.Repeat([]byte{2}, 4096)} {
		b, err := Seal(key, arn, 2, pt, ec)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Parse(b)
		if err != nil || p.KeyVersion != 2 || p.KeyARN() != arn {
			t.Fatalf("Parse: %+v %v", p, err)
		}
		got, err := Open(key, p, ec)
		if err != nil || got == nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open: %v", err)
		}
		if _, err := Open(key, p, []byte("other")); !errors.Is(err, ErrAuth) {
			t.Fatalf("other context: %v", err)
		}
		if _, err := Open(bytes.Repeat([]byte{8}, 32), p, ec); !errors.Is(err, ErrAuth) {
			t.Fatalf("other key: %v", err)
		}
	}
	if _, err := Seal(key[:5], arn, 1, nil, nil); err == nil {
		t.Fatal("Seal with a 5-byte key")
	}
}
