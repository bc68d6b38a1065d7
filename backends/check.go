package backends

import (
	"context"
	"errors"
	"unicode/utf8"
)

// The limits that a [Front] checks on every input, AWS KMS's own: a driver never
// sees a request outside them, whatever its service would take, so that what works
// with one key service works with every other.
const (
	// MaxPlaintextBytes is the longest plaintext of Encrypt (at least 1 byte).
	MaxPlaintextBytes = 4096
	// MaxCiphertextBytes is the longest ciphertext blob of Decrypt and ReEncrypt.
	MaxCiphertextBytes = 6144
	// MaxGrantTokens is the most grant tokens a request carries, and
	// MaxGrantTokenBytes the longest of them.
	MaxGrantTokens     = 10
	MaxGrantTokenBytes = 8192
	// MaxEncryptionContextBytes bounds an encryption context: the bytes of all
	// its keys and values together. Keys and values are valid UTF-8.
	MaxEncryptionContextBytes = 8192
)

// checkCall checks what every operation needs: an input and a live ctx.
func checkCall(ctx context.Context, op, keyID string, nilInput bool) error {
	if nilInput {
		return Errorf(ErrInvalidArgument, op, "", "nil input")
	}
	return ContextError(ctx, op, keyID)
}

// checkKey checks a key reference that the operation requires (or, with
// optional, may omit) and returns it parsed. A malformed reference is NotFound, as
// AWS KMS answers an invalid keyId.
func checkKey(op, field, keyID string, optional bool) (KeyRef, error) {
	if keyID == "" {
		if optional {
			return KeyRef{}, nil
		}
		return KeyRef{}, Errorf(ErrInvalidArgument, op, "", "%s is required", field)
	}
	ref, err := ParseKeyRef(keyID)
	if err != nil {
		return KeyRef{}, WithOp(err, op)
	}
	return ref, nil
}

func checkContext(op, keyID, field string, ec map[string]string) error {
	n := 0
	for k, v := range ec {
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return Errorf(ErrInvalidArgument, op, keyID, "%s has a key or value that is not valid UTF-8", field)
		}
		n += len(k) + len(v)
	}
	if n > MaxEncryptionContextBytes {
		return Errorf(ErrInvalidArgument, op, keyID, "%s is %d bytes: at most %d", field, n, MaxEncryptionContextBytes)
	}
	return nil
}

func checkGrantTokens(op, keyID string, tokens []string) error {
	if len(tokens) > MaxGrantTokens {
		return Errorf(ErrInvalidArgument, op, keyID, "%d grant tokens: at most %d", len(tokens), MaxGrantTokens)
	}
	for _, t := range tokens {
		if len(t) == 0 || len(t) > MaxGrantTokenBytes {
			return Errorf(ErrInvalidArgument, op, keyID, "a grant token of %d bytes: 1 to %d", len(t), MaxGrantTokenBytes)
		}
	}
	return nil
}

func checkAlgorithm(op, keyID, field string, a Algorithm) error {
	switch a {
	case "", SymmetricDefault, RSAESOAEPSHA1, RSAESOAEPSHA256, SM2PKE:
		return nil
	}
	return Errorf(ErrInvalidArgument, op, keyID, "%s %q is not an encryption algorithm", field, truncate(string(a), 40))
}

func checkBlob(op, keyID string, blob []byte) error {
	if len(blob) == 0 || len(blob) > MaxCiphertextBytes {
		return Errorf(ErrInvalidArgument, op, keyID, "CiphertextBlob of %d bytes: 1 to %d", len(blob), MaxCiphertextBytes)
	}
	return nil
}

func checkEncrypt(ctx context.Context, op string, in *EncryptInput) (KeyRef, error) {
	if err := checkCall(ctx, op, keyOf(in), in == nil); err != nil {
		return KeyRef{}, err
	}
	ref, err := checkKey(op, "KeyId", in.KeyID, false)
	if err != nil {
		return KeyRef{}, err
	}
	if len(in.Plaintext) == 0 || len(in.Plaintext) > MaxPlaintextBytes {
		return KeyRef{}, Errorf(ErrInvalidArgument, op, in.KeyID, "Plaintext of %d bytes: 1 to %d", len(in.Plaintext), MaxPlaintextBytes)
	}
	if err := checkContext(op, in.KeyID, "EncryptionContext", in.EncryptionContext); err != nil {
		return KeyRef{}, err
	}
	if err := checkAlgorithm(op, in.KeyID, "EncryptionAlgorithm", in.EncryptionAlgorithm); err != nil {
		return KeyRef{}, err
	}
	return ref, checkGrantTokens(op, in.KeyID, in.GrantTokens)
}

func keyOf(in *EncryptInput) string {
	if in == nil {
		return ""
	}
	return in.KeyID
}

func checkDecrypt(ctx context.Context, op string, in *DecryptInput) (KeyRef, error) {
	var keyID string
	if in != nil {
		keyID = in.KeyID
	}
	if err := checkCall(ctx, op, keyID, in == nil); err != nil {
		return KeyRef{}, err
	}
	ref, err := checkKey(op, "KeyId", in.KeyID, true)
	if err != nil {
		return KeyRef{}, err
	}
	if err := checkBlob(op, in.KeyID, in.CiphertextBlob); err != nil {
		return KeyRef{}, err
	}
	if err := checkContext(op, in.KeyID, "EncryptionContext", in.EncryptionContext); err != nil {
		return KeyRef{}, err
	}
	if err := checkAlgorithm(op, in.KeyID, "EncryptionAlgorithm", in.EncryptionAlgorithm); err != nil {
		return KeyRef{}, err
	}
	return ref, checkGrantTokens(op, in.KeyID, in.GrantTokens)
}

