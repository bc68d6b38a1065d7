package cli

import (
	"github.com/keyport/keyport/backends/azurekv"
	"github.com/keyport/keyport/backends/gcpkms"
	"github.com/keyport/keyport/backends/pkcs11"
)

// Google Cloud KMS, Azure Key Vault and PKCS#11 keys open their services from
// their key URLs on first use (credentials as package keyport's table says).
// A driver that wants settings of its own in the configuration file moves to a
// services_<driver>.go with a serviceKind, as services_vault.go does.
func init() {
	implicitSchemes = append(implicitSchemes,
		gcpkms.Scheme, gcpkms.TinkScheme,
		azurekv.Scheme, azurekv.HTTPSScheme, azurekv.GocloudScheme,
		pkcs11.Scheme,
	)
}
