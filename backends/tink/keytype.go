package tink

import (
	"encoding/binary"
	"strings"

	"github.com/tink-crypto/tink-go/v2/aead"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
)

// KeyType names a Tink AEAD key template, spelled as Tink's tinkey tool names it.
type KeyType string

// The key types keyport creates keys of. The zero value means AES256GCM.
const (
	AES128GCM         KeyType = "AES128_GCM"
	AES256GCM         KeyType = "AES256_GCM"
	AES128GCMSIV      KeyType = "AES128_GCM_SIV"
	AES256GCMSIV      KeyType = "AES256_GCM_SIV"
	XChaCha20Poly1305 KeyType = "XCHACHA20_POLY1305"
)

// template returns the Tink key template of t, with Tink's output prefix (the
// prefix names the key in every ciphertext), and false for an unknown type.
func (t KeyType) template() (*tinkpb.KeyTemplate, bool) {
	switch t {
	case AES128GCM:
		return aead.AES128GCMKeyTemplate(), true
	case AES256GCM, "":
		return aead.AES256GCMKeyTemplate(), true
	case AES128GCMSIV:
		return aead.AES128GCMSIVKeyTemplate(), true
	case AES256GCMSIV:
		return aead.AES256GCMSIVKeyTemplate(), true
	case XChaCha20Poly1305:
		return aead.XChaCha20Poly1305KeyTemplate(), true
	}
	return nil, false
}

// Tink's type URLs of the AEAD key types a keyset may hold.
const (
	typeAESGCM            = "type.googleapis.com/google.crypto.tink.AesGcmKey"
	typeAESGCMSIV         = "type.googleapis.com/google.crypto.tink.AesGcmSivKey"
	typeXChaCha20Poly1305 = "type.googleapis.com/google.crypto.tink.XChaCha20Poly1305Key"
)

// supportedType reports whether a keyset may hold keys of typeURL. Only local
// AEAD key types are taken: a KMS envelope key in a keyset would call out to a
// KMS with no context.Context and no error mapping.
func supportedType(typeURL string) bool {
	switch typeURL {
	case typeAESGCM, typeAESGCMSIV, typeXChaCha20Poly1305:
		return true
	}
	return false
}

// shortType returns the last element of a type URL ("AesGcmKey").
func shortType(typeURL string) string {
	return typeURL[strings.LastIndexByte(typeURL, '.')+1:]
}

// outputPrefix returns the bytes Tink puts before every ciphertext of a key with
// the given prefix type and ID: 0x01 and the big-endian ID for TINK, 0x00 and the
// ID for LEGACY and CRUNCHY, nothing for RAW. Tink's own helper for this is
// internal to tink-go.
func outputPrefix(t tinkpb.OutputPrefixType, id uint32) []byte {
	switch t {
	case tinkpb.OutputPrefixType_TINK:
		return binary.BigEndian.AppendUint32([]byte{0x01}, id)
	case tinkpb.OutputPrefixType_LEGACY, tinkpb.OutputPrefixType_CRUNCHY:
		return binary.BigEndian.AppendUint32([]byte{0x00}, id)
	}
	return nil
}

// prefixLen is the length of a non-empty output prefix.
const prefixLen = 5
