// Package format reads and writes the parts of an AWS Encryption SDK message: the
// header (v1 and v2) with its encryption context and encrypted data keys, the body
// (framed and non-framed) and the footer. Parsers check every length against the
// bytes available and return errors of kind backends.ErrInvalidCiphertext; writers
// check the format's limits and return backends.ErrInvalidArgument.
package format

import (
	"bytes"
	"encoding/binary"
	"slices"
	"sort"
	"strings"
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
	return AppendContext(nil, ec, nil, "")
}

// pair is one encryption context entry.
type pair struct{ k, v string }

// AppendContext appends to dst the serialization (see MarshalContext) of the
// pairs of ec whose keys keep accepts (all of them when keep is nil), growing
// dst at most once. A key that starts with refused (unless it is empty) is an
// error. Up to 16 pairs it allocates nothing beyond dst.
func AppendContext(dst []byte, ec map[string]string, keep func(k string) bool, refused string) ([]byte, error) {
	var small [16]pair
	pairs := small[:0]
	n := 2
	for k, v := range ec {
		if refused != "" && strings.HasPrefix(k, refused) {
			return nil, invalid("encryption context key %q uses the reserved prefix %q", k, refused)
		}
		if keep != nil && !keep(k) {
			continue
		}
		if len(k) > MaxField || len(v) > MaxField {
			return nil, invalid("encryption context entry longer than %d bytes", MaxField)
		}
		if !utf8.ValidString(k) || !utf8.ValidString(v) {
			return nil, invalid("encryption context entries must be valid UTF-8")
		}
		n += 4 + len(k) + len(v)
		pairs = append(pairs, pair{k, v})
	}
	if len(pairs) == 0 {
		return dst, nil
	}
	if len(pairs) > MaxField {
		return nil, invalid("encryption context has %d pairs, the format holds at most %d", len(pairs), MaxField)
	}
	// Go compares strings byte by byte: UTF-8 byte order.
	slices.SortFunc(pairs, func(a, b pair) int { return strings.Compare(a.k, b.k) })
	dst = slices.Grow(dst, n)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(pairs)))
	for _, p := range pairs {
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.k)))
		dst = append(dst, p.k...)
		dst = binary.BigEndian.AppendUint16(dst, uint16(len(p.v)))
		dst = append(dst, p.v...)
	}
	return dst, nil
}

// CheckContext checks a serialized encryption context as ParseContext does,
// without building a map, and reports whether its keys are in strictly
// ascending order (canonical: what MarshalContext writes, so it has no
// duplicate key). It returns the number of pairs. For a context that is not
// canonical it cannot tell duplicates: ParseContext does.
func CheckContext(b []byte) (pairs int, canonical bool, err error) {
	if len(b) == 0 {
		return 0, true, nil
	}
	if len(b) < 2 {
		return 0, false, malformed("encryption context too short")
	}
	count := int(binary.BigEndian.Uint16(b))
	rest := b[2:]
	canonical = count > 0
	var prev []byte
	for i := 0; i < count; i++ {
		k, r, ok := cut16(rest)
		if !ok {
			return 0, false, malformed("encryption context key %d truncated", i)
		}
		v, r, ok := cut16(r)
		if !ok {
			return 0, false, malformed("encryption context value %d truncated", i)
		}
		rest = r
		if !utf8.Valid(k) || !utf8.Valid(v) {
			return 0, false, malformed("encryption context entry is not valid UTF-8")
		}
		if i > 0 && bytes.Compare(prev, k) >= 0 {
			canonical = false
		}
		prev = k
	}
	if len(rest) != 0 {
		return 0, false, malformed("%d stray bytes after the encryption context", len(rest))
	}
	return count, canonical, nil
}

// MatchContext compares a serialized encryption context b (checked by
// CheckContext) with ec: it returns how many of b's pairs have their key in ec,
// and, when one of those has another value in ec, that key and ok=false.
func MatchContext(b []byte, ec map[string]string) (matched int, key string, ok bool) {
	if len(b) < 2 {
		return 0, "", true
	}
	count := int(binary.BigEndian.Uint16(b))
	rest := b[2:]
	for range count {
		k, r, _ := cut16(rest)
		v, r, _ := cut16(r)
		rest = r
		if want, in := ec[string(k)]; in {
			if want != string(v) {
				return matched, string(k), false
			}
			matched++
		}
	}
	return matched, "", true
}

// cut16 splits a two-byte length-prefixed field off b.
func cut16(b []byte) (field, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(b[0])<<8 | int(b[1])
	if len(b)-2 < n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
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
