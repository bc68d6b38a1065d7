//go:build cgo

package pkcs11

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	p11 "github.com/miekg/pkcs11"

	"github.com/keyport/keyport/backends"
)

// key is a key found on the token: its description and object handles.
type key struct {
	KeyInfo
	secret, priv, pub p11.ObjectHandle // secret for AES; priv and pub for RSA
	rsaBits           int
}

func (k *key) isRSA() bool { return k.rsaBits > 0 }

// object is what the backend reads of one object it found.
type object struct {
	h                         p11.ObjectHandle
	class, keyType            uint
	label                     string
	id                        []byte
	valueLen                  int
	modulus                   []byte
	encrypt, decrypt          bool
	extractable, sensitive    bool
	hasEncrypt, hasDecrypt    bool
	hasExtractable, hasSensit bool
}

// attrsOf returns the attributes find reads for an object of class.
func attrsOf(class uint) []*p11.Attribute {
	a := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_KEY_TYPE, nil),
		p11.NewAttribute(p11.CKA_LABEL, nil),
		p11.NewAttribute(p11.CKA_ID, nil),
	}
	switch class {
	case p11.CKO_SECRET_KEY:
		a = append(a, p11.NewAttribute(p11.CKA_VALUE_LEN, nil), p11.NewAttribute(p11.CKA_ENCRYPT, nil),
			p11.NewAttribute(p11.CKA_DECRYPT, nil), p11.NewAttribute(p11.CKA_EXTRACTABLE, nil), p11.NewAttribute(p11.CKA_SENSITIVE, nil))
	case p11.CKO_PRIVATE_KEY:
		a = append(a, p11.NewAttribute(p11.CKA_MODULUS, nil), p11.NewAttribute(p11.CKA_DECRYPT, nil),
			p11.NewAttribute(p11.CKA_EXTRACTABLE, nil), p11.NewAttribute(p11.CKA_SENSITIVE, nil))
	case p11.CKO_PUBLIC_KEY:
		a = append(a, p11.NewAttribute(p11.CKA_MODULUS, nil), p11.NewAttribute(p11.CKA_ENCRYPT, nil))
	}
	return a
}

// readObject reads the attributes of h, one at a time so that an attribute the
// object lacks (an EC key has no modulus) leaves only that one unset.
func (t *token) readObject(sh p11.SessionHandle, h p11.ObjectHandle, class uint) object {
	o := object{h: h, class: class}
	for _, a := range attrsOf(class) {
		got, err := t.mod.ctx.GetAttributeValue(sh, h, []*p11.Attribute{a})
		if err != nil || len(got) != 1 {
			continue
		}
		v := got[0].Value
		switch a.Type {
		case p11.CKA_KEY_TYPE:
			o.keyType = ulong(v)
		case p11.CKA_LABEL:
			o.label = string(v)
		case p11.CKA_ID:
			o.id = bytes.Clone(v)
		case p11.CKA_VALUE_LEN:
			o.valueLen = int(ulong(v))
		case p11.CKA_MODULUS:
			o.modulus = bytes.Clone(v)
		case p11.CKA_ENCRYPT:
			o.encrypt, o.hasEncrypt = isTrue(v), true
		case p11.CKA_DECRYPT:
			o.decrypt, o.hasDecrypt = isTrue(v), true
		case p11.CKA_EXTRACTABLE:
			o.extractable, o.hasExtractable = isTrue(v), true
		case p11.CKA_SENSITIVE:
			o.sensitive, o.hasSensit = isTrue(v), true
		}
	}
	return o
}

// ulong decodes a CK_ULONG attribute value (native byte order and size).
func ulong(v []byte) uint {
	switch len(v) {
	case 8:
		return uint(binary.NativeEndian.Uint64(v))
	case 4:
		return uint(binary.NativeEndian.Uint32(v))
	}
	return ^uint(0)
}

func isTrue(v []byte) bool { return len(v) == 1 && v[0] != 0 }

