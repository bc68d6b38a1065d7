package gcpkms

import (
	"context"
	"hash/crc32"
	"strings"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/keyport/keyport/backends"
	"google.golang.org/api/option"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// Options configures a Backend.
type Options struct {
	// Client is the Cloud KMS client to use. Nil means a new gRPC client made with
	// ClientOptions (Application Default Credentials when those name none); the
	// Backend then closes it on Close.
	Client *kms.KeyManagementClient
	// ClientOptions are passed to kms.NewKeyManagementClient when Client is nil.
	ClientOptions []option.ClientOption
}

// Backend is a keyport backend over Google Cloud KMS. It is safe for concurrent
// use.
type Backend struct {
	client *kms.KeyManagementClient
	owned  bool
}

var (
	_ backends.Backend      = (*Backend)(nil)
	_ backends.KeyDescriber = (*Backend)(nil)
)

// New returns a Backend with opts.Client, or with a new client made from
// opts.ClientOptions.
func New(ctx context.Context, opts Options) (*Backend, error) {
	if opts.Client != nil {
		return &Backend{client: opts.Client}, nil
	}
	c, err := kms.NewKeyManagementClient(ctx, opts.ClientOptions...)
	if err != nil {
		return nil, backends.Wrap(backends.ErrKeyUnavailable, "New", "", err)
	}
	return &Backend{client: c, owned: true}, nil
}

// Close closes the client when the Backend made it.
func (b *Backend) Close() error {
	if b.owned {
		return b.client.Close()
	}
	return nil
}

// Client returns the Cloud KMS client the backend uses.
func (b *Backend) Client() *kms.KeyManagementClient { return b.client }

// Register makes b the owner of gcpkms:// and gcp-kms:// references in r.
func (b *Backend) Register(r *backends.Front) error {
	for _, s := range []string{Scheme, TinkScheme} {
		if err := r.Register(s, b); err != nil {
			return err
		}
	}
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func crc(b []byte) int64 { return int64(crc32.Checksum(b, castagnoli)) }

// crcField returns the CRC32C wrapper Cloud KMS wants for b, or nil for an empty
// b (an absent field is not checked).
func crcField(b []byte) *wrapperspb.Int64Value {
	if len(b) == 0 {
		return nil
	}
	return wrapperspb.Int64(crc(b))
}

// parse parses keyID for op, naming op and the key in the error.
func parse(op, keyID string) (Ref, error) {
	ref, err := ParseRef(keyID)
	if err != nil {
		e := *err.(*backends.Error)
		e.Op, e.KeyID = op, clip(keyID, 80)
		return Ref{}, &e
	}
	return ref, nil
}

// Encrypt encrypts in.Plaintext under the CryptoKey in.KeyID's primary version,
// binding in.EncryptionContext as additional authenticated data in keyport's
// unambiguous encoding (backends.EncodeEncryptionContext). The ciphertext is Cloud
// KMS's own, unchanged: gcloud or any other client decrypts it with the same key
// and AAD. The CRC32C fields are set on the request and checked on the response; a
// mismatch is a retryable error carrying a *ChecksumError.
func (b *Backend) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	const op = "Encrypt"
	ref, err := parse(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	key := ref.URI()
	if ref.Version != "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, ref.String(),
			"a CryptoKeyVersion names a key for decryption only; encrypt with the CryptoKey, whose primary version Cloud KMS uses")
	}
	if a := in.EncryptionAlgorithm.OrDefault(); a != backends.SymmetricDefault {
		return nil, backends.Errorf(backends.ErrInvalidKeyUsage, op, key, "a Cloud KMS symmetric key encrypts with %s, not %s", backends.SymmetricDefault, a)
	}
	aad := backends.EncodeEncryptionContext(in.EncryptionContext)
	resp, err := b.client.Encrypt(ctx, &kmspb.EncryptRequest{
		Name:                              ref.Name(),
		Plaintext:                         in.Plaintext,
		AdditionalAuthenticatedData:       aad,
		PlaintextCrc32C:                   crcField(in.Plaintext),
		AdditionalAuthenticatedDataCrc32C: crcField(aad),
	})
	if err != nil {
		return nil, MapError(ctx, op, key, err)
	}
	switch {
	case len(in.Plaintext) > 0 && !resp.GetVerifiedPlaintextCrc32C():
		return nil, checksumFailed(op, key, "plaintext", "Cloud KMS did not confirm the plaintext's CRC32C")
	case len(aad) > 0 && !resp.GetVerifiedAdditionalAuthenticatedDataCrc32C():
		return nil, checksumFailed(op, key, "additional_authenticated_data", "Cloud KMS did not confirm the additional authenticated data's CRC32C")
	case resp.GetCiphertextCrc32C() == nil || resp.GetCiphertextCrc32C().GetValue() != crc(resp.GetCiphertext()):
		return nil, checksumFailed(op, key, "ciphertext", "the ciphertext does not match its CRC32C")
	case !strings.HasPrefix(resp.GetName(), ref.Name()+"/cryptoKeyVersions/"):
		return nil, backends.Errorf(backends.ErrInternal, op, key, "Cloud KMS encrypted with %q, not a version of this key", clip(resp.GetName(), 200))
	}
	if in.DryRun {
		return nil, dryRunDone(op, key)
	}
	return &backends.EncryptOutput{CiphertextBlob: resp.GetCiphertext(), KeyID: key, EncryptionAlgorithm: backends.SymmetricDefault,
		KeyVersion: strings.TrimPrefix(resp.GetName(), ref.Name()+"/cryptoKeyVersions/")}, nil
}

