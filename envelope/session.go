package envelope

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

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

	// Encryption: the header is serialized (and its tag computed) by
	// appendHeader, straight into the output of a byte-slice encryption.
	hdrLen     int    // length of the serialized header, authentication included
	requiredEC []byte // the serialized required context, authenticated after the header body
	tag        [suite.TagLen]byte
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
// that one allocation holds a small message's whole state. The byte-slice API
// takes them from a pool: nothing refers to one once the message is written.
type encSession struct {
	session
	hdr       format.Header
	materials EncryptionMaterials
	id        [32]byte
	edks      [2]EncryptedDataKey
	hdrEDKs   [2]format.EDK
	ec        [256]byte // the serialized stored context, when it fits
	room      room      // the keyring's data key and encrypted data keys
	pooled    bool
}

var encPool = sync.Pool{New: func() any { return new(encSession) }}

// release returns a pooled session to the pool, first wiping what a new
// message must not find: the keys and what the keyring put in the room (the
// data key is wiped already), and every reference to the caller's data. The
// rest (message ID, serialized context) is overwritten by the next message.
func (es *encSession) release() {
	if es != nil && es.pooled {
		es.session = session{}
		es.hdr = format.Header{}
		es.materials = EncryptionMaterials{}
		es.edks, es.hdrEDKs = [2]EncryptedDataKey{}, [2]format.EDK{}
		clear(es.room.buf[:es.room.used])
		es.room.used = 0
		encPool.Put(es)
	}
}

// allowedToWrite reports whether the policy lets s be written.
func allowedToWrite(p CommitmentPolicy, s *suite.Suite) bool {
	if p == ForbidEncryptAllowDecrypt {
		return !s.Committing
	}
	return s.Committing
}

// newEncryptSession checks opts, gets the encryption materials from the keyring,
// and prepares the header (appendHeader writes it). plaintextLen is the length of
// the plaintext, or 0 when it is not known. A pooled session is released by the
// caller once the message is written (on error, here).
func newEncryptSession(ctx context.Context, opts *EncryptOptions, op string, plaintextLen int64, pooled bool) (_ *encSession, err error) {
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
	if opts.PlaintextLength < 0 {
		return nil, errArg(op, "negative PlaintextLength")
	}
	if opts.PlaintextLength > 0 && plaintextLen > opts.PlaintextLength {
		return nil, errArg(op, "%d bytes of plaintext, PlaintextLength announced at most %d", plaintextLen, opts.PlaintextLength)
	}
	if plaintextLen == 0 {
		plaintextLen = opts.PlaintextLength
	}
	reqKeys := []string{}
	required := opts.RequiredEncryptionContextKeys
	if len(required) > 0 {
		reqKeys = slices.Clone(required)
		slices.Sort(reqKeys)
		for i, k := range reqKeys {
			if _, ok := opts.EncryptionContext[k]; !ok {
				return nil, errArg(op, "required encryption context key %q is not in the encryption context", k)
			}
			if i > 0 && reqKeys[i-1] == k {
				return nil, errArg(op, "required encryption context key %q listed twice", k)
			}
		}
	}
	var es *encSession
	if pooled {
		es = encPool.Get().(*encSession)
		es.pooled = true
		defer func() {
			if err != nil {
				es.release()
			}
		}()
	} else {
		es = new(encSession)
	}
	sess := &es.session
	sess.suite, sess.frameLen = st, frameLen
	// The keyring gets the caller's map, which it only reads, unless the
	// session adds the signing key. Keys with the reserved prefix are refused
	// as the context is serialized (or copied).
	full, refused := opts.EncryptionContext, ReservedPrefix
	if st.Signed() {
		full = make(map[string]string, len(opts.EncryptionContext)+1)
		for k, v := range opts.EncryptionContext {
			if strings.HasPrefix(k, ReservedPrefix) {
				return nil, errArg(op, "encryption context key %q uses the reserved prefix %q", k, ReservedPrefix)
			}
			full[k] = v
		}
		signer, pub, err := suite.NewSigner(st)
		if err != nil {
			return nil, backends.Wrap(backends.ErrInternal, op, "", err)
		}
		sess.signer = signer
		full[format.PublicKeyContextKey] = pub
		refused = ""
	}
	// Check the format's limits before any key is made or wrapped. The header
	// stores the context serialized here: what the keyring does with the
	// materials cannot change it.
	var stored func(string) bool
	if len(reqKeys) > 0 {
		stored = func(k string) bool { _, req := slices.BinarySearch(reqKeys, k); return !req }
	}
	storedEC, err := format.AppendContext(es.ec[:0], full, stored, refused)
	if err != nil {
		return nil, err
	} else if len(storedEC) > format.MaxField {
		return nil, errArg(op, "serialized encryption context is %d bytes, at most %d fit in the header", len(storedEC), format.MaxField)
	}
	if len(reqKeys) > 0 {
		if sess.requiredEC, err = format.AppendContext(nil, full, func(k string) bool { return !stored(k) }, ""); err != nil {
			return nil, err
		}
	}

	m := &es.materials
	*m = EncryptionMaterials{
		Suite:                         SuiteID(st.ID),
		EncryptionContext:             full,
		RequiredEncryptionContextKeys: reqKeys,
		MaxPlaintextLength:            plaintextLen,
		EncryptedDataKeys:             es.edks[:0:len(es.edks)],
		room:                          &es.room,
	}
	if len(full) == 0 {
		m.EncryptionContext = nil
	}
	if len(reqKeys) == 0 {
		m.ec.set(m.EncryptionContext, storedEC)
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
		SerializedContext: storedEC,
		ContentType:       format.ContentFramed,
		FrameLength:       uint32(frameLen),
		EDKs:              es.hdrEDKs[:0:len(es.hdrEDKs)],
	}
	rand.Read(h.MessageID)
	for _, k := range m.EncryptedDataKeys {
		h.EDKs = append(h.EDKs, format.EDK(k))
	}
	if h.Version == 1 {
		h.AuthIV = zeroIV[:]
	}
	key, commit, err := sess.deriveKey(dataKey, h.MessageID)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInternal, op, "", err)
	}
	defer clear(key)
	h.SuiteData = commit
	n, err := h.BodySize()
	if err != nil {
		return nil, err
	}
	aead, err := suite.NewAEAD(key)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInternal, op, "", err)
	}
	sess.hdr = h
	sess.hdrLen = n + len(h.AuthIV) + suite.TagLen
	sess.codec = body.Codec{AEAD: aead, MessageID: h.MessageID, FrameLen: frameLen}
	return es, nil
}

