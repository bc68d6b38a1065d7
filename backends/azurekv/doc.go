// Package azurekv is the keyport backend for Azure Key Vault and Managed HSM keys,
// over the official client (github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys).
//
// # Keys
//
// A key is named by keyport's URL, Key Vault's key identifier or gocloud.dev's URL
// (see [ParseRef]):
//
//	azurekv://NAME.vault.azure.net/keys/KEY[/VERSION]
//	https://NAME.vault.azure.net/keys/KEY[/VERSION]
//	azurekeyvault://NAME.vault.azure.net/keys/KEY[/VERSION]
//
// (and the Managed HSM, China, US Government and Germany hosts). Every output names
// the key by its canonical azurekv:// URL without a version ([Ref.URI]), and that
// is what envelope messages record (provider ID keyport:azurekv, whose scheme it
// is). Only Key Vault
// hosts are accepted, so a key identifier read from a ciphertext never sends a
// request, or a token, anywhere else.
//
// # Wrapping and versions
//
// Encrypt wraps the plaintext (a data key) with the key's current version:
// RSA-OAEP-256 for RSA and RSA-HSM keys, A256KW for 256-bit oct-HSM keys of a
// Managed HSM. The ciphertext records the versioned key identifier that wrapped,
// and Decrypt unwraps with that version, so old ciphertexts keep opening after a
// rotation and Decrypt needs no KeyID (the Backend is a
// [backends.CiphertextInspector]); a KeyID that names another key, or another
// version, is [backends.ErrIncorrectKey]. A versioned identifier pins Decrypt to
// that version and is refused by Encrypt. RSA-OAEP wraps little: 158 bytes with a
// 2048-bit key, 286 with 3072, 414 with 4096 (the padding and keyport's 32-byte
// digest taken off); longer plaintexts are [backends.ErrInvalidArgument].
//
// The ciphertext format is keyport's (see blob.go): a header with the key
// identifier and a CRC32C that tells a damaged header from another key's blob,
// then Key Vault's wrapKey result.
//
// # Encryption context
//
// Key Vault has no encryption context. By default Encrypt refuses a non-empty one
// with [backends.ErrUnsupported] rather than drop it. With
// [Options.BindEncryptionContext] the backend binds it itself: what Key Vault
// wraps is a SHA-256 digest of the ciphertext's header and the encoded context
// ([backends.EncodeEncryptionContext]), then the plaintext, and Decrypt checks the
// digest after unwrapping, so a wrong, missing or extra pair fails with
// [backends.ErrInvalidCiphertext]. The digest is inside the wrapping, so it tells
// nothing about a plaintext, however short; RSA-OAEP and AES key wrap are
// non-malleable, so it cannot be swapped without the unwrap permission. But the
// check is keyport's, not the service's: a principal with unwrapKey permission can
// unwrap with another client and never present the context. Where the context
// must be an authorization factor, as it is in AWS KMS, Key Vault cannot give it.
//
// # Errors and states
//
// Key Vault's answers (*azcore.ResponseError, reachable with errors.As) map onto
// keyport's taxonomy through one table: inner error codes first (KeyDisabled,
// KeyExpired and KeyNotYetValid are Disabled; KeyOperationForbidden is
// InvalidKeyUsage), then the status: 401 and 403 AccessDenied, 404 NotFound, 409
// KMSInvalidState, 429 Throttling (the message gives Retry-After, and [RetryAfter]
// returns it), 400 on unwrapKey InvalidCiphertext, 503 KeyUnavailable, 504
// DependencyTimeout, other 5xx KMSInternalException. A key that is soft-deleted
// (found among the deleted keys after a 404) is KMSInvalidState, as AWS KMS answers
// for a key pending deletion, and DescribeKey reports it PendingDeletion with its
// scheduled purge date; a purged key is NotFound. Encrypt itself refuses a key
// whose current version is disabled, not yet valid or expired (exp stops new
// wraps; old ciphertexts still unwrap), reading the key at most once per
// [Options.KeyCacheTTL].
//
// Key Vault has no dry run and no native re-encryption: a DryRun makes the real
// call (which changes nothing) and discards the result, and ReEncrypt goes through
// the reencrypt engine. It has access policies and RBAC but no grants; GrantTokens
// are ignored.
//
// # Tests
//
// No Key Vault emulator can run here. The tests run the real azkeys client against
// internal/azurekvtest, an HTTPS server on a loopback port that answers the first
// request with Key Vault's 401 bearer challenge; the repository README says what
// that server verifies and what only a real vault would.
package azurekv
