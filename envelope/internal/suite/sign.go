package suite

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"hash"
)

// Signer hashes a message as it is written and signs it at the end.
type Signer struct {
	key *ecdsa.PrivateKey
	h   hash.Hash
}

// NewSigner makes a fresh signing key for a signed suite and returns the signer
// and the base64 of the compressed public point, the value of the
// "aws-crypto-public-key" encryption context entry.
func NewSigner(s *Suite) (*Signer, string, error) {
	if !s.Signed() {
		return nil, "", errors.New("suite does not sign")
	}
	key, err := ecdsa.GenerateKey(s.Curve, rand.Reader)
	if err != nil {
		return nil, "", err
	}
	pub, err := key.PublicKey.Bytes()
	if err != nil {
		return nil, "", err
	}
	return &Signer{key: key, h: s.SigHash.New()}, base64.StdEncoding.EncodeToString(compress(pub)), nil
}

// compress turns an uncompressed point 04||X||Y into 02/03||X.
func compress(p []byte) []byte {
	n := (len(p) - 1) / 2
	out := make([]byte, 1+n)
	out[0] = 2 | p[len(p)-1]&1
	copy(out[1:], p[1:1+n])
	return out
}

// Write adds message bytes to the hash. It never fails.
func (s *Signer) Write(p []byte) (int, error) { return s.h.Write(p) }

// Sign returns the DER-encoded ECDSA signature over the bytes written.
func (s *Signer) Sign() ([]byte, error) {
	return ecdsa.SignASN1(rand.Reader, s.key, s.h.Sum(nil))
}

// Verifier hashes a message as it is read and checks its signature at the end.
type Verifier struct {
	pub *ecdsa.PublicKey
	h   hash.Hash
}

// NewVerifier parses the base64 compressed public point of a signed suite's
// "aws-crypto-public-key" encryption context entry.
func NewVerifier(s *Suite, pubB64 string) (*Verifier, error) {
	if !s.Signed() {
		return nil, errors.New("suite does not sign")
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(pubB64)
	if err != nil {
		return nil, errors.New("public key is not valid base64")
	}
	x, y := elliptic.UnmarshalCompressed(s.Curve, raw)
	if x == nil {
		return nil, errors.New("public key is not a compressed point on the suite's curve")
	}
	n := (s.Curve.Params().BitSize + 7) / 8
	u := make([]byte, 1+2*n)
	u[0] = 4
	x.FillBytes(u[1 : 1+n])
	y.FillBytes(u[1+n:])
	pub, err := ecdsa.ParseUncompressedPublicKey(s.Curve, u)
	if err != nil {
		return nil, err
	}
	return &Verifier{pub: pub, h: s.SigHash.New()}, nil
}

// Write adds message bytes to the hash. It never fails.
func (v *Verifier) Write(p []byte) (int, error) { return v.h.Write(p) }

// Verify checks the DER-encoded signature over the bytes written.
func (v *Verifier) Verify(sig []byte) bool {
	return ecdsa.VerifyASN1(v.pub, v.h.Sum(nil), sig)
}
