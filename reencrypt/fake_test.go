package reencrypt

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/keyport/keyport/backends"
)

// The tests in this file use fakes for what a real service cannot show: that the
// engine wipes the plaintext it handled, and how it copes with backends that lack
// DryRun, native ReEncrypt or ciphertext inspection. Everything else is tested
// against backends/local in engine_test.go.

// serviceErr is a fake service's own error type, to check errors.As through the engine.
type serviceErr struct{ code string }

func (e *serviceErr) Error() string { return "fake service: " + e.code }

// dryRunMode says how a fake answers DryRun.
type dryRunMode int

const (
	dryRunSupported   dryRunMode = iota // checks, answers ErrDryRunOperation
	dryRunUnsupported                   // answers ErrUnsupported
	dryRunIgnored                       // does the real work as if DryRun were unset
)

// fake is a Backend whose keys are URIs of its scheme and whose blobs are
// "fake|<key>|<hex context>|<hex plaintext>". It records every plaintext slice it
// handed out or was handed, so a test can check that the engine wiped them.
type fake struct {
	scheme string
	prefix string // every key of the fake starts with it

	mu            sync.Mutex
	decrypted     [][]byte // slices returned by Decrypt
	handed        [][]byte // slices given to Encrypt
	decryptCalls  int      // every Decrypt call
	decrypts      int      // real (non-DryRun) Decrypt calls
	encrypts      int      // real (non-DryRun) Encrypt calls
	lastDecrypt   backends.DecryptInput
	lastEncrypt   backends.EncryptInput
	decryptDryRun dryRunMode
	encryptDryRun dryRunMode
	encryptErr    error  // returned by Encrypt when set
	onDecrypt     func() // called inside Decrypt
	needsKey      bool   // Decrypt without KeyID is ErrInvalidArgument
	denyEncrypt   bool   // Encrypt is AccessDenied
}

func newFake(scheme string) *fake { return &fake{scheme: scheme, prefix: scheme + "://"} }

func (f *fake) key(name string) string { return f.prefix + name }

func (f *fake) blob(key string, ec map[string]string, pt []byte) []byte {
	return []byte("fake|" + key + "|" + hex.EncodeToString(backends.EncodeEncryptionContext(ec)) + "|" + hex.EncodeToString(pt))
}

func parseFakeBlob(b []byte) (key, ec string, pt []byte, ok bool) {
	parts := strings.Split(string(b), "|")
	if len(parts) != 4 || parts[0] != "fake" {
		return "", "", nil, false
	}
	pt, err := hex.DecodeString(parts[3])
	if err != nil {
		return "", "", nil, false
	}
	return parts[1], parts[2], pt, true
}

func (f *fake) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	if err := backends.ContextError(ctx, "Encrypt", in.KeyID); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastEncrypt = *in
	f.handed = append(f.handed, in.Plaintext)
	if !strings.HasPrefix(in.KeyID, f.prefix) {
		return nil, backends.Errorf(backends.ErrNotFound, "Encrypt", in.KeyID, "no such key")
	}
	if f.denyEncrypt {
		return nil, backends.Wrap(backends.ErrAccessDenied, "Encrypt", in.KeyID, &serviceErr{"AccessDenied"})
	}
	if f.encryptErr != nil {
		return nil, f.encryptErr
	}
	if in.DryRun {
		switch f.encryptDryRun {
		case dryRunSupported:
			return nil, backends.Errorf(backends.ErrDryRunOperation, "Encrypt", in.KeyID, "dry run")
		case dryRunUnsupported:
			return nil, backends.Errorf(backends.ErrUnsupported, "Encrypt", in.KeyID, "no DryRun here")
		}
	}
	f.encrypts++
	return &backends.EncryptOutput{CiphertextBlob: f.blob(in.KeyID, in.EncryptionContext, in.Plaintext), KeyID: in.KeyID,
		EncryptionAlgorithm: in.EncryptionAlgorithm.OrDefault()}, nil
}

