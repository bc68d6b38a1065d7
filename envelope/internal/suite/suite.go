// Package suite describes the eleven algorithm suites of the AWS Encryption SDK
// message format in one table, and implements what depends on them: key derivation
// (identity or HKDF), key commitment, and the ECDSA signing keys.
package suite

import (
	"crypto"
	"crypto/elliptic"
	_ "crypto/sha256" // registers SHA-256 for crypto.Hash
	_ "crypto/sha512" // registers SHA-384 and SHA-512 for crypto.Hash
)

// Lengths shared by every suite.
const (
	IVLen        = 12 // AES-GCM IV length in bytes
	TagLen       = 16 // AES-GCM tag length in bytes
	CommitKeyLen = 32 // length of the commit key in the v2 header's suite data
)

// Suite is one algorithm suite.
type Suite struct {
	// ID is the suite's two-byte identifier.
	ID uint16
	// MessageVersion is the message format version that carries the suite (1 or 2).
	MessageVersion byte
	// KeyLen is the length in bytes of the data key and of the derived AES key.
	KeyLen int
	// KDF is the HKDF hash, or 0 for the identity KDF (the data key is the AES key).
	KDF crypto.Hash
	// Committing says whether the suite commits to its key (v2 suite data).
	Committing bool
	// Curve is the ECDSA curve of the signature, or nil for unsigned suites.
	Curve elliptic.Curve
	// SigHash is the hash the signature is computed over (with Curve).
	SigHash crypto.Hash
}

// MessageIDLen returns the length of the message ID in the suite's message version.
func (s *Suite) MessageIDLen() int {
	if s.MessageVersion == 2 {
		return 32
	}
	return 16
}

// SuiteDataLen returns the length of the v2 header's algorithm suite data.
func (s *Suite) SuiteDataLen() int {
	if s.Committing {
		return CommitKeyLen
	}
	return 0
}

// Signed says whether the suite signs the message.
func (s *Suite) Signed() bool { return s.Curve != nil }

// table lists all eleven suites.
var table = []Suite{
	{ID: 0x0014, MessageVersion: 1, KeyLen: 16},
	{ID: 0x0046, MessageVersion: 1, KeyLen: 24},
	{ID: 0x0078, MessageVersion: 1, KeyLen: 32},
	{ID: 0x0114, MessageVersion: 1, KeyLen: 16, KDF: crypto.SHA256},
	{ID: 0x0146, MessageVersion: 1, KeyLen: 24, KDF: crypto.SHA256},
	{ID: 0x0178, MessageVersion: 1, KeyLen: 32, KDF: crypto.SHA256},
	{ID: 0x0214, MessageVersion: 1, KeyLen: 16, KDF: crypto.SHA256, Curve: elliptic.P256(), SigHash: crypto.SHA256},
	{ID: 0x0346, MessageVersion: 1, KeyLen: 24, KDF: crypto.SHA384, Curve: elliptic.P384(), SigHash: crypto.SHA384},
	{ID: 0x0378, MessageVersion: 1, KeyLen: 32, KDF: crypto.SHA384, Curve: elliptic.P384(), SigHash: crypto.SHA384},
	{ID: 0x0478, MessageVersion: 2, KeyLen: 32, KDF: crypto.SHA512, Committing: true},
	{ID: 0x0578, MessageVersion: 2, KeyLen: 32, KDF: crypto.SHA512, Committing: true, Curve: elliptic.P384(), SigHash: crypto.SHA384},
}

// Lookup returns the suite with the given ID, or nil for an unknown ID.
func Lookup(id uint16) *Suite {
	for i := range table {
		if table[i].ID == id {
			return &table[i]
		}
	}
	return nil
}

// All returns every suite, in ID order.
func All() []Suite { return append([]Suite(nil), table...) }
