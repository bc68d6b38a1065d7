package pkcs11

import (
	"bytes"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
)

func TestBlobLayout(t *testing.T) {
	const key = "pkcs11:token=t;object=k"
	iv := bytes.Repeat([]byte{0xee}, gcmIVLen)
	h := header(formatAESGCM, key, iv)
	want := append(append([]byte{0x01, 0, byte(len(key))}, key...), iv...)
	if !bytes.Equal(h, want) {
		t.Fatalf("header = %x, want %x", h, want)
	}
	ct := bytes.Repeat([]byte{0x11}, 5+gcmTagLen)
	b, err := parseBlob("Decrypt", "", append(bytes.Clone(h), ct...))
	if err != nil {
		t.Fatal(err)
	}
	if b.format != formatAESGCM || b.keyID != key || !bytes.Equal(b.iv, iv) || !bytes.Equal(b.ct, ct) || !bytes.Equal(b.header, h) {
		t.Errorf("parseBlob = %+v", b)
	}
	aad := gcmAAD(h, map[string]string{"a": "b"})
	if !bytes.Equal(aad, append(bytes.Clone(h), backends.EncodeEncryptionContext(map[string]string{"a": "b"})...)) {
		t.Errorf("gcmAAD is not the header then the encoded context")
	}
	if !bytes.Equal(gcmAAD(h, nil), h) {
		t.Errorf("gcmAAD of an empty context is not the header alone")
	}
	r, err := parseBlob("Decrypt", "", append(header(formatRSAOAEPSHA1, key, nil), 1, 2, 3))
	if err != nil || r.iv != nil || formatAlgorithm(r.format) != backends.RSAESOAEPSHA1 || !bytes.Equal(r.ct, []byte{1, 2, 3}) {
		t.Errorf("parseBlob of an RSA blob = %+v, %v", r, err)
	}
}

func TestParseBlobRefuses(t *testing.T) {
	const key = "pkcs11:object=k"
	good := append(header(formatAESGCM, key, make([]byte, gcmIVLen)), make([]byte, gcmTagLen)...)
	for name, b := range map[string][]byte{
		"Empty":          {},
		"TwoBytes":       {1, 0},
		"ShortKey":       {1, 0, 200, 'p'},
		"NotPKCS11":      append(header(formatAESGCM, "vault://x", make([]byte, gcmIVLen)), make([]byte, gcmTagLen)...),
		"NoTag":          good[:len(good)-1],
		"UnknownFormat":  append([]byte{9}, good[1:]...),
		"RSAWithoutData": header(formatRSAOAEPSHA256, key, nil),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := parseBlob("Decrypt", "k", b)
			kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "parseBlob")
		})
	}
}
