package gocloud_test

import (
	"context"
	"errors"
	"testing"

	cloudkms "cloud.google.com/go/kms/apiv1"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/gcpkms"
	"google.golang.org/grpc/status"

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
		ring, newKey := srv.KeyRing(t, "gocloud")
		key := func(id string) string { return "gcpkms://" + newKey(id) }
		client, err := cloudkms.NewKeyManagementClient(ctx, srv.ClientOptions("")...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = client.Close() })
		mux := new(secrets.URLMux)
		mux.RegisterKeeper(gcpkms.Scheme, &gcpkms.URLOpener{Client: client})
		return keeperFixture(ctx, t, mux, key("a"), key("b"), "gcpkms://"+ring+"/cryptoKeys/missing", func(err error) bool {
			var grpcErr interface{ GRPCStatus() *status.Status }
			return errors.As(err, &grpcErr)
		})
	}))
}
