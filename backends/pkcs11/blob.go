package pkcs11

import (
	"encoding/binary"
	"strings"

	"github.com/keyport/keyport/backends"
)

// Blob formats: the first byte of every CiphertextBlob (see the package
// documentation).
const (
	formatAESGCM        byte = 0x01 // AES-256-GCM under a secret key
	formatRSAOAEPSHA256 byte = 0x02 // RSA-OAEP with SHA-256 (and MGF1-SHA-256) under a key pair
	formatRSAOAEPSHA1   byte = 0x03 // RSA-OAEP with SHA-1 (and MGF1-SHA-1) under a key pair
)

const (
	gcmIVLen  = 12 // bytes of a GCM IV
	gcmTagLen = 16 // bytes of a GCM tag
)

// blob is a parsed CiphertextBlob.
type blob struct {
	format byte
	keyID  string // canonical URI of the key that made it
	iv     []byte // GCM IV; nil for RSA
	ct     []byte // ciphertext (with the GCM tag appended)
	header []byte // the bytes before ct: format, key length, key, IV
}

// header returns the bytes that precede the ciphertext of a blob of format f
// under keyID with iv.
func header(f byte, keyID string, iv []byte) []byte {
	h := make([]byte, 0, 3+len(keyID)+len(iv))
	h = append(h, f)
	h = binary.BigEndian.AppendUint16(h, uint16(len(keyID)))
	h = append(h, keyID...)
	return append(h, iv...)
}

// gcmAAD is the additional authenticated data of an AES-GCM blob: its header,
// then the encryption context in keyport's unambiguous encoding. The header's
// length is fixed by its own key-length field, so the two never run together.
func gcmAAD(h []byte, ec map[string]string) []byte {
	return append(append([]byte(nil), h...), backends.EncodeEncryptionContext(ec)...)
}

// CiphertextKeyID returns the canonical URI of the key that made ciphertext,
// read from it without decrypting it (and so without cgo).
func (b *Backend) CiphertextKeyID(ciphertext []byte) (string, error) {
	bl, err := parseBlob("Decrypt", "", ciphertext)
	if err != nil {
		return "", err
	}
	return bl.keyID, nil
}

// parseBlob parses b. A blob that is not one of this package's is an error
// matching backends.ErrInvalidCiphertext.
func parseBlob(op, keyID string, b []byte) (*blob, error) {
	bad := func(why string) (*blob, error) {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, keyID, "not a pkcs11 ciphertext blob: %s", why)
	}
	if len(b) < 3 {
		return bad("shorter than its header")
	}
	f := b[0]
	n := int(binary.BigEndian.Uint16(b[1:3]))
	if len(b) < 3+n {
		return bad("shorter than its key reference")
	}
	id := string(b[3 : 3+n])
	if !strings.HasPrefix(id, Scheme+":") {
		return bad("the key reference is not a pkcs11 URI")
	}
	rest := b[3+n:]
	p := &blob{format: f, keyID: id}
	switch f {
	case formatAESGCM:
		if len(rest) < gcmIVLen+gcmTagLen {
			return bad("shorter than an IV and a GCM tag")
		}
		p.iv, p.ct = rest[:gcmIVLen], rest[gcmIVLen:]
		p.header = b[:3+n+gcmIVLen]
	case formatRSAOAEPSHA256, formatRSAOAEPSHA1:
		if len(rest) == 0 {
			return bad("no ciphertext")
		}
		p.ct = rest
		p.header = b[:3+n]
	default:
		return bad("unknown format byte")
	}
	return p, nil
}

// formatAlgorithm returns the algorithm of a blob format.
func formatAlgorithm(f byte) backends.Algorithm {
	switch f {
	case formatRSAOAEPSHA256:
		return backends.RSAESOAEPSHA256
	case formatRSAOAEPSHA1:
		return backends.RSAESOAEPSHA1
	}
	return backends.SymmetricDefault
}
