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

import "context"

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
	PlaintextDataKey              []byte
	EncryptedDataKeys             []EncryptedDataKey
}

// DecryptionMaterials are what keyrings work on when a message is decrypted. The
// first keyring that unwraps one of the encrypted data keys sets PlaintextDataKey;
// a keyring called when it is already set does nothing.
type DecryptionMaterials struct {
	Suite SuiteID
	// EncryptionContext is the whole context (stored and required pairs).
	EncryptionContext             map[string]string
	RequiredEncryptionContextKeys []string
	PlaintextDataKey              []byte
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
