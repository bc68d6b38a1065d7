//go:build cgo

package pkcs11

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/keyport/keyport/backends"
)

// Backend is a keyport backend over one token of a PKCS#11 library. It is safe
// for concurrent use; Close it when done.
type Backend struct {
	tok       *token
	closeOnce sync.Once

	mu   sync.RWMutex
	keys map[string]*key // usable keys by the normalised reference that found them

	createMu sync.Mutex // one CreateKey at a time
}

var (
	_ backends.Backend             = (*Backend)(nil)
	_ backends.DataKeyGenerator    = (*Backend)(nil)
	_ backends.KeyDescriber        = (*Backend)(nil)
	_ backends.CiphertextInspector = (*Backend)(nil)
)

// Open loads the PKCS#11 library opts names, finds its token and logs in. A
// missing library, no such token and a wrong PIN are errors here (never a panic,
// never later).
func Open(ctx context.Context, opts Options) (*Backend, error) {
	if err := backends.ContextError(ctx, "Open", ""); err != nil {
		return nil, err
	}
	m, err := loadModule(opts.module())
	if err != nil {
		return nil, err
	}
	t, err := openToken(m, opts)
	if err != nil {
		m.release()
		return nil, err
	}
	return &Backend{tok: t, keys: map[string]*key{}}, nil
}

// Close closes the backend's sessions, waiting for calls in progress, and
// unloads the library when no other Backend of the process uses it.
func (b *Backend) Close() error {
	b.closeOnce.Do(func() {
		b.tok.close()
		b.tok.mod.release()
	})
	return nil
}

// Token returns the label of the backend's token.
func (b *Backend) Token() string { return b.tok.info.Label }

// Serial returns the serial number of the backend's token.
func (b *Backend) Serial() string { return b.tok.info.SerialNumber }

// Module returns the absolute path of the backend's PKCS#11 library.
func (b *Backend) Module() string { return b.tok.mod.path }

// callErr is a failed call into the library, before the backend maps it.
type callErr struct {
	call string
	code uint
	err  error
}

func callError(call string, err error) error {
	return &callErr{call: call, code: codeOf(err), err: err}
}

func (e *callErr) Error() string { return e.call + ": " + e.err.Error() }
func (e *callErr) Unwrap() error { return e.err }

// do runs fn with a session and the key keyID names, and maps its failure. A
// session that broke (CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_REMOVED, ...) is
// closed and fn runs once more on a new one; a token that logged out is logged
// in again; a key whose handle went stale is found afresh. Anything fn panics
// with (a library misbehaving) comes back as ErrInternal.
func (b *Backend) do(ctx context.Context, op, keyID string, fn func(sh p11.SessionHandle, k *key) error) error {
	u, err := b.parse(op, keyID)
	if err != nil {
		return err
	}
	tried := map[recovery]bool{}
	for {
		sh, err := b.tok.get(ctx, op, keyID)
		if err != nil {
			return err
		}
		err = b.run(sh, op, keyID, u, fn)
		var ce *callErr
		if !errors.As(err, &ce) {
			b.tok.put(sh)
			return err
		}
		rule := ruleFor(ce.call, ce.code)
		switch rule.recover {
		case freshSession:
			b.tok.discard(sh)
		case relogin:
			lerr := b.tok.ensureLogin(op, sh)
			b.tok.put(sh)
			if lerr != nil {
				return relabel(lerr, op, keyID)
			}
		case reresolve:
			b.forget(u)
			b.tok.put(sh)
		default:
			b.tok.put(sh)
		}
		// Each recovery is tried once per call: a session that broke can be
		// followed by a logout and by stale key handles (closing a token's last
		// session logs it out, and some libraries then drop every handle).
		if rule.recover == giveUp || tried[rule.recover] {
			return ckrError(op, keyID, ce.call, ce.code, ce.err)
		}
		tried[rule.recover] = true
	}
}

