package backends_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
)

// named is a Backend that only says who it is, to see where the Front sends a call.
type named string

func (n named) Encrypt(_ context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	return &backends.EncryptOutput{KeyID: string(n) + "|" + in.KeyID}, nil
}

func (n named) Decrypt(_ context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	return &backends.DecryptOutput{KeyID: string(n) + "|" + in.KeyID}, nil
}

func TestFrontLookup(t *testing.T) {
	const id = "1234abcd-12ab-34cd-56ef-1234567890ab"
	var r backends.Front
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.Register("vault", named("vault")))
	must(r.RegisterAccount("111122223333", "", named("acctA-any")))
	must(r.RegisterAccount("111122223333", "eu-west-1", named("acctA-eu")))
	must(r.RegisterAccount("444455556666", "us-east-1", named("acctB-use1")))
	must(r.RegisterPartitionAccount("aws-cn", "444455556666", "", named("acctB-cn")))
	r.SetDefault(named("default"))

	tests := []struct{ ref, want string }{
		{"vault://transit/orders", "vault"},
		{"Vault://transit/orders", "vault"},
		{"arn:aws:kms:us-east-1:111122223333:key/" + id, "acctA-any"},
		{"arn:aws:kms:eu-west-1:111122223333:key/" + id, "acctA-eu"},
		{"arn:aws:kms:eu-west-1:111122223333:alias/x", "acctA-eu"},
		{"arn:aws:kms:us-east-1:444455556666:alias/x", "acctB-use1"},
		{"arn:aws-cn:kms:cn-north-1:444455556666:key/" + id, "acctB-cn"},
		{id, "default"},
		{"alias/x", "default"},
	}
	for _, tt := range tests {
		b, _, err := r.Lookup(context.Background(), tt.ref)
		if err != nil {
			t.Errorf("Lookup(%q): %v", tt.ref, err)
			continue
		}
		if b != named(tt.want) {
			t.Errorf("Lookup(%q) = %v, want %v", tt.ref, b, tt.want)
		}
	}

	for _, ref := range []string{
		"gcpkms://projects/p", // no such scheme
		"not a key",
	} {
		if _, _, err := r.Lookup(context.Background(), ref); !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("Lookup(%q) error = %v, want ErrNotFound", ref, err)
		}
	}
	// An ARN that no account route claims goes to the default, which decides as
	// a KMS client does with any ARN; without a default it is not found.
	for _, ref := range []string{
		"arn:aws:kms:us-west-2:444455556666:key/" + id, // account B only in us-east-1
		"arn:aws:kms:us-east-1:999999999999:key/" + id, // unknown account
	} {
		if b, _, err := r.Lookup(context.Background(), ref); err != nil || b != named("default") {
			t.Errorf("Lookup(%q) = %v, %v; want the default", ref, b, err)
		}
		var none backends.Front
		_ = none.Register("vault", named("vault"))
		if _, _, err := none.Lookup(context.Background(), ref); !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("Lookup(%q) without a default: error = %v, want ErrNotFound", ref, err)
		}
	}
}

func TestFrontRegisterErrors(t *testing.T) {
	var r backends.Front
	if err := r.Register("vault", named("a")); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name string
		err  error
		kind *backends.Kind
	}{
		{"duplicate scheme", r.Register("VAULT", named("b")), backends.ErrAlreadyExists},
		{"bad scheme", r.Register("1x", named("b")), backends.ErrInvalidArgument},
		{"nil backend", r.Register("x1", nil), backends.ErrInvalidArgument},
		{"bad account", r.RegisterAccount("1234", "", named("b")), backends.ErrInvalidArgument},
		{"bad region", r.RegisterAccount("111122223333", "US", named("b")), backends.ErrInvalidArgument},
		{"bad partition", r.RegisterPartitionAccount("mars", "111122223333", "", named("b")), backends.ErrInvalidArgument},
	}
	for _, c := range checks {
		kmstest.WantKind(t, c.err, c.kind, c.name)
	}
	if err := r.RegisterAccount("111122223333", "", named("b")); err != nil {
		t.Fatal(err)
	}
	kmstest.WantKind(t, r.RegisterAccount("111122223333", "", named("c")), backends.ErrAlreadyExists, "duplicate account")
}

func TestFrontDispatch(t *testing.T) {
	ctx := context.Background()
	var r backends.Front
	if err := r.Register("vault", named("vault")); err != nil {
		t.Fatal(err)
	}
	out, err := r.Encrypt(ctx, &backends.EncryptInput{KeyID: "vault://transit/k", Plaintext: []byte{1}})
	if err != nil || out.KeyID != "vault|vault://transit/k" {
		t.Fatalf("Encrypt routed to %+v, %v", out, err)
	}
	_, err = r.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: []byte{1}})
	kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Decrypt with no key and no default")
	_, err = r.Encrypt(ctx, &backends.EncryptInput{KeyID: "alias/nobody", Plaintext: []byte{1}})
	if e := kmstest.WantKind(t, err, backends.ErrNotFound, "Encrypt to an unrouted alias"); e != nil && e.Op != "Encrypt" {
		t.Errorf("Encrypt to an unrouted alias: %v names the operation %q", err, e.Op)
	}

	r.SetDefault(named("default"))
	d, err := r.Decrypt(ctx, &backends.DecryptInput{CiphertextBlob: []byte{1}})
	if err != nil || d.KeyID != "default|" {
		t.Fatalf("Decrypt without key went to %+v, %v", d, err)
	}
}

// closingOpener is a URL opener that counts its Close calls.
type closingOpener struct {
	backends.URLOpenerFunc
	closed int
	err    error
}

func (o *closingOpener) Close() error { o.closed++; return o.err }

// TestFrontClose: Close closes each registered opener that can be closed once,
// however many schemes it serves, joins their errors, and leaves the backends
// the caller registered alone.
func TestFrontClose(t *testing.T) {
	open := backends.URLOpenerFunc(func(context.Context, *url.URL) (backends.Backend, error) { return kmstest.New(), nil })
	shared := &closingOpener{URLOpenerFunc: open}
	failing := &closingOpener{URLOpenerFunc: open, err: errors.New("boom")}
	owned := &closingBackend{Backend: kmstest.New()}
	f := backends.NewFront(owned)
	for scheme, o := range map[string]backends.URLOpener{"one": shared, "two": shared, "three": failing, "four": open} {
		if err := f.RegisterOpener(scheme, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Register("five", owned); err != nil {
		t.Fatal(err)
	}
	err := f.Close()
	if shared.closed != 1 || failing.closed != 1 {
		t.Errorf("Close: the shared opener closed %d times, the other %d, want once each", shared.closed, failing.closed)
	}
	if err == nil || err.Error() != "boom" {
		t.Errorf("Close = %v, want the failing opener's error", err)
	}
	if owned.closed != 0 {
		t.Errorf("Close closed a backend the caller registered")
	}
}

// closingBackend is a backend that counts its Close calls.
type closingBackend struct {
	backends.Backend
	closed int
}

func (b *closingBackend) Close() error { b.closed++; return nil }