// findObjects returns the handles of the objects that match template.
func (t *token) findObjects(sh p11.SessionHandle, template []*p11.Attribute) ([]p11.ObjectHandle, error) {
	if err := t.mod.ctx.FindObjectsInit(sh, template); err != nil {
		return nil, callError("C_FindObjectsInit", err)
	}
	var all []p11.ObjectHandle
	for {
		hs, _, err := t.mod.ctx.FindObjects(sh, 64)
		if err != nil {
			_ = t.mod.ctx.FindObjectsFinal(sh)
			return nil, callError("C_FindObjects", err)
		}
		all = append(all, hs...)
		if len(hs) < 64 {
			break
		}
	}
	if err := t.mod.ctx.FindObjectsFinal(sh); err != nil {
		return nil, callError("C_FindObjectsFinal", err)
	}
	return all, nil
}

// classes returns the object classes that a type= attribute allows.
func classes(typ string) []uint {
	switch typ {
	case "":
		return []uint{p11.CKO_SECRET_KEY, p11.CKO_PRIVATE_KEY, p11.CKO_PUBLIC_KEY}
	case TypeSecretKey:
		return []uint{p11.CKO_SECRET_KEY}
	case TypePrivate, TypePublic:
		return []uint{p11.CKO_PRIVATE_KEY, p11.CKO_PUBLIC_KEY}
	}
	return nil
}

// find finds the one key that u names on the token through session sh. No key
// is ErrNotFound; more than one (two secret keys with one label, a secret key
// and a key pair, two private keys) is ErrInvalidArgument: the backend never
// picks one silently.
func (t *token) find(sh p11.SessionHandle, op, keyID string, u *URI) (*key, error) {
	var secrets, privs, pubs []object
	for _, class := range classes(u.Type) {
		tmpl := []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, class)}
		if u.Object != "" {
			tmpl = append(tmpl, p11.NewAttribute(p11.CKA_LABEL, u.Object))
		}
		if u.ID != nil {
			tmpl = append(tmpl, p11.NewAttribute(p11.CKA_ID, u.ID))
		}
		hs, err := t.findObjects(sh, tmpl)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			o := t.readObject(sh, h, class)
			switch class {
			case p11.CKO_SECRET_KEY:
				secrets = append(secrets, o)
			case p11.CKO_PRIVATE_KEY:
				privs = append(privs, o)
			case p11.CKO_PUBLIC_KEY:
				pubs = append(pubs, o)
			}
		}
	}
	ambiguous := func(what string) (*key, error) {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, keyID,
			"the reference names %s on token %q: give labels and ids that name one key (keyport never picks one)", what, t.info.Label)
	}
	switch {
	case len(secrets) == 0 && len(privs) == 0 && len(pubs) == 0:
		return nil, backends.Errorf(backends.ErrNotFound, op, keyID, "no key on token %q has this label and id", t.info.Label)
	case len(secrets) > 0 && len(privs)+len(pubs) > 0:
		return ambiguous("both a secret key and a key pair")
	case len(secrets) > 1:
		return ambiguous(fmt.Sprintf("%d secret keys", len(secrets)))
	case len(privs) > 1:
		return ambiguous(fmt.Sprintf("%d private keys", len(privs)))
	case len(pubs) > 1:
		return ambiguous(fmt.Sprintf("%d public keys", len(pubs)))
	}
	k := &key{}
	k.Token = t.info.Label
	if len(secrets) == 1 {
		s := secrets[0]
		k.secret = s.h
		k.Label, k.ID = s.label, s.id
		k.Spec = secretSpec(s)
		k.Extractable, k.Sensitive = s.extractable || !s.hasExtractable, s.sensitive
		k.Encrypt, k.Decrypt = s.encrypt, s.decrypt
		k.URI = keyURI(t.info.Label, k.Label, k.ID)
		return k, nil
	}
	if len(privs) == 0 {
		return nil, backends.Errorf(backends.ErrInvalidKeyUsage, op, keyID,
			"token %q has the public key but not the private key: nothing encrypted under it could be decrypted here", t.info.Label)
	}
	if len(pubs) == 0 {
		return nil, backends.Errorf(backends.ErrInvalidKeyUsage, op, keyID,
			"token %q has the private key but no public key object to encrypt with", t.info.Label)
	}
	priv, pub := privs[0], pubs[0]
	if priv.keyType != pub.keyType || !bytes.Equal(priv.modulus, pub.modulus) {
		return ambiguous("a private key and a public key that are not a pair")
	}
	k.priv, k.pub = priv.h, pub.h
	k.Label, k.ID = priv.label, priv.id
	k.Spec = pairSpec(priv)
	if priv.keyType == p11.CKK_RSA {
		k.rsaBits = len(trimZeros(priv.modulus)) * 8
	}
	k.Extractable, k.Sensitive = priv.extractable || !priv.hasExtractable, priv.sensitive
	k.Encrypt, k.Decrypt = pub.encrypt, priv.decrypt
	k.URI = keyURI(t.info.Label, k.Label, k.ID)
	return k, nil
}

