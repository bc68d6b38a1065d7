package awskms_test

import (
	"context"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
)

// A Backend against AWS, with the SDK's usual configuration, registered with a
// Router so that key ARNs of the account and awskms URIs reach it.
func ExampleNewFromConfig() {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx, config.WithRegion("eu-west-1"))
	if err != nil {
		log.Fatal(err)
	}
	kp, err := awskms.NewFromConfig(cfg, awskms.WithAccount("111122223333"))
	if err != nil {
		log.Fatal(err)
	}
	r := new(backends.Front)
	r.SetDefault(kp)
	if err := kp.Register(r); err != nil {
		log.Fatal(err)
	}
	out, err := r.Encrypt(ctx, &backends.EncryptInput{
		KeyID:             "alias/orders",
		Plaintext:         []byte("a 32-byte data key, say........."),
		EncryptionContext: map[string]string{"order": "1234"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.KeyID) // the key ARN
}

// A Backend against local-kms processes: one per account and region.
func ExampleWithEndpoint() {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}
	kp, err := awskms.NewFromConfig(cfg,
		awskms.WithEndpoint("http://127.0.0.1:8080"),                                     // account 111122223333, us-east-1
		awskms.WithRegionEndpoint("us-west-2", "http://127.0.0.1:8081"),                  // the same account in us-west-2
		awskms.WithAccountEndpoint("444455556666", "us-east-1", "http://127.0.0.1:8082"), // another account's process
		awskms.WithAccount("111122223333"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(kp.Region(), kp.Account())
	// Output: us-east-1 111122223333
}

// Key references in every form the Backend takes, and multi-Region key replicas.
func ExampleParseKeyID() {
	for _, ref := range []string{
		"alias/orders",
		"awskms:///alias/orders?region=eu-west-1",
		"arn:aws:kms:us-west-2:111122223333:key/mrk-0123456789abcdef0123456789abcdef",
	} {
		t, err := awskms.ParseKeyID(ref)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s | region %q | %s\n", t.KeyID, t.Region, t.Ref.Form)
	}
	east := "arn:aws:kms:us-east-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef"
	west, _ := awskms.ReplicaARN(east, "us-west-2")
	fmt.Println(backends.MRKMatch(east, west))
	// Output:
	// alias/orders | region "" | alias name
	// alias/orders | region "eu-west-1" | alias name
	// arn:aws:kms:us-west-2:111122223333:key/mrk-0123456789abcdef0123456789abcdef | region "us-west-2" | key ARN
	// true
}
