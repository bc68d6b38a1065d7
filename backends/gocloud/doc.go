// Package gocloud is keyport's backend for gocloud.dev/secrets: any
// *secrets.Keeper, or any keeper URL (awskms://, gcpkms://, azurekeyvault://,
// hashivault://, base64key://), as a keyport backend, and keyport's keys as a
// gocloud secrets driver.
//
// # Keepers as a backend
//
// A [Backend] opens the keeper a KeyID names through a secrets.URLMux (the
// default one unless [Options].URLMux says otherwise; each gocloud driver
// registers its scheme there when its package is imported) and keeps it, or
// serves a keeper the caller opened under an ID of its choosing ([Backend.Add]).
// Outputs name the key by the URL it was opened with, except a base64key:// URL,
// which holds the key itself: it is named base64key://sha256-<hex> (see
// [CanonicalID]), and neither outputs nor errors ever show the URL. An AWS KMS
// key is named by its ARN, as AWS and [backends.Front] name it: a bare key or
// alias ARN opens the awskms keeper of the ARN's region, and awskms:///<ARN>
// (with at most ?region= of that region) is the same key. A Front hands its
// drivers the ARN an AWS key URL holds, so this is also how a Backend
// registered for the awskms scheme is reached through a Front.
//
// Errors are mapped onto keyport's taxonomy by one table (errors.go): an AWS KMS
// exception name where the driver's error carries one, a Vault answer for
// hashivault (whose gocloud driver reports every failure as Unknown), then the
// gcerrors code; a ciphertext that does not open is backends.ErrInvalidCiphertext.
// The keeper's own error stays reachable with errors.As.
//
// # What a Keeper loses against a native driver
//
// gocloud's Keeper is portable because it is small: Encrypt and Decrypt of bytes
// under one key. Through it, compared with keyport's own driver for the same
// service (backends/awskms, backends/vault, ...), a key loses:
//
//   - the encryption context: a Keeper has none. The backend refuses a non-empty
//     context with backends.ErrUnsupported, never dropping it, unless
//     [Options].BindContext binds it inside the plaintext (a version byte and the
//     SHA-256 of backends.EncodeEncryptionContext before the data: 33 bytes, and
//     blobs that only this framing reads);
//   - key identification: a Keeper's ciphertext does not name its key to keyport,
//     so Decrypt needs a KeyID, and a ciphertext of another key fails as
//     backends.ErrInvalidCiphertext, not ErrIncorrectKey (an AWS KMS keeper does
//     answer IncorrectKey, which the mapping keeps);
//   - key states, DescribeKey, GenerateDataKey, native ReEncrypt, grant tokens
//     (refused with backends.ErrUnsupported), algorithms other than the default,
//     and a dry run of its own: a DryRun makes the real call and discards its
//     result before answering backends.ErrDryRunOperation;
//   - typed errors where the driver has none (hashivault), and cancellation where
//     the driver ignores its context.Context (hashivault's requests are not
//     interrupted);
//   - with hashivault, the protection against a typo creating a key: Transit
//     creates a missing key on encrypt unless the mount sets disable_upsert.
//
// # keyport as a gocloud driver
//
// [Driver] is any keyport key (over the local service, AWS KMS, Vault, a Tink
// keyset, a [backends.Front]) as a gocloud driver.Keeper, with an optional
// fixed encryption context; [OpenKeeper] wraps it in a *secrets.Keeper, and
// [RegisterKeeper] registers the keyport:///<key reference> URL scheme with a
// secrets.URLMux, so secrets.OpenKeeper(ctx, "keyport:///alias/orders") works once
// it is registered with the default mux. Its errors keep keyport's
// *backends.Error for Keeper.ErrorAs and map onto gcerrors codes. It passes
// gocloud's own secrets/drivertest conformance suite.
package gocloud
