// Package kmsapi serves the AWS KMS API (the JSON 1.1 protocol of
// TrentService, as every AWS SDK, the AWS CLI and the AWS Encryption SDKs speak
// it) over keyport's key services, so that an application written for AWS KMS runs
// against keyport unchanged.
//
// A [Server] is an http.Handler. Every request is authenticated with AWS Signature
// Version 4 against the access keys of the configured [Principal] values, each
// mapped to an account and a principal ARN that key policies and grants see; one
// server holds several accounts, and several regions (one backends/local Service
// each). Inputs are validated as AWS validates them, and errors are answered as
// AWS answers them: the exception name in __type, a message, and the HTTP status.
// Request bodies are limited in size, each principal may have a request quota
// (ThrottlingException beyond it), GET /healthz answers without authentication,
// and an optional log/slog logger receives an access-log record per request
// without secrets.
//
// The operations are those of backends/local's Client: CreateKey, DescribeKey,
// ListKeys, CreateAlias, UpdateAlias, DeleteAlias, ListAliases, EnableKey,
// DisableKey, ScheduleKeyDeletion, CancelKeyDeletion, EnableKeyRotation,
// DisableKeyRotation, GetKeyRotationStatus, RotateKeyOnDemand, GetKeyPolicy,
// PutKeyPolicy, CreateGrant, ListGrants, RetireGrant, RevokeGrant, Encrypt,
// Decrypt, ReEncrypt, GenerateDataKey, GenerateDataKeyWithoutPlaintext and
// GenerateRandom. What backends/local does not model is answered with
// UnsupportedOperationException (asymmetric and HMAC keys, imported key material,
// custom key stores, tags, Nitro Enclave recipients, DryRun on grant operations).
//
// Other providers behind KMS key IDs: an [ExternalKey] maps a key ID and alias
// names of an account and region to any key URL a backends.Front opens
// (vault://transit/orders, gcpkms://..., pkcs11:...), so that `aws kms encrypt
// --key-id alias/vault-orders` reaches Vault Transit. ReEncrypt between such a key
// and any other goes through reencrypt.Engine. DescribeKey names such a key's
// origin EXTERNAL_KEY_STORE and its URL as XksKeyConfiguration.Id; ListKeys and
// ListAliases list the external keys of the caller's account first.
//
// HTTP status codes: AWS KMS answers every client-side exception with 400 (its
// Smithy model's httpError traits are not what the service sends), its internal
// errors with 500 and DependencyTimeoutException with 503. Bodies over the size
// limit get 413 with RequestEntityTooLargeException.
package kmsapi
