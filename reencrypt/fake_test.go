package reencrypt

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
)

// The tests in this file use kmstest's fake for what a real service cannot
// show: that the engine wipes the plaintext it handled, and how it copes with
// drivers that lack DryRun, native ReEncrypt or ciphertext inspection.
// Everything else is tested against backends/local in engine_test.go.

// serviceErr is a fake service's own error type, to check errors.As through the engine.
type serviceErr struct{ code string }

func (e *serviceErr) Error() string { return "fake service: " + e.code }

// fake is a fake service whose keys k1, k2 and k are URIs of its own scheme,
// registered as a driver with only the capabilities caps (as an uncomparable
// value when uncomparable is set).
type fake struct {
	*kmstest.Fake
	scheme       string
	caps         backends.Capabilities
	uncomparable bool
}

func newFake(scheme string) fake { return newFakeWith(scheme, backends.Capabilities{}) }

func newFakeWith(scheme string, caps backends.Capabilities) fake {
	f := fake{Fake: kmstest.New(), scheme: scheme, caps: caps}
	for _, name := range []string{"k1", "k2", "k"} {
		f.AddKey(f.key(name))
	}
	return f
}

func (f fake) key(name string) string { return f.scheme + "://" + name }

// driver is f as the Front sees it.
func (f fake) driver() backends.Backend {
	if f.uncomparable {
		return struct {
			backends.Backend
			tags []string
		}{f.Only(f.caps), []string{f.scheme}}
	}
	return f.Only(f.caps)
}

