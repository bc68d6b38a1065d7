package format

import (
	"encoding/binary"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/keyport/keyport/envelope/internal/suite"
)

// Content types of the message body.
const (
	ContentNonFramed byte = 1
	ContentFramed    byte = 2
)

// typeCustomerAED is the only v1 message type.
const typeCustomerAED = 0x80

// EDK is one encrypted data key of the header.
type EDK struct {
	ProviderID   string
	ProviderInfo []byte
	Ciphertext   []byte
}

// Header is a parsed or to-be-written message header.
type Header struct {
	Version     byte // 1 or 2
	Suite       *suite.Suite
	MessageID   []byte
	Context     map[string]string // the pairs stored in the header
	EDKs        []EDK
	ContentType byte
	FrameLength uint32
	SuiteData   []byte // v2: the commit key of committing suites
	// AuthIV is the v1 header authentication IV (nil in v2).
	AuthIV []byte
	// AuthTag is the header authentication tag.
	AuthTag []byte
	// Body is the serialized header body: what the authentication tag covers
	// (followed by the serialized required encryption context). Set by Parse and
	// MarshalBody.
	Body []byte
	// SerializedContext, when not nil, is MarshalContext(Context), already
	// computed (and checked) by the writer: MarshalBody uses it as it is.
	SerializedContext []byte
}

// Limits bounds what Parse accepts.
type Limits struct {
	// MaxEDKs is the largest number of encrypted data keys accepted; 0: no limit.
	MaxEDKs int
}

// ErrTooManyEDKs is wrapped by the error Parse returns for a header with more
// encrypted data keys than Limits.MaxEDKs allows.
var ErrTooManyEDKs = errors.New("too many encrypted data keys")

// reader reads header fields and keeps every byte read in buf. The fields it
// returns alias buf (with their capacity clipped): buf only grows, so bytes once
// read are never written again.
type reader struct {
	r   io.Reader
	src []byte // when r is nil: the bytes to read from
	buf []byte
	err error
}

func (r *reader) next(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	start := len(r.buf)
	if r.r == nil {
		if len(r.src) < n {
			r.err = malformed("truncated in the header (%s)", what)
			return nil
		}
		r.buf = append(r.buf, r.src[:n]...)
		r.src = r.src[n:]
		return r.buf[start : start+n : start+n]
	}
	r.buf = append(r.buf, make([]byte, n)...)
	if _, err := io.ReadFull(r.r, r.buf[start:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			r.err = malformed("truncated in the header (%s)", what)
		} else {
			r.err = err
		}
		r.buf = r.buf[:start]
		return nil
	}
	return r.buf[start : start+n : start+n]
}

