// Package kmstest holds what keyport's tests share: [WantKind], the one
// assertion on error kinds; [Fake], an in-memory key service for the tests
// that need a key service but not a real one; and [WantURLOpener] and
// [WantKeyForms], the checks of a driver's URL opener and of every reference
// form of a key through a Front.
package kmstest

import (
	"errors"
	"testing"

	"github.com/keyport/keyport/backends"
)

// WantKind fails t, with what to say which call it was, unless err is a
// [*backends.Error] of kind want that names its operation and matches no other
// kind of the taxonomy ([backends.Kinds]): every keyport error has exactly one
// kind. It returns that *backends.Error (for checks of its other fields), or
// nil after failing t. It fails t with t.Errorf, so the test goes on; a caller
// that cannot go on returns when it gets nil.
func WantKind(t testing.TB, err error, want *backends.Kind, what string) *backends.Error {
	t.Helper()
	if want == nil {
		t.Fatalf("%s: WantKind needs a kind", what)
	}
	if err == nil {
		t.Errorf("%s: no error, want %s", what, want.Name())
		return nil
	}
	if !errors.Is(err, want) {
		got := "none"
		if k := backends.KindOf(err); k != nil {
			got = k.Name()
		}
		t.Errorf("%s: %v (kind %s), want %s", what, err, got, want.Name())
		return nil
	}
	for _, k := range backends.Kinds {
		if k != want && errors.Is(err, k) {
			t.Errorf("%s: %v matches %s as well as %s: an error has one kind", what, err, k.Name(), want.Name())
			return nil
		}
	}
	var e *backends.Error
	switch {
	case !errors.As(err, &e):
		t.Errorf("%s: %v (%T) is not a *backends.Error", what, err, err)
		return nil
	case e.Kind != want:
		t.Errorf("%s: %v is a *backends.Error of kind %s around one of kind %s", what, err, e.Kind.Name(), want.Name())
		return nil
	case e.Op == "":
		t.Errorf("%s: %v names no operation", what, err)
		return nil
	}
	return e
}
