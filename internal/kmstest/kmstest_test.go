package kmstest_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/reencrypt"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failed []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.failed = append(r.failed, fmt.Sprintf(format, args...))
}

func TestWantKind(t *testing.T) {
	notFound := backends.Errorf(backends.ErrNotFound, "Encrypt", "alias/x", "no such key")
	for _, c := range []struct {
		name string
		err  error
		fail string // what the failure says; "" for none
	}{
		{"the kind", notFound, ""},
		{"wrapped", fmt.Errorf("opening: %w", notFound), ""},
		{"nil", nil, "no error, want NotFoundException"},
		{"another kind", backends.Errorf(backends.ErrDisabled, "Encrypt", "k", "disabled"), "(kind DisabledException), want NotFoundException"},
		{"two kinds", errors.Join(notFound, backends.Errorf(backends.ErrDisabled, "Decrypt", "k", "disabled")), "matches DisabledException as well as NotFoundException"},
		{"a bare kind", backends.ErrNotFound, "is not a *backends.Error"},
		{"no operation", backends.Errorf(backends.ErrNotFound, "", "k", "x"), "names no operation"},
	} {
		r := &recorder{TB: t}
		e := kmstest.WantKind(r, c.err, backends.ErrNotFound, c.name)
		switch {
		case c.fail == "" && (len(r.failed) != 0 || e == nil):
			t.Errorf("%s: WantKind failed (%q) or returned no error", c.name, r.failed)
		case c.fail != "" && (len(r.failed) != 1 || !strings.Contains(r.failed[0], c.fail) || !strings.HasPrefix(r.failed[0], c.name+": ") || e != nil):
			t.Errorf("%s: WantKind said %q and returned %v; want one failure saying %q", c.name, r.failed, e, c.fail)
		}
	}
}

const (
	account = "111122223333"
	region  = "us-east-1"
)

func TestFakeResolvesAWSForms(t *testing.T) {
	ctx := context.Background()
	id := kmstest.NewKeyID()
	arn := backends.KeyARN("aws", region, account, id)
	otherID := kmstest.NewKeyID()
	other := backends.KeyARN("aws", region, "444455556666", otherID)
	f := kmstest.New(arn, other)
	f.Account, f.Region = account, region
	f.AddAlias("alias/orders", arn)
	f.AddAlias("awskms:///"+id, id) // any string names a key as an alias
	for _, ref := range []string{arn, id, "alias/orders", backends.AliasARN("aws", region, account, "alias/orders"), "awskms:///" + id} {
		out, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: ref, Plaintext: []byte("k")})
		if err != nil || out.KeyID != arn {
			t.Errorf("Encrypt by %s = %+v, %v; want the key ARN", ref, out, err)
		}
	}
	if out, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: other, Plaintext: []byte("k")}); err != nil || out.KeyID != other {
		t.Errorf("Encrypt by another account's ARN = %+v, %v", out, err)
	}
	for _, ref := range []string{otherID, "alias/none", backends.AliasARN("aws", "eu-west-1", account, "alias/orders"), backends.KeyARN("aws", "eu-west-1", account, id), "vault://transit/x"} {
		_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: ref, Plaintext: []byte("k")})
		kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt by "+ref)
	}
	md, err := f.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: "alias/orders"})
	if err != nil || md.Arn != arn || md.KeyID != id || md.AWSAccountID != account || md.Region != region || !md.Enabled {
		t.Errorf("DescribeKey = %+v, %v", md, err)
	}
}

