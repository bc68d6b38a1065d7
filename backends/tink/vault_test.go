package tink_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/vault/api"
	tinkvault "github.com/tink-crypto/tink-go-hcvault/v2/integration/hcvault"

	"github.com/keyport/keyport/backends/tink"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/vaulttest"
)

// TestConformanceKMSOverVault runs the conformance suite against the KMS adapter
// over Tink's own Vault integration (tink-go-hcvault, with associated_data as
// its AEAD binding, Tink's default), against the real Vault: Tink's hcvault://
// key URIs, the Vault answers mapped by the vault driver's table.
func TestConformanceKMSOverVault(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		c, mount := vaulttest.Transit(t, "tk-")
		// A missing key is an error, not a key made on first use.
		if _, err := c.Logical().WriteWithContext(ctx, mount+"/config/keys", map[string]any{"disable_upsert": true}); err != nil {
			t.Fatal(err)
		}
		for _, k := range []string{"a", "b"} {
			if _, err := c.Logical().WriteWithContext(ctx, mount+"/keys/"+k, nil); err != nil {
				t.Fatal(err)
			}
		}
		// The URI's host is the prefix Tink matches; the client given is the
		// one that talks to the server.
		const prefix = "hcvault://vault.test:8200"
		client, err := tinkvault.NewClientWithAEADOptions(prefix, c.Logical())
		if err != nil {
			t.Fatal(err)
		}
		key := func(name string) string { return prefix + "/" + mount + "/keys/" + name }
		other, otherKey := otherProvider(ctx, t)
		return &conformance.Fixture{
			Backend:  tink.NewKMS(client),
			KeyA:     key("a"),
			KeyB:     key("b"),
			Unknown:  key("missing"),
			Other:    other,
			OtherKey: otherKey,
			Rotate: func(ctx context.Context, keyID string) error {
				_, err := c.Logical().WriteWithContext(ctx, mount+"/keys/"+keyID[len(key("")):]+"/rotate", nil)
				return err
			},
			ErrorAs: func(err error) bool {
				var re *api.ResponseError
				return errors.As(err, &re)
			},
			Deviations: []conformance.Deviation{
				// A Tink KMS client has no dry run.
				conformance.DeviationNoDryRun,
				// Transit: no grants; a ciphertext of another key fails as a damaged
				// one; "vault:v0:" reads as version 1 (Vault's keysutil), so one
				// damaged header still decrypts, to the right plaintext.
				conformance.DeviationNoGrants,
				conformance.DeviationIncorrectKeyIsInvalidCiphertext,
				conformance.DeviationUnauthenticatedBlobHeader,
			},
		}
	}))
}
