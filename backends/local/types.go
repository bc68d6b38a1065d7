package local

import (
	"time"

	"github.com/keyport/keyport/backends"
)

// Identity is who calls: an AWS account and a principal ARN in it. An empty
// Principal means the account's root, arn:PARTITION:iam::ACCOUNT:root.
type Identity struct {
	Account   string
	Principal string
}

// CreateKeyInput is the input of Client.CreateKey.
type CreateKeyInput struct {
	Description string
	// Policy is the key policy (JSON); empty means the default policy, which lets
	// every principal of the caller's account do everything (kms:*).
	Policy string
	// KeyUsage must be empty or ENCRYPT_DECRYPT: only symmetric keys are supported.
	KeyUsage backends.KeyUsage
	// KeySpec must be empty or SYMMETRIC_DEFAULT.
	KeySpec string
	// MultiRegion makes the key ID an mrk- ID (replication is not modelled).
	MultiRegion bool
	// BypassPolicyLockoutSafetyCheck skips the check that Policy lets the caller
	// call PutKeyPolicy.
	BypassPolicyLockoutSafetyCheck bool
	// AliasName, if set (alias/Name), names the new key in the same transaction
	// (a keyport addition: AWS needs a CreateAlias call after CreateKey). An
	// alias that exists is AlreadyExists, and then no key is made.
	AliasName string
}

// CreateKeyOutput is the output of Client.CreateKey.
type CreateKeyOutput struct {
	KeyMetadata *backends.KeyMetadata
}

// EnableKeyInput is the input of Client.EnableKey.
type EnableKeyInput struct{ KeyID string }

// DisableKeyInput is the input of Client.DisableKey.
type DisableKeyInput struct{ KeyID string }

// ScheduleKeyDeletionInput is the input of Client.ScheduleKeyDeletion.
type ScheduleKeyDeletionInput struct {
	KeyID string
	// PendingWindowInDays is 7 to 30; 0 means 30.
	PendingWindowInDays int
}

// ScheduleKeyDeletionOutput is the output of Client.ScheduleKeyDeletion.
type ScheduleKeyDeletionOutput struct {
	KeyID               string // key ARN
	DeletionDate        time.Time
	KeyState            backends.KeyState
	PendingWindowInDays int
}

// CancelKeyDeletionInput is the input of Client.CancelKeyDeletion.
type CancelKeyDeletionInput struct{ KeyID string }

// CancelKeyDeletionOutput is the output of Client.CancelKeyDeletion. The key is
// left Disabled, as AWS leaves it.
type CancelKeyDeletionOutput struct {
	KeyID string // key ARN
}

// CreateAliasInput is the input of Client.CreateAlias.
type CreateAliasInput struct {
	AliasName   string // alias/Name
	TargetKeyID string // key ID or key ARN of a key of the caller's account
}

// UpdateAliasInput is the input of Client.UpdateAlias.
type UpdateAliasInput struct {
	AliasName   string
	TargetKeyID string
}

// DeleteAliasInput is the input of Client.DeleteAlias.
type DeleteAliasInput struct{ AliasName string }

// ListAliasesInput is the input of Client.ListAliases.
type ListAliasesInput struct {
	// KeyID, if set, lists only the aliases of that key.
	KeyID string
	// Limit is 1 to 100; 0 means 50.
	Limit  int
	Marker string
}

// AliasListEntry is one alias.
type AliasListEntry struct {
	AliasName   string
	AliasArn    string
	TargetKeyID string // key ID
}

// ListAliasesOutput is the output of Client.ListAliases.
type ListAliasesOutput struct {
	Aliases    []AliasListEntry
	NextMarker string
	Truncated  bool
}

// ListKeysInput is the input of Client.ListKeys.
type ListKeysInput struct {
	// Limit is 1 to 1000; 0 means 100.
	Limit  int
	Marker string
}

// KeyListEntry is one key.
type KeyListEntry struct {
	KeyID  string // key ID
	KeyArn string
}

// ListKeysOutput is the output of Client.ListKeys.
type ListKeysOutput struct {
	Keys       []KeyListEntry
	NextMarker string
	Truncated  bool
}

// PutKeyPolicyInput is the input of Client.PutKeyPolicy.
type PutKeyPolicyInput struct {
	KeyID string
	// PolicyName must be empty or "default".
	PolicyName                     string
	Policy                         string
	BypassPolicyLockoutSafetyCheck bool
}

