package backends

import (
	"bytes"
	"context"
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// full is a driver with every capability. It records the inputs it was handed
// and answers with its name, so a test sees what reached the driver.
type full struct {
	name string
	mu   sync.Mutex
	seen []string // "Op KeyID" of every call that reached it
	fail []error  // errors to return, one per call, before answering normally
}

var (
	_ ReEncrypter         = (*full)(nil)
	_ DataKeyGenerator    = (*full)(nil)
	_ KeyDescriber        = (*full)(nil)
	_ CiphertextInspector = (*full)(nil)
)

func (d *full) record(op, key string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seen = append(d.seen, op+" "+key)
	if len(d.fail) > 0 {
		err := d.fail[0]
		d.fail = d.fail[1:]
		return err
	}
	return nil
}

func (d *full) calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.seen...)
}

func (d *full) Encrypt(_ context.Context, in *EncryptInput) (*EncryptOutput, error) {
	if err := d.record("Encrypt", in.KeyID); err != nil {
		return nil, err
	}
	return &EncryptOutput{CiphertextBlob: append([]byte(d.name+":"), in.Plaintext...), KeyID: d.name + "|" + in.KeyID}, nil
}

func (d *full) Decrypt(_ context.Context, in *DecryptInput) (*DecryptOutput, error) {
	if err := d.record("Decrypt", in.KeyID); err != nil {
		return nil, err
	}
	pt, ok := bytes.CutPrefix(in.CiphertextBlob, []byte(d.name+":"))
	if !ok {
		return nil, Errorf(ErrInvalidCiphertext, "Decrypt", in.KeyID, "not mine")
	}
	return &DecryptOutput{Plaintext: bytes.Clone(pt), KeyID: d.name + "|" + in.KeyID}, nil
}

func (d *full) ReEncrypt(_ context.Context, in *ReEncryptInput) (*ReEncryptOutput, error) {
	if err := d.record("ReEncrypt", in.SourceKeyID+">"+in.DestinationKeyID); err != nil {
		return nil, err
	}
	return &ReEncryptOutput{CiphertextBlob: in.CiphertextBlob, SourceKeyID: in.SourceKeyID, KeyID: d.name + "|" + in.DestinationKeyID}, nil
}

func (d *full) GenerateDataKey(_ context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	if err := d.record("GenerateDataKey", in.KeyID); err != nil {
		return nil, err
	}
	n, _ := in.DataKeyLength("GenerateDataKey")
	return &GenerateDataKeyOutput{CiphertextBlob: []byte(d.name), Plaintext: bytes.Repeat([]byte{7}, n), KeyID: d.name + "|" + in.KeyID}, nil
}

func (d *full) GenerateDataKeyWithoutPlaintext(_ context.Context, in *GenerateDataKeyInput) (*GenerateDataKeyOutput, error) {
	if err := d.record("GenerateDataKeyWithoutPlaintext", in.KeyID); err != nil {
		return nil, err
	}
	return &GenerateDataKeyOutput{CiphertextBlob: []byte(d.name), KeyID: d.name + "|" + in.KeyID}, nil
}

func (d *full) DescribeKey(_ context.Context, in *DescribeKeyInput) (*KeyMetadata, error) {
	if err := d.record("DescribeKey", in.KeyID); err != nil {
		return nil, err
	}
	return &KeyMetadata{Arn: d.name + "|" + in.KeyID}, nil
}

func (d *full) CiphertextKeyID(blob []byte) (string, error) {
	if bytes.HasPrefix(blob, []byte(d.name+":")) {
		return "vault://transit/" + d.name, nil
	}
	return "", Errorf(ErrInvalidCiphertext, "CiphertextKeyID", "", "not mine")
}

const testARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

func wantKind(t *testing.T, err error, k *Kind, what string) {
	t.Helper()
	if !errors.Is(err, k) {
		t.Errorf("%s: error %v, want %s", what, err, k.Name())
		return
	}
	for _, other := range Kinds {
		if other != k && errors.Is(err, other) {
			t.Errorf("%s: error %v matches %s as well as %s", what, err, other.Name(), k.Name())
		}
	}
}