// run finds the key and calls fn, turning a panic into ErrInternal.
func (b *Backend) run(sh p11.SessionHandle, op, keyID string, u *URI, fn func(p11.SessionHandle, *key) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = backends.Errorf(backends.ErrInternal, op, keyID, "the PKCS#11 library wrapper panicked: %v", r)
		}
	}()
	k, err := b.resolve(sh, op, keyID, u)
	if err != nil {
		return err
	}
	return fn(sh, k)
}

func relabel(err error, op, keyID string) error {
	var e *backends.Error
	if errors.As(err, &e) {
		c := *e
		c.Op, c.KeyID = op, keyID
		return &c
	}
	return err
}

// parse parses keyID and checks that it names a key of this backend's library
// and token.
func (b *Backend) parse(op, keyID string) (*URI, error) {
	u, err := ParseURI(keyID)
	if err != nil {
		return nil, relabel(err, op, clip(backends.RedactKeyRef(keyID), 200))
	}
	t := b.tok
	notHere := func(what string) (*URI, error) {
		return nil, backends.Errorf(backends.ErrNotFound, op, keyID, "%s: this backend serves token %q of %s", what, t.info.Label, t.mod.path)
	}
	switch {
	case u.Object == "" && u.ID == nil:
		return nil, backends.Errorf(backends.ErrNotFound, op, keyID, "the reference names no key: give object= or id=")
	case u.Type == TypeCert || u.Type == TypeData:
		return nil, backends.Errorf(backends.ErrNotFound, op, keyID, "type=%s names no key", u.Type)
	case u.Token != "" && u.Token != t.info.Label:
		return notHere("another token")
	case u.Serial != "" && u.Serial != t.info.SerialNumber:
		return notHere("a token with another serial number")
	case u.Manufacturer != "" && u.Manufacturer != t.info.ManufacturerID, u.Model != "" && u.Model != t.info.Model:
		return notHere("a token of another make")
	case u.SlotID >= 0 && uint64(u.SlotID) != uint64(t.slot):
		return notHere("another slot")
	case u.ModulePath != "" && !b.sameModule(u.ModulePath):
		return notHere("another PKCS#11 module")
	}
	return u, nil
}

// sameModule reports whether path names the backend's library.
func (b *Backend) sameModule(path string) bool {
	abs, err := filepath.Abs(path)
	return err == nil && abs == b.tok.mod.path
}

// refKey is the cache key of a reference: what find matches on.
func refKey(u *URI) string {
	return u.Type + "\x00" + u.Object + "\x00" + strconv.Quote(string(u.ID)) + "\x00" + strconv.FormatBool(u.ID != nil)
}

// resolve returns the key u names, from the cache or the token.
func (b *Backend) resolve(sh p11.SessionHandle, op, keyID string, u *URI) (*key, error) {
	rk := refKey(u)
	b.mu.RLock()
	k := b.keys[rk]
	b.mu.RUnlock()
	if k != nil {
		return k, nil
	}
	k, err := b.tok.find(sh, op, keyID, u)
	if err != nil {
		return nil, err
	}
	if k.usable("Encrypt") == nil {
		b.mu.Lock()
		b.keys[rk] = k
		b.mu.Unlock()
	}
	return k, nil
}

// forget drops what the cache holds for u.
func (b *Backend) forget(u *URI) {
	b.mu.Lock()
	delete(b.keys, refKey(u))
	b.mu.Unlock()
}

