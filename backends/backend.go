// Package backends defines the contract every key service in keyport implements
// (the driver interface [Backend] and its optional capabilities, the error
// taxonomy, key references, the unambiguous encoding of encryption contexts), and
// the [Front]: the one value every caller holds in front of the drivers. The
// Front checks every input once, routes each key to the driver that owns it
// (opening drivers from key URLs through [URLOpener] values), forwards each
// operation to the driver's own capability or a documented fallback, labels
// errors, and runs [Interceptor] values such as [Retry] and [Logging] around every
// call.
//
// The contract follows AWS KMS: inputs and outputs carry the same fields as the KMS
// API, errors are named after the KMS exceptions, and key references take the four
// AWS forms (key ID, key ARN, alias name, alias ARN). Services that are not AWS KMS
// name their keys with a URI (vault://transit/orders, gcpkms://projects/...,
// pkcs11:token=...;object=...).
//
// Drivers live in sub-packages (backends/local, backends/awskms, backends/vault, ...)
// and never import each other. A driver is called through a Front, which has
// checked the input (a driver may take a nil input for the programming error it
// is); it speaks only its service and maps the service's errors through one table.
package backends

import "context"

// Algorithm names an encryption algorithm as AWS KMS does.
type Algorithm string

// Encryption algorithms. The zero value means SymmetricDefault.
const (
	SymmetricDefault Algorithm = "SYMMETRIC_DEFAULT"  // AES-256-GCM in AWS KMS; the service's default symmetric scheme elsewhere
	RSAESOAEPSHA1    Algorithm = "RSAES_OAEP_SHA_1"   // RSA-OAEP with SHA-1
	RSAESOAEPSHA256  Algorithm = "RSAES_OAEP_SHA_256" // RSA-OAEP with SHA-256
	SM2PKE           Algorithm = "SM2PKE"             // SM2 public-key encryption (AWS China Regions)
)

// OrDefault returns a, or SymmetricDefault when a is empty.
func (a Algorithm) OrDefault() Algorithm {
	if a == "" {
		return SymmetricDefault
	}
	return a
}

// EncryptInput is the input of Backend.Encrypt.
type EncryptInput struct {
	// KeyID names the key, in any form the backend accepts (key ID, key ARN,
	// alias name, alias ARN, or the backend's URI).
	KeyID string
	// Plaintext is the data to encrypt. AWS KMS limits it to 4096 bytes.
	Plaintext []byte
	// EncryptionContext is bound to the ciphertext exactly: decryption must present
	// the same pairs, no more and no fewer.
	EncryptionContext map[string]string
	// GrantTokens are grant tokens that authorize the call at once.
	GrantTokens []string
	// EncryptionAlgorithm is the algorithm to use; empty means SymmetricDefault.
	EncryptionAlgorithm Algorithm
	// DryRun checks everything and encrypts nothing: on success the call returns
	// an error that matches ErrDryRunOperation.
	DryRun bool
}

// EncryptOutput is the output of Backend.Encrypt.
type EncryptOutput struct {
	// CiphertextBlob is the encrypted data, in the service's own format.
	CiphertextBlob []byte
	// KeyID is the canonical identifier (key ARN or URI) of the key that encrypted.
	KeyID string
	// KeyVersion is the version of the key that encrypted, where the service
	// says which in its answer (Cloud KMS: the CryptoKeyVersion's number; Key
	// Vault: the key version; Vault Transit: the key version's number); empty
	// where it does not (AWS KMS and the embedded service keep the version
	// inside the ciphertext).
	KeyVersion string
	// EncryptionAlgorithm is the algorithm that was used.
	EncryptionAlgorithm Algorithm
}

// DecryptInput is the input of Backend.Decrypt.
type DecryptInput struct {
	// CiphertextBlob is the data to decrypt.
	CiphertextBlob []byte
	// KeyID names the key that must have encrypted the blob. It may be empty for a
	// service whose blobs name their key (AWS KMS symmetric keys); a key that is not
	// the one that encrypted the blob fails with ErrIncorrectKey.
	KeyID string
	// EncryptionContext must equal the one given at encryption.
	EncryptionContext map[string]string
	// GrantTokens are grant tokens that authorize the call at once.
	GrantTokens []string
	// EncryptionAlgorithm is the algorithm that encrypted; empty means SymmetricDefault.
	EncryptionAlgorithm Algorithm
	// DryRun checks everything and returns no plaintext: on success the call returns
	// an error that matches ErrDryRunOperation.
	DryRun bool
}

// DecryptOutput is the output of Backend.Decrypt. The caller owns Plaintext and
// should wipe it (clear) when done.
type DecryptOutput struct {
	// Plaintext is the decrypted data.
	Plaintext []byte
	// KeyID is the canonical identifier (key ARN or URI) of the key that decrypted.
	KeyID string
	// EncryptionAlgorithm is the algorithm that was used.
	EncryptionAlgorithm Algorithm
}

