package backends

import (
	"context"
	"crypto/rand"
)

// Encrypt encrypts in.Plaintext under in.KeyID with the driver that owns the key.
//
// Like every operation of the Front it first checks the input as AWS KMS does, so
// that every driver sees only well-formed requests: a nil input or a missing key
// is [ErrInvalidArgument], a malformed key reference [ErrNotFound] (AWS answers
// "Invalid keyId" so), a plaintext of 0 or more than [MaxPlaintextBytes] bytes, a
// ciphertext blob of more than [MaxCiphertextBytes] bytes, more than
// [MaxGrantTokens] grant tokens or an encryption context over
// [MaxEncryptionContextBytes] [ErrInvalidArgument]; a done ctx is [ErrCanceled] or
// [ErrDependencyTimeout]. Every error is an *[Error] whose Op names the operation.
func (f *Front) Encrypt(ctx context.Context, in *EncryptInput) (*EncryptOutput, error) {
	const op = "Encrypt"
	ref, err := checkEncrypt(ctx, op, in)
	if err != nil {
		return nil, err
	}
	b, ref, err := f.routeRef(ctx, ref)
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	if ref.Raw != in.KeyID {
		c := *in
		c.KeyID = ref.Raw
		in = &c
	}
	var out *EncryptOutput
	if chain := f.interceptors(); len(chain) == 0 {
		out, err = encryptWith(ctx, b, in)
	} else {
		out, err = intercept(ctx, chain, &Call{Op: op, KeyID: in.KeyID, DryRun: in.DryRun},
			func(ctx context.Context) (*EncryptOutput, error) { return encryptWith(ctx, b, in) },
			func(o *EncryptOutput) string { return o.KeyID }, nil)
	}
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	return out, nil
}

func encryptWith(ctx context.Context, b Backend, in *EncryptInput) (*EncryptOutput, error) {
	out, err := b.Encrypt(ctx, in)
	if err == nil && out == nil {
		err = Errorf(ErrInternal, "Encrypt", in.KeyID, "the backend returned no output and no error")
	}
	return out, err
}

// Decrypt decrypts in.CiphertextBlob with the driver that owns in.KeyID. Without a
// KeyID it goes to the owner of the key that the blob names, where a driver's
// [CiphertextInspector] recognises it, and to the default driver otherwise. The caller owns the plaintext and
// should wipe it (clear) when done. The input is checked as [Front.Encrypt] says.
func (f *Front) Decrypt(ctx context.Context, in *DecryptInput) (*DecryptOutput, error) {
	const op = "Decrypt"
	ref, err := checkDecrypt(ctx, op, in)
	if err != nil {
		return nil, err
	}
	var b Backend
	if in.KeyID == "" {
		// A blob that names its key goes to the key's owner; any other to the
		// default driver, which reads its own blobs (AWS KMS's name their key
		// inside, where no one else can read it).
		if id, ierr := f.CiphertextKeyID(in.CiphertextBlob); ierr == nil {
			b, _, _ = f.route(ctx, id)
		}
		if b == nil {
			if b = f.Default(); b == nil {
				return nil, Errorf(ErrInvalidArgument, op, "", "no KeyId given, and no driver recognises the ciphertext or serves as the default")
			}
		}
	} else {
		if b, ref, err = f.routeRef(ctx, ref); err != nil {
			return nil, label(ctx, op, in.KeyID, err)
		}
		if ref.Raw != in.KeyID {
			c := *in
			c.KeyID = ref.Raw
			in = &c
		}
	}
	var out *DecryptOutput
	if chain := f.interceptors(); len(chain) == 0 {
		out, err = decryptWith(ctx, b, in)
	} else {
		out, err = intercept(ctx, chain, &Call{Op: op, KeyID: in.KeyID, DryRun: in.DryRun},
			func(ctx context.Context) (*DecryptOutput, error) { return decryptWith(ctx, b, in) },
			func(o *DecryptOutput) string { return o.KeyID },
			func(o *DecryptOutput) { clear(o.Plaintext) })
	}
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	return out, nil
}

func decryptWith(ctx context.Context, b Backend, in *DecryptInput) (*DecryptOutput, error) {
	out, err := b.Decrypt(ctx, in)
	switch {
	case err != nil:
		if out != nil {
			clear(out.Plaintext)
		}
		return nil, err
	case out == nil:
		return nil, Errorf(ErrInternal, "Decrypt", in.KeyID, "the backend returned no output and no error")
	}
	return out, nil
}

