package keyring_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
)

// twoKeys returns a Front over an embedded key service and the ARNs of two of its
// keys.
func twoKeys(ctx context.Context) (*backends.Front, string, string) {
	app := local.New().Client(local.Identity{Account: "111122223333"})
	var arns []string
	for _, d := range []string{"orders", "archive"} {
		k, err := app.CreateKey(ctx, &local.CreateKeyInput{Description: d})
		if err != nil {
			log.Fatal(err)
		}
		arns = append(arns, k.KeyMetadata.Arn)
	}
	return backends.NewFront(app), arns[0], arns[1]
}

// A strict keyring over two keys: the first makes the data key, both wrap it,
// and either alone opens the message, while a keyring over another key cannot.
func ExampleNewStrict() {
	ctx := context.Background()
	kms, orders, archive := twoKeys(ctx)
	both, err := keyring.NewStrict(kms, nil, orders, archive)
	if err != nil {
		log.Fatal(err)
	}
	msg, err := envelope.Encrypt(ctx, []byte("invoice 42"), envelope.EncryptOptions{Keyring: both})
	if err != nil {
		log.Fatal(err)
	}
	onlyArchive, _ := keyring.NewStrict(kms, nil, archive)
	pt, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: onlyArchive})
	fmt.Printf("%s, %v\n", pt, err)

	_, other, _ := twoKeys(ctx)
	stranger, _ := keyring.NewStrict(kms, nil, other)
	_, _, err = envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: stranger})
	fmt.Println(errors.Is(err, backends.ErrIncorrectKey))
	// Output:
	// invoice 42, <nil>
	// true
}

// A discovery keyring opens a message under whatever key its header names, as
// long as the Front reaches it and the filter lets it through.
func ExampleNewDiscovery() {
	ctx := context.Background()
	kms, orders, _ := twoKeys(ctx)
	kr, _ := keyring.NewBackend(kms, orders, nil)
	msg, err := envelope.Encrypt(ctx, []byte("invoice 43"), envelope.EncryptOptions{Keyring: kr})
	if err != nil {
		log.Fatal(err)
	}
	any, err := keyring.NewDiscovery(kms, &keyring.DiscoveryOptions{
		Filter: &keyring.DiscoveryFilter{Partition: "aws", Accounts: []string{"111122223333"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	pt, res, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: any})
	fmt.Printf("%s, %v, wrapped by %s\n", pt, err, res.Header.EncryptedDataKeys[0].ProviderID)
	// Output: invoice 43, <nil>, wrapped by aws-kms
}
