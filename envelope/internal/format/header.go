package format

import (
	"encoding/binary"
	"errors"
	"io"
	"unicode/utf8"
	"unsafe"

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
	// SerializedContext is the serialized stored context. A writer that sets
	// it (to MarshalContext(Context), computed and checked) saves MarshalBody
	// the work; Parse sets it to the header's bytes.
	SerializedContext []byte
	// CanonicalContext says whether the parsed SerializedContext is canonical
	// (see CheckContext): then it is also what MarshalContext makes of Context.
	CanonicalContext bool
}

// Limits bounds what Parse accepts.
type Limits struct {
	// MaxEDKs is the largest number of encrypted data keys accepted; 0: no limit.
	MaxEDKs int
	// LazyContext leaves Header.Context nil when the serialized context is
	// canonical, for a caller that may never need the map (ContextMap builds
	// it).
	LazyContext bool
}

// ErrTooManyEDKs is wrapped by the error Parse returns for a header with more
// encrypted data keys than Limits.MaxEDKs allows.
var ErrTooManyEDKs = errors.New("too many encrypted data keys")

// reader reads header fields and keeps every byte read in buf; off bytes of
// buf are parsed. The fields it returns alias buf (with their capacity clipped):
// buf only grows, so bytes once read are never written again. Reading from a
// byte slice, it copies as much as buf holds at once and parses from there.
type reader struct {
	r   io.Reader
	src []byte // when r is nil: the bytes not yet copied to buf
	buf []byte
	off int
	err error
}

// newBytesReader returns a reader of the header at the start of src that keeps
// its bytes in buf's spare capacity (and beyond, as needed).
func newBytesReader(src, buf []byte) *reader {
	n := min(len(src), cap(buf)-len(buf))
	return &reader{src: src[n:], buf: append(buf, src[:n]...), off: len(buf)}
}