// zeroIV is the header authentication IV of both message format versions
// (read only).
var zeroIV [suite.IVLen]byte

// headerLen returns the length of the serialized header, authentication included.
func (s *session) headerLen() int { return s.hdrLen }

// appendHeader appends the header body and its authentication to dst, once per
// encryption session: the tag is computed over the body where it is written.
func (s *session) appendHeader(dst []byte) []byte {
	h := s.hdr
	start := len(dst)
	dst = h.AppendBody(dst)
	h.Body = dst[start:len(dst):len(dst)]
	h.AuthTag = s.codec.AEAD.Seal(s.tag[:0], zeroIV[:], nil, h.AuthAADSerialized(s.requiredEC))
	return h.AppendAuth(dst)
}

// serializedHeader returns the header body followed by its authentication.
func (s *session) serializedHeader() []byte {
	return s.appendHeader(make([]byte, 0, s.headerLen()))
}

// resultRoom is room for what a Result refers to: its Header, the header's
// bytes (which hold the encrypted data keys and the provider IDs), the message
// ID and the encrypted data keys. A Result the caller reuses keeps its room.
type resultRoom struct {
	buf  [448]byte
	pub  Header
	id   [32]byte
	edks [2]EncryptedDataKey
}

// decResult is a Result with its room, in one allocation.
type decResult struct {
	res  Result
	room resultRoom
}

// decSession is the rest of a decryption's state, with room for the parsed
// header and the materials. The byte-slice API takes them from a pool: nothing
// refers to one once the plaintext is out.
type decSession struct {
	session
	res       *Result // what open fills, its room set
	hdr       format.Header
	hdrEDKs   [2]format.EDK
	materials DecryptionMaterials
	room      room
	pooled    bool
}

var decPool = sync.Pool{New: func() any { return new(decSession) }}

