package backends

import "time"

// KeyState is the lifecycle state of a key, named as AWS KMS names it.
type KeyState string

// Key states.
const (
	KeyStateEnabled         KeyState = "Enabled"
	KeyStateDisabled        KeyState = "Disabled"
	KeyStatePendingDeletion KeyState = "PendingDeletion"
	KeyStatePendingImport   KeyState = "PendingImport"
	KeyStateUnavailable     KeyState = "Unavailable"
	KeyStateCreating        KeyState = "Creating"
	KeyStateUpdating        KeyState = "Updating"
)

// KeyUsage says what a key is for, named as AWS KMS names it.
type KeyUsage string

// Key usages.
const (
	KeyUsageEncryptDecrypt KeyUsage = "ENCRYPT_DECRYPT"
	KeyUsageSignVerify     KeyUsage = "SIGN_VERIFY"
	KeyUsageGenerateMAC    KeyUsage = "GENERATE_VERIFY_MAC"
)

// DescribeKeyInput is the input of KeyDescriber.DescribeKey.
type DescribeKeyInput struct {
	KeyID       string
	GrantTokens []string
}

// KeyMetadata describes a key, with the fields of AWS KMS's KeyMetadata under the
// same names. Fields a service does not have are left zero.
type KeyMetadata struct {
	// Arn is the key's canonical identifier: its key ARN for AWS KMS and the
	// embedded service, its canonical URI for every other service
	// (vault://transit/orders, gcpkms://projects/...). Outputs of every operation
	// name keys this way.
	Arn string
	// KeyID is the service's short identifier: the key ID for AWS KMS, the key
	// name for Vault Transit.
	KeyID        string
	AWSAccountID string
	Region       string
	KeyState     KeyState
	// Enabled is true when KeyState is Enabled.
	Enabled  bool
	KeyUsage KeyUsage
	// KeySpec is the key spec (SYMMETRIC_DEFAULT, RSA_2048, aes256-gcm96, ...).
	KeySpec              string
	EncryptionAlgorithms []Algorithm
	Description          string
	CreationDate         time.Time
	// DeletionDate is set for a key pending deletion.
	DeletionDate time.Time
	MultiRegion  bool
	// CurrentVersion is the backing-key version that new ciphertexts use (1-based),
	// and MinDecryptionVersion the oldest that still decrypts; 0 where the service
	// does not expose versions.
	CurrentVersion       int
	MinDecryptionVersion int
	// Derived says that the service derives a key per encryption context (Vault Transit).
	Derived bool
}
