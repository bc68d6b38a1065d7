package local

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/keyport/keyport/backends"
)

// RootKeySize is the length of a root key in bytes.
const RootKeySize = 32

// rootKeyAdvice says what a refused root key should be replaced with.
const rootKeyAdvice = "a root key is 32 random bytes written in standard base64 (44 characters) or hex (64 characters); make one with `head -c 32 /dev/urandom | base64`"

// ErrInvalidRootKey matches every refused root key (errors.Is); the error is a
// *RootKeyError inside a *backends.Error of kind backends.ErrInvalidArgument.
var ErrInvalidRootKey = errors.New("invalid root key")

// RootKeyError says which root key was refused and why. Its message names the
// source (the environment variable, the key file, or the option) and says what a
// root key must be; a command-line tool that takes the key from a flag can
// print Reason with its own flag name.
type RootKeyError struct {
	// Source names where the key came from: "environment variable
	// KEYPORT_LOCAL_ROOT_KEY", "root key file PATH", "WithRootKey".
	Source string
	// Reason says what is wrong with it ("is 31 bytes, not 32").
	Reason string
}

func (e *RootKeyError) Error() string {
	return e.Source + " " + e.Reason + "; " + rootKeyAdvice
}

// Is makes a *RootKeyError match ErrInvalidRootKey.
func (e *RootKeyError) Is(target error) bool { return target == ErrInvalidRootKey }

// GenerateRootKey returns a fresh root key from crypto/rand in the text form that
// ParseRootKey, root key files and the KEYPORT_LOCAL_ROOT_KEY environment variable
// take: standard base64 of 32 bytes.
func GenerateRootKey() (string, error) {
	b := make([]byte, RootKeySize)
	defer clear(b)
	if _, err := rand.Read(b); err != nil {
		return "", backends.Errorf(backends.ErrInternal, "GenerateRootKey", "", "crypto/rand: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// ParseRootKey decodes a root key from its text form: 32 bytes in standard base64
// (44 characters) or hex (64 characters); surrounding white space is ignored. It
// refuses anything else, raw text and a wrong length included, and keys that
// cannot be random: 32 equal bytes, or 32 bytes that are all printable ASCII (a
// password encoded, not a key). The error matches ErrInvalidRootKey and
// backends.ErrInvalidArgument. The caller owns the key and should wipe it.
func ParseRootKey(text string) ([]byte, error) {
	return parseRootKey("root key", text)
}

func parseRootKey(source, text string) ([]byte, error) {
	t := strings.TrimSpace(text)
	var key []byte
	var err error
	switch {
	case t == "":
		return nil, rootKeyError(source, "is empty")
	case len(t) == 2*RootKeySize && isHex(t):
		key, err = hex.DecodeString(t)
	default:
		key, err = base64.StdEncoding.Strict().DecodeString(t)
	}
	if err != nil {
		return nil, rootKeyError(source, fmt.Sprintf("is neither base64 nor hex (%d characters; raw text is not accepted)", len(t)))
	}
	if err := checkRootKey(source, key); err != nil {
		clear(key)
		return nil, err
	}
	return key, nil
}

// checkRootKey refuses decoded keys of the wrong length and keys that cannot be
// random.
func checkRootKey(source string, key []byte) error {
	if len(key) != RootKeySize {
		return rootKeyError(source, fmt.Sprintf("is %d bytes, not %d", len(key), RootKeySize))
	}
	equal, printable := true, true
	for _, b := range key {
		equal = equal && b == key[0]
		printable = printable && b >= 0x20 && b < 0x7f
	}
	switch {
	case equal:
		return rootKeyError(source, "is 32 equal bytes, not a random key")
	case printable:
		// 32 random bytes are all printable with a chance of about 1e-14.
		return rootKeyError(source, "decodes to printable text, not random bytes (an encoded password?)")
	}
	return nil
}

func isHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return true
}

func rootKeyError(source, reason string) error {
	return backends.Wrap(backends.ErrInvalidArgument, "Open", "", &RootKeyError{Source: source, Reason: reason})
}

// ReadRootKeyFile reads a root key file: the text form of a root key (see
// ParseRootKey). It refuses a file that group or others may read or write (make
// it 0600), and a file over 1 KiB. The caller owns the key and should wipe it.
func ReadRootKeyFile(path string) ([]byte, error) {
	source := "root key file " + path
	f, err := os.Open(path)
	if err != nil {
		return nil, rootKeyError(source, fmt.Sprintf("cannot be read (%v)", err))
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, rootKeyError(source, fmt.Sprintf("cannot be read (%v)", err))
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, backends.Wrap(backends.ErrInvalidArgument, "Open", "", &RootKeyError{Source: source,
			Reason: fmt.Sprintf("may be read or written by group or others (mode %04o): run chmod 600 %s", perm, path)})
	}
	buf, err := io.ReadAll(io.LimitReader(f, 1025))
	defer clear(buf)
	if err != nil {
		return nil, rootKeyError(source, fmt.Sprintf("cannot be read (%v)", err))
	}
	if len(buf) > 1024 {
		return nil, rootKeyError(source, "is over 1 KiB")
	}
	return parseRootKey(source, string(buf))
}

// rootKeyFromConfig returns the root key the options or the environment give:
// WithRootKey, else WithRootKeyFile, else KEYPORT_LOCAL_ROOT_KEY.
func rootKeyFromConfig(c *config) ([]byte, error) {
	switch {
	case c.rootKey != nil:
		if err := checkRootKey("WithRootKey's key", c.rootKey); err != nil {
			return nil, err
		}
		return append([]byte(nil), c.rootKey...), nil
	case c.rootKeyFile != "":
		return ReadRootKeyFile(c.rootKeyFile)
	}
	v, ok := os.LookupEnv(RootKeyEnv)
	if !ok || v == "" {
		return nil, rootKeyError("environment variable "+RootKeyEnv, "is not set (and no root key file was given)")
	}
	return parseRootKey("environment variable "+RootKeyEnv, v)
}

// legacyKey decodes a version 1 root key given as its standard base64 text.
func legacyKey(text []byte) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(text)))
	if err != nil || len(k) != RootKeySize {
		clear(k)
		return nil, errors.New("the legacy root key is neither 32 raw bytes nor their base64")
	}
	return k, nil
}