func TestFakeBlobs(t *testing.T) {
	ctx := context.Background()
	const a, b = "vault://transit/a", "vault://transit/b"
	east := "arn:aws:kms:us-east-1:111122223333:key/mrk-1234567890abcdef1234567890abcdef"
	west := "arn:aws:kms:us-west-2:111122223333:key/mrk-1234567890abcdef1234567890abcdef"
	f := kmstest.New(a, b, east, west)
	ec := map[string]string{"tenant": "a"}
	enc, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: a, Plaintext: []byte("data key"), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{a, ""} {
		dec, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
		if err != nil || dec.KeyID != a || string(dec.Plaintext) != "data key" {
			t.Errorf("Decrypt naming %q = %+v, %v", key, dec, err)
		}
	}
	_, err = f.Decrypt(ctx, &backends.DecryptInput{KeyID: b, CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "Decrypt by another key")
	_, err = f.Decrypt(ctx, &backends.DecryptInput{KeyID: a, CiphertextBlob: enc.CiphertextBlob})
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "Decrypt without the context")
	for i := range enc.CiphertextBlob {
		bad := bytes.Clone(enc.CiphertextBlob)
		bad[i] ^= 1
		_, err = f.Decrypt(ctx, &backends.DecryptInput{KeyID: a, CiphertextBlob: bad, EncryptionContext: ec})
		kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, fmt.Sprintf("Decrypt with byte %d flipped", i))
	}
	if id, err := f.CiphertextKeyID(enc.CiphertextBlob); err != nil || id != a {
		t.Errorf("CiphertextKeyID = %q, %v", id, err)
	}
	if id, pt, err := f.Open(f.Seal(b, nil, []byte("x")), nil); err != nil || id != b || string(pt) != "x" {
		t.Errorf("Open(Seal) = %q, %q, %v", id, pt, err)
	}
	// A multi-Region replica opens the primary's blob, as itself.
	blob := f.Seal(east, nil, []byte("x"))
	if dec, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: west, CiphertextBlob: blob}); err != nil || dec.KeyID != west {
		t.Errorf("Decrypt by the replica = %+v, %v", dec, err)
	}
	// Native ReEncrypt.
	re, err := f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyID: b})
	if err != nil || !re.Native || re.SourceKeyID != a || re.KeyID != b {
		t.Fatalf("ReEncrypt = %+v, %v", re, err)
	}
	if id, pt, err := f.Open(re.CiphertextBlob, nil); err != nil || id != b || string(pt) != "data key" {
		t.Errorf("the re-encrypted blob opens as %q, %q, %v", id, pt, err)
	}
}

func TestFakeKeyStates(t *testing.T) {
	ctx := context.Background()
	const k = "vault://transit/k"
	f := kmstest.New(k)
	blob := f.Seal(k, nil, []byte("x"))
	for _, c := range []struct {
		state backends.KeyState
		kind  *backends.Kind
	}{{backends.KeyStateDisabled, backends.ErrDisabled}, {backends.KeyStatePendingDeletion, backends.ErrInvalidState}} {
		f.SetState(k, c.state)
		_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: k, Plaintext: []byte("x")})
		kmstest.WantKind(t, err, c.kind, "Encrypt under a key "+string(c.state))
		_, err = f.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: blob})
		kmstest.WantKind(t, err, c.kind, "Decrypt under a key "+string(c.state))
		_, err = f.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: k})
		kmstest.WantKind(t, err, c.kind, "GenerateDataKey under a key "+string(c.state))
		md, err := f.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: k})
		if err != nil || md.KeyState != c.state || md.Enabled || (c.state == backends.KeyStatePendingDeletion) == md.DeletionDate.IsZero() {
			t.Errorf("DescribeKey of a key %s = %+v, %v", c.state, md, err)
		}
	}
}

