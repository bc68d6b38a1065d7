package cli

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keyport/keyport"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/conformance/kmsendpoint"
)

// principalFlags name one principal of the endpoint: its access key ID, the
// environment variable that holds its secret, and its ARN.
type principalFlags struct {
	id, secretEnv, arn string
}

func (p *principalFlags) register(c *cobra.Command, prefix, what, defSecretEnv string, withARN bool) {
	c.Flags().StringVar(&p.id, prefix+"access-key-id", "", "access key `ID` of "+what)
	c.Flags().StringVar(&p.secretEnv, prefix+"secret-env", defSecretEnv, "environment `variable` holding the secret access key of "+what)
	if withARN {
		c.Flags().StringVar(&p.arn, prefix+"arn", "", "principal `ARN` of "+what)
	}
}

func (p *principalFlags) principal() (kmsendpoint.Principal, error) {
	if p.id == "" {
		return kmsendpoint.Principal{ARN: p.arn}, nil
	}
	secret := os.Getenv(p.secretEnv)
	if secret == "" {
		return kmsendpoint.Principal{}, usagef("the secret access key of %s: %s is empty", p.id, p.secretEnv)
	}
	return kmsendpoint.Principal{AccessKeyID: p.id, SecretAccessKey: secret, ARN: p.arn}, nil
}

const conformanceLong = `keyport conformance runs keyport's conformance suite (the checks every keyport
backend passes, with the semantics of AWS KMS) against TARGET and prints a
compatibility report: each check passed, failed (with what the service
answered against what AWS KMS answers), or not applicable, and the known
deviations from AWS KMS that the failures show (found by running the suite once
more with each deviation declared). The exit status is 1 when a check failed.

TARGET is a server of the AWS KMS API (http:// or https://: AWS KMS itself,
keyport serve, local-kms, LocalStack, ...) or a key URL keyport opens
(vault://transit/orders, ...).

For a KMS API server the run makes the keys it needs (two keys, an alias, a
disabled key, a key pending deletion) as the principal --access-key-id, and
deletes them afterwards (aliases at once, keys scheduled for deletion after 7
days). The other principals are optional; each one missing makes the checks
that need it not applicable. For a key URL, --key-b names a second key.`

