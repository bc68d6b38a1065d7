package kmsapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyport/keyport/kmsapi"
)

// TestCryptoOperations runs the cryptographic operations through aws-sdk-go-v2's
// KMS client and checks every output field.
func TestCryptoOperations(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	c := ts.client(akidA, east)
	k1, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("one")})
	mustOK(t, err)
	k2, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("two")})
	mustOK(t, err)
	arn1, arn2 := aws.ToString(k1.KeyMetadata.Arn), aws.ToString(k2.KeyMetadata.Arn)
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/one"), TargetKeyId: k1.KeyMetadata.KeyId})
	mustOK(t, err)
	ec := map[string]string{"tenant": "acme", "purpose": "test"}
	pt := []byte("a data key of thirty-two bytes!!")

	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/one"), Plaintext: pt, EncryptionContext: ec})
	mustOK(t, err)
	if aws.ToString(enc.KeyId) != arn1 || enc.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault || len(enc.CiphertextBlob) == 0 {
		t.Fatalf("Encrypt = {KeyId %s, %s, %d bytes}, want {KeyId %s, SYMMETRIC_DEFAULT, a blob}", aws.ToString(enc.KeyId), enc.EncryptionAlgorithm, len(enc.CiphertextBlob), arn1)
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	mustOK(t, err)
	if !bytes.Equal(dec.Plaintext, pt) || aws.ToString(dec.KeyId) != arn1 || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("Decrypt without KeyId = {KeyId %s, %s}, want the plaintext under %s", aws.ToString(dec.KeyId), dec.EncryptionAlgorithm, arn1)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "acme"}})
	wantAPIError(t, err, "InvalidCiphertextException")
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: aws.String(arn2)})
	wantAPIError(t, err, "IncorrectKeyException")

	re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		SourceKeyId: aws.String(arn1), DestinationKeyId: k2.KeyMetadata.KeyId, DestinationEncryptionContext: map[string]string{"new": "ctx"}})
	mustOK(t, err)
	if aws.ToString(re.SourceKeyId) != arn1 || aws.ToString(re.KeyId) != arn2 ||
		re.SourceEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault || re.DestinationEncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("ReEncrypt = {%s -> %s, %s -> %s}", aws.ToString(re.SourceKeyId), aws.ToString(re.KeyId), re.SourceEncryptionAlgorithm, re.DestinationEncryptionAlgorithm)
	}
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"new": "ctx"}, KeyId: aws.String(arn2)})
	mustOK(t, err)
	if !bytes.Equal(dec.Plaintext, pt) {
		t.Fatal("Decrypt of the re-encrypted blob: the plaintext differs")
	}
	_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, SourceEncryptionContext: ec,
		SourceKeyId: aws.String(arn2), DestinationKeyId: aws.String(arn2)})
	wantAPIError(t, err, "IncorrectKeyException")

	for _, tc := range []struct {
		in   *kms.GenerateDataKeyInput
		want int
	}{
		{&kms.GenerateDataKeyInput{KeyId: aws.String(arn1), KeySpec: types.DataKeySpecAes256}, 32},
		{&kms.GenerateDataKeyInput{KeyId: aws.String(arn1), KeySpec: types.DataKeySpecAes128}, 16},
		{&kms.GenerateDataKeyInput{KeyId: aws.String("alias/one"), NumberOfBytes: aws.Int32(1024), EncryptionContext: ec}, 1024},
	} {
		gdk, err := c.GenerateDataKey(ctx, tc.in)
		mustOK(t, err)
		if len(gdk.Plaintext) != tc.want || aws.ToString(gdk.KeyId) != arn1 {
			t.Fatalf("GenerateDataKey: %d bytes under %s, want %d under %s", len(gdk.Plaintext), aws.ToString(gdk.KeyId), tc.want, arn1)
		}
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: tc.in.EncryptionContext})
		mustOK(t, err)
		if !bytes.Equal(dec.Plaintext, gdk.Plaintext) {
			t.Fatal("GenerateDataKey: the blob does not decrypt to the plaintext data key")
		}
	}
	wp, err := c.GenerateDataKeyWithoutPlaintext(ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: aws.String(arn1), KeySpec: types.DataKeySpecAes256})
	mustOK(t, err)
	dec, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: wp.CiphertextBlob})
	mustOK(t, err)
	if len(dec.Plaintext) != 32 || aws.ToString(wp.KeyId) != arn1 {
		t.Fatalf("GenerateDataKeyWithoutPlaintext: a key of %d bytes under %s", len(dec.Plaintext), aws.ToString(wp.KeyId))
	}
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(arn1)})
	wantAPIError(t, err, "ValidationException")
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(arn1), KeySpec: types.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)})
	wantAPIError(t, err, "ValidationException")

	r1, err := c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(64)})
	mustOK(t, err)
	r2, err := c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(64)})
	mustOK(t, err)
	if len(r1.Plaintext) != 64 || bytes.Equal(r1.Plaintext, r2.Plaintext) {
		t.Fatalf("GenerateRandom: %d bytes, twice the same: %v", len(r1.Plaintext), bytes.Equal(r1.Plaintext, r2.Plaintext))
	}
	_, err = c.GenerateRandom(ctx, &kms.GenerateRandomInput{NumberOfBytes: aws.Int32(1025)})
	wantAPIError(t, err, "ValidationException")

	for _, dry := range []func() error{
		func() error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn1), Plaintext: pt, DryRun: aws.Bool(true)})
			return err
		},
		func() error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, DryRun: aws.Bool(true)})
			return err
		},
		func() error {
			_, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(arn1), KeySpec: types.DataKeySpecAes256, DryRun: aws.Bool(true)})
			return err
		},
	} {
		err := dry()
		wantAPIError(t, err, "DryRunOperationException")
	}
}

