package pkcs11

import (
	"errors"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
)

// FuzzParseURI checks that ParseURI never panics, answers only NotFound or
// InvalidArgument, and that what it accepts formats to a URI that parses back to
// the same string.
func FuzzParseURI(f *testing.F) {
	for _, s := range []string{
		"pkcs11:token=t;object=k;id=%01", "pkcs11:object=a?module-path=/x.so", "PKCS11:slot-id=3;type=private",
		"pkcs11:object=a?pin-value=1", "pkcs11:object=%zz", "pkcs11:", "pkcs11:x-a=b?x-c=d",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseURI(s)
		if err != nil {
			if !errors.Is(err, backends.ErrNotFound) && !errors.Is(err, backends.ErrInvalidArgument) {
				t.Fatalf("ParseURI(%q): error of another kind: %v", s, err)
			}
			return
		}
		out := u.String()
		again, err := ParseURI(out)
		if err != nil {
			t.Fatalf("ParseURI(%q) gave %q, which does not parse: %v", s, out, err)
		}
		if again.String() != out {
			t.Fatalf("%q formats to %q, then to %q", s, out, again.String())
		}
	})
}

// FuzzParseBlob checks that parseBlob never panics and refuses only with
// InvalidCiphertext.
func FuzzParseBlob(f *testing.F) {
	f.Add(append(header(formatAESGCM, "pkcs11:object=k", make([]byte, gcmIVLen)), make([]byte, gcmTagLen)...))
	f.Add(append(header(formatRSAOAEPSHA1, "pkcs11:object=k", nil), 1))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parseBlob("Decrypt", "", b)
		if err != nil {
			kmstest.WantKind(t, err, backends.ErrInvalidCiphertext, "parseBlob")
			return
		}
		if len(p.header)+len(p.ct) != len(b) {
			t.Fatalf("header and ciphertext are %d+%d bytes of a %d-byte blob", len(p.header), len(p.ct), len(b))
		}
	})
}
