package tink_test

import (
	"context"
	"errors"
	"testing"

	tinkgcp "github.com/tink-crypto/tink-go-gcpkms/v2/integration/gcpkms"
	"google.golang.org/grpc/status"

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
		ring, newKey := srv.KeyRing(t, "tink")
		key := func(id string) string { return "gcp-kms://" + newKey(id) }
		client, err := tinkgcp.NewClient(ctx, "gcp-kms://", tinkgcp.WithGoogleAPIClientOptions(srv.ClientOptions("")...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		other, otherKey := otherProvider(ctx, t)
		return &conformance.Fixture{
			Backend:  tink.NewKMS(client),
			KeyA:     key("a"),
			KeyB:     key("b"),
			Unknown:  "gcp-kms://" + ring + "/cryptoKeys/missing",
			Other:    other,
			OtherKey: otherKey,
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
