package kmsapi_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/kmstest"
	"github.com/keyport/keyport/kmsapi"
)

// TestExternalKeys puts two keys of another provider behind KMS keys of account
// A: the SDK encrypts, decrypts (with and without KeyId), makes data keys,
// describes, and re-encrypts between them and keys of backends/local in both
// directions, through reencrypt.Engine; other accounts are refused unless named,
// and administrative operations are refused.
func TestExternalKeys(t *testing.T) {
	// The other provider is a kmstest.Fake seen as a plain Backend (no
	// capability), so that the Front's fallbacks and the engine's
	// decrypt-then-encrypt path serve it.
	provider := kmstest.New("fake://orders", "fake://archive")
	front := new(backends.Front)
	mustOK(t, front.Register("fake", provider.Only(backends.Capabilities{})))
	ts := newTestServer(t, func(o *kmsapi.Options) {
		o.Front = front
		o.ExternalKeys = []kmsapi.ExternalKey{
			{Account: accountA, Region: east, Aliases: []string{"alias/ext-orders"}, URL: "fake://orders", Description: "orders, elsewhere"},
			{Account: accountA, Region: east, KeyID: "22222222-2222-4222-8222-000000000002", URL: "fake://archive", Principals: []string{accountB}},
		}
	})
	ctx := context.Background()
	c := ts.client(akidA, east)
	ec := map[string]string{"tenant": "acme"}
	pt := []byte("a secret that lives elsewhere")

	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/ext-orders"), Plaintext: pt, EncryptionContext: ec})
	mustOK(t, err)
	orders := aws.ToString(enc.KeyId)
	if !strings.HasPrefix(orders, "arn:aws:kms:us-east-1:111122223333:key/") {
		t.Fatalf("Encrypt under an external key names %s, want a key ARN of account A", orders)
	}
	archive := "arn:aws:kms:us-east-1:111122223333:key/22222222-2222-4222-8222-000000000002"
	for _, keyID := range []*string{nil, aws.String(orders), aws.String("alias/ext-orders"), aws.String("arn:aws:kms:us-east-1:111122223333:alias/ext-orders")} {
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: keyID})
		mustOK(t, err)
		if !bytes.Equal(dec.Plaintext, pt) || aws.ToString(dec.KeyId) != orders {
			t.Fatalf("Decrypt (KeyId %v): another plaintext or key %s", aws.ToString(keyID), aws.ToString(dec.KeyId))
		}
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "other"}})
	wantAPIError(t, err, "InvalidCiphertextException")
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec, KeyId: aws.String(archive)})
	wantAPIError(t, err, "IncorrectKeyException")
	tampered := bytes.Clone(enc.CiphertextBlob)
	tampered[len(tampered)-1] ^= 1
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: tampered, EncryptionContext: ec})
	wantAPIError(t, err, "InvalidCiphertextException")

	gdk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/ext-orders"), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
	mustOK(t, err)
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: gdk.CiphertextBlob, EncryptionContext: ec})
	mustOK(t, err)
	if len(gdk.Plaintext) != 32 || !bytes.Equal(dec.Plaintext, gdk.Plaintext) || aws.ToString(gdk.KeyId) != orders {
		t.Fatal("GenerateDataKey under an external key: the blob does not decrypt to the data key")
	}
	md, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/ext-orders")})
	mustOK(t, err)
	if aws.ToString(md.KeyMetadata.Arn) != orders || md.KeyMetadata.KeyState != types.KeyStateEnabled || aws.ToString(md.KeyMetadata.Description) != "orders, elsewhere" ||
		md.KeyMetadata.Origin != types.OriginTypeExternalKeyStore || md.KeyMetadata.XksKeyConfiguration == nil || aws.ToString(md.KeyMetadata.XksKeyConfiguration.Id) != "fake://orders" {
		t.Fatalf("DescribeKey of an external key = %+v", md.KeyMetadata)
	}
	// ListKeys and ListAliases list the external keys first, then the others,
	// a page at a time.
	if _, err := c.CreateKey(ctx, &kms.CreateKeyInput{}); err != nil {
		t.Fatal(err)
	}
	var listed []string
	var marker *string
	for range 5 {
		lk, err := c.ListKeys(ctx, &kms.ListKeysInput{Limit: aws.Int32(2), Marker: marker})
		mustOK(t, err)
		for _, k := range lk.Keys {
			listed = append(listed, aws.ToString(k.KeyArn))
		}
		if !lk.Truncated {
			break
		}
		marker = lk.NextMarker
	}
	if len(listed) != 3 || listed[0] != orders || listed[1] != archive || strings.Contains(listed[2], "22222222") {
		t.Fatalf("ListKeys by pages of 2: %v, want the two external keys, then the key of backends/local", listed)
	}
	la, err := c.ListAliases(ctx, &kms.ListAliasesInput{})
	mustOK(t, err)
	if len(la.Aliases) != 1 || aws.ToString(la.Aliases[0].AliasName) != "alias/ext-orders" || aws.ToString(la.Aliases[0].TargetKeyId) != strings.TrimPrefix(orders, "arn:aws:kms:us-east-1:111122223333:key/") {
		t.Fatalf("ListAliases = %+v", la.Aliases)
	}
	la, err = c.ListAliases(ctx, &kms.ListAliasesInput{KeyId: aws.String(orders)})
	mustOK(t, err)
	if len(la.Aliases) != 1 || aws.ToString(la.Aliases[0].AliasArn) != "arn:aws:kms:us-east-1:111122223333:alias/ext-orders" {
		t.Fatalf("ListAliases of an external key = %+v", la.Aliases)
	}

	// ReEncrypt: external -> external, external -> local, local -> external.
	local, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	mustOK(t, err)
	localARN := aws.ToString(local.KeyMetadata.Arn)
	steps := []struct{ from, to, wantSrc, wantDst string }{
		{"", archive, orders, archive},
		{archive, aws.ToString(local.KeyMetadata.KeyId), archive, localARN},
		{"", "alias/ext-orders", localARN, orders},
	}
	blob := enc.CiphertextBlob
	for _, st := range steps {
		in := &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec, DestinationKeyId: aws.String(st.to), DestinationEncryptionContext: ec}
		if st.from != "" {
			in.SourceKeyId = aws.String(st.from)
		}
		re, err := c.ReEncrypt(ctx, in)
		if err != nil {
			t.Fatalf("ReEncrypt %s -> %s: %v", st.wantSrc, st.wantDst, err)
		}
		if aws.ToString(re.SourceKeyId) != st.wantSrc || aws.ToString(re.KeyId) != st.wantDst {
			t.Fatalf("ReEncrypt = %s -> %s, want %s -> %s", aws.ToString(re.SourceKeyId), aws.ToString(re.KeyId), st.wantSrc, st.wantDst)
		}
		blob = re.CiphertextBlob
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec})
		mustOK(t, err)
		if !bytes.Equal(dec.Plaintext, pt) || aws.ToString(dec.KeyId) != st.wantDst {
			t.Fatalf("Decrypt after ReEncrypt to %s: another plaintext or key", st.wantDst)
		}
	}
	_, err = c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceKeyId: aws.String(archive), SourceEncryptionContext: ec, DestinationKeyId: aws.String(localARN)})
	wantAPIError(t, err, "IncorrectKeyException")

	// Other accounts: refused unless the key names them.
	b := ts.client(akidB, east)
	_, err = b.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(orders), Plaintext: pt})
	wantAPIError(t, err, "AccessDeniedException")
	_, err = b.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(archive), Plaintext: pt})
	mustOK(t, err)
	_, err = b.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/ext-orders"), Plaintext: pt})
	wantAPIError(t, err, "NotFoundException") // an alias name resolves in the caller's account

	// The lifecycle is the provider's.
	_, err = c.DisableKey(ctx, &kms.DisableKeyInput{KeyId: aws.String(orders)})
	wantAPIError(t, err, "UnsupportedOperationException")
	_, err = c.CreateGrant(ctx, &kms.CreateGrantInput{KeyId: aws.String(archive), GranteePrincipal: aws.String(granteeARN), Operations: []types.GrantOperation{types.GrantOperationDecrypt}})
	wantAPIError(t, err, "UnsupportedOperationException")
	_, err = c.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/ext-orders"), TargetKeyId: local.KeyMetadata.KeyId})
	wantAPIError(t, err, "UnsupportedOperationException")

	// The server wiped every plaintext it handed the provider or got from it.
	provider.WantWiped(t)
}

