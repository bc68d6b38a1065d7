// Package keyring holds the keyrings of keyport's envelope messages: raw AES and raw
// RSA keyrings byte-compatible with the AWS Encryption SDK's, a keyring over any
// backends.Backend key (strict or discovery, MRK-aware on request), and the
// multi-keyring that wraps one data key for keys of several providers.
package keyring

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"sync"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
)

// Provider IDs of the encrypted data keys that backend keyrings write.
//
// A data key wrapped by an AWS KMS key (any backend whose canonical key ID is a
// key ARN: backends/awskms, backends/local) is stored as the AWS Encryption SDK
// stores it: provider ID "aws-kms", provider info the key ARN, the ciphertext
// blob as the backend returned it. The encryption context of the message (the
// stored and the required pairs) is the backend's encryption context, as in the
// ESDK, so any ESDK with an AWS KMS keyring on the same key opens the message.
//
// A data key wrapped by a key of any other service (its canonical ID is a URI such
// as vault://transit/orders or gcpkms://projects/...) is stored with provider ID
// "keyport:" followed by the URI's lower-case scheme ("keyport:vault"), provider
// info the key's canonical URI, and the backend's ciphertext blob; the backend's
// encryption context is again the message's. Another ESDK opens such a message
// with a custom keyring that recognises the provider ID.
const (
	ProviderAWSKMS        = "aws-kms"
	ProviderKeyportPrefix = "keyport:"
)

// ProviderID returns the provider ID under which a backend keyring stores a data
// key wrapped by the key with canonical ID keyID: ProviderAWSKMS for a key ARN,
// ProviderKeyportPrefix plus the scheme for a URI. Any other reference (a bare key
// ID, an alias) cannot name a key in a header: ErrInvalidArgument.
func ProviderID(keyID string) (string, error) {
	ref, err := backends.ParseKeyRef(keyID)
	if err != nil {
		return "", backends.Errorf(backends.ErrInvalidArgument, "OnEncrypt", keyID, "key %q cannot be named in a message header: %w", keyID, err)
	}
	switch ref.Form {
	case backends.FormKeyARN:
		return ProviderAWSKMS, nil
	case backends.FormURI:
		return ProviderKeyportPrefix + ref.Scheme, nil
	}
	return "", backends.Errorf(backends.ErrInvalidArgument, "OnEncrypt", keyID, "key %q is a %s, neither a key ARN nor a URI; a message header names keys by their canonical ID", keyID, ref.Form)
}

// parseProviderInfo checks that an encrypted data key names a key as a backend
// keyring writes it, and returns the parsed key reference. ok is false for a
// provider ID that is not a backend keyring's; err is set when the provider ID is
// one but the provider info does not fit it.
func parseProviderInfo(edk envelope.EncryptedDataKey) (ref backends.KeyRef, ok bool, err error) {
	switch {
	case edk.ProviderID == ProviderAWSKMS:
		ref, err := backends.ParseKeyRef(string(edk.ProviderInfo))
		if err != nil || ref.Form != backends.FormKeyARN {
			return backends.KeyRef{}, true, backends.Errorf(backends.ErrInvalidCiphertext, "OnDecrypt", "", "aws-kms encrypted data key: provider info is not a key ARN")
		}
		return ref, true, nil
	case strings.HasPrefix(edk.ProviderID, ProviderKeyportPrefix):
		ref, err := backends.ParseKeyRef(string(edk.ProviderInfo))
		if err != nil || ref.Form != backends.FormURI || ProviderKeyportPrefix+ref.Scheme != edk.ProviderID {
			return backends.KeyRef{}, true, backends.Errorf(backends.ErrInvalidCiphertext, "OnDecrypt", "", "%s encrypted data key: provider info is not a key URI of that scheme", truncate(edk.ProviderID, 64))
		}
		return ref, true, nil
	}
	return backends.KeyRef{}, false, nil
}

// BackendOptions configure a backend keyring. The zero value is ready to use.
type BackendOptions struct {
	// GrantTokens are passed on every backend call.
	GrantTokens []string
	// EncryptionAlgorithm is the backend algorithm that wraps the data key (empty:
	// the backend's symmetric default; RSAES_OAEP_SHA_* for asymmetric keys).
	EncryptionAlgorithm backends.Algorithm
	// MRKAware makes decryption accept data keys wrapped by a replica of the
	// keyring's multi-Region key in another region (an mrk- key ARN that differs
	// only in its region), unwrapping them with the keyring's own key, as the
	// ESDK's MRK-aware keyrings do.
	MRKAware bool
}

