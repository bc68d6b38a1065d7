// Package vault is keyport's backend for the HashiCorp Vault Transit secrets engine,
// over github.com/hashicorp/vault/api.
//
// # Key references
//
// Keys are named vault://<mount>/<key> (see ParseRef): vault://transit/orders is the
// key "orders" of the Transit engine mounted at transit/, vault://team-a/transit/orders
// one mounted at team-a/transit/, and vault:///orders is shorthand for the mount
// named by DefaultMount ("transit"). Every output names the key by its canonical URI,
// vault://<mount>/<key>. Register the backend with a backends.Front under the
// "vault" scheme with Register.
//
// # Ciphertexts and the encryption context
//
// A CiphertextBlob is Transit's own ciphertext ("vault:v<version>:<base64>") as
// bytes, so blobs interoperate with every other Transit client. Transit ciphertexts
// do not name their key: Decrypt needs a KeyID, and a blob of another key fails as
// backends.ErrInvalidCiphertext, never ErrIncorrectKey (Transit cannot tell it from
// a damaged blob).
//
// The encryption context is bound exactly, in one of two ways chosen by the key:
//
//   - A non-derived AEAD key (aes128-gcm96, aes256-gcm96, chacha20-poly1305) binds it
//     as Transit associated_data: the bytes of backends.EncodeEncryptionContext. An
//     empty context sends no associated_data, so such blobs are plain Transit
//     ciphertexts. A non-AEAD key (RSA, CBC) takes only an empty context.
//   - A derived key (derived=true) binds it as Transit's key-derivation context: the
//     bytes of backends.EncodeEncryptionContext, or the four zero bytes 00 00 00 00
//     (a count of zero pairs) for an empty context, since Transit requires a
//     non-empty context for derived keys.
//
// The backend reads a key's metadata (type, derived) before using it, because Transit
// silently ignores a context given for a non-derived key: binding the context as a
// derivation context there would bind nothing.
//
// Which binding to choose: Transit's rewrap endpoint has no associated_data field,
// so a ciphertext bound through associated_data cannot be rewrapped natively; one
// bound through a derived key's context can. Use derived keys where ciphertexts with
// an encryption context must move to the latest key version inside Vault.
//
// # Missing keys are never created
//
// Transit creates a key on the fly when asked to encrypt under a name that does not
// exist (an "upsert"), so a typo in a key reference would silently make a new key.
// Before an Encrypt the backend therefore checks that the key exists (one extra
// read), unless the mount's config/keys sets disable_upsert, which the backend reads
// (and caches for KeyCacheTTL) and then trusts. Set disable_upsert=true on your
// Transit mounts: it is the only protection without a race (a key deleted between
// the check and the encrypt would otherwise be recreated) and it saves the round
// trip.
//
// # ReEncrypt
//
// Backend implements backends.ReEncrypter with Transit's rewrap, which moves a
// ciphertext to the latest version of its key without the plaintext leaving Vault.
// That is possible only when the source and destination are the same key, the
// source and destination encryption contexts are equal, and the binding lets rewrap
// see the context: the key is derived, or the context is empty. Every other request
// (another key, even in the same Vault; a changed context; an associated_data-bound
// ciphertext) answers an error matching backends.ErrUnsupported, on which a
// reencrypt.Engine decrypts and encrypts itself (and reports Native=false).
//
// # Errors
//
// Vault's answers are mapped onto the taxonomy of package backends by one table
// (errors.go): a missing or deleted key is ErrNotFound, a ciphertext whose key
// version is below the key's min_decryption_version is ErrDisabled (that key version
// is disabled for decryption), a wrong encryption context or damaged ciphertext is
// ErrInvalidCiphertext, a permission denied is ErrAccessDenied, a sealed Vault is
// ErrKeyUnavailable (retryable), rate limits are ErrThrottling, and other 5xx answers
// ErrInternal. The *api.ResponseError stays reachable with errors.As.
//
// Vault has no key states: a key is there (Enabled) or not (NotFound); there is no
// Disabled or PendingDeletion. Transit has no dry run either; a DryRun makes the
// real request (Transit's encrypt, decrypt and datakey endpoints change nothing),
// discards the result, clearing any plaintext, and answers
// backends.ErrDryRunOperation, so it checks the key, the token's permission, the
// ciphertext and the encryption context as AWS KMS does.
//
// Vault has no grants and no separate ReEncryptFrom/ReEncryptTo permissions:
// GrantTokens are ignored, and what a token may do is decided by
// its Vault policy on the Transit paths (read on <mount>/keys/<key>, which the
// backend reads before using a key; update on <mount>/encrypt/<key>,
// <mount>/decrypt/<key>, <mount>/rewrap/<key> and <mount>/datakey/*/<key>; read on
// <mount>/config/keys is optional and lets Encrypt skip the existence check where
// disable_upsert is set).
//
// # Plaintext hygiene
//
// Plaintexts travel to and from Vault base64-encoded in JSON bodies; the backend
// encodes and decodes them as byte slices and clears the request bodies it built,
// but buffers inside net/http cannot be wiped. Callers own and should clear the
// plaintexts they get back.
package vault
