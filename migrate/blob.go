package migrate

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/migrate/internal/journal"
	"github.com/keyport/keyport/migrate/internal/store"
)

// maxBlob is the largest ciphertext blob a key service takes.
const maxBlob = 6144

// blob re-encrypts a raw KMS ciphertext blob through the ReEncrypt engine
// (natively where one service holds both keys, else decrypt-then-encrypt with
// the plaintext wiped), then verifies the new blob with a Decrypt under the
// destination key: a blob is opaque, so only its key service can check it.
func (w *worker) blob(ctx context.Context, e journal.Entry, rd store.Reader) (journal.Entry, bool) {
	r := w.r
	if rd.Size() == 0 || rd.Size() > maxBlob {
		return skipped(e, ReasonNotBlob), false
	}
	data, err := w.readAll(rd)
	if err != nil {
		return failed(e, ReasonError, err), false
	}
	if len(data) == 0 || len(data) > maxBlob {
		return skipped(e, ReasonNotBlob), false
	}
	keyID, kerr := r.o.Front.CiphertextKeyID(data)
	known := kerr == nil && keyID != ""
	if known {
		e.SourceKey = keyID
		if r.dstIDs[keyID] && r.o.DestinationEncryptionContext == nil {
			return already(e), false
		}
		if r.fromIDs != nil && !r.fromIDs[keyID] {
			return skipped(e, ReasonNotFromKeys), false
		}
	}
	dstEC := r.o.DestinationEncryptionContext
	if dstEC == nil {
		dstEC = r.o.SourceEncryptionContext
	}
	in := &backends.ReEncryptInput{
		CiphertextBlob:               data,
		SourceEncryptionContext:      r.o.SourceEncryptionContext,
		DestinationKeyID:             r.to[0],
		DestinationEncryptionContext: dstEC,
		GrantTokens:                  r.o.GrantTokens,
	}
	if len(r.fromIDs) == 1 {
		for id := range r.fromIDs {
			in.SourceKeyID = id
		}
	}
	out, err := r.engine.ReEncrypt(ctx, in)
	if err != nil {
		if !known && errors.Is(err, backends.ErrInvalidCiphertext) {
			return skipped(e, ReasonNotBlob), false
		}
		return failed(e, ReasonError, err), false
	}
	if out.SourceKeyID != "" {
		e.SourceKey = out.SourceKeyID
	}
	dout, err := r.o.Front.Decrypt(ctx, &backends.DecryptInput{
		CiphertextBlob: out.CiphertextBlob, KeyID: r.to[0], EncryptionContext: dstEC, GrantTokens: r.o.GrantTokens,
	})
	if err != nil {
		return failed(e, ReasonError, fmt.Errorf("verifying the new blob: %w", err)), false
	}
	plain := sha256.Sum256(dout.Plaintext)
	clear(dout.Plaintext)
	if dout.KeyID != "" && !r.dstIDs[dout.KeyID] {
		return failed(e, ReasonError, errNotVerified("another key decrypts it")), false
	}
	newSum := sha256.Sum256(out.CiphertextBlob)
	e.PlainSHA256, e.NewSHA256, e.NewSize = plain[:], newSum[:], int64(len(out.CiphertextBlob))
	e.DestKey = r.to[0]
	return w.write(ctx, e, rd, out.CiphertextBlob)
}
