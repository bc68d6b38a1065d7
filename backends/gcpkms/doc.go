// Package gcpkms is the keyport backend for Google Cloud KMS, over the official
// client (cloud.google.com/go/kms/apiv1, gRPC).
//
// # Keys
//
// A key is a symmetric ENCRYPT_DECRYPT CryptoKey, named in any of these forms
// (see [ParseRef]):
//
//	projects/P/locations/L/keyRings/R/cryptoKeys/K           the resource name
//	gcpkms://projects/P/locations/L/keyRings/R/cryptoKeys/K  keyport's and gocloud.dev's URL
//	gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K Tink's key URI
//
// Every output names the key by its canonical gcpkms:// URI ([Ref.URI]), whatever
// form the input took, and that is what envelope messages record (provider ID
// keyport:gcpkms). A reference may end in /cryptoKeyVersions/N to name a version:
// Decrypt and DescribeKey take it (Cloud KMS decrypts with whichever version made
// the ciphertext), Encrypt refuses it, so that new ciphertexts always use the
// CryptoKey's primary version.
//
// # Encryption context and ciphertexts
//
// The encryption context is bound as Cloud KMS's additional_authenticated_data, in
// keyport's unambiguous encoding ([backends.EncodeEncryptionContext]): a
// ciphertext decrypts only under exactly the context it was made with, and an empty
// context is no AAD at all. Ciphertexts are Cloud KMS's own, with nothing added:
// one made by gcloud or any other client (with no AAD, or with the same encoded
// context) decrypts unchanged, and the other way round. Cloud KMS ciphertexts do
// not name their key, so Decrypt needs the key: from the envelope's provider info,
// or SourceKeyId for a raw blob; without one it fails with
// [backends.ErrInvalidArgument]. For the same reason a ciphertext of another key
// fails as a damaged one does, with [backends.ErrInvalidCiphertext], never
// [backends.ErrIncorrectKey].
//
// # Integrity
//
// Every request carries the CRC32C checksums Google asks clients to set
// (plaintext_crc32c, ciphertext_crc32c, additional_authenticated_data_crc32c),
// and every response is checked: its own checksum, and the verified_* flags that
// say Cloud KMS checked the request's. A mismatch on either side is an error of
// kind [backends.ErrInternal], which is retryable, carrying a [*ChecksumError]; the
// response is discarded (a plaintext wiped).
//
// # Errors and states
//
// gRPC status codes map onto keyport's taxonomy through one table: NOT_FOUND is
// NotFound, PERMISSION_DENIED and UNAUTHENTICATED are AccessDenied,
// RESOURCE_EXHAUSTED is Throttling, UNAVAILABLE KeyUnavailable, DEADLINE_EXCEEDED
// DependencyTimeout, INVALID_ARGUMENT ValidationException (InvalidCiphertext on
// Decrypt), and FAILED_PRECONDITION follows the version state Cloud KMS names:
// DISABLED is Disabled; DESTROY_SCHEDULED, DESTROYED, PENDING_GENERATION and
// PENDING_IMPORT are KMSInvalidState. DescribeKey reports the primary version's
// state as the key's (DESTROY_SCHEDULED as PendingDeletion with its destroy time).
//
// Cloud KMS has no dry run and no native re-encryption: a DryRun makes the real
// call (which changes nothing) and discards the result, and ReEncrypt goes through
// the reencrypt engine (decrypt here, encrypt at the destination). It has IAM but
// no grants; GrantTokens are ignored.
//
// # Tests
//
// No Cloud KMS emulator exists. The tests run the real client against
// internal/gcpkmstest, an in-process KeyManagementService on a loopback port; the
// repository README says what that server verifies and what only a real Cloud KMS
// project would.
package gcpkms
