package backends

import (
	"encoding/binary"
	"sort"
)

// EncodeEncryptionContext returns the unambiguous encoding of an encryption context
// that keyport binds as additional authenticated data: nothing for an empty context;
// otherwise a 4-byte big-endian count of pairs, then each pair in ascending byte order
// of its key as a 4-byte big-endian length and the key's bytes, then the same for the
// value. Every distinct context has a distinct encoding, so {"ab":"c"} and {"a":"bc"}
// never collide.
func EncodeEncryptionContext(ec map[string]string) []byte {
	if len(ec) == 0 {
		return nil
	}
	keys := make([]string, 0, len(ec))
	n := 4
	for k, v := range ec {
		keys = append(keys, k)
		n += 8 + len(k) + len(v)
	}
	sort.Strings(keys)
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, uint32(len(ec)))
	for _, k := range keys {
		v := ec[k]
		b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
		b = append(b, k...)
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// CloneEncryptionContext returns a copy of ec (nil for an empty one).
func CloneEncryptionContext(ec map[string]string) map[string]string {
	if len(ec) == 0 {
		return nil
	}
	c := make(map[string]string, len(ec))
	for k, v := range ec {
		c[k] = v
	}
	return c
}
