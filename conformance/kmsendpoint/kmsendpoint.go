// Package kmsendpoint prepares the conformance suite for any server of the AWS
// KMS API (AWS KMS itself, keyport serve, local-kms, LocalStack, moto, a vendor's
// gateway): it makes the keys the suite needs through the API, in the states it
// needs, with the principals it is given, and deletes them afterwards (aliases at
// once, keys scheduled for deletion after the shortest waiting period).
//
// The suite reaches the server through backends/awskms, so what it checks is what
// an application written for AWS KMS with aws-sdk-go-v2 sees.
package kmsendpoint

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/smithy-go"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/conformance"
)

// Principal is a caller of the server: its credentials and, where the suite
// names it in a grant or a key policy, its ARN.
type Principal struct {
	AccessKeyID, SecretAccessKey, SessionToken string
	// ARN is the principal's ARN (for Grantee and ReEncryptor).
	ARN string
}

// Options say where the server is and whom the suite may act as. Only Endpoint,
// Region, Account and Caller are required; each optional field left empty makes
// the subtests that need it not applicable.
type Options struct {
	// Endpoint is the server's base URL; Region the region the requests are
	// signed for; HTTPClient, if set, sends them (a custom CA, for example).
	Endpoint, Region string
	HTTPClient       *http.Client
	// Account is the caller's account (12 digits); Caller its principal, which
	// may do everything with the keys it makes.
	Account string
	Caller  Principal
	// OtherAccount and OtherCaller: a second account of the same service, whose
	// key the caller may use by ARN (cross-account re-encryption).
	// OtherAccountEndpoint is its endpoint when the server serves one account
	// per endpoint (local-kms); empty means Endpoint.
	OtherAccount         string
	OtherCaller          Principal
	OtherAccountEndpoint string
	// OtherRegion is a second region of the caller's account, the "other
	// provider" of the engine's subtests; OtherRegionEndpoint its endpoint when it
	// is not Endpoint.
	OtherRegion, OtherRegionEndpoint string
	// Grantee is a principal of another account, with no access of its own, that
	// the suite grants Encrypt and Decrypt to (the Grants subtest).
	Grantee Principal
	// ReEncryptor is a principal of another account that the suite lets only
	// re-encrypt, through key policies (the Authorization subtest).
	ReEncryptor Principal
	// Rotate says the server rotates keys on demand (RotateKeyOnDemand).
	Rotate bool
}