func fakeRouter(t *testing.T, fs ...fake) *backends.Front {
	t.Helper()
	r := new(backends.Front)
	for _, f := range fs {
		if err := r.Register(f.scheme, f.driver()); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

var (
	inspecting = backends.Capabilities{InspectCiphertext: true}
	native     = backends.Capabilities{ReEncrypt: true}
)

var (
	srcCtx = map[string]string{"purpose": "test", "tenant": "a"}
	dstCtx = map[string]string{"purpose": "test", "tenant": "b"}
)

func TestWipeAfterSuccess(t *testing.T) {
	a, b := newFake("fa"), newFake("fb")
	eng := New(fakeRouter(t, a, b))
	pt := []byte("0123456789abcdef0123456789abcdef")
	out, err := eng.ReEncrypt(context.Background(), &backends.ReEncryptInput{
		CiphertextBlob: a.Seal(a.key("k1"), srcCtx, pt), SourceKeyID: a.key("k1"), SourceEncryptionContext: srcCtx,
		DestinationKeyID: b.key("k2"), DestinationEncryptionContext: dstCtx,
	})
	if err != nil {
		t.Fatal(err)
	}
	if out.Native || out.SourceKeyID != a.key("k1") || out.KeyID != b.key("k2") {
		t.Errorf("output = %+v", out)
	}
	if _, got, err := b.Open(out.CiphertextBlob, dstCtx); err != nil || !bytes.Equal(got, pt) {
		t.Errorf("destination blob holds %q (%v), want %q", got, err, pt)
	}
	decrypted, handed := a.Calls("Decrypt"), b.Calls("Encrypt")
	if len(decrypted) != 1 || len(handed) != 1 || &decrypted[0].Plaintext[0] != &handed[0].Plaintext[0] {
		t.Fatalf("engine did not hand the decrypted slice on unchanged (%d decrypted, %d handed)", len(decrypted), len(handed))
	}
	a.WantWiped(t)
	b.WantWiped(t)
}

func TestWipeOnErrors(t *testing.T) {
	pt := []byte("0123456789abcdef0123456789abcdef")
	t.Run("destination fails", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		b.Inject = kmstest.FailOp("Encrypt", backends.Wrap(backends.ErrKeyUnavailable, "Encrypt", b.key("k2"), &serviceErr{"Unavailable"}))
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.Seal(a.key("k1"), nil, pt), SourceKeyID: a.key("k1"), DestinationKeyID: b.key("k2")})
		wantErr(t, err, backends.ErrKeyUnavailable, "the destination's Encrypt failing")
		if !backends.IsRetryable(err) {
			t.Errorf("err = %v is not retryable", err)
		}
		var se *serviceErr
		if !errors.As(err, &se) || se.code != "Unavailable" {
			t.Errorf("errors.As did not reach the service's own error: %v", err)
		}
		a.WantWiped(t)
		b.WantWiped(t)
		if a.Succeeded("Decrypt") != 1 {
			t.Fatal("source did not decrypt")
		}
	})
	t.Run("denied Encrypt", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		b.Inject = denyEncrypt
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.Seal(a.key("k1"), nil, pt), SourceKeyID: a.key("k1"), DestinationKeyID: b.key("k2")})
		wantErr(t, err, backends.ErrAccessDenied, "a denied Encrypt")
		a.WantWiped(t)
	})
	t.Run("cancelled between decrypt and encrypt", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		a.Inject = func(c kmstest.Call) error {
			if c.Op == "Decrypt" {
				cancel()
			}
			return nil
		}
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(ctx, &backends.ReEncryptInput{
			CiphertextBlob: a.Seal(a.key("k1"), nil, pt), SourceKeyID: a.key("k1"), DestinationKeyID: b.key("k2")})
		wantErr(t, err, backends.ErrCanceled, "cancelled between decrypt and encrypt")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v does not match context.Canceled", err)
		}
		if a.Succeeded("Decrypt") != 1 || b.Succeeded("Encrypt") != 0 {
			t.Errorf("decrypts %d, encrypts %d; want 1, 0", a.Succeeded("Decrypt"), b.Succeeded("Encrypt"))
		}
		a.WantWiped(t)
	})
	t.Run("dry run with a source without DryRun", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		a.DryRun = kmstest.DryRunUnsupported
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.Seal(a.key("k1"), nil, pt), SourceKeyID: a.key("k1"), DestinationKeyID: b.key("k2"), DryRun: true})
		wantErr(t, err, backends.ErrDryRunOperation, "DryRun with a source without DryRun")
		if a.Succeeded("Decrypt") != 1 || b.Succeeded("Encrypt") != 0 {
			t.Errorf("decrypts %d, encrypts %d; want 1 real decrypt, no real encrypt", a.Succeeded("Decrypt"), b.Succeeded("Encrypt"))
		}
		if !b.Last("Encrypt").DryRun || !bytes.Equal(b.Last("Encrypt").Plaintext, make([]byte, len(pt))) || len(b.Last("Encrypt").Plaintext) != len(pt) {
			t.Errorf("destination was not checked by a DryRun Encrypt of the (now wiped) real plaintext")
		}
		a.WantWiped(t)
		b.WantWiped(t)
	})
}

func TestDryRunFallbacks(t *testing.T) {
	pt := []byte("data key")
	for _, tc := range []struct {
		name             string
		src, dst         kmstest.DryRunMode
		realDec, realEnc int
	}{
		{"both support DryRun", kmstest.DryRunSupported, kmstest.DryRunSupported, 0, 0},
		{"destination without DryRun", kmstest.DryRunSupported, kmstest.DryRunUnsupported, 0, 1},
		{"neither supports DryRun", kmstest.DryRunUnsupported, kmstest.DryRunUnsupported, 1, 1},
		{"backends that ignore DryRun", kmstest.DryRunIgnored, kmstest.DryRunIgnored, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := newFake("fa"), newFake("fb")
			a.DryRun, b.DryRun = tc.src, tc.dst
			out, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
				CiphertextBlob: a.Seal(a.key("k1"), srcCtx, pt), SourceKeyID: a.key("k1"), SourceEncryptionContext: srcCtx,
				DestinationKeyID: b.key("k2"), DryRun: true})
			wantErr(t, err, backends.ErrDryRunOperation, "DryRun")
			if out != nil {
				t.Errorf("DryRun returned an output: %+v", out)
			}
			if a.Succeeded("Decrypt") != tc.realDec || b.Succeeded("Encrypt") != tc.realEnc {
				t.Errorf("real decrypts %d, encrypts %d; want %d, %d", a.Succeeded("Decrypt"), b.Succeeded("Encrypt"), tc.realDec, tc.realEnc)
			}
			a.WantWiped(t)
			b.WantWiped(t)
		})
	}
	t.Run("failure is reported, not DryRunOperation", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		b.Inject = denyEncrypt
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.Seal(a.key("k1"), nil, pt), SourceKeyID: a.key("k1"), DestinationKeyID: b.key("k2"), DryRun: true})
		wantErr(t, err, backends.ErrAccessDenied, "DryRun to a destination that denies Encrypt")
	})
}