// TestExternalKeyConfig refuses external keys that cannot be served.
func TestExternalKeyConfig(t *testing.T) {
	front := new(backends.Front)
	for name, keys := range map[string][]kmsapi.ExternalKey{
		"NoRegion":   {{Account: accountA, Region: "eu-north-1", URL: "fake://x"}},
		"BadAccount": {{Account: "123", Region: east, URL: "fake://x"}},
		"NoURL":      {{Account: accountA, Region: east}},
		"BadAlias":   {{Account: accountA, Region: east, URL: "fake://x", Aliases: []string{"orders"}}},
		"BadKeyID":   {{Account: accountA, Region: east, URL: "fake://x", KeyID: "not a key id"}},
		"SameAlias":  {{Account: accountA, Region: east, URL: "fake://x", Aliases: []string{"alias/a"}}, {Account: accountA, Region: east, URL: "fake://y", Aliases: []string{"alias/a"}}},
		// One provider key behind two KMS keys (here of two accounts): the
		// ARN before the provider's ciphertext is not authenticated, so a
		// caller of one could relabel the other's ciphertexts.
		"SameURL": {{Account: accountA, Region: east, URL: "fake://x"}, {Account: accountB, Region: east, URL: "fake://x"}},
	} {
		opts := kmsapi.Options{Services: testServices(), Principals: testPrincipals(), Front: front, ExternalKeys: keys}
		if _, err := kmsapi.New(opts); err == nil {
			t.Errorf("%s: New accepted %+v", name, keys)
		}
	}
	if _, err := kmsapi.New(kmsapi.Options{Services: testServices(), ExternalKeys: []kmsapi.ExternalKey{{Account: accountA, Region: east, URL: "fake://x"}}}); err == nil {
		t.Error("New accepted external keys without a Front")
	}
}