// Backend is a keyring over one key of a backends.Backend, in the manner of the
// ESDK's AWS KMS keyring. On encrypt it wraps the data key with the key (and makes
// it, as the generator, when the materials have none: with GenerateDataKey when the
// backend is a DataKeyGenerator); on decrypt it is strict: it tries only the
// encrypted data keys that its own key wrapped (or, with MRKAware, a replica of
// it). Use NewStrict for several keys and NewDiscovery to decrypt with any key.
type Backend struct {
	b     backends.Backend
	keyID string
	opts  BackendOptions

	mu        sync.Mutex
	canonical string // the key's canonical ID, once known
	pid       string // the provider ID of canonical
}

var _ envelope.Keyring = (*Backend)(nil)

// NewBackend returns a keyring over the key keyID of b, typically a
// [backends.Front]. keyID takes any form b accepts: a key ID, key or alias ARN,
// alias name, or key URL (vault://transit/orders, awskms:///<key-id>,
// aws-kms://<ARN>, ...). Message headers always name the key by its canonical ID
// (the key ARN, or the service's canonical URI), whatever form keyID takes: a key
// ARN is one already; for any other form the keyring learns the canonical ID from
// the backend's DescribeKey (once) or from its first answer, so a message written
// with one form of a key opens with any other.
func NewBackend(b backends.Backend, keyID string, opts *BackendOptions) (*Backend, error) {
	if b == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "NewBackend", keyID, "nil backend")
	}
	if _, err := backends.ParseKeyRef(keyID); err != nil {
		return nil, backends.WithOp(err, "NewBackend")
	}
	k := &Backend{b: b, keyID: keyID}

	if opts != nil {
		k.opts = *opts
		k.opts.GrantTokens = append([]string(nil), opts.GrantTokens...)
	}
	// A key ARN is the key's canonical ID; any other form (an alias, a bare key
	// ID, a URL such as awskms:///<key-id> or aws-kms://<ARN>) is learnt from the
	// backend: from DescribeKey, or from the KeyID of its first answer.
	if ref, err := backends.ParseKeyRef(keyID); err == nil && ref.Form == backends.FormKeyARN {
		k.canonical, k.pid = keyID, ProviderAWSKMS
	}
	return k, nil
}

// KeyID returns the key reference the keyring was made with.
func (k *Backend) KeyID() string { return k.keyID }

// OnEncrypt makes the data key if m has none, and appends the data key wrapped by
// the keyring's key.
func (k *Backend) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	n := m.Suite.DataKeyLen()
	if n == 0 {
		return backends.Errorf(backends.ErrInvalidArgument, "OnEncrypt", k.keyID, "unknown algorithm suite %#04x", uint16(m.Suite))
	}
	if m.PlaintextDataKey == nil {
		return k.generate(ctx, m, n)
	}
	if len(m.PlaintextDataKey) != n {
		return backends.Errorf(backends.ErrInvalidArgument, "OnEncrypt", k.keyID, "data key is %d bytes, suite %#04x needs %d", len(m.PlaintextDataKey), uint16(m.Suite), n)
	}
	out, err := k.b.Encrypt(ctx, &backends.EncryptInput{
		KeyID:               k.keyID,
		Plaintext:           m.PlaintextDataKey,
		EncryptionContext:   m.EncryptionContext,
		GrantTokens:         k.opts.GrantTokens,
		EncryptionAlgorithm: k.opts.EncryptionAlgorithm,
	})
	if err != nil {
		return err
	}
	return k.appendEDK(m, out.KeyID, out.CiphertextBlob)
}

