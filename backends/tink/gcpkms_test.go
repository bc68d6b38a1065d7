package tink_test

import (
	"context"
	"errors"
	"testing"

	cloudkms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	tinkgcp "github.com/tink-crypto/tink-go-gcpkms/v2/integration/gcpkms"
	"google.golang.org/grpc/status"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/backends/tink"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/gcpkmstest"
)

// TestConformanceKMSOverCloudKMS runs the conformance suite against the KMS
// adapter over Tink's own Cloud KMS integration (tink-go-gcpkms, gRPC, with its
// CRC32C checks), against keyport's protocol-level Cloud KMS server on a real
// socket: Tink's gcp-kms:// key URIs, the answers mapped by the gcpkms driver's
// table.
func TestConformanceKMSOverCloudKMS(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		srv := gcpkmstest.Start(t)
		admin, err := cloudkms.NewKeyManagementClient(ctx, srv.ClientOptions("")...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = admin.Close() })
		const ring = "projects/p/locations/global/keyRings/tink"
		if _, err := admin.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/p/locations/global", KeyRingId: "tink"}); err != nil {
			t.Fatal(err)
		}
		key := func(id string) string {
			ck, err := admin.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: ring, CryptoKeyId: id,
				CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}})
			if err != nil {
				t.Fatal(err)
			}
			return "gcp-kms://" + ck.GetName()
		}
		client, err := tinkgcp.NewClient(ctx, "gcp-kms://", tinkgcp.WithGoogleAPIClientOptions(srv.ClientOptions("")...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		svc := local.New()
		t.Cleanup(func() { _ = svc.Close() })
		other := svc.Client(local.Identity{Account: "777788889999"})
		ok, err := other.CreateKey(ctx, &local.CreateKeyInput{})
		if err != nil {
			t.Fatal(err)
		}
		return &conformance.Fixture{
			Backend:  tink.NewKMS(client),
			KeyA:     key("a"),
			KeyB:     key("b"),
			Unknown:  "gcp-kms://" + ring + "/cryptoKeys/missing",
			Other:    other,
			OtherKey: ok.KeyMetadata.Arn,
			ErrorAs: func(err error) bool {
				var grpcErr interface{ GRPCStatus() *status.Status }
				return errors.As(err, &grpcErr)
			},
			Deviations: []conformance.Deviation{
				// A Tink KMS client has no dry run.
				conformance.DeviationNoDryRun,
				// Cloud KMS has no grants, and its ciphertexts do not name their
				// key: one of another key fails as a damaged one.
				conformance.DeviationNoGrants,
				conformance.DeviationIncorrectKeyIsInvalidCiphertext,
			},
		}
	}))
}
