// Package blob is the codec of the ciphertext blobs of backends/local.
//
// A blob is versioned and self-describing:
//
//	offset  size  field
//	0       1     magic 0x6B ('k')
//	1       1     format version (1)
//	2       2     length n of the key ARN, big-endian (1..256)
//	4       n     key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID)
//	4+n     4     backing-key version, big-endian (>= 1)
//	8+n     12    AES-256-GCM nonce
//	20+n    4     CRC-32C of the bytes before it
//	24+n    ...   AES-256-GCM ciphertext and 16-byte tag
//
// The header is every byte before the ciphertext. The additional authenticated data
// is the header followed by backends.EncodeEncryptionContext of the encryption
// context, so the key, the version and the context are all bound. The CRC-32C lets a
// damaged header be told apart from a blob of a key the service does not hold: a
// blob that fails it is InvalidCiphertext, whatever key it seems to name.
package blob

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"slices"
	"strings"
)

// Format constants.
const (
	Magic      = 0x6B
	Version1   = 1
	NonceSize  = 12
	TagSize    = 16
	MaxARNLen  = 256
	fixedBytes = 2 + 2 + 4 + NonceSize + 4
)

// ErrMalformed is the error of Parse for anything that is not a well-formed blob.
var ErrMalformed = errors.New("not a well-formed keyport local ciphertext blob")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Blob is a parsed blob. ARN, Nonce, Header and Ciphertext alias the parsed
// bytes.
type Blob struct {
	// ARN is the key ARN, as bytes (KeyARN returns it as a string).
	ARN        []byte
	KeyVersion uint32
	Nonce      []byte
	// Header is every byte before the ciphertext: the first part of the AAD.
	Header []byte
	// Ciphertext is the GCM ciphertext with its tag.
	Ciphertext []byte
}

// Header returns the header of a blob for keyARN, version and nonce.
func Header(keyARN string, version uint32, nonce []byte) ([]byte, error) {
	if len(keyARN) == 0 || len(keyARN) > MaxARNLen || version == 0 || len(nonce) != NonceSize {
		return nil, ErrMalformed
	}
	h := make([]byte, 0, fixedBytes+len(keyARN))
	h = append(h, Magic, Version1)
	h = binary.BigEndian.AppendUint16(h, uint16(len(keyARN)))
	h = append(h, keyARN...)
	h = binary.BigEndian.AppendUint32(h, version)
	h = append(h, nonce...)
	h = binary.BigEndian.AppendUint32(h, crc32.Checksum(h, castagnoli))
	return h, nil
}

// AAD returns the additional authenticated data for header and the encoded
// encryption context ec.
func AAD(header, ec []byte) []byte {
	a := make([]byte, 0, len(header)+len(ec))
	return append(append(a, header...), ec...)
}

// KeyARN returns the key ARN the blob names.
func (b *Blob) KeyARN() string { return string(b.ARN) }

// Parse parses a blob. It checks the structure and the header checksum, never the
// ciphertext (that needs the key). Any failure is ErrMalformed.
func Parse(b []byte) (*Blob, error) {
	var out Blob
	if err := ParseInto(&out, b); err != nil {
		return nil, err
	}
	return &out, nil
}