// Decrypt decrypts in.CiphertextBlob, a Cloud KMS ciphertext of the CryptoKey
// in.KeyID, under in.EncryptionContext. in.KeyID is required: Cloud KMS
// ciphertexts do not name their key. It may name a version
// (.../cryptoKeyVersions/N); Cloud KMS still decrypts with whichever version of
// the CryptoKey made the ciphertext. A blob of another key fails as a damaged one
// does, with backends.ErrInvalidCiphertext: Cloud KMS cannot tell them apart.
func (b *Backend) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	const op = "Decrypt"
	if in.KeyID == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "",
			"KeyID is required: Cloud KMS ciphertexts do not name their key (give the key from the envelope's provider info, or SourceKeyId)")
	}
	ref, err := parse(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	key := ref.URI()
	if a := in.EncryptionAlgorithm.OrDefault(); a != backends.SymmetricDefault {
		return nil, backends.Errorf(backends.ErrInvalidKeyUsage, op, key, "a Cloud KMS symmetric key decrypts with %s, not %s", backends.SymmetricDefault, a)
	}
	aad := backends.EncodeEncryptionContext(in.EncryptionContext)
	resp, err := b.client.Decrypt(ctx, &kmspb.DecryptRequest{
		Name:                              ref.Name(),
		Ciphertext:                        in.CiphertextBlob,
		AdditionalAuthenticatedData:       aad,
		CiphertextCrc32C:                  crcField(in.CiphertextBlob),
		AdditionalAuthenticatedDataCrc32C: crcField(aad),
	})
	if err != nil {
		return nil, MapError(ctx, op, key, err)
	}
	pt := resp.GetPlaintext()
	if resp.GetPlaintextCrc32C() == nil || resp.GetPlaintextCrc32C().GetValue() != crc(pt) {
		clear(pt)
		return nil, checksumFailed(op, key, "plaintext", "the plaintext does not match its CRC32C")
	}
	if in.DryRun {
		clear(pt)
		return nil, dryRunDone(op, key)
	}
	if pt == nil {
		pt = []byte{}
	}
	return &backends.DecryptOutput{Plaintext: pt, KeyID: key, EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

// dryRunDone is the answer to a DryRun whose request succeeded. Cloud KMS has no
// dry run, so the backend makes the real request (Encrypt and Decrypt change no
// state) and discards its result, clearing any plaintext; that checks the key, its
// state, the caller's permission, the ciphertext and the encryption context, as AWS
// KMS does.
func dryRunDone(op, key string) error {
	return backends.Errorf(backends.ErrDryRunOperation, op, key, "dry run: the request would have succeeded")
}
