package body

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/format"
	"github.com/keyport/keyport/envelope/internal/suite"
)

// Reader reads the body of a message from a stream a batch of frames at a
// time, each batch with one read straight into its buffer (the frame layout
// says how many bytes a batch of regular frames takes), and checks the order of
// the frames and the end of the message: the footer and its signature (signed
// suites) and that nothing follows. It is used by one goroutine at a time.
type Reader struct {
	br          *bufio.Reader
	frameLen    int
	nonFramed   bool
	batchFrames int
	batchBytes  int             // the bytes of a batch of regular frames
	verifier    *suite.Verifier // signed suites: it has seen the header
	nextSeq     uint64
	eof         bool // the input has ended
}

// NewReader returns a Reader of the body that follows the header read from
// br: framed with frames of frameLen bytes, batchFrames of them a batch, or
// nonFramed. verifier is nil for unsigned suites.
func NewReader(br *bufio.Reader, frameLen int, nonFramed bool, batchFrames int, verifier *suite.Verifier) *Reader {
	r := &Reader{br: br, frameLen: frameLen, nonFramed: nonFramed, batchFrames: batchFrames, verifier: verifier, nextSeq: 1}
	if !nonFramed {
		r.batchBytes = batchFrames * (frameLen + format.RegularOverhead)
	}
	return r
}

// BatchBytes is the size of a batch of regular frames: batch k of a framed body
// starts k*BatchBytes bytes into it.
func (r *Reader) BatchBytes() int { return r.batchBytes }

// AtBatch returns a Reader of the same body that starts at its batch k (its
// first frame is number k*batchFrames+1) and reads from br, which must be
// positioned there: so that several goroutines can each read a batch of their
// own from an io.ReaderAt. It is for unsigned suites only (a signature covers
// the body in order); it panics if r has a verifier.
func (r *Reader) AtBatch(br *bufio.Reader, k int) Reader {
	if r.verifier != nil || r.nonFramed {
		panic("body: AtBatch of a signed or non-framed body")
	}
	c := *r
	c.br, c.nextSeq, c.eof = br, uint64(k)*uint64(r.batchFrames)+1, false
	return c
}

// Batch is a run of serialized frames (Buf) and, once opened, their plaintext
// (Out, one piece).
type Batch struct {
	Buf, Out []byte
	// Last says the batch ends the body: the message is complete and checked.
	Last   bool
	frames []frameAt
	aad    []byte
}

// frameAt is a frame of a batch: its layout, at an offset of Buf.
type frameAt struct {
	at int
	l  format.FrameLayout
}

