package cli

import (
	"context"
	"errors"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/pkcs11"
)

// pkcs11Admin creates keys on a PKCS#11 token. A pkcs11: key opens its token on
// first use (package keyport's opener: the library KEYPORT_PKCS11_MODULE names,
// which a URL's module-path, if it has one, must name too; the PIN from
// KEYPORT_PKCS11_PIN_FILE or KEYPORT_PKCS11_PIN). Tokens have no aliases, key states, deletion windows or
// key policies.
type pkcs11Admin struct {
	unsupportedAdmin
	b *pkcs11.Backend
}

func init() {
	adminFactories = append(adminFactories, func(d backends.Backend) keyAdmin {
		if b, ok := d.(*pkcs11.Backend); ok {
			return &pkcs11Admin{unsupportedAdmin{"pkcs11"}, b}
		}
		return nil
	})
	keysNotes = append(keysNotes, serviceNotes{service: "pkcs11", notes: map[string]string{
		"list": "give the token, pkcs11:token=LABEL: every secret key and key pair on it is listed " +
			"by its URI, those keyport will not use (extractable, not sensitive, another kind, a " +
			"usage missing) with the reason as their description.",
		"schedule-deletion": "not supported: a token destroys a key at once and for good, with no " +
			"waiting period to cancel; destroy it with the token's own tools once nothing needs it.",
	}})
}

// CreateKey makes the key the URL in.Name names (object= its label, id= its id,
// else 16 random bytes): --key-type AES_256 (the default), RSA_2048, RSA_3072
// or RSA_4096; not extractable, sensitive, for encryption only.
func (p *pkcs11Admin) CreateKey(ctx context.Context, in *createKeyInput) (*backends.KeyMetadata, error) {
	if in.Name == "" {
		return nil, usagef("a PKCS#11 key is named: keyport keys create 'pkcs11:token=TOKEN;object=LABEL'")
	}
	if in.Alias != "" || in.Description != "" || in.Policy != "" {
		return nil, errUnsupported("CreateKey", in.Name, "pkcs11: no aliases, descriptions or key policies")
	}
	u, err := pkcs11.ParseURI(in.Name)
	if err != nil {
		return nil, err
	}
	if err := p.sameToken(in.Name, u); err != nil {
		return nil, err
	}
	if u.Object == "" {
		return nil, usagef("a PKCS#11 key needs a label: object=LABEL in %q", truncate(in.Name))
	}
	info, err := p.b.CreateKey(ctx, &pkcs11.CreateKeyInput{Label: u.Object, ID: u.ID, Spec: pkcs11.KeySpec(in.KeyType)})
	if err != nil {
		return nil, err
	}
	return p.b.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: info.URI})
}

// ListKeys lists every key on the opened token (location, when given, is a
// pkcs11: URI of that token): usable keys Enabled, the others with the reason
// keyport will not use them as their description.
func (p *pkcs11Admin) ListKeys(ctx context.Context, location string) ([]keyEntry, error) {
	if location != "" {
		u, err := pkcs11.ParseURI(location)
		if err != nil {
			return nil, err
		}
		if err := p.sameToken(location, u); err != nil {
			return nil, err
		}
	}
	keys, err := p.b.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	entries := make([]keyEntry, 0, len(keys))
	for _, k := range keys {
		e := keyEntry{KeyId: k.Label, KeyArn: k.URI}
		if err := k.Usable(); err != nil {
			var be *backends.Error
			e.Description = "not used by keyport: " + err.Error()
			if errors.As(err, &be) {
				e.Description = "not used by keyport: " + be.Message
			}
		} else {
			e.KeyState = string(backends.KeyStateEnabled)
		}
		entries = append(entries, e)
	}
	return entries, nil
}

// sameToken refuses ref, parsed as u, when it names another token than the
// opened one.
func (p *pkcs11Admin) sameToken(ref string, u *pkcs11.URI) error {
	if u.Token != "" && u.Token != p.b.Token() || u.Serial != "" && u.Serial != p.b.Serial() {
		return usagef("%q names another token than the one opened (%q)", truncate(ref), p.b.Token())
	}
	return nil
}
