package gcpkmstest

import (
	"context"
	"testing"

	cloudkms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
)

// KeyRing makes the key ring projects/p/locations/global/keyRings/<id> on the
// server through an admin client of its own (closed when tb's test ends) and
// returns the ring's name and a function that makes a symmetric ENCRYPT_DECRYPT
// key in it and returns the key's resource name.
func (s *Server) KeyRing(tb testing.TB, id string) (ring string, newKey func(keyID string) string) {
	tb.Helper()
	ctx := context.Background()
	admin, err := cloudkms.NewKeyManagementClient(ctx, s.ClientOptions("")...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = admin.Close() })
	const parent = "projects/p/locations/global"
	kr, err := admin.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: parent, KeyRingId: id})
	if err != nil {
		tb.Fatal(err)
	}
	return kr.GetName(), func(keyID string) string {
		tb.Helper()
		ck, err := admin.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: kr.GetName(), CryptoKeyId: keyID,
			CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}})
		if err != nil {
			tb.Fatal(err)
		}
		return ck.GetName()
	}
}