// Encrypt encrypts in.Plaintext under the key in.KeyID names: with AES-256-GCM
// and the encryption context as additional authenticated data under a secret
// key, with RSA-OAEP under a key pair (which takes no encryption context).
func (b *Backend) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	const op = "Encrypt"
	var out *backends.EncryptOutput
	err := b.do(ctx, op, in.KeyID, func(sh p11.SessionHandle, k *key) error {
		if err := k.usable(op); err != nil {
			return err
		}
		alg, err := k.algorithm(op, in.EncryptionAlgorithm)
		if err != nil {
			return err
		}
		if k.isRSA() && len(in.EncryptionContext) > 0 {
			return backends.Errorf(backends.ErrInvalidArgument, op, k.URI, "an RSA key pair takes no encryption context (as in AWS KMS): OAEP has nothing that binds it on every token")
		}
		if k.isRSA() && len(in.Plaintext) > k.maxOAEP(alg) {
			// Checked here: some tokens (SoftHSM) answer a general error.
			return backends.Errorf(backends.ErrInvalidArgument, op, k.URI, "%d bytes is more than RSA-%d with %s encrypts (%d)", len(in.Plaintext), k.rsaBits, alg, k.maxOAEP(alg))
		}
		if len(k.URI) > 0xffff {
			return backends.Errorf(backends.ErrInvalidKeyUsage, op, in.KeyID, "the key's URI is longer than a blob can carry")
		}
		if in.DryRun {
			return backends.Errorf(backends.ErrDryRunOperation, op, k.URI, "the request would have succeeded")
		}
		var blob []byte
		if k.isRSA() {
			blob, err = b.tok.encryptRSA(sh, k, alg, in.Plaintext)
		} else {
			blob, err = b.tok.encryptGCM(sh, op, k, in.Plaintext, in.EncryptionContext)
		}
		if err != nil {
			return err
		}
		out = &backends.EncryptOutput{CiphertextBlob: blob, KeyID: k.URI, EncryptionAlgorithm: alg}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// algorithm checks a requested algorithm against the key and returns the one to
// use: SYMMETRIC_DEFAULT for a secret key; for a key pair, RSAES_OAEP_SHA_256
// when none is given, or RSAES_OAEP_SHA_1 when asked for.
func (k *key) algorithm(op string, a backends.Algorithm) (backends.Algorithm, error) {
	if !k.isRSA() {
		if a.OrDefault() != backends.SymmetricDefault {
			return "", backends.Errorf(backends.ErrInvalidKeyUsage, op, k.URI, "an AES key encrypts with %s, not %s", backends.SymmetricDefault, a)
		}
		return backends.SymmetricDefault, nil
	}
	switch a {
	case "":
		return backends.RSAESOAEPSHA256, nil
	case backends.RSAESOAEPSHA256, backends.RSAESOAEPSHA1:
		return a, nil
	}
	return "", backends.Errorf(backends.ErrInvalidKeyUsage, op, k.URI, "an RSA key pair encrypts with %s or %s, not %s", backends.RSAESOAEPSHA256, backends.RSAESOAEPSHA1, a)
}

func (t *token) encryptGCM(sh p11.SessionHandle, op string, k *key, pt []byte, ec map[string]string) ([]byte, error) {
	iv := make([]byte, gcmIVLen)
	if _, err := rand.Read(iv); err != nil {
		return nil, backends.Errorf(backends.ErrInternal, op, k.URI, "reading random bytes for the IV: %w", err)
	}
	h := header(formatAESGCM, k.URI, iv)
	params := p11.NewGCMParams(iv, gcmAAD(h, ec), gcmTagLen*8)
	defer params.Free()
	if err := t.mod.ctx.EncryptInit(sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}, k.secret); err != nil {
		return nil, callError("C_EncryptInit", err)
	}
	ct, err := t.mod.ctx.Encrypt(sh, pt)
	if err != nil {
		return nil, callError("C_Encrypt", err)
	}
	// A token may choose the IV itself (CloudHSM does): the blob records the one
	// it used, and the AAD above named the one asked for, so such a token is
	// refused rather than making blobs that never decrypt.
	if used := params.IV(); len(used) != gcmIVLen || string(used) != string(iv) {
		return nil, backends.Errorf(backends.ErrUnsupported, op, k.URI, "the token replaced the GCM IV it was given")
	}
	if len(ct) != len(pt)+gcmTagLen {
		return nil, backends.Errorf(backends.ErrInternal, op, k.URI, "the token returned %d bytes of GCM output for %d bytes of plaintext", len(ct), len(pt))
	}
	return append(h, ct...), nil
}

// maxOAEP is the longest plaintext RSA-OAEP with alg encrypts under k: the
// modulus length less twice the hash length less two (RFC 8017 section 7.1.1).
func (k *key) maxOAEP(alg backends.Algorithm) int {
	h := 32
	if alg == backends.RSAESOAEPSHA1 {
		h = 20
	}
	return k.rsaBits/8 - 2*h - 2
}

// oaep returns the CKM_RSA_PKCS_OAEP mechanism for alg.
func oaep(alg backends.Algorithm) []*p11.Mechanism {
	hash, mgf := uint(p11.CKM_SHA256), uint(p11.CKG_MGF1_SHA256)
	if alg == backends.RSAESOAEPSHA1 {
		hash, mgf = p11.CKM_SHA_1, p11.CKG_MGF1_SHA1
	}
	return []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS_OAEP, p11.NewOAEPParams(hash, mgf, p11.CKZ_DATA_SPECIFIED, nil))}
}

