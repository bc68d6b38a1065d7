package vault

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
)

func TestParseRef(t *testing.T) {
	good := []struct {
		in          string
		mount, name string
	}{
		{"vault://transit/orders", "transit", "orders"},
		{"vault:///orders", DefaultMount, "orders"},
		{"VAULT://transit/orders", "transit", "orders"},
		{"vault://team-a/transit/orders", "team-a/transit", "orders"},
		{"vault:///team-a/orders", "team-a", "orders"},
		{"vault://transit/a.b-c@d_e", "transit", "a.b-c@d_e"},
		{"vault://transit/x", "transit", "x"},
		{"vault://Transit/Orders", "Transit", "Orders"},
	}
	for _, c := range good {
		r, err := ParseRef(c.in)
		if err != nil {
			t.Errorf("ParseRef(%q): %v", c.in, err)
			continue
		}
		if r.Mount != c.mount || r.Name != c.name {
			t.Errorf("ParseRef(%q) = %+v, want mount %q name %q", c.in, r, c.mount, c.name)
		}
		if again, err := ParseRef(r.URI()); err != nil || again != r {
			t.Errorf("ParseRef(%q).URI() = %q does not parse back: %+v, %v", c.in, r.URI(), again, err)
		}
	}
	bad := []string{
		"", "vault:", "vault://", "vault://transit", "vault://transit/", "vault:///",
		"vault:transit/orders", "awskms://transit/orders", "vault://transit/orders?x=1",
		"vault://transit/orders#f", "vault://user@transit/orders", "vault://transit:8200/orders",
		"vault://transit/or%64ers", "vault://transit//orders", "vault://../orders",
		"vault://transit/-orders", "vault://transit/orders-", "vault://transit/ord ers",
		"vault://transit/or/ders/", "vault://tr\x00ansit/orders", "vault://transit/ördér",
		"vault://" + strings.Repeat("a", 1100) + "/k",
	}
	for _, in := range bad {
		_, err := ParseRef(in)
		if !errors.Is(err, backends.ErrNotFound) {
			t.Errorf("ParseRef(%q) = %v, want an error matching ErrNotFound", in, err)
		}
		var be *backends.Error
		if !errors.As(err, &be) {
			t.Errorf("ParseRef(%q): error is not a *backends.Error", in)
		}
	}
}

func FuzzParseRef(f *testing.F) {
	for _, s := range []string{"vault://transit/orders", "vault:///k", "vault://a/b/c", "vault://x/y@z", "vault://t/%41", "vault://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRef(s)
		if err != nil {
			if !errors.Is(err, backends.ErrNotFound) {
				t.Fatalf("ParseRef(%q): error %v does not match ErrNotFound", s, err)
			}
			return
		}
		if r.Mount == "" || r.Name == "" || strings.ContainsAny(r.Name, "/?#%:") {
			t.Fatalf("ParseRef(%q) = %+v: empty or unsafe part", s, r)
		}
		again, err := ParseRef(r.URI())
		if err != nil || again != r {
			t.Fatalf("ParseRef(%q).URI() = %q parses to %+v, %v", s, r.URI(), again, err)
		}
	})
}

func TestIsTransitCiphertext(t *testing.T) {
	for in, want := range map[string]bool{
		"vault:v1:abcd":      true,
		"vault:v12:AB+/cg==": true,
		"vault:v1:AB+/cd==":  false, // non-zero padding bits: Transit would accept it
		"vault:v0:abcd":      false, // Transit reads version 0 as the latest
		"vault:v01:abcd":     false,
		"vault:v1:abcd==":    false,
		"vault:v1:":          false,
		"vault:v:abc":        false,
		"vault:vx:abc":       false,
		"vault:v1:ab cd":     false,
		"vault:v1":           false,
		"VAULT:v1:abc":       false,
		"":                   false,
	} {
		if got := isTransitCiphertext([]byte(in)); got != want {
			t.Errorf("isTransitCiphertext(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestDerivationContext(t *testing.T) {
	empty := derivationContext(nil)
	if string(empty) != "\x00\x00\x00\x00" {
		t.Fatalf("derivationContext(nil) = %x, want 00000000", empty)
	}
	one := derivationContext(map[string]string{"a": "bc"})
	other := derivationContext(map[string]string{"ab": "c"})
	if string(one) == string(other) || string(one) == string(empty) {
		t.Fatal("derivation contexts of distinct encryption contexts collide")
	}
	if string(one) != string(backends.EncodeEncryptionContext(map[string]string{"a": "bc"})) {
		t.Fatal("derivation context of a non-empty context is not its keyport encoding")
	}
}

func FuzzIsTransitCiphertext(f *testing.F) {
	for _, s := range []string{"vault:v1:abcd", "vault:v12:AB+/cg==", "vault:v0:abcd", "vault:v1:AB+/cd==", "vault:v:", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, blob []byte) {
		if !isTransitCiphertext(blob) {
			return
		}
		rest, _ := strings.CutPrefix(string(blob), "vault:v")
		ver, body, _ := strings.Cut(rest, ":")
		if ver == "" || ver[0] == '0' || strings.Trim(ver, "0123456789") != "" {
			t.Fatalf("accepted a bad key version %q", ver)
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(body)
		if err != nil || base64.StdEncoding.EncodeToString(raw) != body {
			t.Fatalf("accepted a body that is not canonical base64")
		}
	})
}
