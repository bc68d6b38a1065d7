package kmsapi

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/reencrypt"
)

// ExternalKey puts a key of another provider behind a KMS key: requests that name
// the KMS key (by key ID, key ARN, one of its alias names or alias ARNs) in
// Account and Region go, through [Options.Front], to the key URL URL
// (vault://transit/orders, gcpkms://projects/..., pkcs11:..., or an AWS KMS ARN
// the Front routes). Encrypt, Decrypt, ReEncrypt (through reencrypt.Engine when
// the other key is elsewhere), GenerateDataKey, GenerateDataKeyWithoutPlaintext and
// DescribeKey work on it; its lifecycle (state, rotation, policy, grants) is the
// provider's, so the administrative operations answer UnsupportedOperationException.
//
// Ciphertexts the server returns for such a key carry the KMS key's ARN before the
// provider's own ciphertext, so that Decrypt and ReEncrypt find the key without a
// KeyId, as AWS KMS does; the provider's authentication covers the rest. A
// provider's own ciphertext decrypts too when the request names the key.
//
// That ARN is not authenticated by the provider, so each provider key sits behind
// one KMS key: two external keys with one URL are refused (otherwise a caller
// allowed one could decrypt the other's ciphertexts by rewriting the ARN). Name a
// key by one spelling of its URL throughout.
type ExternalKey struct {
	// Account (12 digits) and Region say where the KMS key lives.
	Account, Region string
	// KeyID is the KMS key ID; empty means one derived from Account, Region and
	// URL, stable across restarts.
	KeyID string
	// Aliases are alias names of the key in Account ("alias/vault-orders").
	Aliases []string
	// URL is the key the Front opens.
	URL         string
	Description string
	// Principals who may use the key besides those of Account: principal ARNs or
	// account IDs.
	Principals []string
}

// extKey is an ExternalKey with its ARN.
type extKey struct {
	ExternalKey
	arn, partition string
}

// aliasARN returns the ARN of the key's alias name.
func (k *extKey) aliasARN(name string) string {
	return backends.AliasARN(k.partition, k.Region, k.Account, name)
}

// firstPageMarker is the marker of the second page of ListKeys when the first
// held only external keys: the keys of backends/local from their start.
const firstPageMarker = "keyport-external-keys-listed"

// externalKeys returns the external keys of c's caller's account and region, in
// the order of the configuration.
func (c *call) externalKeys() []*extKey {
	var out []*extKey
	for _, k := range c.s.extOrder {
		if k.Account == c.p.Account && k.Region == c.region {
			out = append(out, k)
		}
	}
	return out
}

// externalMagic starts every ciphertext the server returns for an external key:
// "KX" and a format version. (backends/local's blobs start with 'k'.)
var externalMagic = []byte{'K', 'X', 1}

// addExternal indexes the external keys of opts. The caller holds no lock: New
// runs before the server serves.
func (s *Server) addExternal(keys []ExternalKey) error {
	if len(keys) > 0 && s.front == nil {
		return errors.New("kmsapi: external keys need Options.Front to open their URLs")
	}
	s.ext = map[string]*extKey{}
	urls := map[string]bool{}
	for _, k := range keys {
		svc := s.services[k.Region]
		switch {
		case svc == nil:
			return fmt.Errorf("kmsapi: external key %s: no key service for region %q", k.URL, k.Region)
		case !backends.IsAccountID(k.Account):
			return fmt.Errorf("kmsapi: external key %s: account %q is not 12 digits", k.URL, k.Account)
		case k.URL == "":
			return errors.New("kmsapi: an external key has no URL")
		}
		ref, err := backends.ParseKeyRef(k.URL)
		if err != nil {
			return fmt.Errorf("kmsapi: external key %s: %w", k.URL, err)
		}
		if urls[ref.Raw] {
			return fmt.Errorf("kmsapi: external key %s: two external keys have this URL; a provider key sits behind one KMS key", k.URL)
		}
		urls[ref.Raw] = true
		if k.KeyID == "" {
			k.KeyID = derivedKeyID(k.Account, k.Region, k.URL)
		}
		arn := backends.KeyARN(svc.Partition(), k.Region, k.Account, k.KeyID)
		if r, err := backends.ParseKeyRef(arn); err != nil || r.Form != backends.FormKeyARN {
			return fmt.Errorf("kmsapi: external key %s: key ID %q is not a KMS key ID", k.URL, k.KeyID)
		}
		e := &extKey{ExternalKey: k, arn: arn, partition: svc.Partition()}
		s.extOrder = append(s.extOrder, e)
		names := []string{arn, k.Account + "/" + k.Region + "/" + k.KeyID}
		for _, a := range k.Aliases {
			if r, err := backends.ParseKeyRef(a); err != nil || r.Form != backends.FormAliasName {
				return fmt.Errorf("kmsapi: external key %s: %q is not an alias name", k.URL, a)
			}
			names = append(names, backends.AliasARN(svc.Partition(), k.Region, k.Account, a), k.Account+"/"+k.Region+"/"+a)
		}
		for _, n := range names {
			if _, dup := s.ext[n]; dup {
				return fmt.Errorf("kmsapi: external key %s: %s names two keys", k.URL, n)
			}
			s.ext[n] = e
		}
	}
	return nil
}