// TestKeyLifecycle runs the administrative operations through aws-sdk-go-v2 and
// checks their outputs and the errors AWS gives in each key state.
func TestKeyLifecycle(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	c := ts.client(akidA, east)
	before := time.Now().Add(-time.Second)
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("lifecycle")})
	mustOK(t, err)
	md := ck.KeyMetadata
	if aws.ToString(md.AWSAccountId) != accountA || md.KeyState != types.KeyStateEnabled || !md.Enabled ||
		md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || md.KeySpec != types.KeySpecSymmetricDefault ||
		md.KeyManager != types.KeyManagerTypeCustomer || md.Origin != types.OriginTypeAwsKms ||
		aws.ToString(md.Description) != "lifecycle" || md.CreationDate == nil || md.CreationDate.Before(before) ||
		len(md.EncryptionAlgorithms) != 1 || md.EncryptionAlgorithms[0] != types.EncryptionAlgorithmSpecSymmetricDefault ||
		aws.ToString(md.Arn) != fmt.Sprintf("arn:aws:kms:%s:%s:key/%s", east, accountA, aws.ToString(md.KeyId)) {
		t.Fatalf("CreateKey metadata = %+v", md)
	}
	id, arn := aws.ToString(md.KeyId), aws.ToString(md.Arn)
	dk, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	mustOK(t, err)
	if aws.ToString(dk.KeyMetadata.KeyId) != id || !dk.KeyMetadata.CreationDate.Equal(*md.CreationDate) {
		t.Fatalf("DescribeKey = %+v, want the metadata CreateKey gave", dk.KeyMetadata)
	}

	// Aliases.
	mustOK(t, err2(c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/life"), TargetKeyId: aws.String(id)})))
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/life"), TargetKeyId: aws.String(id)})
	wantAPIError(t, err, "AlreadyExistsException")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/reserved"), TargetKeyId: aws.String(id)})
	wantAPIError(t, err, "InvalidAliasNameException")
	other, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	mustOK(t, err)
	mustOK(t, err2(c.UpdateAlias(ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/life"), TargetKeyId: other.KeyMetadata.KeyId})))
	la, err := c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: other.KeyMetadata.KeyId})
	mustOK(t, err)
	if len(la.Aliases) != 1 || aws.ToString(la.Aliases[0].AliasName) != "alias/life" || aws.ToString(la.Aliases[0].TargetKeyId) != aws.ToString(other.KeyMetadata.KeyId) ||
		aws.ToString(la.Aliases[0].AliasArn) != "arn:aws:kms:us-east-1:111122223333:alias/life" || la.Truncated {
		t.Fatalf("ListAliases = %+v", la.Aliases)
	}
	mustOK(t, err2(c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/life")})))
	_, err = c.DeleteAlias(ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/life")})
	wantAPIError(t, err, "NotFoundException")

	// ListKeys, a page at a time.
	seen := map[string]bool{}
	var marker *string
	for pages := 0; ; pages++ {
		lk, err := c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(1), Marker: marker})
		mustOK(t, err)
		for _, k := range lk.Keys {
			seen[aws.ToString(k.KeyArn)] = true
		}
		if !lk.Truncated {
			break
		}
		if pages > 5 || lk.NextMarker == nil {
			t.Fatalf("ListKeys does not end: page %d, marker %v", pages, lk.NextMarker)
		}
		marker = lk.NextMarker
	}
	if len(seen) != 2 || !seen[arn] || !seen[aws.ToString(other.KeyMetadata.Arn)] {
		t.Fatalf("ListKeys listed %v, want the two keys of the account", seen)
	}
	_, err = c.ListKeys(ctx, &kms.ListKeysInput{Marker: aws.String("not a marker!")})
	wantAPIError(t, err, "InvalidMarkerException")

	// Key states.
	blob, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	mustOK(t, err)
	mustOK(t, err2(c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(id)})))
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("x")})
	wantAPIError(t, err, "DisabledException")
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
	wantAPIError(t, err, "DisabledException")
	mustOK(t, err2(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})))
	sk, err := c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(7)})
	mustOK(t, err)
	if aws.ToString(sk.KeyId) != arn || sk.KeyState != types.KeyStatePendingDeletion || aws.ToInt32(sk.PendingWindowInDays) != 7 ||
		sk.DeletionDate == nil || time.Until(*sk.DeletionDate) < 6*24*time.Hour {
		t.Fatalf("ScheduleKeyDeletion = %+v", sk)
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
	wantAPIError(t, err, "KMSInvalidStateException")
	_, err = c.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(id), PendingWindowInDays: aws.Int32(6)})
	wantAPIError(t, err, "ValidationException")
	dk, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	mustOK(t, err)
	if dk.KeyMetadata.KeyState != types.KeyStatePendingDeletion || dk.KeyMetadata.Enabled || dk.KeyMetadata.DeletionDate == nil {
		t.Fatalf("DescribeKey of a key pending deletion = %+v", dk.KeyMetadata)
	}
	cd, err := c.CancelKeyDeletion(ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(id)})
	mustOK(t, err)
	if aws.ToString(cd.KeyId) != arn {
		t.Fatalf("CancelKeyDeletion KeyId = %s, want %s", aws.ToString(cd.KeyId), arn)
	}
	dk, err = c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	mustOK(t, err)
	if dk.KeyMetadata.KeyState != types.KeyStateDisabled {
		t.Fatalf("after CancelKeyDeletion the key is %s, want Disabled", dk.KeyMetadata.KeyState)
	}
	mustOK(t, err2(c.EnableKey(ctx, &kms.EnableKeyInput{KeyId: aws.String(id)})))

	// Rotation.
	rs, err := c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	mustOK(t, err)
	if rs.KeyRotationEnabled {
		t.Fatal("a new key has rotation enabled")
	}
	mustOK(t, err2(c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(90)})))
	rs, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	mustOK(t, err)
	if !rs.KeyRotationEnabled || aws.ToInt32(rs.RotationPeriodInDays) != 90 || rs.NextRotationDate == nil || aws.ToString(rs.KeyId) != arn {
		t.Fatalf("GetKeyRotationStatus = %+v", rs)
	}
	_, err = c.EnableKeyRotation(ctx, &kms.EnableKeyRotationInput{KeyId: aws.String(id), RotationPeriodInDays: aws.Int32(89)})
	wantAPIError(t, err, "ValidationException")
	rot, err := c.RotateKeyOnDemand(ctx, &kms.RotateKeyOnDemandInput{KeyId: aws.String(id)})
	mustOK(t, err)
	if aws.ToString(rot.KeyId) != arn {
		t.Fatalf("RotateKeyOnDemand KeyId = %s", aws.ToString(rot.KeyId))
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob.CiphertextBlob})
	mustOK(t, err)
	if string(dec.Plaintext) != "x" {
		t.Fatal("a blob made before the rotation does not decrypt after it")
	}
	mustOK(t, err2(c.DisableKeyRotation(ctx, &kms.DisableKeyRotationInput{KeyId: aws.String(id)})))
	rs, err = c.GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(id)})
	mustOK(t, err)
	if rs.KeyRotationEnabled {
		t.Fatal("rotation still enabled after DisableKeyRotation")
	}

	// Unsupported kinds of keys.
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
	wantAPIError(t, err, "UnsupportedOperationException")
	_, err = c.CreateKey(ctx, &kms.CreateKeyInput{CustomKeyStoreId: aws.String("cks-1234567890abcdef0")})
	wantAPIError(t, err, "CustomKeyStoreNotFoundException")
}