func (k *Backend) generate(ctx context.Context, m *envelope.EncryptionMaterials, n int) error {
	if g, ok := k.b.(backends.DataKeyGenerator); ok && k.opts.EncryptionAlgorithm.OrDefault() == backends.SymmetricDefault {
		out, err := g.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{
			KeyID:             k.keyID,
			NumberOfBytes:     n,
			EncryptionContext: m.EncryptionContext,
			GrantTokens:       k.opts.GrantTokens,
		})
		if err != nil {
			return err
		}
		if len(out.Plaintext) != n {
			clear(out.Plaintext)
			return backends.Errorf(backends.ErrInternal, "GenerateDataKey", k.keyID, "backend returned a %d-byte data key, want %d", len(out.Plaintext), n)
		}
		if err := k.appendEDK(m, out.KeyID, out.CiphertextBlob); err != nil {
			clear(out.Plaintext)
			return err
		}
		m.PlaintextDataKey = out.Plaintext
		return nil
	}
	dk := make([]byte, n)
	if _, err := rand.Read(dk); err != nil {
		return backends.Wrap(backends.ErrInternal, "OnEncrypt", k.keyID, err)
	}
	m.PlaintextDataKey = dk
	if err := k.OnEncrypt(ctx, m); err != nil {
		clear(dk)
		m.PlaintextDataKey = nil
		return err
	}
	return nil
}

func (k *Backend) appendEDK(m *envelope.EncryptionMaterials, outKeyID string, blob []byte) error {
	id := outKeyID
	if id == "" {
		id = k.keyID
	}
	pid, err := k.providerID(id)
	if err != nil {
		return err
	}
	if len(blob) == 0 || len(blob) > 0xffff || len(id) > 0xffff {
		return backends.Errorf(backends.ErrInternal, "OnEncrypt", id, "backend returned a %d-byte ciphertext blob", len(blob))
	}
	buf := make([]byte, len(id)+len(blob)) // one allocation for both copies
	n := copy(buf, id)
	copy(buf[n:], blob)
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, envelope.EncryptedDataKey{
		ProviderID:   pid,
		ProviderInfo: buf[:n:n],
		Ciphertext:   buf[n:],
	})
	return nil
}

// providerID returns the provider ID for the canonical key ID a backend answered,
// and records it as the keyring key's canonical ID if none is known yet.
func (k *Backend) providerID(id string) (string, error) {
	k.mu.Lock()
	if id == k.canonical {
		pid := k.pid
		k.mu.Unlock()
		return pid, nil
	}
	k.mu.Unlock()
	pid, err := ProviderID(id)
	if err != nil {
		return "", err
	}
	k.learn(id, pid)
	return pid, nil
}

// learn records the canonical ID of the keyring's key from a backend answer.
func (k *Backend) learn(id, pid string) {
	k.mu.Lock()
	if k.canonical == "" {
		k.canonical, k.pid = id, pid
	}
	k.mu.Unlock()
}

// known returns the key's canonical ID and its provider ID, if known yet.
func (k *Backend) known() (canonical, pid string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.canonical, k.pid
}

// canonicalID returns the key's canonical ID, asking a KeyDescriber once if need be.
func (k *Backend) canonicalID(ctx context.Context) string {
	k.mu.Lock()
	c := k.canonical
	k.mu.Unlock()
	if c != "" {
		return c
	}
	d, ok := k.b.(backends.KeyDescriber)
	if !ok {
		return ""
	}
	md, err := d.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: k.keyID, GrantTokens: k.opts.GrantTokens})
	if err != nil || md == nil || md.Arn == "" {
		return ""
	}
	pid, err := ProviderID(md.Arn)
	if err != nil {
		return ""
	}
	k.learn(md.Arn, pid)
	return md.Arn
}

// matches says whether the keyring's key wrapped an encrypted data key of provider
// pid that names the key info. When the backend cannot say which key keyID is
// (no DescribeKey, no encryption yet), every data key of the provider keyID's
// form would be written under is tried: the backend refuses the others.
func (k *Backend) matches(ctx context.Context, pid, info string) bool {
	if info == k.keyID {
		return true
	}
	c := k.canonicalID(ctx)
	if c == "" {
		return pid == k.formProvider()
	}
	if info == c {
		return true
	}
	return k.opts.MRKAware && backends.MRKMatch(c, info)
}

// formProvider returns the provider ID of the data keys that keyID's form of
// reference would be written under: aws-kms for the AWS forms and AWS key URLs,
// keyport:<scheme> for any other URL.
func (k *Backend) formProvider() string {
	ref, err := backends.ParseKeyRef(k.keyID)
	if err != nil {
		return ""
	}
	if ref.Form != backends.FormURI || ref.Scheme == "awskms" || ref.Scheme == "aws-kms" {
		return ProviderAWSKMS
	}
	return ProviderKeyportPrefix + ref.Scheme
}