func TestNativeFallsBackOnUnsupported(t *testing.T) {
	pt := []byte("data key")
	for _, unsupported := range []bool{false, true} {
		f := newFakeWith("fa", native)
		if unsupported {
			f.Inject = kmstest.FailOp("ReEncrypt", backends.Errorf(backends.ErrUnsupported, "ReEncrypt", f.key("k1"), "no native ReEncrypt"))
		}
		out, err := New(fakeRouter(t, f)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: f.Seal(f.key("k1"), nil, pt), SourceKeyID: f.key("k1"), DestinationKeyID: f.key("k2")})
		if err != nil {
			t.Fatal(err)
		}
		if out.Native == unsupported {
			t.Errorf("unsupported=%v: Native = %v", unsupported, out.Native)
		}
		if wantDec := map[bool]int{false: 0, true: 1}[unsupported]; f.Succeeded("Decrypt") != wantDec {
			t.Errorf("unsupported=%v: %d engine decrypts, want %d", unsupported, f.Succeeded("Decrypt"), wantDec)
		}
		if _, got, err := f.Open(out.CiphertextBlob, nil); err != nil || !bytes.Equal(got, pt) {
			t.Errorf("blob holds %q (%v)", got, err)
		}
		f.WantWiped(t)
	}
}

func TestMissingSourceKeyWithFakes(t *testing.T) {
	pt := []byte("data key")
	t.Run("an inspector that is not the default names the key", func(t *testing.T) {
		a, b := newFakeWith("fa", inspecting), newFake("fb")
		r := fakeRouter(t, a, b)
		r.SetDefault(b.driver())
		b.Inject = needsKey
		out, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.Seal(a.key("k1"), nil, pt), DestinationKeyID: b.key("k2")})
		if err != nil {
			t.Fatal(err)
		}
		if out.SourceKeyID != a.key("k1") || a.Last("Decrypt").KeyID != a.key("k1") {
			t.Errorf("SourceKeyID %q, decrypt asked for %q; want %q", out.SourceKeyID, a.Last("Decrypt").KeyID, a.key("k1"))
		}
	})
	t.Run("a default that cannot inspect decrypts without a key", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		r := fakeRouter(t, a, b)
		r.SetDefault(a.driver())
		out, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.Seal(a.key("k1"), nil, pt), DestinationKeyID: b.key("k2")})
		if err != nil {
			t.Fatal(err)
		}
		if out.SourceKeyID != a.key("k1") || a.Last("Decrypt").KeyID != "" {
			t.Errorf("SourceKeyID %q, decrypt asked for %q", out.SourceKeyID, a.Last("Decrypt").KeyID)
		}
	})
	t.Run("a default that needs the key", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		a.Inject = needsKey
		r := fakeRouter(t, a, b)
		r.SetDefault(a.driver())
		_, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.Seal(a.key("k1"), nil, pt), DestinationKeyID: b.key("k2")})
		wantNoReader(t, err)
	})
	t.Run("no default and no inspector", func(t *testing.T) {
		a, b := newFake("fa"), newFake("fb")
		_, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: a.Seal(a.key("k1"), nil, pt), DestinationKeyID: b.key("k2")})
		wantNoReader(t, err)
		if a.Succeeded("Decrypt") != 0 {
			t.Error("something decrypted")
		}
	})
	t.Run("no inspector recognises the blob", func(t *testing.T) {
		a, b := newFakeWith("fa", inspecting), newFakeWith("fb", inspecting)
		r := fakeRouter(t, a, b)
		r.SetDefault(a.driver())
		_, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: []byte("not a blob anyone knows"), DestinationKeyID: b.key("k2")})
		wantNoReader(t, err)
		if backends.KindOf(err) != backends.ErrInvalidCiphertext {
			t.Errorf("err = %v: kind %v, want InvalidCiphertext", err, backends.KindOf(err))
		}
	})
}

