// Package rewrap moves an AWS Encryption SDK message (as package envelope reads
// and writes it) to other wrapping keys or another encryption context without
// decrypting its body: it unwraps the data key, checks it against the key
// commitment and the old header's authentication tag, and writes a new header
// with the same data key and message ID, so that the body's frames stay valid.
//
// Message rewraps a whole message from a reader to a writer (signed suites get a
// new signing key, and the old signature is checked while the new one is made);
// Header returns only the new header of an unsigned message, for storage that can
// splice it onto the old body.
//
// Security: keeping the data key keeps the header's AES-GCM key and its fixed IV.
// Whoever holds both the old and the new header of a message can forge that
// message (see Header); delete or protect old copies, or decrypt and encrypt the
// message again instead (as envelope.NewDecrypter and envelope.NewEncrypter do).
//
// Errors follow the backends taxonomy, as in package envelope:
// backends.ErrInvalidCiphertext for a malformed, truncated or tampered message or
// a wrong encryption context, backends.ErrIncorrectKey when the source keyring
// unwraps no encrypted data key, backends.ErrUnsupported for a suite the
// commitment policy refuses (and for a signed suite given to Header),
// backends.ErrInvalidArgument for bad options.
package rewrap

import (
	"context"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/internal/format"
	"github.com/keyport/keyport/envelope/internal/suite"
)

// Options configure Message and Header: where the data key comes from, which
// encrypted data keys the new header carries, and its encryption context.
type Options struct {
	// Source unwraps the message's data key. Ignored when DataKey is set.
	Source envelope.Keyring
	// DataKey is the message's plaintext data key, when the caller already has it
	// (it is checked against the key commitment and the header authentication tag
	// before use, and is not modified).
	DataKey []byte
	// SourceEncryptionContext is the reproduced encryption context of the
	// message, as envelope.DecryptOptions.EncryptionContext: stored pairs must
	// match, and every other pair is taken as a required pair the message was
	// written with.
	SourceEncryptionContext map[string]string

	// Destination wraps the data key for the new header: its OnEncrypt is called
	// with materials that already carry the data key (so a multi-keyring without a
	// generator, or a single backend or raw keyring). It may be nil when Keep keeps
	// at least one encrypted data key (removing keys only).
	Destination envelope.Keyring
	// Keep selects encrypted data keys of the message that the new header keeps,
	// before the destination's. nil keeps none: the destination's keys replace
	// them. A kept key is bound to the message's old encryption context, so Keep
	// may only keep keys when the encryption context stays the same (and never for
	// a signed suite, whose context holds a new signing key).
	Keep func(envelope.EncryptedDataKey) bool

	// EncryptionContext, if not nil, is the new encryption context (keys with the
	// "aws-crypto-" prefix refused); nil keeps the message's. An empty non-nil map
	// empties it.
	EncryptionContext map[string]string
	// RequiredEncryptionContextKeys lists keys of EncryptionContext that are
	// authenticated but not stored. It needs a non-nil EncryptionContext; when the
	// context is kept, the message's required keys stay required.
	RequiredEncryptionContextKeys []string

	// CommitmentPolicy decides which suites may be read, as in envelope.DecryptOptions.
	CommitmentPolicy envelope.CommitmentPolicy
	// MaxEncryptedDataKeys rejects a message with more encrypted data keys, and a
	// new header that would have more; 0 means no limit.
	MaxEncryptedDataKeys int
}

// Result describes a rewrapped message.
type Result struct {
	// Header is the new serialized header, authentication included.
	Header []byte
	// BodyOffset is the length of the old header: the message's body starts at
	// this offset. For an unsigned suite the new message is Header followed by the
	// old message from BodyOffset on, unchanged.
	BodyOffset int64
	// Suite is the message's algorithm suite (unchanged).
	Suite envelope.SuiteID
	// EncryptionContext is the new message's whole encryption context (stored and
	// required pairs, and the signing key of signed suites).
	EncryptionContext map[string]string
	// RequiredEncryptionContextKeys are the keys of the pairs not stored.
	RequiredEncryptionContextKeys []string
	// EncryptedDataKeys are those of the new header.
	EncryptedDataKeys []envelope.EncryptedDataKey
	// Written is the number of bytes Message wrote (0 for Header).
	Written int64

	// signer continues a signed suite's new signature over the body (Message).
	signer *suite.Signer
	// verifier checks the old signature over the old message (Message).
	verifier *suite.Verifier
	hdr      *format.Header
}