// OnDecrypt unwraps the first encrypted data key of edks that the keyring's key
// wrapped. When none could be unwrapped it returns an error that keeps every
// backend error (errors.Is); when none is the keyring's, an error matching
// ErrIncorrectKey.
func (k *Backend) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	if m.PlaintextDataKey != nil {
		return nil
	}
	n := m.Suite.DataKeyLen()
	if n == 0 {
		return backends.Errorf(backends.ErrInvalidArgument, "OnDecrypt", k.keyID, "unknown algorithm suite %#04x", uint16(m.Suite))
	}
	canonical, pid := k.known()
	var errs []error
	for _, edk := range edks {
		// Fast path: the data key names, exactly, the keyring's own key under its
		// provider ID, which parseProviderInfo would accept and matches would
		// recognise; other data keys take the general path.
		if canonical != "" && edk.ProviderID == pid && string(edk.ProviderInfo) == canonical {
			dk, err := k.unwrapAs(ctx, m, edk, n, canonical)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			m.PlaintextDataKey = dk
			return nil
		}
		_, ok, err := parseProviderInfo(edk)
		if !ok {
			continue
		}
		if err != nil {
			if k.matches(ctx, edk.ProviderID, string(edk.ProviderInfo)) {
				errs = append(errs, err)
			}
			continue
		}
		if !k.matches(ctx, edk.ProviderID, string(edk.ProviderInfo)) {
			continue
		}
		dk, err := k.unwrap(ctx, m, edk, n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		m.PlaintextDataKey = dk
		return nil
	}
	return noDataKey("OnDecrypt", k.keyID, errs)
}

func (k *Backend) unwrap(ctx context.Context, m *envelope.DecryptionMaterials, edk envelope.EncryptedDataKey, n int) ([]byte, error) {
	return k.unwrapAs(ctx, m, edk, n, k.canonicalID(ctx))
}

// unwrapAs is unwrap once the key's canonical ID c is known ("" if it cannot be).
func (k *Backend) unwrapAs(ctx context.Context, m *envelope.DecryptionMaterials, edk envelope.EncryptedDataKey, n int, c string) ([]byte, error) {
	if err := backends.ContextError(ctx, "Decrypt", k.keyID); err != nil {
		return nil, err
	}
	// As the ESDK does, the keyring asks for its own key (for an MRK replica, the
	// local one), not for the key the header names.
	id := k.keyID
	if c != "" {
		id = c
	}
	out, err := k.b.Decrypt(ctx, &backends.DecryptInput{
		CiphertextBlob:      edk.Ciphertext,
		KeyID:               id,
		EncryptionContext:   m.EncryptionContext,
		GrantTokens:         k.opts.GrantTokens,
		EncryptionAlgorithm: k.opts.EncryptionAlgorithm,
	})
	if err != nil {
		return nil, err
	}
	if out.KeyID != "" && out.KeyID != id && out.KeyID != k.keyID {
		clear(out.Plaintext)
		return nil, backends.Errorf(backends.ErrIncorrectKey, "Decrypt", id, "backend decrypted with key %q, not the requested key", out.KeyID)
	}
	if len(out.Plaintext) != n {
		clear(out.Plaintext)
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, "Decrypt", id, "unwrapped data key is %d bytes, suite %#04x needs %d", len(out.Plaintext), uint16(m.Suite), n)
	}
	return out.Plaintext, nil
}

// noDataKey returns the error of a keyring that unwrapped no data key: it matches
// the kind of the collected errors when they share one (ErrIncorrectKey
// otherwise, and when there are none), only that one kind, and its message says
// why each data key failed; errors.As still reaches every service's own error.
func noDataKey(op, keyID string, errs []error) error {
	if len(errs) == 0 {
		return backends.Errorf(backends.ErrIncorrectKey, op, keyID, "no encrypted data key of the message is for this keyring")
	}
	kind := backends.KindOf(errs[0])
	for _, e := range errs[1:] {
		if backends.KindOf(e) != kind {
			kind = nil
			break
		}
	}
	if kind == nil {
		kind = backends.ErrIncorrectKey
	}
	return &backends.Error{
		Kind:    kind,
		Op:      op,
		KeyID:   keyID,
		Message: "no encrypted data key could be unwrapped: " + strings.ReplaceAll(errors.Join(errs...).Error(), "\n", "; "),
		Err:     errors.Join(errs...),
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
