package gocloud_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gocloud"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/internal/vaulttest"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/hashivault"
)

// devTransit mounts a Transit engine of the test's own on the Vault dev server
// that scripts/test.sh starts, with disable_upsert set so that a missing key is
// not created on encrypt, and returns the root client and the mount.
func devTransit(t *testing.T) (*api.Client, string) {
	t.Helper()
	c, mount := vaulttest.Transit(t, "gc-")
	ctx := context.Background()
	if _, err := c.Logical().WriteWithContext(ctx, mount+"/config/keys", map[string]any{"disable_upsert": true}); err != nil {
		t.Fatalf("disable_upsert: %v", err)
	}
	return c, mount
}

// TestConformanceHashivault runs the conformance suite against the gocloud
// backend over gocloud's hashivault keepers, opened from hashivault:// URLs,
// against the real Vault.
func TestConformanceHashivault(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		c, mount := devTransit(t)
		for _, k := range []string{"a", "b"} {
			if _, err := c.Logical().WriteWithContext(ctx, mount+"/keys/"+k, nil); err != nil {
				t.Fatalf("creating key %s: %v", k, err)
			}
		}
		mux := new(secrets.URLMux)
		mux.RegisterKeeper(hashivault.Scheme, &hashivault.URLOpener{Client: c})
		b := gocloud.New(gocloud.Options{URLMux: mux, BindContext: true})
		t.Cleanup(func() { _ = b.Close() })
		key := func(name string) string { return "hashivault://" + name + "?engine=" + mount }
		other, otherKey := localKeys(ctx, t, 1)
		return &conformance.Fixture{
			Backend:  b,
			KeyA:     key("a"),
			KeyB:     key("b"),
			Unknown:  key("missing"),
			Other:    other,
			OtherKey: otherKey[0],
			Rotate: func(ctx context.Context, keyID string) error {
				name := keyID[len("hashivault://") : len(keyID)-len("?engine="+mount)]
				_, err := c.Logical().WriteWithContext(ctx, mount+"/keys/"+name+"/rotate", nil)
				return err
			},
			ErrorAs: func(err error) bool {
				var re *api.ResponseError
				return errors.As(err, &re)
			},
			// Transit does not authenticate the key version in its ciphertext's
			// header: "vault:v0:" reads as version 1 (a compatibility rule of
			// Vault's keysutil), so that one damaged blob still decrypts, to the
			// right plaintext.
			Deviations: append([]conformance.Deviation{conformance.DeviationUnauthenticatedBlobHeader}, gocloudDeviations...),
		}
	}))
}

// TestHashivaultErrors checks the mapping of Vault's answers that gocloud's
// hashivault driver reports as Unknown.
func TestHashivaultErrors(t *testing.T) {
	ctx := context.Background()
	c, mount := devTransit(t)
	if _, err := c.Logical().WriteWithContext(ctx, mount+"/keys/k", nil); err != nil {
		t.Fatal(err)
	}
	// A token that may do nothing with the mount.
	sec, err := c.Auth().Token().CreateWithContext(ctx, &api.TokenCreateRequest{Policies: []string{"default"}, NoDefaultPolicy: false})
	if err != nil {
		t.Fatal(err)
	}
	weak, err := c.Clone()
	if err != nil {
		t.Fatal(err)
	}
	weak.SetToken(sec.Auth.ClientToken)
	mux := new(secrets.URLMux)
	mux.RegisterKeeper(hashivault.Scheme, &hashivault.URLOpener{Client: weak})
	b := gocloud.New(gocloud.Options{URLMux: mux})
	_, err = b.Encrypt(ctx, &backends.EncryptInput{KeyID: "hashivault://k?engine=" + mount, Plaintext: []byte("x")})
	kmstest.WantKind(t, err, backends.ErrAccessDenied, "Encrypt with a token without access")

}
