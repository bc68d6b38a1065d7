// Package token makes and checks the grant tokens and list markers of
// backends/local.
//
// A grant token is base64url (no padding) of: version byte 1, the 32 bytes of the
// grant ID, and HMAC-SHA256(service secret, version || grant ID). A token that does
// not check out under the service's secret is malformed; a token that does names a
// grant the service made, which may since have been retired.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"sort"
)

const (
	version = 1
	idSize  = 32
	macSize = sha256.Size
	// MaxLen is the longest grant token accepted (the AWS limit).
	MaxLen = 8192
)

// ErrInvalid is the error of Check for a token this service did not make.
var ErrInvalid = errors.New("invalid grant token")

func mac(secret, msg []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(msg)
	return m.Sum(nil)
}

// Make returns the grant token of the grant with ID grantID (64 hex digits).
func Make(secret []byte, grantID string) (string, error) {
	id, err := hex.DecodeString(grantID)
	if err != nil || len(id) != idSize {
		return "", errors.New("grant ID must be 64 hex digits")
	}
	b := append([]byte{version}, id...)
	b = append(b, mac(secret, b)...)
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Check returns the grant ID of a token this service made, or ErrInvalid.
func Check(secret []byte, tok string) (string, error) {
	if len(tok) > MaxLen {
		return "", ErrInvalid
	}
	b, err := decodeCanonical(tok)
	if err != nil || len(b) != 1+idSize+macSize || b[0] != version {
		return "", ErrInvalid
	}
	if !hmac.Equal(b[1+idSize:], mac(secret, b[:1+idSize])) {
		return "", ErrInvalid
	}
	return hex.EncodeToString(b[1 : 1+idSize]), nil
}

// decodeCanonical decodes s as unpadded base64url and accepts it only in the one
// spelling EncodeToString gives: the decoder alone would also take line breaks
// anywhere and non-zero trailing bits, so one token would have many spellings.
func decodeCanonical(s string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if base64.RawURLEncoding.EncodeToString(b) != s {
		return nil, errors.New("not canonical base64url")
	}
	return b, nil
}

// ErrBadMarker is the error of Page for a marker it did not make.
var ErrBadMarker = errors.New("invalid marker")

// Page sorts names and returns the page of at most limit names after marker, and
// the marker of the next page ("" for the last page).
func Page(names []string, limit int, marker string) (page []string, next string, err error) {
	sort.Strings(names)
	start := 0
	if marker != "" {
		m, derr := decodeCanonical(marker)
		if derr != nil || len(m) == 0 {
			return nil, "", ErrBadMarker
		}
		start = sort.SearchStrings(names, string(m))
		if start < len(names) && names[start] == string(m) {
			start++
		}
	}
	end := min(start+limit, len(names))
	page = names[start:end]
	if end < len(names) && len(page) > 0 {
		next = base64.RawURLEncoding.EncodeToString([]byte(page[len(page)-1]))
	}
	return page, next, nil
}
