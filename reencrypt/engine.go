// Package reencrypt moves ciphertext from one key to another with the semantics of
// AWS KMS ReEncrypt, across keys, accounts and key services.
//
// An Engine routes the source and destination keys of a request through a
// backends.Router. When both keys live in one backend that implements
// backends.ReEncrypter, the Engine calls it (the plaintext never leaves the
// service). Otherwise it decrypts at the source, authorized as kms:ReEncryptFrom,
// encrypts at the destination, authorized as kms:ReEncryptTo, and wipes the
// plaintext. Either way the caller gets the same output: the new ciphertext, the
// canonical source and destination keys, both algorithms, and whether the service
// did the work natively.
package reencrypt

import (
	"context"
	"errors"

	"github.com/keyport/keyport/backends"
)

// op is the operation every error of this package names.
const op = "ReEncrypt"

// Engine re-encrypts ciphertext blobs between any keys a Router can reach. It is
// safe for concurrent use.
type Engine struct {
	router *backends.Router
	native bool
}

var _ backends.ReEncrypter = (*Engine)(nil)

// Option configures an Engine.
type Option func(*Engine)

// WithoutNative makes the Engine always decrypt at the source and encrypt at the
// destination, even when both keys live in one backend that could re-encrypt by
// itself. The outputs are the same except that Native is false.
func WithoutNative() Option {
	return func(e *Engine) { e.native = false }
}

// New returns an Engine that finds keys through r. A nil r is an empty Router, on
// which every key is unknown.
func New(r *backends.Router, opts ...Option) *Engine {
	if r == nil {
		r = new(backends.Router)
	}
	e := &Engine{router: r, native: true}
	for _, o := range opts {
		if o != nil {
			o(e)
		}
	}
	return e
}

// ReEncrypt decrypts in.CiphertextBlob under its source key and encryption context
// and encrypts the result under in.DestinationKeyID and
// in.DestinationEncryptionContext, as AWS KMS ReEncrypt does:
//
//   - in.SourceKeyID and in.DestinationKeyID are routed through the Router; a key it
//     cannot route fails with an error matching backends.ErrNotFound. A key of
//     another account is reachable only by key ARN or alias ARN.
//   - An empty in.SourceKeyID is allowed when the blob names its key: the Engine
//     asks the Router's backends that implement backends.CiphertextInspector (the
//     default first), and otherwise lets the default backend decrypt without a key.
//     When no backend can say, the error matches backends.ErrInvalidArgument.
//   - A SourceKeyID that did not encrypt the blob fails with backends.ErrIncorrectKey.
//   - With both keys in one backend that implements backends.ReEncrypter (and
//     WithoutNative not set) the backend re-encrypts natively; if it answers
//     backends.ErrUnsupported the Engine falls back to decrypting and encrypting.
//   - Otherwise the source decrypts with ForReEncrypt set (authorized as
//     kms:ReEncryptFrom), the destination encrypts with ForReEncrypt set (authorized
//     as kms:ReEncryptTo), and the plaintext is wiped on every path.
//   - in.GrantTokens go to both sides. Between two different backends, where a
//     token issued by one service means nothing to the other, a side that rejects
//     the tokens as invalid is asked once more without them, unless the other
//     side rejected them too (then the error matches backends.ErrInvalidGrantToken).
//   - With in.DryRun the Engine checks everything, changes nothing and, when the
//     request would have succeeded, returns an error matching
//     backends.ErrDryRunOperation.
//
// Every error is a *backends.Error with Op "ReEncrypt" whose Kind is that of the
// underlying failure; it unwraps to the backend's own error.
func (e *Engine) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	if in == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "nil input")
	}
	if err := backends.ContextError(ctx, op, in.SourceKeyID); err != nil {
		return nil, err
	}
	if len(in.CiphertextBlob) == 0 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, in.SourceKeyID, "CiphertextBlob is empty")
	}
	if in.DestinationKeyID == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "DestinationKeyId is required")
	}
	src, srcKey, err := e.source(ctx, in)
	if err != nil {
		return nil, err
	}
	dst, _, err := e.router.Lookup(in.DestinationKeyID)
	if err != nil {
		return nil, wrap(ctx, err, in.DestinationKeyID, "destination key")
	}
	if e.native && backends.SameBackend(src, dst) {
		if re, ok := dst.(backends.ReEncrypter); ok {
			out, err := e.nativeReEncrypt(ctx, re, in)
			if err == nil || !errors.Is(err, backends.ErrUnsupported) {
				return out, err
			}
		}
	}
	if in.SourceKeyID != "" {
		if err := e.checkSourceKey(ctx, src, in); err != nil {
			return nil, err
		}
	}
	t := &trip{ctx: ctx, in: in, src: src, srcKey: srcKey, dst: dst, cross: !backends.SameBackend(src, dst)}
	if in.DryRun {
		return nil, t.dryRun()
	}
	return t.run()
}

// nativeReEncrypt lets the backend that holds both keys re-encrypt by itself.
func (e *Engine) nativeReEncrypt(ctx context.Context, re backends.ReEncrypter, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	out, err := re.ReEncrypt(ctx, in)
	if err != nil {
		return nil, wrap(ctx, err, firstNonEmpty(in.SourceKeyID, in.DestinationKeyID), "native")
	}
	if out == nil {
		return nil, backends.Errorf(backends.ErrInternal, op, in.DestinationKeyID, "native: the backend returned no output and no error")
	}
	c := *out
	c.Native = true
	c.SourceEncryptionAlgorithm = c.SourceEncryptionAlgorithm.OrDefault()
	c.DestinationEncryptionAlgorithm = c.DestinationEncryptionAlgorithm.OrDefault()
	return &c, nil
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
