package local

import (
	"context"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/blob"
	"github.com/keyport/keyport/backends/local/internal/state"
)

func checkAlgorithm(op, keyID string, a backends.Algorithm) error {
	switch a.OrDefault() {
	case backends.SymmetricDefault:
		return nil
	case backends.RSAESOAEPSHA1, backends.RSAESOAEPSHA256:
		return backends.Errorf(backends.ErrInvalidKeyUsage, op, keyID, "encryption algorithm %s is not compatible with a symmetric key", a)
	}
	return backends.Errorf(backends.ErrInvalidArgument, op, keyID, "unknown encryption algorithm %q", a)
}

// seal encrypts plaintext under the current version of k. The caller holds s.mu
// (for reading at least).
func (s *Service) seal(k *state.Key, plaintext []byte, ec map[string]string) []byte {
	v := len(k.Versions)
	bk, err := k.Versions[v-1].BlobKey()
	if err != nil {
		panic("keyport/local: " + err.Error()) // material is 32 bytes
	}
	b, err := blob.Seal(bk, s.keyARN(k), uint32(v), plaintext, ec)
	if err != nil {
		panic("keyport/local: " + err.Error()) // material is 32 bytes, ARNs are short, crypto/rand never fails
	}
	return b
}

// open decrypts a parsed blob of k. The caller holds s.mu (for reading at least).
func (s *Service) open(op string, k *state.Key, b *blob.Blob, ec map[string]string) ([]byte, error) {
	if int(b.KeyVersion) > len(k.Versions) {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, s.keyARN(k), "the ciphertext is not valid")
	}
	bk, err := k.Versions[b.KeyVersion-1].BlobKey()
	if err != nil {
		return nil, backends.Errorf(backends.ErrInternal, op, s.keyARN(k), "backing key: %v", err)
	}
	pt, err := blob.Open(bk, b, ec)
	if err != nil {
		// AWS answers InvalidCiphertext for a wrong encryption context too.
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, s.keyARN(k), "the ciphertext or its encryption context is not valid")
	}
	return pt, nil
}

// blobKey parses a blob into b and finds the key it names. A malformed blob is
// InvalidCiphertext; a well-formed blob of a key the service does not hold is
// NotFound. named, the key the call named if any, goes into the errors. The caller
// holds s.mu (for reading at least).
func (s *Service) blobKey(op, named string, ciphertext []byte, b *blob.Blob) (*state.Key, error) {
	if err := blob.ParseInto(b, ciphertext); err != nil {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, named, "the ciphertext is not valid: %w", err)
	}
	// Fast path: the blob names, exactly, the ARN of a key the service holds (as
	// every blob it made does). ParseKeyRef would accept that ARN and find the same
	// key, so only other blobs go the long way, for their exact errors.
	if k := s.keyByARN(b.ARN); k != nil {
		return k, nil
	}
	arn := b.KeyARN()
	ref, err := backends.ParseKeyRef(arn)
	if err != nil || ref.Form != backends.FormKeyARN {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, named, "the ciphertext does not name a key ARN")
	}
	k := s.st.Keys[ref.KeyID]
	if ref.Partition != s.partition || ref.Region != s.region || k == nil || k.Account != ref.Account {
		return nil, backends.Errorf(backends.ErrNotFound, op, arn, "key '%s' does not exist", arn)
	}
	return k, nil
}