// newDecSession checks opts and returns an empty decryption session, from the
// pool if pooled (the caller releases it), that describes the message in res,
// or in a new Result when res is nil.
func newDecSession(opts *DecryptOptions, pooled bool, res *Result) (*decSession, error) {
	if opts == nil || opts.Keyring == nil {
		return nil, errArg("Decrypt", "no keyring")
	}
	if opts.MaxEncryptedDataKeys < 0 {
		return nil, errArg("Decrypt", "negative MaxEncryptedDataKeys")
	}
	var ds *decSession
	if pooled {
		ds = decPool.Get().(*decSession)
		ds.pooled = true
	} else {
		ds = new(decSession)
	}
	if res == nil {
		dr := new(decResult)
		res, dr.res.room = &dr.res, &dr.room
	} else if res.room == nil {
		res.room = new(resultRoom)
	}
	ds.res = res
	ds.hdr.EDKs = ds.hdrEDKs[:0]
	return ds, nil
}

// release wipes a pooled session and returns it to the pool.
func (ds *decSession) release() {
	if ds.pooled {
		*ds = decSession{}
		decPool.Put(ds)
	}
}

func (ds *decSession) limits(opts *DecryptOptions) format.Limits {
	return format.Limits{MaxEDKs: opts.MaxEncryptedDataKeys, LazyContext: true}
}

// parse parses a header from r. Errors of the reader itself come back
// unchanged; the rest are typed.
func (ds *decSession) parse(r io.Reader, opts *DecryptOptions) error {
	return ds.hdr.ParseInto(ds.res.room.buf[:0], r, ds.limits(opts))
}

// parseBytes parses the header at the start of msg and returns its length.
func (ds *decSession) parseBytes(msg []byte, opts *DecryptOptions) (int, error) {
	return ds.hdr.ParseBytesInto(ds.res.room.buf[:0], msg, ds.limits(opts))
}

