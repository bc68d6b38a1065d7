package kmsapi_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/conformance"
	"github.com/keyport/keyport/kmsapi"
)

// TestConformance runs the conformance suite through backends/awskms (and so
// aws-sdk-go-v2) against the server: AWS KMS semantics end to end over the wire.
// The principal of the ReEncryptCaller hook: it may only re-encrypt.
const (
	akidRe         = "AKIDREENCRYPTOR"
	accountRe      = "123412341234"
	reEncryptorARN = "arn:aws:iam::123412341234:role/reencryptor"
)

func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(serverHarness))
}

func serverHarness(ctx context.Context, t *testing.T) *conformance.Fixture {
	ts := newTestServer(t, func(o *kmsapi.Options) {
		o.Principals = append(o.Principals, kmsapi.Principal{AccessKeyID: akidRe, SecretAccessKey: secretFor + akidRe, Account: accountRe, ARN: reEncryptorARN})
	})
	backend := func(akid, region, account string) *awskms.Backend {
		b, err := awskms.NewFromConfig(ts.config(akid, region), awskms.WithEndpoint(ts.URL), awskms.WithAccount(account))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := backend(akidA, east, accountA)
	other := backend(akidA, west, accountA)
	admin := ts.client(akidA, east)

	newKey := func(c *kms.Client, policy string) (string, []byte) {
		in := &kms.CreateKeyInput{Description: aws.String("conformance")}
		if policy != "" {
			in.Policy = aws.String(policy)
		}
		k, err := c.CreateKey(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.Arn, Plaintext: []byte("made before the state change")})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(k.KeyMetadata.Arn), enc.CiphertextBlob
	}
	keyA, _ := newKey(admin, "")
	keyB, _ := newKey(admin, "")
	const aliasA = "alias/conformance-a"
	if _, err := admin.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(aliasA), TargetKeyId: aws.String(keyA)}); err != nil {
		t.Fatal(err)
	}
	disabled, disabledBlob := newKey(admin, "")
	if _, err := admin.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(disabled)}); err != nil {
		t.Fatal(err)
	}
	pending, pendingBlob := newKey(admin, "")
	if _, err := admin.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(pending), PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	cross, _ := newKey(ts.client(akidB, east), fmt.Sprintf(`{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"},`+
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}]}`,
		accountB, accountA))
	otherKey, _ := newKey(ts.client(akidA, west), "")

	r := new(backends.Front)
	r.SetDefault(a)
	for _, err := range []error{a.Register(r), other.RegisterAccount(r, accountA, west), a.RegisterAccount(r, accountB, east)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	ref, err := backends.ParseKeyRef(keyA)
	if err != nil {
		t.Fatal(err)
	}
	return &conformance.Fixture{
		Backend: a,
		KeyA:    keyA,
		KeyB:    keyB,
		KeyAForms: []string{ref.KeyID, keyA, aliasA, backends.AliasARN("aws", east, accountA, aliasA),
			"awskms:///" + aliasA + "?region=" + east},
		Disabled:                  disabled,
		DisabledCiphertext:        disabledBlob,
		PendingDeletion:           pending,
		PendingDeletionCiphertext: pendingBlob,
		Unknown:                   backends.KeyARN("aws", east, accountA, "11111111-1111-4111-8111-00000000dead"),
		CrossAccountKey:           cross,
		Other:                     other,
		OtherKey:                  otherKey,
		Front:                     r,
		ErrorAs: func(err error) bool {
			var api smithy.APIError
			return errors.As(err, &api)
		},
		ReEncryptCaller: func(ctx context.Context, from, to string) (backends.Backend, error) {
			for _, p := range []struct{ key, action string }{{from, "kms:ReEncryptFrom"}, {to, "kms:ReEncryptTo"}} {
				policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[`+
					`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"},`+
					`{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"%s","Resource":"*"}]}`, accountA, reEncryptorARN, p.action)
				if _, err := admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(p.key), Policy: aws.String(policy)}); err != nil {
					return nil, err
				}
			}
			return backend(akidRe, east, accountRe), nil
		},
		Rotate: func(ctx context.Context, keyID string) error {
			_, err := admin.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(keyID)})
			return err
		},
		Grant: func(ctx context.Context, keyID string) (backends.Backend, string, error) {
			out, err := admin.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyID), GranteePrincipal: aws.String(granteeARN),
				Operations: []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt}, Name: aws.String("conformance")})
			if err != nil {
				return nil, "", err
			}
			return backend(akidG, east, accountG), aws.ToString(out.GrantToken), nil
		},
	}
}
