package kmsapi

import (
	"crypto/rand"

	"github.com/keyport/keyport/backends"
)

// The cryptographic operations: Encrypt, Decrypt, ReEncrypt, GenerateDataKey,
// GenerateDataKeyWithoutPlaintext and GenerateRandom. Plaintext that comes in is
// wiped once used; plaintext that goes out is written from a buffer of the
// server's own (secretJSON) and wiped too.

func str(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func flag(b *bool) bool { return b != nil && *b }

func algorithm(s *string) backends.Algorithm { return backends.Algorithm(str(s)) }

type encryptInput struct {
	KeyID               *string           `json:"KeyId"`
	Plaintext           []byte            `json:"Plaintext"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	DryRun              *bool             `json:"DryRun"`
}

type encryptOutput struct {
	CiphertextBlob      []byte `json:"CiphertextBlob"`
	KeyID               string `json:"KeyId"`
	EncryptionAlgorithm string `json:"EncryptionAlgorithm"`
}

func (in *encryptInput) key() *string { return in.KeyID }

func (in *encryptInput) check(v *checker) {
	v.keyID("KeyId", in.KeyID, true)
	v.blob("Plaintext", in.Plaintext, true, 1, 4096)
	v.context("EncryptionContext", in.EncryptionContext)
	v.grantTokens(in.GrantTokens)
	v.enum("EncryptionAlgorithm", in.EncryptionAlgorithm, encryptionAlgorithms)
}

func encrypt(c *call, body []byte) (any, error) {
	var in encryptInput
	defer func() { clear(in.Plaintext) }()
	if err := c.read(body, &in); err != nil {
		return nil, err
	}
	ein := &backends.EncryptInput{
		KeyID: *in.KeyID, Plaintext: in.Plaintext, EncryptionContext: in.EncryptionContext,
		GrantTokens: in.GrantTokens, EncryptionAlgorithm: algorithm(in.EncryptionAlgorithm), DryRun: flag(in.DryRun),
	}
	var out *backends.EncryptOutput
	var err error
	if k := c.external(*in.KeyID); k != nil {
		out, err = c.encryptExternal(k, ein)
	} else {
		out, err = c.client.Encrypt(c.ctx, ein)
	}
	if err != nil {
		return nil, err
	}
	return &encryptOutput{CiphertextBlob: out.CiphertextBlob, KeyID: out.KeyID, EncryptionAlgorithm: string(out.EncryptionAlgorithm.OrDefault())}, nil
}

// recipientInfo is the Recipient of Decrypt and GenerateDataKey (AWS Nitro
// Enclaves), which keyport does not support.
type recipientInfo struct {
	KeyEncryptionAlgorithm *string `json:"KeyEncryptionAlgorithm"`
	AttestationDocument    []byte  `json:"AttestationDocument"`
}

func noRecipient(r *recipientInfo) error {
	if r != nil {
		return unsupported("Recipient (attested AWS Nitro Enclaves) is not supported.")
	}
	return nil
}

type decryptInput struct {
	CiphertextBlob      []byte            `json:"CiphertextBlob"`
	EncryptionContext   map[string]string `json:"EncryptionContext"`
	GrantTokens         []string          `json:"GrantTokens"`
	KeyID               *string           `json:"KeyId"`
	EncryptionAlgorithm *string           `json:"EncryptionAlgorithm"`
	Recipient           *recipientInfo    `json:"Recipient"`
	DryRun              *bool             `json:"DryRun"`
	DryRunModifiers     []string          `json:"DryRunModifiers"`
}

// checkDryRunModifiers checks DryRunModifiers against the API's values.
func checkDryRunModifiers(v *checker, mods []string) {
	for i := range mods {
		v.enum("DryRunModifiers", &mods[i], dryRunModifiers)
	}
}

// noDryRunModifiers refuses DryRunModifiers: keyport's key service checks the
// ciphertext on every dry run, so IGNORE_CIPHERTEXT is not supported.
func noDryRunModifiers(mods []string) error {
	if len(mods) > 0 {
		return unsupported("DryRunModifiers are not supported: a dry run always checks the ciphertext.")
	}
	return nil
}

func (in *decryptInput) key() *string { return in.KeyID }

func (in *decryptInput) check(v *checker) {
	v.blob("CiphertextBlob", in.CiphertextBlob, true, 1, 6144)
	v.context("EncryptionContext", in.EncryptionContext)
	v.grantTokens(in.GrantTokens)
	v.keyID("KeyId", in.KeyID, false)
	v.enum("EncryptionAlgorithm", in.EncryptionAlgorithm, encryptionAlgorithms)
	checkDryRunModifiers(v, in.DryRunModifiers)
}

func decrypt(c *call, body []byte) (any, error) {
	var in decryptInput
	if err := c.read(body, &in); err != nil {
		return nil, err
	}
	if err := noDryRunModifiers(in.DryRunModifiers); err != nil {
		return nil, err
	}
	if err := noRecipient(in.Recipient); err != nil {
		return nil, err
	}
	din := &backends.DecryptInput{
		CiphertextBlob: in.CiphertextBlob, KeyID: str(in.KeyID), EncryptionContext: in.EncryptionContext,
		GrantTokens: in.GrantTokens, EncryptionAlgorithm: algorithm(in.EncryptionAlgorithm), DryRun: flag(in.DryRun),
	}
	k, inner, wrapped, err := c.s.unwrapExternal(in.CiphertextBlob)
	if err != nil {
		return nil, err
	}
	named := c.external(din.KeyID)
	var out *backends.DecryptOutput
	switch {
	case wrapped && din.KeyID != "" && named != k:
		return nil, backends.Errorf(backends.ErrIncorrectKey, "", din.KeyID, "the ciphertext was not encrypted under the key %s", printable(din.KeyID))
	case wrapped:
		out, err = c.decryptExternal(k, inner, din)
	case named != nil:
		out, err = c.decryptExternal(named, in.CiphertextBlob, din)
	default:
		out, err = c.client.Decrypt(c.ctx, din)
	}
	if err != nil {
		return nil, err
	}
	defer clear(out.Plaintext)
	var o secretJSON
	o.str("KeyId", out.KeyID)
	o.blob("Plaintext", out.Plaintext)
	o.str("EncryptionAlgorithm", string(out.EncryptionAlgorithm.OrDefault()))
	return &o, nil
}

type reEncryptInput struct {
	CiphertextBlob                 []byte            `json:"CiphertextBlob"`
	SourceEncryptionContext        map[string]string `json:"SourceEncryptionContext"`
	SourceKeyID                    *string           `json:"SourceKeyId"`
	DestinationKeyID               *string           `json:"DestinationKeyId"`
	DestinationEncryptionContext   map[string]string `json:"DestinationEncryptionContext"`
	SourceEncryptionAlgorithm      *string           `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm *string           `json:"DestinationEncryptionAlgorithm"`
	GrantTokens                    []string          `json:"GrantTokens"`
	DryRun                         *bool             `json:"DryRun"`
	DryRunModifiers                []string          `json:"DryRunModifiers"`
}

type reEncryptOutput struct {
	CiphertextBlob                 []byte `json:"CiphertextBlob"`
	SourceKeyID                    string `json:"SourceKeyId"`
	KeyID                          string `json:"KeyId"`
	SourceEncryptionAlgorithm      string `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm string `json:"DestinationEncryptionAlgorithm"`
}

// key is the destination key: the key the re-encrypted blob is under.
func (in *reEncryptInput) key() *string { return in.DestinationKeyID }

func (in *reEncryptInput) check(v *checker) {
	v.blob("CiphertextBlob", in.CiphertextBlob, true, 1, 6144)
	v.keyID("SourceKeyId", in.SourceKeyID, false)
	v.keyID("DestinationKeyId", in.DestinationKeyID, true)
	v.context("SourceEncryptionContext", in.SourceEncryptionContext)
	v.context("DestinationEncryptionContext", in.DestinationEncryptionContext)
	v.enum("SourceEncryptionAlgorithm", in.SourceEncryptionAlgorithm, encryptionAlgorithms)
	v.enum("DestinationEncryptionAlgorithm", in.DestinationEncryptionAlgorithm, encryptionAlgorithms)
	v.grantTokens(in.GrantTokens)
	checkDryRunModifiers(v, in.DryRunModifiers)
}

func reEncrypt(c *call, body []byte) (any, error) {
	var in reEncryptInput
	if err := c.read(body, &in); err != nil {
		return nil, err
	}
	if err := noDryRunModifiers(in.DryRunModifiers); err != nil {
		return nil, err
	}
	rin := &backends.ReEncryptInput{
		CiphertextBlob: in.CiphertextBlob, SourceEncryptionContext: in.SourceEncryptionContext, SourceKeyID: str(in.SourceKeyID),
		SourceEncryptionAlgorithm: algorithm(in.SourceEncryptionAlgorithm), DestinationKeyID: *in.DestinationKeyID,
		DestinationEncryptionContext: in.DestinationEncryptionContext, DestinationEncryptionAlgorithm: algorithm(in.DestinationEncryptionAlgorithm),
		GrantTokens: in.GrantTokens, DryRun: flag(in.DryRun),
	}
	out, external, err := c.reEncryptExternal(rin)
	if !external {
		out, err = c.client.ReEncrypt(c.ctx, rin)
	}
	if err != nil {
		return nil, err
	}
	return &reEncryptOutput{
		CiphertextBlob: out.CiphertextBlob, SourceKeyID: out.SourceKeyID, KeyID: out.KeyID,
		SourceEncryptionAlgorithm:      string(out.SourceEncryptionAlgorithm.OrDefault()),
		DestinationEncryptionAlgorithm: string(out.DestinationEncryptionAlgorithm.OrDefault()),
	}, nil
}

type generateDataKeyInput struct {
	KeyID             *string           `json:"KeyId"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	NumberOfBytes     *int64            `json:"NumberOfBytes"`
	KeySpec           *string           `json:"KeySpec"`
	GrantTokens       []string          `json:"GrantTokens"`
	Recipient         *recipientInfo    `json:"Recipient"`
	DryRun            *bool             `json:"DryRun"`
}

type generateDataKeyWithoutPlaintextOutput struct {
	CiphertextBlob []byte `json:"CiphertextBlob"`
	KeyID          string `json:"KeyId"`
}

func (in *generateDataKeyInput) key() *string { return in.KeyID }

func (in *generateDataKeyInput) check(v *checker) {
	v.keyID("KeyId", in.KeyID, true)
	v.intRange("NumberOfBytes", in.NumberOfBytes, 1, 1024)
	v.enum("KeySpec", in.KeySpec, dataKeySpecs)
	v.context("EncryptionContext", in.EncryptionContext)
	v.grantTokens(in.GrantTokens)
}

// generateDataKey serves GenerateDataKey and, without plaintext,
// GenerateDataKeyWithoutPlaintext.
func generateDataKey(withPlaintext bool) operation {
	return func(c *call, body []byte) (any, error) {
		var in generateDataKeyInput
		if err := c.read(body, &in); err != nil {
			return nil, err
		}
		if !withPlaintext && in.Recipient != nil {
			in.Recipient = nil // not a member of GenerateDataKeyWithoutPlaintext: ignored
		}
		if err := noRecipient(in.Recipient); err != nil {
			return nil, err
		}
		var n int
		switch {
		case in.KeySpec != nil && in.NumberOfBytes != nil:
			return nil, newAPIError(typeValidation, 400, "Please specify either KeySpec or NumberOfBytes, not both.")
		case in.KeySpec != nil && *in.KeySpec == "AES_128":
			n = 16
		case in.KeySpec != nil:
			n = 32
		case in.NumberOfBytes != nil:
			n = int(*in.NumberOfBytes)
		default:
			return nil, newAPIError(typeValidation, 400, "Please specify either KeySpec or NumberOfBytes.")
		}
		gin := &backends.GenerateDataKeyInput{KeyID: *in.KeyID, NumberOfBytes: n, EncryptionContext: in.EncryptionContext,
			GrantTokens: in.GrantTokens, DryRun: flag(in.DryRun)}
		var out *backends.GenerateDataKeyOutput
		var err error
		switch k := c.external(*in.KeyID); {
		case k != nil:
			out, err = c.generateExternal(k, gin, withPlaintext)
		case withPlaintext:
			out, err = c.client.GenerateDataKey(c.ctx, gin)
		default:
			out, err = c.client.GenerateDataKeyWithoutPlaintext(c.ctx, gin)
		}
		if err != nil {
			return nil, err
		}
		if !withPlaintext {
			clear(out.Plaintext)
			return &generateDataKeyWithoutPlaintextOutput{CiphertextBlob: out.CiphertextBlob, KeyID: out.KeyID}, nil
		}
		defer clear(out.Plaintext)
		var o secretJSON
		o.blob("CiphertextBlob", out.CiphertextBlob)
		o.blob("Plaintext", out.Plaintext)
		o.str("KeyId", out.KeyID)
		return &o, nil
	}
}

type generateRandomInput struct {
	NumberOfBytes    *int64         `json:"NumberOfBytes"`
	CustomKeyStoreID *string        `json:"CustomKeyStoreId"`
	Recipient        *recipientInfo `json:"Recipient"`
}

func (in *generateRandomInput) key() *string { return nil }

func (in *generateRandomInput) check(v *checker) {
	v.required("NumberOfBytes", in.NumberOfBytes != nil)
	v.intRange("NumberOfBytes", in.NumberOfBytes, 1, 1024)
	v.str("CustomKeyStoreId", in.CustomKeyStoreID, 1, 64, true)
}

func generateRandom(c *call, body []byte) (any, error) {
	var in generateRandomInput
	if err := c.read(body, &in); err != nil {
		return nil, err
	}
	if in.CustomKeyStoreID != nil {
		return nil, noCustomKeyStore(*in.CustomKeyStoreID)
	}
	if err := noRecipient(in.Recipient); err != nil {
		return nil, err
	}
	b := make([]byte, *in.NumberOfBytes)
	defer clear(b)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	var o secretJSON
	o.blob("Plaintext", b)
	return &o, nil
}

func noCustomKeyStore(id string) error {
	return newAPIError(typeCustomKeyStoreNF, 400, "Custom key store '"+printable(id)+"' does not exist: keyport has no custom key stores.")
}