func (f *fake) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	if err := backends.ContextError(ctx, "Decrypt", in.KeyID); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastDecrypt = *in
	f.decryptCalls++
	key, ec, pt, ok := parseFakeBlob(in.CiphertextBlob)
	switch {
	case !ok:
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, "Decrypt", in.KeyID, "not a fake blob")
	case in.KeyID == "" && f.needsKey:
		return nil, backends.Errorf(backends.ErrInvalidArgument, "Decrypt", "", "KeyId is required")
	case in.KeyID != "" && in.KeyID != key && f.prefix+in.KeyID != key:
		return nil, backends.Errorf(backends.ErrIncorrectKey, "Decrypt", in.KeyID, "wrong key")
	case ec != hex.EncodeToString(backends.EncodeEncryptionContext(in.EncryptionContext)):
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, "Decrypt", in.KeyID, "wrong context")
	}
	if in.DryRun {
		switch f.decryptDryRun {
		case dryRunSupported:
			return nil, backends.Errorf(backends.ErrDryRunOperation, "Decrypt", in.KeyID, "dry run")
		case dryRunUnsupported:
			return nil, backends.Errorf(backends.ErrUnsupported, "Decrypt", in.KeyID, "no DryRun here")
		}
	}
	if f.onDecrypt != nil {
		f.onDecrypt()
	}
	f.decrypts++
	f.decrypted = append(f.decrypted, pt)
	return &backends.DecryptOutput{Plaintext: pt, KeyID: key, EncryptionAlgorithm: backends.SymmetricDefault}, nil
}

// allZero fails the test unless every recorded plaintext slice is all zero bytes.
func (f *fake) allZero(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, s := range append(append([][]byte{}, f.decrypted...), f.handed...) {
		if len(s) > 0 && !bytes.Equal(s, make([]byte, len(s))) {
			t.Errorf("%s: plaintext slice %d (%d bytes) was not wiped", f.scheme, i, len(s))
		}
	}
}

// inspecting is a fake whose blobs name their key.
type inspecting struct{ *fake }

func (f inspecting) CiphertextKeyID(blob []byte) (string, error) {
	key, _, _, ok := parseFakeBlob(blob)
	if !ok || !strings.HasPrefix(key, f.prefix) {
		return "", backends.Errorf(backends.ErrInvalidCiphertext, "CiphertextKeyID", "", "not my blob")
	}
	return key, nil
}

// nativeFake is a fake with a ReEncrypt that either works or answers ErrUnsupported.
type nativeFake struct {
	*fake
	unsupported bool
}

func (f nativeFake) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	if f.unsupported {
		return nil, backends.Errorf(backends.ErrUnsupported, "ReEncrypt", in.SourceKeyID, "no native ReEncrypt")
	}
	key, _, pt, ok := parseFakeBlob(in.CiphertextBlob)
	if !ok {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, "ReEncrypt", in.SourceKeyID, "not a fake blob")
	}
	return &backends.ReEncryptOutput{CiphertextBlob: f.blob(in.DestinationKeyID, in.DestinationEncryptionContext, pt),
		SourceKeyID: key, KeyID: in.DestinationKeyID, Native: true}, nil
}

// unhashable is a Backend whose dynamic type cannot be compared with ==.
type unhashable struct {
	*fake
	tags []string
}

