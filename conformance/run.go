package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/keyport/keyport/backends"
)

// Run runs the conformance suite against the driver that h prepares. It calls
// h.Setup once, then runs every named subtest twice against the Fixture: through a
// [backends.Front] over the driver ("Front"), and through the same Front with a
// pass-through interceptor ("Intercepted"), which must see every operation the
// driver's capabilities allow, so that no wrapper can lose one.
func Run(t *testing.T, h Harness) {
	t.Helper()
	ctx := context.Background()
	f := h.Setup(ctx, t)
	if f == nil {
		t.Fatal("conformance: Harness.Setup returned a nil Fixture")
	}
	if f.Close != nil {
		t.Cleanup(f.Close)
	}
	if err := f.validate(); err != nil {
		t.Fatalf("conformance: invalid Fixture: %v", err)
	}
	runPasses(ctx, testingT{t}, f)
}

// runPasses runs the two passes of the suite against f.
func runPasses(ctx context.Context, t T, f *Fixture) {
	base := f.baseFront(t)
	caps, err := base.Capabilities(ctx, f.KeyA)
	if err != nil {
		t.Fatalf("conformance: the Front does not route KeyA: %v", err)
	}
	t.Run("Front", func(t T) {
		(&suite{f: f, kms: base, caps: f.suiteCaps(caps)}).run(t)
	})
	t.Run("Intercepted", func(t T) {
		var counter callCounter
		ics := []backends.Interceptor{counter.intercept}
		kms := f.baseFront(t, ics...)
		got, err := kms.Capabilities(ctx, f.KeyA)
		if err != nil || got != caps {
			t.Errorf("Capabilities through the interceptor = %+v, %v; want %+v as without it", got, err, caps)
		}
		(&suite{f: f, kms: kms, caps: f.suiteCaps(caps), ics: ics}).run(t)
		counter.check(t, f.suiteCaps(caps))
	})
}

// run runs every subtest.
func (s *suite) run(t T) {
	for _, st := range []struct {
		name string
		run  func(T)
	}{
		{"RoundTrip", s.testRoundTrip},
		{"FreshCiphertext", s.testFreshCiphertext},
		{"ContextBinding", s.testContextBinding},
		{"EveryByteFlip", s.testEveryByteFlip},
		{"EveryTruncation", s.testEveryTruncation},
		{"WrongKey", s.testWrongKey},
		{"UnknownKey", s.testUnknownKey},
		{"Disabled", s.testDisabled},
		{"PendingDeletion", s.testPendingDeletion},
		{"KeyReferenceForms", s.testKeyReferenceForms},
		{"ReEncrypt", s.testReEncrypt},
		{"DryRun", s.testDryRun},
		{"GenerateDataKey", s.testGenerateDataKey},
		{"DescribeKey", s.testDescribeKey},
		{"Rotation", s.testRotation},
		{"Grants", s.testGrants},
		{"Authorization", s.testAuthorization},
		{"Concurrent", s.testConcurrent},
		{"CancelledContext", s.testCancelledContext},
		{"ErrorMapping", s.testErrorMapping},
	} {
		t.Run(st.name, st.run)
	}
}

// suite carries the fixture, and the Front the subtests call, through them.
type suite struct {
	f *Fixture
	// kms is the Front every subtest calls; caps are the driver's capabilities.
	kms  *backends.Front
	caps backends.Capabilities
	// ics are the pass's interceptors, for the Fronts of other principals.
	ics []backends.Interceptor
}

func (f *Fixture) validate() error {
	switch {
	case f.Backend == nil && f.Front == nil:
		return errors.New("fields Backend and Front are both nil")
	case f.KeyA == "" || f.KeyB == "":
		return errors.New("fields KeyA and KeyB are required")
	case f.KeyA == f.KeyB:
		return errors.New("fields KeyA and KeyB name the same key")
	case f.Unknown == "":
		return errors.New("field Unknown is required")
	case (f.Other == nil) != (f.OtherKey == ""):
		return errors.New("fields Other and OtherKey go together")
	}
	for _, d := range f.Deviations {
		if d.Reason() == undocumented {
			return fmt.Errorf("unknown deviation %q: declare one of the Deviation constants", string(d))
		}
	}
	return nil
}

// forms returns KeyA in every reference form the fixture gives.
func (f *Fixture) forms() []string {
	if len(f.KeyAForms) == 0 {
		return []string{f.KeyA}
	}
	return f.KeyAForms
}

