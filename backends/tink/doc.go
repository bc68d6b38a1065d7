// Package tink is keyport's backend for Tink (github.com/tink-crypto/tink-go/v2):
// Tink AEAD keysets held as keyport keys, and Tink KMS clients both ways.
//
// # Keysets
//
// A [Keyset] is one Tink AEAD keyset of AES-GCM, AES-GCM-SIV or
// XChaCha20-Poly1305 keys, served by a [Backend] as the key
// tink-keyset://<name>. The keyset's primary key encrypts; every enabled key
// decrypts; Tink's output prefix (a version byte and the 4-byte key ID) on each
// ciphertext names the key that made it, so a blob of a disabled key fails as
// backends.ErrDisabled, a blob of another keyset the backend serves as
// backends.ErrIncorrectKey, and a Decrypt without KeyID finds its keyset
// ([Backend.CiphertextKeyID]). A blob is Tink's own ciphertext, and the
// encryption context is Tink's associated data (the bytes of
// backends.EncodeEncryptionContext; nothing for an empty context), so Tink reads
// keyport's blobs and keyport reads Tink's ciphertexts made with empty associated
// data, such as the data keys inside Tink's KMS envelope AEAD.
//
// Keysets are read from Tink's JSON or binary format ([Open], [Read]) either
// encrypted under any key keyport reaches ([Storage].KEK: the local service, AWS
// KMS, Vault, another keyset) in Tink's encrypted-keyset format, or in cleartext
// only with [Storage].InsecureCleartext. [Keyset.Rotate] (add a key and make it
// primary), [Keyset.AddKey], [Keyset.Promote], [Keyset.Enable],
// [Keyset.Disable] and [Keyset.Destroy] write the keyset back to its file
// atomically, re-encrypted under its KEK, before they take effect.
// [Backend.DescribeKey] describes a keyset as one key whose versions are its keys
// (numbered from 1 in keyset order) and lists their IDs and statuses in
// Description; [Keyset.Keys] returns them as values.
//
// [Backend.ReEncrypt] re-encrypts natively between the keysets of one backend
// (or to a keyset's new primary under a new context) without the plaintext
// leaving it; a reencrypt.Engine moves keyset ciphertexts to any other key.
//
// A keyset as a whole is always Enabled (Tink requires an enabled primary): it has
// no Disabled or PendingDeletion state. Destroying a key removes it from the
// keyset (Tink's keyset.Manager.Delete); its ciphertexts then name a key the
// keyset does not know and fail as backends.ErrInvalidCiphertext.
//
// # Tink KMS clients, both ways
//
// [KMS] turns any Tink registry.KMSClient (Tink's aws-kms://, gcp-kms:// and
// hcvault:// integrations) into a keyport backend, and [KMSClient] offers any
// keyport backend to Tink as a registry.KMSClient, so Tink's
// aead.NewKMSEnvelopeAEAD2 and encrypted keysets run over keyport's keys and
// keyport reads what they made. Both bind associated data and encryption contexts
// in a way that cannot collide (see their documentation). Errors of Tink's AWS
// client keep their AWS KMS exception names, and those of its Vault and Cloud
// KMS clients (their API clients' errors) are mapped by the tables of
// backends/vault and backends/gcpkms. The conformance suite runs over Tink's AWS
// and Vault clients, against local-kms and the real Vault, and over a Tink client
// of the official Cloud KMS gRPC client against keyport's protocol-level Cloud
// KMS server.
package tink
