package backends_test

import (
	"testing"

	"github.com/keyport/keyport/backends"
)

// uncomparable is a Backend whose dynamic type cannot be compared with ==.
type uncomparable struct {
	named
	tags []string
}

func TestFrontBackends(t *testing.T) {
	var r backends.Front
	if got := r.Backends(); len(got) != 0 {
		t.Fatalf("empty Front: backends() = %v", got)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	u := uncomparable{named: "u", tags: []string{"x"}}
	must(r.Register("zz", named("z")))
	must(r.Register("vault", named("v")))
	must(r.Register("odd", u))
	must(r.RegisterAccount("111122223333", "", named("a")))
	must(r.RegisterAccount("444455556666", "", named("a"))) // same backend, two accounts
	must(r.RegisterAccount("777788889999", "", named("b")))
	r.SetDefault(named("a"))
	got := r.Backends()
	want := []string{"a", "b", "u", "v", "z"}
	if len(got) != len(want) {
		t.Fatalf("backends() = %v, want %v (each once)", got, want)
	}
	for i, b := range got {
		var name string
		switch b := b.(type) {
		case named:
			name = string(b)
		case uncomparable:
			name = string(b.named)
		}
		if name != want[i] {
			t.Errorf("backends()[%d] = %v, want %s", i, b, want[i])
		}
	}
}

func TestSameBackend(t *testing.T) {
	u1 := uncomparable{named: "u", tags: []string{"x"}}
	for _, tt := range []struct {
		a, b backends.Backend
		want bool
	}{
		{nil, nil, true},
		{named("a"), nil, false},
		{named("a"), named("a"), true},
		{named("a"), named("b"), false},
		{u1, u1, false}, // cannot be compared: never the same, never a panic
		{u1, named("u"), false},
	} {
		if got := backends.SameBackend(tt.a, tt.b); got != tt.want {
			t.Errorf("SameBackend(%v, %v) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