func fakeRouter(t *testing.T, bs ...backends.Backend) *backends.Front {
	t.Helper()
	r := new(backends.Front)
	for _, b := range bs {
		var scheme string
		switch b := b.(type) {
		case *fake:
			scheme = b.scheme
		case inspecting:
			scheme = b.scheme
		case nativeFake:
			scheme = b.scheme
		case unhashable:
			scheme = b.scheme
		}
		if err := r.Register(scheme, b); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

var (
	srcCtx = map[string]string{"purpose": "test", "tenant": "a"}
	dstCtx = map[string]string{"purpose": "test", "tenant": "b"}
)

func TestWipeAfterSuccess(t *testing.T) {
	a, b := newFake("fa"), newFake("fb")
	eng := New(fakeRouter(t, a, b))
	pt := []byte("0123456789abcdef0123456789abcdef")
	out, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
		CiphertextBlob: a.blob(a.key("k1"), srcCtx, pt), SourceKeyID: a.key("k1"), SourceEncryptionContext: srcCtx,
		DestinationKeyID: b.key("k2"), DestinationEncryptionContext: dstCtx,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Native || out.SourceKeyID != a.key("k1") || out.KeyID != b.key("k2") {
		t.Errorf("output = %+v", out)
	}
	if _, _, got, _ := parseFakeBlob(out.CiphertextBlob); !bytes.Equal(got, pt) {
		t.Errorf("destination blob holds %q, want %q", got, pt)
	}
	if len(a.decrypted) != 1 || len(b.handed) != 1 || &a.decrypted[0][0] != &b.handed[0][0] {
		t.Fatalf("engine did not hand the decrypted slice on unchanged (%d decrypted, %d handed)", len(a.decrypted), len(b.handed))
	}
	a.allZero(t)
	b.allZero(t)
}

func TestWipeOnErrors(t *testing.T) {
	pt := []byte("0123456789abcdef0123456789abcdef")
	t.Run("destination fails", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		b.encryptErr = backends.Wrap(backends.ErrKeyUnavailable, "Encrypt", b.key("k2"), &serviceErr{"Unavailable"})
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.blob(a.key("k1"), nil, pt), SourceKeyID: a.key("k1"), DestinationKeyID: b.key("k2")})
		if !errors.Is(err, backends.ErrKeyUnavailable) || !backends.IsRetryable(err) {
			t.Fatalf("err = %v, want KeyUnavailable (retryable)", err)
		}
		var se *serviceErr
		if !errors.As(err, &se) || se.code != "Unavailable" {
			t.Errorf("errors.As did not reach the service's own error: %v", err)
		}
		a.allZero(t)
		b.allZero(t)
		if len(a.decrypted) != 1 {
			t.Fatal("source did not decrypt")
		}
	})
	t.Run("denied Encrypt", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		b.denyEncrypt = true
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.blob(a.key("k1"), nil, pt), SourceKeyID: a.key("k1"), DestinationKeyID: b.key("k2")})
		if !errors.Is(err, backends.ErrAccessDenied) {
			t.Fatalf("err = %v, want AccessDenied", err)
		}
		a.allZero(t)
	})
	t.Run("cancelled between decrypt and encrypt", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		a.onDecrypt = cancel
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(ctx, &backends.ReEncryptInput{
			CiphertextBlob: a.blob(a.key("k1"), nil, pt), SourceKeyID: a.key("k1"), DestinationKeyID: b.key("k2")})
		if !errors.Is(err, backends.ErrCanceled) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want Canceled", err)
		}
		if len(a.decrypted) != 1 || b.encrypts != 0 {
			t.Errorf("decrypts %d, encrypts %d; want 1, 0", len(a.decrypted), b.encrypts)
		}
		a.allZero(t)
	})
	t.Run("dry run with a source without DryRun", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		a.decryptDryRun = dryRunUnsupported
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.blob(a.key("k1"), nil, pt), SourceKeyID: a.key("k1"), DestinationKeyID: b.key("k2"), DryRun: true})
		if !errors.Is(err, backends.ErrDryRunOperation) {
			t.Fatalf("err = %v, want DryRunOperation", err)
		}
		if a.decrypts != 1 || b.encrypts != 0 {
			t.Errorf("decrypts %d, encrypts %d; want 1 real decrypt, no real encrypt", a.decrypts, b.encrypts)
		}
		if !b.lastEncrypt.DryRun || !bytes.Equal(b.lastEncrypt.Plaintext, make([]byte, len(pt))) || len(b.lastEncrypt.Plaintext) != len(pt) {
			t.Errorf("destination was not checked by a DryRun Encrypt of the (now wiped) real plaintext")
		}
		a.allZero(t)
		b.allZero(t)
	})
}

