package backends

import (
	"bytes"
	"testing"
)

func TestEncodeEncryptionContextUnambiguous(t *testing.T) {
	distinct := []map[string]string{
		nil,
		{"": ""},
		{"ab": "c"},
		{"a": "bc"},
		{"abc": ""},
		{"a": "b", "c": "d"},
		{"a": "bc", "": "d"},
		{"ac": "bd"},
		{"a": "b\x00c"},
		{"a\x00b": "c"},
	}
	seen := map[string]int{}
	for i, ec := range distinct {
		enc := string(EncodeEncryptionContext(ec))
		if j, dup := seen[enc]; dup {
			t.Errorf("contexts %v and %v encode alike", distinct[j], ec)
		}
		seen[enc] = i
	}
	if EncodeEncryptionContext(map[string]string{}) != nil {
		t.Error("an empty context must encode to nothing, as nil does")
	}
}

func TestEncodeEncryptionContextOrderIndependent(t *testing.T) {
	a := map[string]string{}
	b := map[string]string{}
	keys := []string{"zeta", "Alpha", "alpha", "\u00e9", "B", "a"}
	for i, k := range keys {
		a[k] = k + "v"
		b[keys[len(keys)-1-i]] = keys[len(keys)-1-i] + "v"
	}
	if !bytes.Equal(EncodeEncryptionContext(a), EncodeEncryptionContext(b)) {
		t.Fatal("the encoding depends on map insertion order")
	}
	got := EncodeEncryptionContext(map[string]string{"b": "2", "a": "1"})
	want := []byte{0, 0, 0, 2, 0, 0, 0, 1, 'a', 0, 0, 0, 1, '1', 0, 0, 0, 1, 'b', 0, 0, 0, 1, '2'}
	if !bytes.Equal(got, want) {
		t.Fatalf("encoding = %x, want %x", got, want)
	}
}

// FuzzEncodeEncryptionContext checks that two different contexts never share an encoding.
func FuzzEncodeEncryptionContext(f *testing.F) {
	f.Add("ab", "c", "a", "bc")
	f.Add("a", "b", "a", "b")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		x := map[string]string{k1: v1}
		y := map[string]string{k2: v2}
		same := k1 == k2 && v1 == v2
		if eq := bytes.Equal(EncodeEncryptionContext(x), EncodeEncryptionContext(y)); eq != same {
			t.Fatalf("%q and %q: encodings equal = %v", x, y, eq)
		}
		xy := map[string]string{k1: v1, k2 + "\x00": v2}
		if len(xy) == 2 && bytes.Equal(EncodeEncryptionContext(xy), EncodeEncryptionContext(x)) {
			t.Fatalf("%q and %q encode alike", xy, x)
		}
	})
}