// Backend is a key service that encrypts and decrypts small payloads (data keys)
// under keys it holds. Implementations are safe for concurrent use, honour ctx, and
// return errors that match the sentinels of this package with errors.Is.
type Backend interface {
	Encrypt(ctx context.Context, in *EncryptInput) (*EncryptOutput, error)
	Decrypt(ctx context.Context, in *DecryptInput) (*DecryptOutput, error)
}

// ReEncryptInput is the input of a ReEncrypt, with exactly the fields of AWS KMS ReEncrypt.
type ReEncryptInput struct {
	CiphertextBlob                 []byte
	SourceEncryptionContext        map[string]string
	SourceKeyID                    string
	SourceEncryptionAlgorithm      Algorithm
	DestinationKeyID               string
	DestinationEncryptionContext   map[string]string
	DestinationEncryptionAlgorithm Algorithm
	GrantTokens                    []string
	DryRun                         bool
	// Via chooses how the re-encryption may run; the zero value lets it run
	// natively where one service holds both keys and through the plaintext
	// otherwise.
	Via Via
}

// Via says how a ReEncrypt may run.
type Via int

// ReEncrypt paths.
const (
	// ViaAny re-encrypts natively where one service holds both keys and can
	// (the plaintext never leaves it), and otherwise decrypts at the source and
	// encrypts at the destination.
	ViaAny Via = iota
	// ViaNative re-encrypts only natively: where the service cannot, the call
	// fails with ErrUnsupported rather than let the plaintext leave it.
	ViaNative
	// ViaPlaintext always decrypts at the source and encrypts at the
	// destination, even where the service could re-encrypt by itself (the
	// outputs are the same but for Native). It needs kms:Decrypt at the source
	// and kms:Encrypt at the destination.
	ViaPlaintext
)

// ReEncryptOutput is the output of a ReEncrypt.
type ReEncryptOutput struct {
	// CiphertextBlob is the data re-encrypted under the destination key.
	CiphertextBlob []byte
	// SourceKeyID is the canonical identifier of the key that decrypted.
	SourceKeyID string
	// KeyID is the canonical identifier of the key that encrypted.
	KeyID                          string
	SourceEncryptionAlgorithm      Algorithm
	DestinationEncryptionAlgorithm Algorithm
	// Native says the service re-encrypted by itself, without the plaintext ever
	// leaving it.
	Native bool
}

// ReEncrypter is a Backend that re-encrypts on the service side (the plaintext never
// leaves the service). It is authorized as kms:ReEncryptFrom on the source key and
// kms:ReEncryptTo on the destination key.
type ReEncrypter interface {
	ReEncrypt(ctx context.Context, in *ReEncryptInput) (*ReEncryptOutput, error)
}

// GenerateDataKeyInput is the input of GenerateDataKey and GenerateDataKeyWithoutPlaintext.
type GenerateDataKeyInput struct {
	KeyID string
	// NumberOfBytes is the length of the data key; 0 means 32.
	NumberOfBytes     int
	EncryptionContext map[string]string
	GrantTokens       []string
	DryRun            bool
}

// Data key lengths of GenerateDataKeyInput.NumberOfBytes.
const (
	DefaultDataKeyBytes = 32   // the length when NumberOfBytes is 0
	MaxDataKeyBytes     = 1024 // the longest data key, as in AWS KMS
)

// DataKeyLength returns the length of the data key in asks for: NumberOfBytes, or
// DefaultDataKeyBytes when it is 0. A length outside 1 to MaxDataKeyBytes is an
// error matching ErrInvalidArgument, naming op and the key.
func (in *GenerateDataKeyInput) DataKeyLength(op string) (int, error) {
	n := in.NumberOfBytes
	if n == 0 {
		n = DefaultDataKeyBytes
	}
	if n < 1 || n > MaxDataKeyBytes {
		return 0, Errorf(ErrInvalidArgument, op, in.KeyID, "NumberOfBytes %d is not between 1 and %d", in.NumberOfBytes, MaxDataKeyBytes)
	}
	return n, nil
}

// GenerateDataKeyOutput is the output of GenerateDataKey. Plaintext is nil for
// GenerateDataKeyWithoutPlaintext; otherwise the caller owns it and should wipe it.
type GenerateDataKeyOutput struct {
	CiphertextBlob []byte
	Plaintext      []byte
	KeyID          string
}

// DataKeyGenerator is a Backend that makes data keys on the service side.
type DataKeyGenerator interface {
	GenerateDataKey(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error)
	GenerateDataKeyWithoutPlaintext(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error)
}

// KeyDescriber is a Backend that describes its keys.
type KeyDescriber interface {
	DescribeKey(ctx context.Context, in *DescribeKeyInput) (*KeyMetadata, error)
}

// CiphertextInspector is a Backend whose ciphertext blobs name the key that made
// them, so a Decrypt or ReEncrypt may omit the key. CiphertextKeyID reads the blob's
// envelope without decrypting; it returns an error matching ErrInvalidCiphertext for
// a blob that is not the backend's.
type CiphertextInspector interface {
	CiphertextKeyID(blob []byte) (string, error)
}