func err2[T any](_ T, err error) error { return err }

// TestPoliciesAndGrants checks that key policies and grants decide who may use a
// key, as the principal ARN each access key maps to.
func TestPoliciesAndGrants(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	admin := ts.client(akidA, east)
	app := ts.client(akidApp, east)
	grantee := ts.client(akidG, east)
	ck, err := admin.CreateKey(ctx, &kms.CreateKeyInput{})
	mustOK(t, err)
	arn := aws.ToString(ck.KeyMetadata.Arn)

	gp, err := admin.GetKeyPolicy(ctx, &kms.GetKeyPolicyInput{KeyId: aws.String(arn)})
	mustOK(t, err)
	if aws.ToString(gp.PolicyName) != "default" || !strings.Contains(aws.ToString(gp.Policy), "arn:aws:iam::111122223333:root") {
		t.Fatalf("GetKeyPolicy = %s %s", aws.ToString(gp.PolicyName), aws.ToString(gp.Policy))
	}
	// The default policy lets every principal of the account in.
	enc, err := app.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("secret")})
	mustOK(t, err)
	// A policy that denies the app role Decrypt.
	deny := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Deny","Principal":{"AWS":"` + appARN + `"},"Action":"kms:Decrypt","Resource":"*"}]}`
	mustOK(t, err2(admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(arn), Policy: aws.String(deny)})))
	_, err = app.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantAPIError(t, err, "AccessDeniedException")
	if !strings.Contains(err.Error(), appARN) {
		t.Errorf("AccessDenied does not name the principal %s: %v", appARN, err)
	}
	_, err = admin.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	mustOK(t, err)
	_, err = admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(arn), Policy: aws.String(`{"Version":"2012-10-17","Statement":[]`)})
	wantAPIError(t, err, "MalformedPolicyDocumentException")
	lockout := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"` + appARN + `"},"Action":"kms:Encrypt","Resource":"*"}]}`
	_, err = admin.PutKeyPolicy(ctx, &kms.PutKeyPolicyInput{KeyId: aws.String(arn), Policy: aws.String(lockout)})
	wantAPIError(t, err, "MalformedPolicyDocumentException")

	// Grants: the grantee (another account) has nothing until granted.
	_, err = grantee.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("x")})
	wantAPIError(t, err, "AccessDeniedException")
	cg, err := admin.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(arn), GranteePrincipal: aws.String(granteeARN),
		Operations: []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt}, Name: aws.String("g1"),
		Constraints: &types.GrantConstraints{EncryptionContextSubset: map[string]string{"tenant": "acme"}}})
	mustOK(t, err)
	ec := map[string]string{"tenant": "acme"}
	genc, err := grantee.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("x"), EncryptionContext: ec, GrantTokens: []string{aws.ToString(cg.GrantToken)}})
	mustOK(t, err)
	_, err = grantee.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("x"), GrantTokens: []string{aws.ToString(cg.GrantToken)}})
	wantAPIError(t, err, "AccessDeniedException") // the constraint is not met
	_, err = grantee.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: []byte("x"), EncryptionContext: ec, GrantTokens: []string{"bogus"}})
	wantAPIError(t, err, "InvalidGrantTokenException")
	lg, err := admin.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(arn)})
	mustOK(t, err)
	if len(lg.Grants) != 1 {
		t.Fatalf("ListGrants: %d grants, want 1", len(lg.Grants))
	}
	g := lg.Grants[0]
	if aws.ToString(g.GrantId) != aws.ToString(cg.GrantId) || aws.ToString(g.KeyId) != arn || aws.ToString(g.Name) != "g1" ||
		aws.ToString(g.GranteePrincipal) != granteeARN || aws.ToString(g.IssuingAccount) != "arn:aws:iam::111122223333:root" ||
		len(g.Operations) != 2 || g.Constraints == nil || g.Constraints.EncryptionContextSubset["tenant"] != "acme" || g.CreationDate == nil {
		t.Fatalf("ListGrants entry = %+v", g)
	}
	mustOK(t, err2(admin.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(arn), GrantId: cg.GrantId})))
	_, err = grantee.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: genc.CiphertextBlob, EncryptionContext: ec})
	wantAPIError(t, err, "AccessDeniedException")
	_, err = admin.RevokeGrant(ctx, &kms.RevokeGrantInput{KeyId: aws.String(arn), GrantId: cg.GrantId})
	wantAPIError(t, err, "NotFoundException")

	// A grant the grantee retires itself, by token.
	cg2, err := admin.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(arn), GranteePrincipal: aws.String(granteeARN),
		RetiringPrincipal: aws.String(granteeARN), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	mustOK(t, err)
	mustOK(t, err2(grantee.RetireGrant(ctx, &kms.RetireGrantInput{GrantToken: cg2.GrantToken})))
	lg, err = admin.ListGrants(ctx, &kms.ListGrantsInput{KeyId: aws.String(arn)})
	mustOK(t, err)
	if len(lg.Grants) != 0 {
		t.Fatalf("ListGrants after RetireGrant: %d grants", len(lg.Grants))
	}
	_, err = admin.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(arn), GranteePrincipal: aws.String(granteeARN),
		Operations: []types.GrantOperation{types.GrantOperationDecrypt}, DryRun: aws.Bool(true)})
	wantAPIError(t, err, "UnsupportedOperationException")
}

// TestAccountsAndRegions checks that one server holds several accounts and
// regions: a key of another account is reached only by ARN and only where its
// policy allows, and each region has its own keys.
func TestAccountsAndRegions(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	a, b := ts.client(akidA, east), ts.client(akidB, east)
	shared := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*"],"Resource":"*"}]}`
	kb, err := b.CreateKey(ctx, &kms.CreateKeyInput{Policy: aws.String(shared)})
	mustOK(t, err)
	if aws.ToString(kb.KeyMetadata.AWSAccountId) != accountB {
		t.Fatalf("a key made by account B belongs to %s", aws.ToString(kb.KeyMetadata.AWSAccountId))
	}
	_, err = a.Encrypt(ctx, &kms.EncryptInput{KeyId: kb.KeyMetadata.KeyId, Plaintext: []byte("x")})
	wantAPIError(t, err, "NotFoundException") // a bare key ID resolves in the caller's account
	enc, err := a.Encrypt(ctx, &kms.EncryptInput{KeyId: kb.KeyMetadata.Arn, Plaintext: []byte("x")})
	mustOK(t, err)
	ka, err := a.CreateKey(ctx, &kms.CreateKeyInput{})
	mustOK(t, err)
	re, err := a.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: enc.CiphertextBlob, DestinationKeyId: ka.KeyMetadata.KeyId})
	mustOK(t, err)
	if aws.ToString(re.SourceKeyId) != aws.ToString(kb.KeyMetadata.Arn) || aws.ToString(re.KeyId) != aws.ToString(ka.KeyMetadata.Arn) {
		t.Fatalf("cross-account ReEncrypt: %s -> %s", aws.ToString(re.SourceKeyId), aws.ToString(re.KeyId))
	}
	_, err = b.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob})
	wantAPIError(t, err, "AccessDeniedException") // A's key: B has no permission

	w := ts.client(akidA, west)
	kw, err := w.CreateKey(ctx, &kms.CreateKeyInput{})
	mustOK(t, err)
	if !strings.HasPrefix(aws.ToString(kw.KeyMetadata.Arn), "arn:aws:kms:us-west-2:111122223333:key/") {
		t.Fatalf("a key made in us-west-2 has ARN %s", aws.ToString(kw.KeyMetadata.Arn))
	}
	_, err = a.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: kw.KeyMetadata.KeyId})
	wantAPIError(t, err, "NotFoundException") // us-east-1 does not hold it
	lk, err := w.ListKeys(ctx, &kms.ListKeysInput{})
	mustOK(t, err)
	if len(lk.Keys) != 1 {
		t.Fatalf("ListKeys in us-west-2: %d keys, want 1", len(lk.Keys))
	}
	_, err = ts.client(akidA, "eu-central-1").ListKeys(ctx, &kms.ListKeysInput{})
	wantAPIError(t, err, "InvalidSignatureException")
}

