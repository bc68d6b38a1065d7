package envelope

import (
	"context"
	"encoding/binary"
	"io"

	"github.com/keyport/keyport/envelope/internal/format"
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
	return appendDecrypt(ctx, dst, msg, &opts, nil)
}

// AppendDecryptInto is [AppendDecrypt] that describes the message in res, which
// the caller owns, instead of in a Result of its own: a caller that decrypts
// many messages in turn reuses one Result, and with it the room it keeps for the
// header, so that decrypting allocates nothing for the description. Every call
// overwrites res and what it refers to (its Header, the Header's message ID and
// encrypted data keys), whether it succeeds or not: copy what must outlive the
// next call. Only the encryption context map, which is the caller's own or made
// for the call, is never written to again. Two decryptions at once must not share
// a Result.
func AppendDecryptInto(ctx context.Context, dst, msg []byte, opts DecryptOptions, res *Result) ([]byte, error) {
	if res == nil {
		return dst, errArg("Decrypt", "nil Result")
	}
	out, _, err := appendDecrypt(ctx, dst, msg, &opts, res)
	if err != nil {
		*res = Result{room: res.room} // nothing of the last message, nor of a part of this one
	}
	return out, err
}

// appendDecrypt is AppendDecrypt describing the message in res (a new Result
// when nil).
func appendDecrypt(ctx context.Context, dst, msg []byte, opts *DecryptOptions, res *Result) ([]byte, *Result, error) {
	ds, err := newDecSession(opts, true, res)
	if err != nil {
		return dst, nil, err
	}
	defer ds.release()
	start, err := ds.parseBytes(msg, opts)
	if err != nil {
		return dst, nil, err
	}
	res, err = ds.open(ctx, opts)
	if err != nil {
		return dst, nil, err
	}
	sess, h := &ds.session, &ds.hdr
	w := workers(opts.Workers)
	// With workers, hash the body for the signature while the frames are opened:
	// all of it but the last bytes a footer can take, which are hashed once the
	// body's end is known.
	hashed, from := (chan struct{})(nil), start
	if sess.verifier != nil && w > 1 {
		from = max(start, len(msg)-(2+format.MaxField))
		hashed = make(chan struct{})
		go func() {
			defer close(hashed)
			sess.verifier.Write(msg[start:from])
		}()
	}
	var (
		out []byte
		end int
	)
	if h.ContentType == format.ContentNonFramed {
		out, end, err = sess.codec.AppendOpenNonFramed(dst, msg[start:])
	} else {
		out, end, err = sess.codec.AppendOpenFramed(ctx, dst, msg[start:], w)
	}
	end += start
	if hashed != nil {
		<-hashed
	}
	if err != nil {
		return dst, nil, err
	}
	if err := sess.checkFooter(msg, from, end); err != nil {
		clear(out[len(dst):])
		return dst, nil, err
	}
	return out, res, nil
}

// checkFooter verifies the footer at msg[end:] (none for unsigned suites) and
// that nothing follows it. The verifier has seen the header and the body up to
// msg[from:].
func (s *session) checkFooter(msg []byte, from, end int) error {
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
	if end < from { // unreachable: a footer holds at most 2+65535 bytes
		return errCiphertext("malformed footer")
	}
	s.verifier.Write(msg[from:end])
	if !s.verifier.Verify(rest[2:]) {
		return errCiphertext("signature verification failed")
	}
	return nil
}

// ParseHeader reads a message header from r (reading nothing past it) and
// returns it WITHOUT authenticating it: no key is used, so every field may have
// been forged. It serves to route a message (which keys wrapped its data key)
// and to inspect it; decrypt to trust it. maxEncryptedDataKeys rejects headers
// with more encrypted data keys (0: no limit). Malformed headers fail with
// backends.ErrInvalidCiphertext; errors of r itself come back unchanged.
func ParseHeader(r io.Reader, maxEncryptedDataKeys int) (*Header, error) {
	if maxEncryptedDataKeys < 0 {
		return nil, errArg("ParseHeader", "negative maxEncryptedDataKeys")
	}
	h, err := format.Parse(r, format.Limits{MaxEDKs: maxEncryptedDataKeys})
	if err != nil {
		return nil, err
	}
	return publicHeader(h), nil
}
