package pkcs11

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/keyport/keyport/backends"
)

// Scheme is the URI scheme of PKCS#11 key references (RFC 7512).
const Scheme = "pkcs11"

// Object types of the type= attribute (RFC 7512 section 2.3).
const (
	TypeSecretKey = "secret-key"
	TypePrivate   = "private"
	TypePublic    = "public"
	TypeCert      = "cert"
	TypeData      = "data"
)

// URI is a parsed pkcs11: URI (RFC 7512). Attributes absent from the URI are
// empty (nil for ID). ParseURI refuses pin-value and pin-source: a PIN never
// travels in a key reference.
type URI struct {
	// Token attributes: the token's label, manufacturer, model and serial number.
	Token, Manufacturer, Model, Serial string
	// Object is the object's label (CKA_LABEL); ID its identifier (CKA_ID).
	Object string
	ID     []byte
	// Type is the object class: TypeSecretKey, TypePrivate, TypePublic, TypeCert or TypeData.
	Type string
	// Slot attributes. SlotID is -1 when absent.
	SlotDescription, SlotManufacturer string
	SlotID                            int64
	// Library (module) attributes, as C_GetInfo reports them.
	LibraryManufacturer, LibraryDescription, LibraryVersion string
	// ModulePath and ModuleName are the query attributes that name the PKCS#11
	// library. A Backend serves one library: a key reference whose module-path
	// names another is not its key.
	ModulePath, ModuleName string
}

// maxURILen bounds what ParseURI reads, as backends.ParseKeyRef bounds key references.
const maxURILen = 2048

// ParseURI parses a pkcs11: URI. A malformed URI is an error matching
// backends.ErrNotFound (as an invalid key reference is for AWS KMS); a URI that
// carries a PIN (pin-value, pin-source) is an error matching
// backends.ErrInvalidArgument whose message never repeats the PIN.
func ParseURI(s string) (*URI, error) {
	bad := func(format string, args ...any) (*URI, error) {
		return nil, backends.Errorf(backends.ErrNotFound, "", "", "invalid pkcs11 URI %s: %s", quoteRef(s), fmt.Sprintf(format, args...))
	}
	if len(s) > maxURILen {
		return bad("longer than %d bytes", maxURILen)
	}
	scheme, rest, ok := strings.Cut(s, ":")
	if !ok || !strings.EqualFold(scheme, Scheme) {
		return bad("the scheme is not %q", Scheme)
	}
	if strings.ContainsRune(rest, '#') {
		return bad("a pkcs11 URI has no fragment")
	}
	path, query, _ := strings.Cut(rest, "?")
	u := &URI{SlotID: -1}
	seen := map[string]bool{}
	if path != "" {
		for _, attr := range strings.Split(path, ";") {
			name, raw, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return bad("path attribute %q is not name=value", clip(attr, 40))
			}
			if err := noPIN(name); err != nil {
				return nil, err
			}
			if seen[name] {
				return bad("attribute %q appears twice", name)
			}
			seen[name] = true
			v, err := unescape(raw)
			if err != nil {
				return bad("attribute %q: %v", name, err)
			}
			if err := u.setPath(name, v); err != nil {
				return bad("%v", err)
			}
		}
	}
	if query != "" {
		for _, attr := range strings.Split(query, "&") {
			name, raw, ok := strings.Cut(attr, "=")
			if !ok || name == "" {
				return bad("query attribute %q is not name=value", clip(attr, 40))
			}
			if err := noPIN(name); err != nil {
				return nil, err
			}
			if seen["?"+name] {
				return bad("attribute %q appears twice", name)
			}
			seen["?"+name] = true
			v, err := unescape(raw)
			if err != nil {
				return bad("attribute %q: %v", name, err)
			}
			switch name {
			case "module-path":
				u.ModulePath = string(v)
			case "module-name":
				u.ModuleName = string(v)
			default:
				if !strings.HasPrefix(name, "x-") {
					return bad("unknown query attribute %q", name)
				}
			}
		}
	}
	return u, nil
}