// prepare parses the header at the start of r (reading no byte past it),
// unwraps and checks its data key, and builds and authenticates the new header.
// headerOnly refuses signed suites (their signature covers the body) before any
// keyring is called.
func prepare(ctx context.Context, r io.Reader, opts *Options, op string, headerOnly bool) (*Result, error) {
	if opts == nil {
		return nil, errArg(op, "no options")
	}
	if opts.Source == nil && opts.DataKey == nil {
		return nil, errArg(op, "no source keyring and no data key")
	}
	if opts.Destination == nil && opts.Keep == nil {
		return nil, errArg(op, "no destination keyring and no encrypted data key kept")
	}
	if opts.CommitmentPolicy < envelope.RequireEncryptRequireDecrypt || opts.CommitmentPolicy > envelope.ForbidEncryptAllowDecrypt {
		return nil, errArg(op, "unknown commitment policy %d", opts.CommitmentPolicy)
	}
	if opts.MaxEncryptedDataKeys < 0 {
		return nil, errArg(op, "negative MaxEncryptedDataKeys")
	}
	h, err := format.Parse(r, format.Limits{MaxEDKs: opts.MaxEncryptedDataKeys})
	if err != nil {
		return nil, err
	}
	st := h.Suite
	if opts.CommitmentPolicy == envelope.RequireEncryptRequireDecrypt && !st.Committing {
		return nil, backends.Errorf(backends.ErrUnsupported, op, "", "commitment policy %v does not allow reading suite %04X", opts.CommitmentPolicy, st.ID)
	}
	if headerOnly && st.Signed() {
		return nil, backends.Errorf(backends.ErrUnsupported, op, "", "suite %04X signs the whole message: rewrap it with rewrap.Message, which re-signs it", st.ID)
	}

	// The old context: stored pairs and the reproduced required ones.
	oldRequired := map[string]string{}
	for k, v := range opts.SourceEncryptionContext {
		if sv, ok := h.Context[k]; ok {
			if sv != v {
				return nil, errCiphertext("encryption context does not match the message's (key %q)", k)
			}
			continue
		}
		oldRequired[k] = v
	}
	oldPub, hasPub := h.Context[format.PublicKeyContextKey]
	if st.Signed() != hasPub {
		return nil, errCiphertext("suite %04X and the %q entry do not agree", st.ID, format.PublicKeyContextKey)
	}
	oldFull := make(map[string]string, len(h.Context)+len(oldRequired))
	maps.Copy(oldFull, h.Context)
	maps.Copy(oldFull, oldRequired)
	oldReqKeys := format.SortedKeys(oldRequired)

	res := &Result{Suite: envelope.SuiteID(st.ID), BodyOffset: int64(len(h.Body) + len(h.AuthIV) + len(h.AuthTag))}
	if st.Signed() {
		v, err := suite.NewVerifier(st, oldPub)
		if err != nil {
			return nil, errCiphertext("bad signing public key: %v", err)
		}
		res.verifier = v
	}

	// The data key, checked against the commitment and the old header tag: a
	// rewrap never vouches for a header it could not authenticate.
	dataKey, err := unwrapDataKey(ctx, h, opts, oldFull, oldReqKeys, op)
	if err != nil {
		return nil, err
	}
	defer clear(dataKey)
	key, commit, err := st.DeriveKey(dataKey, h.MessageID)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInternal, op, "", err)
	}
	defer clear(key)
	defer clear(commit)
	if st.Committing {
		if err := suite.CheckCommitment(commit, h.SuiteData); err != nil {
			return nil, errCiphertext("%v", err)
		}
	}
	aead, err := suite.NewAEAD(key)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInternal, op, "", err)
	}
	aad, err := h.AuthAAD(oldRequired)
	if err != nil {
		return nil, errCiphertext("required encryption context: %v", err)
	}
	iv := h.AuthIV
	if h.Version == 2 {
		iv = make([]byte, suite.IVLen)
	}
	if _, err := aead.Open(nil, iv, h.AuthTag, aad); err != nil {
		return nil, errCiphertext("header authentication failed (wrong encryption context, wrong data key or tampered header)")
	}
	if res.verifier != nil {
		res.verifier.Write(h.Body)
		res.verifier.Write(h.AppendAuth(nil))
	}

	// The new context.
	newFull, newRequired, err := newContext(h, opts, oldFull, oldRequired, op)
	if err != nil {
		return nil, err
	}
	if st.Signed() {
		signer, pub, err := suite.NewSigner(st)
		if err != nil {
			return nil, backends.Wrap(backends.ErrInternal, op, "", err)
		}
		res.signer = signer
		newFull[format.PublicKeyContextKey] = pub
	}
	stored := make(map[string]string, len(newFull))
	for k, v := range newFull {
		if _, req := newRequired[k]; !req {
			stored[k] = v
		}
	}
	if _, err := format.MarshalContext(stored); err != nil {
		return nil, err
	}
	if _, err := format.MarshalContext(newRequired); err != nil {
		return nil, err
	}
	newReqKeys := format.SortedKeys(newRequired)

	// The new encrypted data keys.
	var edks []envelope.EncryptedDataKey
	if opts.Keep != nil {
		for _, k := range h.EDKs {
			e := envelope.EncryptedDataKey{ProviderID: k.ProviderID, ProviderInfo: slices.Clone(k.ProviderInfo), Ciphertext: slices.Clone(k.Ciphertext)}
			if opts.Keep(e) {
				edks = append(edks, e)
			}
		}
	}
	if len(edks) > 0 && !maps.Equal(newFull, oldFull) {
		return nil, errArg(op, "kept encrypted data keys are bound to the old encryption context, which changes (a signed suite always changes it)")
	}
	if opts.Destination != nil {
		m := &envelope.EncryptionMaterials{
			Suite:                         envelope.SuiteID(st.ID),
			EncryptionContext:             maps.Clone(newFull),
			RequiredEncryptionContextKeys: slices.Clone(newReqKeys),
			PlaintextDataKey:              slices.Clone(dataKey),
		}
		if err := backends.ContextError(ctx, op, ""); err != nil {
			clear(m.PlaintextDataKey)
			return nil, err
		}
		err := opts.Destination.OnEncrypt(ctx, m)
		same := string(m.PlaintextDataKey) == string(dataKey)
		clear(m.PlaintextDataKey)
		if err != nil {
			return nil, err
		}
		if !same {
			return nil, backends.Errorf(backends.ErrInternal, op, "", "the destination keyring replaced the data key")
		}
		edks = append(edks, m.EncryptedDataKeys...)
	}
	if len(edks) == 0 {
		return nil, errArg(op, "the new header would have no encrypted data key")
	}
	if opts.MaxEncryptedDataKeys > 0 && len(edks) > opts.MaxEncryptedDataKeys {
		return nil, errArg(op, "%d encrypted data keys, at most %d allowed", len(edks), opts.MaxEncryptedDataKeys)
	}

	nh := &format.Header{
		Version:     h.Version,
		Suite:       st,
		MessageID:   h.MessageID,
		Context:     stored,
		ContentType: h.ContentType,
		FrameLength: h.FrameLength,
		SuiteData:   h.SuiteData,
		AuthIV:      h.AuthIV,
	}
	for _, k := range edks {
		nh.EDKs = append(nh.EDKs, format.EDK(k))
	}
	if _, err := nh.MarshalBody(); err != nil {
		return nil, err
	}
	naad, err := nh.AuthAAD(newRequired)
	if err != nil {
		return nil, err
	}
	nh.AuthTag = aead.Seal(nil, iv, nil, naad)
	res.Header = nh.AppendAuth(slices.Clip(nh.Body))
	res.EncryptionContext = newFull
	res.RequiredEncryptionContextKeys = newReqKeys
	res.EncryptedDataKeys = edks
	res.hdr = h
	if res.signer != nil {
		res.signer.Write(res.Header)
	}
	return res, nil
}

