package gocloud_test

import (
	"context"
	"errors"
	"testing"

	cloudkms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/gcpkms"
	"google.golang.org/grpc/status"

	"github.com/keyport/keyport/backends/gocloud"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/gcpkmstest"
)

// TestConformanceGCPKMS runs the conformance suite against the gocloud backend
// over gocloud's own gcpkms keepers, opened from gcpkms:// URLs by gocloud's URL
// opener with a Cloud KMS client (cloud.google.com/go/kms) that talks to
// keyport's protocol-level Cloud KMS server on a real socket (what that server
// does not prove: the README's section on Cloud KMS).
func TestConformanceGCPKMS(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		srv := gcpkmstest.Start(t)
		client, err := cloudkms.NewKeyManagementClient(ctx, srv.ClientOptions("")...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		const ring = "projects/p/locations/global/keyRings/gocloud"
		if _, err := client.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/p/locations/global", KeyRingId: "gocloud"}); err != nil {
			t.Fatal(err)
		}
		key := func(id string) string {
			ck, err := client.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: id,
				CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}})
			if err != nil {
				t.Fatal(err)
			}
			return "gcpkms://" + ck.GetName()
		}
		mux := new(secrets.URLMux)
		mux.RegisterKeeper(gcpkms.Scheme, &gcpkms.URLOpener{Client: client})
		b := gocloud.New(gocloud.Options{URLMux: mux, BindContext: true})
		t.Cleanup(func() { _ = b.Close() })
		other, otherKey := localKeys(ctx, t, 1)
		return &conformance.Fixture{
			Backend:  b,
			KeyA:     key("a"),
			KeyB:     key("b"),
			Unknown:  "gcpkms://" + ring + "/cryptoKeys/missing",
			Other:    other,
			OtherKey: otherKey[0],
			ErrorAs: func(err error) bool {
				var grpcErr interface{ GRPCStatus() *status.Status }
				return errors.As(err, &grpcErr)
			},
			Deviations: gocloudDeviations,
		}
	}))
}
