package cli

import (
	"context"

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
	if u.Token != "" && u.Token != p.b.Token() || u.Serial != "" && u.Serial != p.b.Serial() {
		return nil, usagef("%q names another token than the one opened (%q)", truncate(in.Name), p.b.Token())
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
