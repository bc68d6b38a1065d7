package reencrypt

import (
	"context"

	"github.com/keyport/keyport/backends"
)

// source returns the driver that decrypts in.CiphertextBlob (the Front's default,
// or nil, when no driver recognises the blob) and the KeyID to decrypt with. A named SourceKeyId
// is routed by the Front; without one, the key a driver's CiphertextInspector
// reads from the blob is.
func (e *Engine) source(ctx context.Context, in *backends.ReEncryptInput) (backends.Backend, string, error) {
	key := in.SourceKeyID
	if key == "" {
		id, err := e.front.CiphertextKeyID(in.CiphertextBlob)
		if err != nil {
			return e.front.Default(), "", nil // the default driver, if any, tries it
		}
		key = id
	}
	b, _, err := e.front.Lookup(ctx, key)
	if err != nil {
		return nil, "", wrap(ctx, err, key, "source key")
	}
	return b, key, nil
}

// checkSourceKey fails with ErrIncorrectKey, before anything is decrypted, when the
// source driver can read the key from the blob and it is not in.SourceKeyID.
// Whenever the answer is not certain it returns nil and lets the source driver
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
	if e.differentKeys(ctx, in.SourceKeyID, got, in.GrantTokens) {
		return backends.Errorf(backends.ErrIncorrectKey, op, in.SourceKeyID,
			"the ciphertext was not encrypted under the source key")
	}
	return nil
}

// differentKeys reports whether the key reference want certainly names another key
// than got, the key a CiphertextInspector read from a blob. Alias references are
// resolved with DescribeKey where the driver offers it; URIs are left to the driver.
func (e *Engine) differentKeys(ctx context.Context, want, got string, grantTokens []string) bool {
	g, err := backends.ParseKeyRef(got)
	if err != nil || (g.Form != backends.FormKeyID && g.Form != backends.FormKeyARN) {
		return false
	}
	w, err := backends.ParseKeyRef(want)
	if err != nil {
		return false
	}
	if w.Form == backends.FormAliasName || w.Form == backends.FormAliasARN {
		md, err := e.front.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: want, GrantTokens: grantTokens})
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
