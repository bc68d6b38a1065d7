package keyring

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // registers SHA-1 for OAEP-SHA1
	_ "crypto/sha256"
	_ "crypto/sha512"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
)

// RSAPadding is the padding scheme of a raw RSA keyring.
type RSAPadding int

// Padding schemes of the ESDK's raw RSA keyring. OAEP uses MGF1 with the same
// hash as OAEP and an empty label.
const (
	PKCS1      RSAPadding = iota + 1 // RSAES-PKCS1-v1_5
	OAEPSHA1                         // RSAES-OAEP, SHA-1, MGF1-SHA-1
	OAEPSHA256                       // RSAES-OAEP, SHA-256, MGF1-SHA-256
	OAEPSHA384                       // RSAES-OAEP, SHA-384, MGF1-SHA-384
	OAEPSHA512                       // RSAES-OAEP, SHA-512, MGF1-SHA-512
)

func (p RSAPadding) hash() crypto.Hash {
	switch p {
	case OAEPSHA1:
		return crypto.SHA1
	case OAEPSHA256:
		return crypto.SHA256
	case OAEPSHA384:
		return crypto.SHA384
	case OAEPSHA512:
		return crypto.SHA512
	}
	return 0
}

// RawRSA is the ESDK's raw RSA keyring: it wraps data keys with an RSA public key
// and unwraps them with the private key. Encrypted data keys carry the key
// namespace as provider ID, the key name as provider info, and the RSA ciphertext.
// The encryption context is not bound to the wrapped key (as in the ESDK; the
// header authentication binds it).
type RawRSA struct {
	namespace, name string
	pub             *rsa.PublicKey
	priv            *rsa.PrivateKey
	padding         RSAPadding
}

var _ envelope.Keyring = (*RawRSA)(nil)

// NewRawRSA returns a raw RSA keyring named namespace/name. pub is needed to
// encrypt and priv to decrypt; either may be nil (pub defaults to priv's public
// key).
func NewRawRSA(namespace, name string, pub *rsa.PublicKey, priv *rsa.PrivateKey, padding RSAPadding) (*RawRSA, error) {
	if err := checkRawNames(namespace, name); err != nil {
		return nil, err
	}
	if padding < PKCS1 || padding > OAEPSHA512 {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "NewRawRSA", name, "unknown padding %d", padding)
	}
	if pub == nil && priv != nil {
		pub = &priv.PublicKey
	}
	if pub == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "NewRawRSA", name, "no RSA key")
	}
	return &RawRSA{namespace: namespace, name: name, pub: pub, priv: priv, padding: padding}, nil
}

// OnEncrypt makes the data key if m has none and appends it wrapped under the
// public key.
func (k *RawRSA) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	if err := backends.ContextError(ctx, "OnEncrypt", k.name); err != nil {
		return err
	}
	if err := newDataKey(m, "OnEncrypt", k.name); err != nil {
		return err
	}
	var (
		ct  []byte
		err error
	)
	if k.padding == PKCS1 {
		//lint:ignore SA1019 PKCS #1 v1.5 is one of the ESDK's raw RSA paddings; interoperability needs it.
		ct, err = rsa.EncryptPKCS1v15(rand.Reader, k.pub, m.PlaintextDataKey)
	} else {
		ct, err = rsa.EncryptOAEP(k.padding.hash().New(), rand.Reader, k.pub, m.PlaintextDataKey, nil)
	}
	if err != nil {
		return backends.Wrap(backends.ErrInvalidKeyUsage, "OnEncrypt", k.name, err)
	}
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, envelope.EncryptedDataKey{
		ProviderID: k.namespace, ProviderInfo: []byte(k.name), Ciphertext: ct,
	})
	return nil
}

// OnDecrypt unwraps the first encrypted data key of edks that is for this keyring
// and that the private key opens. When none can be unwrapped it returns an error
// matching backends.ErrIncorrectKey.
func (k *RawRSA) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	if m.PlaintextDataKey != nil {
		return nil
	}
	if err := backends.ContextError(ctx, "OnDecrypt", k.name); err != nil {
		return err
	}
	if k.priv == nil {
		return backends.Errorf(backends.ErrInvalidKeyUsage, "OnDecrypt", k.name, "keyring has no private key")
	}
	n := m.Suite.DataKeyLen()
	if n == 0 {
		return backends.Errorf(backends.ErrInvalidArgument, "OnDecrypt", k.name, "unknown algorithm suite %04X", uint16(m.Suite))
	}
	tried := 0
	for _, edk := range edks {
		if edk.ProviderID != k.namespace || string(edk.ProviderInfo) != k.name {
			continue
		}
		tried++
		var (
			dk  []byte
			err error
		)
		if k.padding == PKCS1 {
			//lint:ignore SA1019 PKCS #1 v1.5 is one of the ESDK's raw RSA paddings; interoperability needs it.
			dk, err = rsa.DecryptPKCS1v15(nil, k.priv, edk.Ciphertext)
		} else {
			dk, err = rsa.DecryptOAEP(k.padding.hash().New(), nil, k.priv, edk.Ciphertext, nil)
		}
		if err != nil {
			continue
		}
		if len(dk) != n {
			clear(dk)
			continue
		}
		m.PlaintextDataKey = dk
		return nil
	}
	return rawNoKey(k.namespace, k.name, tried)
}