// CheckReEncrypt checks a ReEncrypt input as a [Front] does: a ReEncrypt engine
// that calls the Front's Decrypt and Encrypt checks its own input with it first.
func CheckReEncrypt(ctx context.Context, op string, in *ReEncryptInput) error {
	_, _, err := checkReEncrypt(ctx, op, in)
	return err
}

// checkReEncrypt checks in and returns its source (zero when not named) and
// destination keys parsed.
func checkReEncrypt(ctx context.Context, op string, in *ReEncryptInput) (src, dst KeyRef, err error) {
	var keyID string
	if in != nil {
		keyID = firstNonEmpty(in.SourceKeyID, in.DestinationKeyID)
	}
	if err := checkCall(ctx, op, keyID, in == nil); err != nil {
		return src, dst, err
	}
	if dst, err = checkKey(op, "DestinationKeyId", in.DestinationKeyID, false); err != nil {
		return src, dst, err
	}
	if src, err = checkKey(op, "SourceKeyId", in.SourceKeyID, true); err != nil {
		return src, dst, err
	}
	return src, dst, checkReEncryptRest(op, keyID, in)
}

func checkReEncryptRest(op, keyID string, in *ReEncryptInput) error {
	if err := checkBlob(op, keyID, in.CiphertextBlob); err != nil {
		return err
	}
	if err := checkContext(op, keyID, "SourceEncryptionContext", in.SourceEncryptionContext); err != nil {
		return err
	}
	if err := checkContext(op, in.DestinationKeyID, "DestinationEncryptionContext", in.DestinationEncryptionContext); err != nil {
		return err
	}
	if err := checkAlgorithm(op, keyID, "SourceEncryptionAlgorithm", in.SourceEncryptionAlgorithm); err != nil {
		return err
	}
	if err := checkAlgorithm(op, in.DestinationKeyID, "DestinationEncryptionAlgorithm", in.DestinationEncryptionAlgorithm); err != nil {
		return err
	}
	switch in.Via {
	case ViaAny, ViaNative, ViaPlaintext:
	default:
		return Errorf(ErrInvalidArgument, op, keyID, "Via %d is not a ReEncrypt path", int(in.Via))
	}
	return checkGrantTokens(op, keyID, in.GrantTokens)
}

func checkGenerate(ctx context.Context, op string, in *GenerateDataKeyInput) (KeyRef, int, error) {
	var keyID string
	if in != nil {
		keyID = in.KeyID
	}
	if err := checkCall(ctx, op, keyID, in == nil); err != nil {
		return KeyRef{}, 0, err
	}
	ref, err := checkKey(op, "KeyId", in.KeyID, false)
	if err != nil {
		return KeyRef{}, 0, err
	}
	n, err := in.DataKeyLength(op)
	if err != nil {
		return KeyRef{}, 0, err
	}
	if err := checkContext(op, in.KeyID, "EncryptionContext", in.EncryptionContext); err != nil {
		return KeyRef{}, 0, err
	}
	return ref, n, checkGrantTokens(op, in.KeyID, in.GrantTokens)
}

func checkDescribe(ctx context.Context, op string, in *DescribeKeyInput) (KeyRef, error) {
	var keyID string
	if in != nil {
		keyID = in.KeyID
	}
	if err := checkCall(ctx, op, keyID, in == nil); err != nil {
		return KeyRef{}, err
	}
	ref, err := checkKey(op, "KeyId", in.KeyID, false)
	if err != nil {
		return KeyRef{}, err
	}
	return ref, checkGrantTokens(op, in.KeyID, in.GrantTokens)
}

// label returns err as an *Error of exactly one kind with Op set: an *Error keeps
// its kind (and gets op and keyID where it has none); a context error becomes
// ErrCanceled or ErrDependencyTimeout; anything else, which no driver should
// return, becomes ErrInternal around it.
func label(ctx context.Context, op, keyID string, err error) error {
	keyID = RedactKeyRef(keyID)
	var e *Error
	if errors.As(err, &e) {
		if e.Op == op && (e.KeyID != "" || keyID == "") && e == err {
			return err
		}
		c := *e
		if c.Op == "" {
			c.Op = op
		}
		if c.KeyID == "" {
			c.KeyID = keyID
		}
		if e != err { // err wraps e: keep what err says
			c.Message = err.Error()
			c.Err = err
		}
		return &c
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Kind: ErrDependencyTimeout, Op: op, KeyID: keyID, Message: err.Error(), Err: err}
	case errors.Is(err, context.Canceled):
		return &Error{Kind: ErrCanceled, Op: op, KeyID: keyID, Message: err.Error(), Err: err}
	case ctx.Err() != nil:
		return ContextError(ctx, op, keyID)
	}
	if k := KindOf(err); k != nil {
		return &Error{Kind: k, Op: op, KeyID: keyID, Message: err.Error(), Err: err}
	}
	return &Error{Kind: ErrInternal, Op: op, KeyID: keyID, Message: err.Error(), Err: err}
}
