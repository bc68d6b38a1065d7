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
	f.Fuzz(func(t *testing.T, b []byte) {
		ec, err := ParseContext(b)
		if err != nil {
			if !errors.Is(err, backends.ErrInvalidCiphertext) {
				t.Fatalf("untyped error %v", err)
			}
			return
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
