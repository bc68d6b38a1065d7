package tink_test

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"net/url"
	"strconv"
	"testing"

	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"

	"github.com/keyport/keyport/backends/local"
)

const testAccount = "111122223333"

// newLocalKey starts an in-memory local key service and returns a client of its
// account and the ARN of a new key.
func newLocalKey(ctx context.Context, t *testing.T) (*local.Client, string) {
	t.Helper()
	svc := local.New()
	t.Cleanup(func() { _ = svc.Close() })
	c := svc.Client(local.Identity{Account: testAccount})
	out, err := c.CreateKey(ctx, &local.CreateKeyInput{Description: "tink test"})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return c, out.KeyMetadata.Arn
}

// otherProvider returns the second provider of a conformance fixture: the
// local service, in an account local-kms does not serve, and a key of it.
func otherProvider(ctx context.Context, t *testing.T) (*local.Client, string) {
	t.Helper()
	svc := local.New()
	t.Cleanup(func() { _ = svc.Close() })
	other := svc.Client(local.Identity{Account: "777788889999"})
	return newLocalKeyIn(ctx, t, other)
}

// newLocalKeyIn makes another key in the service of c.
func newLocalKeyIn(ctx context.Context, t *testing.T, c *local.Client) (*local.Client, string) {
	t.Helper()
	out, err := c.CreateKey(ctx, &local.CreateKeyInput{Description: "tink test"})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return c, out.KeyMetadata.Arn
}

type keysetTemplate = tinkpb.KeyTemplate

func be32(id uint32) []byte { return binary.BigEndian.AppendUint32(nil, id) }

func u32(id uint32) string { return strconv.FormatUint(uint64(id), 10) }

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func bytesHex(b []byte) string { return hex.EncodeToString(b) }