// derivedKeyID returns a key ID in the UUID form, from the SHA-256 of the key's
// place and URL.
func derivedKeyID(account, region, url string) string {
	h := sha256.Sum256([]byte("keyport kmsapi external key\x00" + account + "\x00" + region + "\x00" + url))
	h[6] = h[6]&0x0f | 0x40
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// external returns the external key ref names for c's caller, or nil when ref
// names none (a key of backends/local, or nothing).
func (c *call) external(ref string) *extKey {
	if len(c.s.ext) == 0 || ref == "" {
		return nil
	}
	if k := c.s.ext[ref]; k != nil { // an ARN
		return k
	}
	return c.s.ext[c.p.Account+"/"+c.region+"/"+ref] // a key ID or alias name
}

// authorizeExternal lets the principals of the key's account and those it names
// use it.
func (c *call) authorizeExternal(k *extKey, action string) error {
	if c.p.Account == k.Account || slices.Contains(k.Principals, c.p.ARN) || slices.Contains(k.Principals, c.p.Account) {
		return nil
	}
	return backends.Errorf(backends.ErrAccessDenied, "", k.arn, "User: %s is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action",
		c.p.ARN, action, k.arn, action)
}

// wrapExternal returns the server's ciphertext for a provider's: the magic, the
// KMS key ARN and the provider's ciphertext.
func wrapExternal(k *extKey, blob []byte) []byte {
	b := make([]byte, 0, len(externalMagic)+2+len(k.arn)+len(blob))
	b = append(b, externalMagic...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(k.arn)))
	b = append(b, k.arn...)
	return append(b, blob...)
}

// unwrapExternal returns the external key and the provider's ciphertext of a blob
// made by wrapExternal; ok is false for any other blob. A blob in the format
// whose key the server does not know is NotFound, as AWS answers for a deleted
// key.
func (s *Server) unwrapExternal(blob []byte) (k *extKey, inner []byte, ok bool, err error) {
	if len(blob) < len(externalMagic)+2 || string(blob[:len(externalMagic)]) != string(externalMagic) {
		return nil, nil, false, nil
	}
	rest := blob[len(externalMagic):]
	n := int(binary.BigEndian.Uint16(rest))
	if len(rest) < 2+n+1 {
		return nil, nil, true, backends.Errorf(backends.ErrInvalidCiphertext, "", "", "the ciphertext is not valid")
	}
	arn := string(rest[2 : 2+n])
	if k = s.ext[arn]; k == nil || k.arn != arn {
		return nil, nil, true, backends.Errorf(backends.ErrNotFound, "", arn, "Key '%s' does not exist", printable(arn))
	}
	return k, rest[2+n:], true, nil
}

// describeExternal describes an external key: the KMS key's identity, and the
// state the provider reports when it can.
func (c *call) describeExternal(k *extKey, grantTokens []string) (*backends.KeyMetadata, error) {
	if err := c.authorizeExternal(k, "kms:DescribeKey"); err != nil {
		return nil, err
	}
	md := &backends.KeyMetadata{Arn: k.arn, KeyID: k.KeyID, AWSAccountID: k.Account, Region: k.Region,
		KeyState: backends.KeyStateEnabled, KeyUsage: backends.KeyUsageEncryptDecrypt, KeySpec: "SYMMETRIC_DEFAULT",
		EncryptionAlgorithms: []backends.Algorithm{backends.SymmetricDefault}, Description: k.Description}
	pmd, err := c.s.front.DescribeKey(c.ctx, &backends.DescribeKeyInput{KeyID: k.URL, GrantTokens: grantTokens})
	switch {
	case err == nil:
		md.KeyState, md.CreationDate, md.DeletionDate = pmd.KeyState, pmd.CreationDate, pmd.DeletionDate
		if md.Description == "" {
			md.Description = pmd.Description
		}
	case !errors.Is(err, backends.ErrUnsupported):
		return nil, err
	}
	md.Enabled = md.KeyState == backends.KeyStateEnabled
	return md, nil
}

// notForExternal refuses an administrative operation on an external key.
func (c *call) notForExternal(op, ref string) error {
	if k := c.external(ref); k != nil {
		return newAPIError(typeUnsupported, http.StatusBadRequest, fmt.Sprintf("%s is not supported for %s: its key is %s, whose lifecycle is its provider's.", op, k.arn, printable(k.URL)))
	}
	return nil
}

