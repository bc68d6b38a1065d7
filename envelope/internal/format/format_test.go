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

func sampleHeader(id uint16) *Header {
	s := suite.Lookup(id)
	h := &Header{
		Version: s.MessageVersion, Suite: s, MessageID: bytes.Repeat([]byte{7}, s.MessageIDLen()),
		Context:     map[string]string{"b": "2", "a": "1", "B": "3", "ü": ""},
		EDKs:        []EDK{{ProviderID: "p", ProviderInfo: []byte("info"), Ciphertext: []byte("ct")}, {ProviderID: "", ProviderInfo: nil, Ciphertext: []byte{}}},
		ContentType: ContentFramed, FrameLength: 4096,
		SuiteData: bytes.Repeat([]byte{9}, s.SuiteDataLen()),
	}
	if h.Version == 1 {
		h.AuthIV = make([]byte, suite.IVLen)
	}
	h.AuthTag = bytes.Repeat([]byte{1}, suite.TagLen)
	return h
}

func marshal(t testing.TB, h *Header) []byte {
	body, err := h.MarshalBody()
	if err != nil {
		t.Fatal(err)
	}
	return h.AppendAuth(bytes.Clone(body))
}

func TestHeaderRoundTripAllSuites(t *testing.T) {
	for _, s := range suite.All() {
		h := sampleHeader(s.ID)
		b := marshal(t, h)
		got, err := Parse(bytes.NewReader(append(bytes.Clone(b), 0xAA)), Limits{})
		if err != nil {
			t.Fatalf("%04x: %v", s.ID, err)
		}
		if got.Suite.ID != s.ID || !reflect.DeepEqual(got.Context, h.Context) || len(got.EDKs) != 2 ||
			got.FrameLength != 4096 || !bytes.Equal(got.Body, h.Body) || !bytes.Equal(got.AuthTag, h.AuthTag) {
			t.Fatalf("%04x: round trip differs", s.ID)
		}
		// Every truncation is a typed error.
		for i := range b {
			if _, err := Parse(bytes.NewReader(b[:i]), Limits{}); !errors.Is(err, backends.ErrInvalidCiphertext) {
				t.Fatalf("%04x: truncated at %d: %v", s.ID, i, err)
			}
		}
		if _, err := Parse(bytes.NewReader(b), Limits{MaxEDKs: 1}); !errors.Is(err, ErrTooManyEDKs) || !errors.Is(err, backends.ErrInvalidCiphertext) {
			t.Fatalf("%04x: max EDKs: %v", s.ID, err)
		}
	}
}

func TestContextSortedByUTF8Bytes(t *testing.T) {
	b, err := MarshalContext(map[string]string{"a": "lower", "B": "upper", "é": "x"})
	if err != nil {
		t.Fatal(err)
	}
	want := "\x00\x03" + "\x00\x01B\x00\x05upper" + "\x00\x01a\x00\x05lower" + "\x00\x02é\x00\x01x"
	if string(b) != want {
		t.Fatalf("got %q", b)
	}
	if b, _ := MarshalContext(nil); b != nil {
		t.Fatal("empty context serializes to bytes")
	}
	if _, err := ParseContext([]byte("\x00\x02\x00\x01a\x00\x00\x00\x01a\x00\x00")); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Fatalf("duplicate key accepted: %v", err)
	}
	if _, err := ParseContext([]byte("\x00\x01\x00\x01a\x00\x00\x00")); err == nil {
		t.Fatal("stray bytes accepted")
	}
	if _, err := MarshalContext(map[string]string{strings.Repeat("k", 70000): ""}); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Fatalf("oversized key: %v", err)
	}
}

