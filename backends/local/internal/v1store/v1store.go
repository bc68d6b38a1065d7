// Package v1store reads the version 1 store file of backends/local (the format
// of keyport before issue 9: one sealed JSON document, replaced whole by every
// change), so that Open can convert it to the SQLite store (package store).
//
// A version 1 store file is
//
//	magic "keyport-local-store\n" (20 bytes)
//	format version (1 byte, 1)
//	key check (16 bytes): HMAC-SHA256(root key, "keyport local store check v1"), truncated
//	nonce (12 bytes)
//	AES-256-GCM ciphertext of the payload with its tag; the key is
//	HMAC-SHA256(root key, "keyport local store encryption v1"); the AAD is every byte before
//
// so the whole state, key material included, is encrypted at rest under the root
// key. The key check tells a wrong root key apart from a damaged file.
package v1store

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// Magic starts every store file.
const Magic = "keyport-local-store\n"

const (
	version   = 1
	checkSize = 16
	nonceSize = 12
	headerLen = len(Magic) + 1 + checkSize + nonceSize
)

// Errors of Open.
var (
	ErrForeign  = errors.New("not a keyport local store file")
	ErrCorrupt  = errors.New("keyport local store file is damaged or truncated")
	ErrWrongKey = errors.New("keyport local store file was written under another root key")
)

func derive(root []byte, label string) []byte {
	m := hmac.New(sha256.New, root)
	m.Write([]byte(label))
	return m.Sum(nil)
}

func aead(root []byte) (cipher.AEAD, error) {
	if len(root) != 32 {
		return nil, errors.New("root key must be 32 bytes")
	}
	k := derive(root, "keyport local store encryption v1")
	defer clear(k)
	b, err := aes.NewCipher(k)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// Seal encrypts payload under root into the bytes of a store file.
func Seal(root, payload []byte) ([]byte, error) {
	g, err := aead(root)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, headerLen+len(payload)+g.Overhead())
	out = append(out, Magic...)
	out = append(out, version)
	out = append(out, derive(root, "keyport local store check v1")[:checkSize]...)
	nonce := make([]byte, nonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out = append(out, nonce...)
	return g.Seal(out, nonce, payload, out[:headerLen]), nil
}

// Open checks and decrypts the bytes of a store file. Its errors match ErrForeign,
// ErrCorrupt or ErrWrongKey. The caller owns the payload and should wipe it.
func Open(root, file []byte) ([]byte, error) {
	if len(file) < len(Magic) {
		if bytes.HasPrefix([]byte(Magic), file) {
			return nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(file))
		}
		return nil, ErrForeign
	}
	if string(file[:len(Magic)]) != Magic {
		return nil, ErrForeign
	}
	if len(file) < headerLen+16 {
		return nil, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(file))
	}
	if file[len(Magic)] != version {
		return nil, fmt.Errorf("%w: unknown format version %d", ErrCorrupt, file[len(Magic)])
	}
	g, err := aead(root)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrWrongKey, err)
	}
	check := file[len(Magic)+1 : len(Magic)+1+checkSize]
	if !hmac.Equal(check, derive(root, "keyport local store check v1")[:checkSize]) {
		return nil, ErrWrongKey
	}
	nonce := file[headerLen-nonceSize : headerLen]
	pt, err := g.Open(nil, nonce, file[headerLen:], file[:headerLen])
	if err != nil {
		return nil, fmt.Errorf("%w: authentication failed", ErrCorrupt)
	}
	return pt, nil
}
