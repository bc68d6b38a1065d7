package suite

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCommitment reports that a message's commit key does not match its data key.
var ErrCommitment = errors.New("key commitment does not match the data key")

// DeriveKey returns the AES-GCM key for a message from its plaintext data key and
// message ID and, for committing suites, the commit key stored in the v2 header.
//
// Identity suites use the data key as it is. Non-committing HKDF suites derive with
// a zero salt and info = suite ID || message ID. Committing suites extract once with
// the message ID as salt and expand with info = suite ID || "DERIVEKEY" for the key
// and "COMMITKEY" for the commit key.
func (s *Suite) DeriveKey(dataKey, messageID []byte) (key, commitKey []byte, err error) {
	if len(dataKey) != s.KeyLen {
		return nil, nil, fmt.Errorf("data key is %d bytes, suite %04X needs %d", len(dataKey), s.ID, s.KeyLen)
	}
	if len(messageID) != s.MessageIDLen() {
		return nil, nil, fmt.Errorf("message ID is %d bytes, suite %04X needs %d", len(messageID), s.ID, s.MessageIDLen())
	}
	switch {
	case s.KDF == 0:
		return append([]byte(nil), dataKey...), nil, nil
	case !s.Committing:
		info := make([]byte, 0, 2+len(messageID))
		info = binary.BigEndian.AppendUint16(info, s.ID)
		info = append(info, messageID...)
		key, err = hkdfKey(s.KDF, dataKey, nil, info, s.KeyLen)
		return key, nil, err
	default:
		return s.DeriveCommitting(dataKey, messageID, nil)
	}
}

// DeriveCommitting is DeriveKey for a committing suite, with both outputs
// written to buf when it has room for them (s.KeyLen+CommitKeyLen bytes), else
// to one new allocation. The caller wipes the key when done.
func (s *Suite) DeriveCommitting(dataKey, messageID, buf []byte) (key, commitKey []byte, err error) {
	if !s.Committing || s.KDF != crypto.SHA512 || s.KeyLen > sha512Size {
		return nil, nil, fmt.Errorf("suite %04X: not a committing HKDF-SHA512 suite", s.ID)
	}
	if len(dataKey) != s.KeyLen {
		return nil, nil, fmt.Errorf("data key is %d bytes, suite %04X needs %d", len(dataKey), s.ID, s.KeyLen)
	}
	if len(messageID) != s.MessageIDLen() {
		return nil, nil, fmt.Errorf("message ID is %d bytes, suite %04X needs %d", len(messageID), s.ID, s.MessageIDLen())
	}
	if len(buf) < s.KeyLen+CommitKeyLen {
		buf = make([]byte, s.KeyLen+CommitKeyLen)
	}
	key, commitKey = buf[:s.KeyLen:s.KeyLen], buf[s.KeyLen:s.KeyLen+CommitKeyLen:s.KeyLen+CommitKeyLen]
	deriveCommitting(dataKey, messageID, s.ID, key, commitKey)
	return key, commitKey, nil
}

func hkdfKey(h crypto.Hash, secret, salt, info []byte, n int) ([]byte, error) {
	switch h {
	case crypto.SHA256:
		return hkdf.Key(sha256.New, secret, salt, string(info), n)
	case crypto.SHA384:
		return hkdf.Key(sha512.New384, secret, salt, string(info), n)
	case crypto.SHA512:
		return hkdf.Key(sha512.New, secret, salt, string(info), n)
	}
	return nil, fmt.Errorf("unsupported KDF hash %v", h)
}

// CheckCommitment compares, in constant time, the commit key derived from the
// data key with the one stored in the header.
func CheckCommitment(derived, stored []byte) error {
	if len(derived) != CommitKeyLen || subtle.ConstantTimeCompare(derived, stored) != 1 {
		return ErrCommitment
	}
	return nil
}

// NewAEAD returns AES-GCM (12-byte IV, 16-byte tag) over key.
func NewAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}
