package pkcs11

import (
	"os"

	"github.com/keyport/keyport/backends"
)

// Environment variables that Open reads when Options leave a setting empty.
const (
	// EnvModule names the PKCS#11 library (a path to a .so, .dylib or .dll).
	EnvModule = "KEYPORT_PKCS11_MODULE"
	// EnvPINFile names a file whose content is the user PIN.
	EnvPINFile = "KEYPORT_PKCS11_PIN_FILE"
	// EnvPIN holds the user PIN itself.
	EnvPIN = "KEYPORT_PKCS11_PIN"
)

// DefaultMaxSessions is how many sessions a Backend opens on its token at most
// when Options.MaxSessions is 0.
const DefaultMaxSessions = 8

// Options configures Open.
type Options struct {
	// Module is the path of the PKCS#11 library; empty means the value of
	// KEYPORT_PKCS11_MODULE.
	Module string
	// Token and Serial select the token by label and by serial number. Empty
	// both means the one initialised token the library has (an error if it has
	// several).
	Token, Serial string
	// PINFile is a file whose content, less a trailing newline, is the user PIN;
	// PINEnv the name of an environment variable that holds it. When both are
	// empty, Open reads the file named by KEYPORT_PKCS11_PIN_FILE, else the
	// variable KEYPORT_PKCS11_PIN. A PIN is never taken from a key reference.
	// A token that does not require a login needs none.
	PINFile, PINEnv string
	// MaxSessions bounds the sessions the Backend holds open on the token, and so
	// the calls to it that run at once; 0 means DefaultMaxSessions.
	MaxSessions int
}

func (o Options) module() string {
	if o.Module != "" {
		return o.Module
	}
	return os.Getenv(EnvModule)
}

// KeySpec names the kind of key CreateKey makes, as AWS KMS names key specs.
type KeySpec string

// Key specs.
const (
	AES256  KeySpec = "AES_256"  // an AES-256 secret key, for CKM_AES_GCM
	RSA2048 KeySpec = "RSA_2048" // an RSA key pair, for CKM_RSA_PKCS_OAEP
	RSA3072 KeySpec = "RSA_3072"
	RSA4096 KeySpec = "RSA_4096"
)

// CreateKeyInput says what key CreateKey makes.
type CreateKeyInput struct {
	// Label is the key's CKA_LABEL; required, and no other key on the token may
	// have it.
	Label string
	// ID is the key's CKA_ID; nil means 16 random bytes. No other key on the
	// token may have it.
	ID []byte
	// Spec is the kind of key; empty means AES256.
	Spec KeySpec
}

// KeyInfo describes a key on a token: what DescribeKey reports, and the PKCS#11
// attributes that backends.KeyMetadata has no field for.
type KeyInfo struct {
	// URI is the key's canonical identifier (token, object and id), which every
	// output names.
	URI string
	// Token is the label of the token that holds the key.
	Token string
	// Label and ID are the key's CKA_LABEL and CKA_ID.
	Label string
	ID    []byte
	// Spec is the key's kind: AES256, RSA2048, ..., or a description of a kind
	// the backend does not use ("AES_128", "EC", ...).
	Spec KeySpec
	// Extractable and Sensitive are CKA_EXTRACTABLE and CKA_SENSITIVE (of the
	// private key, for a key pair).
	Extractable, Sensitive bool
	// Encrypt and Decrypt are CKA_ENCRYPT (of the public key, for a pair) and
	// CKA_DECRYPT (of the secret or private key).
	Encrypt, Decrypt bool
}

// rsaBits returns the modulus length of an RSA spec, or 0.
func (s KeySpec) rsaBits() int {
	switch s {
	case RSA2048:
		return 2048
	case RSA3072:
		return 3072
	case RSA4096:
		return 4096
	}
	return 0
}

// usable returns nil when the key can serve op (Encrypt needs both directions,
// so that nothing is encrypted that the key cannot decrypt), and otherwise an
// error matching backends.ErrInvalidKeyUsage that says why.
func (k *KeyInfo) usable(op string) error {
	refuse := func(format string, args ...any) error {
		return backends.Errorf(backends.ErrInvalidKeyUsage, op, k.URI, format, args...)
	}
	switch {
	case k.Spec != AES256 && k.Spec.rsaBits() == 0:
		return refuse("a %s key is not one keyport uses (AES_256, RSA_2048, RSA_3072, RSA_4096)", k.Spec)
	case k.Extractable:
		return refuse("the key is extractable (CKA_EXTRACTABLE): keyport uses only keys that cannot leave the token")
	case !k.Sensitive:
		return refuse("the key is not sensitive (CKA_SENSITIVE): keyport uses only keys whose value the token never reveals")
	case !k.Decrypt:
		return refuse("the key may not decrypt (CKA_DECRYPT is false)")
	case op != "Decrypt" && !k.Encrypt:
		return refuse("the key may not encrypt (CKA_ENCRYPT is false)")
	}
	return nil
}

// Usable returns nil when keyport can encrypt and decrypt with the key, and
// otherwise an error matching [backends.ErrInvalidKeyUsage] that says why (a
// kind of key keyport does not use, an extractable or non-sensitive key, a
// usage the key lacks).
func (k *KeyInfo) Usable() error { return k.usable("Encrypt") }
