// Package blob is the codec of the ciphertext blobs of backends/local.
//
// A blob is versioned and self-describing. Format version 2, which Seal writes:
//
//	offset  size  field
//	0       1     magic 0x6B ('k')
//	1       1     format version (2)
//	2       2     length n of the key ARN, big-endian (1..256)
//	4       n     key ARN (arn:PARTITION:kms:REGION:ACCOUNT:key/ID)
//	4+n     4     backing-key version, big-endian (>= 1)
//	8+n     32    salt, random
//	40+n    4     CRC-32C of the bytes before it
//	44+n    ...   AES-256-GCM ciphertext and 16-byte tag
//
// The AES-256-GCM key and nonce of a version 2 blob are derived for that blob
// alone: HKDF-SHA256-Expand (RFC 5869) of the backing key with the info
// "keyport local blob v2" followed by the blob's salt gives 44 bytes, the key and
// then the nonce. (The backing key is 32 random bytes, a pseudorandom key
// already, so the Extract step is skipped, as RFC 5869 section 3.3 allows.) So no
// two blobs share a key (as AWS KMS derives a key per request), and the number of
// blobs a backing key seals has no bound of its own; the 256-bit salt makes a
// repeated key as likely as guessing it.
//
// Format version 1 (keyport before issue 9; read, never written) has a random
// 12-byte AES-256-GCM nonce where version 2 has the salt, and uses the backing
// key itself: random 96-bit nonces under one key are safe for about 2^32 blobs,
// a bound nothing enforced.
//
// In both versions the header is every byte before the ciphertext, and the
// additional authenticated data is the header followed by
// backends.EncodeEncryptionContext of the encryption context, so the key, the
// version and the context are all bound. The CRC-32C lets a damaged header be
// told apart from a blob of a key the service does not hold: a blob that fails it
// is InvalidCiphertext, whatever key it seems to name.
package blob

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
	"hash/crc32"
	"slices"
	"strings"
	"sync"
)

// Format constants.
const (
	Magic     = 0x6B
	Version1  = 1
	Version2  = 2
	NonceSize = 12 // version 1's nonce
	SaltSize  = 32 // version 2's salt
	TagSize   = 16
	MaxARNLen = 256
	// label is the HKDF info of version 2.
	label = "keyport local blob v2"
)

// fixedBytes returns the length of the header of a blob of version v, less the ARN.
func fixedBytes(v byte) int {
	if v == Version1 {
		return 2 + 2 + 4 + NonceSize + 4
	}
	return 2 + 2 + 4 + SaltSize + 4
}

// ErrMalformed is the error of Parse for anything that is not a well-formed blob.
var ErrMalformed = errors.New("not a well-formed keyport local ciphertext blob")