func TestDryRunFallbacks(t *testing.T) {
	pt := []byte("data key")
	for _, tc := range []struct {
		name             string
		src, dst         dryRunMode
		realDec, realEnc int
	}{
		{"both support DryRun", dryRunSupported, dryRunSupported, 0, 0},
		{"destination without DryRun", dryRunSupported, dryRunUnsupported, 0, 1},
		{"neither supports DryRun", dryRunUnsupported, dryRunUnsupported, 1, 1},
		{"backends that ignore DryRun", dryRunIgnored, dryRunIgnored, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newFake("fa"), newFake("fb")
			a.decryptDryRun, b.encryptDryRun = tc.src, tc.dst
			out, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
				CiphertextBlob: a.blob(a.key("k1"), srcCtx, pt), SourceKeyID: a.key("k1"), SourceEncryptionContext: srcCtx,
				DestinationKeyID: b.key("k2"), DryRun: true})
			if out != nil || !errors.Is(err, backends.ErrDryRunOperation) {
				t.Fatalf("out %v, err %v; want DryRunOperation", out, err)
			}
			var be *backends.Error
			if !errors.As(err, &be) || be.Op != "ReEncrypt" {
				t.Errorf("err = %#v, want a *backends.Error with Op ReEncrypt", err)
			}
			if a.decrypts != tc.realDec || b.encrypts != tc.realEnc {
				t.Errorf("real decrypts %d, encrypts %d; want %d, %d", a.decrypts, b.encrypts, tc.realDec, tc.realEnc)
			}
			a.allZero(t)
			b.allZero(t)
		})
	}
	t.Run("failure is reported, not DryRunOperation", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		b.denyEncrypt = true
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.blob(a.key("k1"), nil, pt), SourceKeyID: a.key("k1"), DestinationKeyID: b.key("k2"), DryRun: true})
		if !errors.Is(err, backends.ErrAccessDenied) || errors.Is(err, backends.ErrDryRunOperation) {
			t.Fatalf("err = %v, want AccessDenied only", err)
		}
	})
}

func TestNativeFallsBackOnUnsupported(t *testing.T) {
	pt := []byte("data key")
	for _, unsupported := range []bool{false, true} {
		f := nativeFake{fake: newFake("fa"), unsupported: unsupported}
		out, err := New(fakeRouter(t, f)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: f.blob(f.key("k1"), nil, pt), SourceKeyID: f.key("k1"), DestinationKeyID: f.key("k2")})
		if err != nil {
			t.Fatal(err)
		}
		if out.Native == unsupported {
			t.Errorf("unsupported=%v: Native = %v", unsupported, out.Native)
		}
		if wantDec := map[bool]int{false: 0, true: 1}[unsupported]; f.decrypts != wantDec {
			t.Errorf("unsupported=%v: %d engine decrypts, want %d", unsupported, f.decrypts, wantDec)
		}
		if _, _, got, _ := parseFakeBlob(out.CiphertextBlob); !bytes.Equal(got, pt) {
			t.Errorf("blob holds %q", got)
		}
		f.allZero(t)
	}
}