// ParseInto is Parse into a Blob of the caller's.
func ParseInto(out *Blob, b []byte) error {
	if len(b) < fixedBytes+1+TagSize || b[0] != Magic || b[1] != Version1 {
		return ErrMalformed
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n == 0 || n > MaxARNLen || len(b) < fixedBytes+n+TagSize {
		return ErrMalformed
	}
	hl := fixedBytes + n
	sum := binary.BigEndian.Uint32(b[hl-4 : hl])
	if crc32.Checksum(b[:hl-4], castagnoli) != sum {
		return ErrMalformed
	}
	p := 4 + n
	*out = Blob{
		ARN:        b[4:p:p],
		KeyVersion: binary.BigEndian.Uint32(b[p : p+4]),
		Nonce:      b[p+4 : p+4+NonceSize : p+4+NonceSize],
		Header:     b[:hl:hl],
		Ciphertext: b[hl:],
	}
	if out.KeyVersion == 0 {
		*out = Blob{}
		return ErrMalformed
	}
	return nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Seal encrypts plaintext with AES-256-GCM under key (version version of the key
// keyARN), binding encodedContext (backends.EncodeEncryptionContext), and returns
// the blob.
func Seal(key []byte, keyARN string, version uint32, plaintext, encodedContext []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	h, err := Header(keyARN, version, nonce)
	if err != nil {
		return nil, err
	}
	return g.Seal(h, nonce, plaintext, AAD(h, encodedContext)), nil
}

// Open decrypts a parsed blob under key with encodedContext. It returns a non-nil
// plaintext (empty for an empty one), or ErrAuth.
func Open(key []byte, b *Blob, encodedContext []byte) ([]byte, error) {
	g, err := gcm(key)
	if err != nil {
		return nil, err
	}
	pt, err := g.Open(make([]byte, 0, len(b.Ciphertext)), b.Nonce, b.Ciphertext, AAD(b.Header, encodedContext))
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// ErrAuth is the error of Open for a blob or context that does not authenticate.
var ErrAuth = errors.New("the ciphertext or its encryption context does not authenticate")

// AppendContext appends to dst the encoding of the encryption context ec that
// backends.EncodeEncryptionContext returns (nothing for an empty context), without
// allocating for contexts of up to 8 pairs beyond dst's growth.
func AppendContext(dst []byte, ec map[string]string) []byte {
	var small [8]pair
	return appendPairs(dst, sortedPairs(ec, &small))
}

// pair is one encryption context entry.
type pair struct{ k, v string }

// sortedPairs returns the entries of ec in ascending byte order of their keys,
// in small when they fit.
func sortedPairs(ec map[string]string, small *[8]pair) []pair {
	ps := small[:0]
	if len(ec) > len(small) {
		ps = make([]pair, 0, len(ec))
	}
	for k, v := range ec {
		ps = append(ps, pair{k, v})
	}
	slices.SortFunc(ps, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	return ps
}

// pairsLen returns the length of the encoding of ps.
func pairsLen(ps []pair) int {
	if len(ps) == 0 {
		return 0
	}
	n := 4
	for _, p := range ps {
		n += 8 + len(p.k) + len(p.v)
	}
	return n
}

// appendPairs appends the encoding of the sorted entries ps to dst.
func appendPairs(dst []byte, ps []pair) []byte {
	if len(ps) == 0 {
		return dst
	}
	dst = slices.Grow(dst, pairsLen(ps))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(ps)))
	for _, p := range ps {
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.k)))
		dst = append(dst, p.k...)
		dst = binary.BigEndian.AppendUint32(dst, uint32(len(p.v)))
		dst = append(dst, p.v...)
	}
	return dst
}

// SealWith is Seal with the AES-256-GCM g of the key, and the encryption context
// as a map: the blob and the additional authenticated data are built in one
// allocation (the AAD sits past the blob's capacity, where no append reaches).
func SealWith(g cipher.AEAD, keyARN string, version uint32, plaintext []byte, ec map[string]string) ([]byte, error) {
	if len(keyARN) == 0 || len(keyARN) > MaxARNLen || version == 0 {
		return nil, ErrMalformed
	}
	var small [8]pair
	ps := sortedPairs(ec, &small)
	hl := fixedBytes + len(keyARN)
	size := hl + len(plaintext) + TagSize
	buf := make([]byte, hl, size+hl+pairsLen(ps))
	buf[0], buf[1] = Magic, Version1
	binary.BigEndian.PutUint16(buf[2:], uint16(len(keyARN)))
	p := 4 + copy(buf[4:], keyARN)
	binary.BigEndian.PutUint32(buf[p:], version)
	nonce := buf[p+4 : p+4+NonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(buf[hl-4:], crc32.Checksum(buf[:hl-4], castagnoli))
	aad := appendPairs(append(buf[size:size], buf[:hl]...), ps)
	return g.Seal(buf[:hl:size], nonce, plaintext, aad), nil
}

// OpenWith is Open with the AES-256-GCM g of the key, and the encryption context
// as a map.
func OpenWith(g cipher.AEAD, b *Blob, ec map[string]string) ([]byte, error) {
	n := len(b.Ciphertext) - TagSize
	if n < 0 {
		return nil, ErrAuth
	}
	var small [8]pair
	ps := sortedPairs(ec, &small)
	buf := make([]byte, n, n+len(b.Header)+pairsLen(ps))
	aad := appendPairs(append(buf[n:n], b.Header...), ps)
	pt, err := g.Open(buf[:0:n], b.Nonce, b.Ciphertext, aad)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}
