package awskms

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyport/keyport/backends"
)

// target resolves a key reference for op.
func (b *Backend) target(op, keyID string) (Target, error) {
	t, err := ParseKeyID(keyID)
	if err != nil {
		return Target{}, backends.WithOp(err, op)
	}
	return t, nil
}

// dryRunDone is the answer to a DryRun that succeeded. AWS KMS answers it with
// DryRunOperationException; a server that ignores DryRun (local-kms) answers with a
// result, which the caller has discarded.
func dryRunDone(op, keyID string) error {
	return backends.Errorf(backends.ErrDryRunOperation, op, keyID, "the request would have succeeded; DryRun is set")
}

func algorithm(a backends.Algorithm) types.EncryptionAlgorithmSpec {
	return types.EncryptionAlgorithmSpec(a)
}

func outAlgorithm(a types.EncryptionAlgorithmSpec, in backends.Algorithm) backends.Algorithm {
	if a != "" {
		return backends.Algorithm(a)
	}
	return in.OrDefault()
}

func encContext(ec map[string]string) map[string]string {
	if len(ec) == 0 {
		return nil
	}
	return ec
}

func dryRun(d bool) *bool {
	if !d {
		return nil
	}
	return aws.Bool(true)
}

func grantTokens(g []string) []string {
	if len(g) == 0 {
		return nil
	}
	return g
}

// Encrypt encrypts in.Plaintext under the KMS key in.KeyID. The output names the
// key by its key ARN.
func (b *Backend) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	const op = "Encrypt"
	t, err := b.target(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	out, err := b.clientFor(t).Encrypt(ctx, &kms.EncryptInput{
		KeyId:               aws.String(t.KeyID),
		Plaintext:           in.Plaintext,
		EncryptionContext:   encContext(in.EncryptionContext),
		GrantTokens:         grantTokens(in.GrantTokens),
		EncryptionAlgorithm: algorithm(in.EncryptionAlgorithm),
		DryRun:              dryRun(in.DryRun),
	})
	if err != nil {
		return nil, MapError(ctx, op, in.KeyID, err)
	}
	if in.DryRun {
		return nil, dryRunDone(op, in.KeyID)
	}
	return &backends.EncryptOutput{
		CiphertextBlob:      out.CiphertextBlob,
		KeyID:               canonical(out.KeyId, t),
		EncryptionAlgorithm: outAlgorithm(out.EncryptionAlgorithm, in.EncryptionAlgorithm),
	}, nil
}

// Decrypt decrypts in.CiphertextBlob. in.KeyID may be empty for a blob of a
// symmetric key (KMS finds the key in the blob; the call goes to the home region);
// otherwise the call goes to the region of the key named, which is how a replica of
// a multi-Region key decrypts a blob made by another replica. The caller owns the
// plaintext and should clear it.
func (b *Backend) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	const op = "Decrypt"
	var t Target
	if in.KeyID != "" {
		var err error
		if t, err = b.target(op, in.KeyID); err != nil {
			return nil, err
		}
	}
	req := &kms.DecryptInput{
		CiphertextBlob:      in.CiphertextBlob,
		EncryptionContext:   encContext(in.EncryptionContext),
		GrantTokens:         grantTokens(in.GrantTokens),
		EncryptionAlgorithm: algorithm(in.EncryptionAlgorithm),
		DryRun:              dryRun(in.DryRun),
	}
	if t.KeyID != "" {
		req.KeyId = aws.String(t.KeyID)
	}
	out, err := b.clientFor(t).Decrypt(ctx, req)
	if err != nil {
		return nil, MapError(ctx, op, in.KeyID, err)
	}
	if in.DryRun {
		clear(out.Plaintext)
		return nil, dryRunDone(op, in.KeyID)
	}
	return &backends.DecryptOutput{
		Plaintext:           out.Plaintext,
		KeyID:               canonical(out.KeyId, t),
		EncryptionAlgorithm: outAlgorithm(out.EncryptionAlgorithm, in.EncryptionAlgorithm),
	}, nil
}

