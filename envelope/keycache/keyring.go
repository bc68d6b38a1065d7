package keycache

import (
	"context"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"encoding/hex"
	"math"
	"slices"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/internal/suite"
)

// Default limits of a caching keyring.
const (
	// DefaultMaxMessages is the most messages one data key encrypts when
	// Options.MaxMessages is 0 (2^32, as in the ESDK).
	DefaultMaxMessages = 1 << 32
	// DefaultMaxBytes is the most plaintext one data key encrypts when
	// Options.MaxBytes is 0 (2^63-1, as in the ESDK).
	DefaultMaxBytes = math.MaxInt64
)

// Options configure a caching keyring.
type Options struct {
	// Cache holds the data keys; nil gives the keyring a Cache of
	// DefaultCapacity entries of its own.
	Cache *Cache
	// MaxAge is how long a data key stays usable after it was made or first
	// unwrapped. Required.
	MaxAge time.Duration
	// MaxMessages is the most messages one cached data key encrypts (0:
	// DefaultMaxMessages).
	MaxMessages uint64
	// MaxBytes is the most plaintext, in bytes, one cached data key encrypts (0:
	// DefaultMaxBytes). A message announced as longer than MaxBytes bypasses the
	// cache.
	MaxBytes uint64
	// Partition names the keyring's share of the Cache: keyrings share cached
	// data keys only when they are given the same partition (and the same
	// Cache). Empty: a random partition of the keyring's own.
	Partition string
}

// Keyring is a caching keyring: it asks the keyring it wraps for data keys and
// keeps them in its Cache for reuse, within the limits of its Options (see the
// package documentation).
type Keyring struct {
	inner                 envelope.Keyring
	cache                 *Cache
	partition             [sha512.Size]byte // SHA-512 of the partition name
	maxAge                time.Duration
	maxMessages, maxBytes uint64
}

var _ envelope.Keyring = (*Keyring)(nil)

// NewKeyring returns a caching keyring over inner.
func NewKeyring(inner envelope.Keyring, opts Options) (*Keyring, error) {
	if inner == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "NewKeyring", "", "no keyring to cache")
	}
	if opts.MaxAge <= 0 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "NewKeyring", "", "MaxAge must be positive, not %v", opts.MaxAge)
	}
	k := &Keyring{inner: inner, cache: opts.Cache, maxAge: opts.MaxAge, maxMessages: opts.MaxMessages, maxBytes: opts.MaxBytes}
	if k.cache == nil {
		k.cache = New(0)
	}
	if k.maxMessages == 0 {
		k.maxMessages = DefaultMaxMessages
	}
	if k.maxBytes == 0 || k.maxBytes > DefaultMaxBytes {
		k.maxBytes = DefaultMaxBytes
	}
	name := opts.Partition
	if name == "" {
		var id [16]byte
		rand.Read(id[:])
		name = "keycache-" + hex.EncodeToString(id[:])
	}
	k.partition = sha512.Sum512([]byte(name))
	return k, nil
}

// kdfSuite returns the suite with ID id unless it derives no key (the identity
// KDF of the oldest suites: the data key is the message key, so it is never
// cached) or is unknown.
func kdfSuite(id envelope.SuiteID) *suite.Suite {
	s := suite.Lookup(uint16(id))
	if s == nil || s.KDF == 0 {
		return nil
	}
	return s
}

// OnEncrypt takes a data key from the cache, or from the wrapped keyring (and
// caches it). It bypasses the cache when the materials already have a data key
// or encrypted data keys, for a suite that signs (the encryption context holds
// the message's own signing key, so no other message could use the entry) or
// derives no key, and when the plaintext's length is not announced or exceeds
// MaxBytes.
func (k *Keyring) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	s := kdfSuite(m.Suite)
	n := m.MaxPlaintextLength
	if m.PlaintextDataKey != nil || len(m.EncryptedDataKeys) > 0 || s == nil || s.Signed() || n <= 0 || uint64(n) > k.maxBytes {
		return k.inner.OnEncrypt(ctx, m)
	}
	ec, err := m.SerializedEncryptionContext()
	if err != nil {
		return err
	}
	id := encryptionID(&k.partition, m.Suite, ec)
	if k.cache.use(&id, func(e *entry) bool {
		if e.edks == nil || e.messages >= k.maxMessages || e.bytes+uint64(n) > k.maxBytes {
			return false // used up: wiped, and replaced below
		}
		e.messages++
		e.bytes += uint64(n)
		m.PlaintextDataKey = append(m.Alloc(len(e.dataKey))[:0], e.dataKey...)
		m.EncryptedDataKeys = append(m.EncryptedDataKeys, e.edks...)
		return true
	}) {
		return nil
	}
	// A miss: the wrapped keyring makes a data key fit for the most plaintext
	// a cached key may encrypt (as the ESDK's caching CMM asks).
	m.MaxPlaintextLength = int64(k.maxBytes)
	err = k.inner.OnEncrypt(ctx, m)
	m.MaxPlaintextLength = n
	if err != nil || m.PlaintextDataKey == nil || len(m.EncryptedDataKeys) == 0 {
		return err
	}
	// The cache keeps copies: the materials' bytes live only as long as the
	// message.
	edks := make([]envelope.EncryptedDataKey, len(m.EncryptedDataKeys))
	for i, d := range m.EncryptedDataKeys {
		edks[i] = envelope.EncryptedDataKey{ProviderID: d.ProviderID, ProviderInfo: slices.Clone(d.ProviderInfo), Ciphertext: slices.Clone(d.Ciphertext)}
	}
	k.cache.put(&entry{id: id, dataKey: slices.Clone(m.PlaintextDataKey), edks: edks, messages: 1, bytes: uint64(n)}, k.maxAge)
	return nil
}

