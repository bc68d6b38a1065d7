package tink

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/url"
	"strings"

	"github.com/hashicorp/vault/api"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gcpkms"
	"github.com/keyport/keyport/backends/vault"
	"github.com/tink-crypto/tink-go/v2/core/registry"
	"github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/grpc/status"
)

// KMS is a keyport backend over Tink KMS clients (registry.KMSClient): Tink's
// AWS KMS, Google Cloud KMS and Vault integrations, or any other. A key is named
// by the client's own key URI (aws-kms://arn:aws:kms:..., gcp-kms://projects/...,
// hcvault://...). Outputs name an AWS key by the ARN its URI holds (keyport's
// canonical ID for AWS keys; a bare ARN is taken as aws-kms://<ARN>, which is how
// a backends.Front hands AWS keys to their owner) and every other key by its URI.
// The client is opaque, so an alias is not resolved to its key.
//
// The encryption context is bound as Tink associated data, the bytes of
// backends.EncodeEncryptionContext; Tink's AWS KMS client, for one, sends them to
// AWS as the single-pair context {"associatedData": hex}, so no two contexts
// collide even on a service that joins pairs. Tink's ciphertexts do not name
// their key, so Decrypt needs a KeyID; a blob of another key is
// backends.ErrInvalidCiphertext (unless the service itself says IncorrectKey).
//
// Errors keep the client's own error for errors.As. Their kind comes from the
// error's code where the client exposes one as an ErrorCode() string method with
// an AWS KMS exception name (as the AWS SDK's errors do); otherwise a failed
// Decrypt is backends.ErrInvalidCiphertext, a network failure
// backends.ErrKeyUnavailable, and anything else backends.ErrInternal.
type KMS struct {
	clients []registry.KMSClient
}

var (
	_ backends.Backend   = (*KMS)(nil)
	_ backends.URLOpener = (*KMS)(nil)
)

// NewKMS returns a backend over clients; a key URI goes to the first client that
// supports it.
func NewKMS(clients ...registry.KMSClient) *KMS {
	return &KMS{clients: append([]registry.KMSClient(nil), clients...)}
}

// Register makes k the owner, in f, of key URIs of the given schemes (for
// example "gcp-kms" and "hcvault" for Tink's Google Cloud and Vault clients). AWS
// keys reach k through f by account: f.RegisterAccount(account, region, k), since
// f routes aws-kms://<ARN> as the ARN.
func (k *KMS) Register(f *backends.Front, schemes ...string) error {
	for _, s := range schemes {
		if err := f.Register(s, k); err != nil {
			return err
		}
	}
	return nil
}

// OpenBackendURL returns k for a key URL one of its clients supports (Tink's
// clients test the URI's prefix, such as aws-kms://), or for a URL whose path is
// an AWS KMS ARN (awskms:///arn:aws:kms:...) that a client supports as
// aws-kms://<ARN>.
func (k *KMS) OpenBackendURL(_ context.Context, u *url.URL) (backends.Backend, error) {
	_, _, err := k.aead("OpenBackendURL", u.String())
	if arn, ok := strings.CutPrefix(u.Path, "/"); err != nil && ok && strings.HasPrefix(arn, "arn:") {
		_, _, err = k.aead("OpenBackendURL", arn)
	}
	if err != nil {
		return nil, err
	}
	return k, nil
}

// awsPrefix starts Tink's AWS KMS key URIs: aws-kms://<key or alias ARN>.
const awsPrefix = "aws-kms://"