// ReEncrypt re-encrypts natively: when one driver owns both keys and re-encrypts
// by itself ([ReEncrypter]), it does, and the plaintext never leaves the service.
// Otherwise (two drivers, a driver without native ReEncrypt, or in.Via set to
// [ViaPlaintext]) the error matches [ErrUnsupported]: reencrypt.Engine decrypts and
// encrypts through the Front then. Without in.SourceKeyID the driver is the one
// whose [CiphertextInspector] recognises the blob, else the destination's.
func (f *Front) ReEncrypt(ctx context.Context, in *ReEncryptInput) (*ReEncryptOutput, error) {
	const op = "ReEncrypt"
	sref, dref, err := checkReEncrypt(ctx, op, in)
	if err != nil {
		return nil, err
	}
	if in.Via == ViaPlaintext {
		return nil, Errorf(ErrUnsupported, op, in.DestinationKeyID, "Via is ViaPlaintext: the Front re-encrypts only natively (use reencrypt.Engine)")
	}
	dst, dref, err := f.routeRef(ctx, dref)
	if err != nil {
		return nil, label(ctx, op, in.DestinationKeyID, err)
	}
	src := dst
	if in.SourceKeyID != "" {
		if src, sref, err = f.routeRef(ctx, sref); err != nil {
			return nil, label(ctx, op, in.SourceKeyID, err)
		}
	} else if id, _ := f.CiphertextKeyID(in.CiphertextBlob); id != "" {
		if b, _, err := f.route(ctx, id); err == nil {
			src = b
		}
	}
	if !SameBackend(src, dst) {
		return nil, Errorf(ErrUnsupported, op, in.DestinationKeyID, "the source and destination keys belong to different backends: no native ReEncrypt")
	}
	re, ok := dst.(ReEncrypter)
	if !ok {
		return nil, Errorf(ErrUnsupported, op, in.DestinationKeyID, "the backend has no native ReEncrypt")
	}
	if dref.Raw != in.DestinationKeyID || (in.SourceKeyID != "" && sref.Raw != in.SourceKeyID) {
		c := *in
		c.DestinationKeyID = dref.Raw
		if in.SourceKeyID != "" {
			c.SourceKeyID = sref.Raw
		}
		in = &c
	}
	var out *ReEncryptOutput
	if chain := f.interceptors(); len(chain) == 0 {
		out, err = reEncryptWith(ctx, re, in)
	} else {
		out, err = intercept(ctx, chain, &Call{Op: op, KeyID: in.DestinationKeyID, SourceKeyID: in.SourceKeyID, DryRun: in.DryRun},
			func(ctx context.Context) (*ReEncryptOutput, error) { return reEncryptWith(ctx, re, in) },
			func(o *ReEncryptOutput) string { return o.KeyID }, nil)
	}
	if err != nil {
		return nil, label(ctx, op, firstNonEmpty(in.SourceKeyID, in.DestinationKeyID), err)
	}
	o := *out
	o.Native = true
	o.SourceEncryptionAlgorithm = o.SourceEncryptionAlgorithm.OrDefault()
	o.DestinationEncryptionAlgorithm = o.DestinationEncryptionAlgorithm.OrDefault()
	return &o, nil
}

func reEncryptWith(ctx context.Context, re ReEncrypter, in *ReEncryptInput) (*ReEncryptOutput, error) {
	out, err := re.ReEncrypt(ctx, in)
	if err == nil && out == nil {
		err = Errorf(ErrInternal, "ReEncrypt", in.DestinationKeyID, "the backend returned no output and no error")
	}
	return out, err
}

// GenerateDataKey returns a new data key in plaintext and encrypted under
// in.KeyID. A driver that makes data keys itself ([DataKeyGenerator]) does;
// otherwise the Front draws in.NumberOfBytes random bytes (crypto/rand) and
// encrypts them with the driver's Encrypt, which is what AWS KMS does inside its
// boundary. The caller owns the plaintext and should wipe it.
func (f *Front) GenerateDataKey(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	return f.generate(ctx, "GenerateDataKey", in, true)
}

// GenerateDataKeyWithoutPlaintext is [Front.GenerateDataKey] that returns only the
// encrypted data key.
func (f *Front) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	return f.generate(ctx, "GenerateDataKeyWithoutPlaintext", in, false)
}

