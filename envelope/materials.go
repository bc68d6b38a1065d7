// Package envelope reads and writes messages in the AWS Encryption SDK message
// format (v1 and v2; keyport writes v2 with the committing suites), in memory and as
// streams, over keyrings that wrap one data key for one or more keys of any backend.
//
// Encrypt and Decrypt work on byte slices (AppendEncrypt and AppendDecrypt reuse a
// buffer); NewEncrypter and NewDecrypter work on streams. Messages are framed
// (DefaultFrameLength 4096) and use suite 0x0578 (AES-256-GCM, HKDF-SHA512, key
// commitment, ECDSA P-384) unless EncryptOptions say otherwise; every one of the
// eleven ESDK suites is read, as the CommitmentPolicy allows.
//
// Frames are independent, so with Workers > 1 (or AllCores) they are sealed and
// opened on several goroutines, a few frames per worker at a time; the output does
// not depend on the number of workers. The default is sequential.
//
// Streams on all cores: set EncryptOptions.Workers or DecryptOptions.Workers to
// AllCores. The Encrypter then seals batches of 1 MiB on every core while it
// reads the next (a Write of more than a batch is sealed straight from the
// caller's slice), and writes them in order; the Decrypter's workers each read
// a batch (in turn) and decrypt it while the others do the same. Memory stays at
// a few MiB per worker whatever the length of the stream. To encrypt or decrypt a
// file, io.Copy between the *os.File and the Encrypter or Decrypter: the
// Encrypter implements io.ReaderFrom and the Decrypter io.WriterTo, and both
// read and write a batch per call (buffering around them adds nothing).
// EncryptOptions.PlaintextLength (the file's size) lets a caching keyring reuse
// data keys for streams.
//
// Security properties: the header is authenticated (and, for committing suites,
// the data key checked against the commit key) before any plaintext is produced.
// The streaming decryptor releases a frame's plaintext only once the frame is
// authenticated, and the final frame's only once the signature (signed suites)
// verifies and the input has ended. Errors follow the backends taxonomy:
// backends.ErrInvalidCiphertext for a malformed, truncated, reordered or tampered
// message or a wrong encryption context, backends.ErrIncorrectKey when no keyring
// could unwrap the data key (or the keyring's own error), backends.ErrUnsupported
// for a suite the commitment policy refuses, backends.ErrInvalidArgument for bad
// options.
//
// Package envelope/rewrap moves a message to other wrapping keys or another
// encryption context without decrypting its body (read its security note).
package envelope

import (
	"context"
	"reflect"
	"unsafe"

	"github.com/keyport/keyport/envelope/internal/format"
)

// SuiteID is an algorithm suite ID of the AWS Encryption SDK message format (for
// example 0x0478: AES-256-GCM, HKDF-SHA512, key commitment).
type SuiteID uint16

// Algorithm suites, by their ESDK names.
const (
	SuiteAES128GCMIV12Tag16NoKDF               SuiteID = 0x0014
	SuiteAES192GCMIV12Tag16NoKDF               SuiteID = 0x0046
	SuiteAES256GCMIV12Tag16NoKDF               SuiteID = 0x0078
	SuiteAES128GCMIV12Tag16HKDFSHA256          SuiteID = 0x0114
	SuiteAES192GCMIV12Tag16HKDFSHA256          SuiteID = 0x0146
	SuiteAES256GCMIV12Tag16HKDFSHA256          SuiteID = 0x0178
	SuiteAES128GCMIV12Tag16HKDFSHA256ECDSAP256 SuiteID = 0x0214
	SuiteAES192GCMIV12Tag16HKDFSHA384ECDSAP384 SuiteID = 0x0346
	SuiteAES256GCMIV12Tag16HKDFSHA384ECDSAP384 SuiteID = 0x0378
	SuiteAES256GCMHKDFSHA512CommitKey          SuiteID = 0x0478
	SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384 SuiteID = 0x0578
)

// DataKeyLen returns the length in bytes of the suite's data key (16, 24 or 32), or
// 0 for an unknown suite.
func (s SuiteID) DataKeyLen() int {
	switch s {
	case 0x0014, 0x0114, 0x0214:
		return 16
	case 0x0046, 0x0146, 0x0346:
		return 24
	case 0x0078, 0x0178, 0x0378, 0x0478, 0x0578:
		return 32
	}
	return 0
}

// EncryptedDataKey is one wrapped copy of a message's data key, as stored in the
// message header.
type EncryptedDataKey struct {
	// ProviderID names the kind of key that wrapped it ("aws-kms", a raw keyring's
	// key namespace, keyport's own provider IDs for other services).
	ProviderID string
	// ProviderInfo names the key within the provider (the key ARN for aws-kms).
	ProviderInfo []byte
	// Ciphertext is the wrapped data key.
	Ciphertext []byte
}