// Fixture makes the keys and returns the fixture of the suite. Its Close deletes
// what Fixture made.
func Fixture(ctx context.Context, o Options) (f *conformance.Fixture, err error) {
	if o.Endpoint == "" || o.Region == "" || !backends.IsAccountID(o.Account) || o.Caller.AccessKeyID == "" {
		return nil, errors.New("kmsendpoint: Endpoint, Region, Account (12 digits) and Caller are required")
	}
	h := &harness{o: o}
	defer func() {
		if err != nil {
			h.cleanup()
		}
	}()
	var extra []awskms.Option
	if o.OtherAccount != "" && o.OtherAccountEndpoint != "" {
		extra = append(extra, awskms.WithAccountEndpoint(o.OtherAccount, o.Region, o.OtherAccountEndpoint))
	}
	if o.OtherRegion != "" && o.OtherRegionEndpoint != "" {
		extra = append(extra, awskms.WithRegionEndpoint(o.OtherRegion, o.OtherRegionEndpoint))
	}
	a, err := h.backend(o.Caller, o.Region, o.Account, o.Endpoint, extra...)
	if err != nil {
		return nil, err
	}
	admin := a.Client()
	newKey := func(c *kms.Client, policy string) (string, []byte, error) {
		in := &kms.CreateKeyInput{Description: aws.String("keyport conformance (deleted when the run ends)")}
		if policy != "" {
			in.Policy = aws.String(policy)
		}
		k, err := c.CreateKey(ctx, in)
		if err != nil {
			return "", nil, fmt.Errorf("kmsendpoint: CreateKey: %w", err)
		}
		arn := aws.ToString(k.KeyMetadata.Arn)
		h.made(c, arn)
		enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("made before the state change")})
		if err != nil {
			return "", nil, fmt.Errorf("kmsendpoint: Encrypt: %w", err)
		}
		return arn, enc.CiphertextBlob, nil
	}
	keyA, _, err := newKey(admin, "")
	if err != nil {
		return nil, err
	}
	keyB, _, err := newKey(admin, "")
	if err != nil {
		return nil, err
	}
	alias := "alias/keyport-conformance-" + randomHex(6)
	if _, err := admin.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String(alias), TargetKeyId: aws.String(keyA)}); err != nil {
		return nil, fmt.Errorf("kmsendpoint: CreateAlias: %w", err)
	}
	h.aliases = append(h.aliases, alias)
	disabled, disabledBlob, err := newKey(admin, "")
	if err != nil {
		return nil, err
	}
	if _, err := admin.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(disabled)}); err != nil {
		return nil, fmt.Errorf("kmsendpoint: DisableKey: %w", err)
	}
	pending, pendingBlob, err := newKey(admin, "")
	if err != nil {
		return nil, err
	}
	if _, err := admin.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(pending), PendingWindowInDays: aws.Int32(7)}); err != nil {
		return nil, fmt.Errorf("kmsendpoint: ScheduleKeyDeletion: %w", err)
	}
	ref, err := backends.ParseKeyRef(keyA)
	if err != nil {
		return nil, fmt.Errorf("kmsendpoint: the key ARN %q the server gave: %w", keyA, err)
	}
	front := backends.NewFront(a)
	if err := a.Register(front); err != nil {
		return nil, err
	}
	f = &conformance.Fixture{
		Front: front, KeyA: keyA, KeyB: keyB,
		KeyAForms: []string{ref.KeyID, keyA, alias, backends.AliasARN(ref.Partition, ref.Region, ref.Account, alias)},
		Disabled:  disabled, DisabledCiphertext: disabledBlob, PendingDeletion: pending, PendingDeletionCiphertext: pendingBlob,
		Unknown: backends.KeyARN(ref.Partition, ref.Region, o.Account, uuid()),
		ErrorAs: func(err error) bool {
			var api smithy.APIError
			return errors.As(err, &api)
		},
		Close: h.cleanup,
	}
	if o.OtherAccount != "" && o.OtherCaller.AccessKeyID != "" {
		b, err := h.backend(o.OtherCaller, o.Region, o.OtherAccount, cmp.Or(o.OtherAccountEndpoint, o.Endpoint))
		if err != nil {
			return nil, err
		}
		f.CrossAccountKey, _, err = newKey(b.Client(), fmt.Sprintf(`{"Version":"2012-10-17","Statement":[`+
			`{"Effect":"Allow","Principal":{"AWS":"arn:%s:iam::%s:root"},"Action":"kms:*","Resource":"*"},`+
			`{"Effect":"Allow","Principal":{"AWS":"arn:%s:iam::%s:root"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}]}`,
			ref.Partition, o.OtherAccount, ref.Partition, o.Account))
		if err != nil {
			return nil, err
		}
		if err := a.RegisterAccount(front, o.OtherAccount, o.Region); err != nil {
			return nil, err
		}
	}
	if o.OtherRegion != "" {
		other, err := h.backend(o.Caller, o.OtherRegion, o.Account, cmp.Or(o.OtherRegionEndpoint, o.Endpoint))
		if err != nil {
			return nil, err
		}
		if f.OtherKey, _, err = newKey(other.Client(), ""); err != nil {
			return nil, err
		}
		f.Other = other
		if err := other.RegisterAccount(front, o.Account, o.OtherRegion); err != nil {
			return nil, err
		}
	}
	if o.Rotate {
		f.Rotate = func(ctx context.Context, keyID string) error {
			_, err := admin.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(keyID)})
			return err
		}
	}
	if o.Grantee.ARN != "" {
		grantee, err := h.backend(o.Grantee, o.Region, "", o.Endpoint)
		if err != nil {
			return nil, err
		}
		f.Grant = func(ctx context.Context, keyID string) (backends.Backend, string, error) {
			out, err := admin.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(keyID), GranteePrincipal: aws.String(o.Grantee.ARN),
				Operations: []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt}, Name: aws.String("keyport-conformance")})
			if err != nil {
				return nil, "", err
			}
			return grantee, aws.ToString(out.GrantToken), nil
		}
	}
	if o.ReEncryptor.ARN != "" {
		re, err := h.backend(o.ReEncryptor, o.Region, "", o.Endpoint)
		if err != nil {
			return nil, err
		}
		f.ReEncryptCaller = func(ctx context.Context, from, to string) (backends.Backend, error) {
			for _, p := range []struct{ key, action string }{{from, "kms:ReEncryptFrom"}, {to, "kms:ReEncryptTo"}} {
				policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[`+
					`{"Effect":"Allow","Principal":{"AWS":"arn:%s:iam::%s:root"},"Action":"kms:*","Resource":"*"},`+
					`{"Effect":"Allow","Principal":{"AWS":"%s"},"Action":"%s","Resource":"*"}]}`, ref.Partition, o.Account, o.ReEncryptor.ARN, p.action)
				if _, err := admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(p.key), Policy: aws.String(policy)}); err != nil {
					return nil, err
				}
			}
			return re, nil
		}
	}
	return f, nil
}

// harness keeps what Fixture made, to delete it.
type harness struct {
	o       Options
	mu      sync.Mutex
	keys    []madeKey
	aliases []string
	admin   *kms.Client
	once    sync.Once
}

type madeKey struct {
	c   *kms.Client
	arn string
}

func (h *harness) made(c *kms.Client, arn string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.admin == nil {
		h.admin = c
	}
	h.keys = append(h.keys, madeKey{c, arn})
}

// cleanup deletes the aliases and schedules the keys for deletion; a key already
// pending deletion stays so. Failures are ignored: the keys are the run's own.
func (h *harness) cleanup() {
	h.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, a := range h.aliases {
			if h.admin != nil {
				_, _ = h.admin.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String(a)})
			}
		}
		for _, k := range h.keys {
			_, _ = k.c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(k.arn), PendingWindowInDays: aws.Int32(7)})
		}
	})
}

// backend returns a backends/awskms Backend acting as p in region at endpoint.
func (h *harness) backend(p Principal, region, account, endpoint string, extra ...awskms.Option) (*awskms.Backend, error) {
	cfg := aws.Config{Region: region, Credentials: credentials.NewStaticCredentialsProvider(p.AccessKeyID, p.SecretAccessKey, p.SessionToken)}
	opts := append([]awskms.Option{awskms.WithEndpoint(endpoint)}, extra...)
	if h.o.HTTPClient != nil {
		opts = append(opts, awskms.WithHTTPClient(h.o.HTTPClient))
	}
	if account != "" {
		opts = append(opts, awskms.WithAccount(account))
	}
	return awskms.NewFromConfig(cfg, opts...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// uuid returns a random key ID that no key has.
func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