// unwrapDataKey returns a copy of the message's data key: opts.DataKey, or what
// the source keyring unwraps.
func unwrapDataKey(ctx context.Context, h *format.Header, opts *Options, full map[string]string, reqKeys []string, op string) ([]byte, error) {
	st := h.Suite
	if opts.DataKey != nil {
		if len(opts.DataKey) != st.KeyLen {
			return nil, errArg(op, "data key is %d bytes, suite %04X needs %d", len(opts.DataKey), st.ID, st.KeyLen)
		}
		return slices.Clone(opts.DataKey), nil
	}
	edks := make([]envelope.EncryptedDataKey, len(h.EDKs))
	for i, k := range h.EDKs {
		edks[i] = envelope.EncryptedDataKey(k)
	}
	m := &envelope.DecryptionMaterials{
		Suite:                         envelope.SuiteID(st.ID),
		EncryptionContext:             maps.Clone(full),
		RequiredEncryptionContextKeys: slices.Clone(reqKeys),
	}
	if err := backends.ContextError(ctx, op, ""); err != nil {
		return nil, err
	}
	if err := opts.Source.OnDecrypt(ctx, m, edks); err != nil {
		clear(m.PlaintextDataKey)
		return nil, err
	}
	if m.PlaintextDataKey == nil {
		return nil, backends.Errorf(backends.ErrIncorrectKey, op, "", "the source keyring could unwrap none of the %d encrypted data keys", len(edks))
	}
	if len(m.PlaintextDataKey) != st.KeyLen {
		clear(m.PlaintextDataKey)
		return nil, backends.Errorf(backends.ErrInternal, op, "", "source keyring returned a %d-byte data key, suite %04X needs %d", len(m.PlaintextDataKey), st.ID, st.KeyLen)
	}
	return m.PlaintextDataKey, nil
}

