package kmstest

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
)

// Fake is an in-memory key service for tests, with AWS KMS semantics where a
// test can see them: AES-256-GCM keys named by their canonical ID (a key ARN,
// or a URI such as vault://transit/orders), aliases, key states, multi-Region
// replicas, an encryption context bound exactly, blobs that name their key
// (IncorrectKey for a blob of another key, InvalidCiphertext for a damaged
// one), native ReEncrypt, GenerateDataKey, DescribeKey and CiphertextKeyID.
//
// It records every call that reaches it ([Fake.Calls]), with the plaintext
// slices handed in and out, so that a test can count calls and check that the
// code under test wiped plaintext ([Fake.WantWiped]). A test makes it fail
// calls with [Fake.Inject], choose how DryRun is answered with [Fake.DryRun],
// and hide optional capabilities with [Fake.Only].
//
// Like every driver it leaves the generic input checks (nil input, a done ctx,
// sizes) to the [backends.Front] in front of it. A *Fake is safe for
// concurrent calls; its exported fields are set before the calls that use them.
type Fake struct {
	// Account and Region, when set, are the caller's: a bare key ID or alias
	// name, and an alias ARN of that account and region, resolve in them (the
	// partition is "aws"), as AWS KMS resolves them in the caller's account.
	// Without them only canonical IDs and the aliases given to AddAlias resolve.
	Account, Region string

	// DryRun says how a request with DryRun set is answered, once every check
	// has passed.
	DryRun DryRunMode

	// Inject, when set, is called with every call that reaches the fake, once
	// it is recorded and before the fake does anything: an error it returns is
	// the call's answer. [FailNext] and [FailOp] make common ones.
	Inject func(Call) error

	// Fault breaks the fake in one way on purpose (see [Fault]).
	Fault Fault

	mu      sync.Mutex
	keys    map[string]*key   // by canonical ID
	handles map[string]*key   // by blob handle: the first key added with it
	aliases map[string]string // alias reference, as given -> canonical ID
	calls   []Call
}

// DryRunMode says how a [Fake] answers a request with DryRun set.
type DryRunMode int

// DryRun modes.
const (
	// DryRunSupported answers DryRunOperation when the request would succeed,
	// as AWS KMS does.
	DryRunSupported DryRunMode = iota
	// DryRunUnsupported answers UnsupportedOperation, as a service without
	// DryRun does.
	DryRunUnsupported
	// DryRunIgnored does the real work as if DryRun were not set, as a careless
	// service would.
	DryRunIgnored
)

// Fault is a way to break a [Fake] on purpose. The faults exist for one test:
// the conformance suite's own (conformance's TestSuiteCatchesFaults), which
// breaks the fake in each way and checks that the suite notices. They live
// here rather than in a second fake so that the suite is checked against the
// very fake the other tests trust; no other test sets one.
type Fault string

// Faults. Each breaks one promise of the contract.
const (
	// FaultUnboundContext leaves the encryption context out of the data the
	// blob authenticates: any context decrypts.
	FaultUnboundContext Fault = "context"
	// FaultFixedNonce seals every blob under the same all-zero nonce.
	FaultFixedNonce Fault = "nonce"
	// FaultIncorrectKeyAsInvalid answers a blob of another key with
	// InvalidCiphertext instead of IncorrectKey.
	FaultIncorrectKeyAsInvalid Fault = "incorrectkey"
	// FaultTrailingIgnored reads a 32-byte payload and ignores what follows it.
	FaultTrailingIgnored Fault = "trailing"
	// FaultMalleableVersion neither checks nor authenticates the blob's
	// version byte.
	FaultMalleableVersion Fault = "malleable"
	// FaultWrongPlaintext decrypts a damaged blob under the context
	// {"case": "flip"} to zeros instead of failing.
	FaultWrongPlaintext Fault = "wrongpt"
)

