package rewrap

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/format"
	"github.com/keyport/keyport/envelope/internal/suite"
)

// Header rewraps a message's data key without touching its body: it reads the
// header from r (no byte past it), unwraps the data key (opts.Source or
// opts.DataKey), checks it against the key commitment and the header
// authentication tag, and returns a new header with the same message ID, suite and
// frame length, the encrypted data keys of opts.Keep and opts.Destination, the new
// encryption context, and a new authentication tag. Because the data key and the
// message ID stay the same, the body's frames stay valid: the new message is
// res.Header followed by the old message from res.BodyOffset on. Storage that can
// splice never rereads the body.
//
// Signed suites (0x0578, 0x0214, 0x0346, 0x0378) sign the whole message: they are
// refused with ErrUnsupported; use Message.
//
// Security: the new header's tag is computed under the same AES-GCM key and the
// same header IV as the old one (the format fixes the IV). Whoever holds both the
// old and the new header of a message can solve for the GHASH key and forge tags
// for that message (its header, and its body frames by bit-flipping): delete or
// protect old copies of a rewrapped message, or decrypt and encrypt it again
// instead when old copies may leak.
func Header(ctx context.Context, r io.Reader, opts Options) (*Result, error) {
	res, err := prepare(ctx, r, &opts, "RewrapHeader", true)
	if err != nil {
		return nil, err
	}
	res.hdr = nil
	return res, nil
}

// Message rewraps the message read from r and writes the new message to w, as
// Header does. For unsigned suites the body is copied byte for byte, without being
// decrypted or checked (a damaged body stays damaged: the frames are authenticated
// when the new message is decrypted). For signed suites it makes a new signing key
// (a new "aws-crypto-public-key" in the context) and, streaming, checks the old
// signature over the old message while it signs the new one; the body is still
// copied byte for byte, and the new footer is written only if the old signature
// verifies (otherwise w has received a message without a footer, and the error
// matches ErrInvalidCiphertext). The security note of Header applies.
func Message(ctx context.Context, r io.Reader, w io.Writer, opts Options) (*Result, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	res, err := prepare(ctx, br, &opts, "Rewrap", false)
	if err != nil {
		return nil, err
	}
	n, err := w.Write(res.Header)
	res.Written = int64(n)
	if err != nil {
		return nil, err
	}
	if res.signer == nil {
		res.hdr = nil
		n, err := br.WriteTo(w)
		res.Written += n
		if err != nil {
			return nil, err
		}
		return res, nil
	}
	err = copySigned(ctx, br, w, res)
	// The signing key is not kept beyond the call.
	res.signer, res.verifier, res.hdr = nil, nil, nil
	if err != nil {
		return nil, err
	}
	return res, nil
}

// countWriter counts the bytes written to w.
type countWriter struct {
	w io.Writer
	n *int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// copySigned copies the body of a signed message from br to w, hashing it for the
// old signature and the new one, checks the old footer and writes the new one.
func copySigned(ctx context.Context, br *bufio.Reader, w io.Writer, res *Result) error {
	h := res.hdr
	mw := io.MultiWriter(countWriter{w, &res.Written}, res.verifier, res.signer)
	truncated := func(err error) error {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return errCiphertext("message truncated in the body")
		}
		return err
	}
	copyN := func(n int64) error {
		if _, err := io.CopyN(mw, br, n); err != nil {
			return truncated(err)
		}
		return nil
	}
	if h.ContentType == format.ContentNonFramed {
		head, err := br.Peek(suite.IVLen + 8)
		if err != nil {
			return truncated(err)
		}
		n := binary.BigEndian.Uint64(head[suite.IVLen:])
		if n > format.MaxNonFramed {
			return errCiphertext("non-framed content length %d exceeds the limit", n)
		}
		if err := copyN(int64(suite.IVLen+8) + int64(n) + suite.TagLen); err != nil {
			return err
		}
	} else {
		for seq := uint32(1); ; seq++ {
			if seq%256 == 0 {
				if err := backends.ContextError(ctx, "Rewrap", ""); err != nil {
					return err
				}
			}
			head, err := br.Peek(format.FinalHeadLen)
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			l, ok, perr := format.ParseFrameHead(head, h.FrameLength)
			if perr != nil {
				return perr
			}
			if !ok {
				return errCiphertext("message truncated in the body")
			}
			if l.Seq != seq {
				return errCiphertext("frame %d found where frame %d belongs", l.Seq, seq)
			}
			if err := copyN(int64(l.Size)); err != nil {
				return err
			}
			if l.Final {
				break
			}
			if seq == format.EndMarker-1 {
				return errCiphertext("too many frames")
			}
		}
	}
	var lb [2]byte
	if _, err := io.ReadFull(br, lb[:]); err != nil {
		return truncated(err)
	}
	sig := make([]byte, binary.BigEndian.Uint16(lb[:]))
	if _, err := io.ReadFull(br, sig); err != nil {
		return truncated(err)
	}
	if _, err := br.ReadByte(); err == nil {
		return errCiphertext("bytes after the message's footer")
	} else if !errors.Is(err, io.EOF) {
		return err
	}
	if !res.verifier.Verify(sig) {
		return errCiphertext("the message's signature does not verify")
	}
	newSig, err := res.signer.Sign()
	if err != nil {
		return backends.Wrap(backends.ErrInternal, "Rewrap", "", err)
	}
	n, err := w.Write(format.AppendFooter(nil, newSig))
	res.Written += int64(n)
	return err
}
