package faults

import "testing"

func TestQueue(t *testing.T) {
	var q Queue[string]
	if f, ok := q.Next("Encrypt"); ok || f != "" {
		t.Fatalf("an empty queue gave %q", f)
	}
	q.Add("encrypt", 2, "twice")
	q.Add("", 0, "any, once")
	q.Add("Decrypt", 1, "decrypt")
	for i, want := range []struct {
		op, f string
		ok    bool
	}{
		{"Decrypt", "any, once", true}, // the first fault that matches, in queue order
		{"Encrypt", "twice", true},     // case-insensitive
		{"ENCRYPT", "twice", true},
		{"Encrypt", "", false}, // used up
		{"Decrypt", "decrypt", true},
		{"Decrypt", "", false},
	} {
		if f, ok := q.Next(want.op); f != want.f || ok != want.ok {
			t.Errorf("call %d, %s: got %q, %v; want %q, %v", i, want.op, f, ok, want.f, want.ok)
		}
	}
	// Calls counts by the exact name, the call on the empty queue too.
	if n := q.Calls("Encrypt"); n != 3 {
		t.Errorf("Calls(Encrypt) = %d, want 3", n)
	}
	if n := q.Calls("ENCRYPT"); n != 1 {
		t.Errorf("Calls(ENCRYPT) = %d, want 1", n)
	}
	if n := q.Calls("Decrypt"); n != 3 {
		t.Errorf("Calls(Decrypt) = %d, want 3", n)
	}
	if n := q.Calls("GetCryptoKey"); n != 0 {
		t.Errorf("Calls(GetCryptoKey) = %d, want 0", n)
	}
}