// secret returns a recognisable plaintext of n bytes. The suite never prints it;
// ErrorMapping checks that no error message carries it.
func secret(n int) []byte {
	const pattern = "keyport-conformance-secret:"
	b := make([]byte, n)
	for i := range b {
		b[i] = pattern[i%len(pattern)]
	}
	return b
}

// kindName names the kind err matches, for messages.
func kindName(err error) string {
	if err == nil {
		return "no error"
	}
	if k := backends.KindOf(err); k != nil {
		return k.Name()
	}
	return fmt.Sprintf("an error of no keyport kind (%T: %v)", err, err)
}

// wantKind fails t unless err matches want; what says which call made err.
func wantKind(t T, err error, want *backends.Kind, what string) bool {
	t.Helper()
	if errors.Is(err, want) {
		return true
	}
	if err == nil {
		t.Errorf("%s: want %s, got no error", what, want.Name())
	} else {
		t.Errorf("%s: want %s, got %s: %v", what, want.Name(), kindName(err), err)
	}
	return false
}

// wantEither fails t unless err matches a or b. The suite uses it only where AWS
// KMS documents both answers as right.
func wantEither(t T, err error, a, b *backends.Kind, what string) bool {
	t.Helper()
	if errors.Is(err, a) || errors.Is(err, b) {
		return true
	}
	t.Errorf("%s: want %s or %s, got %s", what, a.Name(), b.Name(), describeErr(err))
	return false
}

// wantOK fails t unless err is nil.
func wantOK(t T, err error, what string) bool {
	t.Helper()
	if err != nil {
		t.Errorf("%s: want success, got %s: %v", what, kindName(err), err)
		return false
	}
	return true
}

// mustOK stops t unless err is nil.
func mustOK(t T, err error, what string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: want success, got %s: %v", what, kindName(err), err)
	}
}

// encrypt encrypts pt under key with ec and stops t on failure.
func (s *suite) encrypt(t T, key string, pt []byte, ec map[string]string) []byte {
	t.Helper()
	out, err := s.kms.Encrypt(context.Background(), &backends.EncryptInput{KeyID: key, Plaintext: pt, EncryptionContext: ec})
	mustOK(t, err, "Encrypt under "+key)
	if out == nil || len(out.CiphertextBlob) == 0 {
		t.Fatalf("Encrypt under %s: want a ciphertext, got none", key)
	}
	return out.CiphertextBlob
}

// decryptTo decrypts blob with b (key may be empty) and checks the plaintext and
// the canonical key of the output.
func decryptTo(t T, b backends.Backend, key string, blob []byte, ec map[string]string, want []byte, wantKey, what string) bool {
	t.Helper()
	out, err := b.Decrypt(context.Background(), &backends.DecryptInput{KeyID: key, CiphertextBlob: blob, EncryptionContext: ec})
	if !wantOK(t, err, what) {
		return false
	}
	defer clear(out.Plaintext)
	ok := true
	if !bytes.Equal(out.Plaintext, want) {
		t.Errorf("%s: plaintext differs from what was encrypted (got %d bytes, want %d)", what, len(out.Plaintext), len(want))
		ok = false
	}
	if wantKey != "" && out.KeyID != wantKey {
		t.Errorf("%s: output KeyID = %q, want the canonical %q", what, out.KeyID, wantKey)
		ok = false
	}
	return ok
}

// decryptErr decrypts blob under key and returns the error, failing t if a
// plaintext came back with an error or no error came back.
func (s *suite) decryptErr(t T, key string, blob []byte, ec map[string]string) error {
	t.Helper()
	out, err := s.kms.Decrypt(context.Background(), &backends.DecryptInput{KeyID: key, CiphertextBlob: blob, EncryptionContext: ec})
	if out != nil {
		clear(out.Plaintext)
		if err != nil {
			t.Errorf("Decrypt returned an output together with an error (%s)", kindName(err))
		}
	}
	return err
}

// errorsIs is errors.Is.
func errorsIs(err, target error) bool { return errors.Is(err, target) }

// describeErr names the kind of err and gives its message (never a secret: errors
// carry no plaintext).
func describeErr(err error) string {
	if err == nil {
		return "no error"
	}
	return kindName(err) + ": " + err.Error()
}
