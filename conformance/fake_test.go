package conformance_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/keyport/keyport/backends"
)

// fakeKMS is a small in-memory key service with AWS KMS semantics, written here so
// that the suite is tested on its own, apart from any real driver. It can be broken
// on purpose (see breakage) to show that the suite catches the fault.
type fakeKMS struct {
	mu     sync.Mutex
	region string
	keys   map[string]*fakeKey // by key ID
	alias  map[string]string   // account + "/" + alias name -> key ID
	broken string
}

type fakeKey struct {
	id, account string
	aead        cipher.AEAD
	state       backends.KeyState
	deletion    time.Time
}

// fakeClient is a caller in one account of a fakeKMS.
type fakeClient struct {
	kms     *fakeKMS
	account string
}

var (
	_ backends.Backend             = (*fakeClient)(nil)
	_ backends.ReEncrypter         = (*fakeClient)(nil)
	_ backends.DataKeyGenerator    = (*fakeClient)(nil)
	_ backends.KeyDescriber        = (*fakeClient)(nil)
	_ backends.CiphertextInspector = (*fakeClient)(nil)
)

// breakage is the environment variable that breaks the fake on purpose.
const breakage = "KEYPORT_CONFORMANCE_BREAK"

func newFakeKMS() *fakeKMS {
	return &fakeKMS{region: "us-east-1", keys: map[string]*fakeKey{}, alias: map[string]string{}, broken: os.Getenv(breakage)}
}

func (k *fakeKMS) client(account string) *fakeClient { return &fakeClient{kms: k, account: account} }

func (k *fakeKMS) arn(key *fakeKey) string {
	return backends.KeyARN("aws", k.region, key.account, key.id)
}

// createKey makes a key in account, with an alias when alias is not empty.
func (k *fakeKMS) createKey(account, alias string) string {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		panic(err)
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		panic(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		panic(err)
	}
	key := &fakeKey{id: newUUID(), account: account, aead: aead, state: backends.KeyStateEnabled}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[key.id] = key
	if alias != "" {
		k.alias[account+"/"+alias] = key.id
	}
	return k.arn(key)
}

func (k *fakeKMS) setState(arn string, st backends.KeyState) {
	ref, _ := backends.ParseKeyRef(arn)
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keys[ref.KeyID].state = st
	if st == backends.KeyStatePendingDeletion {
		k.keys[ref.KeyID].deletion = time.Now().Add(7 * 24 * time.Hour)
	}
}

// resolve finds the key ref names for a caller in c.account. Callers hold k.mu.
func (c *fakeClient) resolve(op, ref string) (*fakeKey, error) {
	r, err := backends.ParseKeyRef(ref)
	if err != nil {
		return nil, backends.Errorf(backends.ErrNotFound, op, ref, "invalid key reference")
	}
	account := c.account
	if r.IsARN() {
		if r.Region != c.kms.region || r.Partition != "aws" {
			return nil, backends.Errorf(backends.ErrNotFound, op, ref, "no such key")
		}
		account = r.Account
	}
	id := r.KeyID
	if r.Alias != "" {
		id = c.kms.alias[account+"/"+r.Alias]
	}
	key := c.kms.keys[id]
	if key == nil || key.account != account || r.Form == backends.FormURI {
		return nil, backends.Errorf(backends.ErrNotFound, op, ref, "no such key")
	}
	return key, nil
}

func usable(op, ref string, key *fakeKey) error {
	switch key.state {
	case backends.KeyStateEnabled:
		return nil
	case backends.KeyStateDisabled:
		return backends.Errorf(backends.ErrDisabled, op, ref, "the key is disabled")
	}
	return backends.Errorf(backends.ErrInvalidState, op, ref, "the key is %s", key.state)
}

// The blob: version 1, the 36-byte key ID, a 12-byte nonce, the sealed data. The
// header and the encoded context are the additional data.
const headerLen = 1 + 36

