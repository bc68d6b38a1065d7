package conformance_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyport/keyport/conformance"
)

// A driver declares what its service cannot do; the suite skips exactly the
// subtests that a declared deviation hits, saying why.
func ExampleDeviation_Reason() {
	for _, d := range []conformance.Deviation{conformance.DeviationContextPairCollision, conformance.DeviationNoGrants} {
		fmt.Printf("%s: %s\n", d, d.Reason())
	}
	// Output:
	// DeviationContextPairCollision: the service joins encryption context pairs without separators, so {ab:c} and {a:bc} collide
	// DeviationNoGrants: the service does not implement grants
}

// A driver's TestConformance hands the suite a Harness. This one uses the fake key
// service of this package's tests; a real driver starts its service in Setup.
func ExampleRun() {
	testConformance := func(t *testing.T) {
		conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
			return fakeHarness(ctx, t)
		}))
	}
	_ = testConformance // in a _test.go file: func TestConformance(t *testing.T) { ... }
}
