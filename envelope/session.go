package envelope

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/body"
	"github.com/keyport/keyport/envelope/internal/format"
	"github.com/keyport/keyport/envelope/internal/suite"
)

// session holds what sealing or opening a message's body needs.
type session struct {
	hdr      *format.Header
	suite    *suite.Suite
	codec    body.Codec
	frameLen int
	signer   *suite.Signer   // encrypt, signed suites
	verifier *suite.Verifier // decrypt, signed suites
	keys     [64]byte        // room for the derived key and commit key (see deriveKey)
}

// deriveKey derives the message's AES key and commit key from the data key, in
// s.keys for committing suites. The caller wipes the key when done.
func (s *session) deriveKey(dataKey, messageID []byte) (key, commit []byte, err error) {
	if s.suite.Committing {
		return s.suite.DeriveCommitting(dataKey, messageID, s.keys[:])
	}
	return s.suite.DeriveKey(dataKey, messageID)
}

// encSession is an encryption session with room for what it is made of, so
// that one allocation holds most of a small message's state.
type encSession struct {
	session
	hdr       format.Header
	materials EncryptionMaterials
	id        [32]byte
	tag       [suite.TagLen]byte
	edks      [1]EncryptedDataKey
	hdrEDKs   [1]format.EDK
}

// allowedToWrite reports whether the policy lets s be written.
func allowedToWrite(p CommitmentPolicy, s *suite.Suite) bool {
	if p == ForbidEncryptAllowDecrypt {
		return !s.Committing
	}
	return s.Committing
}