// open checks the parsed header against the policy and the reproduced
// context, gets the data key from the keyring, checks the key commitment and
// the header authentication tag.
func (ds *decSession) open(ctx context.Context, opts *DecryptOptions) (*Result, error) {
	rm, h := ds.res.room, &ds.hdr
	st := h.Suite
	if opts.CommitmentPolicy == RequireEncryptRequireDecrypt && !st.Committing {
		return nil, backends.Errorf(backends.ErrUnsupported, "Decrypt", "", "commitment policy %v does not allow reading suite %04X", opts.CommitmentPolicy, st.ID)
	}
	// Every stored pair whose key the caller gave must have the caller's value;
	// the caller's other pairs are required pairs.
	given := opts.EncryptionContext
	matched, badKey, ok := format.MatchContext(h.SerializedContext, given)
	if !ok {
		return nil, errCiphertext("encryption context does not match the message's (key %q)", badKey)
	}
	nStored := 0
	if len(h.SerializedContext) >= 2 {
		nStored = int(binary.BigEndian.Uint16(h.SerializedContext))
	}
	nRequired := len(given) - matched
	// The stored pairs as a map: the caller's own when it holds exactly them,
	// else built from the header. The whole context is the caller's map when
	// it holds every stored pair.
	stored, full := given, given
	if nRequired > 0 || matched < nStored || given == nil {
		var err error
		if stored, err = h.ContextMap(); err != nil {
			return nil, err
		}
		if matched < nStored {
			full = stored
			if nRequired > 0 {
				full = make(map[string]string, nStored+nRequired)
				maps.Copy(full, stored)
				maps.Copy(full, given)
			}
		}
	}
	reqKeys := []string{}
	var requiredEC []byte
	if nRequired > 0 {
		required := make(map[string]string, nRequired)
		for k, v := range given {
			if _, ok := stored[k]; !ok {
				required[k] = v
			}
		}
		reqKeys = format.SortedKeys(required)
		var err error
		if requiredEC, err = format.MarshalContext(required); err != nil {
			return nil, errCiphertext("required encryption context: %v", err)
		}
	}
	pub, hasPub := stored[format.PublicKeyContextKey]
	if st.Signed() != hasPub {
		return nil, errCiphertext("suite %04X and the %q entry do not agree", st.ID, format.PublicKeyContextKey)
	}
	sess := &ds.session
	sess.hdr, sess.suite, sess.frameLen = h, st, int(h.FrameLength)
	if st.Signed() {
		v, err := suite.NewVerifier(st, pub)
		if err != nil {
			return nil, errCiphertext("bad signing public key: %v", err)
		}
		sess.verifier = v
	}
	edks := rm.edks[:0]
	for _, k := range h.EDKs {
		edks = append(edks, EncryptedDataKey(k))
	}
	edks = slices.Clip(edks)
	m := &ds.materials
	*m = DecryptionMaterials{
		Suite:                         SuiteID(st.ID),
		EncryptionContext:             full,
		RequiredEncryptionContextKeys: slices.Clone(reqKeys),
		room:                          &ds.room,
	}
	if len(full) == 0 {
		m.EncryptionContext = nil
	}
	if nRequired == 0 && h.CanonicalContext {
		// The header holds the whole context, serialized as the keyrings do.
		m.ec.set(m.EncryptionContext, h.SerializedContext)
	}
	if err := backends.ContextError(ctx, "Decrypt", ""); err != nil {
		return nil, err
	}
	if err := opts.Keyring.OnDecrypt(ctx, m, edks); err != nil {
		clear(m.PlaintextDataKey)
		return nil, err
	}
	dataKey := m.PlaintextDataKey
	defer clear(dataKey)
	if dataKey == nil {
		return nil, backends.Errorf(backends.ErrIncorrectKey, "Decrypt", "", "the keyring could unwrap none of the %d encrypted data keys", len(edks))
	}
	if len(dataKey) != st.KeyLen {
		return nil, backends.Errorf(backends.ErrInternal, "Decrypt", "", "keyring returned a %d-byte data key, suite %04X needs %d", len(dataKey), st.ID, st.KeyLen)
	}
	key, commit, err := sess.deriveKey(dataKey, h.MessageID)
	if err != nil {
		return nil, backends.Wrap(backends.ErrInternal, "Decrypt", "", err)
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
		return nil, backends.Wrap(backends.ErrInternal, "Decrypt", "", err)
	}
	iv := h.AuthIV
	if h.Version == 2 {
		iv = zeroIV[:]
	}
	if _, err := aead.Open(nil, iv, h.AuthTag, h.AuthAADSerialized(requiredEC)); err != nil {
		return nil, errCiphertext("header authentication failed (wrong encryption context or tampered header)")
	}
	sess.codec = body.Codec{AEAD: aead, MessageID: h.MessageID, FrameLen: int(h.FrameLength)}
	if sess.verifier != nil {
		sess.verifier.Write(h.Body)
		sess.verifier.Write(h.AppendAuth(nil))
	}
	if stored == nil {
		stored = map[string]string{}
	}
	if full == nil {
		full = stored
	}
	*ds.res = Result{
		Suite:                         SuiteID(st.ID),
		EncryptionContext:             full,
		RequiredEncryptionContextKeys: reqKeys,
		Header:                        &rm.pub,
		room:                          rm,
	}
	fillHeader(&rm.pub, h, stored, edks, rm.id[:0])
	return ds.res, nil
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

// publicHeader returns the Header of h (see fillHeader), whose Context is set.
func publicHeader(h *format.Header) *Header {
	out := new(Header)
	fillHeader(out, h, h.Context, publicEDKs(h), nil)
	return out
}

// fillHeader sets out to the Header of h with the stored context stored and
// the encrypted data keys edks (publicEDKs). Its data keys share h's buffer:
// nothing writes to either once a decryption session is made. Its message ID
// is a copy (a streaming decryption keeps using h's), appended to idBuf.
func fillHeader(out *Header, h *format.Header, stored map[string]string, edks []EncryptedDataKey, idBuf []byte) {
	*out = Header{
		Version:           int(h.Version),
		Suite:             SuiteID(h.Suite.ID),
		MessageID:         slices.Clip(append(idBuf, h.MessageID...)),
		EncryptionContext: stored,
		EncryptedDataKeys: edks,
		Framed:            h.ContentType == format.ContentFramed,
		FrameLength:       int(h.FrameLength),
		Size:              len(h.Body) + len(h.AuthIV) + len(h.AuthTag),
	}
	if out.EncryptionContext == nil {
		out.EncryptionContext = map[string]string{}
	}
}
