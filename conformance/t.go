package conformance

import "testing"

// T is what the suite's subtests need of a test. [Run] provides it over a
// *testing.T; [Check] provides its own, which records each subtest's outcome
// for a compatibility [Report]. Both run the same subtests.
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Skip(args ...any)
	Skipf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(f func())
	Failed() bool
	Name() string
	// Run runs f as a subtest of the given name and reports whether it passed
	// (or was skipped), as testing.T.Run does.
	Run(name string, f func(t T)) bool
}

// testingT is a *testing.T as a T.
type testingT struct{ *testing.T }

var _ T = testingT{}

func (t testingT) Run(name string, f func(t T)) bool {
	return t.T.Run(name, func(tt *testing.T) { f(testingT{tt}) })
}