// list describes every secret key and private key of the token through sh
// (see Backend.ListKeys).
func (t *token) list(sh p11.SessionHandle) ([]KeyInfo, error) {
	var out []KeyInfo
	for _, class := range []uint{p11.CKO_SECRET_KEY, p11.CKO_PRIVATE_KEY} {
		hs, err := t.findObjects(sh, []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, class)})
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			o := t.readObject(sh, h, class)
			k := KeyInfo{Token: t.info.Label, Label: o.label, ID: o.id, Extractable: o.extractable || !o.hasExtractable,
				Sensitive: o.sensitive, Decrypt: o.decrypt, URI: keyURI(t.info.Label, o.label, o.id)}
			if class == p11.CKO_SECRET_KEY {
				k.Spec, k.Encrypt = secretSpec(o), o.encrypt
				out = append(out, k)
				continue
			}
			k.Spec = pairSpec(o)
			tmpl := []*p11.Attribute{p11.NewAttribute(p11.CKA_CLASS, p11.CKO_PUBLIC_KEY), p11.NewAttribute(p11.CKA_LABEL, o.label)}
			if len(o.id) > 0 {
				tmpl = append(tmpl, p11.NewAttribute(p11.CKA_ID, o.id))
			}
			pubs, err := t.findObjects(sh, tmpl)
			if err != nil {
				return nil, err
			}
			for _, ph := range pubs {
				if p := t.readObject(sh, ph, p11.CKO_PUBLIC_KEY); p.keyType == o.keyType && bytes.Equal(p.modulus, o.modulus) {
					k.Encrypt = p.encrypt
					break
				}
			}
			out = append(out, k)
		}
	}
	slices.SortStableFunc(out, func(a, b KeyInfo) int { return strings.Compare(a.URI, b.URI) })
	return out, nil
}

func trimZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func secretSpec(o object) KeySpec {
	if o.keyType == p11.CKK_AES {
		return KeySpec(fmt.Sprintf("AES_%d", o.valueLen*8))
	}
	return KeySpec(fmt.Sprintf("secret key type %#x", o.keyType))
}

func pairSpec(o object) KeySpec {
	switch o.keyType {
	case p11.CKK_RSA:
		return KeySpec(fmt.Sprintf("RSA_%d", len(trimZeros(o.modulus))*8))
	case p11.CKK_EC:
		return "EC"
	}
	return KeySpec(fmt.Sprintf("key pair type %#x", o.keyType))
}

