package backends_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
)

const testARN = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"

// TestFrontValidates checks that every malformed input is refused with one kind
// before the driver sees it.
func TestFrontValidates(t *testing.T) {
	d := kmstest.New()
	f := backends.NewFront(d)
	if err := f.RegisterAccount("111122223333", "", d); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	big := strings.Repeat("x", backends.MaxEncryptionContextBytes)
	tokens := make([]string, backends.MaxGrantTokens+1)
	for i := range tokens {
		tokens[i] = "t"
	}
	pt := []byte("data key")
	blob := []byte("d:data key")
	for _, c := range []struct {
		name string
		call func() error
		kind *backends.Kind
	}{
		{"Encrypt nil", func() error { _, err := f.Encrypt(ctx, nil); return err }, backends.ErrInvalidArgument},
		{"Encrypt no key", func() error { _, err := f.Encrypt(ctx, &backends.EncryptInput{Plaintext: pt}); return err }, backends.ErrInvalidArgument},
		{"Encrypt bad key", func() error {
			_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "orders", Plaintext: pt})
			return err
		}, backends.ErrNotFound},
		{"Encrypt empty plaintext", func() error { _, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "alias/a"}); return err }, backends.ErrInvalidArgument},
		{"Encrypt 4097 bytes", func() error {
			_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "alias/a", Plaintext: make([]byte, backends.MaxPlaintextBytes+1)})
			return err
		}, backends.ErrInvalidArgument},
		{"Encrypt big context", func() error {
			_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "alias/a", Plaintext: pt, EncryptionContext: map[string]string{"k": big}})
			return err
		}, backends.ErrInvalidArgument},
		{"Encrypt bad UTF-8 context", func() error {
			_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "alias/a", Plaintext: pt, EncryptionContext: map[string]string{"k": "\xff"}})
			return err
		}, backends.ErrInvalidArgument},
		{"Encrypt 11 grant tokens", func() error {
			_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "alias/a", Plaintext: pt, GrantTokens: tokens})
			return err
		}, backends.ErrInvalidArgument},
		{"Encrypt empty grant token", func() error {
			_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "alias/a", Plaintext: pt, GrantTokens: []string{""}})
			return err
		}, backends.ErrInvalidArgument},
		{"Encrypt bad algorithm", func() error {
			_, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "alias/a", Plaintext: pt, EncryptionAlgorithm: "ROT13"})
			return err
		}, backends.ErrInvalidArgument},
		{"Encrypt cancelled", func() error {
			_, err := f.Encrypt(done, &backends.EncryptInput{KeyID: "alias/a", Plaintext: pt})
			return err
		}, backends.ErrCanceled},
		{"Decrypt nil", func() error { _, err := f.Decrypt(ctx, nil); return err }, backends.ErrInvalidArgument},
		{"Decrypt empty blob", func() error { _, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: "alias/a"}); return err }, backends.ErrInvalidArgument},
		{"Decrypt 6145 bytes", func() error {
			_, err := f.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: make([]byte, backends.MaxCiphertextBytes+1)})
			return err
		}, backends.ErrInvalidArgument},
		{"Decrypt bad key", func() error {
			_, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: "arn:aws:kms:x", CiphertextBlob: blob})
			return err
		}, backends.ErrNotFound},
		{"ReEncrypt nil", func() error { _, err := f.ReEncrypt(ctx, nil); return err }, backends.ErrInvalidArgument},
		{"ReEncrypt no destination", func() error { _, err := f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob}); return err }, backends.ErrInvalidArgument},
		{"ReEncrypt bad Via", func() error {
			_, err := f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, DestinationKeyID: "alias/a", Via: 9})
			return err
		}, backends.ErrInvalidArgument},
		{"ReEncrypt bad source", func() error {
			_, err := f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: "nope", DestinationKeyID: "alias/a"})
			return err
		}, backends.ErrNotFound},
		{"GenerateDataKey nil", func() error { _, err := f.GenerateDataKey(ctx, nil); return err }, backends.ErrInvalidArgument},
		{"GenerateDataKey 1025 bytes", func() error {
			_, err := f.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: "alias/a", NumberOfBytes: 1025})
			return err
		}, backends.ErrInvalidArgument},
		{"GenerateDataKeyWithoutPlaintext no key", func() error {
			_, err := f.GenerateDataKeyWithoutPlaintext(ctx, &backends.GenerateDataKeyInput{})
			return err
		}, backends.ErrInvalidArgument},
		{"DescribeKey nil", func() error { _, err := f.DescribeKey(ctx, nil); return err }, backends.ErrInvalidArgument},
		{"DescribeKey cancelled", func() error { _, err := f.DescribeKey(done, &backends.DescribeKeyInput{KeyID: "alias/a"}); return err }, backends.ErrCanceled},
	} {
		kmstest.WantKind(t, c.call(), c.kind, c.name)
	}
	if got := d.Calls(""); len(got) != 0 {
		t.Errorf("the driver was called with malformed inputs: %v", got)
	}
}