// Call is one call that reached a [Fake], as it saw it.
type Call struct {
	// Op is the operation: "Encrypt", "Decrypt", "ReEncrypt",
	// "GenerateDataKey", "GenerateDataKeyWithoutPlaintext" or "DescribeKey".
	Op string
	// KeyID is the key the call named (the destination key of a ReEncrypt),
	// as the fake was handed it.
	KeyID string
	// SourceKeyID is the source key of a ReEncrypt, as handed.
	SourceKeyID string
	// DryRun is the request's DryRun.
	DryRun bool
	// Plaintext is the very slice the fake was handed (Encrypt) or handed out
	// (Decrypt, GenerateDataKey), nil if none.
	Plaintext []byte
	// Err is the call's answer: nil for a success.
	Err error
}

// String says what the call was, as "Op KeyID", or "ReEncrypt Source>Destination".
func (c Call) String() string {
	if c.Op == "ReEncrypt" {
		return c.Op + " " + c.SourceKeyID + ">" + c.KeyID
	}
	return c.Op + " " + c.KeyID
}

type key struct {
	id       string
	handle   string // 16 random bytes, in the blob's header; a replica shares it
	aead     cipher.AEAD
	state    backends.KeyState
	deletion time.Time
}

var (
	_ backends.Backend             = (*Fake)(nil)
	_ backends.ReEncrypter         = (*Fake)(nil)
	_ backends.DataKeyGenerator    = (*Fake)(nil)
	_ backends.KeyDescriber        = (*Fake)(nil)
	_ backends.CiphertextInspector = (*Fake)(nil)
)

// New returns a Fake holding a new enabled key for each canonical ID in ids
// (see [Fake.AddKey]).
func New(ids ...string) *Fake {
	f := &Fake{keys: map[string]*key{}, handles: map[string]*key{}, aliases: map[string]string{}}
	for _, id := range ids {
		f.AddKey(id)
	}
	return f
}

// AddKey makes a new enabled key whose canonical ID is id, and returns id. A
// multi-Region key ARN whose key ID is already a key's is a replica of that
// key: it shares its key material, and each opens the other's blobs. A test
// that adds the same ID twice is wrong: AddKey panics.
func (f *Fake) AddKey(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" || f.keys[id] != nil {
		panic(fmt.Sprintf("kmstest: key %q is empty or added twice", id))
	}
	k := &key{id: id, state: backends.KeyStateEnabled}
	if r, err := backends.ParseKeyRef(id); err == nil && r.MultiRegion() {
		for _, o := range f.keys {
			if or, _ := backends.ParseKeyRef(o.id); or.KeyID == r.KeyID {
				k.handle, k.aead = o.handle, o.aead
				break
			}
		}
	}
	if k.aead == nil {
		material := make([]byte, 32+16)
		_, _ = rand.Read(material) // crypto/rand never fails
		block, _ := aes.NewCipher(material[:32])
		k.aead, _ = cipher.NewGCM(block)
		k.handle = string(material[32:])
		f.handles[k.handle] = k
	}
	f.keys[id] = k
	return id
}

