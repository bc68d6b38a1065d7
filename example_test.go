package keyport_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/keyport/keyport"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/reencrypt"
)

// Encrypt a message under a key of the embedded key service, end to end: one
// Front in front of the service, a keyring over one of its keys, and the
// envelope. The same code runs against AWS KMS, Vault or Cloud KMS by naming
// their keys instead (see ExampleNewFront).
func Example() {
	ctx := context.Background()
	app := local.New().Client(local.Identity{Account: "111122223333"})
	key, err := app.CreateKey(ctx, &local.CreateKeyInput{Description: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	if err := app.CreateAlias(ctx, &local.CreateAliasInput{AliasName: "alias/orders", TargetKeyID: key.KeyMetadata.KeyID}); err != nil {
		log.Fatal(err)
	}
	kms := backends.NewFront(app) // the service of bare key IDs, aliases and the account's ARNs

	kr, err := keyring.NewBackend(kms, "alias/orders", nil)
	if err != nil {
		log.Fatal(err)
	}
	ec := map[string]string{"tenant": "acme"}
	msg, err := envelope.Encrypt(ctx, []byte("order #42: 3 widgets"), envelope.EncryptOptions{Keyring: kr, EncryptionContext: ec})
	if err != nil {
		log.Fatal(err)
	}
	pt, res, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: kr})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", pt)
	fmt.Println("header names the key ARN:", string(res.Header.EncryptedDataKeys[0].ProviderInfo) == key.KeyMetadata.Arn)
	// Output:
	// order #42: 3 widgets
	// header names the key ARN: true
}

// Name keys of any service by URL: the Front of NewFront opens each service on
// first use, with its own credentials (the AWS SDK's default configuration,
// VAULT_ADDR and VAULT_TOKEN, Application Default Credentials). Retries with
// backoff and structured logs wrap every call, whatever the service.
func ExampleNewFront() {
	ctx := context.Background()
	kms := keyport.NewFront()
	kms.Use(backends.Retry(backends.RetryPolicy{MaxAttempts: 5}), backends.Logging(slog.New(slog.NewJSONHandler(os.Stderr, nil))))

	// A message whose data key is wrapped by AWS KMS and by Vault Transit: either
	// opens it.
	aws, _ := keyring.NewBackend(kms, "awskms:///alias/orders?region=eu-west-1", nil)
	vault, _ := keyring.NewBackend(kms, "vault://transit/orders", nil)
	both, _ := keyring.NewMulti(aws, vault)
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	msg, err := envelope.Encrypt(ctx, []byte("order #42"), envelope.EncryptOptions{Keyring: both})
	if err != nil {
		log.Fatal(err)
	}

	// Later: move a data key from AWS KMS to Google Cloud KMS, as ReEncrypt does.
	blob, err := kms.Encrypt(ctx, &backends.EncryptInput{KeyID: "aws-kms://arn:aws:kms:eu-west-1:111122223333:alias/orders", Plaintext: []byte("a data key")})
	if err != nil {
		log.Fatal(err)
	}
	moved, err := reencrypt.New(kms).ReEncrypt(ctx, &backends.ReEncryptInput{
		CiphertextBlob:   blob.CiphertextBlob,
		SourceKeyID:      blob.KeyID,
		DestinationKeyID: "gcpkms://projects/p/locations/europe-west1/keyRings/r/cryptoKeys/orders",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(len(msg) > 0, moved.KeyID)
}
