package cli

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
)

func FuzzParseContextPair(f *testing.F) {
	for _, s := range []string{"k=v", "k=", "=v", "kv", "a=b=c", "aws-crypto-public-key=x", "", "\x00=\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		k, v, err := parseContextPair(s)
		if err != nil {
			if !errors.Is(err, backends.ErrInvalidArgument) {
				t.Fatalf("%q: error of the wrong kind: %v", s, err)
			}
			return
		}
		if k == "" || strings.Contains(k, "=") || k+"="+v != s || strings.HasPrefix(k, envelope.ReservedPrefix) {
			t.Fatalf("%q parsed as %q, %q", s, k, v)
		}
	})
}

func FuzzParseSuite(f *testing.F) {
	for _, s := range []string{"", "0x0478", "0x0578", "committing", "COMMITTING-SIGNED", "0x0014", "1144", "0x9999", "-1", "0x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := parseSuite(s)
		if err != nil {
			if !errors.Is(err, backends.ErrInvalidArgument) {
				t.Fatalf("%q: error of the wrong kind: %v", s, err)
			}
			return
		}
		if s != "" && id.DataKeyLen() == 0 {
			t.Fatalf("%q parsed as unknown suite %#04x", s, uint16(id))
		}
	})
}

func FuzzDecodeBlob(f *testing.F) {
	f.Add([]byte("AQIDBA==\n"), "auto")
	f.Add([]byte{0x01, 0x02, 0xff}, "auto")
	f.Add([]byte("not base64!"), "base64")
	f.Add([]byte(""), "raw")
	f.Fuzz(func(t *testing.T, data []byte, format string) {
		b, err := decodeBlob(data, format)
		var ue *usageError
		switch {
		case errors.As(err, &ue):
			if format == "auto" || format == "base64" || format == "raw" {
				t.Fatalf("format %q refused", format)
			}
		case err != nil:
			if !errors.Is(err, backends.ErrInvalidCiphertext) {
				t.Fatalf("error of the wrong kind: %v", err)
			}
		case len(b) == 0:
			t.Fatal("an empty blob was accepted")
		case format == "raw" && !bytes.Equal(b, data):
			t.Fatal("raw input changed")
		case format == "base64" && base64.StdEncoding.EncodeToString(b) != strings.NewReplacer("\r", "", "\n", "").Replace(string(bytes.TrimSpace(data))):
			// Line breaks inside are skipped (wrapped base64, as base64(1) writes it).
			t.Fatal("base64 input decoded to something else")
		}
	})
}

// FuzzParseConfig feeds configuration files and service URLs to the parsers:
// they answer a parsed value or an error, never a panic, and a parsed file's
// services all parse again.
func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("profile = \"dev\"\n[profiles.dev]\noutput = \"json\"\ndefault-service = \"s\"\n[profiles.dev.services.s]\nurl = \"local:s.db?account=111122223333\"\n"), "awskms://?region=us-east-1&account=111122223333&endpoint=http://127.0.0.1:1")
	f.Add([]byte("[profiles.x.services.v]\nurl = \"vault://?address=http://127.0.0.1:8200\"\n"), "local:///abs/s.db?account=1&root-key-file=k")
	f.Add([]byte("[profiles]\nx = 1\n"), "vault://host/path")
	f.Add([]byte("\x00[[["), "%zz")
	f.Fuzz(func(t *testing.T, data []byte, raw string) {
		if cfg, err := parseConfig(data); err == nil {
			for name, p := range cfg.Profiles {
				if p == nil {
					continue
				}
				for sname, s := range p.Services {
					if _, err := parseServiceURL(sname, s.URL); err != nil {
						t.Fatalf("profile %s: service %s passed the file's check but not parseServiceURL: %v", name, sname, err)
					}
				}
			}
		}
		if s, err := parseServiceURL("n", raw); err == nil {
			if serviceKinds[s.kind] == nil {
				t.Fatalf("%q parsed as unknown kind %q", raw, s.kind)
			}
			if s.account != "" && len(s.account) != 12 {
				t.Fatalf("%q: account %q accepted", raw, s.account)
			}
		}
	})
}