func (r *reader) u8(what string) byte {
	b := r.next(1, what)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16(what string) int {
	b := r.next(2, what)
	if b == nil {
		return 0
	}
	return int(binary.BigEndian.Uint16(b))
}

func (r *reader) u32(what string) uint32 {
	b := r.next(4, what)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *reader) field16(what string) []byte {
	n := r.u16(what)
	if r.err != nil {
		return nil
	}
	return r.next(n, what)
}

// Parse reads a header (body and authentication) from r, reading no byte past it.
// Errors that come from r itself are returned as they are; every other error has
// kind backends.ErrInvalidCiphertext. The byte slices of the header share one
// buffer, which nothing writes to once the header is parsed.
func Parse(r io.Reader, lim Limits) (*Header, error) {
	p := new(parsed)
	return parse(&reader{r: r, buf: p.buf[:0]}, p, lim)
}

// parsed is a header with room for its bytes and its first encrypted data keys,
// allocated at once.
type parsed struct {
	h    Header
	edks [2]EDK
	buf  [448]byte
}

// ParseBytes is Parse of a header at the start of b; it returns the header and
// its length. The header keeps a copy of its bytes, not b.
func ParseBytes(b []byte, lim Limits) (*Header, int, error) {
	p := new(parsed)
	h, err := parse(&reader{src: b, buf: p.buf[:0]}, p, lim)
	if err != nil {
		return nil, 0, err
	}
	return h, len(h.Body) + len(h.AuthIV) + len(h.AuthTag), nil
}

func parse(rd *reader, p *parsed, lim Limits) (*Header, error) {
	h := &p.h
	h.Version = rd.u8("version")
	if rd.err != nil {
		return nil, rd.err
	}
	if h.Version != 1 && h.Version != 2 {
		return nil, malformed("unknown message format version %#x", h.Version)
	}
	if h.Version == 1 {
		if t := rd.u8("type"); rd.err == nil && t != typeCustomerAED {
			return nil, malformed("unknown message type %#x", t)
		}
	}
	id := uint16(rd.u16("algorithm suite"))
	if rd.err != nil {
		return nil, rd.err
	}
	h.Suite = suite.Lookup(id)
	if h.Suite == nil {
		return nil, malformed("unknown algorithm suite %04X", id)
	}
	if h.Suite.MessageVersion != h.Version {
		return nil, malformed("algorithm suite %04X is not valid in a version %d message", id, h.Version)
	}
	h.MessageID = rd.next(h.Suite.MessageIDLen(), "message ID")
	aad := rd.field16("encryption context")
	if rd.err != nil {
		return nil, rd.err
	}
	ec, err := ParseContext(aad)
	if err != nil {
		return nil, err
	}
	h.Context = ec
	count := rd.u16("encrypted data key count")
	if rd.err != nil {
		return nil, rd.err
	}
	if count == 0 {
		return nil, malformed("no encrypted data keys")
	}
	if lim.MaxEDKs > 0 && count > lim.MaxEDKs {
		return nil, malformed("%d encrypted data keys, at most %d allowed: %w", count, lim.MaxEDKs, ErrTooManyEDKs)
	}
	// Room for the common case; a forged count costs no more than what is read.
	h.EDKs = p.edks[:0]
	for i := 0; i < count; i++ {
		pid := rd.field16("key provider ID")
		info := rd.field16("key provider info")
		ct := rd.field16("encrypted data key")
		if rd.err != nil {
			return nil, rd.err
		}
		if !utf8.Valid(pid) {
			return nil, malformed("key provider ID is not valid UTF-8")
		}
		h.EDKs = append(h.EDKs, EDK{ProviderID: providerID(pid), ProviderInfo: info, Ciphertext: ct})
	}
	h.ContentType = rd.u8("content type")
	if rd.err == nil && h.ContentType != ContentFramed && h.ContentType != ContentNonFramed {
		return nil, malformed("unknown content type %#x", h.ContentType)
	}
	if h.Version == 1 {
		if res := rd.u32("reserved"); rd.err == nil && res != 0 {
			return nil, malformed("reserved field is not zero")
		}
		if n := rd.u8("IV length"); rd.err == nil && n != suite.IVLen {
			return nil, malformed("IV length %d, the suite uses %d", n, suite.IVLen)
		}
	}
	h.FrameLength = rd.u32("frame length")
	if rd.err != nil {
		return nil, rd.err
	}
	if h.ContentType == ContentNonFramed && h.FrameLength != 0 {
		return nil, malformed("non-framed message with frame length %d", h.FrameLength)
	}
	if h.ContentType == ContentFramed && h.FrameLength == 0 {
		return nil, malformed("framed message with frame length 0")
	}
	if h.Version == 2 {
		h.SuiteData = rd.next(h.Suite.SuiteDataLen(), "algorithm suite data")
	}
	bodyLen := len(rd.buf)
	if h.Version == 1 {
		h.AuthIV = rd.next(suite.IVLen, "header IV")
	}
	h.AuthTag = rd.next(suite.TagLen, "header authentication tag")
	if rd.err != nil {
		return nil, rd.err
	}
	h.Body = rd.buf[:bodyLen:bodyLen]
	return h, nil
}

// providerID returns pid as a string, without allocating for the common ones.
func providerID(pid []byte) string {
	switch string(pid) {
	case "aws-kms":
		return "aws-kms"
	case "aws-kms-hierarchy":
		return "aws-kms-hierarchy"
	}
	return string(pid)
}

// MarshalBody serializes the header body, stores it in h.Body and returns it.
func (h *Header) MarshalBody() ([]byte, error) {
	s := h.Suite
	if s == nil || s.MessageVersion != h.Version {
		return nil, invalid("header suite and version do not match")
	}
	if len(h.MessageID) != s.MessageIDLen() {
		return nil, invalid("message ID must be %d bytes", s.MessageIDLen())
	}
	if len(h.SuiteData) != s.SuiteDataLen() && h.Version == 2 {
		return nil, invalid("suite data must be %d bytes", s.SuiteDataLen())
	}
	if len(h.EDKs) == 0 || len(h.EDKs) > MaxField {
		return nil, invalid("a message holds 1 to %d encrypted data keys, not %d", MaxField, len(h.EDKs))
	}
	if h.ContentType != ContentFramed && h.ContentType != ContentNonFramed {
		return nil, invalid("unknown content type")
	}
	if (h.ContentType == ContentFramed) != (h.FrameLength > 0) {
		return nil, invalid("frame length %d does not suit the content type", h.FrameLength)
	}
	ec := h.SerializedContext
	if ec == nil {
		var err error
		if ec, err = MarshalContext(h.Context); err != nil {
			return nil, err
		}
	}
	if len(ec) > MaxField {
		return nil, invalid("serialized encryption context is %d bytes, the header holds at most %d", len(ec), MaxField)
	}
	size := 1 + 1 + 2 + len(h.MessageID) + 2 + len(ec) + 2 + 1 + 5 + 4 + len(h.SuiteData)
	for _, k := range h.EDKs {
		size += 6 + len(k.ProviderID) + len(k.ProviderInfo) + len(k.Ciphertext)
	}
	b := make([]byte, 0, size)
	b = append(b, h.Version)
	if h.Version == 1 {
		b = append(b, typeCustomerAED)
	}
	b = binary.BigEndian.AppendUint16(b, s.ID)
	b = append(b, h.MessageID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ec)))
	b = append(b, ec...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.EDKs)))
	for _, k := range h.EDKs {
		if len(k.ProviderID) > MaxField || len(k.ProviderInfo) > MaxField || len(k.Ciphertext) > MaxField {
			return nil, invalid("encrypted data key field longer than %d bytes", MaxField)
		}
		if !utf8.ValidString(k.ProviderID) {
			return nil, invalid("key provider ID is not valid UTF-8")
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(k.ProviderID)))
		b = append(b, k.ProviderID...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(k.ProviderInfo)))
		b = append(b, k.ProviderInfo...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(k.Ciphertext)))
		b = append(b, k.Ciphertext...)
	}
	b = append(b, h.ContentType)
	if h.Version == 1 {
		b = append(b, 0, 0, 0, 0, suite.IVLen)
	}
	b = binary.BigEndian.AppendUint32(b, h.FrameLength)
	if h.Version == 2 {
		b = append(b, h.SuiteData...)
	}
	h.Body = b
	return b, nil
}

// AppendAuth appends the header authentication (v1: IV and tag; v2: tag) to dst.
func (h *Header) AppendAuth(dst []byte) []byte {
	if h.Version == 1 {
		dst = append(dst, h.AuthIV...)
	}
	return append(dst, h.AuthTag...)
}

// AuthAADSerialized is AuthAAD with the required encryption context already
// serialized (MarshalContext).
func (h *Header) AuthAADSerialized(requiredContext []byte) []byte {
	if len(requiredContext) == 0 {
		return h.Body
	}
	aad := make([]byte, 0, len(h.Body)+len(requiredContext))
	return append(append(aad, h.Body...), requiredContext...)
}

// AuthAAD returns what the header authentication tag covers: the header body
// followed by the serialized required encryption context (nothing when empty).
func (h *Header) AuthAAD(requiredContext map[string]string) ([]byte, error) {
	req, err := MarshalContext(requiredContext)
	if err != nil {
		return nil, err
	}
	if len(req) == 0 {
		return h.Body, nil
	}
	aad := make([]byte, 0, len(h.Body)+len(req))
	return append(append(aad, h.Body...), req...), nil
}