// GetKeyPolicyInput is the input of Client.GetKeyPolicy.
type GetKeyPolicyInput struct {
	KeyID      string
	PolicyName string
}

// GetKeyPolicyOutput is the output of Client.GetKeyPolicy.
type GetKeyPolicyOutput struct {
	Policy     string
	PolicyName string
}

// GrantOperation is an operation a grant allows, named as AWS names it.
type GrantOperation string

// Grant operations supported by backends/local.
const (
	GrantDecrypt                         GrantOperation = "Decrypt"
	GrantEncrypt                         GrantOperation = "Encrypt"
	GrantGenerateDataKey                 GrantOperation = "GenerateDataKey"
	GrantGenerateDataKeyWithoutPlaintext GrantOperation = "GenerateDataKeyWithoutPlaintext"
	GrantReEncryptFrom                   GrantOperation = "ReEncryptFrom"
	GrantReEncryptTo                     GrantOperation = "ReEncryptTo"
	GrantDescribeKey                     GrantOperation = "DescribeKey"
	GrantCreateGrant                     GrantOperation = "CreateGrant"
	GrantRetireGrant                     GrantOperation = "RetireGrant"
)

// GrantConstraints restrict a grant to requests with a given encryption context.
type GrantConstraints struct {
	// EncryptionContextEquals: the request's context must be exactly this.
	EncryptionContextEquals map[string]string
	// EncryptionContextSubset: the request's context must include these pairs.
	EncryptionContextSubset map[string]string
}

// CreateGrantInput is the input of Client.CreateGrant.
type CreateGrantInput struct {
	KeyID             string
	GranteePrincipal  string
	RetiringPrincipal string
	Operations        []GrantOperation
	Constraints       *GrantConstraints
	Name              string
	GrantTokens       []string
}

// CreateGrantOutput is the output of Client.CreateGrant.
type CreateGrantOutput struct {
	GrantID    string
	GrantToken string
}

// RetireGrantInput is the input of Client.RetireGrant: either GrantToken, or KeyID
// (key ARN) and GrantID.
type RetireGrantInput struct {
	GrantToken string
	KeyID      string
	GrantID    string
}

// RevokeGrantInput is the input of Client.RevokeGrant.
type RevokeGrantInput struct {
	KeyID   string
	GrantID string
}

// ListGrantsInput is the input of Client.ListGrants.
type ListGrantsInput struct {
	KeyID            string
	GrantID          string // optional filter
	GranteePrincipal string // optional filter
	// Limit is 1 to 100; 0 means 50.
	Limit       int
	Marker      string
	GrantTokens []string
}

// GrantListEntry describes one grant.
type GrantListEntry struct {
	GrantID           string
	KeyID             string // key ARN
	Name              string
	GranteePrincipal  string
	RetiringPrincipal string
	IssuingAccount    string
	Operations        []GrantOperation
	Constraints       *GrantConstraints
	CreationDate      time.Time
}

// ListGrantsOutput is the output of Client.ListGrants.
type ListGrantsOutput struct {
	Grants     []GrantListEntry
	NextMarker string
	Truncated  bool
}

// EnableKeyRotationInput is the input of Client.EnableKeyRotation.
type EnableKeyRotationInput struct {
	KeyID string
	// RotationPeriodInDays is 90 to 2560; 0 means 365.
	RotationPeriodInDays int
}

// DisableKeyRotationInput is the input of Client.DisableKeyRotation.
type DisableKeyRotationInput struct{ KeyID string }

// GetKeyRotationStatusInput is the input of Client.GetKeyRotationStatus.
type GetKeyRotationStatusInput struct{ KeyID string }

// GetKeyRotationStatusOutput is the output of Client.GetKeyRotationStatus.
type GetKeyRotationStatusOutput struct {
	KeyID                string // key ARN
	KeyRotationEnabled   bool
	RotationPeriodInDays int
	NextRotationDate     time.Time
}

// RotateKeyOnDemandInput is the input of Client.RotateKeyOnDemand.
type RotateKeyOnDemandInput struct{ KeyID string }

// RotateKeyOnDemandOutput is the output of Client.RotateKeyOnDemand.
type RotateKeyOnDemandOutput struct {
	KeyID string // key ARN
	// CurrentVersion is the new backing-key version.
	CurrentVersion int
}