// Encrypt encrypts up to 4096 bytes under a key, binding the encryption context.
// It is authorized as kms:Encrypt.
func (c *Client) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	const op = "Encrypt"
	if err := checkAlgorithm(op, in.KeyID, in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	unlock, err := c.enterRead(ctx, op, in.KeyID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := c.s
	k, err := c.useKey(op, in.KeyID, in.GrantTokens, "kms:Encrypt", GrantEncrypt, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun(op, s.keyARN(k))
	}
	return &backends.EncryptOutput{
		CiphertextBlob:      s.seal(k, in.Plaintext, in.EncryptionContext),
		KeyID:               s.keyARN(k),
		EncryptionAlgorithm: backends.SymmetricDefault,
	}, nil
}

func dryRun(op, keyARN string) error {
	return backends.Errorf(backends.ErrDryRunOperation, op, keyARN, "the request would have succeeded, but the DryRun flag is set")
}

// useKey resolves ref, checks the grant tokens, authorizes action and checks that
// the key can be used for cryptography. The caller holds s.mu (for reading at least).
func (c *Client) useKey(op, ref string, tokens []string, action string, gop GrantOperation, ec map[string]string) (*state.Key, error) {
	s := c.s
	if err := s.checkGrantTokens(op, ref, tokens); err != nil {
		return nil, err
	}
	k, err := s.resolve(c.id, op, ref)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c.id, op, k, action, gop, ec); err != nil {
		return nil, err
	}
	if err := s.usable(op, k); err != nil {
		return nil, err
	}
	return k, nil
}

// decryptLocked is Decrypt after enter: the key, the plaintext (which the caller
// must wipe) or an error. The caller holds s.mu (for reading at least).
func (c *Client) decryptLocked(op string, blobBytes []byte, keyID string, ec map[string]string, tokens []string, action string, gop GrantOperation) (*state.Key, []byte, error) {
	s := c.s
	if err := s.checkGrantTokens(op, keyID, tokens); err != nil {
		return nil, nil, err
	}
	var b blob.Blob
	k, err := s.blobKey(op, keyID, blobBytes, &b)
	if err != nil {
		return nil, nil, err
	}
	if keyID != "" {
		named, err := s.resolve(c.id, op, keyID)
		if err != nil {
			return nil, nil, err
		}
		if named != k {
			return nil, nil, backends.Errorf(backends.ErrIncorrectKey, op, keyID, "the ciphertext was not encrypted under the key %s", s.keyARN(named))
		}
	}
	if err := s.authorize(c.id, op, k, action, gop, ec); err != nil {
		return nil, nil, err
	}
	if err := s.usable(op, k); err != nil {
		return nil, nil, err
	}
	pt, err := s.open(op, k, &b, ec)
	if err != nil {
		return nil, nil, err
	}
	return k, pt, nil
}