// TestAuthentication checks AWS's answers to unsigned and badly signed requests.
func TestAuthentication(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	status, body := ts.raw(t, "", "ListKeys", []byte("{}"), nil)
	if status != http.StatusBadRequest || body["__type"] != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned request: %d %v", status, body)
	}
	bad := kms.NewFromConfig(aws.Config{Region: east, HTTPClient: ts.Client(),
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: akidA, SecretAccessKey: "wrong"}, nil
		})}, func(o *kms.Options) { o.BaseEndpoint = aws.String(ts.URL); o.RetryMaxAttempts = 1 })
	_, err := bad.ListKeys(ctx, &kms.ListKeysInput{})
	wantAPIError(t, err, "InvalidSignatureException")
	_, err = ts.client("AKIDNOBODY", east).ListKeys(ctx, &kms.ListKeysInput{})
	wantAPIError(t, err, "UnrecognizedClientException")
	srv := newTestServer(t, func(o *kmsapi.Options) { o.Now = func() time.Time { return time.Now().Add(time.Hour) } })
	_, err = srv.client(akidA, east).ListKeys(ctx, &kms.ListKeysInput{})
	wantAPIError(t, err, "InvalidSignatureException")
	if !strings.Contains(err.Error(), "Signature expired") {
		t.Errorf("a request an hour old: %v, want Signature expired", err)
	}
}

