package azurekv

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"hash/crc32"

	"github.com/keyport/keyport/backends"
)

// The ciphertext format. Key Vault's wrapKey returns the wrapped bytes only, so
// the backend frames them with what Decrypt needs and a header check:
//
//	"kpkv"          4 bytes  magic
//	format          1 byte   1
//	algorithm       1 byte   1 = RSA-OAEP-256, 2 = A256KW
//	kid length      2 bytes  big-endian
//	kid             ...      the versioned key identifier that wrapped,
//	                         https://NAME.vault.azure.net/keys/KEY/VERSION
//	header CRC32C   4 bytes  of all the bytes above, big-endian
//	wrapped         ...      Key Vault's wrapKey result
//
// The CRC tells a damaged header (InvalidCiphertext) from a blob of another key
// (IncorrectKey); it is no security measure. What Key Vault wraps is
//
//	SHA-256("keyport azurekv v1" || header || EncodeEncryptionContext(ec)) || plaintext
//
// (padded to a multiple of 8 bytes for A256KW with 1 to 8 bytes of their count).
// The digest is inside the wrapping, so it leaks nothing about the plaintext, and
// RSA-OAEP and AES key wrap are non-malleable, so no one without the unwrap
// permission can make a blob whose digest names another context or header: a
// wrong encryption context, a changed algorithm or key identifier, fails Decrypt.

var magic = []byte("kpkv")

const (
	formatV1   = 1
	algRSAOAEP = 1 // RSA-OAEP-256
	algA256KW  = 2
	digestLen  = sha256.Size
	crcLen     = 4
	minHeader  = 4 + 1 + 1 + 2 + crcLen
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// blob is a parsed ciphertext.
type blob struct {
	alg     byte
	kid     Ref    // with its version
	header  []byte // everything before the wrapped bytes, CRC included
	wrapped []byte
}

var errBlob = errors.New("not a keyport Key Vault ciphertext")

func newHeader(alg byte, kid Ref) []byte {
	id := kid.KID()
	h := make([]byte, 0, minHeader+len(id))
	h = append(h, magic...)
	h = append(h, formatV1, alg)
	h = binary.BigEndian.AppendUint16(h, uint16(len(id)))
	h = append(h, id...)
	return binary.BigEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
}

func parseBlob(b []byte) (*blob, error) {
	if len(b) < minHeader || string(b[:4]) != string(magic) || b[4] != formatV1 {
		return nil, errBlob
	}
	n := int(binary.BigEndian.Uint16(b[6:8]))
	end := 8 + n + crcLen
	if len(b) <= end {
		return nil, errBlob
	}
	if binary.BigEndian.Uint32(b[8+n:end]) != crc32.Checksum(b[:8+n], castagnoli) {
		return nil, errBlob
	}
	if b[5] != algRSAOAEP && b[5] != algA256KW {
		return nil, errBlob
	}
	kid, err := ParseRef(string(b[8 : 8+n]))
	if err != nil || kid.Version == "" || kid.KID() != string(b[8:8+n]) {
		return nil, errBlob
	}
	return &blob{alg: b[5], kid: kid, header: b[:end], wrapped: b[end:]}, nil
}

// digest binds the header and the encryption context.
func digest(header []byte, ec map[string]string) []byte {
	h := sha256.New()
	h.Write([]byte("keyport azurekv v1"))
	h.Write(header)
	h.Write(backends.EncodeEncryptionContext(ec))
	return h.Sum(nil)
}

// payload is what Key Vault wraps: the digest, the plaintext, and for AES key
// wrap the padding. The caller clears it.
func payload(alg byte, d, pt []byte) []byte {
	p := make([]byte, 0, len(d)+len(pt)+8)
	p = append(p, d...)
	p = append(p, pt...)
	if alg == algA256KW {
		n := 8 - len(p)%8
		for i := 0; i < n; i++ {
			p = append(p, byte(n))
		}
	}
	return p
}

// open checks an unwrapped payload against the digest it must carry and returns
// a copy of the plaintext; it clears p.
func open(alg byte, d, p []byte) ([]byte, bool) {
	defer clear(p)
	if len(p) < len(d) || subtle.ConstantTimeCompare(p[:len(d)], d) != 1 {
		return nil, false
	}
	body := p[len(d):]
	if alg == algA256KW {
		if len(body) == 0 {
			return nil, false
		}
		n := int(body[len(body)-1])
		if n < 1 || n > 8 || n > len(body) {
			return nil, false
		}
		for _, c := range body[len(body)-n:] {
			if int(c) != n {
				return nil, false
			}
		}
		body = body[:len(body)-n]
	}
	pt := make([]byte, len(body))
	copy(pt, body)
	return pt, true
}