func newConformanceCmd(a *app) *cobra.Command {
	var (
		region, account, caBundle           string
		otherAccount, otherEndpoint         string
		otherRegion, otherRegionEndpoint    string
		rotate                              bool
		caller, other, grantee, reencryptor principalFlags
		keyB, unknown                       string
	)
	c := &cobra.Command{
		Use:   "conformance TARGET",
		Short: "Check a KMS API server or a key against AWS KMS semantics",
		Long:  conformanceLong,
		Example: `  AWS_SECRET_ACCESS_KEY=... keyport conformance https://127.0.0.1:4599 --ca-bundle ca.pem \
      --account 111122223333 --access-key-id AKIDAPP --rotate
  keyport conformance http://127.0.0.1:8080 --account 111122223333 --access-key-id x --output json
  keyport conformance vault://transit/orders --key-b vault://transit/archive`,
		Args:        cobra.ExactArgs(1),
		Annotations: map[string]string{"noConfig": "1"},
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			target := args[0]
			var f *conformance.Fixture
			var err error
			if strings.HasPrefix(target, "http://") || strings.HasPrefix(target, "https://") {
				o := kmsendpoint.Options{Endpoint: target, Region: region, Account: account, OtherAccount: otherAccount,
					OtherAccountEndpoint: otherEndpoint, OtherRegion: otherRegion, OtherRegionEndpoint: otherRegionEndpoint, Rotate: rotate}
				if o.Caller, err = caller.principal(); err != nil {
					return err
				}
				if o.Caller.AccessKeyID == "" || !backends.IsAccountID(account) {
					return usagef("a KMS API server needs --access-key-id and --account (12 digits)")
				}
				for _, p := range []struct {
					f  *principalFlags
					to *kmsendpoint.Principal
				}{{&other, &o.OtherCaller}, {&grantee, &o.Grantee}, {&reencryptor, &o.ReEncryptor}} {
					if *p.to, err = p.f.principal(); err != nil {
						return err
					}
				}
				if caBundle != "" {
					pem, err := os.ReadFile(caBundle)
					if err != nil {
						return usagef("--ca-bundle: %v", err)
					}
					pool := x509.NewCertPool()
					if !pool.AppendCertsFromPEM(pem) {
						return usagef("--ca-bundle %s holds no PEM certificate", caBundle)
					}
					o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
				}
				if f, err = kmsendpoint.Fixture(ctx, o); err != nil {
					return err
				}
			} else if f, err = keyURLFixture(ctx, target, keyB, unknown); err != nil {
				return err
			}
			rep, err := conformance.Check(ctx, target, f)
			if err != nil {
				return err
			}
			if a.json() {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				err = enc.Encode(rep)
			} else {
				err = rep.WriteText(a.stdout)
			}
			if err != nil {
				return err
			}
			if rep.Failed > 0 {
				return errReported
			}
			return nil
		}),
	}
	fl := c.Flags()
	fl.StringVar(&region, "region", "us-east-1", "`region` the requests are signed for")
	fl.StringVar(&account, "account", "", "AWS `account` ID of the caller (12 digits)")
	fl.StringVar(&caBundle, "ca-bundle", "", "PEM `file` of the certificates to trust for https:// (keyport serve's self-signed one)")
	caller.register(c, "", "the caller", "AWS_SECRET_ACCESS_KEY", false)
	fl.StringVar(&otherAccount, "other-account", "", "a second `account` of the server, for cross-account checks")
	other.register(c, "other-", "the second account's caller", "KEYPORT_OTHER_SECRET_ACCESS_KEY", false)
	fl.StringVar(&otherEndpoint, "other-account-endpoint", "", "`URL` of the second account when it has an endpoint of its own (local-kms)")
	fl.StringVar(&otherRegion, "other-region", "", "a second `region` of the caller's account, for the checks across providers")
	fl.StringVar(&otherRegionEndpoint, "other-region-endpoint", "", "`URL` of the second region when it has an endpoint of its own")
	grantee.register(c, "grantee-", "a principal of another account with no access, for the grant checks", "KEYPORT_GRANTEE_SECRET_ACCESS_KEY", true)
	reencryptor.register(c, "reencryptor-", "a principal of another account that the run lets only re-encrypt", "KEYPORT_REENCRYPTOR_SECRET_ACCESS_KEY", true)
	fl.BoolVar(&rotate, "rotate", false, "the server rotates keys on demand (RotateKeyOnDemand)")
	fl.StringVar(&keyB, "key-b", "", "a second key `URL`, for a key URL TARGET")
	fl.StringVar(&unknown, "unknown", "", "a key `URL` that names no key, for a key URL TARGET (default: TARGET with its last part replaced)")
	return c
}

// keyURLFixture prepares the suite for two keys named by URLs, through a Front
// with every in-tree driver's opener.
func keyURLFixture(ctx context.Context, keyA, keyB, unknown string) (*conformance.Fixture, error) {
	if keyB == "" {
		return nil, usagef("a key URL TARGET needs --key-b, a second key")
	}
	if unknown == "" {
		i := strings.LastIndex(keyA, "/")
		if i < 0 {
			return nil, usagef("give --unknown, a key URL that names no key")
		}
		var b [6]byte
		_, _ = rand.Read(b[:])
		unknown = fmt.Sprintf("%s/no-such-key-%x", keyA[:i], b) // nothing the suite's secrets contain
	}
	front := keyport.NewFront()
	defer front.Close()
	canonical := func(k string) (string, error) {
		out, err := front.Encrypt(ctx, &backends.EncryptInput{KeyID: k, Plaintext: []byte("keyport conformance")})
		if err != nil {
			return "", err
		}
		return out.KeyID, nil
	}
	a, err := canonical(keyA)
	if err != nil {
		return nil, err
	}
	b, err := canonical(keyB)
	if err != nil {
		return nil, err
	}
	return &conformance.Fixture{Front: front, KeyA: a, KeyB: b, KeyAForms: []string{keyA, a}, Unknown: unknown}, nil
}
