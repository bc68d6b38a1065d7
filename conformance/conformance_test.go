package conformance_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/conformance"
)

const (
	accountA = "111122223333"
	accountB = "444455556666"
	accountO = "777788889999"
)

// fakeHarness sets up the fake key service of fake_test.go: two accounts in one
// service, and a second service standing in for another provider.
func fakeHarness(ctx context.Context, t *testing.T) *conformance.Fixture {
	kms := newFakeKMS()
	keyA := kms.createKey(accountA, "alias/conformance-a")
	keyB := kms.createKey(accountA, "")
	disabled := kms.createKey(accountA, "")
	pending := kms.createKey(accountA, "")
	c := kms.client(accountA)
	blobD, err := c.Encrypt(ctx, &backends.EncryptInput{KeyID: disabled, Plaintext: []byte("d")})
	if err != nil {
		t.Fatal(err)
	}
	blobP, err := c.Encrypt(ctx, &backends.EncryptInput{KeyID: pending, Plaintext: []byte("p")})
	if err != nil {
		t.Fatal(err)
	}
	kms.setState(disabled, backends.KeyStateDisabled)
	kms.setState(pending, backends.KeyStatePendingDeletion)
	other := newFakeKMS()
	return &conformance.Fixture{
		Backend:                   c,
		KeyA:                      keyA,
		KeyB:                      keyB,
		KeyAForms:                 forms(keyA, "alias/conformance-a"),
		Disabled:                  disabled,
		PendingDeletion:           pending,
		DisabledCiphertext:        blobD.CiphertextBlob,
		PendingDeletionCiphertext: blobP.CiphertextBlob,
		Unknown:                   backends.KeyARN("aws", "us-east-1", accountA, newUUID()),
		CrossAccountKey:           kms.createKey(accountB, ""),
		Other:                     other.client(accountO),
		OtherKey:                  other.createKey(accountO, ""),
		ErrorAs: func(err error) bool {
			var e *backends.Error
			return errors.As(err, &e)
		},
	}
}

// TestFake runs the suite against the fake. It passes unless the fake is broken
// on purpose (TestSuiteCatchesFaults runs it so).
func TestFake(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(fakeHarness))
}

// TestSuiteCatchesFaults breaks the fake in one way at a time and checks that the
// suite fails, in the subtest that covers the fault.
func TestSuiteCatchesFaults(t *testing.T) {
	if os.Getenv(breakage) != "" {
		t.Skip("running as the child of TestSuiteCatchesFaults")
	}
	if testing.Short() {
		t.Skip("skipped in -short mode: it runs the suite once per fault in a child process")
	}
	// A driver that ignores a cancelled ctx, or names no key in its errors, is no
	// longer a fault the suite can see: the Front checks ctx and labels errors
	// before and after every driver call (backends' own tests cover that).
	for _, c := range []struct{ fault, failing string }{
		{"context", "--- FAIL: TestFake/Front/ContextBinding/WrongValue"},
		{"nonce", "--- FAIL: TestFake/Front/FreshCiphertext"},
		{"incorrectkey", "--- FAIL: TestFake/Front/WrongKey"},
		{"trailing", "--- FAIL: TestFake/Front/EveryTruncation"},
		{"malleable", "--- FAIL: TestFake/Front/EveryByteFlip/WithKeyID/Rejected"},
		{"wrongpt", "--- FAIL: TestFake/Front/EveryByteFlip/WithKeyID/NeverWrongPlaintext"},
		{"malleable", "--- FAIL: TestFake/Intercepted/EveryByteFlip/WithKeyID/Rejected"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestFake$", "-test.v")
			cmd.Env = append(os.Environ(), breakage+"="+c.fault)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite against a fake broken by %q: want a failing run, got %v", c.fault, err)
			}
			if !strings.Contains(string(out), c.failing) {
				t.Errorf("the suite against a fake broken by %q: want %q in its output; it did not fail there", c.fault, c.failing)
			}
		})
	}
}