func TestParseRejects(t *testing.T) {
	good := marshal(t, sampleHeader(0x0478))
	mut := func(f func(b []byte)) []byte { b := bytes.Clone(good); f(b); return b }
	for name, b := range map[string][]byte{
		"version":        mut(func(b []byte) { b[0] = 3 }),
		"suite":          mut(func(b []byte) { b[2] = 0x99 }),
		"v1 suite in v2": mut(func(b []byte) { b[1], b[2] = 0x01, 0x78 }),
		"content type":   mut(func(b []byte) { b[len(b)-16-32-5] = 3 }),
		"frame length 0": mut(func(b []byte) { copy(b[len(b)-16-32-4:], []byte{0, 0, 0, 0}) }),
	} {
		if _, err := Parse(bytes.NewReader(b), Limits{}); !errors.Is(err, backends.ErrInvalidCiphertext) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func FuzzParseHeader(f *testing.F) {
	for _, s := range suite.All() {
		f.Add(marshal(f, sampleHeader(s.ID)))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(bytes.NewReader(b), Limits{MaxEDKs: 100})
		if err != nil {
			if backends.KindOf(err) == nil {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		// What parses re-serializes, and the result parses to the same header.
		h2 := *h
		b2 := marshal(t, &h2)
		h3, err := Parse(bytes.NewReader(b2), Limits{})
		if err != nil {
			t.Fatalf("re-serialized header does not parse: %v", err)
		}
		if !reflect.DeepEqual(h3.Context, h.Context) || !reflect.DeepEqual(h3.EDKs, h.EDKs) || h3.FrameLength != h.FrameLength ||
			!bytes.Equal(h3.MessageID, h.MessageID) || !bytes.Equal(h3.SuiteData, h.SuiteData) || h3.ContentType != h.ContentType {
			t.Fatal("round trip differs")
		}
	})
}

func FuzzParseContext(f *testing.F) {
	b, _ := MarshalContext(map[string]string{"a": "1", "B": "2", "ü": ""})
	f.Add(b)
	f.Add([]byte{})
	f.Add([]byte{0, 0})
	f.Add([]byte("\x00\x02\x00\x01a\x00\x011\x00\x01a\x00\x012"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ec, err := ParseContext(b)
		n, canonical, cerr := CheckContext(b)
		if err != nil {
			if !errors.Is(err, backends.ErrInvalidCiphertext) {
				t.Fatalf("untyped error %v", err)
			}
			// CheckContext accepts only a context ParseContext refuses for a
			// repeated key, and never calls that canonical.
			if cerr == nil && canonical {
				t.Fatalf("CheckContext: canonical, ParseContext: %v", err)
			}
			return
		}
		if cerr != nil || n != len(ec) {
			t.Fatalf("CheckContext: %d pairs, %v; ParseContext: %d pairs", n, cerr, len(ec))
		}
		if m, _ := MarshalContext(ec); canonical != (len(b) > 0 && bytes.Equal(m, b) || len(b) == 0) {
			t.Fatalf("CheckContext says canonical %v of %q, MarshalContext writes %q", canonical, b, m)
		}
		if matched, k, ok := MatchContext(b, ec); !ok || matched != len(ec) {
			t.Fatalf("MatchContext with its own pairs: %d, %q, %v", matched, k, ok)
		}
		b2, err := MarshalContext(ec)
		if err != nil {
			t.Fatalf("parsed context does not serialize: %v", err)
		}
		ec2, err := ParseContext(b2)
		if err != nil || !reflect.DeepEqual(ec, ec2) {
			t.Fatalf("round trip: %v", err)
		}
	})
}

func FuzzParseFrameHead(f *testing.F) {
	f.Add(AppendRegularHead(nil, 1), uint32(4096))
	f.Add(AppendFinalHead(nil, 7, 100), uint32(4096))
	f.Add(AppendFinalHead(nil, 7, 5000), uint32(4096))
	f.Fuzz(func(t *testing.T, b []byte, frameLen uint32) {
		l, ok, err := ParseFrameHead(b, frameLen)
		if err != nil {
			if !errors.Is(err, backends.ErrInvalidCiphertext) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		if !ok {
			return
		}
		if l.Len > int(frameLen) || l.Content+l.Len+suite.TagLen != l.Size || l.IV+suite.IVLen > l.Content {
			t.Fatalf("inconsistent layout %+v for frame length %d", l, frameLen)
		}
	})
}

func TestContextHelpers(t *testing.T) {
	ec := map[string]string{"b": "2", "a": "1", "B": "3", "ü": ""}
	want, err := MarshalContext(ec)
	if err != nil {
		t.Fatal(err)
	}
	// AppendContext appends to what dst holds, and keep selects pairs.
	got, err := AppendContext([]byte("x"), ec, func(k string) bool { return k != "b" }, "")
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := MarshalContext(map[string]string{"a": "1", "B": "3", "ü": ""})
	if !bytes.Equal(got, append([]byte("x"), sub...)) {
		t.Errorf("AppendContext with keep: %q, want x%q", got, sub)
	}
	if _, err := AppendContext(nil, map[string]string{"aws-crypto-x": "1"}, nil, "aws-crypto-"); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("refused prefix: %v", err)
	}
	if b, err := AppendContext([]byte("x"), nil, nil, "aws-crypto-"); err != nil || string(b) != "x" {
		t.Errorf("empty context: %q, %v", b, err)
	}
	// CheckContext: canonical for what MarshalContext writes; not for the same
	// pairs in another order, nor for a repeated key.
	if n, canon, err := CheckContext(want); err != nil || n != 4 || !canon {
		t.Errorf("CheckContext(marshaled): %d, %v, %v", n, canon, err)
	}
	swapped := []byte("\x00\x02\x00\x01b\x00\x012\x00\x01a\x00\x011")
	if n, canon, err := CheckContext(swapped); err != nil || n != 2 || canon {
		t.Errorf("CheckContext(unsorted): %d, %v, %v", n, canon, err)
	}
	dup := []byte("\x00\x02\x00\x01a\x00\x011\x00\x01a\x00\x012")
	if _, canon, err := CheckContext(dup); err != nil || canon {
		t.Errorf("CheckContext(duplicate): %v, %v", canon, err)
	}
	if _, err := ParseContext(dup); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Errorf("ParseContext(duplicate): %v", err)
	}
	for _, bad := range [][]byte{{0}, []byte("\x00\x01\x00\x05ab"), []byte("\x00\x01\x00\x01a\x00\x01\xff"), append(bytes.Clone(want), 0)} {
		if _, _, err := CheckContext(bad); !errors.Is(err, backends.ErrInvalidCiphertext) {
			t.Errorf("CheckContext(%q): %v", bad, err)
		}
	}
	// MatchContext counts the pairs whose keys the map has and names a value
	// that differs.
	if n, _, ok := MatchContext(want, map[string]string{"a": "1", "ü": "", "zz": "9"}); n != 2 || !ok {
		t.Errorf("MatchContext: %d, %v", n, ok)
	}
	if _, k, ok := MatchContext(want, map[string]string{"B": "x"}); ok || k != "B" {
		t.Errorf("MatchContext with a wrong value: %q, %v", k, ok)
	}
}

// A lazily parsed header leaves a canonical context for ContextMap to build,
// and parses into the caller's buffers, growing past them as needed.
func TestParseIntoLazy(t *testing.T) {
	h := sampleHeader(0x0478)
	b := marshal(t, h)
	for _, room := range []int{0, 16, 448} {
		var got Header
		var edks [1]EDK
		got.EDKs = edks[:0]
		buf := make([]byte, 3, 3+room)
		n, err := got.ParseBytesInto(buf, append(bytes.Clone(b), 9, 9), Limits{LazyContext: true})
		if err != nil || n != len(b) {
			t.Fatalf("room %d: %d, %v", room, n, err)
		}
		if got.Context != nil || !got.CanonicalContext {
			t.Errorf("room %d: lazy parse built the map (%v) or found the context not canonical", room, got.Context)
		}
		if ec, err := got.ContextMap(); err != nil || !reflect.DeepEqual(ec, h.Context) {
			t.Errorf("room %d: ContextMap %v, %v", room, ec, err)
		}
		if !bytes.Equal(got.Body, h.Body) || len(got.EDKs) != 2 || got.EDKs[0].ProviderID != "p" {
			t.Errorf("room %d: header differs", room)
		}
		if room >= len(b) && &buf[:4][3] != &got.Body[0] {
			t.Errorf("room %d: the header was not parsed into the caller's buffer", room)
		}
	}
}