// newContext returns the new whole context (without the signing key) and its
// required pairs.
func newContext(h *format.Header, opts *Options, oldFull, oldRequired map[string]string, op string) (full, required map[string]string, err error) {
	if opts.EncryptionContext == nil {
		if len(opts.RequiredEncryptionContextKeys) > 0 {
			return nil, nil, errArg(op, "RequiredEncryptionContextKeys without a new EncryptionContext")
		}
		full = maps.Clone(oldFull)
		delete(full, format.PublicKeyContextKey)
		return full, maps.Clone(oldRequired), nil
	}
	full = make(map[string]string, len(opts.EncryptionContext)+1)
	for k, v := range opts.EncryptionContext {
		if strings.HasPrefix(k, envelope.ReservedPrefix) {
			return nil, nil, errArg(op, "encryption context key %q uses the reserved prefix %q", k, envelope.ReservedPrefix)
		}
		full[k] = v
	}
	required = map[string]string{}
	for _, k := range opts.RequiredEncryptionContextKeys {
		v, ok := full[k]
		if !ok {
			return nil, nil, errArg(op, "required encryption context key %q is not in the encryption context", k)
		}
		if _, dup := required[k]; dup {
			return nil, nil, errArg(op, "required encryption context key %q listed twice", k)
		}
		required[k] = v
	}
	return full, required, nil
}

// errArg reports bad options (kind backends.ErrInvalidArgument), as package
// envelope does.
func errArg(op, format string, args ...any) error {
	return backends.Errorf(backends.ErrInvalidArgument, op, "", format, args...)
}

// errCiphertext reports a bad message (kind backends.ErrInvalidCiphertext, operation
// "Decrypt"), as package envelope does.
func errCiphertext(format string, args ...any) error {
	return backends.Errorf(backends.ErrInvalidCiphertext, "Decrypt", "", format, args...)
}