func (c *fakeClient) aad(header []byte, ec map[string]string) []byte {
	if c.kms.broken == "context" {
		return header
	}
	if c.kms.broken == "malleable" {
		header = header[1:] // the version byte is neither checked nor bound
	}
	return append(bytes.Clone(header), backends.EncodeEncryptionContext(ec)...)
}

func (c *fakeClient) seal(key *fakeKey, pt []byte, ec map[string]string) []byte {
	header := append([]byte{1}, key.id...)
	nonce := make([]byte, 12)
	if _, err := rand.Read(nonce); err != nil {
		panic(err)
	}
	if c.kms.broken == "nonce" {
		clear(nonce)
	}
	out := append(bytes.Clone(header), nonce...)
	return key.aead.Seal(out, nonce, pt, c.aad(header, ec))
}

func (c *fakeClient) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	if err := backends.ContextError(ctx, "Encrypt", in.KeyID); err != nil {
		return nil, err
	}
	c.kms.mu.Lock()
	defer c.kms.mu.Unlock()
	key, err := c.resolve("Encrypt", in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := usable("Encrypt", in.KeyID, key); err != nil {
		return nil, err
	}
	if len(in.Plaintext) > 4096 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "Encrypt", in.KeyID, "plaintext longer than 4096 bytes")
	}
	if in.DryRun {
		return nil, backends.Errorf(backends.ErrDryRunOperation, "Encrypt", in.KeyID, "DryRun is set")
	}
	return &backends.EncryptOutput{CiphertextBlob: c.seal(key, in.Plaintext, in.EncryptionContext), KeyID: c.kms.arn(key), EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

// open checks and decrypts blob for op; keyRef may be empty. Callers hold k.mu.
func (c *fakeClient) open(op, keyRef string, blob []byte, ec map[string]string) (*fakeKey, []byte, error) {
	bad := func() error {
		return backends.Errorf(backends.ErrInvalidCiphertext, op, keyRef, "the ciphertext is not valid")
	}
	if c.kms.broken == "trailing" && len(blob) > headerLen+12+16+32 {
		blob = blob[:headerLen+12+16+32] // reads a 32-byte payload, ignoring what follows
	}
	var named *fakeKey
	if keyRef != "" {
		k, err := c.resolve(op, keyRef)
		if err != nil {
			return nil, nil, err
		}
		named = k
	}
	if len(blob) < headerLen+12+16 || blob[0] != 1 && c.kms.broken != "malleable" {
		return nil, nil, bad()
	}
	key := c.kms.keys[string(blob[1:headerLen])]
	if key == nil {
		return nil, nil, bad()
	}
	if named != nil && named != key {
		if c.kms.broken == "incorrectkey" {
			return nil, nil, bad()
		}
		return nil, nil, backends.Errorf(backends.ErrIncorrectKey, op, keyRef, "the ciphertext was made under another key")
	}
	if err := usable(op, c.kms.arn(key), key); err != nil {
		return nil, nil, err
	}
	pt, err := key.aead.Open(nil, blob[headerLen:headerLen+12], blob[headerLen+12:], c.aad(blob[:headerLen], ec))
	if err != nil && c.kms.broken == "wrongpt" && len(ec) == 1 && ec["case"] == "flip" {
		return key, make([]byte, len(blob)-headerLen-12-16), nil // garbage out instead of an error
	}
	if err != nil {
		return nil, nil, bad()
	}
	return key, pt, nil
}

func (c *fakeClient) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	if err := backends.ContextError(ctx, "Decrypt", in.KeyID); err != nil {
		return nil, err
	}
	c.kms.mu.Lock()
	defer c.kms.mu.Unlock()
	key, pt, err := c.open("Decrypt", in.KeyID, in.CiphertextBlob, in.EncryptionContext)
	if err != nil {
		return nil, err
	}
	if in.DryRun {
		clear(pt)
		return nil, backends.Errorf(backends.ErrDryRunOperation, "Decrypt", in.KeyID, "DryRun is set")
	}
	return &backends.DecryptOutput{Plaintext: pt, KeyID: c.kms.arn(key), EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

func (c *fakeClient) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	if err := backends.ContextError(ctx, "ReEncrypt", in.SourceKeyID); err != nil {
		return nil, err
	}
	c.kms.mu.Lock()
	defer c.kms.mu.Unlock()
	dst, err := c.resolve("ReEncrypt", in.DestinationKeyID)
	if err != nil {
		return nil, err
	}
	src, pt, err := c.open("ReEncrypt", in.SourceKeyID, in.CiphertextBlob, in.SourceEncryptionContext)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	if err := usable("ReEncrypt", in.DestinationKeyID, dst); err != nil {
		return nil, err
	}
	if in.DryRun {
		return nil, backends.Errorf(backends.ErrDryRunOperation, "ReEncrypt", in.DestinationKeyID, "DryRun is set")
	}
	return &backends.ReEncryptOutput{
		CiphertextBlob: c.seal(dst, pt, in.DestinationEncryptionContext),
		SourceKeyID:    c.kms.arn(src), KeyID: c.kms.arn(dst),
		SourceEncryptionAlgorithm: backends.SymmetricDefault, DestinationEncryptionAlgorithm: backends.SymmetricDefault,
		Native: true,
	}, nil
}

func (c *fakeClient) GenerateDataKey(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	n := in.NumberOfBytes
	if n == 0 {
		n = 32
	}
	if n < 1 || n > 1024 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "GenerateDataKey", in.KeyID, "NumberOfBytes must be 1 to 1024")
	}
	pt := make([]byte, n)
	if _, err := rand.Read(pt); err != nil {
		return nil, backends.Wrap(backends.ErrInternal, "GenerateDataKey", in.KeyID, err)
	}
	out, err := c.Encrypt(ctx, &backends.EncryptInput{KeyID: in.KeyID, Plaintext: pt, EncryptionContext: in.EncryptionContext, DryRun: in.DryRun})
	if err != nil {
		clear(pt)
		var e *backends.Error
		if errors.As(err, &e) {
			c := *e
			c.Op = "GenerateDataKey"
			return nil, &c
		}
		return nil, err
	}
	return &backends.GenerateDataKeyOutput{CiphertextBlob: out.CiphertextBlob, Plaintext: pt, KeyID: out.KeyID}, nil
}