// aead returns the Tink AEAD of the key keyID names and the key's canonical ID.
// keyID is a key URI of one of the clients, or an AWS KMS ARN, which is taken as
// Tink's aws-kms://<ARN> (a backends.Front hands AWS keys to their owner as
// ARNs). The canonical ID of an AWS key is its ARN, as elsewhere in keyport; of
// any other key, its URI.
func (k *KMS) aead(op, keyID string) (tink.AEADWithContext, string, error) {
	uri, id := keyID, keyID
	if arn, ok := strings.CutPrefix(keyID, awsPrefix); ok {
		id = arn
	} else if strings.HasPrefix(keyID, "arn:") {
		uri = awsPrefix + keyID
	}
	for _, c := range k.clients {
		if !c.Supported(uri) {
			continue
		}
		a, err := c.GetAEAD(uri)
		if err != nil {
			return nil, id, backends.Errorf(backends.ErrNotFound, op, id, "the Tink KMS client refuses the key URI: %w", err)
		}
		if ac, ok := a.(tink.AEADWithContext); ok {
			return ac, id, nil
		}
		return withoutContext{a}, id, nil
	}
	return nil, id, backends.Errorf(backends.ErrNotFound, op, id, "no Tink KMS client supports this key URI")
}

// call returns the AEAD of the key keyRef names for op, and its ID, after the
// checks of what a Tink KMS client cannot do (another algorithm, a dry run).
func (k *KMS) call(op, keyRef string, alg backends.Algorithm, dryRun bool) (tink.AEADWithContext, string, error) {
	a, id, err := k.aead(op, keyRef)
	if err != nil {
		return nil, id, err
	}
	if err := checkAlgorithm(op, id, alg); err != nil {
		return nil, id, err
	}
	if dryRun {
		return nil, id, backends.Errorf(backends.ErrUnsupported, op, id, "a Tink KMS client has no dry run")
	}
	return a, id, nil
}

