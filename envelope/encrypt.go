package envelope

import (
	"context"
	"slices"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/body"
	"github.com/keyport/keyport/envelope/internal/format"
)

// Encrypt encrypts plaintext into one message in the AWS Encryption SDK format:
// framed, message format v2 with a key-committing suite (0x0578 by default; see
// EncryptOptions). With opts.Workers > 1 the frames are sealed in parallel; the
// layout of the output does not depend on the number of workers.
func Encrypt(ctx context.Context, plaintext []byte, opts EncryptOptions) ([]byte, error) {
	return AppendEncrypt(ctx, nil, plaintext, opts)
}

// AppendEncrypt is Encrypt that appends the message to dst and returns the
// extended slice, so that a caller can reuse one buffer for many messages (as
// cipher.AEAD.Seal does). plaintext must not overlap dst's spare capacity. On
// error it returns nil.
func AppendEncrypt(ctx context.Context, dst, plaintext []byte, opts EncryptOptions) ([]byte, error) {
	es, err := newEncryptSession(ctx, &opts, "Encrypt", int64(len(plaintext)), true)
	if err != nil {
		return nil, err
	}
	defer es.release()
	sess := &es.session
	F := sess.frameLen
	nFrames := body.FrameCount(len(plaintext), F, true)
	if nFrames > format.MaxFrames {
		return nil, errArg("Encrypt", "plaintext needs %d frames of %d bytes, the format allows %d", nFrames, F, int64(format.MaxFrames))
	}
	hdrLen := sess.headerLen()
	size := hdrLen + body.SealedSize(len(plaintext), F, true)
	footer := 0
	if sess.signer != nil {
		footer = format.MaxFooter
	}
	base := len(dst)
	dst = slices.Grow(dst, size+footer)
	out := dst[base : base+size]
	sess.appendHeader(out[:0])
	C := body.FramesPerChunk(F)
	nChunks := (nFrames + C - 1) / C
	w := workers(opts.Workers)
	// With workers, a signed message is hashed chunk by chunk, in order, as the
	// chunks are sealed.
	var (
		sealed []chan struct{}
		quit   chan struct{}
		hashed chan struct{}
	)
	if sess.signer != nil && w > 1 && nChunks > 1 {
		sealed = make([]chan struct{}, nChunks)
		for i := range sealed {
			sealed[i] = make(chan struct{})
		}
		quit, hashed = make(chan struct{}), make(chan struct{})
		go func() {
			defer close(hashed)
			sess.signer.Write(out[:hdrLen])
			for i := range nChunks {
				select {
				case <-sealed[i]:
				case <-quit: // closed only when sealing failed
					return
				}
				from := hdrLen + i*C*(F+format.RegularOverhead)
				to := len(out)
				if i < nChunks-1 {
					to = from + C*(F+format.RegularOverhead)
				}
				sess.signer.Write(out[from:to])
			}
		}()
	}
	if nChunks == 1 { // a small message: no worker, no allocation
		if err = backends.ContextError(ctx, "Encrypt", ""); err == nil {
			sess.codec.SealFrames(out[hdrLen:], plaintext, 1, true, sess.codec.Scratch())
		}
	} else {
		err = body.Parallel(ctx, "Encrypt", w, nChunks, func(i int, scratch *[]byte) error {
			if sealed != nil {
				defer close(sealed[i])
			}
			first, end := i*C, min(nFrames, (i+1)*C)
			final := end == nFrames
			ptEnd := end * F
			if final {
				ptEnd = len(plaintext)
			}
			pt := plaintext[first*F : ptEnd]
			at := hdrLen + first*(F+format.RegularOverhead)
			*scratch = sess.codec.SealFrames(out[at:at+body.SealedSize(len(pt), F, final)], pt, uint32(first+1), final, *scratch)
			return nil
		})
	}
	if hashed != nil {
		if err != nil {
			close(quit)
		}
		<-hashed
	}
	if err != nil {
		return nil, err
	}
	if sess.signer != nil {
		if hashed == nil {
			sess.signer.Write(out)
		}
		sig, err := sess.signer.Sign()
		if err != nil {
			return nil, backends.Wrap(backends.ErrInternal, "Encrypt", "", err)
		}
		return dst[:base+len(format.AppendFooter(out, sig))], nil
	}
	return dst[:base+len(out)], nil
}