// ReEncrypt calls KMS ReEncrypt with every field of in: the plaintext never leaves
// KMS. The call goes to the endpoint of the source key (of the destination key when
// in.SourceKeyID is empty). KMS cannot re-encrypt from one region to another: when
// the two keys are served by different endpoints (regions, or the per-account
// endpoints of WithAccountEndpoint) ReEncrypt returns an error matching
// backends.ErrUnsupported, and the reencrypt engine decrypts at one and encrypts at
// the other instead.
func (b *Backend) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	const op = "ReEncrypt"
	dst, err := b.target(op, in.DestinationKeyID)
	if err != nil {
		return nil, err
	}
	var src Target
	if in.SourceKeyID != "" {
		if src, err = b.target(op, in.SourceKeyID); err != nil {
			return nil, err
		}
	}
	// The source key is where the call goes; without a SourceKeyId, the blob is
	// taken to belong where the destination is.
	client := b.clientFor(dst)
	if in.SourceKeyID != "" {
		if c := b.clientFor(src); c != client {
			return nil, backends.Errorf(backends.ErrUnsupported, op, in.DestinationKeyID,
				"the source and destination keys are served by different KMS endpoints (regions): KMS cannot re-encrypt between them in one call")
		}
	}
	req := &kms.ReEncryptInput{
		CiphertextBlob:                 in.CiphertextBlob,
		DestinationKeyId:               aws.String(dst.KeyID),
		SourceEncryptionContext:        encContext(in.SourceEncryptionContext),
		DestinationEncryptionContext:   encContext(in.DestinationEncryptionContext),
		SourceEncryptionAlgorithm:      algorithm(in.SourceEncryptionAlgorithm),
		DestinationEncryptionAlgorithm: algorithm(in.DestinationEncryptionAlgorithm),
		GrantTokens:                    grantTokens(in.GrantTokens),
		DryRun:                         dryRun(in.DryRun),
	}
	if src.KeyID != "" {
		req.SourceKeyId = aws.String(src.KeyID)
	}
	out, err := client.ReEncrypt(ctx, req)
	if err != nil {
		return nil, MapError(ctx, op, in.DestinationKeyID, err)
	}
	if in.DryRun {
		return nil, dryRunDone(op, in.DestinationKeyID)
	}
	return &backends.ReEncryptOutput{
		CiphertextBlob:                 out.CiphertextBlob,
		SourceKeyID:                    canonical(out.SourceKeyId, src),
		KeyID:                          canonical(out.KeyId, dst),
		SourceEncryptionAlgorithm:      outAlgorithm(out.SourceEncryptionAlgorithm, in.SourceEncryptionAlgorithm),
		DestinationEncryptionAlgorithm: outAlgorithm(out.DestinationEncryptionAlgorithm, in.DestinationEncryptionAlgorithm),
		Native:                         true,
	}, nil
}

// GenerateDataKey makes a data key of in.NumberOfBytes (default 32, at most 1024)
// bytes under in.KeyID. The caller owns Plaintext and should clear it.
func (b *Backend) GenerateDataKey(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return b.generate(ctx, "GenerateDataKey", in, true)
}

// GenerateDataKeyWithoutPlaintext is GenerateDataKey without the plaintext copy.
func (b *Backend) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return b.generate(ctx, "GenerateDataKeyWithoutPlaintext", in, false)
}