// Encrypt encrypts under the key in.KeyID names.
func (k *KMS) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	const op = "Encrypt"
	a, id, err := k.call(op, in.KeyID, in.EncryptionAlgorithm, in.DryRun)
	if err != nil {
		return nil, err
	}
	ct, err := a.EncryptWithContext(ctx, in.Plaintext, backends.EncodeEncryptionContext(in.EncryptionContext))
	if err != nil {
		return nil, kmsError(ctx, op, id, err)
	}
	return &backends.EncryptOutput{CiphertextBlob: ct, KeyID: id, EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

// Decrypt decrypts with the key in.KeyID names, which is required.
func (k *KMS) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	const op = "Decrypt"
	if in.KeyID == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "a Tink KMS ciphertext does not name its key: give a KeyID")
	}
	a, id, err := k.call(op, in.KeyID, in.EncryptionAlgorithm, in.DryRun)
	if err != nil {
		return nil, err
	}
	pt, err := a.DecryptWithContext(ctx, in.CiphertextBlob, backends.EncodeEncryptionContext(in.EncryptionContext))

	if err != nil {
		return nil, kmsError(ctx, op, id, err)
	}
	return &backends.DecryptOutput{Plaintext: pt, KeyID: id, EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

// withoutContext is a Tink AEAD that takes no context.Context: the context is
// checked before the call, which cannot be interrupted.
type withoutContext struct{ a tink.AEAD }

func (w withoutContext) EncryptWithContext(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return w.a.Encrypt(plaintext, associatedData)
}

func (w withoutContext) DecryptWithContext(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return w.a.Decrypt(ciphertext, associatedData)
}

// kmsError maps an error of a Tink KMS AEAD onto the taxonomy (see KMS).
func kmsError(ctx context.Context, op, keyURI string, err error) error {
	var be *backends.Error
	if errors.As(err, &be) {
		return backends.Wrap(be.Kind, op, keyURI, err)
	}
	if cerr := backends.ContextError(ctx, op, keyURI); cerr != nil {
		return cerr
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return backends.Wrap(backends.ErrDependencyTimeout, op, keyURI, err)
	case errors.Is(err, context.Canceled):
		return backends.Wrap(backends.ErrCanceled, op, keyURI, err)
	}
	// Tink's Vault and Cloud KMS clients return their API clients' errors:
	// mapped by the table of keyport's driver for the same service.
	var vaultErr *api.ResponseError
	if errors.As(err, &vaultErr) {
		return vault.MapError(ctx, op, keyURI, err)
	}
	var grpcErr interface{ GRPCStatus() *status.Status }
	if errors.As(err, &grpcErr) {
		return gcpkms.MapError(ctx, op, keyURI, err)
	}
	var coded interface{ ErrorCode() string }
	if errors.As(err, &coded) {
		for _, k := range backends.Kinds {
			if k.Name() == coded.ErrorCode() {
				return backends.Wrap(k, op, keyURI, err)
			}
		}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return backends.Wrap(backends.ErrKeyUnavailable, op, keyURI, err)
	}
	if op == "Decrypt" {
		return backends.Wrap(backends.ErrInvalidCiphertext, op, keyURI, err)
	}
	return backends.Wrap(backends.ErrInternal, op, keyURI, err)
}

// KMSClient offers a keyport backend (a driver, or a [backends.Front]) to
// Tink as a registry.KMSClient, so that Tink's KMS envelope AEAD, encrypted
// keysets and everything else built on KMS clients use keyport's keys, and
// keyport reads the ciphertexts they made.
//
// A key URI that starts with the client's prefix names, after the prefix, a
// keyport key reference: with the prefix "keyport:", keyport:alias/orders is
// alias/orders. With an empty prefix every URI is supported and passed to the
// backend as it is.
//
// Tink associated data is bound as the encryption context {"associatedData":
// hex} (none for empty associated data), which is how Tink's AWS KMS client binds
// it: over keyport's AWS KMS backend, this client reads and makes the same
// ciphertexts as Tink's own.
type KMSClient struct {
	b      backends.Backend
	prefix string
}

var _ registry.KMSClient = (*KMSClient)(nil)

// NewKMSClient returns a Tink KMS client over b for key URIs that start with prefix.
func NewKMSClient(b backends.Backend, prefix string) *KMSClient {
	return &KMSClient{b: b, prefix: prefix}
}

// Supported reports whether keyURI starts with the client's prefix.
func (c *KMSClient) Supported(keyURI string) bool { return strings.HasPrefix(keyURI, c.prefix) }

// GetAEAD returns the key keyURI names as a Tink AEAD, which is also a
// tink.AEADWithContext (prefer it: the plain AEAD methods run without a deadline).
func (c *KMSClient) GetAEAD(keyURI string) (tink.AEAD, error) {
	ref, ok := strings.CutPrefix(keyURI, c.prefix)
	if !ok || ref == "" {
		return nil, backends.Errorf(backends.ErrNotFound, "GetAEAD", keyURI, "the key URI does not start with %q and a key reference", c.prefix)
	}
	return &remoteAEAD{b: c.b, keyID: ref}, nil
}

// AEAD returns the keyport key keyID of b as a Tink AEAD (and AEADWithContext),
// binding associated data as KMSClient does.
func AEAD(b backends.Backend, keyID string) interface {
	tink.AEAD
	tink.AEADWithContext
} {
	return &remoteAEAD{b: b, keyID: keyID}
}

// remoteAEAD is a keyport key seen as a Tink AEAD.
type remoteAEAD struct {
	b     backends.Backend
	keyID string
}

// associatedDataContext is the encryption context that binds Tink associated
// data, as Tink's AWS KMS client spells it.
func associatedDataContext(ad []byte) map[string]string {
	if len(ad) == 0 {
		return nil
	}
	return map[string]string{"associatedData": hex.EncodeToString(ad)}
}

func (r *remoteAEAD) EncryptWithContext(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	out, err := r.b.Encrypt(ctx, &backends.EncryptInput{KeyID: r.keyID, Plaintext: plaintext, EncryptionContext: associatedDataContext(associatedData)})
	if err != nil {
		return nil, err
	}
	return out.CiphertextBlob, nil
}

func (r *remoteAEAD) DecryptWithContext(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	out, err := r.b.Decrypt(ctx, &backends.DecryptInput{KeyID: r.keyID, CiphertextBlob: ciphertext, EncryptionContext: associatedDataContext(associatedData)})
	if err != nil {
		return nil, err
	}
	return out.Plaintext, nil
}

func (r *remoteAEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	return r.EncryptWithContext(context.Background(), plaintext, associatedData)
}

func (r *remoteAEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	return r.DecryptWithContext(context.Background(), ciphertext, associatedData)
}