func (u *URI) setPath(name string, v []byte) error {
	s := string(v)
	switch name {
	case "token":
		u.Token = s
	case "manufacturer":
		u.Manufacturer = s
	case "model":
		u.Model = s
	case "serial":
		u.Serial = s
	case "object":
		u.Object = s
	case "id":
		u.ID = v
	case "type":
		switch s {
		case TypeSecretKey, TypePrivate, TypePublic, TypeCert, TypeData:
			u.Type = s
		default:
			return fmt.Errorf("type %q is none of secret-key, private, public, cert, data", clip(s, 20))
		}
	case "slot-description":
		u.SlotDescription = s
	case "slot-manufacturer":
		u.SlotManufacturer = s
	case "slot-id":
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("slot-id %q is not a decimal number", clip(s, 20))
		}
		u.SlotID = n
	case "library-manufacturer":
		u.LibraryManufacturer = s
	case "library-description":
		u.LibraryDescription = s
	case "library-version":
		u.LibraryVersion = s
	default:
		if !strings.HasPrefix(name, "x-") {
			return fmt.Errorf("unknown path attribute %q", clip(name, 40))
		}
	}
	return nil
}

// String formats u as a pkcs11: URI, its attributes in a fixed order, every byte
// of id and every reserved byte of the other values percent-encoded. ParseURI of
// the result gives u back.
func (u *URI) String() string {
	var b strings.Builder
	b.WriteString(Scheme + ":")
	n := 0
	add := func(name, v string, isSet bool) {
		if !isSet {
			return
		}
		if n > 0 {
			b.WriteByte(';')
		}
		n++
		b.WriteString(name + "=" + escape(v, false))
	}
	add("library-manufacturer", u.LibraryManufacturer, u.LibraryManufacturer != "")
	add("library-description", u.LibraryDescription, u.LibraryDescription != "")
	add("library-version", u.LibraryVersion, u.LibraryVersion != "")
	add("slot-manufacturer", u.SlotManufacturer, u.SlotManufacturer != "")
	add("slot-description", u.SlotDescription, u.SlotDescription != "")
	add("slot-id", strconv.FormatInt(u.SlotID, 10), u.SlotID >= 0)
	add("manufacturer", u.Manufacturer, u.Manufacturer != "")
	add("model", u.Model, u.Model != "")
	add("serial", u.Serial, u.Serial != "")
	add("token", u.Token, u.Token != "")
	add("object", u.Object, u.Object != "")
	if u.ID != nil {
		if n > 0 {
			b.WriteByte(';')
		}
		n++
		b.WriteString("id=" + escapeAll(u.ID))
	}
	add("type", u.Type, u.Type != "")
	q := 0
	addQ := func(name, v string) {
		if v == "" {
			return
		}
		if q == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		q++
		b.WriteString(name + "=" + escape(v, true))
	}
	addQ("module-name", u.ModuleName)
	addQ("module-path", u.ModulePath)
	return b.String()
}

// keyURI is the canonical identifier of a key: its token's label, its label and
// its id, and nothing else.
func keyURI(token, label string, id []byte) string {
	u := URI{Token: token, Object: label, SlotID: -1}
	if len(id) > 0 {
		u.ID = id
	}
	return u.String()
}

// unescape decodes the percent-encoding of an attribute value. Bytes outside
// printable ASCII must be percent-encoded.
func unescape(s string) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("truncated percent-encoding")
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("bad percent-encoding %q", s[i:i+3])
			}
			out = append(out, hi<<4|lo)
			i += 2
		case c <= ' ' || c >= 0x7f:
			return nil, fmt.Errorf("byte %#02x must be percent-encoded", c)
		default:
			out = append(out, c)
		}
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const hexUpper = "0123456789ABCDEF"

// escape percent-encodes v for a path (query false) or query attribute value,
// keeping RFC 3986's unreserved characters and the reserved ones RFC 7512 lets
// stand in that part.
func escape(v string, query bool) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("-._~:[]@!$'()*+,=", c) >= 0 ||
			query && strings.IndexByte("/?|;", c) >= 0 || !query && c == '&' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexUpper[c>>4])
		b.WriteByte(hexUpper[c&15])
	}
	return b.String()
}

// escapeAll percent-encodes every byte of v, as ids are conventionally written.
func escapeAll(v []byte) string {
	b := make([]byte, 0, 3*len(v))
	for _, c := range v {
		b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
	}
	return string(b)
}

// noPIN refuses the attributes that carry a PIN, in the path or the query.
func noPIN(name string) error {
	if n := strings.ToLower(name); n == "pin-value" || n == "pin-source" {
		return backends.Errorf(backends.ErrInvalidArgument, "", "",
			"a pkcs11 key reference may not carry %s: give the PIN in a file or an environment variable (see Options)", n)
	}
	return nil
}

// quoteRef quotes a key reference for an error message, cut short, with any PIN
// it carries replaced.
func quoteRef(s string) string { return strconv.Quote(clip(backends.RedactKeyRef(s), 120)) }

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
