package gcpkmstest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"google.golang.org/api/iterator"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/keyport/keyport/internal/gcpkmstest"
)

// TestListingsPage lists a key ring's keys and a key's versions with the real
// client, page by page: every item once, in order, and only the ring's own.
func TestListingsPage(t *testing.T) {
	ctx := context.Background()
	srv := gcpkmstest.Start(t)
	c, err := kms.NewKeyManagementClient(ctx, srv.ClientOptions("")...)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const loc = "projects/p/locations/global"
	for _, ring := range []string{"a", "b"} {
		if _, err := c.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: loc, KeyRingId: ring}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("k%d", i)
		if _, err := c.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: loc + "/keyRings/a", CryptoKeyId: id,
			CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}}); err != nil {
			t.Fatal(err)
		}
		want = append(want, loc+"/keyRings/a/cryptoKeys/"+id)
	}
	if _, err := c.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: loc + "/keyRings/b", CryptoKeyId: "other",
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := c.CreateCryptoKeyVersion(ctx, &kmspb.CreateCryptoKeyVersionRequest{Parent: want[0]}); err != nil {
			t.Fatal(err)
		}
	}

	var got []string
	it := c.ListCryptoKeys(ctx, &kmspb.ListCryptoKeysRequest{Parent: loc + "/keyRings/a", PageSize: 3})
	for {
		ck, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ck.GetName())
		if ck.GetPrimary().GetState() != kmspb.CryptoKeyVersion_ENABLED {
			t.Errorf("%s is listed without its primary version", ck.GetName())
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ListCryptoKeys in pages of 3: %v, want %v", got, want)
	}
	if srv.Calls("ListCryptoKeys") != 3 {
		t.Errorf("7 keys in pages of 3 took %d calls, want 3", srv.Calls("ListCryptoKeys"))
	}

	got = nil
	vit := c.ListCryptoKeyVersions(ctx, &kmspb.ListCryptoKeyVersionsRequest{Parent: want[0], PageSize: 2})
	for {
		v, err := vit.Next()
		if errors.Is(err, iterator.Done) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v.GetName()[len(want[0])+1:])
	}
	if strings.Join(got, " ") != "cryptoKeyVersions/1 cryptoKeyVersions/2 cryptoKeyVersions/3 cryptoKeyVersions/4" {
		t.Errorf("ListCryptoKeyVersions in pages of 2: %v", got)
	}

	_, err = c.ListCryptoKeys(ctx, &kmspb.ListCryptoKeysRequest{Parent: loc + "/keyRings/none"}).Next()
	if status.Code(err) != codes.NotFound {
		t.Errorf("listing a key ring that does not exist: %v", err)
	}
	_, err = c.ListCryptoKeys(ctx, &kmspb.ListCryptoKeysRequest{Parent: loc + "/keyRings/a", PageToken: "x"}).Next()
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("a bad page token: %v", err)
	}
}
