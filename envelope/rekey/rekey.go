// Package rekey re-encrypts envelope messages under other keys: it unwraps a
// message's data key through a source (a keyring, or keys a [backends.Front]
// reaches) and either reseals the message under a new data key for the
// destination ([Reseal], the default: safe whatever old copies exist) or rewraps
// the same data key and copies the body byte for byte ([Rewrap]: many times
// faster, read its security note). Ciphertext blobs of a key service are
// re-encrypted by package reencrypt instead.
package rekey

import (
	"bytes"
	"context"
	"io"
	"slices"
	"strings"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/envelope/rewrap"
)

// msgOp is the operation the errors of message re-encryption name.
const msgOp = "ReEncryptMessage"

// Mode says what happens to the encrypted data keys of a re-encrypted message.
type Mode int

// Modes. The zero value is Replace.
const (
	// Replace drops every encrypted data key of the message; the destination's
	// keys take their place.
	Replace Mode = iota
	// Add keeps every encrypted data key and adds the destination's. The
	// encryption context must stay the same, and the suite must be unsigned
	// (the kept keys are bound to the old context).
	Add
	// Remove drops the encrypted data keys that RemoveKeyIDs names and keeps the
	// others; a destination, if any, adds its keys. The same limits as Add apply.
	Remove
)

// Method says how a message is re-encrypted.
type Method int

// Methods. The zero value is Reseal.
const (
	// Reseal decrypts the message and encrypts it again under a new data key and
	// message ID (Replace mode only). It costs a decryption and an encryption of
	// the body, and is safe whatever old copies of the message exist. The suite
	// stays (a non-committing suite becomes envelope.DefaultSuite) and so does the
	// frame length (a non-framed message becomes framed with
	// envelope.DefaultFrameLength). The destination must be able to make a data
	// key: a Destination keyring with a generator, or DestinationKeyIDs, the
	// first of which generates it. Signed suites release their last frame only
	// after the old signature verifies, but w may already have received the new
	// message's start when an error is returned.
	Reseal Method = iota
	// Rewrap keeps the data key and the message ID: it rewraps the data key,
	// rewrites the header with a new authentication tag, and copies the body
	// frames byte for byte (a signed suite gets a new signature). It is many
	// times faster than Reseal, and the header-only form never rereads the body.
	//
	// Security: the new header's tag is computed under the same AES-GCM key and
	// the same (fixed) header IV as the old one. Whoever holds both the old and
	// the new header of a message can solve for the GCM authentication key and
	// then forge that message's header and body frames. Use Rewrap only where the
	// old copies of a message are destroyed or as well protected as the new
	// one (see rewrap.Header); otherwise use Reseal.
	Rewrap
)

// Options configure [Message] and [Header].
//
// The source and the destination are keyrings, or keys that Front reaches:
//   - Source, if set, unwraps the data key. Otherwise, with SourceKeyIDs, a strict
//     keyring over those keys of Front does (the allow-list); with neither, a
//     discovery keyring over Front tries every key the header names.
//   - Destination, if set, wraps the data key for the new header. Otherwise each
//     key of DestinationKeyIDs (through Front) wraps it.
//
// The data key is unwrapped into this process, so the source keys need
// kms:Decrypt (and the destination keys kms:Encrypt or kms:GenerateDataKey), as
// with any envelope decryption and encryption.
type Options struct {
	Source       envelope.Keyring
	Destination  envelope.Keyring
	Front        *backends.Front
	SourceKeyIDs []string
	// DestinationKeyIDs are the keys the data key is wrapped for when Destination
	// is nil.
	DestinationKeyIDs []string
	GrantTokens       []string

	// SourceEncryptionContext reproduces the message's context: the pairs stored
	// in the header may be given (they must match) and the required pairs must be.
	SourceEncryptionContext map[string]string
	// DestinationEncryptionContext, if not nil, replaces the context; nil keeps it.
	DestinationEncryptionContext map[string]string
	// RequiredEncryptionContextKeys are keys of DestinationEncryptionContext whose
	// pairs are authenticated but not stored.
	RequiredEncryptionContextKeys []string

	Mode Mode
	// RemoveKeyIDs names, for Remove, the keys whose encrypted data keys are
	// dropped: an encrypted data key goes when its provider info names one of
	// them (the key ARN or URI of backend keyrings, the key name of raw RSA and
	// raw AES keyrings). Naming a key the message does not have is not an error.
	RemoveKeyIDs []string

	// CommitmentPolicy decides which suites may be read.
	CommitmentPolicy envelope.CommitmentPolicy
	// MaxEncryptedDataKeys bounds the old and the new header's encrypted data
	// keys; 0 means no limit.
	MaxEncryptedDataKeys int

	// Method says how the message is re-encrypted: Reseal (the default) or
	// Rewrap. Header needs Rewrap.
	Method Method
}

