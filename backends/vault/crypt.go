package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"strconv"

	"github.com/keyport/keyport/backends"
)

// encryptRequest is the body of <mount>/encrypt/<name>. Byte slices travel as
// base64, as Transit wants them.
type encryptRequest struct {
	Plaintext      []byte `json:"plaintext"`
	Context        []byte `json:"context,omitempty"`
	AssociatedData []byte `json:"associated_data,omitempty"`
}

// decryptRequest is the body of <mount>/decrypt/<name> and <mount>/rewrap/<name>.
type decryptRequest struct {
	Ciphertext     string `json:"ciphertext"`
	Context        []byte `json:"context,omitempty"`
	AssociatedData []byte `json:"associated_data,omitempty"`
}

// Encrypt encrypts in.Plaintext under the Transit key in.KeyID, binding
// in.EncryptionContext (see the package documentation). It never creates a key: a
// missing one is an error matching backends.ErrNotFound.
func (b *Backend) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	const op = "Encrypt"
	ref, err := b.parse(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	// Transit would create a missing key (upsert) unless the mount forbids it, so
	// check the key afresh unless it does.
	info, err := b.keyFor(ctx, op, ref, !b.upsertDisabled(ctx, ref.Mount))
	if err != nil {
		return nil, err
	}
	alg, err := info.algorithm(op, ref, in.EncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	derivation, ad, err := info.binding(op, ref, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	pt := in.Plaintext
	if pt == nil {
		pt = []byte{}
	}
	var out struct {
		Ciphertext string `json:"ciphertext"`
		KeyVersion int    `json:"key_version"`
	}
	err = b.write(ctx, op, ref, ref.Mount+"/encrypt/"+ref.Name,
		&encryptRequest{Plaintext: pt, Context: derivation, AssociatedData: ad}, &out, false)
	if err != nil {
		b.forget(ref, err)
		return nil, err
	}
	if !isTransitCiphertext([]byte(out.Ciphertext)) {
		return nil, backends.Errorf(backends.ErrInternal, op, ref.URI(), "Vault answered no Transit ciphertext")
	}
	if in.DryRun {
		return nil, dryRunDone(op, ref)
	}
	version := ""
	if out.KeyVersion > 0 { // an older Vault may not answer key_version
		version = strconv.Itoa(out.KeyVersion)
	}
	return &backends.EncryptOutput{CiphertextBlob: []byte(out.Ciphertext), KeyID: ref.URI(), KeyVersion: version, EncryptionAlgorithm: alg}, nil
}

// Decrypt decrypts in.CiphertextBlob, a Transit ciphertext of the key in.KeyID, under
// in.EncryptionContext. in.KeyID is required: Transit ciphertexts do not name their
// key.
func (b *Backend) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	const op = "Decrypt"
	if in.KeyID == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "KeyID is required: Vault Transit ciphertexts do not name their key")
	}
	ref, err := b.parse(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	if !isTransitCiphertext(in.CiphertextBlob) {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, ref.URI(), "not a Vault Transit ciphertext (want vault:v<version>:<base64>)")
	}
	info, err := b.keyFor(ctx, op, ref, false)
	if err != nil {
		return nil, err
	}
	alg, err := info.algorithm(op, ref, in.EncryptionAlgorithm)
	if err != nil {
		return nil, err
	}
	derivation, ad, err := info.binding(op, ref, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	var out struct {
		Plaintext []byte `json:"plaintext"`
	}
	err = b.write(ctx, op, ref, ref.Mount+"/decrypt/"+ref.Name,
		&decryptRequest{Ciphertext: string(in.CiphertextBlob), Context: derivation, AssociatedData: ad}, &out, false)
	if err != nil {
		clear(out.Plaintext)
		b.forget(ref, err)
		return nil, err
	}
	if in.DryRun {
		clear(out.Plaintext)
		return nil, dryRunDone(op, ref)
	}
	if out.Plaintext == nil {
		out.Plaintext = []byte{}
	}
	return &backends.DecryptOutput{Plaintext: out.Plaintext, KeyID: ref.URI(), EncryptionAlgorithm: alg}, nil
}

// isTransitCiphertext reports whether blob is a canonical Transit ciphertext:
// "vault:v", a key version without leading zeros, ":", and canonical standard
// base64. Transit itself accepts more (version 0 as the latest, base64 with
// non-zero padding bits or line breaks), so a damaged blob could otherwise still
// decrypt.
func isTransitCiphertext(blob []byte) bool {
	rest, ok := bytes.CutPrefix(blob, []byte("vault:v"))
	if !ok {
		return false
	}
	ver, body, ok := bytes.Cut(rest, []byte(":"))
	if !ok || len(ver) == 0 || len(ver) > 9 || ver[0] == '0' || len(body) == 0 || len(body)%4 != 0 {
		return false
	}
	for _, c := range ver {
		if c < '0' || c > '9' {
			return false
		}
	}
	for _, c := range body { // the decoder would skip '\r' and '\n'
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	buf := make([]byte, base64.StdEncoding.DecodedLen(len(body)))
	_, err := base64.StdEncoding.Strict().Decode(buf, body)
	return err == nil
}

// dryRunDone is the answer to a DryRun whose request succeeded. Transit has no dry
// run, so the backend makes the real request (Transit's encrypt, decrypt and
// datakey endpoints change nothing) and discards its result, clearing any
// plaintext; that checks the key, the token's permission, the ciphertext and the
// encryption context, as AWS KMS does.
func dryRunDone(op string, ref Ref) error {
	return backends.Errorf(backends.ErrDryRunOperation, op, ref.URI(), "dry run: the request would have succeeded")
}