// TestFrontValidates checks that every malformed input is refused with one kind
// before the driver sees it.
func TestFrontValidates(t *testing.T) {
	d := &full{name: "d"}
	f := NewFront(d)
	if err := f.RegisterAccount("111122223333", "", d); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	big := strings.Repeat("x", MaxEncryptionContextBytes)
	tokens := make([]string, MaxGrantTokens+1)
	for i := range tokens {
		tokens[i] = "t"
	}
	pt := []byte("data key")
	blob := []byte("d:data key")
	for _, c := range []struct {
		name string
		call func() error
		kind *Kind
	}{
		{"Encrypt nil", func() error { _, err := f.Encrypt(ctx, nil); return err }, ErrInvalidArgument},
		{"Encrypt no key", func() error { _, err := f.Encrypt(ctx, &EncryptInput{Plaintext: pt}); return err }, ErrInvalidArgument},
		{"Encrypt bad key", func() error { _, err := f.Encrypt(ctx, &EncryptInput{KeyID: "orders", Plaintext: pt}); return err }, ErrNotFound},
		{"Encrypt empty plaintext", func() error { _, err := f.Encrypt(ctx, &EncryptInput{KeyID: "alias/a"}); return err }, ErrInvalidArgument},
		{"Encrypt 4097 bytes", func() error {
			_, err := f.Encrypt(ctx, &EncryptInput{KeyID: "alias/a", Plaintext: make([]byte, MaxPlaintextBytes+1)})
			return err
		}, ErrInvalidArgument},
		{"Encrypt big context", func() error {
			_, err := f.Encrypt(ctx, &EncryptInput{KeyID: "alias/a", Plaintext: pt, EncryptionContext: map[string]string{"k": big}})
			return err
		}, ErrInvalidArgument},
		{"Encrypt bad UTF-8 context", func() error {
			_, err := f.Encrypt(ctx, &EncryptInput{KeyID: "alias/a", Plaintext: pt, EncryptionContext: map[string]string{"k": "\xff"}})
			return err
		}, ErrInvalidArgument},
		{"Encrypt 11 grant tokens", func() error {
			_, err := f.Encrypt(ctx, &EncryptInput{KeyID: "alias/a", Plaintext: pt, GrantTokens: tokens})
			return err
		}, ErrInvalidArgument},
		{"Encrypt empty grant token", func() error {
			_, err := f.Encrypt(ctx, &EncryptInput{KeyID: "alias/a", Plaintext: pt, GrantTokens: []string{""}})
			return err
		}, ErrInvalidArgument},
		{"Encrypt bad algorithm", func() error {
			_, err := f.Encrypt(ctx, &EncryptInput{KeyID: "alias/a", Plaintext: pt, EncryptionAlgorithm: "ROT13"})
			return err
		}, ErrInvalidArgument},
		{"Encrypt cancelled", func() error { _, err := f.Encrypt(done, &EncryptInput{KeyID: "alias/a", Plaintext: pt}); return err }, ErrCanceled},
		{"Decrypt nil", func() error { _, err := f.Decrypt(ctx, nil); return err }, ErrInvalidArgument},
		{"Decrypt empty blob", func() error { _, err := f.Decrypt(ctx, &DecryptInput{KeyID: "alias/a"}); return err }, ErrInvalidArgument},
		{"Decrypt 6145 bytes", func() error {
			_, err := f.Decrypt(ctx, &DecryptInput{CiphertextBlob: make([]byte, MaxCiphertextBytes+1)})
			return err
		}, ErrInvalidArgument},
		{"Decrypt bad key", func() error {
			_, err := f.Decrypt(ctx, &DecryptInput{KeyID: "arn:aws:kms:x", CiphertextBlob: blob})
			return err
		}, ErrNotFound},
		{"ReEncrypt nil", func() error { _, err := f.ReEncrypt(ctx, nil); return err }, ErrInvalidArgument},
		{"ReEncrypt no destination", func() error { _, err := f.ReEncrypt(ctx, &ReEncryptInput{CiphertextBlob: blob}); return err }, ErrInvalidArgument},
		{"ReEncrypt bad Via", func() error {
			_, err := f.ReEncrypt(ctx, &ReEncryptInput{CiphertextBlob: blob, DestinationKeyID: "alias/a", Via: 9})
			return err
		}, ErrInvalidArgument},
		{"ReEncrypt bad source", func() error {
			_, err := f.ReEncrypt(ctx, &ReEncryptInput{CiphertextBlob: blob, SourceKeyID: "nope", DestinationKeyID: "alias/a"})
			return err
		}, ErrNotFound},
		{"GenerateDataKey nil", func() error { _, err := f.GenerateDataKey(ctx, nil); return err }, ErrInvalidArgument},
		{"GenerateDataKey 1025 bytes", func() error {
			_, err := f.GenerateDataKey(ctx, &GenerateDataKeyInput{KeyID: "alias/a", NumberOfBytes: 1025})
			return err
		}, ErrInvalidArgument},
		{"GenerateDataKeyWithoutPlaintext no key", func() error {
			_, err := f.GenerateDataKeyWithoutPlaintext(ctx, &GenerateDataKeyInput{})
			return err
		}, ErrInvalidArgument},
		{"DescribeKey nil", func() error { _, err := f.DescribeKey(ctx, nil); return err }, ErrInvalidArgument},
		{"DescribeKey cancelled", func() error { _, err := f.DescribeKey(done, &DescribeKeyInput{KeyID: "alias/a"}); return err }, ErrCanceled},
	} {
		err := c.call()
		wantKind(t, err, c.kind, c.name)
		var e *Error
		if errors.As(err, &e) && e.Op == "" {
			t.Errorf("%s: error %v names no operation", c.name, err)
		}
	}
	if got := d.calls(); len(got) != 0 {
		t.Errorf("the driver was called with malformed inputs: %v", got)
	}
}