// Output describes a re-encrypted message. With Reseal only Written, Suite
// and EncryptionContext (without the signing key) are set.
type Output struct {
	// Header is the new header.
	Header []byte
	// BodyOffset is where the body starts in the old message: for an unsigned
	// suite the new message is Header followed by the old message from there on.
	BodyOffset int64
	// Written is the number of bytes Message wrote (0 for the header form).
	Written int64
	// Suite is the message's algorithm suite.
	Suite envelope.SuiteID
	// EncryptionContext is the new message's whole context (stored and required
	// pairs, and the new signing key of signed suites).
	EncryptionContext map[string]string
	// EncryptedDataKeys are those of the new header.
	EncryptedDataKeys []envelope.EncryptedDataKey
}

// Message re-encrypts an envelope message read from r and writes it to w:
// it unwraps the data key through the source and, by opts.Method, either encrypts
// the message again under a new data key wrapped for the destination (Reseal, the
// default), or wraps the same data key for the destination (replacing, adding or
// removing encrypted data keys), optionally changes the encryption context,
// recomputes the header authentication tag and copies the body frames byte for
// byte (Rewrap; read its security note). A signed suite gets a new signing key and
// a new signature, computed while the body streams through, and only once the old
// signature has verified. The data key is wiped when done.
func Message(ctx context.Context, r io.Reader, w io.Writer, opts Options) (*Output, error) {
	switch opts.Method {
	case Reseal:
		return reseal(ctx, r, w, &opts)
	case Rewrap:
	default:
		return nil, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "unknown method %d", opts.Method)
	}
	ro, err := rewrapOptions(&opts)
	if err != nil {
		return nil, err
	}
	res, err := rewrap.Message(ctx, r, w, ro)
	if err != nil {
		return nil, err
	}
	return output(res), nil
}

// Header is the header-only form of [Message] with Method [Rewrap], for unsigned suites: it reads only the header from r and returns the new
// header and the offset where the unchanged body starts in the old message, so
// that storage which can splice never rereads the body. opts.Method must be Rewrap
// (read its security note). Signed suites fail with backends.ErrUnsupported (their
// signature covers the body).
func Header(ctx context.Context, r io.Reader, opts Options) (*Output, error) {
	if opts.Method != Rewrap {
		return nil, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "the header-only form keeps the data key: it needs Method Rewrap (read its security note)")
	}
	ro, err := rewrapOptions(&opts)
	if err != nil {
		return nil, err
	}
	res, err := rewrap.Header(ctx, r, ro)
	if err != nil {
		return nil, err
	}
	return output(res), nil
}

func output(res *rewrap.Result) *Output {
	return &Output{
		Header:            res.Header,
		BodyOffset:        res.BodyOffset,
		Written:           res.Written,
		Suite:             res.Suite,
		EncryptionContext: res.EncryptionContext,
		EncryptedDataKeys: res.EncryptedDataKeys,
	}
}

// reseal decrypts the message from r and encrypts it again to w under a new data
// key made by the destination.
func reseal(ctx context.Context, r io.Reader, w io.Writer, o *Options) (*Output, error) {
	if o.Mode != Replace || len(o.RemoveKeyIDs) > 0 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "Reseal makes a new data key: the Add and Remove modes need Method Rewrap")
	}
	// The source as for a rewrap; the destination must generate.
	dest := o.Destination
	if dest == nil {
		if o.Front == nil || len(o.DestinationKeyIDs) == 0 {
			return nil, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "Reseal needs a destination keyring or destination key IDs")
		}
		var err error
		dest, err = keyring.NewStrict(o.Front, &keyring.BackendOptions{GrantTokens: o.GrantTokens}, o.DestinationKeyIDs...)
		if err != nil {
			return nil, err
		}
	}
	src := *o
	src.Destination, src.DestinationKeyIDs = dest, nil // keep rewrapOptions from building another
	ro, err := rewrapOptions(&src)
	if err != nil {
		return nil, err
	}
	d, err := envelope.NewDecrypter(ctx, r, envelope.DecryptOptions{
		Keyring:              ro.Source,
		EncryptionContext:    o.SourceEncryptionContext,
		CommitmentPolicy:     o.CommitmentPolicy,
		MaxEncryptedDataKeys: o.MaxEncryptedDataKeys,
	})
	if err != nil {
		return nil, err
	}
	defer d.Close()
	old := d.Result()
	eo := NewMessageOptions(old, o.DestinationEncryptionContext)
	eo.Keyring, eo.MaxEncryptedDataKeys = dest, o.MaxEncryptedDataKeys
	if o.DestinationEncryptionContext != nil {
		eo.RequiredEncryptionContextKeys = o.RequiredEncryptionContextKeys
	}
	var written int64
	cw := countingWriter{w: w, n: &written}
	e, err := envelope.NewEncrypter(ctx, cw, eo)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(e, d); err != nil {
		return nil, err
	}
	if err := e.Close(); err != nil {
		return nil, err
	}
	full := make(map[string]string, len(eo.EncryptionContext))
	for k, v := range eo.EncryptionContext {
		full[k] = v
	}
	return &Output{Written: written, Suite: eo.Suite, EncryptionContext: full}, nil
}