// wantNoReader fails t unless err says, as InvalidCiphertext only, that no key
// service can read the blob.
func wantNoReader(t *testing.T, err error) {
	t.Helper()
	wantErr(t, err, backends.ErrInvalidCiphertext, "a blob no key service reads")
	if err != nil && !strings.Contains(err.Error(), "no key service can read") {
		t.Errorf("err = %v does not say that no key service can read the blob", err)
	}
}

func TestUncomparableBackends(t *testing.T) {
	a, b := newFake("fa"), newFake("fb")
	a.uncomparable, b.uncomparable = true, true

	out, err := New(fakeRouter(t, a, b)).ReEncrypt(context.Background(), &backends.ReEncryptInput{
		CiphertextBlob: a.Seal(a.key("k1"), nil, []byte("k")), SourceKeyID: a.key("k1"), DestinationKeyID: a.key("k2")})
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
	arn := func(id string) string { return backends.KeyARN("aws", "us-east-1", acct, id) }
	a := kmstest.New(arn(id1), arn(id2))
	a.Account, a.Region = acct, "us-east-1"
	a.AddAlias("alias/other", arn(id2))
	b := newFake("fb")
	r := fakeRouter(t, b)
	if err := r.RegisterAccount(acct, "", a.Only(inspecting)); err != nil {
		t.Fatal(err)
	}
	r.SetDefault(a.Only(inspecting))
	blob := a.Seal(arn(id1), nil, []byte("data key"))
	for _, src := range []string{id2, arn(id2), backends.KeyARN("aws", "us-west-2", acct, id1)} {

		_, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: blob, SourceKeyID: src, DestinationKeyID: b.key("k")})
		wantErr(t, err, backends.ErrIncorrectKey, "SourceKeyId "+src)
	}
	if a.Count("Decrypt") != 0 {
		t.Errorf("the engine called Decrypt %d times for a blob whose key it knew was wrong", a.Count("Decrypt"))
	}
	// The right key, in either form, passes the check.
	for _, src := range []string{id1, arn(id1)} {
		if _, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
			CiphertextBlob: blob, SourceKeyID: src, DestinationKeyID: b.key("k")}); err != nil {
			t.Errorf("SourceKeyId %s: %v", src, err)
		}
	}
	// An alias the backend cannot describe is left to the backend, which decides.
	_, err := New(r).ReEncrypt(context.Background(), &backends.ReEncryptInput{
		CiphertextBlob: blob, SourceKeyID: "alias/other", DestinationKeyID: b.key("k")})
	wantErr(t, err, backends.ErrIncorrectKey, "SourceKeyId alias/other")
	if a.Count("Decrypt") != 3 {
		t.Errorf("alias: %d decrypt calls; want IncorrectKey from the backend's Decrypt", a.Count("Decrypt"))
	}

}

// denyEncrypt answers every Encrypt with AccessDenied around the service's own error.
func denyEncrypt(c kmstest.Call) error {
	if c.Op == "Encrypt" {
		return backends.Wrap(backends.ErrAccessDenied, "Encrypt", c.KeyID, &serviceErr{"AccessDenied"})
	}
	return nil
}

// needsKey answers a Decrypt that names no key with ValidationException.
func needsKey(c kmstest.Call) error {
	if c.Op == "Decrypt" && c.KeyID == "" {
		return backends.Errorf(backends.ErrInvalidArgument, "Decrypt", "", "KeyId is required")
	}
	return nil
}