// OnDecrypt takes the data key of the encrypted data keys edks, under the
// materials' suite and encryption context, from the cache, or from the wrapped
// keyring (and caches it). Suites that derive no key bypass the cache.
func (k *Keyring) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	if m.PlaintextDataKey != nil {
		return nil
	}
	if kdfSuite(m.Suite) == nil {
		return k.inner.OnDecrypt(ctx, m, edks)
	}
	ec, err := m.SerializedEncryptionContext()
	if err != nil {
		return err
	}
	id := decryptionID(&k.partition, m.Suite, edks, ec)
	if k.cache.use(&id, func(e *entry) bool {
		if e.edks != nil {
			return false // unreachable: the IDs of both kinds differ
		}
		m.PlaintextDataKey = append(m.Alloc(len(e.dataKey))[:0], e.dataKey...)
		return true
	}) {
		return nil
	}
	if err := k.inner.OnDecrypt(ctx, m, edks); err != nil || m.PlaintextDataKey == nil {
		return err
	}
	k.cache.put(&entry{id: id, dataKey: slices.Clone(m.PlaintextDataKey)}, k.maxAge)
	return nil
}

const entryIDLen = sha512.Size

// encryptionID is the ESDK's cache entry identifier of encryption materials
// for a suite: SHA-512(SHA-512(partition) || 0x01 || suite ID ||
// SHA-512(serialized encryption context)).
func encryptionID(partition *[sha512.Size]byte, s envelope.SuiteID, ec []byte) [entryIDLen]byte {
	var b [2*sha512.Size + 3]byte
	copy(b[:], partition[:])
	b[sha512.Size] = 1
	binary.BigEndian.PutUint16(b[sha512.Size+1:], uint16(s))
	ech := sha512.Sum512(ec)
	copy(b[sha512.Size+3:], ech[:])
	return sha512.Sum512(b[:])
}

// decryptionID is the ESDK's cache entry identifier of decryption materials:
// SHA-512(SHA-512(partition) || suite ID || the sorted SHA-512s of the
// serialized encrypted data keys || 64 zero bytes || SHA-512(serialized
// encryption context)).
func decryptionID(partition *[sha512.Size]byte, s envelope.SuiteID, edks []envelope.EncryptedDataKey, ec []byte) [entryIDLen]byte {
	hashes := make([][sha512.Size]byte, len(edks))
	var ser []byte
	for i, d := range edks {
		ser = binary.BigEndian.AppendUint16(ser[:0], uint16(len(d.ProviderID)))
		ser = append(ser, d.ProviderID...)
		ser = binary.BigEndian.AppendUint16(ser, uint16(len(d.ProviderInfo)))
		ser = append(ser, d.ProviderInfo...)
		ser = binary.BigEndian.AppendUint16(ser, uint16(len(d.Ciphertext)))
		ser = append(ser, d.Ciphertext...)
		hashes[i] = sha512.Sum512(ser)
	}
	slices.SortFunc(hashes, func(a, b [sha512.Size]byte) int { return slices.Compare(a[:], b[:]) })
	h := sha512.New()
	h.Write(partition[:])
	h.Write([]byte{byte(s >> 8), byte(s)})
	for i := range hashes {
		h.Write(hashes[i][:])
	}
	h.Write(make([]byte, sha512.Size))
	ech := sha512.Sum512(ec)
	h.Write(ech[:])
	var id [entryIDLen]byte
	h.Sum(id[:0])
	return id
}