// countingWriter counts the bytes written to w.
type countingWriter struct {
	w io.Writer
	n *int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// rewrapOptions turns message options into the options of rewrap.Message,
// building the keyrings the options name by key.
func rewrapOptions(o *Options) (rewrap.Options, error) {
	ro := rewrap.Options{
		Source:                        o.Source,
		Destination:                   o.Destination,
		SourceEncryptionContext:       o.SourceEncryptionContext,
		EncryptionContext:             o.DestinationEncryptionContext,
		RequiredEncryptionContextKeys: o.RequiredEncryptionContextKeys,
		CommitmentPolicy:              o.CommitmentPolicy,
		MaxEncryptedDataKeys:          o.MaxEncryptedDataKeys,
	}
	bopts := &keyring.BackendOptions{GrantTokens: o.GrantTokens}
	if ro.Source == nil {
		if o.Front == nil {
			return ro, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "no source keyring and no Front")
		}
		var err error
		if len(o.SourceKeyIDs) > 0 {
			ro.Source, err = keyring.NewStrict(o.Front, bopts, o.SourceKeyIDs...)
		} else {
			ro.Source, err = keyring.NewDiscovery(o.Front, &keyring.DiscoveryOptions{GrantTokens: o.GrantTokens})
		}
		if err != nil {
			return ro, err
		}
	}
	if ro.Destination == nil && len(o.DestinationKeyIDs) > 0 {
		if o.Front == nil {
			return ro, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "destination key IDs and no Front")
		}
		ks := make([]envelope.Keyring, len(o.DestinationKeyIDs))
		for i, id := range o.DestinationKeyIDs {
			k, err := keyring.NewBackend(o.Front, id, bopts)
			if err != nil {
				return ro, err
			}
			ks[i] = k
		}
		// No generator: the data key exists; every key wraps it.
		m, err := keyring.NewMulti(nil, ks...)
		if err != nil {
			return ro, err
		}
		ro.Destination = m
	}
	switch o.Mode {
	case Replace:
		if len(o.RemoveKeyIDs) > 0 {
			return ro, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "RemoveKeyIDs is for the Remove mode")
		}
		if ro.Destination == nil {
			return ro, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "Replace needs a destination keyring or destination key IDs")
		}
	case Add:
		if ro.Destination == nil {
			return ro, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "Add needs a destination keyring or destination key IDs")
		}
		ro.Keep = func(envelope.EncryptedDataKey) bool { return true }
	case Remove:
		if len(o.RemoveKeyIDs) == 0 {
			return ro, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "Remove needs RemoveKeyIDs")
		}
		drop := slices.Clone(o.RemoveKeyIDs)
		ro.Keep = func(e envelope.EncryptedDataKey) bool {
			return !slices.ContainsFunc(drop, func(id string) bool { return names(e.ProviderInfo, id) })
		}
	default:
		return ro, backends.Errorf(backends.ErrInvalidArgument, msgOp, "", "unknown mode %d", o.Mode)
	}
	return ro, nil
}

// rawAESInfoTail is what follows the key name in a raw AES keyring's provider
// info: the tag length in bits (128) and the IV length (12), then a 12-byte IV.
var rawAESInfoTail = []byte{0, 0, 0, 128, 0, 0, 0, 12}

// names reports whether an encrypted data key's provider info names key id.
func names(info []byte, id string) bool {
	if string(info) == id {
		return true
	}
	n := len(id)
	return len(info) == n+len(rawAESInfoTail)+12 && string(info[:n]) == id && bytes.Equal(info[n:n+len(rawAESInfoTail)], rawAESInfoTail)
}

// NewMessageOptions returns the options of a message that replaces one whose
// decryption gave old: the suite is kept (a non-committing one becomes
// [envelope.DefaultSuite]), the frame length too (a non-framed message becomes
// framed, with [envelope.DefaultFrameLength]), and so is the encryption context
// (its stored pairs, less the reserved ones, and its required keys) unless
// context is not nil, which then replaces it. The caller sets the keyring.
func NewMessageOptions(old *envelope.Result, context map[string]string) envelope.EncryptOptions {
	eo := envelope.EncryptOptions{EncryptionContext: context, Suite: old.Suite, FrameLength: old.Header.FrameLength}
	if context == nil {
		eo.EncryptionContext = make(map[string]string, len(old.EncryptionContext))
		for k, v := range old.EncryptionContext {
			if !strings.HasPrefix(k, envelope.ReservedPrefix) {
				eo.EncryptionContext[k] = v
			}
		}
		eo.RequiredEncryptionContextKeys = old.RequiredEncryptionContextKeys
	}
	if old.Suite != envelope.SuiteAES256GCMHKDFSHA512CommitKey && old.Suite != envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384 {
		eo.Suite = envelope.DefaultSuite
	}
	if !old.Header.Framed {
		eo.FrameLength = envelope.DefaultFrameLength
	}
	return eo
}
