package reencrypt

import (
	"context"
	"errors"

	"github.com/keyport/keyport/backends"
)

// trip is one ReEncrypt through the plaintext: a Decrypt at the source and an
// Encrypt at the destination, both through the Front.
type trip struct {
	ctx    context.Context
	front  *backends.Front
	in     *backends.ReEncryptInput
	srcKey string // the KeyID handed to the source's Decrypt; empty: the default driver tries
	// cross says the source and destination are different drivers. Grant tokens
	// are issued by one service and mean nothing to another, so on such a trip a
	// side that rejects the request's tokens as invalid is asked again without
	// them, provided the other side has not rejected them as well (a token that no
	// side accepts is still an InvalidGrantToken error). Dropping tokens can only
	// take permissions away, never add them.
	cross    bool
	rejected [2]bool // the source (0) or destination (1) rejected the grant tokens
}

const (
	sourceSide = 0
	destSide   = 1
)

// errUnreadable is the message of the error for a blob that no driver can read
// when the request names no source key.
const errUnreadable = "no key service can read the ciphertext (and no SourceKeyId was given)"

// tokens returns the grant tokens to hand one side.
func (t *trip) tokens(side int) []string {
	if t.rejected[side] {
		return nil
	}
	return t.in.GrantTokens
}

// retryWithoutTokens reports whether err, from side, is a rejection of grant
// tokens that the side should be asked again without; it records the rejection.
func (t *trip) retryWithoutTokens(side int, err error) bool {
	if !t.cross || len(t.in.GrantTokens) == 0 || t.rejected[side] || t.rejected[1-side] ||
		!errors.Is(err, backends.ErrInvalidGrantToken) {
		return false
	}
	t.rejected[side] = true
	return true
}

// run decrypts, encrypts and wipes the plaintext.
func (t *trip) run() (*backends.ReEncryptOutput, error) {
	dout, err := t.decrypt(false)
	if err != nil {
		return nil, err
	}
	pt := dout.Plaintext
	defer clear(pt)
	if err := backends.ContextError(t.ctx, op, t.in.DestinationKeyID); err != nil {
		return nil, err
	}
	eout, err := t.encrypt(pt, false)
	if err != nil {
		return nil, err
	}
	return &backends.ReEncryptOutput{
		CiphertextBlob:                 eout.CiphertextBlob,
		SourceKeyID:                    firstNonEmpty(dout.KeyID, t.srcKey),
		KeyID:                          firstNonEmpty(eout.KeyID, t.in.DestinationKeyID),
		SourceEncryptionAlgorithm:      firstAlg(dout.EncryptionAlgorithm, t.in.SourceEncryptionAlgorithm),
		DestinationEncryptionAlgorithm: firstAlg(eout.EncryptionAlgorithm, t.in.DestinationEncryptionAlgorithm),
		Native:                         false,
	}, nil
}

// decrypt decrypts the blob at the source. The caller wipes the returned
// plaintext; on error none is returned.
func (t *trip) decrypt(dryRun bool) (*backends.DecryptOutput, error) {
	in := t.in
	call := func() (*backends.DecryptOutput, error) {
		return t.front.Decrypt(t.ctx, &backends.DecryptInput{
			CiphertextBlob:      in.CiphertextBlob,
			KeyID:               t.srcKey,
			EncryptionContext:   in.SourceEncryptionContext,
			GrantTokens:         t.tokens(sourceSide),
			EncryptionAlgorithm: in.SourceEncryptionAlgorithm,
			DryRun:              dryRun,
		})
	}
	out, err := call()
	if err != nil && t.retryWithoutTokens(sourceSide, err) {
		out, err = call()
	}
	if err != nil {
		// No driver named the key and the default one (if any) could not read the
		// blob: as AWS KMS answers, the ciphertext is invalid.
		if t.srcKey == "" && (errors.Is(err, backends.ErrInvalidArgument) || errors.Is(err, backends.ErrNotFound) ||
			!dryRun && errors.Is(err, backends.ErrUnsupported) || errors.Is(err, backends.ErrInvalidCiphertext)) {
			return nil, &backends.Error{Kind: backends.ErrInvalidCiphertext, Op: op, Message: errUnreadable, Err: errors.Unwrap(err)}
		}
		return nil, wrap(t.ctx, err, t.srcKey, "decrypt at source")
	}
	return out, nil
}

// encrypt encrypts pt at the destination.
func (t *trip) encrypt(pt []byte, dryRun bool) (*backends.EncryptOutput, error) {
	in := t.in
	call := func() (*backends.EncryptOutput, error) {
		return t.front.Encrypt(t.ctx, &backends.EncryptInput{
			KeyID:               in.DestinationKeyID,
			Plaintext:           pt,
			EncryptionContext:   in.DestinationEncryptionContext,
			GrantTokens:         t.tokens(destSide),
			EncryptionAlgorithm: in.DestinationEncryptionAlgorithm,
			DryRun:              dryRun,
		})
	}
	out, err := call()
	if err != nil && t.retryWithoutTokens(destSide, err) {
		out, err = call()
	}
	if err != nil {
		return nil, wrap(t.ctx, err, in.DestinationKeyID, "encrypt at destination")
	}
	return out, nil
}
