package kmsapi

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/keyport/keyport/backends"
)

// checker collects the violations of a request's constraints and reports them as
// AWS does: "2 validation errors detected: Value null at 'keyId' failed to satisfy
// constraint: Member must not be null; Value ...". Members are named as AWS names
// them (the JSON name with its first letter in lower case). Values are quoted for
// identifiers and numbers only: never for blobs, grant tokens or policies.
type checker struct {
	errs []string
}

// member returns the name AWS gives member in its messages.
func member(name string) string {
	if name == "" {
		return name
	}
	return strings.ToLower(name[:1]) + name[1:]
}

func (c *checker) add(value, name, constraint string) {
	c.errs = append(c.errs, "Value "+value+"at '"+member(name)+"' failed to satisfy constraint: "+constraint)
}

// quoted returns s as AWS quotes a value, cut to 256 characters.
func quoted(s string) string {
	if utf8.RuneCountInString(s) > 256 {
		r := []rune(s)
		s = string(r[:256]) + "..."
	}
	return "'" + s + "' "
}

// required records a missing member.
func (c *checker) required(name string, present bool) bool {
	if !present {
		c.add("null ", name, "Member must not be null")
	}
	return present
}

// str checks the length (in characters) of an optional string; show says whether
// its value may be quoted.
func (c *checker) str(name string, s *string, min, max int, show bool) {
	if s == nil {
		return
	}
	n := utf8.RuneCountInString(*s)
	v := ""
	if show {
		v = quoted(*s)
	}
	switch {
	case n < min:
		c.add(v, name, "Member must have length greater than or equal to "+strconv.Itoa(min))
	case n > max:
		c.add(v, name, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
}

// keyID checks a key identifier (1 to 2048 characters).
func (c *checker) keyID(name string, s *string, required bool) {
	if required && !c.required(name, s != nil) {
		return
	}
	c.str(name, s, 1, 2048, true)
}

// pattern checks an optional string against re.
func (c *checker) pattern(name string, s *string, re *regexp.Regexp, show bool) {
	if s == nil || re.MatchString(*s) {
		return
	}
	v := ""
	if show {
		v = quoted(*s)
	}
	c.add(v, name, "Member must satisfy regular expression pattern: "+re.String())
}

// enum checks that an optional string is one of values.
func (c *checker) enum(name string, s *string, values []string) {
	if s == nil {
		return
	}
	for _, v := range values {
		if *s == v {
			return
		}
	}
	c.add(quoted(*s), name, "Member must satisfy enum value set: ["+strings.Join(values, ", ")+"]")
}

// blob checks the length of a binary member; its value is never shown.
func (c *checker) blob(name string, b []byte, required bool, min, max int) {
	if b == nil {
		if required {
			c.required(name, false)
		}
		return
	}
	switch {
	case len(b) < min:
		c.add("", name, "Member must have length greater than or equal to "+strconv.Itoa(min))
	case len(b) > max:
		c.add("", name, "Member must have length less than or equal to "+strconv.Itoa(max))
	}
}

// intRange checks an optional integer.
func (c *checker) intRange(name string, n *int64, min, max int64) {
	if n == nil {
		return
	}
	v := quoted(strconv.FormatInt(*n, 10))
	switch {
	case *n < min:
		c.add(v, name, "Member must have value greater than or equal to "+strconv.FormatInt(min, 10))
	case *n > max:
		c.add(v, name, "Member must have value less than or equal to "+strconv.FormatInt(max, 10))
	}
}

// grantTokens checks a GrantTokens list: at most 10 tokens of 1 to 8192
// characters. Tokens are secrets: never shown.
func (c *checker) grantTokens(tokens []string) {
	if len(tokens) > 10 {
		c.add("", "GrantTokens", "Member must have length less than or equal to 10")
	}
	for i, t := range tokens {
		c.str(fmt.Sprintf("GrantTokens.%d.member", i+1), &t, 1, 8192, false)
	}
}

// context checks an encryption context: at most
// backends.MaxEncryptionContextBytes bytes of keys and values (AWS's limit).
func (c *checker) context(name string, ec map[string]string) {
	n := 0
	for k, v := range ec {
		n += len(k) + len(v)
	}
	if n > backends.MaxEncryptionContextBytes {
		c.add("", name, "Member must have at most "+strconv.Itoa(backends.MaxEncryptionContextBytes)+" bytes of keys and values")
	}
}

// err returns the ValidationException of the violations, or nil.
func (c *checker) err() error {
	switch len(c.errs) {
	case 0:
		return nil
	case 1:
		return newAPIError(typeValidation, http.StatusBadRequest, "1 validation error detected: "+c.errs[0])
	}
	return newAPIError(typeValidation, http.StatusBadRequest, strconv.Itoa(len(c.errs))+" validation errors detected: "+strings.Join(c.errs, "; "))
}

// Constraints of the KMS API model.
var (
	aliasNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)
	principalPattern  = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
	grantNamePattern  = regexp.MustCompile(`^[a-zA-Z0-9:/_-]+$`)
	policyNamePattern = regexp.MustCompile(`^[\w]+$`)
	markerPattern     = regexp.MustCompile(`^[\x{0020}-\x{00FF}]*$`)
	policyPattern     = regexp.MustCompile(`^[\x{0009}\x{000A}\x{000D}\x{0020}-\x{00FF}]+$`)

	encryptionAlgorithms = []string{"SYMMETRIC_DEFAULT", "RSAES_OAEP_SHA_1", "RSAES_OAEP_SHA_256", "SM2PKE"}
	keyUsages            = []string{"SIGN_VERIFY", "ENCRYPT_DECRYPT", "GENERATE_VERIFY_MAC", "KEY_AGREEMENT"}
	keySpecs             = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2",
		"ML_DSA_44", "ML_DSA_65", "ML_DSA_87", "ECC_NIST_EDWARDS25519"}
	customerMasterKeySpecs = []string{"RSA_2048", "RSA_3072", "RSA_4096", "ECC_NIST_P256", "ECC_NIST_P384", "ECC_NIST_P521",
		"ECC_SECG_P256K1", "SYMMETRIC_DEFAULT", "HMAC_224", "HMAC_256", "HMAC_384", "HMAC_512", "SM2"}
	origins         = []string{"AWS_KMS", "EXTERNAL", "AWS_CLOUDHSM", "EXTERNAL_KEY_STORE"}
	dataKeySpecs    = []string{"AES_256", "AES_128"}
	grantOps        = []string{"Decrypt", "Encrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext", "ReEncryptFrom", "ReEncryptTo", "Sign", "Verify", "GetPublicKey", "CreateGrant", "RetireGrant", "DescribeKey", "GenerateDataKeyPair", "GenerateDataKeyPairWithoutPlaintext", "GenerateMac", "VerifyMac", "DeriveSharedSecret"}
	dryRunModifiers = []string{"IGNORE_CIPHERTEXT"}
)

// request is the input of an operation: it names the key the request is about
// (for the access log, and to refuse an external key where its operation does
// not apply) and checks its members against the API's constraints.
type request interface {
	key() *string
	check(v *checker)
}

// read decodes body into in, notes in's key as the request's, and checks in: a
// SerializationException or ValidationException, or nil.
func (c *call) read(body []byte, in request) error {
	if err := decode(body, in); err != nil {
		return err
	}
	c.keyID = str(in.key())
	var v checker
	in.check(&v)
	return v.err()
}

// readAdmin reads in as [call.read] does for the administrative operation op,
// and refuses an external key, whose lifecycle is its provider's.
func (c *call) readAdmin(op string, body []byte, in request) error {
	if err := c.read(body, in); err != nil {
		return err
	}
	return c.notForExternal(op, str(in.key()))
}
