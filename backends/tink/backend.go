package tink

import (
	"context"
	"errors"
	"net/url"
	"sort"
	"strings"
	"sync"

	"github.com/keyport/keyport/backends"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// Scheme is the URI scheme of keyset keys: tink-keyset://<name>.
const Scheme = "tink-keyset"

// Backend serves Tink keysets as keyport keys, each named tink-keyset://<name>.
// The zero Backend holds no keysets; it is safe for concurrent use.
type Backend struct {
	mu      sync.RWMutex
	keysets map[string]*Keyset
}

var (
	_ backends.Backend             = (*Backend)(nil)
	_ backends.KeyDescriber        = (*Backend)(nil)
	_ backends.ReEncrypter         = (*Backend)(nil)
	_ backends.CiphertextInspector = (*Backend)(nil)
	_ backends.URLOpener           = (*Backend)(nil)
)

// New returns a Backend that serves the given keysets.
func New(keysets ...*Keyset) (*Backend, error) {
	b := new(Backend)
	for _, ks := range keysets {
		if err := b.Add(ks); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// Add makes the backend serve ks. Two keysets of one backend have different names.
func (b *Backend) Add(ks *Keyset) error {
	if ks == nil {
		return backends.Errorf(backends.ErrInvalidArgument, "AddKeyset", "", "nil keyset")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.keysets == nil {
		b.keysets = make(map[string]*Keyset)
	}
	if _, dup := b.keysets[ks.name]; dup {
		return backends.Errorf(backends.ErrAlreadyExists, "AddKeyset", ks.URI(), "the backend already serves a keyset of this name")
	}
	b.keysets[ks.name] = ks
	return nil
}

// Keyset returns the keyset that keyID (tink-keyset://<name>) names.
func (b *Backend) Keyset(keyID string) (*Keyset, error) {
	return b.lookup("Keyset", keyID)
}

// Register makes b the owner of tink-keyset:// references in r.
func (b *Backend) Register(r *backends.Front) error { return r.Register(Scheme, b) }

// OpenBackendURL returns b for a tink-keyset://<name> URL of a keyset it serves.
func (b *Backend) OpenBackendURL(_ context.Context, u *url.URL) (backends.Backend, error) {
	if _, err := b.lookup("OpenBackendURL", u.String()); err != nil {
		return nil, err
	}
	return b, nil
}

// lookup returns the keyset keyID names: tink-keyset://<name>, with nothing after
// the name.
func (b *Backend) lookup(op, keyID string) (*Keyset, error) {
	name, ok := strings.CutPrefix(keyID, Scheme+"://")
	if !ok || name == "" || strings.ContainsAny(name, "/?#") {
		return nil, backends.Errorf(backends.ErrNotFound, op, keyID, "not a Tink keyset reference: want %s://<name>", Scheme)
	}
	b.mu.RLock()
	ks := b.keysets[name]
	b.mu.RUnlock()
	if ks == nil {
		return nil, backends.Errorf(backends.ErrNotFound, op, keyID, "no such keyset")
	}
	return ks, nil
}

// Encrypt encrypts with the keyset's primary key, binding the encryption context
// as Tink associated data (backends.EncodeEncryptionContext). The blob is Tink's
// ciphertext, output prefix first.
func (b *Backend) Encrypt(_ context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	const op = "Encrypt"
	ks, err := b.lookup(op, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := checkAlgorithm(op, ks.URI(), in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, dryRun(op, ks.URI())
	}
	ct, err := ks.state.Load().aead.Encrypt(in.Plaintext, backends.EncodeEncryptionContext(in.EncryptionContext))
	if err != nil {
		return nil, backends.Errorf(backends.ErrInternal, op, ks.URI(), "Tink: %v", err)
	}
	return &backends.EncryptOutput{CiphertextBlob: ct, KeyID: ks.URI(), EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

// Decrypt decrypts a blob of the keyset in.KeyID names or, when in.KeyID is
// empty, of the keyset whose key its output prefix names.
func (b *Backend) Decrypt(_ context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	const op = "Decrypt"
	var ks *Keyset
	var err error
	if in.KeyID == "" {
		ks, err = b.owner(op, in.CiphertextBlob)
	} else {
		ks, err = b.lookup(op, in.KeyID)
	}
	if err != nil {
		return nil, err
	}
	if err := checkAlgorithm(op, ks.URI(), in.EncryptionAlgorithm); err != nil {
		return nil, err
	}
	st := ks.state.Load()
	if k := st.keyOf(in.CiphertextBlob); k != nil {
		if err := statusError(op, ks.URI(), k); err != nil {
			return nil, err
		}
	} else if !st.hasRaw {
		// The prefix names no key of this keyset: a blob of another keyset this
		// backend serves, or a damaged one.
		if other, _ := b.owner(op, in.CiphertextBlob); other != nil && other != ks {
			return nil, backends.Errorf(backends.ErrIncorrectKey, op, ks.URI(), "the ciphertext was made by another keyset")
		}
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, ks.URI(), "the ciphertext's output prefix names no key of this keyset")
	}
	pt, err := st.aead.Decrypt(in.CiphertextBlob, backends.EncodeEncryptionContext(in.EncryptionContext))
	if err != nil {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, ks.URI(), "the ciphertext does not authenticate under this keyset and encryption context")
	}
	if in.DryRun {
		clear(pt)
		return nil, dryRun(op, ks.URI())
	}
	return &backends.DecryptOutput{Plaintext: pt, KeyID: ks.URI(), EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

// ReEncrypt moves a blob of one keyset the backend serves to another, or to the
// same keyset's current primary under a new encryption context, without the
// plaintext leaving the backend. Both keys must be keysets of this backend; a
// reencrypt.Engine re-encrypts to any other key by decrypt-then-encrypt.
func (b *Backend) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	const op = "ReEncrypt"
	dst, err := b.lookup(op, in.DestinationKeyID)
	if err != nil {
		return nil, err
	}
	if err := checkAlgorithm(op, dst.URI(), in.DestinationEncryptionAlgorithm); err != nil {
		return nil, err
	}
	dec, err := b.Decrypt(ctx, &backends.DecryptInput{KeyID: in.SourceKeyID, CiphertextBlob: in.CiphertextBlob,
		EncryptionContext: in.SourceEncryptionContext, EncryptionAlgorithm: in.SourceEncryptionAlgorithm})
	if err != nil {
		return nil, relabel(err, op)
	}
	defer clear(dec.Plaintext)
	if in.DryRun {
		return nil, dryRun(op, dst.URI())
	}
	ct, err := dst.state.Load().aead.Encrypt(dec.Plaintext, backends.EncodeEncryptionContext(in.DestinationEncryptionContext))
	if err != nil {
		return nil, backends.Errorf(backends.ErrInternal, op, dst.URI(), "Tink: %v", err)
	}
	return &backends.ReEncryptOutput{
		CiphertextBlob:                 ct,
		SourceKeyID:                    dec.KeyID,
		KeyID:                          dst.URI(),
		SourceEncryptionAlgorithm:      backends.SymmetricDefault,
		DestinationEncryptionAlgorithm: backends.SymmetricDefault,
		Native:                         true,
	}, nil
}

// relabel returns err with its operation set to op.
func relabel(err error, op string) error {
	var e *backends.Error
	if errors.As(err, &e) {
		c := *e
		c.Op = op
		return &c
	}
	return err
}

// CiphertextKeyID returns the keyset whose key the blob's output prefix names. A
// blob of a key without prefix (Tink's RAW) names no key.
func (b *Backend) CiphertextKeyID(blob []byte) (string, error) {
	ks, err := b.owner("CiphertextKeyID", blob)
	if err != nil {
		return "", err
	}
	return ks.URI(), nil
}

// owner returns the one keyset whose key the blob's output prefix names.
func (b *Backend) owner(op string, blob []byte) (*Keyset, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var found []*Keyset
	for _, ks := range b.keysets {
		if ks.state.Load().keyOf(blob) != nil {
			found = append(found, ks)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, "", "the ciphertext's output prefix names no key of any keyset this backend serves")
	}
	names := make([]string, len(found))
	for i, ks := range found {
		names[i] = ks.name
	}
	sort.Strings(names)
	return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "the ciphertext's output prefix names a key ID that keysets %s share: give a KeyID", strings.Join(names, ", "))
}

// statusError answers a blob of a key that is not enabled.
func statusError(op, uri string, k *KeyInfo) error {
	switch k.Status {
	case keyset.Enabled:
		return nil
	case keyset.Disabled:
		return backends.Errorf(backends.ErrDisabled, op, uri, "key %d of the keyset, which made the ciphertext, is disabled", k.ID)
	}
	return backends.Errorf(backends.ErrInvalidState, op, uri, "key %d of the keyset, which made the ciphertext, is %s", k.ID, strings.ToLower(k.Status.String()))
}

// DescribeKey describes a keyset as one key: Enabled, its primary's type as
// KeySpec, its keys as versions (numbered from 1 in keyset order: CurrentVersion
// is the primary's, MinDecryptionVersion the first enabled key's), and every
// key's ID, type and status in Description. Keys lists them as values.
func (b *Backend) DescribeKey(_ context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	ks, err := b.lookup("DescribeKey", in.KeyID)
	if err != nil {
		return nil, err
	}
	st := ks.state.Load()
	md := &backends.KeyMetadata{
		Arn:                  ks.URI(),
		KeyID:                ks.name,
		KeyState:             backends.KeyStateEnabled,
		Enabled:              true,
		KeyUsage:             backends.KeyUsageEncryptDecrypt,
		EncryptionAlgorithms: []backends.Algorithm{backends.SymmetricDefault},
		Description:          st.describe(),
	}
	for i, k := range st.keys {
		if k.Primary {
			md.KeySpec = shortType(k.Type)
			md.CurrentVersion = i + 1
		}
		if md.MinDecryptionVersion == 0 && k.Status == keyset.Enabled {
			md.MinDecryptionVersion = i + 1
		}
	}
	return md, nil
}

// checkAlgorithm accepts only the symmetric default: a keyset is symmetric.
func checkAlgorithm(op, uri string, a backends.Algorithm) error {
	if a.OrDefault() != backends.SymmetricDefault {
		return backends.Errorf(backends.ErrInvalidKeyUsage, op, uri, "a Tink AEAD keyset takes only %s, not %s", backends.SymmetricDefault, a)
	}
	return nil
}

func dryRun(op, uri string) error {
	return backends.Errorf(backends.ErrDryRunOperation, op, uri, "dry run: the request would have succeeded")
}
