package gcpkms_test

import (
	"context"
	"fmt"
	"log"

	kms "cloud.google.com/go/kms/apiv1"
	"cloud.google.com/go/kms/apiv1/kmspb"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gcpkms"
	"github.com/keyport/keyport/internal/gcpkmstest"
)

// Encrypt a data key under a Cloud KMS key, bound to an encryption context, and
// decrypt it by Tink's form of the key's name. A loopback test server stands in
// for Cloud KMS here; against the real service, gcpkms.New(ctx, gcpkms.Options{})
// uses Application Default Credentials.
func Example() {
	ctx := context.Background()
	srv, err := gcpkmstest.New()
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()
	admin, err := kms.NewKeyManagementClient(ctx, srv.ClientOptions("")...)
	if err != nil {
		log.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.CreateKeyRing(ctx, &kmspb.CreateKeyRingRequest{Parent: "projects/acme/locations/global", KeyRingId: "app"}); err != nil {
		log.Fatal(err)
	}
	if _, err := admin.CreateCryptoKey(ctx, &kmspb.CreateCryptoKeyRequest{Parent: "projects/acme/locations/global/keyRings/app", CryptoKeyId: "orders",
		CryptoKey: &kmspb.CryptoKey{Purpose: kmspb.CryptoKey_ENCRYPT_DECRYPT}}); err != nil {
		log.Fatal(err)
	}

	b, err := gcpkms.New(ctx, gcpkms.Options{ClientOptions: srv.ClientOptions("")})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()
	ec := map[string]string{"tenant": "acme"}
	out, err := b.Encrypt(ctx, &backends.EncryptInput{
		KeyID:             "projects/acme/locations/global/keyRings/app/cryptoKeys/orders",
		Plaintext:         []byte("a 32-byte data key, for example."),
		EncryptionContext: ec,
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("encrypted under", out.KeyID)

	dec, err := b.Decrypt(ctx, &backends.DecryptInput{
		KeyID:             "gcp-kms://projects/acme/locations/global/keyRings/app/cryptoKeys/orders",
		CiphertextBlob:    out.CiphertextBlob,
		EncryptionContext: ec,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer clear(dec.Plaintext)
	fmt.Printf("decrypted %d bytes\n", len(dec.Plaintext))
	// Output:
	// encrypted under gcpkms://projects/acme/locations/global/keyRings/app/cryptoKeys/orders
	// decrypted 32 bytes
}