func (t *token) encryptRSA(sh p11.SessionHandle, k *key, alg backends.Algorithm, pt []byte) ([]byte, error) {
	if err := t.mod.ctx.EncryptInit(sh, oaep(alg), k.pub); err != nil {
		return nil, callError("C_EncryptInit", err)
	}
	ct, err := t.mod.ctx.Encrypt(sh, pt)
	if err != nil {
		return nil, callError("C_Encrypt", err)
	}
	return append(header(rsaFormat(alg), k.URI, nil), ct...), nil
}

// Decrypt decrypts in.CiphertextBlob with the key in.KeyID names, or with the
// key the blob names when in.KeyID is empty. A blob made by another key of the
// token is ErrIncorrectKey; a damaged blob, or one bound to another encryption
// context, is ErrInvalidCiphertext.
func (b *Backend) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	const op = "Decrypt"
	keyID := in.KeyID
	bl, err := parseBlob(op, keyID, in.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	fromBlob := keyID == ""
	if fromBlob {
		keyID = bl.keyID
	}
	var out *backends.DecryptOutput
	err = b.do(ctx, op, keyID, func(sh p11.SessionHandle, k *key) error {
		if err := k.usable(op); err != nil {
			return err
		}
		if k.URI != bl.keyID {
			return b.otherKey(sh, op, keyID, bl.keyID)
		}
		alg := formatAlgorithm(bl.format)
		if k.isRSA() != (bl.format != formatAESGCM) {
			return backends.Errorf(backends.ErrInvalidCiphertext, op, keyID, "the blob's format does not fit the key's type")
		}
		if in.EncryptionAlgorithm != "" && in.EncryptionAlgorithm != alg {
			if _, err := k.algorithm(op, in.EncryptionAlgorithm); err != nil {
				return err
			}
			return backends.Errorf(backends.ErrInvalidCiphertext, op, keyID, "the blob was made with %s, not %s", alg, in.EncryptionAlgorithm)
		}
		if k.isRSA() && len(in.EncryptionContext) > 0 {
			return backends.Errorf(backends.ErrInvalidCiphertext, op, keyID, "an RSA key pair binds no encryption context, and one was given")
		}
		var pt []byte
		var err error
		if k.isRSA() {
			pt, err = b.tok.decrypt(sh, k.priv, oaep(alg), bl.ct)
		} else {
			params := p11.NewGCMParams(bl.iv, gcmAAD(bl.header, in.EncryptionContext), gcmTagLen*8)
			pt, err = b.tok.decrypt(sh, k.secret, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_GCM, params)}, bl.ct)
			params.Free()
		}
		if err != nil {
			return err
		}
		if in.DryRun {
			clear(pt)
			return backends.Errorf(backends.ErrDryRunOperation, op, k.URI, "the request would have succeeded")
		}
		out = &backends.DecryptOutput{Plaintext: pt, KeyID: k.URI, EncryptionAlgorithm: alg}
		return nil
	})
	if err != nil {
		if k := backends.KindOf(err); fromBlob && k == backends.ErrNotFound {
			// The key came from the blob: a key reference that names no key here
			// is a damaged blob (or one of another token).
			return nil, backends.Errorf(backends.ErrInvalidCiphertext, op, "", "the blob names no key of this token")
		}
		return nil, err
	}
	return out, nil
}

