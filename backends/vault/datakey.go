package vault

import (
	"context"
	"crypto/rand"

	"github.com/keyport/keyport/backends"
)

// GenerateDataKey returns a new data key of in.NumberOfBytes (default 32) bytes in
// plaintext and encrypted under in.KeyID, bound to in.EncryptionContext exactly as
// Encrypt binds it, so Decrypt recovers it. For 16, 32 or 64 bytes under a derived
// key or with an empty context it calls Transit's datakey/plaintext endpoint (one
// round trip; the key is made in Vault); otherwise (other sizes, or an
// associated_data binding, which the datakey endpoint does not take) it draws the
// key from crypto/rand and encrypts it with Encrypt. The caller owns Plaintext and
// should clear it.
func (b *Backend) GenerateDataKey(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return b.dataKey(ctx, "GenerateDataKey", in, true)
}

// GenerateDataKeyWithoutPlaintext is GenerateDataKey without the plaintext, through
// Transit's datakey/wrapped endpoint where GenerateDataKey would use
// datakey/plaintext; on the crypto/rand path the plaintext is cleared before it
// returns.
func (b *Backend) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return b.dataKey(ctx, "GenerateDataKeyWithoutPlaintext", in, false)
}

func (b *Backend) dataKey(ctx context.Context, op string, in *backends.GenerateDataKeyInput, withPlaintext bool) (*backends.GenerateDataKeyOutput, error) {
	ref, err := b.parse(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	n, err := in.DataKeyLength(op)
	if err != nil {
		return nil, err
	}
	info, err := b.keyFor(ctx, op, ref, false)
	if err != nil {
		return nil, err
	}
	if _, err := info.algorithm(op, ref, backends.SymmetricDefault); err != nil {
		return nil, err
	}
	derivation, ad, err := info.binding(op, ref, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	native := ad == nil && (n == 16 || n == 32 || n == 64)
	if in.DryRun {
		withPlaintext = false // the dry run makes a wrapped key and discards it
	}
	if !native {
		pt := make([]byte, n)
		if _, err := rand.Read(pt); err != nil {
			return nil, backends.Wrap(backends.ErrInternal, op, ref.URI(), err)
		}
		out, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: ref.URI(), Plaintext: pt, EncryptionContext: in.EncryptionContext, DryRun: in.DryRun})
		if err != nil {
			clear(pt)
			if e, ok := err.(*backends.Error); ok {
				c := *e
				c.Op = op
				return nil, &c
			}
			return nil, err
		}
		if !withPlaintext {
			clear(pt)
			pt = nil
		}
		return &backends.GenerateDataKeyOutput{CiphertextBlob: out.CiphertextBlob, Plaintext: pt, KeyID: ref.URI()}, nil
	}
	kind := "wrapped"
	if withPlaintext {
		kind = "plaintext"
	}
	var out struct {
		Ciphertext string `json:"ciphertext"`
		Plaintext  []byte `json:"plaintext"`
	}
	body := struct {
		Bits    int    `json:"bits"`
		Context []byte `json:"context,omitempty"`
	}{Bits: 8 * n, Context: derivation}
	if err := b.write(ctx, op, ref, ref.Mount+"/datakey/"+kind+"/"+ref.Name, &body, &out, false); err != nil {
		clear(out.Plaintext)
		b.forget(ref, err)
		return nil, err
	}
	if !isTransitCiphertext([]byte(out.Ciphertext)) || (withPlaintext && len(out.Plaintext) != n) {
		clear(out.Plaintext)
		return nil, backends.Errorf(backends.ErrInternal, op, ref.URI(), "Vault answered no data key of %d bytes", n)
	}
	if !withPlaintext {
		clear(out.Plaintext)
		out.Plaintext = nil
	}
	if in.DryRun {
		return nil, dryRunDone(op, ref)
	}
	return &backends.GenerateDataKeyOutput{CiphertextBlob: []byte(out.Ciphertext), Plaintext: out.Plaintext, KeyID: ref.URI()}, nil
}