// TestFrontForwards checks that every operation reaches the owning driver's own
// capability, and the fallbacks where a driver has none.
func TestFrontForwards(t *testing.T) {
	ctx := context.Background()
	v, a := &full{name: "v"}, &full{name: "a"}
	var f Front
	must(t, f.Register("vault", v))
	must(t, f.RegisterAccount("111122223333", "", a))
	must(t, f.Register("plain", named("plain")))

	if _, err := f.GenerateDataKey(ctx, &GenerateDataKeyInput{KeyID: "vault://transit/k", NumberOfBytes: 16}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GenerateDataKeyWithoutPlaintext(ctx, &GenerateDataKeyInput{KeyID: "vault://transit/k"}); err != nil {
		t.Fatal(err)
	}
	md, err := f.DescribeKey(ctx, &DescribeKeyInput{KeyID: "vault://transit/k"})
	if err != nil || md.Arn != "v|vault://transit/k" {
		t.Fatalf("DescribeKey = %+v, %v", md, err)
	}
	out, err := f.ReEncrypt(ctx, &ReEncryptInput{CiphertextBlob: []byte("v:x"), SourceKeyID: "vault://transit/k", DestinationKeyID: "vault://transit/j"})
	if err != nil || !out.Native || out.SourceEncryptionAlgorithm != SymmetricDefault {
		t.Fatalf("ReEncrypt = %+v, %v", out, err)
	}
	// Without SourceKeyId, the inspector that recognises the blob decides.
	if _, err := f.ReEncrypt(ctx, &ReEncryptInput{CiphertextBlob: []byte("v:x"), DestinationKeyID: "vault://transit/j"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"GenerateDataKey vault://transit/k", "GenerateDataKeyWithoutPlaintext vault://transit/k", "DescribeKey vault://transit/k",
		"ReEncrypt vault://transit/k>vault://transit/j", "ReEncrypt >vault://transit/j"}
	if got := v.calls(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("the vault driver saw %q, want %q", got, want)
	}
	// Two drivers, or ViaPlaintext: no native ReEncrypt.
	_, err = f.ReEncrypt(ctx, &ReEncryptInput{CiphertextBlob: []byte("v:x"), SourceKeyID: "vault://transit/k", DestinationKeyID: testARN})
	wantKind(t, err, ErrUnsupported, "ReEncrypt across drivers")
	_, err = f.ReEncrypt(ctx, &ReEncryptInput{CiphertextBlob: []byte("v:x"), SourceKeyID: "vault://transit/k", DestinationKeyID: "vault://transit/j", Via: ViaPlaintext})
	wantKind(t, err, ErrUnsupported, "ReEncrypt ViaPlaintext")
	// A driver without capabilities: GenerateDataKey falls back to Encrypt,
	// DescribeKey and ReEncrypt are unsupported.
	g, err := f.GenerateDataKey(ctx, &GenerateDataKeyInput{KeyID: "plain://k", NumberOfBytes: 24})
	if err != nil || len(g.Plaintext) != 24 || g.KeyID != "plain|plain://k" {
		t.Fatalf("fallback GenerateDataKey = %+v, %v", g, err)
	}
	g, err = f.GenerateDataKeyWithoutPlaintext(ctx, &GenerateDataKeyInput{KeyID: "plain://k"})
	if err != nil || g.Plaintext != nil {
		t.Fatalf("fallback GenerateDataKeyWithoutPlaintext = %+v, %v", g, err)
	}
	_, err = f.DescribeKey(ctx, &DescribeKeyInput{KeyID: "plain://k"})
	wantKind(t, err, ErrUnsupported, "DescribeKey of a driver that cannot")
	_, err = f.ReEncrypt(ctx, &ReEncryptInput{CiphertextBlob: []byte("x"), SourceKeyID: "plain://k", DestinationKeyID: "plain://j"})
	wantKind(t, err, ErrUnsupported, "ReEncrypt of a driver that cannot")

	caps, err := f.Capabilities(ctx, "vault://transit/k")
	if err != nil || caps != (Capabilities{true, true, true, true}) {
		t.Errorf("Capabilities(vault) = %+v, %v", caps, err)
	}
	caps, err = f.Capabilities(ctx, "plain://k")
	if err != nil || caps != (Capabilities{}) {
		t.Errorf("Capabilities(plain) = %+v, %v", caps, err)
	}
	// A Front inside a Front: the inner one's driver decides.
	var outer Front
	must(t, outer.Register("plain", &f))
	caps, err = outer.Capabilities(ctx, "plain://k")
	if err != nil || caps != (Capabilities{}) {
		t.Errorf("Capabilities through a nested Front = %+v, %v", caps, err)
	}
	if id, err := f.CiphertextKeyID([]byte("v:blob")); err != nil || id != "vault://transit/v" {
		t.Errorf("CiphertextKeyID = %q, %v", id, err)
	}
	_, err = f.CiphertextKeyID([]byte("nobody's"))
	wantKind(t, err, ErrInvalidCiphertext, "CiphertextKeyID of a blob nobody recognises")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestFrontKeyURLs checks that the AWS key URLs of Tink and gocloud reach the
// account's driver as the ARN they hold, and that openers open on first use.
func TestFrontKeyURLs(t *testing.T) {
	ctx := context.Background()
	a := &full{name: "a"}
	var f Front
	must(t, f.RegisterAccount("111122223333", "us-east-1", a))
	for _, ref := range []string{
		"aws-kms://" + testARN,
		"awskms:///" + testARN,
		"awskms:///" + testARN + "?region=us-east-1",
		"awskms://" + testARN,
	} {
		b, got, err := f.Lookup(ctx, ref)
		if err != nil || b != Backend(a) || got != testARN {
			t.Errorf("Lookup(%q) = %v, %q, %v; want the account's driver and the ARN", ref, b, got, err)
		}
	}
	out, err := f.Encrypt(ctx, &EncryptInput{KeyID: "aws-kms://" + testARN, Plaintext: []byte{1}})
	if err != nil || out.KeyID != "a|"+testARN {
		t.Fatalf("Encrypt by Tink's URL = %+v, %v", out, err)
	}

	var opened []string
	var mu sync.Mutex
	opener := URLOpenerFunc(func(_ context.Context, u *url.URL) (Backend, error) {
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, u.String())
		if u.Host == "bad" {
			return nil, Errorf(ErrAccessDenied, "", "", "no token")
		}
		return named("opened:" + u.Host), nil
	})
	must(t, f.RegisterOpener("hcvault", opener))
	must(t, f.RegisterOpener("awskms", opener))
	wantKind(t, f.Register("hcvault", named("x")), ErrAlreadyExists, "Register over an opener")
	wantKind(t, f.RegisterOpener("hcvault", opener), ErrAlreadyExists, "RegisterOpener twice")
	b, _, err := f.Lookup(ctx, "hcvault://vault.example:8200/transit/keys/orders")
	if err != nil || b != named("opened:vault.example:8200") {
		t.Fatalf("Lookup through the opener = %v, %v", b, err)
	}
	// An ARN of an account nobody registered goes to the awskms opener.
	other := "arn:aws:kms:eu-west-1:444455556666:alias/x"
	if b, ref, err := f.Lookup(ctx, other); err != nil || b != named("opened:") || ref != other {
		t.Fatalf("Lookup(%s) = %v, %q, %v", other, b, ref, err)
	}
	_, err = f.Encrypt(ctx, &EncryptInput{KeyID: "hcvault://bad/transit/keys/x", Plaintext: []byte{1}})
	wantKind(t, err, ErrAccessDenied, "Encrypt when the opener fails")
	if want := "awskms:///" + other; opened[1] != want {
		t.Errorf("the awskms opener got %q, want %q", opened[1], want)
	}
}

// TestErrorOneKind checks that an *Error wrapping another *Error matches only its
// own kind, and still unwraps to the service's error.
func TestErrorOneKind(t *testing.T) {
	svc := errors.New("service said no")
	inner := Wrap(ErrInvalidCiphertext, "Decrypt", "k", svc)
	outer := &Error{Kind: ErrInvalidArgument, Op: "ReEncrypt", Message: "x", Err: inner}
	wantKind(t, outer, ErrInvalidArgument, "an InvalidArgument around an InvalidCiphertext")
	if !errors.Is(outer, svc) {
		t.Error("the service's error is no longer reachable")
	}
	if KindOf(outer) != ErrInvalidArgument {
		t.Errorf("KindOf = %v", KindOf(outer))
	}
}

// FuzzFrontRoute checks that any key reference, as a URL of any scheme or in any
// AWS form, routes to a driver or fails with one kind, never panics, and that the
// AWS key URLs route exactly as the ARN they hold.
func FuzzFrontRoute(f *testing.F) {
	for _, s := range []string{
		testARN, "alias/x", "1234abcd-12ab-34cd-56ef-1234567890ab", "vault://transit/k", "aws-kms://" + testARN,
		"awskms:///" + testARN + "?region=us-east-1", "awskms://alias/x?region=eu-west-1", "gcp-kms://projects/p/locations/l/keyRings/r/cryptoKeys/k",
		"hcvault://vault:8200/transit/keys/k", "pkcs11:token=t;object=o", "azurekeyvault://v.vault.azure.net/keys/k", "base64key://AAAA",
		"arn:aws:kms:us-east-1:111122223333:alias/", "aws-kms://arn:aws:kms:::key/", "awskms://", ":", "%", "a:b",
	} {
		f.Add(s)
	}
	d := &full{name: "d"}
	fr := NewFront(d)
	_ = fr.RegisterAccount("111122223333", "", d)
	_ = fr.Register("vault", d)
	_ = fr.RegisterOpener("hcvault", URLOpenerFunc(func(context.Context, *url.URL) (Backend, error) { return d, nil }))
	f.Fuzz(func(t *testing.T, s string) {
		b, ref, err := fr.Lookup(context.Background(), s)
		if err != nil {
			if KindOf(err) == nil {
				t.Fatalf("Lookup(%q): error of no kind: %v", s, err)
			}
			return
		}
		if b == nil || ref == "" {
			t.Fatalf("Lookup(%q) = %v, %q without an error", s, b, ref)
		}
		if r, err := ParseKeyRef(s); err == nil && r.Form == FormURI {
			if arn, ok := awsURLARN(r); ok && ref != arn.Raw {
				t.Fatalf("Lookup(%q) handed the driver %q, want the ARN %q", s, ref, arn.Raw)
			}
		}
	})
}

// static is a driver that answers without allocating, to measure the Front.
type static struct{ out EncryptOutput }

func (s *static) Encrypt(context.Context, *EncryptInput) (*EncryptOutput, error) { return &s.out, nil }
func (s *static) Decrypt(context.Context, *DecryptInput) (*DecryptOutput, error) { return nil, nil }

// TestFrontAllocations checks that the Front adds no allocation to a call of a
// driver: it checks, routes and labels without the heap (interceptors cost one
// closure chain per call).
func TestFrontAllocations(t *testing.T) {
	ctx := context.Background()
	d := &static{out: EncryptOutput{KeyID: testARN}}
	f := NewFront(d)
	must(t, f.RegisterAccount("111122223333", "", d))
	in := &EncryptInput{KeyID: testARN, Plaintext: make([]byte, 32), EncryptionContext: map[string]string{"k": "v"}}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := f.Encrypt(ctx, in); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Front.Encrypt allocates %.0f times per call, want 0", n)
	}
}

// BenchmarkFrontOverhead measures what the Front costs over calling a driver
// that does nothing: checks, routing by ARN, labelling; and with an interceptor.
func BenchmarkFrontOverhead(b *testing.B) {
	ctx := context.Background()
	d := &static{out: EncryptOutput{KeyID: testARN}}
	in := &EncryptInput{KeyID: testARN, Plaintext: make([]byte, 32), EncryptionContext: map[string]string{"k": "v"}}
	run := func(b *testing.B, enc func(context.Context, *EncryptInput) (*EncryptOutput, error)) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := enc(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("driver", func(b *testing.B) { run(b, d.Encrypt) })
	f := NewFront(d)
	_ = f.RegisterAccount("111122223333", "", d)
	b.Run("front", func(b *testing.B) { run(b, f.Encrypt) })
	g := NewFront(d)
	_ = g.RegisterAccount("111122223333", "", d)
	g.Use(func(ctx context.Context, _ *Call, invoke Invoker) error { return invoke(ctx) })
	b.Run("front+interceptor", func(b *testing.B) { run(b, g.Encrypt) })
}

// TestDecryptWithoutKeyID checks that a blob that names its key goes to the key's
// owner, even a driver an opener returned, and any other to the default.
func TestDecryptWithoutKeyID(t *testing.T) {
	ctx := context.Background()
	v := &full{name: "v"}
	f := NewFront(named("def")) // reads no blob's key
	must(t, f.RegisterOpener("vault", URLOpenerFunc(func(context.Context, *url.URL) (Backend, error) { return v, nil })))
	if _, err := f.Decrypt(ctx, &DecryptInput{KeyID: "vault://transit/v", CiphertextBlob: []byte("v:warm up")}); err != nil {
		t.Fatal(err)
	}
	out, err := f.Decrypt(ctx, &DecryptInput{CiphertextBlob: []byte("v:secret")})
	if err != nil || string(out.Plaintext) != "secret" {
		t.Fatalf("Decrypt of a blob the opened driver names: %+v, %v", out, err)
	}
	out, err = f.Decrypt(ctx, &DecryptInput{CiphertextBlob: []byte("def:other")})
	if err != nil || out.KeyID != "def|" {
		t.Fatalf("Decrypt of a blob no inspector names went to %+v, %v; want the default", out, err)
	}
	var none Front
	_, err = none.Decrypt(ctx, &DecryptInput{CiphertextBlob: []byte("x")})
	wantKind(t, err, ErrInvalidArgument, "Decrypt without KeyId, inspectors or default")
}
