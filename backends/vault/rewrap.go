package vault

import (
	"context"
	"maps"

	"github.com/keyport/keyport/backends"
)

// ReEncrypt moves a ciphertext to the latest version of its key with Transit's
// rewrap: the plaintext never leaves Vault. It does so only when
//
//   - SourceKeyID and DestinationKeyID name the same key,
//   - the source and destination encryption contexts are equal, and
//   - the key is derived or the context is empty (rewrap takes a derivation context
//     but no associated_data).
//
// Every other request, and every DryRun, answers an error matching
// backends.ErrUnsupported without calling Vault: a reencrypt.Engine then decrypts
// at the source and encrypts at the destination itself (Native=false). Errors of an
// actual rewrap (a wrong context: ErrInvalidCiphertext; a key version below
// min_decryption_version: ErrDisabled; a missing key: ErrNotFound) are returned as
// they are.
func (b *Backend) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	const op = "ReEncrypt"
	unsupported := func(why string) (*backends.ReEncryptOutput, error) {
		return nil, backends.Errorf(backends.ErrUnsupported, op, in.SourceKeyID, "Transit rewrap cannot do this (%s); decrypt and encrypt instead (reencrypt.Engine does)", why)
	}
	if in.SourceKeyID == "" {
		return unsupported("Transit ciphertexts do not name their key and SourceKeyId is empty")
	}
	src, err := b.parse(op, in.SourceKeyID)
	if err != nil {
		return nil, err
	}
	dst, err := b.parse(op, in.DestinationKeyID)
	if err != nil {
		return nil, err
	}
	if src != dst {
		return unsupported("the source and destination keys differ")
	}
	if !maps.Equal(in.SourceEncryptionContext, in.DestinationEncryptionContext) {
		return unsupported("the encryption context changes")
	}
	if in.SourceEncryptionAlgorithm.OrDefault() != in.DestinationEncryptionAlgorithm.OrDefault() {
		return unsupported("the encryption algorithm changes")
	}
	if in.DryRun {
		return unsupported("a dry run")
	}
	if !isTransitCiphertext(in.CiphertextBlob) {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, src.URI(), "not a Vault Transit ciphertext (want vault:v<version>:<base64>)")
	}
	info, err := b.keyFor(ctx, op, src, false)
	if err != nil {
		return nil, err
	}
	alg, err := info.algorithm(op, src, in.SourceEncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	if !info.Derived && len(in.SourceEncryptionContext) > 0 {
		return unsupported("the ciphertext binds its encryption context as associated_data, which rewrap does not take")
	}
	derivation, _, err := info.binding(op, src, in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	var out struct {
		Ciphertext string `json:"ciphertext"`
	}
	err = b.write(ctx, op, src, src.Mount+"/rewrap/"+src.Name,
		&decryptRequest{Ciphertext: string(in.CiphertextBlob), Context: derivation}, &out, false)
	if err != nil {
		b.forget(src, err)
		return nil, err
	}
	if !isTransitCiphertext([]byte(out.Ciphertext)) {
		return nil, backends.Errorf(backends.ErrInternal, op, src.URI(), "Vault answered no Transit ciphertext")
	}
	return &backends.ReEncryptOutput{
		CiphertextBlob:                 []byte(out.Ciphertext),
		SourceKeyID:                    src.URI(),
		KeyID:                          dst.URI(),
		SourceEncryptionAlgorithm:      alg,
		DestinationEncryptionAlgorithm: alg,
		Native:                         true,
	}, nil
}
