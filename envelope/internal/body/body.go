// Package body seals and opens the body of a message: framed (regular frames and
// the final frame) and non-framed, one frame at a time or on several workers.
// Nothing here knows about keys or keyrings: a Codec holds the derived AES-GCM
// key, the message ID and the frame length.
package body

import (
	"context"
	"crypto/cipher"
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/format"
	"github.com/keyport/keyport/envelope/internal/suite"
)

// ChunkBytes is the plaintext a worker takes at a time (whole frames, at least one).
const ChunkBytes = 256 << 10

// FramesPerChunk returns how many frames of frameLen make one unit of work.
func FramesPerChunk(frameLen int) int {
	return max(1, ChunkBytes/frameLen)
}

func errCiphertext(format string, args ...any) error {
	return backends.Errorf(backends.ErrInvalidCiphertext, "Decrypt", "", format, args...)
}

// Codec seals and opens the frames of one message.
type Codec struct {
	AEAD      cipher.AEAD
	MessageID []byte
	FrameLen  int

	scratch [128]byte // a frame's AAD (at most 32+34+4+8 bytes); see Scratch
}

// Scratch returns an empty buffer, held by c, with room for a frame's AAD: the
// scratch of the one goroutine that works on a small message (Parallel gives
// each of its workers its own).
func (c *Codec) Scratch() []byte { return c.scratch[:0] }

// FrameCount returns the number of frames n plaintext bytes take when they end
// the message (final) or not: a final run holds at least one frame (the final
// frame, which may be full); a non-final run holds only full regular frames.
func FrameCount(n, frameLen int, final bool) int {
	if !final {
		return n / frameLen
	}
	if n == 0 {
		return 1
	}
	return (n + frameLen - 1) / frameLen
}

// SealedSize returns the serialized size of n plaintext bytes as frames.
func SealedSize(n, frameLen int, final bool) int {
	k := FrameCount(n, frameLen, final)
	if !final {
		return k * (frameLen + format.RegularOverhead)
	}
	last := n - (k-1)*frameLen
	return (k-1)*(frameLen+format.RegularOverhead) + format.FinalOverhead + last
}

// SealFrames seals pt as frames numbered from seq into dst, which must have
// exactly SealedSize(len(pt), FrameLen, final) bytes. aad is scratch space; the
// (possibly grown) scratch is returned.
func (c *Codec) SealFrames(dst, pt []byte, seq uint32, final bool, aad []byte) []byte {
	F := c.FrameLen
	k := FrameCount(len(pt), F, final)
	out := dst[:0]
	for i := 0; i < k; i++ {
		chunk := pt[i*F : min((i+1)*F, len(pt))]
		var iv []byte
		kind := format.Regular
		if final && i == k-1 {
			kind = format.Final
			out = format.AppendFinalHead(out, seq, len(chunk))
			iv = out[len(out)-4-suite.IVLen : len(out)-4]
		} else {
			out = format.AppendRegularHead(out, seq)
			iv = out[len(out)-suite.IVLen:]
		}
		aad = format.AppendBodyAAD(aad[:0], c.MessageID, kind, seq, uint64(len(chunk)))
		out = c.AEAD.Seal(out, iv, chunk, aad)
		seq++
	}
	return aad
}

// OpenFrame authenticates and decrypts one serialized frame fr (laid out as l)
// into dst (len(dst) >= l.Len). The caller has checked l.Seq.
func (c *Codec) OpenFrame(dst, fr []byte, l format.FrameLayout, aad []byte) ([]byte, error) {
	kind := format.Regular
	if l.Final {
		kind = format.Final
	}
	aad = format.AppendBodyAAD(aad[:0], c.MessageID, kind, l.Seq, uint64(l.Len))
	iv := fr[l.IV : l.IV+suite.IVLen]
	if _, err := c.AEAD.Open(dst[:0], iv, fr[l.Content:l.Content+l.Len+suite.TagLen], aad); err != nil {
		return aad, errCiphertext("frame %d failed authentication", l.Seq)
	}
	return aad, nil
}

// OpenSingle authenticates and decrypts a whole non-framed body b (IV, length,
// content, tag) into dst (len(dst) >= the content length).
func (c *Codec) OpenSingle(dst, b []byte, aad []byte) ([]byte, error) {
	n := binary.BigEndian.Uint64(b[suite.IVLen:])
	aad = format.AppendBodyAAD(aad[:0], c.MessageID, format.Single, 1, n)
	if _, err := c.AEAD.Open(dst[:0], b[:suite.IVLen], b[suite.IVLen+8:], aad); err != nil {
		return aad, errCiphertext("body failed authentication")
	}
	return aad, nil
}

