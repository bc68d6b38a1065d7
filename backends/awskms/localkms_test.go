package awskms_test

import (
	"context"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/internal/testenv"
)

// The fixed keys of testdata/seed-*.yaml.
const (
	accountA = "111122223333"
	accountB = "444455556666"
	east     = "us-east-1"
	west     = "us-west-2"

	keyPrimary   = "11111111-1111-4111-8111-000000000001"
	keySecondary = "11111111-1111-4111-8111-000000000002"
	keyDisabled  = "11111111-1111-4111-8111-000000000003"
	keyPending   = "11111111-1111-4111-8111-000000000004" // scheduled for deletion by prepare
	keyRotated   = "11111111-1111-4111-8111-000000000006"
	keyRSA       = "11111111-1111-4111-8111-000000000007"
	keyECC       = "11111111-1111-4111-8111-000000000008"
	keyMRK       = "mrk-0123456789abcdef0123456789abcdef"
	keyBPrimary  = "44444444-4444-4444-8444-000000000001"
	keyBSecond   = "44444444-4444-4444-8444-000000000002"
	keyCPrimary  = "22222222-2222-4222-8222-000000000001"

	aliasPrimary = "alias/keyport/primary"
)

func arnA(id string) string { return backends.KeyARN("aws", east, accountA, id) }
func arnB(id string) string { return backends.KeyARN("aws", east, accountB, id) }
func arnC(id string) string { return backends.KeyARN("aws", west, accountA, id) }

func staticConfig(region string) aws.Config {
	return aws.Config{
		Region:      region,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "local-kms-does-not-check", ""),
	}
}

// localA returns a Backend for account A (us-east-1) that reaches the us-west-2
// process for ARNs of that region.
func localA(t testing.TB) *awskms.Backend {
	t.Helper()
	a := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	c := testenv.Require(t, "KEYPORT_LOCALKMS_C", "local-kms")
	b, err := awskms.NewFromConfig(staticConfig(east), awskms.WithEndpoint(a),
		awskms.WithRegionEndpoint(west, c), awskms.WithAccount(accountA))
	if err != nil {
		t.Fatal(err)
	}
	prepare(t, b)
	return b
}

// localB returns a Backend for account B (us-east-1).
func localB(t testing.TB) *awskms.Backend {
	t.Helper()
	ep := testenv.Require(t, "KEYPORT_LOCALKMS_B", "local-kms")
	b, err := awskms.NewFromConfig(staticConfig(east), awskms.WithEndpoint(ep), awskms.WithAccount(accountB))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	prepareOnce sync.Once
	prepareErr  error
	// keyImport is a key of origin EXTERNAL without key material (PendingImport),
	// made by prepare: local-kms seeds such keys in state Enabled and then panics
	// when they are used.
	keyImport string
)

// prepare puts the keys that a seed cannot describe into their states: key 3
// disabled, key 4 pending deletion, and makes keyImport. The state changes are
// idempotent across test runs on the same local-kms data.
func prepare(t testing.TB, b *awskms.Backend) {
	t.Helper()
	prepareOnce.Do(func() {
		ctx := context.Background()
		c := b.Client()
		if _, err := c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(keyDisabled)}); err != nil {
			prepareErr = err
			return
		}
		md, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(keyPending)})
		if err != nil {
			prepareErr = err
			return
		}
		if md.KeyMetadata.DeletionDate == nil {
			if _, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{
				KeyId: aws.String(keyPending), PendingWindowInDays: aws.Int32(7)}); err != nil {
				prepareErr = err
				return
			}
		}
		ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Origin: types.OriginTypeExternal, Description: aws.String("keyport test: pending import")})
		if err != nil {
			prepareErr = err
			return
		}
		keyImport = aws.ToString(ck.KeyMetadata.KeyId)
	})
	if prepareErr != nil {
		t.Fatalf("preparing local-kms keys: %v", prepareErr)
	}
}