func TestMissingSourceKeyWithFakes(t *testing.T) {
	pt := []byte("data key")
	t.Run("an inspector that is not the default names the key", func(t *testing.T) {
		a, b := inspecting{newFake("fa")}, newFake("fb")
		r := fakeRouter(t, a, b)
		r.SetDefault(b)
		b.needsKey = true
		out, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.blob(a.key("k1"), nil, pt), DestinationKeyID: b.key("k2")})
		if err != nil {
			t.Fatal(err)
		}
		if out.SourceKeyID != a.key("k1") || a.lastDecrypt.KeyID != a.key("k1") {
			t.Errorf("SourceKeyID %q, decrypt asked for %q; want %q", out.SourceKeyID, a.lastDecrypt.KeyID, a.key("k1"))
		}
	})
	t.Run("a default that cannot inspect decrypts without a key", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		r := fakeRouter(t, a, b)
		r.SetDefault(a)
		out, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.blob(a.key("k1"), nil, pt), DestinationKeyID: b.key("k2")})
		if err != nil {
			t.Fatal(err)
		}
		if out.SourceKeyID != a.key("k1") || a.lastDecrypt.KeyID != "" {
			t.Errorf("SourceKeyID %q, decrypt asked for %q", out.SourceKeyID, a.lastDecrypt.KeyID)
		}
	})
	t.Run("a default that needs the key", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		a.needsKey = true
		r := fakeRouter(t, a, b)
		r.SetDefault(a)
		_, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.blob(a.key("k1"), nil, pt), DestinationKeyID: b.key("k2")})
		if !errors.Is(err, backends.ErrInvalidCiphertext) || errors.Is(err, backends.ErrInvalidArgument) || !strings.Contains(err.Error(), "no key service can read") {
			t.Fatalf("err = %v, want InvalidCiphertext (only) saying no key service can read it", err)
		}
	})
	t.Run("no default and no inspector", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.blob(a.key("k1"), nil, pt), DestinationKeyID: b.key("k2")})
		if !errors.Is(err, backends.ErrInvalidCiphertext) || errors.Is(err, backends.ErrInvalidArgument) || !strings.Contains(err.Error(), "no key service can read") {
			t.Fatalf("err = %v, want InvalidCiphertext (only) saying no key service can read it", err)
		}
		if len(a.decrypted) != 0 {
			t.Error("something decrypted")
		}
	})
	t.Run("no inspector recognises the blob", func(t *testing.T) {
		a, b := inspecting{newFake("fa")}, inspecting{newFake("fb")}
		r := fakeRouter(t, a, b)
		r.SetDefault(a)
		_, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: []byte("not a blob anyone knows"), DestinationKeyID: b.key("k2")})
		if !errors.Is(err, backends.ErrInvalidCiphertext) || errors.Is(err, backends.ErrInvalidArgument) || !strings.Contains(err.Error(), "no key service can read") {
			t.Fatalf("err = %v, want InvalidCiphertext (only) saying no key service can read it", err)
		}
		if backends.KindOf(err) != backends.ErrInvalidCiphertext {
			t.Errorf("err = %v: kind %v, want InvalidCiphertext", err, backends.KindOf(err))
		}
	})
}

func TestUncomparableBackends(t *testing.T) {
	a := unhashable{fake: newFake("fa"), tags: []string{"x"}}
	b := unhashable{fake: newFake("fb"), tags: []string{"y"}}
	out, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
		CiphertextBlob: a.blob(a.key("k1"), nil, []byte("k")), SourceKeyID: a.key("k1"), DestinationKeyID: a.key("k2")})
	if err != nil {
		t.Fatal(err)
	}
	if out.Native || out.KeyID != a.key("k2") {
		t.Errorf("output = %+v", out)
	}
}

func TestIncorrectKeyBeforeDecrypting(t *testing.T) {
	const (
		acct = "111111111111"
		id1  = "11111111-1111-4111-8111-111111111111"
		id2  = "22222222-2222-4222-8222-222222222222"
	)
	a := inspecting{newFake("fa")}
	a.prefix = backends.KeyARN("aws", "us-east-1", acct, "")
	b := newFake("fb")
	r := fakeRouter(t, b)
	if err := r.RegisterAccount(acct, "", a); err != nil {
		t.Fatal(err)
	}
	r.SetDefault(a)
	blob := a.blob(a.key(id1), nil, []byte("data key"))
	for _, src := range []string{id2, a.key(id2), backends.KeyARN("aws", "us-west-2", acct, id1)} {
		_, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: blob, SourceKeyID: src, DestinationKeyID: b.key("k")})
		if !errors.Is(err, backends.ErrIncorrectKey) {
			t.Errorf("SourceKeyId %s: err = %v, want IncorrectKey", src, err)
		}
	}
	if a.decryptCalls != 0 {
		t.Errorf("the engine called Decrypt %d times for a blob whose key it knew was wrong", a.decryptCalls)
	}
	// The right key, in either form, passes the check.
	for _, src := range []string{id1, a.key(id1)} {
		if _, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: blob, SourceKeyID: src, DestinationKeyID: b.key("k")}); err != nil {
			t.Errorf("SourceKeyId %s: %v", src, err)
		}
	}
	// An alias the backend cannot describe is left to the backend, which decides.
	_, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
		CiphertextBlob: blob, SourceKeyID: "alias/other", DestinationKeyID: b.key("k")})
	if !errors.Is(err, backends.ErrIncorrectKey) || a.decryptCalls != 3 {
		t.Errorf("alias: err = %v after %d decrypt calls; want IncorrectKey from the backend's Decrypt", err, a.decryptCalls)
	}
}
