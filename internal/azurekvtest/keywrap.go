package azurekvtest

import (
	"crypto/aes"
	"crypto/subtle"
	"encoding/binary"
	"errors"
)

// AES Key Wrap (RFC 3394), which Key Vault's A256KW is. The standard library has
// no key wrap, and this test server needs only the two functions below, so they
// are written out here rather than adding a dependency for test infrastructure.

var kwIV = []byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}

var errKeyWrap = errors.New("aes key wrap: bad input or integrity check failed")

// wrapKW wraps pt (a multiple of 8 bytes, at least 16) under kek.
func wrapKW(kek, pt []byte) ([]byte, error) {
	if len(pt) < 16 || len(pt)%8 != 0 {
		return nil, errKeyWrap
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(pt) / 8
	out := make([]byte, 8+len(pt))
	copy(out, kwIV)
	copy(out[8:], pt)
	var b [16]byte
	for j := 0; j < 6; j++ {
		for i := 1; i <= n; i++ {
			copy(b[:8], out[:8])
			copy(b[8:], out[8*i:8*i+8])
			block.Encrypt(b[:], b[:])
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(out[:8], binary.BigEndian.Uint64(b[:8])^t)
			copy(out[8*i:8*i+8], b[8:])
		}
	}
	return out, nil
}

// unwrapKW unwraps ct under kek and checks its integrity value.
func unwrapKW(kek, ct []byte) ([]byte, error) {
	if len(ct) < 24 || len(ct)%8 != 0 {
		return nil, errKeyWrap
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(ct)/8 - 1
	out := make([]byte, len(ct))
	copy(out, ct)
	var b [16]byte
	for j := 5; j >= 0; j-- {
		for i := n; i >= 1; i-- {
			t := uint64(n*j + i)
			binary.BigEndian.PutUint64(b[:8], binary.BigEndian.Uint64(out[:8])^t)
			copy(b[8:], out[8*i:8*i+8])
			block.Decrypt(b[:], b[:])
			copy(out[:8], b[:8])
			copy(out[8*i:8*i+8], b[8:])
		}
	}
	if subtle.ConstantTimeCompare(out[:8], kwIV) != 1 {
		clear(out)
		return nil, errKeyWrap
	}
	return out[8:], nil
}