// newEncryptSession checks opts, gets the encryption materials from the keyring,
// and builds and authenticates the header.
func newEncryptSession(ctx context.Context, opts *EncryptOptions, op string) (*session, error) {
	if opts == nil || opts.Keyring == nil {
		return nil, errArg(op, "no keyring")
	}
	if opts.CommitmentPolicy < RequireEncryptRequireDecrypt || opts.CommitmentPolicy > ForbidEncryptAllowDecrypt {
		return nil, errArg(op, "unknown commitment policy %d", opts.CommitmentPolicy)
	}
	id := opts.Suite
	if id == 0 {
		id = DefaultSuite
		if opts.CommitmentPolicy == ForbidEncryptAllowDecrypt {
			id = SuiteAES256GCMIV12Tag16HKDFSHA384ECDSAP384
		}
	}
	st := suite.Lookup(uint16(id))
	if st == nil {
		return nil, errArg(op, "unknown algorithm suite %04X", uint16(id))
	}
	if !allowedToWrite(opts.CommitmentPolicy, st) {
		return nil, backends.Errorf(backends.ErrUnsupported, op, "", "commitment policy %v does not allow writing suite %04X", opts.CommitmentPolicy, st.ID)
	}
	frameLen := opts.FrameLength
	if frameLen == 0 {
		frameLen = DefaultFrameLength
	}
	if frameLen < 1 || int64(frameLen) > MaxFrameLength {
		return nil, errArg(op, "frame length %d out of range 1..%d", frameLen, int64(MaxFrameLength))
	}
	if opts.MaxEncryptedDataKeys < 0 {
		return nil, errArg(op, "negative MaxEncryptedDataKeys")
	}
	full := make(map[string]string, len(opts.EncryptionContext)+1)
	for k, v := range opts.EncryptionContext {
		if strings.HasPrefix(k, ReservedPrefix) {
			return nil, errArg(op, "encryption context key %q uses the reserved prefix %q", k, ReservedPrefix)
		}
		full[k] = v
	}
	var required map[string]string
	if len(opts.RequiredEncryptionContextKeys) > 0 {
		required = make(map[string]string, len(opts.RequiredEncryptionContextKeys))
	}
	for _, k := range opts.RequiredEncryptionContextKeys {
		v, ok := full[k]
		if !ok {
			return nil, errArg(op, "required encryption context key %q is not in the encryption context", k)
		}
		if _, dup := required[k]; dup {
			return nil, errArg(op, "required encryption context key %q listed twice", k)
		}
		required[k] = v
	}
	es := new(encSession)
	sess := &es.session
	sess.suite, sess.frameLen = st, frameLen
	if st.Signed() {
		signer, pub, err := suite.NewSigner(st)
		if err != nil {
			return nil, backends.Wrap(backends.ErrInternal, op, "", err)
		}
		sess.signer = signer
		full[format.PublicKeyContextKey] = pub
	}
	stored := full
	if len(required) > 0 {
		stored = make(map[string]string, len(full))
		for k, v := range full {
			if _, req := required[k]; !req {
				stored[k] = v
			}
		}
	}
	// Check the format's limits before any key is made or wrapped. The header
	// stores the context serialized here: what the keyring does with the
	// materials cannot change it.
	storedEC, err := format.MarshalContext(stored)
	if err != nil {
		return nil, err
	} else if len(storedEC) > format.MaxField {
		return nil, errArg(op, "serialized encryption context is %d bytes, at most %d fit in the header", len(storedEC), format.MaxField)
	}
	requiredEC, err := format.MarshalContext(required)
	if err != nil {
		return nil, err
	}

	reqKeys := []string{}
	if len(required) > 0 {
		reqKeys = format.SortedKeys(required)
	}
	// The keyring gets full itself: a copy the session made, and the header
	// keeps storedEC, serialized above.
	m := &es.materials
	*m = EncryptionMaterials{
		Suite:                         SuiteID(st.ID),
		EncryptionContext:             full,
		RequiredEncryptionContextKeys: reqKeys,
		EncryptedDataKeys:             es.edks[:0:1],
	}
	if len(full) == 0 {
		m.EncryptionContext = nil
	}
	if err := backends.ContextError(ctx, op, ""); err != nil {
		return nil, err
	}
	if err := opts.Keyring.OnEncrypt(ctx, m); err != nil {
		clear(m.PlaintextDataKey)
		return nil, err
	}
	dataKey := m.PlaintextDataKey
	defer clear(dataKey)
	if len(dataKey) != st.KeyLen {
		return nil, backends.Errorf(backends.ErrInternal, op, "", "keyring returned a %d-byte data key, suite %04X needs %d", len(dataKey), st.ID, st.KeyLen)
	}
	if len(m.EncryptedDataKeys) == 0 {
		return nil, backends.Errorf(backends.ErrInternal, op, "", "keyring returned no encrypted data key")
	}
	if opts.MaxEncryptedDataKeys > 0 && len(m.EncryptedDataKeys) > opts.MaxEncryptedDataKeys {
		return nil, errArg(op, "%d encrypted data keys, at most %d allowed", len(m.EncryptedDataKeys), opts.MaxEncryptedDataKeys)
	}

	h := &es.hdr
	*h = format.Header{
		Version:           st.MessageVersion,
		Suite:             st,
		MessageID:         es.id[:st.MessageIDLen():st.MessageIDLen()],
		Context:           stored,
		SerializedContext: storedEC,
		ContentType:       format.ContentFramed,
		FrameLength:       uint32(frameLen),
		EDKs:              es.hdrEDKs[:0:1],
	}
	rand.Read(h.MessageID)
	for _, k := range m.EncryptedDataKeys {
		h.EDKs = append(h.EDKs, format.EDK(k))
	}
	key, commit, err := sess.deriveKey(dataKey, h.MessageID)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInternal, op, "", err)
	}
	defer clear(key)
	h.SuiteData = commit
	if _, err := h.MarshalBody(); err != nil {
		return nil, err
	}
	aead, err := suite.NewAEAD(key)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInternal, op, "", err)
	}
	aad := h.AuthAADSerialized(requiredEC)
	iv := zeroIV[:]
	if h.Version == 1 {
		h.AuthIV = make([]byte, suite.IVLen)
		iv = h.AuthIV
	}
	h.AuthTag = aead.Seal(es.tag[:0], iv, nil, aad)
	sess.hdr = h
	sess.codec = body.Codec{AEAD: aead, MessageID: h.MessageID, FrameLen: frameLen}
	return sess, nil
}

// zeroIV is the header authentication IV of message format v2 (read only).
var zeroIV [suite.IVLen]byte

