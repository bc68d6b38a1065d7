package kmsapi

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// contentType is the media type of the AWS JSON 1.1 protocol, in requests and
// answers.
const contentType = "application/x-amz-json-1.1"

// decode fills dst, a pointer to a struct whose fields carry json tags, from the
// JSON object body. Member names match exactly, as AWS matches them (encoding/json
// alone would match them case-insensitively); members dst does not have are
// ignored and null is the same as absent, as in AWS. An empty body is an empty
// object. A body that is not a JSON object, or a member of the wrong type, is a
// SerializationException. The raw bytes of every member are wiped once decoded,
// since some hold plaintext.
func decode(body []byte, dst any) error {
	if len(body) == 0 {
		return nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return newAPIError(typeSerialization, http.StatusBadRequest, "The request body must be a JSON object.")
		}
		return newAPIError(typeSerialization, http.StatusBadRequest, "The request body is not valid JSON.")
	}
	defer func() {
		for _, raw := range members {
			clear(raw)
		}
	}()
	if members == nil { // the body is the JSON literal null
		return newAPIError(typeSerialization, http.StatusBadRequest, "The request body must be a JSON object.")
	}
	v := reflect.ValueOf(dst).Elem()
	typ := v.Type()
	for i := range typ.NumField() {
		name := typ.Field(i).Tag.Get("json")
		raw, ok := members[name]
		if !ok || string(raw) == "null" {
			continue
		}
		if err := json.Unmarshal(raw, v.Field(i).Addr().Interface()); err != nil {
			return newAPIError(typeSerialization, http.StatusBadRequest, "Member '"+name+"' has the wrong type: "+wantType(typ.Field(i).Type)+".")
		}
	}
	return nil
}

// wantType names the JSON type of a request field, for messages.
func wantType(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "expected a string"
	case reflect.Bool:
		return "expected a boolean"
	case reflect.Int, reflect.Int32, reflect.Int64:
		return "expected an integer"
	case reflect.Map:
		return "expected an object of strings"
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return "expected a base64-encoded string"
		}
		return "expected an array"
	case reflect.Struct:
		return "expected an object"
	}
	return "unexpected value"
}

// epochTime is a timestamp as the AWS JSON protocol writes it: seconds since the
// Unix epoch, with milliseconds.
type epochTime time.Time

// MarshalJSON writes the timestamp as a JSON number.
func (t epochTime) MarshalJSON() ([]byte, error) {
	return strconv.AppendFloat(nil, float64(time.Time(t).UnixMilli())/1000, 'f', -1, 64), nil
}

// epoch returns t as an epochTime, or nil for the zero time.
func epoch(t time.Time) *epochTime {
	if t.IsZero() {
		return nil
	}
	e := epochTime(t)
	return &e
}

// secretJSON is a JSON object built by hand into a buffer of its own, for answers
// that carry plaintext: encoding/json would leave copies of it in its pooled
// buffers. The server wipes it once written.
type secretJSON struct {
	buf []byte
}

func (o *secretJSON) key(name string) {
	if len(o.buf) == 0 {
		o.buf = append(o.buf, '{')
	} else {
		o.buf = append(o.buf, ',')
	}
	o.buf = appendJSONString(o.buf, name)
	o.buf = append(o.buf, ':')
}

// str adds a member whose value is a string that is not secret.
func (o *secretJSON) str(name, v string) {
	o.key(name)
	o.buf = appendJSONString(o.buf, v)
}

// blob adds a member whose value is b in standard base64.
func (o *secretJSON) blob(name string, b []byte) {
	o.key(name)
	o.buf = append(o.buf, '"')
	o.buf = base64.StdEncoding.AppendEncode(o.buf, b)
	o.buf = append(o.buf, '"')
}

// bytes closes the object and returns it.
func (o *secretJSON) bytes() []byte {
	if len(o.buf) == 0 {
		o.buf = append(o.buf, '{')
	}
	return append(o.buf, '}')
}

// appendJSONString appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced.
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	b = append(b, '"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b = append(b, '\\', byte(r))
		case r < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[r>>4], hexDigits[r&15])
		case r == utf8.RuneError:
			b = append(b, `\ufffd`...)
		default:
			b = utf8.AppendRune(b, r)
		}
	}
	return append(b, '"')
}