func (t *token) decrypt(sh p11.SessionHandle, h p11.ObjectHandle, m []*p11.Mechanism, ct []byte) ([]byte, error) {
	if err := t.mod.ctx.DecryptInit(sh, m, h); err != nil {
		return nil, callError("C_DecryptInit", err)
	}
	pt, err := t.mod.ctx.Decrypt(sh, ct)
	if err != nil {
		return nil, callError("C_Decrypt", err)
	}
	return pt, nil
}

// otherKey answers a Decrypt of a blob that names blobKey with the key keyID,
// which is another: ErrIncorrectKey when blobKey is a key of this token, and
// ErrInvalidCiphertext when it is none (a damaged blob).
func (b *Backend) otherKey(sh p11.SessionHandle, op, keyID, blobKey string) error {
	if u, err := b.parse(op, blobKey); err == nil {
		if k, err := b.resolve(sh, op, blobKey, u); err == nil && k.URI == blobKey {
			return backends.Errorf(backends.ErrIncorrectKey, op, keyID, "the blob was made by another key of the token")
		}
	}
	return backends.Errorf(backends.ErrInvalidCiphertext, op, keyID, "the blob names no key of this token")
}

// GenerateDataKey makes a data key of in.NumberOfBytes (default 32) with the
// token's random number generator (C_GenerateRandom) and encrypts it under the
// AES key in.KeyID names, in the same session. A key pair is
// ErrInvalidKeyUsage, as for AWS KMS asymmetric keys. The caller owns the
// plaintext and should wipe it.
func (b *Backend) GenerateDataKey(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return b.generateDataKey(ctx, "GenerateDataKey", in, true)
}

// GenerateDataKeyWithoutPlaintext is GenerateDataKey that returns only the
// encrypted data key (the plaintext is wiped before it returns).
func (b *Backend) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return b.generateDataKey(ctx, "GenerateDataKeyWithoutPlaintext", in, false)
}

