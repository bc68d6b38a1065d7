package local_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/conformance"
)

// The accounts of the conformance harness: the caller's, another account of the
// same service (native cross-account ReEncrypt), the account of a second service
// (another provider), and an account whose principal holds only a grant.
const (
	confAccount      = "111122223333"
	confOtherAccount = "444455556666"
	confOtherService = "777788889999"
	confGranteeAcct  = "999900001111"
	confGrantee      = "arn:aws:iam::999900001111:role/conformance-grantee"
	confAliasA       = "alias/conformance-key-a"
	confReAccount    = "123412341234"
	confReEncryptor  = "arn:aws:iam::123412341234:role/conformance-reencryptor"
)

// TestConformance runs the conformance suite against backends/local.
func TestConformance(t *testing.T) {
	conformance.Run(t, conformance.HarnessFunc(localHarness))
}

// localHarness makes the fixture: one Service holding the caller's account and a
// second account whose key the caller may use by ARN, and a second Service standing
// in for another provider.
func localHarness(ctx context.Context, t *testing.T) *conformance.Fixture {
	svc := local.New()
	other := local.New()
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("closing the service: %v", err)
		}
		if err := other.Close(); err != nil {
			t.Errorf("closing the other service: %v", err)
		}
	})
	c := svc.Client(local.Identity{Account: confAccount})

	keyA := confCreateKey(ctx, t, c, "")
	if err := c.CreateAlias(ctx, &local.CreateAliasInput{AliasName: confAliasA, TargetKeyID: keyA}); err != nil {
		t.Fatalf("CreateAlias: %v", err)
	}
	keyB := confCreateKey(ctx, t, c, "")

	disabled := confCreateKey(ctx, t, c, "")
	disabledBlob := confEncrypt(ctx, t, c, disabled)
	if err := c.DisableKey(ctx, &local.DisableKeyInput{KeyID: disabled}); err != nil {
		t.Fatalf("DisableKey: %v", err)
	}
	pending := confCreateKey(ctx, t, c, "")
	pendingBlob := confEncrypt(ctx, t, c, pending)
	if _, err := c.ScheduleKeyDeletion(ctx, &local.ScheduleKeyDeletionInput{KeyID: pending, PendingWindowInDays: 7}); err != nil {
		t.Fatalf("ScheduleKeyDeletion: %v", err)
	}

	// A key of another account whose policy lets the caller's account use it.
	cross := confCreateKey(ctx, t, svc.Client(local.Identity{Account: confOtherAccount}), fmt.Sprintf(
		`{"Version":"2012-10-17","Statement":[`+
			`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"},`+
			`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}]}`,
		confOtherAccount, confAccount))

	oc := other.Client(local.Identity{Account: confOtherService})
	otherKey := confCreateKey(ctx, t, oc, "")

	ref, err := backends.ParseKeyRef(keyA)
	if err != nil {
		t.Fatalf("KeyA %q: %v", keyA, err)
	}
	return &conformance.Fixture{
		Backend: c,
		KeyA:    keyA,
		KeyB:    keyB,
		KeyAForms: []string{
			ref.KeyID, keyA, confAliasA,
			backends.AliasARN(ref.Partition, ref.Region, ref.Account, confAliasA),
		},
		Disabled:                  disabled,
		PendingDeletion:           pending,
		DisabledCiphertext:        disabledBlob,
		PendingDeletionCiphertext: pendingBlob,
		Unknown:                   backends.KeyARN(ref.Partition, ref.Region, confAccount, confUUID(t)),
		CrossAccountKey:           cross,
		Other:                     oc,
		OtherKey:                  otherKey,
		// backends/local is in-process: its own error type is *backends.Error.
		ErrorAs: func(err error) bool {
			var e *backends.Error
			return errors.As(err, &e)
		},
		Rotate: func(ctx context.Context, keyID string) error {
			_, err := c.RotateKeyOnDemand(ctx, &local.RotateKeyOnDemandInput{KeyID: keyID})
			return err
		},
		ReEncryptCaller: func(ctx context.Context, from, to string) (backends.Backend, error) {
			for _, p := range []struct{ key, action string }{{from, "kms:ReEncryptFrom"}, {to, "kms:ReEncryptTo"}} {
				policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[`+
					`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::%s:root"},"Action":"kms:*","Resource":"*"},`+
					`{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"%s","Resource":"*"}]}`, confAccount, confReEncryptor, p.action)
				if err := c.PutKeyPolicy(ctx, &local.PutKeyPolicyInput{KeyID: p.key, Policy: policy}); err != nil {
					return nil, err
				}
			}
			return svc.Client(local.Identity{Account: confReAccount, Principal: confReEncryptor}), nil
		},
		Grant: func(ctx context.Context, keyID string) (backends.Backend, string, error) {
			out, err := c.CreateGrant(ctx, &local.CreateGrantInput{
				KeyID:            keyID,
				GranteePrincipal: confGrantee,
				Operations:       []local.GrantOperation{local.GrantEncrypt, local.GrantDecrypt},
				Name:             "conformance",
			})
			if err != nil {
				return nil, "", err
			}
			return svc.Client(local.Identity{Account: confGranteeAcct, Principal: confGrantee}), out.GrantToken, nil
		},
	}
}

// confCreateKey makes a key with policy (empty: the default) and returns its ARN.
func confCreateKey(ctx context.Context, t *testing.T, c *local.Client, policy string) string {
	t.Helper()
	out, err := c.CreateKey(ctx, &local.CreateKeyInput{Description: "conformance", Policy: policy})
	if err != nil {
		t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata.Arn
}

// confEncrypt returns a blob of key, with no encryption context.
func confEncrypt(ctx context.Context, t *testing.T, c *local.Client, key string) []byte {
	t.Helper()
	out, err := c.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: []byte("conformance")})
	if err != nil {
		t.Fatalf("Encrypt under %s: %v", key, err)
	}
	return out.CiphertextBlob
}

// confUUID returns a random key ID that no key has.
func confUUID(t *testing.T) string {
	t.Helper()
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