func (c *fakeClient) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	out, err := c.GenerateDataKey(ctx, in)
	if err != nil {
		return nil, err
	}
	clear(out.Plaintext)
	out.Plaintext = nil
	return out, nil
}

func (c *fakeClient) DescribeKey(ctx context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	if err := backends.ContextError(ctx, "DescribeKey", in.KeyID); err != nil {
		return nil, err
	}
	c.kms.mu.Lock()
	defer c.kms.mu.Unlock()
	key, err := c.resolve("DescribeKey", in.KeyID)
	if err != nil {
		return nil, err
	}
	return &backends.KeyMetadata{Arn: c.kms.arn(key), KeyID: key.id, AWSAccountID: key.account, Region: c.kms.region,
		KeyState: key.state, KeyUsage: backends.KeyUsageEncryptDecrypt, KeySpec: "SYMMETRIC_DEFAULT", DeletionDate: key.deletion}, nil
}

func (c *fakeClient) CiphertextKeyID(blob []byte) (string, error) {
	if len(blob) < headerLen+12+16 || blob[0] != 1 {
		return "", backends.Errorf(backends.ErrInvalidCiphertext, "CiphertextKeyID", "", "not a fake blob")
	}
	c.kms.mu.Lock()
	defer c.kms.mu.Unlock()
	key := c.kms.keys[string(blob[1:headerLen])]
	if key == nil {
		return "", backends.Errorf(backends.ErrInvalidCiphertext, "CiphertextKeyID", "", "not a fake blob")
	}
	return c.kms.arn(key), nil
}

// forms returns a key ARN in all four AWS forms, given its alias.
func forms(arn, alias string) []string {
	ref, _ := backends.ParseKeyRef(arn)
	return []string{ref.KeyID, arn, alias, backends.AliasARN(ref.Partition, ref.Region, ref.Account, alias)}
}

// newUUID returns a random lower-case UUID, as key IDs are.
func newUUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