func TestFakeRecordsAndInjects(t *testing.T) {
	ctx := context.Background()
	const k = "vault://transit/k"
	f := kmstest.New(k)
	throttled := backends.Errorf(backends.ErrThrottling, "Encrypt", k, "slow down")
	f.Inject = kmstest.FailNext(throttled)
	pt := []byte("secret")
	_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: k, Plaintext: pt})
	kmstest.WantKind(t, err, backends.ErrThrottling, "the first Encrypt")
	enc, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: k, Plaintext: pt})
	if err != nil {
		t.Fatal(err)
	}
	f.Inject = kmstest.FailOp("GenerateDataKey", throttled)
	_, err = f.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: k})
	kmstest.WantKind(t, err, backends.ErrThrottling, "GenerateDataKey")
	dec, err := f.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	if err != nil {
		t.Fatal(err)
	}
	if f.Count("") != 4 || f.Count("Encrypt") != 2 || f.Succeeded("Encrypt") != 1 || f.Succeeded("") != 2 {
		t.Errorf("counted %d calls, %d Encrypt (%d succeeded), %d succeeded", f.Count(""), f.Count("Encrypt"), f.Succeeded("Encrypt"), f.Succeeded(""))
	}
	calls := f.Calls("")
	if &calls[0].Plaintext[0] != &pt[0] || &calls[3].Plaintext[0] != &dec.Plaintext[0] || calls[0].Err != throttled {
		t.Errorf("the calls do not hold the plaintext slices handed in and out, or the answer: %+v", calls)
	}
	r := &recorder{TB: t}
	f.WantWiped(r)
	if len(r.failed) != 3 { // pt twice, dec.Plaintext
		t.Errorf("WantWiped before wiping: %q", r.failed)
	}
	clear(pt)
	clear(dec.Plaintext)
	f.WantWiped(t)
}

func TestFakeDryRun(t *testing.T) {
	ctx := context.Background()
	const k = "vault://transit/k"
	for mode, kind := range map[kmstest.DryRunMode]*backends.Kind{kmstest.DryRunSupported: backends.ErrDryRunOperation, kmstest.DryRunUnsupported: backends.ErrUnsupported, kmstest.DryRunIgnored: nil} {
		f := kmstest.New(k)
		f.DryRun = mode
		blob := f.Seal(k, nil, []byte("x"))
		_, errE := f.Encrypt(ctx, &backends.EncryptInput{KeyID: k, Plaintext: []byte("x"), DryRun: true})
		_, errD := f.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: blob, DryRun: true})
		_, errR := f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, DestinationKeyID: k, DryRun: true})
		_, errG := f.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: k, DryRun: true})
		for i, err := range []error{errE, errD, errR, errG} {
			if kind == nil {
				if err != nil {
					t.Errorf("mode %d, call %d: %v", mode, i, err)
				}
				continue
			}
			kmstest.WantKind(t, err, kind, fmt.Sprintf("mode %d, call %d", mode, i))
		}
		if want := map[bool]int{true: 4, false: 0}[kind == nil]; f.Succeeded("") != want {
			t.Errorf("mode %d: %d calls did real work, want %d", mode, f.Succeeded(""), want)
		}
	}
}

func TestOnly(t *testing.T) {
	f := kmstest.New()
	for _, want := range []backends.Capabilities{{}, {ReEncrypt: true}, {InspectCiphertext: true}, {ReEncrypt: true, GenerateDataKey: true, DescribeKey: true, InspectCiphertext: true}} {
		b := f.Only(want)

		var got backends.Capabilities
		_, got.ReEncrypt = b.(backends.ReEncrypter)
		_, got.GenerateDataKey = b.(backends.DataKeyGenerator)
		_, got.DescribeKey = b.(backends.KeyDescriber)
		_, got.InspectCiphertext = b.(backends.CiphertextInspector)
		if got != want {
			t.Errorf("Only(%+v) has %+v", want, got)
		}
	}
}

func TestOnlyPanicsForAnUnknownSet(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Only of a set it has no view for did not panic")
		}
	}()
	kmstest.New().Only(backends.Capabilities{DescribeKey: true})
}

