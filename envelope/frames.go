package envelope

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/format"
	"github.com/keyport/keyport/envelope/internal/suite"
)

// frameCount returns the number of frames n plaintext bytes take when they end
// the message (final) or not: a final run holds at least one frame (the final
// frame, which may be full); a non-final run holds only full regular frames.
func frameCount(n, frameLen int, final bool) int {
	if !final {
		return n / frameLen
	}
	if n == 0 {
		return 1
	}
	return (n + frameLen - 1) / frameLen
}

// sealedSize returns the serialized size of n plaintext bytes as frames.
func sealedSize(n, frameLen int, final bool) int {
	k := frameCount(n, frameLen, final)
	if !final {
		return k * (frameLen + format.RegularOverhead)
	}
	last := n - (k-1)*frameLen
	return (k-1)*(frameLen+format.RegularOverhead) + format.FinalOverhead + last
}

// sealFrames seals pt as frames numbered from seq into dst, which must have
// exactly sealedSize(len(pt), frameLen, final) bytes. aad is scratch space; the
// (possibly grown) scratch is returned.
func (s *session) sealFrames(dst, pt []byte, seq uint32, final bool, aad []byte) []byte {
	F := s.frameLen
	k := frameCount(len(pt), F, final)
	id := s.hdr.MessageID
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
		aad = format.AppendBodyAAD(aad[:0], id, kind, seq, uint64(len(chunk)))
		out = s.aead.Seal(out, iv, chunk, aad)
		seq++
	}
	return aad
}

// openFrame authenticates and decrypts one serialized frame fr (laid out as l)
// into dst (len(dst) >= l.Len). The caller has checked l.Seq.
func (s *session) openFrame(dst, fr []byte, l format.FrameLayout, aad []byte) ([]byte, error) {
	kind := format.Regular
	if l.Final {
		kind = format.Final
	}
	aad = format.AppendBodyAAD(aad[:0], s.hdr.MessageID, kind, l.Seq, uint64(l.Len))
	iv := fr[l.IV : l.IV+suite.IVLen]
	if _, err := s.aead.Open(dst[:0], iv, fr[l.Content:l.Content+l.Len+suite.TagLen], aad); err != nil {
		return aad, errCiphertext("frame %d failed authentication", l.Seq)
	}
	return aad, nil
}

// parallel runs work(i) for i in [0, n) on w goroutines (inline when w <= 1 or
// n <= 1), stopping early at the first error or when ctx ends, and returns the
// first error.
func parallel(ctx context.Context, op string, w, n int, work func(i int, scratch *[]byte) error) error {
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