// readUpTo appends up to n bytes of the input to dst, growing dst only as bytes
// arrive (a forged length costs no more memory than the bytes sent); it stops
// early only at the end of the input, which it records.
func (r *Reader) readUpTo(dst []byte, n int) ([]byte, error) {
	for n > 0 && !r.eof {
		step := n
		if room := cap(dst) - len(dst); room < step {
			step = min(n, max(room, 1<<20))
			dst = slices.Grow(dst, step)
		}
		start := len(dst)
		m, err := io.ReadFull(r.br, dst[start:start+step])
		dst = dst[:start+m]
		n -= m
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			r.eof = true
		} else if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// need makes sure b holds at least n bytes, reading what is missing.
func (r *Reader) need(b *Batch, n int, what string) error {
	if len(b.Buf) >= n {
		return nil
	}
	var err error
	if b.Buf, err = r.readUpTo(b.Buf, n-len(b.Buf)); err != nil {
		return err
	}
	if len(b.Buf) < n {
		return errCiphertext("truncated in %s", what)
	}
	return nil
}

// Fill reads the next batch of frames into b: a batch of regular frames in one
// read, or the frames up to the final frame (then the footer, the signature and
// the end of the input are checked, and b.Last is set). Errors of the reader
// come back as they are.
func (r *Reader) Fill(ctx context.Context, b *Batch) error {
	b.Buf, b.frames, b.Last = b.Buf[:0], b.frames[:0], false
	if err := backends.ContextError(ctx, "Decrypt", ""); err != nil {
		return err
	}
	if r.nonFramed {
		const head = suite.IVLen + 8
		if err := r.need(b, head, "the body"); err != nil {
			return err
		}
		n := binary.BigEndian.Uint64(b.Buf[suite.IVLen:])
		if n > format.MaxNonFramed {
			return errCiphertext("non-framed content length %d too large", n)
		}
		size := head + int(n) + suite.TagLen
		if err := r.need(b, size, "the body"); err != nil {
			return err
		}
		b.frames = append(b.frames, frameAt{l: format.FrameLayout{Seq: 1, Content: head, Len: int(n), Size: size}})
		return r.finish(b, size)
	}
	if cap(b.Buf) == 0 && r.batchBytes <= 4<<20 {
		// Room for a final frame that ends the batch, and the footer.
		b.Buf = GetBuf(r.batchBytes + format.FinalOverhead + format.MaxFooter)
	}
	var err error
	if b.Buf, err = r.readUpTo(b.Buf, r.batchBytes); err != nil {
		return err
	}
	p := 0
	for len(b.frames) < r.batchFrames {
		if err := r.need(b, p+4, "the body"); err != nil {
			return err
		}
		if binary.BigEndian.Uint32(b.Buf[p:]) == format.EndMarker {
			if err := r.need(b, p+format.FinalHeadLen, "the final frame"); err != nil {
				return err
			}
		}
		l, ok, err := format.ParseFrameHead(b.Buf[p:], uint32(r.frameLen))
		if err != nil {
			return err
		}
		if !ok {
			return errCiphertext("malformed frame")
		}
		if uint64(l.Seq) != r.nextSeq {
			return errCiphertext("frame %d found where frame %d belongs", l.Seq, r.nextSeq)
		}
		if err := r.need(b, p+l.Size, "frame"); err != nil {
			return err
		}
		r.nextSeq++
		b.frames = append(b.frames, frameAt{at: p, l: l})
		p += l.Size
		if l.Final {
			return r.finish(b, p)
		}
	}
	// A whole batch of regular frames: exactly what was read.
	if p != len(b.Buf) {
		return backends.Errorf(backends.ErrInternal, "Decrypt", "", "batch of %d bytes holds %d bytes of frames", len(b.Buf), p)
	}
	if r.verifier != nil {
		r.verifier.Write(b.Buf)
	}
	return nil
}

// finish completes the batch that ends the body at b.Buf[:end]: the footer and
// the signature (signed suites), and the end of the input.
func (r *Reader) finish(b *Batch, end int) error {
	b.Last = true
	rest := end
	if v := r.verifier; v != nil {
		v.Write(b.Buf[:end])
		if err := r.need(b, end+2, "the footer"); err != nil {
			return err
		}
		rest = end + 2 + int(binary.BigEndian.Uint16(b.Buf[end:]))
		if err := r.need(b, rest, "the footer"); err != nil {
			return err
		}
		if !v.Verify(b.Buf[end+2 : rest]) {
			return errCiphertext("signature verification failed")
		}
	}
	if len(b.Buf) > rest {
		return errCiphertext("bytes after the end of the message")
	}
	if !r.eof {
		if _, err := r.br.ReadByte(); err == nil {
			return errCiphertext("bytes after the end of the message")
		} else if err != io.EOF {
			return err
		}
		r.eof = true
	}
	b.Buf = b.Buf[:end]
	return nil
}

// OpenBatch authenticates and decrypts every frame of b (read by a Reader of a
// body in c's message) into b.Out, one piece of plaintext. On error b.Out holds
// nothing.
func (c *Codec) OpenBatch(b *Batch, nonFramed bool) error {
	n := 0
	for _, f := range b.frames {
		n += f.l.Len
	}
	if cap(b.Out) < n {
		b.Out = GetBuf(n)
	}
	b.Out = b.Out[:n]
	var err error
	if nonFramed {
		if b.aad, err = c.OpenSingle(b.Out, b.Buf, b.aad); err != nil {
			clear(b.Out)
		}
		return err
	}
	pos := 0
	for _, f := range b.frames {
		if b.aad, err = c.OpenFrame(b.Out[pos:], b.Buf[f.at:f.at+f.l.Size], f.l, b.aad); err != nil {
			clear(b.Out)
			return err
		}
		pos += f.l.Len
	}
	return nil
}