// reEncryptExternal re-encrypts when either key is external: through
// reencrypt.Engine over a Front that routes the caller's keys of backends/local to
// its local client and the external key's URL to Options.Front. ok is false when
// neither key is external.
func (c *call) reEncryptExternal(in *backends.ReEncryptInput) (out *backends.ReEncryptOutput, ok bool, err error) {
	srcExt, inner, wrapped, err := c.s.unwrapExternal(in.CiphertextBlob)
	if err != nil {
		return nil, true, err
	}
	if in.SourceKeyID != "" {
		named := c.external(in.SourceKeyID)
		switch {
		case wrapped && named != srcExt:
			return nil, true, backends.Errorf(backends.ErrIncorrectKey, "", in.SourceKeyID, "the ciphertext was not encrypted under the key %s", printable(in.SourceKeyID))
		case !wrapped && named != nil:
			srcExt, inner = named, in.CiphertextBlob
		}
	}
	dstExt := c.external(in.DestinationKeyID)
	if srcExt == nil && dstExt == nil {
		return nil, false, nil
	}
	f := backends.NewFront(c.client)
	e := *in
	route := func(ref string, b backends.Backend) error {
		r, err := backends.ParseKeyRef(ref)
		switch {
		case err != nil:
			return nil // the Front answers for it
		case r.Form == backends.FormURI:
			if f.Register(r.Scheme, b) != nil {
				return nil // already routed
			}
		case r.IsARN():
			return f.RegisterPartitionAccount(r.Partition, r.Account, r.Region, b)
		}
		return nil
	}
	if srcExt != nil {
		if err := c.authorizeExternal(srcExt, "kms:ReEncryptFrom"); err != nil {
			return nil, true, err
		}
		e.CiphertextBlob, e.SourceKeyID = inner, srcExt.URL
		err = route(srcExt.URL, c.s.front)
	} else {
		if e.SourceKeyID == "" {
			if e.SourceKeyID, err = c.client.CiphertextKeyID(in.CiphertextBlob); err != nil {
				return nil, true, err
			}
		}
		err = route(e.SourceKeyID, c.client)
	}
	if err != nil {
		return nil, true, err
	}
	if dstExt != nil {
		if err := c.authorizeExternal(dstExt, "kms:ReEncryptTo"); err != nil {
			return nil, true, err
		}
		e.DestinationKeyID = dstExt.URL
		err = route(dstExt.URL, c.s.front)
	} else {
		err = route(e.DestinationKeyID, c.client)
	}
	if err != nil {
		return nil, true, err
	}
	out, err = reencrypt.New(f).ReEncrypt(c.ctx, &e)
	if err != nil {
		return nil, true, err
	}
	if srcExt != nil {
		out.SourceKeyID = srcExt.arn
	}
	if dstExt != nil {
		out.KeyID, out.CiphertextBlob = dstExt.arn, wrapExternal(dstExt, out.CiphertextBlob)
	}
	return out, true, nil
}

// encryptExternal, decryptExternal and generateExternal are the cryptographic
// operations on an external key.
func (c *call) encryptExternal(k *extKey, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	if err := c.authorizeExternal(k, "kms:Encrypt"); err != nil {
		return nil, err
	}
	e := *in
	e.KeyID = k.URL
	out, err := c.s.front.Encrypt(c.ctx, &e)
	if err != nil {
		return nil, err
	}
	return &backends.EncryptOutput{CiphertextBlob: wrapExternal(k, out.CiphertextBlob), KeyID: k.arn, EncryptionAlgorithm: out.EncryptionAlgorithm}, nil
}

func (c *call) decryptExternal(k *extKey, inner []byte, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	if err := c.authorizeExternal(k, "kms:Decrypt"); err != nil {
		return nil, err
	}
	d := *in
	d.KeyID, d.CiphertextBlob = k.URL, inner
	out, err := c.s.front.Decrypt(c.ctx, &d)
	if err != nil {
		return nil, err
	}
	out.KeyID = k.arn
	return out, nil
}

func (c *call) generateExternal(k *extKey, in *backends.GenerateDataKeyInput, withPlaintext bool) (*backends.GenerateDataKeyOutput, error) {
	action := "kms:GenerateDataKeyWithoutPlaintext"
	if withPlaintext {
		action = "kms:GenerateDataKey"
	}
	if err := c.authorizeExternal(k, action); err != nil {
		return nil, err
	}
	g := *in
	g.KeyID = k.URL
	var out *backends.GenerateDataKeyOutput
	var err error
	if withPlaintext {
		out, err = c.s.front.GenerateDataKey(c.ctx, &g)
	} else {
		out, err = c.s.front.GenerateDataKeyWithoutPlaintext(c.ctx, &g)
	}
	if err != nil {
		return nil, err
	}
	out.KeyID, out.CiphertextBlob = k.arn, wrapExternal(k, out.CiphertextBlob)
	return out, nil
}
