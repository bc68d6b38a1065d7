package v1store

import (
	"bytes"
	"errors"
	"testing"
)

var root = bytes.Repeat([]byte{1}, 32)

func TestSealOpen(t *testing.T) {
	file, err := Seal(root, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	pt, err := Open(root, file)
	if err != nil || string(pt) != `{"a":1}` {
		t.Fatalf("Open: %q %v", pt, err)
	}
	if _, err := Open(bytes.Repeat([]byte{2}, 32), file); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	for i := range file {
		bad := bytes.Clone(file)
		bad[i] ^= 1
		_, err := Open(root, bad)
		if err == nil {
			t.Fatalf("byte %d flipped: accepted", i)
		}
		switch {
		case i < len(Magic):
			if !errors.Is(err, ErrForeign) {
				t.Fatalf("byte %d: %v", i, err)
			}
		case i >= len(Magic)+1 && i < len(Magic)+1+checkSize:
			if !errors.Is(err, ErrWrongKey) {
				t.Fatalf("byte %d: %v", i, err)
			}
		default:
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("byte %d: %v", i, err)
			}
		}
	}
	for n := 0; n < len(file); n++ {
		if _, err := Open(root, file[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if _, err := Seal(root[:16], nil); err == nil {
		t.Fatal("Seal with a 16-byte root key")
	}
}

// FuzzOpen: Open never panics and fails only with its three errors.
func FuzzOpen(f *testing.F) {
	file, err := Seal(root, []byte(`{"x":"y"}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(file)
	f.Add([]byte(Magic))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, err := Open(root, b)
		if err != nil && !errors.Is(err, ErrForeign) && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrWrongKey) {
			t.Fatalf("untyped error %v", err)
		}
	})
}