// ErrAuth is the error of Open for a blob or context that does not authenticate.
var ErrAuth = errors.New("the ciphertext or its encryption context does not authenticate")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Blob is a parsed blob. ARN, Nonce, Salt, Header and Ciphertext alias the parsed
// bytes.
type Blob struct {
	// Version is the format version (1 or 2).
	Version byte
	// ARN is the key ARN, as bytes (KeyARN returns it as a string).
	ARN        []byte
	KeyVersion uint32
	// Nonce is version 1's AES-GCM nonce; Salt version 2's salt.
	Nonce, Salt []byte
	// Header is every byte before the ciphertext: the first part of the AAD.
	Header []byte
	// Ciphertext is the GCM ciphertext with its tag.
	Ciphertext []byte
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
	if len(b) < 2 || b[0] != Magic || (b[1] != Version1 && b[1] != Version2) {
		return ErrMalformed
	}
	v := b[1]
	fixed := fixedBytes(v)
	if len(b) < fixed+1+TagSize {
		return ErrMalformed
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if n == 0 || n > MaxARNLen || len(b) < fixed+n+TagSize {
		return ErrMalformed
	}
	hl := fixed + n
	sum := binary.BigEndian.Uint32(b[hl-4 : hl])
	if crc32.Checksum(b[:hl-4], castagnoli) != sum {
		return ErrMalformed
	}
	p := 4 + n
	*out = Blob{
		Version:    v,
		ARN:        b[4:p:p],
		KeyVersion: binary.BigEndian.Uint32(b[p : p+4]),
		Header:     b[:hl:hl],
		Ciphertext: b[hl:],
	}
	if v == Version1 {
		out.Nonce = b[p+4 : p+4+NonceSize : p+4+NonceSize]
	} else {
		out.Salt = b[p+4 : p+4+SaltSize : p+4+SaltSize]
	}
	if out.KeyVersion == 0 {
		*out = Blob{}
		return ErrMalformed
	}
	return nil
}

// Key is a backing key made ready for blobs once: version 1's AES-256-GCM over
// the key itself, and version 2's HMAC-SHA256 keyed with it. It is safe for
// concurrent use.
type Key struct {
	material []byte
	v1       cipher.AEAD
	kdfs     sync.Pool // of *kdf keyed with material
}

// kdf is an HMAC-SHA256 keyed with a backing key, and room for the messages and
// output of a derivation.
type kdf struct {
	h   hash.Hash
	msg [sha256.Size + len(label) + SaltSize + 1]byte
	out [2 * sha256.Size]byte
}

// NewKey returns the Key of a 32-byte backing key, which it keeps (not a copy):
// wiping the material wipes the key.
func NewKey(material []byte) (*Key, error) {
	if len(material) != 32 {
		return nil, errors.New("a backing key is 32 bytes")
	}
	g, err := gcm(material)
	if err != nil {
		return nil, err
	}
	k := &Key{material: material, v1: g}
	k.kdfs.New = func() any { return &kdf{h: hmac.New(sha256.New, k.material)} }
	return k, nil
}

// derive returns the AES-256-GCM and nonce of a version 2 blob with salt.
//
// It computes HKDF-SHA256-Expand by hand, with a keyed HMAC kept per backing key:
// crypto/hkdf builds the HMAC anew for every call, which costs several times the
// rest of a blob's encryption. TestDeriveIsHKDF checks it against crypto/hkdf.
func (k *Key) derive(salt []byte) (cipher.AEAD, []byte, error) {
	d := k.kdfs.Get().(*kdf)
	defer k.kdfs.Put(d)
	defer clear(d.out[:])
	// T(1) = HMAC(PRK, info | 0x01); T(2) = HMAC(PRK, T(1) | info | 0x02).
	n := copy(d.msg[sha256.Size:], label)
	n += copy(d.msg[sha256.Size+n:], salt)
	d.msg[sha256.Size+n] = 1
	d.h.Reset()
	d.h.Write(d.msg[sha256.Size : sha256.Size+n+1])
	d.h.Sum(d.out[:0])
	copy(d.msg[:sha256.Size], d.out[:sha256.Size])
	d.msg[sha256.Size+n] = 2
	d.h.Reset()
	d.h.Write(d.msg[:sha256.Size+n+1])
	d.h.Sum(d.out[:sha256.Size])
	clear(d.msg[:sha256.Size])
	b, err := aes.NewCipher(d.out[:32])
	if err != nil {
		return nil, nil, err
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, nil, err
	}
	return g, append([]byte(nil), d.out[32:32+NonceSize]...), nil
}

// Seal encrypts plaintext in format version 2 under a key derived from the
// backing key k (version version of the key keyARN) and a fresh salt,
// binding the encryption context ec, and returns the blob. The blob and the
// additional authenticated data are built in one allocation (the AAD sits past
// the blob's capacity, where no append reaches).
func Seal(k *Key, keyARN string, version uint32, plaintext []byte, ec map[string]string) ([]byte, error) {
	if len(keyARN) == 0 || len(keyARN) > MaxARNLen || version == 0 {
		return nil, ErrMalformed
	}
	var small [8]pair
	ps := sortedPairs(ec, &small)
	hl := fixedBytes(Version2) + len(keyARN)
	size := hl + len(plaintext) + TagSize
	buf := make([]byte, hl, size+hl+pairsLen(ps))
	buf[0], buf[1] = Magic, Version2
	binary.BigEndian.PutUint16(buf[2:], uint16(len(keyARN)))
	p := 4 + copy(buf[4:], keyARN)
	binary.BigEndian.PutUint32(buf[p:], version)
	salt := buf[p+4 : p+4+SaltSize]
	if _, err := rand.Read(salt); err != nil {
		return nil, err
	}
	binary.BigEndian.PutUint32(buf[hl-4:], crc32.Checksum(buf[:hl-4], castagnoli))
	g, nonce, err := k.derive(salt)
	if err != nil {
		return nil, err
	}
	aad := appendPairs(append(buf[size:size], buf[:hl]...), ps)
	return g.Seal(buf[:hl:size], nonce, plaintext, aad), nil
}

// Open decrypts a parsed blob with the encryption context ec: a version 2 blob
// under the key derived from k and its salt, a version 1 blob under k itself. It
// returns a non-nil plaintext (empty for an empty one), or ErrAuth.
func Open(k *Key, b *Blob, ec map[string]string) ([]byte, error) {
	n := len(b.Ciphertext) - TagSize
	if n < 0 {
		return nil, ErrAuth
	}
	var g cipher.AEAD
	var nonce []byte
	var err error
	switch b.Version {
	case Version2:
		g, nonce, err = k.derive(b.Salt)
	case Version1:
		g, nonce = k.v1, b.Nonce
	default:
		return nil, ErrMalformed
	}
	if err != nil {
		return nil, ErrAuth
	}
	var small [8]pair
	ps := sortedPairs(ec, &small)
	buf := make([]byte, n, n+len(b.Header)+pairsLen(ps))
	aad := appendPairs(append(buf[n:n], b.Header...), ps)
	pt, err := g.Open(buf[:0:n], nonce, b.Ciphertext, aad)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

func gcm(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

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