// AddAlias makes alias name the key keyID (in any form the fake resolves).
// alias is a reference as callers will give it: an alias name ("alias/orders",
// which also resolves as the alias ARN of Account and Region), an alias ARN,
// or any other string (a URL form of the key, say).
func (f *Fake) AddAlias(alias, keyID string) {
	k, err := f.resolve("AddAlias", keyID)
	if err != nil {
		panic("kmstest: " + err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.aliases[alias] = k.id
}

// SetState sets the state of the key keyID (in any form the fake resolves). A
// key pending deletion gets a deletion date a week away.
func (f *Fake) SetState(keyID string, st backends.KeyState) {
	k, err := f.resolve("SetState", keyID)
	if err != nil {
		panic("kmstest: " + err.Error())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k.state = st
	k.deletion = time.Time{}
	if st == backends.KeyStatePendingDeletion {
		k.deletion = time.Now().Add(7 * 24 * time.Hour)
	}
}

// Seal returns a blob of pt under the key keyID (in any form the fake
// resolves, whatever its state) bound to ec, as Encrypt would, without
// recording a call: for a test that needs a blob without calling the code
// under test. It panics if keyID is no key of the fake.
func (f *Fake) Seal(keyID string, ec map[string]string, pt []byte) []byte {
	k, err := f.resolve("Seal", keyID)
	if err != nil {
		panic("kmstest: " + err.Error())
	}
	return f.seal(k, pt, ec)
}

// Open reads a blob of the fake under ec, whatever its key's state, without
// recording a call: for a test that checks what the code under test sealed. It
// returns the canonical ID of the key that made the blob and the plaintext.
func (f *Fake) Open(blob []byte, ec map[string]string) (keyID string, pt []byte, err error) {
	k, pt, err := f.open("Open", "", blob, ec, false)
	if err != nil {
		return "", nil, err
	}
	return k.id, pt, nil
}

// Calls returns the calls of op that reached the fake, in order; every call
// when op is "".
func (f *Fake) Calls(op string) []Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Call
	for _, c := range f.calls {
		if op == "" || c.Op == op {
			out = append(out, c)
		}
	}
	return out
}

// Last returns the last call of op (of any operation when op is "") that
// reached the fake, or the zero Call if none did.
func (f *Fake) Last(op string) Call {
	calls := f.Calls(op)
	if len(calls) == 0 {
		return Call{}
	}
	return calls[len(calls)-1]
}

// Count returns the number of calls of op that reached the fake (of every
// operation when op is "").

func (f *Fake) Count(op string) int { return len(f.Calls(op)) }

// Succeeded returns the number of calls of op (of every operation when op is
// "") that the fake answered without an error: the ones that did real work.
func (f *Fake) Succeeded(op string) int {
	n := 0
	for _, c := range f.Calls(op) {
		if c.Err == nil {
			n++
		}
	}
	return n
}

// WantWiped fails t unless every plaintext slice the fake was handed (Encrypt)
// or handed out (Decrypt, GenerateDataKey) is all zero bytes by now.
func (f *Fake) WantWiped(t testing.TB) {
	t.Helper()
	for i, c := range f.Calls("") {
		if len(c.Plaintext) > 0 && !bytes.Equal(c.Plaintext, make([]byte, len(c.Plaintext))) {
			t.Errorf("call %d (%s %s): its %d bytes of plaintext were not wiped", i, c.Op, c.KeyID, len(c.Plaintext))
		}
	}
}

// FailNext returns an [Fake.Inject] hook that answers the next calls,
// whatever their operation, with errs in turn, and lets every later call
// through.
func FailNext(errs ...error) func(Call) error {
	var mu sync.Mutex
	return func(Call) error {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) == 0 {
			return nil
		}
		err := errs[0]
		errs = errs[1:]
		return err
	}
}

// FailOp returns an [Fake.Inject] hook that answers every call of op with err.
func FailOp(op string, err error) func(Call) error {
	return func(c Call) error {
		if c.Op == op {
			return err
		}
		return nil
	}
}

// serve records c, lets Inject answer it, else answers it with do, and records
// the answer and the plaintext it hands out.
func serve[T any](f *Fake, c Call, do func() (*T, error)) (*T, error) {
	f.mu.Lock()
	i := len(f.calls)
	f.calls = append(f.calls, c)
	inject := f.Inject
	f.mu.Unlock()
	var out *T
	var err error
	if inject != nil {
		err = inject(c)
	}
	if err == nil {
		out, err = do()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[i].Err = err
	switch o := any(out).(type) {
	case *backends.DecryptOutput:
		if o != nil {
			f.calls[i].Plaintext = o.Plaintext
		}
	case *backends.GenerateDataKeyOutput:
		if o != nil && o.Plaintext != nil {
			f.calls[i].Plaintext = o.Plaintext
		}
	}
	return out, err
}

// Encrypt seals in.Plaintext under in.KeyID.
func (f *Fake) Encrypt(_ context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	const op = "Encrypt"
	return serve(f, Call{Op: op, KeyID: in.KeyID, DryRun: in.DryRun, Plaintext: in.Plaintext}, func() (*backends.EncryptOutput, error) {
		k, err := f.usable(op, in.KeyID)
		if err != nil {
			return nil, err
		}
		if err := symmetric(op, in.KeyID, in.EncryptionAlgorithm); err != nil {
			return nil, err
		}
		if err := f.dryRun(op, in.KeyID, in.DryRun); err != nil {
			return nil, err
		}
		return &backends.EncryptOutput{CiphertextBlob: f.seal(k, in.Plaintext, in.EncryptionContext), KeyID: k.id, EncryptionAlgorithm: backends.SymmetricDefault}, nil
	})
}

// Decrypt opens in.CiphertextBlob, with the key in.KeyID names or, when it is
// empty, the key the blob names.
func (f *Fake) Decrypt(_ context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	const op = "Decrypt"
	return serve(f, Call{Op: op, KeyID: in.KeyID, DryRun: in.DryRun}, func() (*backends.DecryptOutput, error) {
		if err := symmetric(op, in.KeyID, in.EncryptionAlgorithm); err != nil {
			return nil, err
		}
		k, pt, err := f.open(op, in.KeyID, in.CiphertextBlob, in.EncryptionContext, true)
		if err != nil {
			return nil, err
		}
		if err := f.dryRun(op, in.KeyID, in.DryRun); err != nil {
			clear(pt)
			return nil, err
		}
		return &backends.DecryptOutput{Plaintext: pt, KeyID: k.id, EncryptionAlgorithm: backends.SymmetricDefault}, nil
	})
}

// ReEncrypt re-encrypts natively: the plaintext never leaves the fake.
func (f *Fake) ReEncrypt(_ context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	const op = "ReEncrypt"
	return serve(f, Call{Op: op, KeyID: in.DestinationKeyID, SourceKeyID: in.SourceKeyID, DryRun: in.DryRun}, func() (*backends.ReEncryptOutput, error) {
		if err := symmetric(op, in.SourceKeyID, in.SourceEncryptionAlgorithm); err != nil {
			return nil, err
		}
		if err := symmetric(op, in.DestinationKeyID, in.DestinationEncryptionAlgorithm); err != nil {
			return nil, err
		}
		dst, err := f.resolve(op, in.DestinationKeyID)
		if err != nil {
			return nil, err
		}
		src, pt, err := f.open(op, in.SourceKeyID, in.CiphertextBlob, in.SourceEncryptionContext, true)
		if err != nil {
			return nil, err
		}
		defer clear(pt)
		if err := f.enabled(op, in.DestinationKeyID, dst); err != nil {
			return nil, err
		}
		if err := f.dryRun(op, in.DestinationKeyID, in.DryRun); err != nil {
			return nil, err
		}
		return &backends.ReEncryptOutput{
			CiphertextBlob: f.seal(dst, pt, in.DestinationEncryptionContext),
			SourceKeyID:    src.id, KeyID: dst.id,
			SourceEncryptionAlgorithm: backends.SymmetricDefault, DestinationEncryptionAlgorithm: backends.SymmetricDefault,
			Native: true,
		}, nil
	})
}

// GenerateDataKey returns a random data key and its blob under in.KeyID.
func (f *Fake) GenerateDataKey(_ context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return f.generate("GenerateDataKey", in, true)
}

// GenerateDataKeyWithoutPlaintext returns the blob of a random data key under in.KeyID.
func (f *Fake) GenerateDataKeyWithoutPlaintext(_ context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return f.generate("GenerateDataKeyWithoutPlaintext", in, false)
}

func (f *Fake) generate(op string, in *backends.GenerateDataKeyInput, plaintext bool) (*backends.GenerateDataKeyOutput, error) {
	return serve(f, Call{Op: op, KeyID: in.KeyID, DryRun: in.DryRun}, func() (*backends.GenerateDataKeyOutput, error) {
		n, err := in.DataKeyLength(op)
		if err != nil {
			return nil, err
		}
		k, err := f.usable(op, in.KeyID)
		if err != nil {
			return nil, err
		}
		if err := f.dryRun(op, in.KeyID, in.DryRun); err != nil {
			return nil, err
		}
		pt := make([]byte, n)
		_, _ = rand.Read(pt)
		out := &backends.GenerateDataKeyOutput{CiphertextBlob: f.seal(k, pt, in.EncryptionContext), KeyID: k.id}
		if plaintext {
			out.Plaintext = pt
		} else {
			clear(pt)
		}
		return out, nil
	})
}

// DescribeKey describes the key in.KeyID names, whatever its state.
func (f *Fake) DescribeKey(_ context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	const op = "DescribeKey"
	return serve(f, Call{Op: op, KeyID: in.KeyID}, func() (*backends.KeyMetadata, error) {
		k, err := f.resolve(op, in.KeyID)
		if err != nil {
			return nil, err
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		md := &backends.KeyMetadata{
			Arn: k.id, KeyID: k.id[strings.LastIndexByte(k.id, '/')+1:],
			KeyState: k.state, Enabled: k.state == backends.KeyStateEnabled, DeletionDate: k.deletion,
			KeyUsage: backends.KeyUsageEncryptDecrypt, KeySpec: "SYMMETRIC_DEFAULT",
			EncryptionAlgorithms: []backends.Algorithm{backends.SymmetricDefault},
		}
		if r, err := backends.ParseKeyRef(k.id); err == nil && r.Form == backends.FormKeyARN {
			md.KeyID, md.AWSAccountID, md.Region, md.MultiRegion = r.KeyID, r.Account, r.Region, r.MultiRegion()
		}
		return md, nil
	})
}

// CiphertextKeyID returns the canonical ID of the key that made blob (the first
// added, for a blob of replicas). It is no call of the service: it is not
// recorded.
func (f *Fake) CiphertextKeyID(blob []byte) (string, error) {
	if len(blob) < overhead || blob[0] != version {
		return "", backends.Errorf(backends.ErrInvalidCiphertext, "CiphertextKeyID", "", "not a blob of the fake")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.handles[string(blob[1:headerLen])]
	if k == nil {
		return "", backends.Errorf(backends.ErrInvalidCiphertext, "CiphertextKeyID", "", "not a blob of the fake")
	}
	return k.id, nil
}

// resolve finds the key ref names: a canonical ID, an alias given to AddAlias,
// or (with Account set) a bare key ID, alias name or alias ARN of the caller.
func (f *Fake) resolve(op, ref string) (*key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.keys[ref]; k != nil {
		return k, nil
	}
	if id, ok := f.aliases[ref]; ok {
		return f.keys[id], nil
	}
	if r, err := backends.ParseKeyRef(ref); err == nil && f.Account != "" {
		switch {
		case r.Form == backends.FormKeyID:
			if k := f.keys[backends.KeyARN("aws", f.Region, f.Account, r.KeyID)]; k != nil {
				return k, nil
			}
		case r.Form == backends.FormAliasARN && r.Partition == "aws" && r.Account == f.Account && r.Region == f.Region:
			if id, ok := f.aliases[r.Alias]; ok {
				return f.keys[id], nil
			}
		}
	}
	return nil, backends.Errorf(backends.ErrNotFound, op, ref, "no such key")
}

// usable resolves ref and checks that its key is enabled.
func (f *Fake) usable(op, ref string) (*key, error) {
	k, err := f.resolve(op, ref)
	if err != nil {
		return nil, err
	}
	return k, f.enabled(op, ref, k)
}

// enabled checks that k is enabled, naming it ref in the error.
func (f *Fake) enabled(op, ref string, k *key) error {
	f.mu.Lock()
	st := k.state
	f.mu.Unlock()
	switch st {
	case backends.KeyStateEnabled:
		return nil
	case backends.KeyStateDisabled:
		return backends.Errorf(backends.ErrDisabled, op, ref, "the key is disabled")
	}
	return backends.Errorf(backends.ErrInvalidState, op, ref, "the key is %s", st)
}

// symmetric refuses an asymmetric algorithm, as AWS KMS does for a symmetric key.
func symmetric(op, ref string, a backends.Algorithm) error {
	if a.OrDefault() != backends.SymmetricDefault {
		return backends.Errorf(backends.ErrInvalidKeyUsage, op, ref, "%s is not an algorithm of a symmetric key", a)
	}
	return nil
}

func (f *Fake) dryRun(op, ref string, dry bool) error {
	if !dry {
		return nil
	}
	switch f.DryRun {
	case DryRunSupported:
		return backends.Errorf(backends.ErrDryRunOperation, op, ref, "DryRun is set")
	case DryRunUnsupported:
		return backends.Errorf(backends.ErrUnsupported, op, ref, "this service has no DryRun")
	}
	return nil
}

// A blob is the version byte, the key's 16-byte handle, a 12-byte nonce and
// the AES-GCM sealed data. The header (version and handle) and the encoded
// encryption context are the additional data.
const (
	version   = 1
	headerLen = 1 + 16
	overhead  = headerLen + 12 + 16
)

func (f *Fake) aad(header []byte, ec map[string]string) []byte {
	switch f.Fault {
	case FaultUnboundContext:
		return header
	case FaultMalleableVersion:
		header = header[1:]
	}
	return append(bytes.Clone(header), backends.EncodeEncryptionContext(ec)...)
}

func (f *Fake) seal(k *key, pt []byte, ec map[string]string) []byte {
	blob := make([]byte, headerLen+12, overhead+len(pt))
	blob[0] = version
	copy(blob[1:], k.handle)
	if f.Fault != FaultFixedNonce {
		_, _ = rand.Read(blob[headerLen:])
	}
	return k.aead.Seal(blob, blob[headerLen:], pt, f.aad(blob[:headerLen], ec))
}

// open checks and opens blob for op with the key keyRef names, or with the key
// the blob names when keyRef is empty; with checkState the key must be
// enabled. It returns the key that opened the blob.
func (f *Fake) open(op, keyRef string, blob []byte, ec map[string]string, checkState bool) (*key, []byte, error) {
	bad := func() error {
		return backends.Errorf(backends.ErrInvalidCiphertext, op, keyRef, "the ciphertext is not valid")
	}
	var named *key
	if keyRef != "" {
		k, err := f.resolve(op, keyRef)
		if err != nil {
			return nil, nil, err
		}
		named = k
	}
	if f.Fault == FaultTrailingIgnored && len(blob) > overhead+32 {
		blob = blob[:overhead+32]
	}
	if len(blob) < overhead || blob[0] != version && f.Fault != FaultMalleableVersion {
		return nil, nil, bad()
	}
	f.mu.Lock()
	made := f.handles[string(blob[1:headerLen])]
	f.mu.Unlock()
	if made == nil {
		return nil, nil, bad()
	}
	use := made
	if named != nil {
		if named.handle != made.handle {
			if f.Fault == FaultIncorrectKeyAsInvalid {
				return nil, nil, bad()
			}
			return nil, nil, backends.Errorf(backends.ErrIncorrectKey, op, keyRef, "the ciphertext was made under another key")
		}
		use = named // a replica decrypts as itself
	}
	if checkState {
		if err := f.enabled(op, use.id, use); err != nil {
			return nil, nil, err
		}
	}
	pt, err := use.aead.Open(nil, blob[headerLen:headerLen+12], blob[headerLen+12:], f.aad(blob[:headerLen], ec))
	if err != nil && f.Fault == FaultWrongPlaintext && len(ec) == 1 && ec["case"] == "flip" {
		return use, make([]byte, len(blob)-overhead), nil
	}
	if err != nil {
		return nil, nil, bad()
	}
	return use, pt, nil
}

// NewKeyID returns a new random key ID as AWS KMS makes them: a lower-case
// version 4 UUID.
func NewKeyID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