// Decrypt decrypts a blob of this service. KeyID may be empty (the blob names its
// key); if given it must be the key that encrypted, else IncorrectKey. It is
// authorized as kms:Decrypt, and only so: plaintext leaves the service only on a
// Decrypt permission (kms:ReEncryptFrom authorizes only ReEncrypt, which the
// service does itself).
func (c *Client) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	const op = "Decrypt"
	if err := checkAlgorithm(op, in.KeyID, in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	unlock, err := c.enterRead(ctx, op, in.KeyID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := c.s
	k, pt, err := c.decryptLocked(op, in.CiphertextBlob, in.KeyID, in.EncryptionContext, in.GrantTokens, "kms:Decrypt", GrantDecrypt)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		clear(pt)
		return nil, dryRun(op, s.keyARN(k))
	}
	return &backends.DecryptOutput{Plaintext: pt, KeyID: s.keyARN(k), EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

// ReEncrypt decrypts a blob and encrypts its plaintext under the destination key
// without the plaintext leaving the service. It is authorized as kms:ReEncryptFrom
// on the source key (with the source context) and kms:ReEncryptTo on the
// destination key (with the destination context); the two keys may belong to
// different accounts of the service. DryRun checks everything, the ciphertext
// included, and returns an error matching backends.ErrDryRunOperation.
func (c *Client) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	const op = "ReEncrypt"
	if err := checkAlgorithm(op, in.SourceKeyID, in.SourceEncryptionAlgorithm); err != nil {
		return nil, err
	}
	if err := checkAlgorithm(op, in.DestinationKeyID, in.DestinationEncryptionAlgorithm); err != nil {
		return nil, err
	}
	unlock, err := c.enterRead(ctx, op, in.DestinationKeyID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := c.s
	src, pt, err := c.decryptLocked(op, in.CiphertextBlob, in.SourceKeyID, in.SourceEncryptionContext, in.GrantTokens, "kms:ReEncryptFrom", GrantReEncryptFrom)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	dst, err := c.useKey(op, in.DestinationKeyID, nil, "kms:ReEncryptTo", GrantReEncryptTo, in.DestinationEncryptionContext)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun(op, s.keyARN(dst))
	}
	return &backends.ReEncryptOutput{
		CiphertextBlob:                 s.seal(dst, pt, in.DestinationEncryptionContext),
		SourceKeyID:                    s.keyARN(src),
		KeyID:                          s.keyARN(dst),
		SourceEncryptionAlgorithm:      backends.SymmetricDefault,
		DestinationEncryptionAlgorithm: backends.SymmetricDefault,
		Native:                         true,
	}, nil
}

// GenerateDataKey returns a fresh random data key in plaintext and encrypted under
// a key (kms:GenerateDataKey). The caller should wipe Plaintext when done.
func (c *Client) GenerateDataKey(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return c.generateDataKey(ctx, "GenerateDataKey", "kms:GenerateDataKey", GrantGenerateDataKey, in)
}

// GenerateDataKeyWithoutPlaintext is GenerateDataKey that returns only the
// encrypted data key (kms:GenerateDataKeyWithoutPlaintext).
func (c *Client) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return c.generateDataKey(ctx, "GenerateDataKeyWithoutPlaintext", "kms:GenerateDataKeyWithoutPlaintext", GrantGenerateDataKeyWithoutPlaintext, in)
}

func (c *Client) generateDataKey(ctx context.Context, op, action string, gop GrantOperation, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	n, err := in.DataKeyLength(op)
	if err != nil {
		return nil, err
	}
	unlock, err := c.enterRead(ctx, op, in.KeyID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := c.s
	k, err := c.useKey(op, in.KeyID, in.GrantTokens, action, gop, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun(op, s.keyARN(k))
	}
	pt := state.RandomBytes(n)
	out := &backends.GenerateDataKeyOutput{CiphertextBlob: s.seal(k, pt, in.EncryptionContext), KeyID: s.keyARN(k)}
	if gop == GrantGenerateDataKeyWithoutPlaintext {
		clear(pt)
	} else {
		out.Plaintext = pt
	}
	return out, nil
}

// DescribeKey describes a key in any state (kms:DescribeKey).
func (c *Client) DescribeKey(ctx context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	const op = "DescribeKey"
	unlock, err := c.enterRead(ctx, op, in.KeyID)
	if err != nil {
		return nil, err
	}
	defer unlock()
	s := c.s
	if err := s.checkGrantTokens(op, in.KeyID, in.GrantTokens); err != nil {
		return nil, err
	}
	k, err := s.resolve(c.id, op, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.authorize(c.id, op, k, "kms:DescribeKey", GrantDescribeKey, nil); err != nil {
		return nil, err
	}
	return s.metadata(k), nil
}

// CiphertextKeyID returns the key ARN a blob of this service names, without
// decrypting it or checking that the key exists. A blob that is not well formed is
// an error matching backends.ErrInvalidCiphertext.
func (c *Client) CiphertextKeyID(ciphertext []byte) (string, error) {
	b, err := blob.Parse(ciphertext)
	if err != nil {
		return "", backends.Errorf(backends.ErrInvalidCiphertext, "CiphertextKeyID", "", "the ciphertext is not valid: %w", err)
	}
	if ref, err := backends.ParseKeyRef(b.KeyARN()); err != nil || ref.Form != backends.FormKeyARN {
		return "", backends.Errorf(backends.ErrInvalidCiphertext, "CiphertextKeyID", "", "the ciphertext does not name a key ARN")
	}
	return b.KeyARN(), nil
}
