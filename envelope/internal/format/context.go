// Package format reads and writes the parts of an AWS Encryption SDK message: the
// header (v1 and v2) with its encryption context and encrypted data keys, the body
// (framed and non-framed) and the footer. Parsers check every length against the
// bytes available and return errors of kind backends.ErrInvalidCiphertext; writers
// check the format's limits and return backends.ErrInvalidArgument.
package format

import (
	"encoding/binary"
	"sort"
	"unicode/utf8"

	"github.com/keyport/keyport/backends"
)

// MaxField is the largest length a two-byte length field holds.
const MaxField = 1<<16 - 1

// PublicKeyContextKey is the encryption context key that holds the signing public
// key of signed suites.
const PublicKeyContextKey = "aws-crypto-public-key"

func malformed(format string, args ...any) error {
	return backends.Errorf(backends.ErrInvalidCiphertext, "Decrypt", "", "malformed message: "+format, args...)
}

func invalid(format string, args ...any) error {
	return backends.Errorf(backends.ErrInvalidArgument, "Encrypt", "", format, args...)
}

// SortedKeys returns the keys of ec in ascending order of their UTF-8 bytes.
func SortedKeys(ec map[string]string) []string {
	keys := make([]string, 0, len(ec))
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys) // Go compares strings byte by byte: UTF-8 byte order
	return keys
}

// MarshalContext serializes an encryption context as the ESDK does: nothing for an
// empty context; otherwise a two-byte pair count, then each pair in ascending
// UTF-8 byte order of its key as two-byte length, key, two-byte length, value.
// Keys and values must be valid UTF-8 and at most 65535 bytes.
func MarshalContext(ec map[string]string) ([]byte, error) {
	if len(ec) == 0 {
		return nil, nil
	}
	if len(ec) > MaxField {
		return nil, invalid("encryption context has %d pairs, the format holds at most %d", len(ec), MaxField)
	}
	n := 2
	for k, v := range ec {
		if len(k) > MaxField || len(v) > MaxField {
			return nil, invalid("encryption context entry longer than %d bytes", MaxField)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, invalid("encryption context entries must be valid UTF-8")
		}
		n += 4 + len(k) + len(v)
	}
	var small [8]string
	keys := small[:0]
	if len(ec) > len(small) {
		keys = make([]string, 0, len(ec))
	}
	for k := range ec {
		keys = append(keys, k)
	}
	sort.Strings(keys) // Go compares strings byte by byte: UTF-8 byte order
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint16(b, uint16(len(ec)))
	for _, k := range keys {
		v := ec[k]
		b = binary.BigEndian.AppendUint16(b, uint16(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
		b = append(b, v...)
	}
	return b, nil
}

// ParseContext parses a serialized encryption context. It refuses duplicate keys,
// invalid UTF-8, and any length that does not match the bytes given. An empty b
// (and, as some writers produce it, a zero pair count) is the empty context.
func ParseContext(b []byte) (map[string]string, error) {
	if len(b) == 0 {
		return map[string]string{}, nil
	}
	if len(b) < 2 {
		return nil, malformed("encryption context too short")
	}
	count := int(binary.BigEndian.Uint16(b))
	// Keys and values are substrings of one copy of b: one allocation for all.
	s := string(b[2:])
	ec := make(map[string]string, min(count, len(s)/4))
	for i := 0; i < count; i++ {
		k, rest, ok := cut16s(s)
		if !ok {
			return nil, malformed("encryption context key %d truncated", i)
		}
		v, rest, ok := cut16s(rest)
		if !ok {
			return nil, malformed("encryption context value %d truncated", i)
		}
		s = rest
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, malformed("encryption context entry is not valid UTF-8")
		}
		if _, dup := ec[k]; dup {
			return nil, malformed("duplicate encryption context key")
		}
		ec[k] = v
	}
	if len(s) != 0 {
		return nil, malformed("%d stray bytes after the encryption context", len(s))
	}
	return ec, nil
}

// cut16s splits a two-byte length-prefixed field off s.
func cut16s(s string) (field, rest string, ok bool) {
	if len(s) < 2 {
		return "", "", false
	}
	n := int(s[0])<<8 | int(s[1])
	if len(s)-2 < n {
		return "", "", false
	}
	return s[2 : 2+n], s[2+n:], true
}
