package kmsapi_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/backends/vault"
	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/internal/vaulttest"
	"github.com/keyport/keyport/kmsapi"
)

// vaultKeys mounts a fresh Transit engine on the Vault dev server, makes the keys
// named, and returns a Front that reaches them and their vault:// URLs.
func vaultKeys(t *testing.T, names ...string) (*backends.Front, []string) {
	t.Helper()
	root, mount := vaulttest.Transit(t, "kmsapi-")
	ctx := context.Background()
	var urls []string
	for _, n := range names {
		_, err := root.Logical().WriteWithContext(ctx, mount+"/keys/"+n, nil)
		mustOK(t, err)
		urls = append(urls, "vault://"+mount+"/"+n)
	}
	vb, err := vault.New(vault.Options{Client: root})
	mustOK(t, err)
	front := new(backends.Front)
	mustOK(t, vb.Register(front))
	return front, urls
}

// TestVaultBehindKMS: KMS keys of account A whose keys live in Vault Transit.
// The SDK encrypts under alias/vault-orders and the ciphertext inside is Vault's;
// it decrypts without a KeyId, re-encrypts to the other Vault key and to a key
// of backends/local and back, through reencrypt.Engine.
func TestVaultBehindKMS(t *testing.T) {
	front, urls := vaultKeys(t, "orders", "archive")
	ts := newTestServer(t, func(o *kmsapi.Options) {
		o.Front = front
		o.ExternalKeys = []kmsapi.ExternalKey{
			{Account: accountA, Region: east, Aliases: []string{"alias/vault-orders"}, URL: urls[0]},
			{Account: accountA, Region: east, Aliases: []string{"alias/vault-archive"}, URL: urls[1]},
		}
	})
	ctx := context.Background()
	c := ts.client(akidA, east)
	ec := map[string]string{"tenant": "acme"}
	pt := []byte("orders are kept in Vault")
	enc, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String("alias/vault-orders"), Plaintext: pt, EncryptionContext: ec})
	mustOK(t, err)
	if !bytes.Contains(enc.CiphertextBlob, []byte("vault:v1:")) {
		t.Fatal("the ciphertext of alias/vault-orders holds no Vault Transit ciphertext")
	}
	dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: ec})
	mustOK(t, err)
	if !bytes.Equal(dec.Plaintext, pt) || aws.ToString(dec.KeyId) != aws.ToString(enc.KeyId) {
		t.Fatal("Decrypt of a Vault-backed ciphertext: another plaintext or key")
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "other"}})
	wantAPIError(t, err, "InvalidCiphertextException")
	md, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/vault-archive")})
	mustOK(t, err)
	if !md.KeyMetadata.Enabled {
		t.Errorf("DescribeKey of a Vault-backed key: %+v", md.KeyMetadata)
	}
	lk, err := c.CreateKey(ctx, &kms.CreateKeyInput{})
	mustOK(t, err)
	blob := enc.CiphertextBlob
	for _, dst := range []string{"alias/vault-archive", aws.ToString(lk.KeyMetadata.Arn), "alias/vault-orders"} {
		re, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceEncryptionContext: ec, DestinationKeyId: aws.String(dst), DestinationEncryptionContext: ec})
		if err != nil {
			t.Fatalf("ReEncrypt to %s: %v", dst, err)
		}
		blob = re.CiphertextBlob
		dec, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String(dst)})
		mustOK(t, err)
		if !bytes.Equal(dec.Plaintext, pt) {
			t.Fatalf("Decrypt after ReEncrypt to %s: another plaintext", dst)
		}
	}
}

// TestAWSCLIVault is the issue's example: `aws kms encrypt --key-id
// alias/vault-orders` reaches Vault Transit, and `aws kms decrypt` brings the
// plaintext back.
func TestAWSCLIVault(t *testing.T) {
	bin := testenv.Require(t, "KEYPORT_AWSCLI", "the AWS CLI v2 (Debian awscli)")
	front, urls := vaultKeys(t, "orders")
	srv, err := kmsapi.New(kmsapi.Options{Services: []*local.Service{local.New()}, Principals: testPrincipals(), Front: front,
		ExternalKeys: []kmsapi.ExternalKey{{Account: accountA, Region: east, Aliases: []string{"alias/vault-orders"}, URL: urls[0]}}})
	mustOK(t, err)
	addr := serve(t, srv, nil)
	dir := t.TempDir()
	cli := &awsCLI{bin: bin, endpoint: "http://" + addr, dir: dir}
	pt := []byte("sent by the AWS CLI to Vault")
	mustOK(t, os.WriteFile(filepath.Join(dir, "pt.bin"), pt, 0o600))
	enc := cli.ok(t, akidA, "encrypt", "--key-id", "alias/vault-orders", "--plaintext", "fileb://pt.bin")
	blob, err := base64.StdEncoding.DecodeString(str(enc, "CiphertextBlob"))
	mustOK(t, err)
	if !strings.Contains(string(blob), "vault:v1:") {
		t.Fatal("the CLI's ciphertext holds no Vault Transit ciphertext")
	}
	mustOK(t, os.WriteFile(filepath.Join(dir, "ct.bin"), blob, 0o600))
	dec := cli.ok(t, akidA, "decrypt", "--ciphertext-blob", "fileb://ct.bin")
	if got, _ := base64.StdEncoding.DecodeString(str(dec, "Plaintext")); !bytes.Equal(got, pt) || str(dec, "KeyId") != str(enc, "KeyId") {
		t.Fatalf("aws kms decrypt: another plaintext or key (%s)", str(dec, "KeyId"))
	}
}