func (r *reader) next(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	start := r.off
	if r.r == nil {
		if more := start + n - len(r.buf); more > 0 {
			if len(r.src) < more {
				r.err = malformed("truncated in the header (%s)", what)
				return nil
			}
			r.buf = append(r.buf, r.src[:more]...)
			r.src = r.src[more:]
		}
		r.off += n
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
	r.off += n
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
	p := new(Parsed)
	p.EDKs = p.edks[:0]
	if err := p.ParseInto(p.buf[:0], r, lim); err != nil {
		return nil, err
	}
	return &p.Header, nil
}

// Parsed is a Header with room for its bytes and its first encrypted data keys,
// so that parsing a small header allocates nothing more than the Parsed.
type Parsed struct {
	Header
	edks [2]EDK
	buf  [448]byte
}

// ParseBytes is Parse of a header at the start of b; it returns the header and
// its length. The header keeps a copy of its bytes, not b.
func ParseBytes(b []byte, lim Limits) (*Header, int, error) {
	p := new(Parsed)
	p.EDKs = p.edks[:0]
	n, err := p.ParseBytesInto(p.buf[:0], b, lim)
	if err != nil {
		return nil, 0, err
	}
	return &p.Header, n, nil
}

// ParseInto is Parse into h. The header's bytes go to buf's spare capacity
// (growing past it as needed), and its encrypted data keys to the spare
// capacity of h.EDKs. The header's fields, strings included, share that
// buffer: the caller never writes to it (nor parses into it again).
func (h *Header) ParseInto(buf []byte, r io.Reader, lim Limits) error {
	return parse(&reader{r: r, buf: buf, off: len(buf)}, h, lim)
}

// ParseBytesInto is ParseBytes into h, with ParseInto's buffers; it returns
// the header's length.
func (h *Header) ParseBytesInto(buf, b []byte, lim Limits) (int, error) {
	rd := newBytesReader(b, buf)
	start := rd.off
	if err := parse(rd, h, lim); err != nil {
		return 0, err
	}
	return rd.off - start, nil
}

// ContextMap returns the stored context as a map, building it from
// SerializedContext if Parse left it nil (Limits.LazyContext).
func (h *Header) ContextMap() (map[string]string, error) {
	if h.Context == nil {
		ec, err := ParseContext(h.SerializedContext)
		if err != nil {
			return nil, err
		}
		h.Context = ec
	}
	return h.Context, nil
}

func parse(rd *reader, h *Header, lim Limits) error {
	start, edks := rd.off, h.EDKs[:0]
	*h = Header{}
	h.Version = rd.u8("version")
	if rd.err != nil {
		return rd.err
	}
	if h.Version != 1 && h.Version != 2 {
		return malformed("unknown message format version %#x", h.Version)
	}
	if h.Version == 1 {
		if t := rd.u8("type"); rd.err == nil && t != typeCustomerAED {
			return malformed("unknown message type %#x", t)
		}
	}
	id := uint16(rd.u16("algorithm suite"))
	if rd.err != nil {
		return rd.err
	}
	h.Suite = suite.Lookup(id)
	if h.Suite == nil {
		return malformed("unknown algorithm suite %04X", id)
	}
	if h.Suite.MessageVersion != h.Version {
		return malformed("algorithm suite %04X is not valid in a version %d message", id, h.Version)
	}
	h.MessageID = rd.next(h.Suite.MessageIDLen(), "message ID")
	aad := rd.field16("encryption context")
	if rd.err != nil {
		return rd.err
	}
	_, canonical, err := CheckContext(aad)
	if err != nil {
		return err
	}
	h.SerializedContext, h.CanonicalContext = aad, canonical
	if !lim.LazyContext || !canonical {
		// A context that is not canonical may repeat a key: the map tells.
		if h.Context, err = ParseContext(aad); err != nil {
			return err
		}
	}
	count := rd.u16("encrypted data key count")
	if rd.err != nil {
		return rd.err
	}
	if count == 0 {
		return malformed("no encrypted data keys")
	}
	if lim.MaxEDKs > 0 && count > lim.MaxEDKs {
		return malformed("%d encrypted data keys, at most %d allowed: %w", count, lim.MaxEDKs, ErrTooManyEDKs)
	}
	// Room for the common case; a forged count costs no more than what is read.
	h.EDKs = edks
	for i := 0; i < count; i++ {
		pid := rd.field16("key provider ID")
		info := rd.field16("key provider info")
		ct := rd.field16("encrypted data key")
		if rd.err != nil {
			return rd.err
		}
		if !utf8.Valid(pid) {
			return malformed("key provider ID is not valid UTF-8")
		}
		h.EDKs = append(h.EDKs, EDK{ProviderID: providerID(pid), ProviderInfo: info, Ciphertext: ct})
	}
	h.ContentType = rd.u8("content type")
	if rd.err == nil && h.ContentType != ContentFramed && h.ContentType != ContentNonFramed {
		return malformed("unknown content type %#x", h.ContentType)
	}
	if h.Version == 1 {
		if res := rd.u32("reserved"); rd.err == nil && res != 0 {
			return malformed("reserved field is not zero")
		}
		if n := rd.u8("IV length"); rd.err == nil && n != suite.IVLen {
			return malformed("IV length %d, the suite uses %d", n, suite.IVLen)
		}
	}
	h.FrameLength = rd.u32("frame length")
	if rd.err != nil {
		return rd.err
	}
	if h.ContentType == ContentNonFramed && h.FrameLength != 0 {
		return malformed("non-framed message with frame length %d", h.FrameLength)
	}
	if h.ContentType == ContentFramed && h.FrameLength == 0 {
		return malformed("framed message with frame length 0")
	}
	if h.Version == 2 {
		h.SuiteData = rd.next(h.Suite.SuiteDataLen(), "algorithm suite data")
	}
	bodyEnd := rd.off
	if h.Version == 1 {
		h.AuthIV = rd.next(suite.IVLen, "header IV")
	}
	h.AuthTag = rd.next(suite.TagLen, "header authentication tag")
	if rd.err != nil {
		return rd.err
	}
	h.Body = rd.buf[start:bodyEnd:bodyEnd]
	return nil
}

// providerID returns pid as a string without copying it: pid is part of the
// header's buffer, which nothing writes to once read (see reader; a Parsed is
// parsed into once).
func providerID(pid []byte) string {
	if len(pid) == 0 {
		return ""
	}
	return unsafe.String(&pid[0], len(pid))
}

// MarshalBody serializes the header body, stores it in h.Body and returns it.
func (h *Header) MarshalBody() ([]byte, error) {
	n, err := h.BodySize()
	if err != nil {
		return nil, err
	}
	b := h.AppendBody(make([]byte, 0, n))
	h.Body = b
	return b, nil
}

// BodySize checks the header's fields for MarshalBody and AppendBody and
// returns the length of the serialized body. It serializes Context into
// SerializedContext if that is nil.
func (h *Header) BodySize() (int, error) {
	s := h.Suite
	if s == nil || s.MessageVersion != h.Version {
		return 0, invalid("header suite and version do not match")
	}
	if len(h.MessageID) != s.MessageIDLen() {
		return 0, invalid("message ID must be %d bytes", s.MessageIDLen())
	}
	if len(h.SuiteData) != s.SuiteDataLen() && h.Version == 2 {
		return 0, invalid("suite data must be %d bytes", s.SuiteDataLen())
	}
	if len(h.EDKs) == 0 || len(h.EDKs) > MaxField {
		return 0, invalid("a message holds 1 to %d encrypted data keys, not %d", MaxField, len(h.EDKs))
	}
	if h.ContentType != ContentFramed && h.ContentType != ContentNonFramed {
		return 0, invalid("unknown content type")
	}
	if (h.ContentType == ContentFramed) != (h.FrameLength > 0) {
		return 0, invalid("frame length %d does not suit the content type", h.FrameLength)
	}
	if h.SerializedContext == nil {
		ec, err := MarshalContext(h.Context)
		if err != nil {
			return 0, err
		}
		h.SerializedContext = ec
	}
	if len(h.SerializedContext) > MaxField {
		return 0, invalid("serialized encryption context is %d bytes, the header holds at most %d", len(h.SerializedContext), MaxField)
	}
	size := 1 + 2 + len(h.MessageID) + 2 + len(h.SerializedContext) + 2 + 1 + 4 + len(h.SuiteData)
	if h.Version == 1 {
		size += 1 + 5
	}
	for _, k := range h.EDKs {
		if len(k.ProviderID) > MaxField || len(k.ProviderInfo) > MaxField || len(k.Ciphertext) > MaxField {
			return 0, invalid("encrypted data key field longer than %d bytes", MaxField)
		}
		if !utf8.ValidString(k.ProviderID) {
			return 0, invalid("key provider ID is not valid UTF-8")
		}
		size += 6 + len(k.ProviderID) + len(k.ProviderInfo) + len(k.Ciphertext)
	}
	return size, nil
}

// AppendBody appends the serialized header body to dst, for a header that
// BodySize has checked. It does not set h.Body.
func (h *Header) AppendBody(b []byte) []byte {
	ec := h.SerializedContext
	b = append(b, h.Version)
	if h.Version == 1 {
		b = append(b, typeCustomerAED)
	}
	b = binary.BigEndian.AppendUint16(b, h.Suite.ID)
	b = append(b, h.MessageID...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ec)))
	b = append(b, ec...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(h.EDKs)))
	for _, k := range h.EDKs {
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
	return b
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
