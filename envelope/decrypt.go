package envelope

import (
	"bytes"
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
		out, end, err = sess.codec.AppendOpenNonFramed(dst, msg[start:])
	} else {
		out, end, err = sess.codec.AppendOpenFramed(ctx, dst, msg[start:], workers(opts.Workers))
	}
	end += start
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