// EncryptionMaterials are what keyrings work on when a message is encrypted. A
// keyring that finds no PlaintextDataKey makes one (it is then the generator); every
// keyring appends the data key wrapped under its key(s) to EncryptedDataKeys.
type EncryptionMaterials struct {
	Suite SuiteID
	// EncryptionContext is the whole context: the pairs stored in the header and
	// the required ones that are only authenticated.
	EncryptionContext map[string]string
	// RequiredEncryptionContextKeys are the keys of EncryptionContext that are
	// authenticated but not stored in the header.
	RequiredEncryptionContextKeys []string
	// MaxPlaintextLength is the most plaintext, in bytes, the data key will
	// encrypt, or 0 when it is not known (a stream whose length was not
	// announced: EncryptOptions.PlaintextLength). A caching keyring needs it to
	// keep its limit on bytes per data key, and caches nothing without it.
	MaxPlaintextLength int64
	PlaintextDataKey   []byte
	EncryptedDataKeys  []EncryptedDataKey

	ec   serializedContext
	room *room
}

// SerializedEncryptionContext returns EncryptionContext serialized as the
// message format serializes encryption contexts (a pair count, then the pairs
// in ascending byte order of their keys, each length-prefixed; empty for an
// empty context), the additional authenticated data of the raw keyrings. The
// session serializes the context once per message and keyrings call this rather
// than serializing the map again. The slice is shared: do not modify it.
func (m *EncryptionMaterials) SerializedEncryptionContext() ([]byte, error) {
	return m.ec.get(m.EncryptionContext)
}

// Alloc returns n zero bytes for the data key or the encrypted data keys a
// keyring adds to m. They come from room the session set aside with the
// materials when it has enough left (so the keys of a small message cost no
// allocation), else from a new slice. They are valid until the encryption
// returns, when the session may reuse the room for another message: a keyring
// that keeps bytes beyond the call (a cache) keeps a copy. The session wipes
// PlaintextDataKey when done; a keyring wipes any other secret it puts there.
func (m *EncryptionMaterials) Alloc(n int) []byte { return m.room.alloc(n) }

// DecryptionMaterials are what keyrings work on when a message is decrypted. The
// first keyring that unwraps one of the encrypted data keys sets PlaintextDataKey;
// a keyring called when it is already set does nothing.
type DecryptionMaterials struct {
	Suite SuiteID
	// EncryptionContext is the whole context (stored and required pairs).
	EncryptionContext             map[string]string
	RequiredEncryptionContextKeys []string
	PlaintextDataKey              []byte

	ec   serializedContext
	room *room
}

// SerializedEncryptionContext is EncryptionMaterials.SerializedEncryptionContext
// for decryption.
func (m *DecryptionMaterials) SerializedEncryptionContext() ([]byte, error) {
	return m.ec.get(m.EncryptionContext)
}

// Alloc is EncryptionMaterials.Alloc for decryption: room for the data key a
// keyring unwraps, valid until the decryption returns.
func (m *DecryptionMaterials) Alloc(n int) []byte { return m.room.alloc(n) }

// serializedContext caches the serialization of one encryption context map.
type serializedContext struct {
	of    unsafe.Pointer // the map it serializes (nil: none yet)
	bytes []byte
}

// set records that b is the serialization of ec.
func (c *serializedContext) set(ec map[string]string, b []byte) {
	c.of, c.bytes = mapID(ec), b
}

// get returns the serialization of ec, computing it unless it is the map the
// cache holds (materials copied and given another map serialize that one).
func (c *serializedContext) get(ec map[string]string) ([]byte, error) {
	if id := mapID(ec); c.of == nil || c.of != id {
		b, err := format.MarshalContext(ec)
		if err != nil {
			return nil, err
		}
		c.set(ec, b)
	}
	return c.bytes, nil
}

// mapID identifies a map (its runtime header; a nil map is the empty context,
// whose serialization is empty too).
func mapID(ec map[string]string) unsafe.Pointer {
	if ec == nil {
		return unsafe.Pointer(&emptyContext)
	}
	return reflect.ValueOf(ec).UnsafePointer()
}

var emptyContext byte

// room is bytes set aside with the materials of one message (see Alloc). Copies
// of the materials share it.
type room struct {
	buf  [160]byte
	used int
}

func (r *room) alloc(n int) []byte {
	if r == nil || n > len(r.buf)-r.used {
		return make([]byte, n)
	}
	b := r.buf[r.used : r.used+n : r.used+n]
	r.used += n
	return b
}

// Keyring wraps and unwraps data keys, as the keyrings of the AWS Encryption SDK
// do. Implementations are safe for concurrent use. They read, and never modify,
// the materials' EncryptionContext and the encrypted data keys they are given:
// Decrypt hands the same map and slice on to its caller (Result, Header).
type Keyring interface {
	// OnEncrypt makes the data key if m has none, and appends its wrapped copies.
	OnEncrypt(ctx context.Context, m *EncryptionMaterials) error
	// OnDecrypt unwraps the first of edks it can and sets m.PlaintextDataKey; it
	// does nothing if m.PlaintextDataKey is already set.
	OnDecrypt(ctx context.Context, m *DecryptionMaterials, edks []EncryptedDataKey) error
}