func TestWantURLOpener(t *testing.T) {
	f := kmstest.New("fake://orders")
	f.AddAlias("fake://alias/orders", "fake://orders")
	one := backends.URLOpenerFunc(func(context.Context, *url.URL) (backends.Backend, error) { return f, nil })
	kmstest.WantURLOpener(t, one, "fake://orders", "fake://orders", "fake://alias/orders")

	// An opener that opens a backend of its own for every URL.
	r := &recorder{TB: t}
	each := backends.URLOpenerFunc(func(context.Context, *url.URL) (backends.Backend, error) { return kmstest.New("fake://orders"), nil })
	kmstest.WantURLOpener(r, each, "fake://orders", "fake://orders", "fake://orders")
	if len(r.failed) != 1 || !strings.Contains(r.failed[0], "opened a second backend") {
		t.Errorf("an opener of a backend per URL: the check says %q", r.failed)
	}
}

// ordersFront returns a fake with the keys fake://orders (alias
// fake://alias/orders) and fake://other, and a Front that routes the fake
// scheme to it.
func ordersFront(t *testing.T) (*kmstest.Fake, *backends.Front) {
	t.Helper()
	f := kmstest.New("fake://orders", "fake://other")
	f.AddAlias("fake://alias/orders", "fake://orders")
	front := backends.NewFront(nil)
	if err := front.Register("fake", f); err != nil {
		t.Fatal(err)
	}
	return f, front
}

func TestWantKeyForms(t *testing.T) {
	f, front := ordersFront(t)
	ec := map[string]string{"tenant": "acme"}
	blob := kmstest.WantKeyForms(t, front, ec, "fake://orders", "fake://orders", "fake://alias/orders")
	if id, pt, err := f.Open(blob, ec); err != nil || id != "fake://orders" || string(pt) != "k" {
		t.Errorf("the last blob: %q under %s, %v", pt, id, err)
	}
	if f.Count("GenerateDataKey") != 2 || f.Count("DescribeKey") != 2 {
		t.Errorf("calls: %v", f.Calls(""))
	}
	f.WantWiped(t)

	// A reference to another key.
	r := &recorder{TB: t}
	kmstest.WantKeyForms(r, front, nil, "fake://orders", "fake://other")
	if len(r.failed) != 1 || !strings.Contains(r.failed[0], "Front.Encrypt by fake://other") {
		t.Errorf("a reference to another key: the check says %q", r.failed)
	}
}

// reEncryptFunc is a backends.ReEncrypter made of a function.
type reEncryptFunc func(context.Context, *backends.ReEncryptInput) (*backends.ReEncryptOutput, error)

func (fn reEncryptFunc) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	return fn(ctx, in)
}

func TestWantReEncryptForms(t *testing.T) {
	f, front := ordersFront(t)
	ec := map[string]string{"tenant": "acme"}
	kmstest.WantReEncryptForms(t, reencrypt.New(front), front, ec, "fake://orders", true, "fake://orders", "fake://alias/orders")
	// 2 sources x 2 destinations: native for ViaAny and ViaNative, never for ViaPlaintext.
	if n := f.Succeeded("ReEncrypt"); n != 8 {
		t.Errorf("native ReEncrypts: %d, want 8 (%v)", n, f.Calls("ReEncrypt"))
	}
	f.WantWiped(t)

	// A re-encryption that lands under another key, or claims to be native
	// when it is not, is caught.
	for name, c := range map[string]struct {
		re   backends.ReEncrypter
		want string
	}{
		"another key": {reEncryptFunc(func(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
			c := *in
			c.DestinationKeyID = "fake://other"
			return reencrypt.New(front).ReEncrypt(ctx, &c)
		}), "destination fake://other"},
		"not native": {reEncryptFunc(func(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
			c := *in
			c.Via = backends.ViaPlaintext
			return reencrypt.New(front).ReEncrypt(ctx, &c)
		}), "native false"},
	} {
		r := &recorder{TB: t}
		kmstest.WantReEncryptForms(r, c.re, front, ec, "fake://orders", true, "fake://orders")
		if len(r.failed) == 0 || !strings.Contains(strings.Join(r.failed, "\n"), c.want) {
			t.Errorf("%s: the check says %q", name, r.failed)
		}
	}
}