func (b *Backend) generate(ctx context.Context, op string, in *backends.GenerateDataKeyInput, plaintext bool) (*backends.GenerateDataKeyOutput, error) {
	t, err := b.target(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	n, err := in.DataKeyLength(op)
	if err != nil {
		return nil, err
	}
	c := b.clientFor(t)
	if plaintext {
		out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{
			KeyId:             aws.String(t.KeyID),
			NumberOfBytes:     aws.Int32(int32(n)),
			EncryptionContext: encContext(in.EncryptionContext),
			GrantTokens:       grantTokens(in.GrantTokens),
			DryRun:            dryRun(in.DryRun),
		})
		if err != nil {
			return nil, MapError(ctx, op, in.KeyID, err)
		}
		if in.DryRun {
			clear(out.Plaintext)
			return nil, dryRunDone(op, in.KeyID)
		}
		return &backends.GenerateDataKeyOutput{CiphertextBlob: out.CiphertextBlob, Plaintext: out.Plaintext, KeyID: canonical(out.KeyId, t)}, nil
	}
	out, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{
		KeyId:             aws.String(t.KeyID),
		NumberOfBytes:     aws.Int32(int32(n)),
		EncryptionContext: encContext(in.EncryptionContext),
		GrantTokens:       grantTokens(in.GrantTokens),
		DryRun:            dryRun(in.DryRun),
	})
	if err != nil {
		return nil, MapError(ctx, op, in.KeyID, err)
	}
	if in.DryRun {
		return nil, dryRunDone(op, in.KeyID)
	}
	return &backends.GenerateDataKeyOutput{CiphertextBlob: out.CiphertextBlob, KeyID: canonical(out.KeyId, t)}, nil
}

// DescribeKey describes the key in.KeyID; KeyMetadata.Arn is its key ARN.
func (b *Backend) DescribeKey(ctx context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	const op = "DescribeKey"
	t, err := b.target(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	out, err := b.clientFor(t).DescribeKey(ctx, &kms.DescribeKeyInput{
		KeyId:       aws.String(t.KeyID),
		GrantTokens: grantTokens(in.GrantTokens),
	})
	if err != nil {
		return nil, MapError(ctx, op, in.KeyID, err)
	}
	if out.KeyMetadata == nil {
		return nil, backends.Errorf(backends.ErrInternal, op, in.KeyID, "the KMS endpoint answered without key metadata")
	}
	return metadata(out.KeyMetadata), nil
}

func metadata(m *types.KeyMetadata) *backends.KeyMetadata {
	md := &backends.KeyMetadata{
		Arn:          aws.ToString(m.Arn),
		KeyID:        aws.ToString(m.KeyId),
		AWSAccountID: aws.ToString(m.AWSAccountId),
		KeyState:     backends.KeyState(m.KeyState),
		KeyUsage:     backends.KeyUsage(m.KeyUsage),
		KeySpec:      string(m.KeySpec),
		Description:  aws.ToString(m.Description),
		MultiRegion:  aws.ToBool(m.MultiRegion),
	}
	if ref, err := backends.ParseKeyRef(md.Arn); err == nil {
		md.Region = ref.Region
		if md.AWSAccountID == "" {
			md.AWSAccountID = ref.Account
		}
		if ref.MultiRegion() {
			md.MultiRegion = true
		}
	}
	if m.CreationDate != nil {
		md.CreationDate = *m.CreationDate
	}
	if m.DeletionDate != nil {
		md.DeletionDate = *m.DeletionDate
	}
	if md.KeyState == "" {
		md.KeyState = backends.KeyStateDisabled
		if m.Enabled {
			md.KeyState = backends.KeyStateEnabled
		}
	}
	md.Enabled = md.KeyState == backends.KeyStateEnabled
	for _, a := range m.EncryptionAlgorithms {
		md.EncryptionAlgorithms = append(md.EncryptionAlgorithms, backends.Algorithm(a))
	}
	return md
}

// canonical returns the key ARN the service answered with; if it answered none, the
// reference itself when it is a key ARN, else "".
func canonical(answered *string, t Target) string {
	if s := aws.ToString(answered); s != "" {
		return s
	}
	if t.Ref.Form == backends.FormKeyARN {
		return t.KeyID
	}
	return ""
}