// TestProtocolErrors sends requests the KMS API refuses and checks the status and
// __type of each answer.
func TestProtocolErrors(t *testing.T) {
	ts := newTestServer(t, func(o *kmsapi.Options) { o.MaxRequestBytes = 16 << 10 })
	for _, tc := range []struct {
		name, target string
		body         string
		mutate       func(*http.Request)
		status       int
		typ, msg     string
	}{
		{"UnknownTarget", "Frobnicate", `{}`, nil, 400, "UnknownOperationException", ""},
		{"OtherService", "", `{}`, func(r *http.Request) { r.Header.Set("X-Amz-Target", "DynamoDB_20120810.ListTables") }, 400, "UnknownOperationException", ""},
		{"NoTarget", "", `{}`, nil, 400, "UnknownOperationException", ""},
		{"WrongContentType", "ListKeys", `{}`, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, 400, "UnknownOperationException", ""},
		{"NotJSON", "ListKeys", `{"Limit":`, nil, 400, "SerializationException", ""},
		{"NotAnObject", "ListKeys", `[1,2]`, nil, 400, "SerializationException", ""},
		{"Null", "ListKeys", `null`, nil, 400, "SerializationException", ""},
		{"WrongType", "Encrypt", `{"KeyId":12,"Plaintext":"eA=="}`, nil, 400, "SerializationException", "KeyId"},
		{"NotBase64", "Encrypt", `{"KeyId":"k","Plaintext":"%%%"}`, nil, 400, "SerializationException", "Plaintext"},
		{"FractionalInteger", "GenerateRandom", `{"NumberOfBytes":1.5}`, nil, 400, "SerializationException", "NumberOfBytes"},
		{"MissingKeyId", "Encrypt", `{"Plaintext":"eA=="}`, nil, 400, "ValidationException",
			"1 validation error detected: Value null at 'keyId' failed to satisfy constraint: Member must not be null"},
		{"EmptyPlaintext", "Encrypt", `{"KeyId":"alias/x","Plaintext":""}`, nil, 400, "ValidationException",
			"Value at 'plaintext' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{"TwoViolations", "Encrypt", `{"KeyId":"","EncryptionAlgorithm":"ROT13","Plaintext":"eA=="}`, nil, 400, "ValidationException",
			"2 validation errors detected: Value '' at 'keyId' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value 'ROT13' at 'encryptionAlgorithm' failed to satisfy constraint: Member must satisfy enum value set: [SYMMETRIC_DEFAULT, RSAES_OAEP_SHA_1, RSAES_OAEP_SHA_256, SM2PKE]"},
		{"TooManyGrantTokens", "DescribeKey", `{"KeyId":"k","GrantTokens":["a","a","a","a","a","a","a","a","a","a","a"]}`, nil, 400, "ValidationException", "grantTokens"},
		{"BadAliasName", "CreateAlias", `{"AliasName":"alias/has space","TargetKeyId":"k"}`, nil, 400, "ValidationException", "regular expression"},
		{"CaseMatters", "DescribeKey", `{"keyid":"k"}`, nil, 400, "ValidationException", "'keyId'"},
		{"HugeContext", "Encrypt", `{"KeyId":"k","Plaintext":"eA==","EncryptionContext":{"a":"` + strings.Repeat("v", 9000) + `"}}`, nil, 400, "ValidationException", "'encryptionContext'"},
		{"UnknownMemberIgnored", "ListKeys", `{"Frobnicate":true}`, nil, 200, "", ""},
		{"EmptyBody", "ListKeys", ``, nil, 200, "", ""},
		{"TooLarge", "Encrypt", `{"KeyId":"k","Plaintext":"` + strings.Repeat("A", 20<<10) + `"}`, nil, 413, "RequestEntityTooLargeException", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := ts.raw(t, akidA, tc.target, []byte(tc.body), tc.mutate)
			if status != tc.status {
				t.Fatalf("status %d (%v), want %d", status, body, tc.status)
			}
			if tc.typ == "" {
				return
			}
			if body["__type"] != tc.typ {
				t.Fatalf("__type %v (%v), want %s", body["__type"], body["message"], tc.typ)
			}
			msg, _ := body["message"].(string)
			if !strings.Contains(msg, tc.msg) {
				t.Errorf("message %q does not contain %q", msg, tc.msg)
			}
		})
	}
}

