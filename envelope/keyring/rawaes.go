package keyring

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/internal/format"
)

const (
	rawAESTagBits = 128
	rawAESIVLen   = 12
	rawAESTagLen  = rawAESTagBits / 8
)

// RawAES is the ESDK's raw AES keyring: it wraps data keys with AES-GCM under a
// key the caller holds (128, 192 or 256 bits). Encrypted data keys carry the key
// namespace as provider ID and, as provider info, the key name, the tag length in
// bits (4 bytes), the IV length (4 bytes) and the random 12-byte IV; the
// ciphertext is the wrapped key followed by the tag. The AAD of the wrapping is the
// serialized encryption context of the materials (stored and required pairs), so a
// message opens in every ESDK that has the same namespace, name and key (for the
// JavaScript ESDK, with utf8Sorting set).
type RawAES struct {
	namespace, name string
	aead            cipher.AEAD
}

var _ envelope.Keyring = (*RawAES)(nil)

// NewRawAES returns a raw AES keyring over key (16, 24 or 32 bytes) named
// namespace/name. The key is copied into the cipher; the caller may wipe its copy.
func NewRawAES(namespace, name string, key []byte) (*RawAES, error) {
	if err := checkRawNames(namespace, name); err != nil {
		return nil, err
	}
	switch len(key) {
	case 16, 24, 32:
	default:
		return nil, backends.Errorf(backends.ErrInvalidArgument, "NewRawAES", name, "wrapping key is %d bytes, not 16, 24 or 32", len(key))
	}
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInvalidArgument, "NewRawAES", name, err)
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInternal, "NewRawAES", name, err)
	}
	return &RawAES{namespace: namespace, name: name, aead: g}, nil
}

func checkRawNames(namespace, name string) error {
	if namespace == "" || name == "" {
		return backends.Errorf(backends.ErrInvalidArgument, "NewRaw", name, "key namespace and key name must not be empty")
	}
	if namespace == ProviderAWSKMS {
		return backends.Errorf(backends.ErrInvalidArgument, "NewRaw", name, "key namespace %q is reserved for AWS KMS", namespace)
	}
	if len(namespace) > format.MaxField || len(name) > format.MaxField-8-rawAESIVLen {
		return backends.Errorf(backends.ErrInvalidArgument, "NewRaw", name, "key namespace or name too long")
	}
	return nil
}

// newDataKey makes the data key of m if it has none.
func newDataKey(m *envelope.EncryptionMaterials, op, keyName string) error {
	if m.PlaintextDataKey != nil {
		if len(m.PlaintextDataKey) != m.Suite.DataKeyLen() {
			return backends.Errorf(backends.ErrInvalidArgument, op, keyName, "data key is %d bytes, suite %04X needs %d", len(m.PlaintextDataKey), uint16(m.Suite), m.Suite.DataKeyLen())
		}
		return nil
	}
	n := m.Suite.DataKeyLen()
	if n == 0 {
		return backends.Errorf(backends.ErrInvalidArgument, op, keyName, "unknown algorithm suite %04X", uint16(m.Suite))
	}
	m.PlaintextDataKey = m.Alloc(n)
	rand.Read(m.PlaintextDataKey)
	return nil
}

// OnEncrypt makes the data key if m has none and appends it wrapped under the
// keyring's key.
func (k *RawAES) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	if err := backends.ContextError(ctx, "OnEncrypt", k.name); err != nil {
		return err
	}
	aad, err := m.SerializedEncryptionContext()
	if err != nil {
		return err
	}
	kl := m.Suite.DataKeyLen()
	if kl == 0 {
		return backends.Errorf(backends.ErrInvalidArgument, "OnEncrypt", k.name, "unknown algorithm suite %04X", uint16(m.Suite))
	}
	// Provider info (name, tag bits, IV length, IV) and the wrapped key, in one
	// piece of the materials' room; the IV and, for the generator, the data key
	// drawn in one read.
	n := len(k.name) + 8 + rawAESIVLen
	buf := m.Alloc(n + kl + rawAESTagLen)
	info := append(buf[:0:n], k.name...)
	info = binary.BigEndian.AppendUint32(info, rawAESTagBits)
	info = binary.BigEndian.AppendUint32(info, rawAESIVLen)
	iv := info[len(info):n]
	if m.PlaintextDataKey == nil {
		rnd := m.Alloc(kl + rawAESIVLen)
		rand.Read(rnd)
		copy(iv, rnd[kl:])
		clear(rnd[kl:])
		m.PlaintextDataKey = rnd[:kl:kl]
	} else {
		if err := newDataKey(m, "OnEncrypt", k.name); err != nil { // checks its length
			return err
		}
		rand.Read(iv)
	}
	info = info[:n]
	ct := k.aead.Seal(buf[n:n], iv, m.PlaintextDataKey, aad)
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, envelope.EncryptedDataKey{
		ProviderID: k.namespace, ProviderInfo: info, Ciphertext: ct,
	})
	return nil
}

// OnDecrypt unwraps the first encrypted data key of edks that the keyring's key
// wrapped. When none can be unwrapped it returns an error matching
// backends.ErrIncorrectKey (a wrong key and a wrong encryption context look the
// same to AES-GCM).
func (k *RawAES) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	if m.PlaintextDataKey != nil {
		return nil
	}
	if err := backends.ContextError(ctx, "OnDecrypt", k.name); err != nil {
		return err
	}
	n := m.Suite.DataKeyLen()
	if n == 0 {
		return backends.Errorf(backends.ErrInvalidArgument, "OnDecrypt", k.name, "unknown algorithm suite %04X", uint16(m.Suite))
	}
	var aad, dk []byte
	tried := 0
	for _, edk := range edks {
		iv, ok := k.parseInfo(edk)
		if !ok || len(edk.Ciphertext) != n+rawAESTagLen {
			continue
		}
		if dk == nil {
			var err error
			if aad, err = m.SerializedEncryptionContext(); err != nil {
				return err
			}
			dk = m.Alloc(n)
		}
		tried++
		if _, err := k.aead.Open(dk[:0], iv, edk.Ciphertext, aad); err != nil {
			continue
		}
		m.PlaintextDataKey = dk
		return nil
	}
	return rawNoKey(k.namespace, k.name, tried)
}

// parseInfo checks that edk is for this keyring and returns its IV.
func (k *RawAES) parseInfo(edk envelope.EncryptedDataKey) ([]byte, bool) {
	info := edk.ProviderInfo
	if edk.ProviderID != k.namespace || len(info) != len(k.name)+8+rawAESIVLen || !bytes.HasPrefix(info, []byte(k.name)) {
		return nil, false
	}
	rest := info[len(k.name):]
	if binary.BigEndian.Uint32(rest) != rawAESTagBits || binary.BigEndian.Uint32(rest[4:]) != rawAESIVLen {
		return nil, false
	}
	return rest[8:], true
}

func rawNoKey(namespace, name string, tried int) error {
	if tried == 0 {
		return backends.Errorf(backends.ErrIncorrectKey, "OnDecrypt", name, "no encrypted data key is for key %s/%s", namespace, name)
	}
	return backends.Errorf(backends.ErrIncorrectKey, "OnDecrypt", name,
		"%s", fmt.Sprintf("%d encrypted data key(s) for key %s/%s failed to unwrap (wrong key material or encryption context)", tried, namespace, name))
}
