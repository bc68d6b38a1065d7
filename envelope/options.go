package envelope

import (
	"runtime"

	"github.com/keyport/keyport/backends"
)

// CommitmentPolicy says which algorithm suites a client writes and reads, as the
// ESDK's commitment policies do.
type CommitmentPolicy int

// Commitment policies. The zero value is RequireEncryptRequireDecrypt.
const (
	// RequireEncryptRequireDecrypt writes and reads only key-committing suites
	// (0x0478, 0x0578): the default, as in the ESDK.
	RequireEncryptRequireDecrypt CommitmentPolicy = iota
	// RequireEncryptAllowDecrypt writes committing suites and reads every suite.
	RequireEncryptAllowDecrypt
	// ForbidEncryptAllowDecrypt writes only non-committing (message format v1)
	// suites, for readers that predate key commitment, and reads every suite.
	ForbidEncryptAllowDecrypt
)

func (p CommitmentPolicy) String() string {
	switch p {
	case RequireEncryptRequireDecrypt:
		return "RequireEncryptRequireDecrypt"
	case RequireEncryptAllowDecrypt:
		return "RequireEncryptAllowDecrypt"
	case ForbidEncryptAllowDecrypt:
		return "ForbidEncryptAllowDecrypt"
	}
	return "CommitmentPolicy(?)"
}

// Defaults.
const (
	// DefaultFrameLength is the frame length used when EncryptOptions.FrameLength is 0.
	DefaultFrameLength = 4096
	// DefaultSuite is the suite used when EncryptOptions.Suite is 0 (under a policy
	// that requires commitment), as in the ESDK.
	DefaultSuite = SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384
	// MaxFrameLength is the largest frame length of the message format.
	MaxFrameLength = 1<<32 - 1
	// AllCores as Workers uses runtime.GOMAXPROCS(0) workers.
	AllCores = -1
)

// ReservedPrefix starts the encryption context keys the format reserves for itself
// ("aws-crypto-public-key"); callers may not use them.
const ReservedPrefix = "aws-crypto-"

// EncryptOptions configure Encrypt and NewEncrypter.
type EncryptOptions struct {
	// Keyring makes and wraps the data key. Required.
	Keyring Keyring
	// EncryptionContext is bound to the message. Keys that start with
	// "aws-crypto-" are refused. Pairs whose keys are not listed in
	// RequiredEncryptionContextKeys are stored in the header.
	EncryptionContext map[string]string
	// RequiredEncryptionContextKeys lists keys of EncryptionContext whose pairs are
	// authenticated but not stored: the decryptor must supply them again.
	RequiredEncryptionContextKeys []string
	// Suite is the algorithm suite; 0 means DefaultSuite (0x0578) under the
	// policies that require commitment and 0x0378 under ForbidEncryptAllowDecrypt.
	Suite SuiteID
	// FrameLength is the plaintext length of each frame, 1 to MaxFrameLength;
	// 0 means DefaultFrameLength (4096).
	FrameLength int
	// CommitmentPolicy decides which suites may be written.
	CommitmentPolicy CommitmentPolicy
	// MaxEncryptedDataKeys fails the encryption if the keyring wraps the data key
	// more often; 0 means no limit.
	MaxEncryptedDataKeys int
	// PlaintextLength announces the most plaintext a stream (NewEncrypter) will
	// carry: writing more fails. 0: not announced. Keyrings see it as
	// EncryptionMaterials.MaxPlaintextLength (Encrypt passes the plaintext's own
	// length); a caching keyring caches only data keys of announced length.
	PlaintextLength int64
	// Workers is the number of goroutines that seal frames. 0 or 1: sequential
	// (the default; no goroutines); AllCores: runtime.GOMAXPROCS(0). The output is
	// the same whatever the number of workers (apart from the random message ID,
	// data key and signature).
	Workers int
}

// DecryptOptions configure Decrypt and NewDecrypter.
type DecryptOptions struct {
	// Keyring unwraps the data key. Required.
	Keyring Keyring
	// EncryptionContext is the reproduced encryption context: each pair whose key
	// is stored in the message must match it, and every other pair is taken as a
	// required encryption context pair (authenticated by the header tag, not
	// stored). It must include every required pair the message was written with.
	EncryptionContext map[string]string
	// CommitmentPolicy decides which suites may be read.
	CommitmentPolicy CommitmentPolicy
	// MaxEncryptedDataKeys rejects messages with more encrypted data keys; 0 means
	// no limit.
	MaxEncryptedDataKeys int
	// Workers is the number of goroutines that open frames, as in EncryptOptions.
	Workers int
}

// Header is the parsed, authenticated header of a message.
type Header struct {
	// Version is the message format version (1 or 2).
	Version int
	// Suite is the algorithm suite.
	Suite SuiteID
	// MessageID is the message's random ID (16 bytes in v1, 32 in v2).
	MessageID []byte
	// EncryptionContext holds the pairs stored in the header (including
	// "aws-crypto-public-key" for signed suites). After a decryption whose
	// DecryptOptions.EncryptionContext holds exactly these pairs, it is that map.
	EncryptionContext map[string]string
	// EncryptedDataKeys are the wrapped copies of the data key.
	EncryptedDataKeys []EncryptedDataKey
	// Framed says whether the body is framed.
	Framed bool
	// FrameLength is the frame length of a framed body (0 otherwise).
	FrameLength int
	// Size is the length of the serialized header, authentication included: the
	// body starts at this offset.
	Size int
}

// Result describes a decrypted message.
type Result struct {
	// Suite is the message's algorithm suite.
	Suite SuiteID
	// EncryptionContext is every pair the message is bound to: the stored pairs
	// and the required pairs supplied at decryption. When
	// DecryptOptions.EncryptionContext holds exactly these pairs it is that map
	// itself (nothing is copied); otherwise a map made for this Result, the same
	// as Header.EncryptionContext when there are no required pairs.
	EncryptionContext map[string]string
	// RequiredEncryptionContextKeys are the keys of the pairs that were not stored.
	RequiredEncryptionContextKeys []string
	// Header is the message header.
	Header *Header

	room *resultRoom // what Header refers to, kept by a Result that is reused
}

func workers(n int) int {
	if n < 0 {
		return runtime.GOMAXPROCS(0)
	}
	if n == 0 {
		return 1
	}
	return n
}

func errArg(op, format string, args ...any) error {
	return backends.Errorf(backends.ErrInvalidArgument, op, "", format, args...)
}

func errCiphertext(format string, args ...any) error {
	return backends.Errorf(backends.ErrInvalidCiphertext, "Decrypt", "", format, args...)
}