// headerLen returns the length of the serialized header, authentication included.
func (s *session) headerLen() int {
	return len(s.hdr.Body) + len(s.hdr.AuthIV) + len(s.hdr.AuthTag)
}

// appendHeader appends the header body followed by its authentication to dst.
func (s *session) appendHeader(dst []byte) []byte {
	return s.hdr.AppendAuth(append(dst, s.hdr.Body...))
}

// serializedHeader returns the header body followed by its authentication.
func (s *session) serializedHeader() []byte {
	return s.appendHeader(make([]byte, 0, s.headerLen()))
}

// newDecryptSession checks the parsed header against the policy and the
// reproduced context, gets the data key from the keyring, checks the key
// commitment and the header authentication tag.
func newDecryptSession(ctx context.Context, h *format.Header, opts *DecryptOptions) (*session, *Result, error) {
	st := h.Suite
	if opts.CommitmentPolicy == RequireEncryptRequireDecrypt && !st.Committing {
		return nil, nil, backends.Errorf(backends.ErrUnsupported, "Decrypt", "", "commitment policy %v does not allow reading suite %04X", opts.CommitmentPolicy, st.ID)
	}
	var required map[string]string
	for k, v := range opts.EncryptionContext {
		if sv, ok := h.Context[k]; ok {
			if sv != v {
				return nil, nil, errCiphertext("encryption context does not match the message's (key %q)", k)
			}
			continue
		}
		if required == nil {
			required = make(map[string]string, len(opts.EncryptionContext))
		}
		required[k] = v
	}
	pub, hasPub := h.Context[format.PublicKeyContextKey]
	if st.Signed() != hasPub {
		return nil, nil, errCiphertext("suite %04X and the %q entry do not agree", st.ID, format.PublicKeyContextKey)
	}
	// The whole context: the parsed map itself when every pair is stored (it is
	// the Result's and the Header's; the keyring gets it too).
	full := h.Context
	if len(required) > 0 {
		full = make(map[string]string, len(h.Context)+len(required))
		for k, v := range h.Context {
			full[k] = v
		}
		for k, v := range required {
			full[k] = v
		}
	}
	reqKeys := []string{}
	if len(required) > 0 {
		reqKeys = format.SortedKeys(required)
	}
	sess := &session{hdr: h, suite: st, frameLen: int(h.FrameLength)}
	if st.Signed() {
		v, err := suite.NewVerifier(st, pub)
		if err != nil {
			return nil, nil, errCiphertext("bad signing public key: %v", err)
		}
		sess.verifier = v
	}
	edks := publicEDKs(h)
	m := &DecryptionMaterials{
		Suite:                         SuiteID(st.ID),
		EncryptionContext:             full,
		RequiredEncryptionContextKeys: slices.Clone(reqKeys),
	}
	if len(full) == 0 {
		m.EncryptionContext = nil
	}
	if err := backends.ContextError(ctx, "Decrypt", ""); err != nil {
		return nil, nil, err
	}
	if err := opts.Keyring.OnDecrypt(ctx, m, edks); err != nil {
		clear(m.PlaintextDataKey)
		return nil, nil, err
	}
	dataKey := m.PlaintextDataKey
	defer clear(dataKey)
	if dataKey == nil {
		return nil, nil, backends.Errorf(backends.ErrIncorrectKey, "Decrypt", "", "the keyring could unwrap none of the %d encrypted data keys", len(edks))
	}
	if len(dataKey) != st.KeyLen {
		return nil, nil, backends.Errorf(backends.ErrInternal, "Decrypt", "", "keyring returned a %d-byte data key, suite %04X needs %d", len(dataKey), st.ID, st.KeyLen)
	}
	key, commit, err := sess.deriveKey(dataKey, h.MessageID)
	if err != nil {
		return nil, nil, backends.Wrap(backends.ErrInternal, "Decrypt", "", err)
	}
	defer clear(key)
	defer clear(commit)
	if st.Committing {
		if err := suite.CheckCommitment(commit, h.SuiteData); err != nil {
			return nil, nil, errCiphertext("%v", err)
		}
	}
	aead, err := suite.NewAEAD(key)
	if err != nil {
		return nil, nil, backends.Wrap(backends.ErrInternal, "Decrypt", "", err)
	}
	aad, err := h.AuthAAD(required)
	if err != nil {
		return nil, nil, errCiphertext("required encryption context: %v", err)
	}
	iv := h.AuthIV
	if h.Version == 2 {
		iv = zeroIV[:]
	}
	if _, err := aead.Open(nil, iv, h.AuthTag, aad); err != nil {
		return nil, nil, errCiphertext("header authentication failed (wrong encryption context or tampered header)")
	}
	sess.codec = body.Codec{AEAD: aead, MessageID: h.MessageID, FrameLen: int(h.FrameLength)}
	if sess.verifier != nil {
		sess.verifier.Write(h.Body)
		sess.verifier.Write(h.AppendAuth(nil))
	}
	return sess, newResult(h, edks, full, reqKeys), nil
}

