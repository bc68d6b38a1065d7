// Package chaintest holds the cross-provider tests and benchmarks: a blob and an
// envelope message moved along the chain local -> AWS KMS (local-kms) -> Vault
// Transit -> Google Cloud KMS -> Azure Key Vault -> local, decrypted at every
// step; one message with an encrypted data key per provider that opens with any
// single one of them; and the wrap and unwrap rates of each key service side by
// side. It has no code of its own: it is a test package that imports every driver,
// which no driver may do.
package chaintest