func (f *Front) generate(ctx context.Context, op string, in *GenerateDataKeyInput, plaintext bool) (*GenerateDataKeyOutput, error) {
	ref, n, err := checkGenerate(ctx, op, in)
	if err != nil {
		return nil, err
	}
	b, ref, err := f.routeRef(ctx, ref)
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	if ref.Raw != in.KeyID {
		c := *in
		c.KeyID = ref.Raw
		in = &c
	}
	var out *GenerateDataKeyOutput
	if chain := f.interceptors(); len(chain) == 0 {
		out, err = generateWith(ctx, op, b, in, n, plaintext)
	} else {
		out, err = intercept(ctx, chain, &Call{Op: op, KeyID: in.KeyID, DryRun: in.DryRun},
			func(ctx context.Context) (*GenerateDataKeyOutput, error) {
				return generateWith(ctx, op, b, in, n, plaintext)
			},
			func(o *GenerateDataKeyOutput) string { return o.KeyID },
			func(o *GenerateDataKeyOutput) { clear(o.Plaintext) })
	}
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	return out, nil
}

// generateWith makes a data key of n bytes with b: natively, or as a random key
// that b encrypts.
func generateWith(ctx context.Context, op string, b Backend, in *GenerateDataKeyInput, n int, plaintext bool) (*GenerateDataKeyOutput, error) {
	if g, ok := b.(DataKeyGenerator); ok {
		gen := g.GenerateDataKeyWithoutPlaintext
		if plaintext {
			gen = g.GenerateDataKey
		}
		out, err := gen(ctx, in)
		if err != nil {
			if out != nil {
				clear(out.Plaintext)
			}
			return nil, err
		}
		if out == nil {
			return nil, Errorf(ErrInternal, op, in.KeyID, "the backend returned no output and no error")
		}
		if plaintext && len(out.Plaintext) != n {
			clear(out.Plaintext)
			return nil, Errorf(ErrInternal, op, in.KeyID, "the backend returned a %d-byte data key, want %d", len(out.Plaintext), n)
		}
		if !plaintext && out.Plaintext != nil {
			clear(out.Plaintext)
			out.Plaintext = nil
		}
		return out, nil
	}
	dk := make([]byte, n)
	if _, err := rand.Read(dk); err != nil {
		return nil, Wrap(ErrInternal, op, in.KeyID, err)
	}
	enc, err := b.Encrypt(ctx, &EncryptInput{KeyID: in.KeyID, Plaintext: dk, EncryptionContext: in.EncryptionContext, GrantTokens: in.GrantTokens, DryRun: in.DryRun})
	if err != nil || enc == nil {
		clear(dk)
		if err == nil {
			return nil, Errorf(ErrInternal, op, in.KeyID, "the backend returned no output and no error")
		}
		// The caller asked for a data key: the driver's Encrypt is how the Front
		// made it, so the error names the operation the caller called.
		if e, ok := err.(*Error); ok && e.Op != op {
			c := *e
			c.Op = op
			return nil, &c
		}
		return nil, err
	}
	out := &GenerateDataKeyOutput{CiphertextBlob: enc.CiphertextBlob, KeyID: enc.KeyID}
	if plaintext {
		out.Plaintext = dk
	} else {
		clear(dk)
	}
	return out, nil
}

// DescribeKey describes the key in.KeyID with the driver that owns it; a driver
// that cannot ([KeyDescriber]) answers [ErrUnsupported].
func (f *Front) DescribeKey(ctx context.Context, in *DescribeKeyInput) (*KeyMetadata, error) {
	const op = "DescribeKey"
	ref, err := checkDescribe(ctx, op, in)
	if err != nil {
		return nil, err
	}
	b, ref, err := f.routeRef(ctx, ref)
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	d, ok := b.(KeyDescriber)
	if !ok {
		return nil, Errorf(ErrUnsupported, op, in.KeyID, "the backend does not describe its keys")
	}
	if ref.Raw != in.KeyID {
		c := *in
		c.KeyID = ref.Raw
		in = &c
	}
	var out *KeyMetadata
	if chain := f.interceptors(); len(chain) == 0 {
		out, err = describeWith(ctx, d, in)
	} else {
		out, err = intercept(ctx, chain, &Call{Op: op, KeyID: in.KeyID},
			func(ctx context.Context) (*KeyMetadata, error) { return describeWith(ctx, d, in) },
			func(o *KeyMetadata) string { return o.Arn }, nil)
	}
	if err != nil {
		return nil, label(ctx, op, in.KeyID, err)
	}
	return out, nil
}

func describeWith(ctx context.Context, d KeyDescriber, in *DescribeKeyInput) (*KeyMetadata, error) {
	out, err := d.DescribeKey(ctx, in)
	if err == nil && out == nil {
		err = Errorf(ErrInternal, "DescribeKey", in.KeyID, "the backend returned no output and no error")
	}
	return out, err
}
