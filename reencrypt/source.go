package reencrypt

import (
	"context"

	"github.com/keyport/keyport/backends"
)

// errNoSourceKey is the message of the error for a request that omits SourceKeyId
// when no backend can tell the key from the blob.
const errNoSourceKey = "SourceKeyId is required: the blob does not name its key"

// source finds the backend that decrypts in.CiphertextBlob and the KeyID to hand
// it. A named SourceKeyId is routed through the Router. Without one, the Router's
// backends that implement backends.CiphertextInspector are asked (the default
// first) and the key the first one recognises is routed; failing that, a default
// backend that cannot inspect blobs is tried without a key.
func (e *Engine) source(ctx context.Context, in *backends.ReEncryptInput) (backends.Backend, string, error) {
	if in.SourceKeyID != "" {
		b, _, err := e.router.Lookup(in.SourceKeyID)
		if err != nil {
			return nil, "", wrap(ctx, err, in.SourceKeyID, "source key")
		}
		return b, in.SourceKeyID, nil
	}
	var notMine error
	for _, b := range e.router.Backends() {
		insp, ok := b.(backends.CiphertextInspector)
		if !ok {
			continue
		}
		id, err := insp.CiphertextKeyID(in.CiphertextBlob)
		if err != nil || id == "" {
			if notMine == nil {
				notMine = err
			}
			continue
		}
		if rb, _, err := e.router.Lookup(id); err == nil {
			return rb, id, nil
		}
		return b, id, nil
	}
	if d := e.router.Default(); d != nil {
		if _, ok := d.(backends.CiphertextInspector); !ok {
			return d, "", nil
		}
	}
	return nil, "", &backends.Error{Kind: backends.ErrInvalidArgument, Op: op, Message: errNoSourceKey, Err: notMine}
}

// checkSourceKey fails with ErrIncorrectKey, before anything is decrypted, when the
// source backend can read the key from the blob and it is not in.SourceKeyID.
// Whenever the answer is not certain it returns nil and lets the source backend
// decide when it decrypts.
func (e *Engine) checkSourceKey(ctx context.Context, src backends.Backend, in *backends.ReEncryptInput) error {
	insp, ok := src.(backends.CiphertextInspector)
	if !ok {
		return nil
	}
	got, err := insp.CiphertextKeyID(in.CiphertextBlob)
	if err != nil || got == "" {
		return nil
	}
	if differentKeys(ctx, src, in.SourceKeyID, got, in.GrantTokens) {
		return backends.Errorf(backends.ErrIncorrectKey, op, in.SourceKeyID,
			"the ciphertext was not encrypted under the source key")
	}
	return nil
}

// differentKeys reports whether the key reference want certainly names another key
// than got, the key a CiphertextInspector read from a blob. Alias references are
// resolved with DescribeKey where src offers it; URIs are left to the backend.
func differentKeys(ctx context.Context, src backends.Backend, want, got string, grantTokens []string) bool {
	g, err := backends.ParseKeyRef(got)
	if err != nil || (g.Form != backends.FormKeyID && g.Form != backends.FormKeyARN) {
		return false
	}
	w, err := backends.ParseKeyRef(want)
	if err != nil {
		return false
	}
	if w.Form == backends.FormAliasName || w.Form == backends.FormAliasARN {
		d, ok := src.(backends.KeyDescriber)
		if !ok {
			return false
		}
		md, err := d.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: want, GrantTokens: grantTokens})
		if err != nil || md == nil {
			return false
		}
		if w, err = backends.ParseKeyRef(md.Arn); err != nil {
			return false
		}
	}
	if w.Form != backends.FormKeyID && w.Form != backends.FormKeyARN {
		return false
	}
	if w.KeyID != g.KeyID {
		return true
	}
	if w.Form == backends.FormKeyARN && g.Form == backends.FormKeyARN {
		return w.Partition != g.Partition || w.Account != g.Account || w.Region != g.Region
	}
	return false
}
