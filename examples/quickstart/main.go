// Command quickstart runs keyport's main job on the embedded key service: it makes a
// data key under one key, re-encrypts it to another key, to a key of another account
// (named by ARN), to the same key under a new encryption context, and to a key held by
// a second, separate key service (standing in for another provider), then decrypts
// it and checks it is the data key it started with. It prints what it did, never
// the data key itself.
//
//	go run ./examples/quickstart
package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/reencrypt"
)

const (
	appAccount     = "111122223333" // where the application runs
	partnerAccount = "444455556666" // another account that receives the data
	otherAccount   = "777788889999" // an account at a second key service
)

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.SetFlags(0)
		log.Fatal("quickstart: ", err)
	}
}

func run(ctx context.Context, w io.Writer) error {
	// One embedded key service holding two accounts, and a second one standing in
	// for another provider.
	svc := local.New()
	defer svc.Close()
	other := local.New(local.WithRegion("eu-west-1"))
	defer other.Close()

	app := svc.Client(local.Identity{Account: appAccount, Principal: "arn:aws:iam::" + appAccount + ":role/app"})
	partner := svc.Client(local.Identity{Account: partnerAccount})
	elsewhere := other.Client(local.Identity{Account: otherAccount})

	if _, err := makeKey(ctx, app, "alias/orders", ""); err != nil {
		return err
	}
	if _, err := makeKey(ctx, app, "alias/archive", ""); err != nil {
		return err
	}
	// The partner's key policy lets the application's account re-encrypt to it.
	shared, err := makeKey(ctx, partner, "alias/shared", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+partnerAccount+`:root"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::`+appAccount+`:root"},"Action":["kms:ReEncrypt*","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}`)
	if err != nil {
		return err
	}
	// The key at the other service lets the application's account encrypt to it.
	remote, err := makeKey(ctx, elsewhere, "alias/remote", `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"`+otherAccount+`"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"`+appAccount+`"},"Action":["kms:Encrypt","kms:ReEncryptTo","kms:Decrypt","kms:ReEncryptFrom"],"Resource":"*"}]}`)
	if err != nil {
		return err
	}
	otherAsApp := other.Client(local.Identity{Account: appAccount, Principal: "arn:aws:iam::" + appAccount + ":role/app"})

	// The Front says which backend owns a key: the embedded service owns both of
	// its accounts (and bare key IDs and alias names, which resolve in the
	// application's account); the second service owns its account's ARNs.
	var kms backends.Front
	kms.SetDefault(app)
	for _, reg := range []struct {
		account string
		b       backends.Backend
	}{{appAccount, app}, {partnerAccount, app}, {otherAccount, otherAsApp}} {
		if err := kms.RegisterAccount(reg.account, "", reg.b); err != nil {
			return err
		}
	}
	engine := reencrypt.New(&kms)

	// 1. A fresh 32-byte data key under alias/orders, bound to an encryption context.
	ec := map[string]string{"tenant": "acme", "purpose": "quickstart"}
	dk, err := app.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: "alias/orders", EncryptionContext: ec})
	if err != nil {
		return err
	}
	original := dk.Plaintext
	defer clear(original)
	fmt.Fprintf(w, "generated a %d-byte data key under %s\n  key %s\n  ciphertext %d bytes\n", len(original), "alias/orders", dk.KeyID, len(dk.CiphertextBlob))

	blob := dk.CiphertextBlob
	step := func(what string, in backends.ReEncryptInput) error {
		in.CiphertextBlob = blob
		out, err := engine.ReEncrypt(ctx, &in)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		how := "through the engine (decrypt at the source, encrypt at the destination, plaintext wiped)"
		if out.Native {
			how = "natively (the plaintext never left the service)"
		}
		fmt.Fprintf(w, "re-encrypted %s %s\n  from %s\n  to   %s\n  ciphertext %d bytes\n", what, how, out.SourceKeyID, out.KeyID, len(out.CiphertextBlob))
		blob = out.CiphertextBlob
		return nil
	}

	// 2. To another key of the same account, named by alias.
	if err := step("to another key", backends.ReEncryptInput{
		SourceKeyID: "alias/orders", SourceEncryptionContext: ec,
		DestinationKeyID: "alias/archive", DestinationEncryptionContext: ec,
	}); err != nil {
		return err
	}
	// 3. To a key of another account: only by key ARN or alias ARN.
	sharedARN := backends.AliasARN(svc.Partition(), svc.Region(), partnerAccount, "alias/shared")
	if err := step("to another account", backends.ReEncryptInput{
		SourceKeyID: "alias/archive", SourceEncryptionContext: ec,
		DestinationKeyID: sharedARN, DestinationEncryptionContext: ec,
	}); err != nil {
		return err
	}
	// 4. The same key, a new encryption context.
	newEC := map[string]string{"tenant": "acme", "purpose": "quickstart", "stage": "shared"}
	if err := step("under a new encryption context", backends.ReEncryptInput{
		SourceKeyID: shared, SourceEncryptionContext: ec,
		DestinationKeyID: shared, DestinationEncryptionContext: newEC,
	}); err != nil {
		return err
	}
	// 5. To a key held by a second key service (another provider).
	if err := step("to another key service", backends.ReEncryptInput{
		SourceKeyID: shared, SourceEncryptionContext: newEC,
		DestinationKeyID: remote, DestinationEncryptionContext: newEC,
	}); err != nil {
		return err
	}

	// 6. Decrypt where the data key ended up, and check it is the same data key.
	dec, err := kms.Decrypt(ctx, &backends.DecryptInput{KeyID: remote, CiphertextBlob: blob, EncryptionContext: newEC})
	if err != nil {
		return err
	}
	defer clear(dec.Plaintext)
	fmt.Fprintf(w, "decrypted with %s\n  same data key as generated: %v\n", dec.KeyID, bytes.Equal(dec.Plaintext, original))

	if !bytes.Equal(dec.Plaintext, original) {
		return fmt.Errorf("the data key changed on the way")
	}
	// The old context no longer opens it.
	_, err = kms.Decrypt(ctx, &backends.DecryptInput{KeyID: remote, CiphertextBlob: blob, EncryptionContext: ec})
	if !errors.Is(err, backends.ErrInvalidCiphertext) {
		return fmt.Errorf("decrypting with the old encryption context: got %v, want InvalidCiphertextException", err)
	}
	fmt.Fprintf(w, "decrypting with the old encryption context fails: %v\n", backends.KindOf(err).Name())
	return nil
}

// makeKey creates a key with the given policy (the default when empty) and alias,
// and returns its key ARN.
func makeKey(ctx context.Context, c *local.Client, alias, policy string) (string, error) {
	out, err := c.CreateKey(ctx, &local.CreateKeyInput{Description: alias, Policy: policy})
	if err != nil {
		return "", fmt.Errorf("create %s: %w", alias, err)
	}
	if err := c.CreateAlias(ctx, &local.CreateAliasInput{AliasName: alias, TargetKeyID: out.KeyMetadata.KeyID}); err != nil {
		return "", fmt.Errorf("alias %s: %w", alias, err)
	}
	return out.KeyMetadata.Arn, nil
}
