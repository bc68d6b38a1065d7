package token

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

var secret = bytes.Repeat([]byte{5}, 32)

const gid = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestTokens(t *testing.T) {
	tok, err := Make(secret, gid)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := Check(secret, tok); err != nil || got != gid {
		t.Fatalf("Check = %q, %v", got, err)
	}
	for _, bad := range []string{"", "x", tok[:len(tok)-1], strings.ToUpper(tok), tok + "A", strings.Repeat("A", MaxLen+1)} {
		if _, err := Check(secret, bad); !errors.Is(err, ErrInvalid) {
			t.Fatalf("Check(%.20q) = %v", bad, err)
		}
	}
	if _, err := Check(bytes.Repeat([]byte{6}, 32), tok); !errors.Is(err, ErrInvalid) {
		t.Fatal("token accepted under another secret")
	}
	if _, err := Make(secret, "abc"); err == nil {
		t.Fatal("Make with a short grant ID")
	}
}

func TestPage(t *testing.T) {
	names := []string{"e", "a", "d", "c", "b"}
	var got []string
	marker := ""
	for i := 0; i < 10; i++ {
		page, next, err := Page(append([]string(nil), names...), 2, marker)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if next == "" {
			break
		}
		marker = next
	}
	if strings.Join(got, "") != "abcde" {
		t.Fatalf("pages gave %v", got)
	}
	if _, _, err := Page(names, 2, "***"); !errors.Is(err, ErrBadMarker) {
		t.Fatalf("bad marker: %v", err)
	}
}

// FuzzGrantToken: Check never panics and accepts only tokens Make made.
func FuzzGrantToken(f *testing.F) {
	tok, _ := Make(secret, gid)
	f.Add(tok)
	f.Add("AQ")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := Check(secret, s)
		if err != nil {
			return
		}
		again, err := Make(secret, id)
		if err != nil || again != s {
			t.Fatalf("accepted a token Make would not make: %q", s)
		}
	})
}
