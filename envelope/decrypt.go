package envelope

import (
	"bytes"
	"context"
	"encoding/binary"
	"slices"

	"github.com/keyport/keyport/envelope/internal/format"
	"github.com/keyport/keyport/envelope/internal/suite"
)

// Decrypt authenticates and decrypts a whole message of any of the eleven suites
// (as the commitment policy allows), framed or not, and returns the plaintext and
// what the message was bound to. On any error it returns no plaintext. Messages
// with trailing bytes after their end are rejected.
func Decrypt(ctx context.Context, msg []byte, opts DecryptOptions) ([]byte, *Result, error) {
	pt, res, err := AppendDecrypt(ctx, nil, msg, opts)
	if err != nil {
		return nil, nil, err
	}
	if pt == nil {
		pt = []byte{}
	}
	return pt, res, nil
}

// AppendDecrypt is Decrypt that appends the plaintext to dst and returns the
// extended slice, so that a caller can reuse one buffer (as cipher.AEAD.Open
// does). msg must not overlap dst's spare capacity. On error it returns dst
// unchanged, with nothing written past its length left in place.
func AppendDecrypt(ctx context.Context, dst, msg []byte, opts DecryptOptions) ([]byte, *Result, error) {
	rd := bytes.NewReader(msg)
	h, err := parseHeader(rd, &opts)
	if err != nil {
		return dst, nil, err
	}
	sess, res, err := newDecryptSession(ctx, h, &opts)
	if err != nil {
		return dst, nil, err
	}
	start := len(msg) - rd.Len()
	var (
		out []byte
		end int
	)
	if h.ContentType == format.ContentNonFramed {
		out, end, err = sess.openNonFramed(dst, msg, start)
	} else {
		out, end, err = sess.openFramed(ctx, dst, msg, start, workers(opts.Workers))
	}
	if err != nil {
		return dst, nil, err
	}
	if err := sess.checkFooter(msg, end); err != nil {
		clear(out[len(dst):])
		return dst, nil, err
	}
	return out, res, nil
}

// checkFooter verifies the footer at msg[end:] (none for unsigned suites) and
// that nothing follows it. The verifier has seen the header already.
func (s *session) checkFooter(msg []byte, end int) error {
	rest := msg[end:]
	if s.verifier == nil {
		if len(rest) != 0 {
			return errCiphertext("%d bytes after the end of the message", len(rest))
		}
		return nil
	}
	if len(rest) < 2 {
		return errCiphertext("truncated: footer missing")
	}
	n := int(binary.BigEndian.Uint16(rest))
	if len(rest)-2 < n {
		return errCiphertext("truncated in the footer")
	}
	if len(rest)-2 > n {
		return errCiphertext("%d bytes after the end of the message", len(rest)-2-n)
	}
	s.verifier.Write(msg[s.hdrEnd():end])
	if !s.verifier.Verify(rest[2:]) {
		return errCiphertext("signature verification failed")
	}
	return nil
}

// hdrEnd is the serialized header's length.
func (s *session) hdrEnd() int {
	return len(s.hdr.Body) + len(s.hdr.AuthIV) + len(s.hdr.AuthTag)
}

// openNonFramed opens the single block of a non-framed body at msg[start:].
func (s *session) openNonFramed(dst, msg []byte, start int) ([]byte, int, error) {
	b := msg[start:]
	if len(b) < suite.IVLen+8 {
		return nil, 0, errCiphertext("truncated in the body")
	}
	n := binary.BigEndian.Uint64(b[suite.IVLen:])
	if n > format.MaxNonFramed {
		return nil, 0, errCiphertext("non-framed content length %d too large", n)
	}
	size := format.NonFramedOverhead + int(n)
	if len(b) < size {
		return nil, 0, errCiphertext("truncated in the body")
	}
	aad := format.AppendBodyAAD(nil, s.hdr.MessageID, format.Single, 1, n)
	base := len(dst)
	dst = slices.Grow(dst, int(n))
	if _, err := s.aead.Open(dst[base:base], b[:suite.IVLen], b[suite.IVLen+8:size], aad); err != nil {
		return nil, 0, errCiphertext("body failed authentication")
	}
	return dst[:base+int(n)], start + size, nil
}

// openFramed scans the frames of the body at msg[start:], checks their sequence,
// and opens them on w workers.
func (s *session) openFramed(ctx context.Context, dst, msg []byte, start, w int) ([]byte, int, error) {
	F := s.frameLen
	stride := F + format.RegularOverhead
	body := msg[start:]
	p, n := 0, 0 // offset, regular frames
	for {
		if len(body)-p < 4 {
			return nil, 0, errCiphertext("truncated in the body")
		}
		seq := binary.BigEndian.Uint32(body[p:])
		if seq == format.EndMarker {
			break
		}
		if seq != uint32(n+1) {
			return nil, 0, errCiphertext("frame %d found where frame %d belongs", seq, n+1)
		}
		if len(body)-p < stride {
			return nil, 0, errCiphertext("truncated in frame %d", seq)
		}
		p += stride
		n++
	}
	fl, ok, err := format.ParseFrameHead(body[p:], uint32(F))
	if err != nil {
		return nil, 0, err
	}
	if !ok || len(body)-p < fl.Size {
		return nil, 0, errCiphertext("truncated in the final frame")
	}
	if uint64(fl.Seq) != uint64(n)+1 {
		return nil, 0, errCiphertext("final frame numbered %d, expected %d", fl.Seq, n+1)
	}
	final := body[p : p+fl.Size]
	base := len(dst)
	dst = slices.Grow(dst, n*F+fl.Len)
	pt := dst[base : base+n*F+fl.Len]
	C := framesPerChunk(F)
	nChunks := n/C + 1 // the last chunk holds the final frame
	err = parallel(ctx, "Decrypt", w, nChunks, func(i int, scratch *[]byte) error {
		var err error
		for j := i * C; j < min(n, (i+1)*C); j++ {
			fr := body[j*stride : (j+1)*stride]
			l := format.FrameLayout{Seq: uint32(j + 1), IV: 4, Content: 4 + suite.IVLen, Len: F, Size: stride}
			if *scratch, err = s.openFrame(pt[j*F:], fr, l, *scratch); err != nil {
				return err
			}
		}
		if i == nChunks-1 {
			*scratch, err = s.openFrame(pt[n*F:], final, fl, *scratch)
		}
		return err
	})
	if err != nil {
		clear(pt)
		return nil, 0, err
	}
	return dst[:base+len(pt)], start + p + fl.Size, nil
}
