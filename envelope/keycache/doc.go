// Package keycache caches data keys, in the manner of the AWS Encryption SDK's
// caching cryptographic materials manager: a caching keyring (NewKeyring) wraps
// another keyring and reuses the data keys it makes or unwraps, so that a key
// service is asked once per data key rather than once per message.
//
//	kr, _ := keyring.NewBackend(kms, keyARN, nil)
//	cached, _ := keycache.NewKeyring(kr, keycache.Options{MaxAge: 5 * time.Minute, MaxMessages: 1000})
//	msg, _ := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{
//		Keyring: cached, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: ec})
//
// # How it plugs in
//
// The ESDK puts its cache in a materials manager between the session and the
// keyring. In keyport the session already does what the ESDK's default manager
// does (suite, signing key, context checks), and a keyring receives everything a
// cache entry depends on: the suite, the whole encryption context, the
// announced plaintext length (EncryptionMaterials.MaxPlaintextLength) and, to
// decrypt, the encrypted data keys. So the cache is a keyring that wraps
// another, and envelope keeps a single extension point, the Keyring interface.
// A caching keyring goes outermost: around a multi-keyring, not inside one.
//
// # What it caches, and what never
//
// An entry is found by the ESDK's cache entry identifiers: a hash of the
// partition, the suite and the serialized encryption context (and, to decrypt,
// of the encrypted data keys), so a data key is never shared across
// partitions, suites or encryption contexts. Encryption entries hold the data
// key and its encrypted data keys, and count the messages and bytes they
// encrypt: an entry that would pass Options.MaxMessages or Options.MaxBytes, or
// is older than Options.MaxAge, is wiped and a new data key made. Decryption
// entries hold a data key for Options.MaxAge.
//
// Never cached:
//   - the signing key of a signed suite (0x0578, keyport's default, and the
//     other ECDSA suites): the session makes one per message and no keyring
//     ever sees it. Its public half is in the encryption context, so no entry
//     could serve two messages either: encryption under a signed suite bypasses
//     the cache (use 0x0478 to cache). Decryption is cached.
//   - data keys of suites without key derivation (0x0014, 0x0046, 0x0078),
//     whose data key is the message key;
//   - data keys for a plaintext of unknown length (a stream whose
//     EncryptOptions.PlaintextLength is not set) or longer than MaxBytes.
//
// The Cache is a least-recently-used cache of bounded size, safe for
// concurrent use; several keyrings may share it, each in its own partition
// (Options.Partition), and share entries only when given the same partition.
// Every data key is zeroed when its entry leaves the cache; hits hand the
// session a copy, which the session wipes after the message.
//
// # When to cache, and when not to
//
// Caching fits many small messages under one key and encryption context, where
// a round trip to the key service per message costs more than the encryption
// (AWS KMS: a network round trip, a charge and a request quota per call).
//
// It trades away per-message properties; do not cache when they matter:
//   - one data key protects many messages: whoever obtains it (from this
//     process's memory) reads all of them, up to MaxMessages and MaxBytes;
//   - the key service authorizes and logs once per data key, not per message:
//     disabling the key, changing its policy or revoking a grant takes effect
//     only when cached entries expire (MaxAge), and audit logs (CloudTrail)
//     show one call for many messages;
//   - without a signature (0x0478), anyone who can decrypt a message can also
//     write messages that decrypt under the same key: choose 0x0578 (no
//     encryption caching) when readers must not be able to forge.
//
// Keep MaxAge short (minutes) and set MaxMessages and MaxBytes to what one key
// should protect; caching a few seconds already removes most key service calls
// from a busy service.
package keycache
