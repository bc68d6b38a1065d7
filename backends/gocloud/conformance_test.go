package gocloud_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gocloud"
	"github.com/keyport/keyport/conformance"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/localsecrets"
)

// keyURL returns a base64key:// URL with a fresh random key.
func keyURL(t *testing.T) string {
	t.Helper()
	var k [32]byte
	if _, err := rand.Read(k[:]); err != nil {
		t.Fatal(err)
	}
	return "base64key://" + base64.URLEncoding.EncodeToString(k[:])
}

// localMux returns a URL mux with only gocloud's localsecrets driver.
func localMux() *secrets.URLMux {
	mux := new(secrets.URLMux)
	mux.RegisterKeeper(localsecrets.Scheme, &localsecrets.URLOpener{})
	return mux
}

// gocloudDeviations are what a portable Keeper cannot do, whatever the service
// behind it: no dry run of its own (the backend makes the call and discards
// the result, which the suite accepts), no key states, grants or key
// identification in its ciphertexts.
var gocloudDeviations = []conformance.Deviation{
	// localsecrets (NaCl secretbox) and Transit cannot tell a ciphertext of
	// another key from a damaged one.
	conformance.DeviationIncorrectKeyIsInvalidCiphertext,
	conformance.DeviationNoGrants,
}

// keeperFixture is the fixture of a gocloud backend over the keepers mux opens,
// the context bound inside the plaintext: keys a and b, a key that does not
// exist, the embedded service as the other provider, and the keeper's
// deviations with extra ones.
func keeperFixture(ctx context.Context, t *testing.T, mux *secrets.URLMux, a, b, unknown string, errorAs func(error) bool, extra ...conformance.Deviation) *conformance.Fixture {
	t.Helper()
	be := gocloud.New(gocloud.Options{URLMux: mux, BindContext: true})
	t.Cleanup(func() { _ = be.Close() })
	other, otherKey := localKeys(ctx, t, 1)
	return &conformance.Fixture{
		Backend: be, KeyA: a, KeyB: b, Unknown: unknown, Other: other, OtherKey: otherKey[0], ErrorAs: errorAs,
		Deviations: append(extra, gocloudDeviations...),
	}
}

// TestConformanceLocalsecrets runs the conformance suite against the gocloud
// backend over localsecrets keepers opened from base64key:// URLs, with the
// context bound inside the plaintext (Options.BindContext).
func TestConformanceLocalsecrets(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		b := gocloud.New(gocloud.Options{URLMux: localMux(), BindContext: true})
		t.Cleanup(func() { _ = b.Close() })
		urlA, urlB := keyURL(t), keyURL(t)
		// Open both by URL once: from then on the canonical IDs name them.
		for _, u := range []string{urlA, urlB} {
			if _, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: u, Plaintext: []byte("open")}); err != nil {
				t.Fatalf("Encrypt by URL: %v", err)
			}
		}
		other, otherKey := localKeys(ctx, t, 1)
		return &conformance.Fixture{
			Backend:    b,
			KeyA:       gocloud.CanonicalID(urlA),
			KeyAForms:  []string{gocloud.CanonicalID(urlA), urlA},
			KeyB:       gocloud.CanonicalID(urlB),
			Unknown:    gocloud.CanonicalID(keyURL(t)),
			Other:      other,
			OtherKey:   otherKey[0],
			Deviations: gocloudDeviations,
		}
	}))
}