// AppendOpenNonFramed opens the non-framed body at the start of b, appends the
// plaintext to dst, and returns it and the body's length.
func (c *Codec) AppendOpenNonFramed(dst, b []byte) ([]byte, int, error) {
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
	base := len(dst)
	dst = slices.Grow(dst, int(n))
	if _, err := c.OpenSingle(dst[base:base+int(n)], b[:size], nil); err != nil {
		return nil, 0, err
	}
	return dst[:base+int(n)], size, nil
}

// AppendOpenFramed scans the frames at the start of b, checks their sequence,
// opens them on w workers, appends the plaintext to dst, and returns it and the
// body's length. On error nothing is left past len(dst).
func (c *Codec) AppendOpenFramed(ctx context.Context, dst, b []byte, w int) ([]byte, int, error) {
	F := c.FrameLen
	stride := F + format.RegularOverhead
	p, n := 0, 0 // offset, regular frames
	for {
		if len(b)-p < 4 {
			return nil, 0, errCiphertext("truncated in the body")
		}
		seq := binary.BigEndian.Uint32(b[p:])
		if seq == format.EndMarker {
			break
		}
		if seq != uint32(n+1) {
			return nil, 0, errCiphertext("frame %d found where frame %d belongs", seq, n+1)
		}
		if len(b)-p < stride {
			return nil, 0, errCiphertext("truncated in frame %d", seq)
		}
		p += stride
		n++
	}
	fl, ok, err := format.ParseFrameHead(b[p:], uint32(F))
	if err != nil {
		return nil, 0, err
	}
	if !ok || len(b)-p < fl.Size {
		return nil, 0, errCiphertext("truncated in the final frame")
	}
	if uint64(fl.Seq) != uint64(n)+1 {
		return nil, 0, errCiphertext("final frame numbered %d, expected %d", fl.Seq, n+1)
	}
	final := b[p : p+fl.Size]
	base := len(dst)
	dst = slices.Grow(dst, n*F+fl.Len)
	pt := dst[base : base+n*F+fl.Len]
	C := FramesPerChunk(F)
	job := openJob{c: c, b: b, pt: pt, final: final, fl: fl, n: n, c1: C, nChunks: n/C + 1} // the last chunk holds the final frame
	if job.nChunks == 1 {                                                                   // a small message: no worker, no allocation
		scratch := c.Scratch()
		if err = backends.ContextError(ctx, "Decrypt", ""); err == nil {
			err = job.run(0, &scratch)
		}
	} else {
		pj := job
		err = Parallel(ctx, "Decrypt", w, job.nChunks, pj.run)
	}
	if err != nil {
		clear(pt)
		return nil, 0, err
	}
	return dst[:base+len(pt)], p + fl.Size, nil
}

// openJob opens the frames of one message body, a chunk at a time.
type openJob struct {
	c       *Codec
	b, pt   []byte // the body and the plaintext
	final   []byte // the final frame
	fl      format.FrameLayout
	n       int // regular frames
	c1      int // frames per chunk
	nChunks int
}

// run opens chunk i: its regular frames and, for the last chunk, the final frame.
func (j *openJob) run(i int, scratch *[]byte) error {
	c, F := j.c, j.c.FrameLen
	stride := F + format.RegularOverhead
	var err error
	for k := i * j.c1; k < min(j.n, (i+1)*j.c1); k++ {
		fr := j.b[k*stride : (k+1)*stride]
		l := format.FrameLayout{Seq: uint32(k + 1), IV: 4, Content: 4 + suite.IVLen, Len: F, Size: stride}
		if *scratch, err = c.OpenFrame(j.pt[k*F:], fr, l, *scratch); err != nil {
			return err
		}
	}
	if i == j.nChunks-1 {
		*scratch, err = c.OpenFrame(j.pt[j.n*F:], j.final, j.fl, *scratch)
	}
	return err
}

// Parallel runs work(i) for i in [0, n) on w goroutines (inline when w <= 1 or
// n <= 1), stopping early at the first error or when ctx ends, and returns the
// first error. Each goroutine has its own scratch buffer.
func Parallel(ctx context.Context, op string, w, n int, work func(i int, scratch *[]byte) error) error {
	if w > n {
		w = n
	}
	if w <= 1 {
		var scratch []byte
		for i := 0; i < n; i++ {
			if i%64 == 0 {
				if err := backends.ContextError(ctx, op, ""); err != nil {
					return err
				}
			}
			if err := work(i, &scratch); err != nil {
				return err
			}
		}
		return nil
	}
	var (
		next    atomic.Int64
		failed  atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { first = err })
		failed.Store(true)
	}
	for range w {
		wg.Go(func() {
			var scratch []byte
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := backends.ContextError(ctx, op, ""); err != nil {
					fail(err)
					return
				}
				if err := work(i, &scratch); err != nil {
					fail(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
