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
	"github.com/keyport/keyport/internal/kmstest"
)

const (
	accountA = "111122223333"
	accountB = "444455556666"
	accountO = "777788889999"
)

// breakage is the environment variable that breaks the fake on purpose: it
// holds a kmstest.Fault, which TestSuiteCatchesFaults sets for a child run.
const breakage = "KEYPORT_CONFORMANCE_BREAK"

// fakeHarness sets up kmstest's fake key service as the caller of account A,
// with a key of account B in the same service, and a second fake service
// standing in for another provider.
func fakeHarness(ctx context.Context, t *testing.T) *conformance.Fixture {
	const region = "us-east-1"
	service := func(account string) *kmstest.Fake {
		f := kmstest.New()
		f.Account, f.Region, f.Fault = account, region, kmstest.Fault(os.Getenv(breakage))
		return f
	}
	newKey := func(f *kmstest.Fake, account string) string {
		return f.AddKey(backends.KeyARN("aws", region, account, kmstest.NewKeyID()))
	}
	kms := service(accountA)
	keyA, keyB, disabled, pending := newKey(kms, accountA), newKey(kms, accountA), newKey(kms, accountA), newKey(kms, accountA)
	kms.AddAlias("alias/conformance-a", keyA)
	blobD, blobP := kms.Seal(disabled, nil, []byte("d")), kms.Seal(pending, nil, []byte("p"))
	kms.SetState(disabled, backends.KeyStateDisabled)
	kms.SetState(pending, backends.KeyStatePendingDeletion)
	other := service(accountO)
	return &conformance.Fixture{
		Backend:                   kms,
		KeyA:                      keyA,
		KeyB:                      keyB,
		KeyAForms:                 forms(keyA, "alias/conformance-a"),
		Disabled:                  disabled,
		PendingDeletion:           pending,
		DisabledCiphertext:        blobD,
		PendingDeletionCiphertext: blobP,
		Unknown:                   backends.KeyARN("aws", region, accountA, kmstest.NewKeyID()),
		CrossAccountKey:           newKey(kms, accountB),
		Other:                     other,
		OtherKey:                  newKey(other, accountO),
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

// forms returns a key ARN in all four AWS forms, given its alias.
func forms(arn, alias string) []string {
	ref, _ := backends.ParseKeyRef(arn)
	return []string{ref.KeyID, arn, alias, backends.AliasARN(ref.Partition, ref.Region, ref.Account, alias)}
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
