package kmsapi_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/kmsapi"
)

// An application written for AWS KMS talks to keyport's key service through the
// AWS SDK, unchanged but for the endpoint and the credentials.
func Example() {
	svc := local.New(local.WithRegion("eu-west-1"))
	defer svc.Close()
	srv, err := kmsapi.New(kmsapi.Options{
		Services: []*local.Service{svc},
		Principals: []kmsapi.Principal{{
			AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "example-secret",
			Account: "111122223333", ARN: "arn:aws:iam::111122223333:role/app",
		}},
	})
	if err != nil {
		log.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	defer ts.Close()

	ctx := context.Background()
	client := kms.NewFromConfig(aws.Config{
		Region:      "eu-west-1",
		Credentials: credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "example-secret", ""),
	}, func(o *kms.Options) { o.BaseEndpoint = aws.String(ts.URL) })

	key, err := client.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("orders")})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := client.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/orders"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		log.Fatal(err)
	}
	ec := map[string]string{"tenant": "acme"}
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/orders"), Plaintext: []byte("hello"), EncryptionContext: ec})
	if err != nil {
		log.Fatal(err)
	}
	dec, err := client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(dec.Plaintext), aws.ToString(dec.KeyId) == aws.ToString(key.KeyMetadata.Arn))
	_, err = client.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	fmt.Println(err != nil)
	// Output:
	// hello true
	// true
}