func (b *Backend) generateDataKey(ctx context.Context, op string, in *backends.GenerateDataKeyInput, withPlaintext bool) (*backends.GenerateDataKeyOutput, error) {
	n, err := in.DataKeyLength(op)
	if err != nil {
		return nil, err
	}
	var out *backends.GenerateDataKeyOutput
	err = b.do(ctx, op, in.KeyID, func(sh p11.SessionHandle, k *key) error {
		if err := k.usable(op); err != nil {
			return err
		}
		if k.isRSA() {
			return backends.Errorf(backends.ErrInvalidKeyUsage, op, k.URI, "data keys are made under AES keys; an RSA key pair encrypts one given to Encrypt")
		}
		if in.DryRun {
			return backends.Errorf(backends.ErrDryRunOperation, op, k.URI, "the request would have succeeded")
		}
		pt, err := b.tok.mod.ctx.GenerateRandom(sh, n)
		if err != nil {
			return callError("C_GenerateRandom", err)
		}
		if len(pt) != n {
			clear(pt)
			return backends.Errorf(backends.ErrInternal, op, k.URI, "the token returned %d random bytes, not %d", len(pt), n)
		}
		blob, err := b.tok.encryptGCM(sh, op, k, pt, in.EncryptionContext)
		if err != nil {
			clear(pt)
			return err
		}
		if !withPlaintext {
			clear(pt)
			pt = nil
		}
		out = &backends.GenerateDataKeyOutput{CiphertextBlob: blob, Plaintext: pt, KeyID: k.URI}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DescribeKey describes the key in.KeyID names, usable or not.
func (b *Backend) DescribeKey(ctx context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	info, err := b.describe(ctx, "DescribeKey", in.KeyID)
	if err != nil {
		return nil, err
	}
	return info.metadata(), nil
}

// KeyInfo describes the key keyID names with its PKCS#11 attributes, usable or
// not.
func (b *Backend) KeyInfo(ctx context.Context, keyID string) (*KeyInfo, error) {
	return b.describe(ctx, "DescribeKey", keyID)
}

func (b *Backend) describe(ctx context.Context, op, keyID string) (*KeyInfo, error) {
	var info KeyInfo
	err := b.do(ctx, op, keyID, func(_ p11.SessionHandle, k *key) error {
		info = k.KeyInfo
		info.ID = append([]byte(nil), k.ID...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &info, nil
}

// CreateKey makes a key on the backend's token, for first use and for tests: an
// AES-256 secret key or an RSA key pair, not extractable, sensitive, private, and
// able to encrypt and decrypt and nothing else. A label or id that a key of the
// token has already is ErrAlreadyExists (checked before the key is made; two
// processes creating the same label at once can still both succeed).
func (b *Backend) CreateKey(ctx context.Context, in *CreateKeyInput) (*KeyInfo, error) {
	const op = "CreateKey"
	if in.Label == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "a key needs a label")
	}
	if in.ID != nil && len(in.ID) == 0 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "an id, when given, is at least one byte")
	}
	// One CreateKey at a time, so that two of one process never race past the
	// label check. (Not b.mu: calls holding sessions take it to find keys.)
	b.createMu.Lock()
	defer b.createMu.Unlock()
	var k *key
	err := b.withSession(ctx, op, keyURI(b.tok.info.Label, in.Label, in.ID), func(sh p11.SessionHandle) (err error) {
		k, err = b.tok.create(sh, in)
		return err
	})
	if err != nil {
		return nil, err
	}
	info := k.KeyInfo
	return &info, nil
}

// ListKeys describes every key on the backend's token, sorted by URI: each
// secret key, and each key pair by its private key (Encrypt is its public key's
// CKA_ENCRYPT, false when the token holds no public key of its label and id).
// Keys keyport will not use are listed too, their Spec and attributes saying
// why (see [Backend.KeyInfo]); two keys that one URI names are both listed, and
// keyport uses neither until one is relabelled.
func (b *Backend) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	var keys []KeyInfo
	err := b.withSession(ctx, "ListKeys", "", func(sh p11.SessionHandle) (err error) {
		keys, err = b.tok.list(sh)
		return err
	})
	return keys, err
}

// withSession runs fn, which finds no key, with a session of the pool: a
// session that broke is closed rather than given back, a failed call is mapped
// for keyRef, and a panic of the library wrapper is ErrInternal.
func (b *Backend) withSession(ctx context.Context, op, keyRef string, fn func(p11.SessionHandle) error) error {
	sh, err := b.tok.get(ctx, op, keyRef)
	if err != nil {
		return err
	}
	err = func() (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = backends.Errorf(backends.ErrInternal, op, keyRef, "the PKCS#11 library wrapper panicked: %v", r)
			}
		}()
		return fn(sh)
	}()
	var ce *callErr
	if errors.As(err, &ce) {
		if ruleFor(ce.call, ce.code).recover == freshSession {
			b.tok.discard(sh)
		} else {
			b.tok.put(sh)
		}
		return ckrError(op, keyRef, ce.call, ce.code, ce.err)
	}
	b.tok.put(sh)
	return err
}

// String names the backend's token and library, for logs.
func (b *Backend) String() string {
	return fmt.Sprintf("pkcs11 token %q (serial %s) of %s", b.tok.info.Label, b.tok.info.SerialNumber, b.tok.mod.path)
}

// rsaFormat returns the blob format of an RSA-OAEP algorithm.
func rsaFormat(a backends.Algorithm) byte {
	if a == backends.RSAESOAEPSHA1 {
		return formatRSAOAEPSHA1
	}
	return formatRSAOAEPSHA256
}
