package vault

import (
	"context"

	"github.com/keyport/keyport/backends"
)

// BatchItem is one item of EncryptBatch (Plaintext) or DecryptBatch
// (CiphertextBlob), with the encryption context bound to it.
type BatchItem struct {
	Plaintext         []byte
	CiphertextBlob    []byte
	EncryptionContext map[string]string
}

// BatchResult is the outcome of one BatchItem: a CiphertextBlob (EncryptBatch) or a
// Plaintext (DecryptBatch, owned by the caller, who should clear it), or Err, an
// *backends.Error mapped like the errors of Encrypt and Decrypt.
type BatchResult struct {
	CiphertextBlob []byte
	Plaintext      []byte
	Err            error
}

// maxBatch bounds one batch request, to keep its body well under Vault's default
// request size limit.
const maxBatch = 1000

type batchItemResult struct {
	Ciphertext string `json:"ciphertext"`
	Plaintext  []byte `json:"plaintext"`
	Error      string `json:"error"`
}

// EncryptBatch encrypts every item under the Transit key keyID in one request (Transit's
// batch_input), each item bound to its own encryption context as Encrypt binds it.
// The results are in the order of items. A failure of the whole request (a missing
// key, a denied token, a sealed Vault) is the returned error; a failure of one item
// is that item's Err, and the other items still succeed.
func (b *Backend) EncryptBatch(ctx context.Context, keyID string, items []BatchItem) ([]BatchResult, error) {
	return b.batch(ctx, "Encrypt", keyID, items, true)
}

// DecryptBatch decrypts every item, each a ciphertext of the Transit key keyID, in one
// request; see EncryptBatch.
func (b *Backend) DecryptBatch(ctx context.Context, keyID string, items []BatchItem) ([]BatchResult, error) {
	return b.batch(ctx, "Decrypt", keyID, items, false)
}

func (b *Backend) batch(ctx context.Context, op, keyID string, items []BatchItem, encrypt bool) ([]BatchResult, error) {
	if err := backends.ContextError(ctx, op, keyID); err != nil {
		return nil, err
	}
	ref, err := b.parse(op, keyID)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return nil, nil
	}
	if len(items) > maxBatch {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, ref.URI(), "at most %d items per batch, not %d", maxBatch, len(items))
	}
	fresh := encrypt && !b.upsertDisabled(ctx, ref.Mount)
	info, err := b.keyFor(ctx, op, ref, fresh)
	if err != nil {
		return nil, err
	}
	if _, err := info.algorithm(op, ref, backends.SymmetricDefault); err != nil {
		return nil, err
	}
	results := make([]BatchResult, len(items))
	reqs := make([]any, 0, len(items))  // *encryptRequest or *decryptRequest
	index := make([]int, 0, len(items)) // reqs[j] is items[index[j]]
	for i, it := range items {
		derivation, ad, err := info.binding(op, ref, it.EncryptionContext)
		if err != nil {
			results[i].Err = err
			continue
		}
		if encrypt {
			pt := it.Plaintext
			if pt == nil {
				pt = []byte{}
			}
			reqs = append(reqs, &encryptRequest{Plaintext: pt, Context: derivation, AssociatedData: ad})
		} else {
			if !isTransitCiphertext(it.CiphertextBlob) {
				results[i].Err = backends.Errorf(backends.ErrInvalidCiphertext, op, ref.URI(), "item %d is not a Vault Transit ciphertext", i)
				continue
			}
			reqs = append(reqs, &decryptRequest{Ciphertext: string(it.CiphertextBlob), Context: derivation, AssociatedData: ad})
		}
		index = append(index, i)
	}
	if len(reqs) == 0 {
		return results, nil
	}
	endpoint := "/decrypt/"
	if encrypt {
		endpoint = "/encrypt/"
	}
	var out struct {
		Results []batchItemResult `json:"batch_results"`
	}
	err = b.write(ctx, op, ref, ref.Mount+endpoint+ref.Name, map[string]any{"batch_input": reqs}, &out, true)
	if err != nil {
		b.forget(ref, err)
		return nil, err
	}
	if len(out.Results) != len(reqs) {
		for _, r := range out.Results {
			clear(r.Plaintext)
		}
		return nil, backends.Errorf(backends.ErrInternal, op, ref.URI(), "Vault answered %d batch results for %d items", len(out.Results), len(reqs))
	}
	for j, r := range out.Results {
		i := index[j]
		switch {
		case r.Error != "":
			clear(r.Plaintext)
			results[i].Err = mapResponse(op, ref.URI(), 400, []string{r.Error}, nil)
		case encrypt:
			if !isTransitCiphertext([]byte(r.Ciphertext)) {
				results[i].Err = backends.Errorf(backends.ErrInternal, op, ref.URI(), "Vault answered no ciphertext for item %d", i)
				continue
			}
			results[i].CiphertextBlob = []byte(r.Ciphertext)
		default:
			if r.Plaintext == nil {
				r.Plaintext = []byte{}
			}
			results[i].Plaintext = r.Plaintext
		}
	}
	return results, nil
}