// TestFrontForwards checks that every operation reaches the owning driver's own
// capability, and the fallbacks where a driver has none.
func TestFrontForwards(t *testing.T) {
	ctx := context.Background()
	const k, j = "vault://transit/k", "vault://transit/j"
	v, a, p := kmstest.New(k, j), kmstest.New(testARN), kmstest.New("plain://k", "plain://j")
	var f backends.Front
	must(t, f.Register("vault", v))
	must(t, f.RegisterAccount("111122223333", "", a))
	must(t, f.Register("plain", p.Only(backends.Capabilities{})))

	if _, err := f.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: k, NumberOfBytes: 16}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.GenerateDataKeyWithoutPlaintext(ctx, &backends.GenerateDataKeyInput{KeyID: k}); err != nil {
		t.Fatal(err)
	}
	md, err := f.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: k})
	if err != nil || md.Arn != k {
		t.Fatalf("DescribeKey = %+v, %v", md, err)
	}
	blob := v.Seal(k, nil, []byte("x"))
	out, err := f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: k, DestinationKeyID: j})
	if err != nil || !out.Native || out.SourceEncryptionAlgorithm != backends.SymmetricDefault {
		t.Fatalf("ReEncrypt = %+v, %v", out, err)
	}
	// Without SourceKeyId, the inspector that recognises the blob decides.
	if _, err := f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, DestinationKeyID: j}); err != nil {
		t.Fatal(err)
	}
	want := []string{"GenerateDataKey vault://transit/k", "GenerateDataKeyWithoutPlaintext vault://transit/k", "DescribeKey vault://transit/k",
		"ReEncrypt vault://transit/k>vault://transit/j", "ReEncrypt >vault://transit/j"}
	if got := fmt.Sprint(v.Calls("")); got != fmt.Sprint(want) {
		t.Errorf("the vault driver saw %s, want %s", got, want)
	}
	// Two drivers, or ViaPlaintext: no native ReEncrypt.
	_, err = f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: k, DestinationKeyID: testARN})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "ReEncrypt across drivers")
	_, err = f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: k, DestinationKeyID: j, Via: backends.ViaPlaintext})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "ReEncrypt ViaPlaintext")
	if n := v.Count("") + a.Count(""); n != 5 {
		t.Errorf("the drivers were called %d times, want 5: a ReEncrypt the Front refuses reaches none", n)
	}
	// A driver without capabilities: GenerateDataKey falls back to Encrypt,
	// DescribeKey and ReEncrypt are unsupported.
	g, err := f.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: "plain://k", NumberOfBytes: 24})
	if err != nil || len(g.Plaintext) != 24 || g.KeyID != "plain://k" || p.Last("").String() != "Encrypt plain://k" {
		t.Fatalf("fallback GenerateDataKey = %+v, %v, by the driver's %s", g, err, p.Last(""))
	}
	g, err = f.GenerateDataKeyWithoutPlaintext(ctx, &backends.GenerateDataKeyInput{KeyID: "plain://k"})
	if err != nil || g.Plaintext != nil || p.Count("Encrypt") != 2 {
		t.Fatalf("fallback GenerateDataKeyWithoutPlaintext = %+v, %v, after %d Encrypt calls", g, err, p.Count("Encrypt"))
	}
	_, err = f.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: "plain://k"})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "DescribeKey of a driver that cannot")
	_, err = f.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: []byte("x"), SourceKeyID: "plain://k", DestinationKeyID: "plain://j"})
	kmstest.WantKind(t, err, backends.ErrUnsupported, "ReEncrypt of a driver that cannot")

	caps, err := f.Capabilities(ctx, "vault://transit/k")
	if err != nil || caps != (backends.Capabilities{true, true, true, true}) {
		t.Errorf("Capabilities(vault) = %+v, %v", caps, err)
	}
	caps, err = f.Capabilities(ctx, "plain://k")
	if err != nil || caps != (backends.Capabilities{}) {
		t.Errorf("Capabilities(plain) = %+v, %v", caps, err)
	}
	// A Front inside a Front: the inner one's driver decides.
	var outer backends.Front
	must(t, outer.Register("plain", &f))
	caps, err = outer.Capabilities(ctx, "plain://k")
	if err != nil || caps != (backends.Capabilities{}) {
		t.Errorf("Capabilities through a nested Front = %+v, %v", caps, err)
	}
	if id, err := f.CiphertextKeyID(blob); err != nil || id != k {
		t.Errorf("CiphertextKeyID = %q, %v", id, err)
	}
	_, err = f.CiphertextKeyID([]byte("nobody's"))
	kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "CiphertextKeyID of a blob nobody recognises")
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
	a := kmstest.New(testARN)
	var f backends.Front
	must(t, f.RegisterAccount("111122223333", "us-east-1", a))
	for _, ref := range []string{
		"aws-kms://" + testARN,
		"awskms:///" + testARN,
		"awskms:///" + testARN + "?region=us-east-1",
		"awskms://" + testARN,
	} {
		b, got, err := f.Lookup(ctx, ref)
		if err != nil || b != backends.Backend(a) || got != testARN {
			t.Errorf("Lookup(%q) = %v, %q, %v; want the account's driver and the ARN", ref, b, got, err)
		}
	}
	out, err := f.Encrypt(ctx, &backends.EncryptInput{KeyID: "aws-kms://" + testARN, Plaintext: []byte{1}})
	if err != nil || out.KeyID != testARN || a.Last("Encrypt").KeyID != testARN {
		t.Fatalf("Encrypt by Tink's URL = %+v, %v; the driver was handed %q", out, err, a.Last("Encrypt").KeyID)
	}

	var opened []string
	var mu sync.Mutex
	opener := backends.URLOpenerFunc(func(_ context.Context, u *url.URL) (backends.Backend, error) {
		mu.Lock()
		defer mu.Unlock()
		opened = append(opened, u.String())
		if u.Host == "bad" {
			return nil, backends.Errorf(backends.ErrAccessDenied, "", "", "no token")
		}
		return named("opened:" + u.Host), nil
	})
	must(t, f.RegisterOpener("hcvault", opener))
	must(t, f.RegisterOpener("awskms", opener))
	kmstest.WantKind(t, f.Register("hcvault", named("x")), backends.ErrAlreadyExists, "Register over an opener")
	kmstest.WantKind(t, f.RegisterOpener("hcvault", opener), backends.ErrAlreadyExists, "RegisterOpener twice")
	b, _, err := f.Lookup(ctx, "hcvault://vault.example:8200/transit/keys/orders")
	if err != nil || b != named("opened:vault.example:8200") {
		t.Fatalf("Lookup through the opener = %v, %v", b, err)
	}
	// An ARN of an account nobody registered goes to the awskms opener.
	other := "arn:aws:kms:eu-west-1:444455556666:alias/x"
	if b, ref, err := f.Lookup(ctx, other); err != nil || b != named("opened:") || ref != other {
		t.Fatalf("Lookup(%s) = %v, %q, %v", other, b, ref, err)
	}
	_, err = f.Encrypt(ctx, &backends.EncryptInput{KeyID: "hcvault://bad/transit/keys/x", Plaintext: []byte{1}})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Encrypt when the opener fails")
	if want := "awskms:///" + other; opened[1] != want {
		t.Errorf("the awskms opener got %q, want %q", opened[1], want)
	}
}