// newResult returns the Result of decrypting the message of h: its Header (see
// publicHeader) and the whole encryption context full, in one allocation.
func newResult(h *format.Header, edks []EncryptedDataKey, full map[string]string, reqKeys []string) *Result {
	r := &struct {
		res Result
		hdr Header
		id  [32]byte
	}{}
	r.res = Result{
		Suite:                         SuiteID(h.Suite.ID),
		EncryptionContext:             full,
		RequiredEncryptionContextKeys: reqKeys,
		Header:                        &r.hdr,
	}
	fillHeader(&r.hdr, h, edks, r.id[:0])
	return &r.res
}

// publicEDKs returns the encrypted data keys of h. Their byte slices alias h's
// buffer, which nothing writes to.
func publicEDKs(h *format.Header) []EncryptedDataKey {
	edks := make([]EncryptedDataKey, len(h.EDKs))
	for i, k := range h.EDKs {
		edks[i] = EncryptedDataKey(k)
	}
	return edks
}

// publicHeader returns the Header of h (see fillHeader).
func publicHeader(h *format.Header) *Header {
	out := new(Header)
	fillHeader(out, h, publicEDKs(h), nil)
	return out
}

// fillHeader sets out to the Header of h with the encrypted data keys edks
// (publicEDKs). The header's encryption context is h.Context itself and its
// data keys share h's buffer: nothing reads either once a decryption session is
// made. Its message ID is a copy (a streaming decryption keeps using h's),
// appended to idBuf.
func fillHeader(out *Header, h *format.Header, edks []EncryptedDataKey, idBuf []byte) {
	*out = Header{
		Version:           int(h.Version),
		Suite:             SuiteID(h.Suite.ID),
		MessageID:         slices.Clip(append(idBuf, h.MessageID...)),
		EncryptionContext: h.Context,
		EncryptedDataKeys: edks,
		Framed:            h.ContentType == format.ContentFramed,
		FrameLength:       int(h.FrameLength),
		Size:              len(h.Body) + len(h.AuthIV) + len(h.AuthTag),
	}
	if out.EncryptionContext == nil {
		out.EncryptionContext = map[string]string{}
	}
}

// parseHeader parses a header from r under opts' limits.
func parseHeader(r interface{ Read([]byte) (int, error) }, opts *DecryptOptions) (*format.Header, error) {
	if err := checkDecryptOptions(opts); err != nil {
		return nil, err
	}
	// Errors of the reader itself come back unchanged; the rest are typed.
	return format.Parse(r, format.Limits{MaxEDKs: opts.MaxEncryptedDataKeys})
}

// parseHeaderBytes parses the header at the start of msg under opts' limits and
// returns it and its length.
func parseHeaderBytes(msg []byte, opts *DecryptOptions) (*format.Header, int, error) {
	if err := checkDecryptOptions(opts); err != nil {
		return nil, 0, err
	}
	return format.ParseBytes(msg, format.Limits{MaxEDKs: opts.MaxEncryptedDataKeys})
}

func checkDecryptOptions(opts *DecryptOptions) error {
	if opts == nil || opts.Keyring == nil {
		return errArg("Decrypt", "no keyring")
	}
	if opts.MaxEncryptedDataKeys < 0 {
		return errArg("Decrypt", "negative MaxEncryptedDataKeys")
	}
	return nil
}
