// Package reencrypt moves ciphertext blobs from one key to another with the
// semantics of AWS KMS ReEncrypt, across keys, accounts and key services.
//
// An [Engine] works through a [backends.Front]. When one driver holds both keys
// and re-encrypts by itself, the Front's native ReEncrypt does the work (the
// plaintext never leaves the service). Otherwise the Engine decrypts at the source
// and encrypts at the destination through the Front, and wipes the plaintext.
// Either way the caller gets the same output: the new ciphertext, the canonical
// source and destination keys, both algorithms, and whether the service did the
// work natively. [backends.ReEncryptInput.Via] chooses per call: native only,
// through the plaintext only, or whichever the keys allow (the default).
//
// Authorization follows AWS KMS: a native re-encryption is authorized as
// kms:ReEncryptFrom on the source key and kms:ReEncryptTo on the destination key;
// the path through the plaintext releases the plaintext to the caller's process,
// so it needs kms:Decrypt on the source key and kms:Encrypt on the destination key,
// exactly as it would against AWS.
//
// Envelope messages are re-encrypted by package envelope/reseal.
package reencrypt

import (
	"context"
	"errors"

	"github.com/keyport/keyport/backends"
)

// op is the operation every error of this package names.
const op = "ReEncrypt"

// Engine re-encrypts ciphertext blobs between any keys a Front reaches. It is
// safe for concurrent use.
type Engine struct {
	front *backends.Front
}

var _ backends.ReEncrypter = (*Engine)(nil)

// New returns an Engine that reaches keys through f. A nil f is an empty Front,
// on which every key is unknown.
func New(f *backends.Front) *Engine {
	if f == nil {
		f = new(backends.Front)
	}
	return &Engine{front: f}
}

// ReEncrypt decrypts in.CiphertextBlob under its source key and encryption context
// and encrypts the result under in.DestinationKeyID and
// in.DestinationEncryptionContext, as AWS KMS ReEncrypt does:
//
//   - The input is checked as [backends.Front] checks it; the keys are routed by
//     the Front; a key no driver owns fails with [backends.ErrNotFound]. A key of
//     another account is reachable only by key ARN or alias ARN.
//   - An empty in.SourceKeyID is allowed when the blob names its key (a driver's
//     [backends.CiphertextInspector] recognises it) or the default driver can
//     read it; a blob no driver can read fails with
//     [backends.ErrInvalidCiphertext], as AWS KMS answers.
//   - A SourceKeyID that did not encrypt the blob fails with
//     [backends.ErrIncorrectKey], before anything is decrypted where the source
//     driver can read the key from the blob.
//   - With in.Via [backends.ViaAny] (the default) or [backends.ViaNative], the
//     Front re-encrypts natively when one driver holds both keys and can; with
//     ViaNative nothing else is tried ([backends.ErrUnsupported] otherwise).
//   - Otherwise, or with [backends.ViaPlaintext], the source decrypts and the
//     destination encrypts, through the Front, and the plaintext is wiped on
//     every path.
//   - in.GrantTokens go to both sides. Between two different drivers, where a
//     token issued by one service means nothing to the other, a side that rejects
//     the tokens as invalid is asked once more without them, unless the other
//     side rejected them too (then the error matches
//     [backends.ErrInvalidGrantToken]). Dropping tokens only ever takes
//     permissions away.
//   - With in.DryRun the Engine checks everything, changes nothing and, when the
//     request would have succeeded, returns an error matching
//     [backends.ErrDryRunOperation].
//
// Every error is a *[backends.Error] with Op "ReEncrypt" whose Kind is that of the
// underlying failure; it unwraps to the driver's own error.
func (e *Engine) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	if err := backends.CheckReEncrypt(ctx, op, in); err != nil {
		return nil, err
	}
	if in.Via != backends.ViaPlaintext {
		out, err := e.front.ReEncrypt(ctx, in)
		switch {
		case err == nil:
			return out, nil
		case in.Via == backends.ViaNative || !errors.Is(err, backends.ErrUnsupported):
			return nil, wrap(ctx, err, firstNonEmpty(in.SourceKeyID, in.DestinationKeyID), "native")
		}
	}
	src, srcKey, err := e.source(ctx, in)
	if err != nil {
		return nil, err
	}
	dst, _, err := e.front.Lookup(ctx, in.DestinationKeyID)
	if err != nil {
		return nil, wrap(ctx, err, in.DestinationKeyID, "destination key")
	}
	if in.SourceKeyID != "" {
		if err := e.checkSourceKey(ctx, src, in); err != nil {
			return nil, err
		}
	}
	t := &trip{ctx: ctx, front: e.front, in: in, srcKey: srcKey, cross: src == nil || !backends.SameBackend(src, dst)}
	if in.DryRun {
		return nil, t.dryRun()
	}
	return t.run()
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func firstAlg(a, b backends.Algorithm) backends.Algorithm {
	if a != "" {
		return a
	}
	return b.OrDefault()
}