// TestHealth answers GET /healthz without authentication, and a GET elsewhere
// with an error, never a 500.
func TestHealth(t *testing.T) {
	ts := newTestServer(t)
	resp, err := ts.Client().Get(ts.URL + "/healthz")
	mustOK(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: %d", resp.StatusCode)
	}
	resp, err = ts.Client().Get(ts.URL + "/")
	mustOK(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("GET /: %d, want 400", resp.StatusCode)
	}
}

// TestThrottling answers ThrottlingException once a principal's quota is spent,
// and leaves other principals alone.
func TestThrottling(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	slow := ts.client(akidSlow, east)
	var throttled int
	for range 5 {
		_, err := slow.ListKeys(ctx, &kms.ListKeysInput{})
		if err != nil {
			wantAPIError(t, err, "ThrottlingException")
			throttled++
		}
	}
	if throttled < 2 {
		t.Fatalf("%d of 5 immediate requests throttled with a quota of 1/s and bursts of 2; want at least 2", throttled)
	}
	for range 5 {
		_, err := ts.client(akidA, east).ListKeys(ctx, &kms.ListKeysInput{})
		mustOK(t, err)
	}
}

// TestAccessLog checks that the access log records each request (operation,
// principal, key, outcome) and no secret: no plaintext, data key, grant token,
// secret access key or signature.
func TestAccessLog(t *testing.T) {
	ts := newTestServer(t)
	ctx := context.Background()
	c := ts.client(akidA, east)
	ck, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	mustOK(t, err)
	arn := aws.ToString(ck.KeyMetadata.Arn)
	pt := []byte("plaintext-that-must-never-be-logged")
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: pt})
	mustOK(t, err)
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	mustOK(t, err)
	gdk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(arn), KeySpec: types.DataKeySpecAes256})
	mustOK(t, err)
	cg, err := c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(arn), GranteePrincipal: aws.String(granteeARN), Operations: []types.GrantOperation{types.GrantOperationEncrypt}})
	mustOK(t, err)
	_, err = c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(arn), Plaintext: pt, GrantTokens: []string{aws.ToString(cg.GrantToken) + "x"}})
	wantAPIError(t, err, "InvalidGrantTokenException")
	_, _ = ts.client(akidA, east).Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: []byte("junk")})

	log := ts.log.String()
	for _, want := range []string{`"op":"Encrypt"`, `"op":"Decrypt"`, `"op":"GenerateDataKey"`, `"key_id":"` + arn + `"`,
		`"principal":"arn:aws:iam::111122223333:root"`, `"error":"InvalidGrantTokenException"`, `"error":"InvalidCiphertextException"`, `"status":400`} {
		if !strings.Contains(log, want) {
			t.Errorf("the access log lacks %s", want)
		}
	}
	for name, secret := range map[string]string{
		"plaintext":             string(pt),
		"plaintext (base64)":    base64.StdEncoding.EncodeToString(pt),
		"data key (base64)":     base64.StdEncoding.EncodeToString(gdk.Plaintext),
		"ciphertext (base64)":   base64.StdEncoding.EncodeToString(enc.CiphertextBlob),
		"grant token":           aws.ToString(cg.GrantToken),
		"secret access key":     secretFor + akidA,
		"Authorization":         "Signature=",
		"AWS4-HMAC-SHA256 line": "Credential=",
	} {
		if strings.Contains(log, secret) {
			t.Errorf("the access log contains the %s", name)
		}
	}
}
