package format

import (
	"encoding/binary"

	"github.com/keyport/keyport/envelope/internal/suite"
)

// Body framing.
const (
	// EndMarker is the sequence number end that opens the final frame.
	EndMarker = 0xFFFFFFFF
	// MaxFrames is the largest number of frames in a message.
	MaxFrames = 1<<32 - 1
	// RegularOverhead is the bytes a regular frame adds to its content.
	RegularOverhead = 4 + suite.IVLen + suite.TagLen
	// FinalOverhead is the bytes the final frame adds to its content.
	FinalOverhead = 4 + 4 + suite.IVLen + 4 + suite.TagLen
	// NonFramedOverhead is the bytes a non-framed body adds to its content.
	NonFramedOverhead = suite.IVLen + 8 + suite.TagLen
	// MaxNonFramed is the largest non-framed content (the GCM limit).
	MaxNonFramed = 1<<36 - 32
	// MaxFooter bounds the footer keyport writes: a two-byte length and a DER
	// ECDSA P-384 signature.
	MaxFooter = 2 + 2 + 2*(2+1+48) + 8
)

// Kind says which body AAD content string a piece of the body uses.
type Kind int

// Body AAD kinds.
const (
	Regular Kind = iota
	Final
	Single
)

var aadContent = [...]string{
	Regular: "AWSKMSEncryptionClient Frame",
	Final:   "AWSKMSEncryptionClient Final Frame",
	Single:  "AWSKMSEncryptionClient Single Block",
}

// AppendBodyAAD appends the body AAD of one frame (or of a non-framed body, seq 1)
// to dst: message ID, content string, sequence number, plaintext length.
func AppendBodyAAD(dst, messageID []byte, k Kind, seq uint32, length uint64) []byte {
	dst = append(dst, messageID...)
	dst = append(dst, aadContent[k]...)
	dst = binary.BigEndian.AppendUint32(dst, seq)
	return binary.BigEndian.AppendUint64(dst, length)
}

// FrameIV writes the IV keyport uses for frame seq into iv (12 bytes): the
// sequence number, big-endian, left-padded with zeros.
func FrameIV(iv []byte, seq uint32) {
	clear(iv[:suite.IVLen-4])
	binary.BigEndian.PutUint32(iv[suite.IVLen-4:], seq)
}

// FrameLayout is the position of a frame's parts within its serialized bytes.
type FrameLayout struct {
	Final   bool
	Seq     uint32
	IV      int // offset of the IV
	Content int // offset of the encrypted content
	Len     int // length of the content
	Size    int // length of the whole serialized frame
}

// ParseFrameHead parses the fixed part of a frame at the start of b (at least
// FinalOverhead-TagLen bytes, or all that is left). frameLen is the header's frame
// length. It returns the layout, or ok=false if b is too short to say, or an error
// for a malformed frame.
func ParseFrameHead(b []byte, frameLen uint32) (l FrameLayout, ok bool, err error) {
	if len(b) < 4 {
		return l, false, nil
	}
	seq := binary.BigEndian.Uint32(b)
	if seq != EndMarker {
		l = FrameLayout{Seq: seq, IV: 4, Content: 4 + suite.IVLen, Len: int(frameLen)}
		l.Size = RegularOverhead + int(frameLen)
		return l, true, nil
	}
	if len(b) < 4+4+suite.IVLen+4 {
		return l, false, nil
	}
	n := binary.BigEndian.Uint32(b[4+4+suite.IVLen:])
	if n > frameLen {
		return l, false, malformed("final frame content length %d exceeds the frame length %d", n, frameLen)
	}
	l = FrameLayout{Final: true, Seq: binary.BigEndian.Uint32(b[4:]), IV: 8, Content: 8 + suite.IVLen + 4, Len: int(n)}
	l.Size = FinalOverhead + int(n)
	return l, true, nil
}

// FinalHeadLen is the length of a final frame's fixed head (before its content).
const FinalHeadLen = 4 + 4 + suite.IVLen + 4

// AppendRegularHead appends a regular frame's sequence number and IV.
func AppendRegularHead(dst []byte, seq uint32) []byte {
	dst = binary.BigEndian.AppendUint32(dst, seq)
	var iv [suite.IVLen]byte
	FrameIV(iv[:], seq)
	return append(dst, iv[:]...)
}

// AppendFinalHead appends a final frame's end marker, sequence number, IV and
// content length.
func AppendFinalHead(dst []byte, seq uint32, n int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, EndMarker)
	dst = AppendRegularHead(dst, seq)
	return binary.BigEndian.AppendUint32(dst, uint32(n))
}

// AppendFooter appends the footer: two-byte signature length and the signature.
func AppendFooter(dst, sig []byte) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(sig)))
	return append(dst, sig...)
}
