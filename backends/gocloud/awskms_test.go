package gocloud_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/smithy-go"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/awskms"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gocloud"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/reencrypt"
)

// The keys scripts/test.sh seeds in local-kms A (account 111122223333, us-east-1).
const (
	seededA = "arn:aws:kms:us-east-1:111122223333:key/11111111-1111-4111-8111-000000000001"
	seededB = "arn:aws:kms:us-east-1:111122223333:key/11111111-1111-4111-8111-000000000002"
)

// awsEnv points the AWS SDK's default configuration, which gocloud's awskms URL
// opener loads, at local-kms A with static credentials, and returns the URL of
// the key arn as gocloud names it.
func awsEnv(t *testing.T) func(arn string) string {
	ep := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	t.Setenv("AWS_ENDPOINT_URL_KMS", ep)
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	return func(arn string) string { return "awskms:///" + arn + "?region=us-east-1" }
}

// awsMux returns a URL mux with gocloud's own awskms URL opener.
func awsMux() *secrets.URLMux {
	mux := new(secrets.URLMux)
	mux.RegisterKeeper(awskms.Scheme, &awskms.URLOpener{})
	return mux
}

// TestConformanceAWSKMS runs the conformance suite against the gocloud backend
// over gocloud's awskms keepers, opened from awskms:// URLs by gocloud's own URL
// opener, against local-kms.
func TestConformanceAWSKMS(t *testing.T) {
	key := awsEnv(t)
	conformance.Run(t, conformance.HarnessFunc(func(ctx context.Context, t *testing.T) *conformance.Fixture {
		b := gocloud.New(gocloud.Options{URLMux: awsMux(), BindContext: true})
		t.Cleanup(func() { _ = b.Close() })
		// The second provider: keyport's embedded service, in an account of its
		// own (local-kms A holds 111122223333).
		other, otherKey := localKeysIn(ctx, t, "444455556666", 1)
		return &conformance.Fixture{
			Backend:   b,
			KeyA:      seededA,
			KeyAForms: []string{seededA, key(seededA), "awskms:///" + seededA},
			KeyB:      seededB,
			Unknown:   "arn:aws:kms:us-east-1:111122223333:key/11111111-1111-4111-8111-00000000dead",
			Other:     other,
			OtherKey:  otherKey[0],
			ErrorAs: func(err error) bool {
				var api smithy.APIError
				return errors.As(err, &api)
			},
			Deviations: append([]conformance.Deviation{
				// gocloud's keeper decrypts without a KeyId, and AWS KMS then
				// decrypts with whichever key the blob names.
				conformance.DeviationDecryptKeyIDIgnored,
				// BindContext takes 33 of AWS KMS's 4096 bytes of plaintext.
				conformance.DeviationSmallPlaintextLimit,
				// local-kms, asked without a KeyId, reads the key from the
				// blob's unauthenticated header: a damaged key ARN is
				// AccessDenied, not InvalidCiphertext (AWS authenticates it).
				conformance.DeviationTamperKindMisreported,
			}, gocloudDeviations...),
		}
	}))
}

// TestAWSKMSKeeperThroughFront re-encrypts through a Front that opens gocloud's
// awskms keepers, from and to every reference to one key, and decrypts by each:
// a Front hands its drivers the ARN an AWS key URL holds.
func TestAWSKMSKeeperThroughFront(t *testing.T) {
	key := awsEnv(t)
	f := backends.NewFront(nil)
	b := gocloud.New(gocloud.Options{URLMux: awsMux(), BindContext: true})
	defer b.Close()
	if err := f.RegisterOpener(awskms.Scheme, b); err != nil {
		t.Fatal(err)
	}
	kmstest.WantReEncryptForms(t, reencrypt.New(f), f, map[string]string{"via": "gocloud"}, seededA, false, seededA, key(seededA), "awskms:///"+seededA)
}

// TestAWSCanonicalID: an AWS KMS key is named by its ARN, whether it was given
// as the ARN or as an awskms:///<ARN> URL that configures nothing else.
func TestAWSCanonicalID(t *testing.T) {
	alias := "arn:aws:kms:us-east-1:111122223333:alias/orders"
	for in, want := range map[string]string{
		seededA:                seededA,
		alias:                  alias,
		"awskms:///" + seededA: seededA,
		"awskms:///" + seededA + "?region=us-east-1": seededA,
		"AWSKMS:///" + alias + "?region=us-east-1":   alias,
		// Anything else the URL says keeps it a URL of its own.
		"awskms:///" + seededA + "?region=eu-west-1":                  "awskms:///" + seededA + "?region=eu-west-1",
		"awskms:///" + seededA + "?region=us-east-1&profile=p":        "awskms:///" + seededA + "?region=us-east-1&profile=p",
		"awskms:///" + seededA + "?region=us-east-1&region=us-east-1": "awskms:///" + seededA + "?region=us-east-1&region=us-east-1",
		"awskms://alias/orders?region=us-east-1":                      "awskms://alias/orders?region=us-east-1",
		"awskms:///11111111-1111-4111-8111-000000000001":              "awskms:///11111111-1111-4111-8111-000000000001",
		"hashivault://" + seededA:                                     "hashivault://" + seededA,
	} {
		if got := gocloud.CanonicalID(in); got != want {
			t.Errorf("CanonicalID(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestAWSPlaintextLimit: with BindContext an AWS KMS keeper takes 4063 bytes of
// plaintext; a longer one is refused before anything is sent (local-kms would
// quote it back in its error).
func TestAWSPlaintextLimit(t *testing.T) {
	// No service: nothing here may reach one.
	t.Setenv("AWS_ENDPOINT_URL_KMS", "http://127.0.0.1:1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	b := gocloud.New(gocloud.Options{URLMux: awsMux(), BindContext: true})
	defer b.Close()
	for _, key := range []string{seededA, "awskms:///" + seededA + "?region=us-east-1&rate_limiter_capacity=100"} {
		_, err := b.Encrypt(context.Background(), &backends.EncryptInput{KeyID: key, Plaintext: make([]byte, 4064)})
		kmstest.WantKind(t, err, backends.ErrInvalidArgument, "Encrypt of 4064 bytes by "+key)
		if err != nil && !strings.Contains(err.Error(), "at most 4063") {
			t.Errorf("the error does not say the limit: %v", err)
		}
	}
	// Without BindContext nothing is added, and the Front's 4096 bytes stand:
	// the call goes out (and finds no service).
	plain := gocloud.New(gocloud.Options{URLMux: awsMux()})
	defer plain.Close()
	_, err := plain.Encrypt(context.Background(), &backends.EncryptInput{KeyID: seededA, Plaintext: make([]byte, 4064)})
	if backends.KindOf(err) == backends.ErrInvalidArgument {
		t.Errorf("without BindContext 4064 bytes were refused: %v", err)
	}
}