// create makes the key in describes on the token through sh: not extractable,
// sensitive, private (readable only after login), on the token, and able to
// encrypt and decrypt and nothing else.
func (t *token) create(sh p11.SessionHandle, in *CreateKeyInput) (*key, error) {
	const op = "CreateKey"
	id := in.ID
	if id == nil {
		id = make([]byte, 16)
		_, _ = rand.Read(id)
	}
	want := keyURI(t.info.Label, in.Label, id)
	for _, u := range []*URI{{Object: in.Label}, {ID: id}} {
		_, err := t.find(sh, op, want, u)
		switch backends.KindOf(err) {
		case backends.ErrNotFound:
		case nil, backends.ErrInvalidKeyUsage, backends.ErrInvalidArgument:
			what := "label " + quote(in.Label)
			if u.ID != nil {
				what = "id " + escapeAll(id)
			}
			return nil, backends.Errorf(backends.ErrAlreadyExists, op, want, "token %q has a key with %s already", t.info.Label, what)
		default:
			return nil, err
		}
	}
	common := func(class uint) []*p11.Attribute {
		return []*p11.Attribute{
			p11.NewAttribute(p11.CKA_CLASS, class),
			p11.NewAttribute(p11.CKA_TOKEN, true),
			p11.NewAttribute(p11.CKA_LABEL, in.Label),
			p11.NewAttribute(p11.CKA_ID, id),
		}
	}
	secretish := []*p11.Attribute{
		p11.NewAttribute(p11.CKA_PRIVATE, true),
		p11.NewAttribute(p11.CKA_SENSITIVE, true),
		p11.NewAttribute(p11.CKA_EXTRACTABLE, false),
		p11.NewAttribute(p11.CKA_DECRYPT, true),
		p11.NewAttribute(p11.CKA_SIGN, false),
		p11.NewAttribute(p11.CKA_UNWRAP, false),
		p11.NewAttribute(p11.CKA_DERIVE, false),
	}
	spec := in.Spec
	if spec == "" {
		spec = AES256
	}
	switch {
	case spec == AES256:
		tmpl := append(common(p11.CKO_SECRET_KEY), secretish...)
		tmpl = append(tmpl,
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_AES),
			p11.NewAttribute(p11.CKA_VALUE_LEN, 32),
			p11.NewAttribute(p11.CKA_ENCRYPT, true),
			p11.NewAttribute(p11.CKA_VERIFY, false),
			p11.NewAttribute(p11.CKA_WRAP, false))
		if _, err := t.mod.ctx.GenerateKey(sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_AES_KEY_GEN, nil)}, tmpl); err != nil {
			return nil, callError("C_GenerateKey", err)
		}
	case spec.rsaBits() > 0:
		pub := append(common(p11.CKO_PUBLIC_KEY),
			p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_RSA),
			p11.NewAttribute(p11.CKA_MODULUS_BITS, spec.rsaBits()),
			p11.NewAttribute(p11.CKA_PUBLIC_EXPONENT, []byte{1, 0, 1}),
			p11.NewAttribute(p11.CKA_ENCRYPT, true),
			p11.NewAttribute(p11.CKA_VERIFY, false),
			p11.NewAttribute(p11.CKA_WRAP, false))
		priv := append(common(p11.CKO_PRIVATE_KEY), secretish...)
		priv = append(priv, p11.NewAttribute(p11.CKA_KEY_TYPE, p11.CKK_RSA))
		if _, _, err := t.mod.ctx.GenerateKeyPair(sh, []*p11.Mechanism{p11.NewMechanism(p11.CKM_RSA_PKCS_KEY_PAIR_GEN, nil)}, pub, priv); err != nil {
			return nil, callError("C_GenerateKeyPair", err)
		}
	default:
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, want, "key spec %q is none of AES_256, RSA_2048, RSA_3072, RSA_4096", spec)
	}
	return t.find(sh, op, want, &URI{Object: in.Label, ID: id})
}

// metadata returns k as backends.KeyMetadata.
func (k *KeyInfo) metadata() *backends.KeyMetadata {
	md := &backends.KeyMetadata{
		Arn:      k.URI,
		KeyID:    k.Label,
		KeyState: backends.KeyStateEnabled,
		Enabled:  true,
		KeyUsage: backends.KeyUsageEncryptDecrypt,
		KeySpec:  string(k.Spec),
	}
	if md.KeyID == "" {
		md.KeyID = escapeAll(k.ID)
	}
	kind := "secret key"
	switch {
	case k.Spec == AES256:
		md.EncryptionAlgorithms = []backends.Algorithm{backends.SymmetricDefault}
	case k.Spec.rsaBits() > 0:
		kind = "key pair"
		md.EncryptionAlgorithms = []backends.Algorithm{backends.RSAESOAEPSHA256, backends.RSAESOAEPSHA1}
	}
	md.Description = fmt.Sprintf("PKCS#11 %s %s on token %q: label %q, id %s, extractable=%t, sensitive=%t, encrypt=%t, decrypt=%t",
		k.Spec, kind, k.Token, k.Label, escapeAll(k.ID), k.Extractable, k.Sensitive, k.Encrypt, k.Decrypt)
	return md
}
