package tink_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	cloudkms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	tinkapi "github.com/tink-crypto/tink-go/v2/tink"
	"google.golang.org/grpc/status"

	"github.com/keyport/keyport/backends/tink"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/gcpkmstest"
)

// cloudKMSClient is a Tink registry.KMSClient over the official Cloud KMS gRPC
// client, made as Tink's own gcp-kms integration makes its AEAD: gcp-kms://<key
// name> URIs, the associated data as Cloud KMS's additional authenticated data,
// the service's gRPC errors as they come. (tink-go-gcpkms itself cannot be a
// dependency: from v2.3.0 its tests import google.golang.org/genproto's
// googleapis/cloud/kms/v1, which genproto no longer has, so go mod tidy fails
// with it; v2.2.0 speaks only REST, which the test server does not.)
type cloudKMSClient struct{ c *cloudkms.KeyManagementClient }

func (k cloudKMSClient) Supported(uri string) bool { return strings.HasPrefix(uri, "gcp-kms://") }

func (k cloudKMSClient) GetAEAD(uri string) (tinkapi.AEAD, error) {
	return cloudKMSAEAD{k.c, strings.TrimPrefix(uri, "gcp-kms://")}, nil
}

type cloudKMSAEAD struct {
	c    *cloudkms.KeyManagementClient
	name string
}

func (a cloudKMSAEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	out, err := a.c.Encrypt(context.Background(), &kmspb.EncryptRequest{Name: a.name, Plaintext: plaintext, AdditionalAuthenticatedData: associatedData})
	if err != nil {
		return nil, err
	}
	return out.GetCiphertext(), nil
}

func (a cloudKMSAEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	out, err := a.c.Decrypt(context.Background(), &kmspb.DecryptRequest{Name: a.name, Ciphertext: ciphertext, AdditionalAuthenticatedData: associatedData})
	if err != nil {
		return nil, err
	}
	return out.GetPlaintext(), nil
}

// TestConformanceKMSOverCloudKMS runs the conformance suite against the KMS
// adapter over a Tink KMS client of the official Cloud KMS gRPC client
// (cloudKMSClient), against keyport's protocol-level Cloud KMS server on a real
// socket: Tink's gcp-kms:// key URIs, the answers mapped by the gcpkms driver's
// table.
func TestConformanceKMSOverCloudKMS(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		srv := gcpkmstest.Start(t)
		ring, newKey := srv.KeyRing(t, "tink")
		key := func(id string) string { return "gcp-kms://" + newKey(id) }
		c, err := cloudkms.NewKeyManagementClient(ctx, srv.ClientOptions("")...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		client := cloudKMSClient{c}
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