// TestErrorOneKind checks that an *Error wrapping another *Error matches only its
// own kind, and still unwraps to the service's error.
func TestErrorOneKind(t *testing.T) {
	svc := errors.New("service said no")
	inner := backends.Wrap(backends.ErrInvalidCiphertext, "Decrypt", "k", svc)
	outer := &backends.Error{Kind: backends.ErrInvalidArgument, Op: "ReEncrypt", Message: "x", Err: inner}
	kmstest.WantKind(t, outer, backends.ErrInvalidArgument, "an InvalidArgument around an InvalidCiphertext")
	if !errors.Is(outer, svc) {
		t.Error("the service's error is no longer reachable")
	}
	if backends.KindOf(outer) != backends.ErrInvalidArgument {
		t.Errorf("KindOf = %v", backends.KindOf(outer))
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
	d := kmstest.New()
	fr := backends.NewFront(d)
	_ = fr.RegisterAccount("111122223333", "", d)
	_ = fr.Register("vault", d)
	_ = fr.RegisterOpener("hcvault", backends.URLOpenerFunc(func(context.Context, *url.URL) (backends.Backend, error) { return d, nil }))
	f.Fuzz(func(t *testing.T, s string) {
		b, ref, err := fr.Lookup(context.Background(), s)
		if err != nil {
			if backends.KindOf(err) == nil {
				t.Fatalf("Lookup(%q): error of no kind: %v", s, err)
			}
			return
		}
		if b == nil || ref == "" {
			t.Fatalf("Lookup(%q) = %v, %q without an error", s, b, ref)
		}
		if r, err := backends.ParseKeyRef(s); err == nil && r.Form == backends.FormURI {
			if arn, ok := backends.AWSURLARN(r); ok && ref != arn.Raw {
				t.Fatalf("Lookup(%q) handed the driver %q, want the ARN %q", s, ref, arn.Raw)
			}
		}
	})
}

// static is a driver that answers without allocating, to measure the Front.
type static struct{ out backends.EncryptOutput }

func (s *static) Encrypt(context.Context, *backends.EncryptInput) (*backends.EncryptOutput, error) {
	return &s.out, nil
}
func (s *static) Decrypt(context.Context, *backends.DecryptInput) (*backends.DecryptOutput, error) {
	return nil, nil
}

// TestFrontAllocations checks that the Front adds no allocation to a call of a
// driver: it checks, routes and labels without the heap (interceptors cost one
// closure chain per call).
func TestFrontAllocations(t *testing.T) {
	ctx := context.Background()
	d := &static{out: backends.EncryptOutput{KeyID: testARN}}
	f := backends.NewFront(d)
	must(t, f.RegisterAccount("111122223333", "", d))
	in := &backends.EncryptInput{KeyID: testARN, Plaintext: make([]byte, 32), EncryptionContext: map[string]string{"k": "v"}}
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
	d := &static{out: backends.EncryptOutput{KeyID: testARN}}
	in := &backends.EncryptInput{KeyID: testARN, Plaintext: make([]byte, 32), EncryptionContext: map[string]string{"k": "v"}}
	run := func(b *testing.B, enc func(context.Context, *backends.EncryptInput) (*backends.EncryptOutput, error)) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := enc(ctx, in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("driver", func(b *testing.B) { run(b, d.Encrypt) })
	f := backends.NewFront(d)
	_ = f.RegisterAccount("111122223333", "", d)
	b.Run("front", func(b *testing.B) { run(b, f.Encrypt) })
	g := backends.NewFront(d)
	_ = g.RegisterAccount("111122223333", "", d)
	g.Use(func(ctx context.Context, _ *backends.Call, invoke backends.Invoker) error { return invoke(ctx) })
	b.Run("front+interceptor", func(b *testing.B) { run(b, g.Encrypt) })
}

// TestDecryptWithoutKeyID checks that a blob that names its key goes to the key's
// owner, even a driver an opener returned, and any other to the default.
func TestDecryptWithoutKeyID(t *testing.T) {
	ctx := context.Background()
	const k = "vault://transit/v"
	v := kmstest.New(k)
	f := backends.NewFront(named("def")) // reads no blob's key
	must(t, f.RegisterOpener("vault", backends.URLOpenerFunc(func(context.Context, *url.URL) (backends.Backend, error) { return v, nil })))
	if _, err := f.Decrypt(ctx, &backends.DecryptInput{KeyID: k, CiphertextBlob: v.Seal(k, nil, []byte("warm up"))}); err != nil {
		t.Fatal(err)
	}
	out, err := f.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: v.Seal(k, nil, []byte("secret"))})
	if err != nil || string(out.Plaintext) != "secret" {
		t.Fatalf("Decrypt of a blob the opened driver names: %+v, %v", out, err)
	}
	out, err = f.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: []byte("def:other")})
	if err != nil || out.KeyID != "def|" {
		t.Fatalf("Decrypt of a blob no inspector names went to %+v, %v; want the default", out, err)
	}
	var none backends.Front
	_, err = none.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Decrypt without KeyId, inspectors or default")

}

// TestErrorJoinedOneKind checks that an *Error around several joined errors of
// other kinds (a keyring that tried every data key) matches only its own kind,
// and still reaches each service error.
func TestErrorJoinedOneKind(t *testing.T) {
	svc1, svc2 := errors.New("first service said no"), errors.New("second service said no")
	joined := errors.Join(backends.Wrap(backends.ErrDisabled, "Decrypt", "k1", svc1), backends.Wrap(backends.ErrInvalidCiphertext, "Decrypt", "k2", svc2))
	err := &backends.Error{Kind: backends.ErrIncorrectKey, Op: "OnDecrypt", Message: "no data key", Err: joined}
	kmstest.WantKind(t, err, backends.ErrIncorrectKey, "an IncorrectKey around a Disabled and an InvalidCiphertext")
	if !errors.Is(err, svc1) || !errors.Is(err, svc2) {
		t.Error("the services' errors are no longer reachable")
	}
}
