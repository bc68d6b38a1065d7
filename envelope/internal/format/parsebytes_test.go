package format

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/suite"
)

// FuzzParseBytes: ParseBytes accepts what Parse accepts (of the same bytes, as a
// reader), gives the same header and the length Parse read, and the header
// keeps no reference to the input.
func FuzzParseBytes(f *testing.F) {
	for _, s := range suite.All() {
		b := marshal(f, sampleHeader(s.ID))
		f.Add(b, 100)
		f.Add(append(bytes.Clone(b), 1, 2, 3), 1)
		f.Add(b[:len(b)/2], 0)
	}
	f.Fuzz(func(t *testing.T, b []byte, maxEDKs int) {
		lim := Limits{MaxEDKs: max(0, maxEDKs%8)}
		rd := bytes.NewReader(b)
		want, werr := Parse(rd, lim)
		in := bytes.Clone(b)
		got, n, err := ParseBytes(in, lim)
		if (err == nil) != (werr == nil) {
			t.Fatalf("ParseBytes error %v, Parse error %v", err, werr)
		}
		if err != nil {
			if !errors.Is(err, backends.ErrInvalidCiphertext) || err.Error() != werr.Error() {
				t.Fatalf("ParseBytes error %v, Parse error %v", err, werr)
			}
			return
		}
		if n != len(b)-rd.Len() {
			t.Fatalf("ParseBytes length %d, Parse read %d bytes", n, len(b)-rd.Len())
		}
		for i := range in {
			in[i] ^= 0xFF
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ParseBytes header %+v, Parse header %+v (or it aliases its input)", got, want)
		}
		// Parsed lazily into a buffer of any room, the header is the same.
		var lazy Header
		m, err := lazy.ParseBytesInto(make([]byte, 0, maxEDKs&511), b, Limits{MaxEDKs: lim.MaxEDKs, LazyContext: true})
		if err != nil || m != n {
			t.Fatalf("lazy ParseBytesInto: %d, %v; ParseBytes: %d", m, err, n)
		}
		ec, err := lazy.ContextMap()
		if err != nil || !reflect.DeepEqual(ec, want.Context) || !bytes.Equal(lazy.Body, want.Body) || len(lazy.EDKs) != len(want.EDKs) {
			t.Fatalf("lazy ParseBytesInto: context %v (%v), want %v", ec, err, want.Context)
		}
	})
}

func TestParseManyEDKs(t *testing.T) {
	h := sampleHeader(0x0478)
	for i := range 9 {
		h.EDKs = append(h.EDKs, EDK{ProviderID: "aws-kms", ProviderInfo: []byte(strings.Repeat("i", i*40)), Ciphertext: bytes.Repeat([]byte{byte(i)}, 200)})
	}
	b := marshal(t, h)
	got, n, err := ParseBytes(b, Limits{})
	if err != nil || n != len(b) || len(got.EDKs) != len(h.EDKs) || !bytes.Equal(got.Body, h.Body) {
		t.Fatalf("header with %d EDKs (%d bytes): %v", len(h.EDKs), len(b), err)
	}
	for i, k := range got.EDKs {
		w := h.EDKs[i]
		if k.ProviderID != w.ProviderID || !bytes.Equal(k.ProviderInfo, w.ProviderInfo) || !bytes.Equal(k.Ciphertext, w.Ciphertext) {
			t.Fatalf("EDK %d differs", i)
		}
	}
	if _, _, err := ParseBytes(b, Limits{MaxEDKs: 10}); !errors.Is(err, ErrTooManyEDKs) {
		t.Fatalf("limit: %v", err)
	}
}
