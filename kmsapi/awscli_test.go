package kmsapi_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/kmsapi"
)

// awsCLI runs the Debian AWS CLI v2 (by its packaged path) against a server.
type awsCLI struct {
	bin, endpoint, caBundle, dir string
}

// run runs `aws kms ARGS` as the principal akid in us-east-1 and returns its
// standard output, standard error and exit status.
func (a *awsCLI) run(t *testing.T, akid string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, a.bin, append([]string{"kms", "--endpoint-url", a.endpoint, "--output", "json"}, args...)...)
	cmd.Dir = a.dir
	cmd.Env = []string{
		"PATH=/usr/bin:/bin", "HOME=" + a.dir, "AWS_ACCESS_KEY_ID=" + akid, "AWS_SECRET_ACCESS_KEY=" + secretFor + akid,
		"AWS_DEFAULT_REGION=" + east, "AWS_CA_BUNDLE=" + a.caBundle, "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1",
		"AWS_CONFIG_FILE=" + filepath.Join(a.dir, "no-config"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(a.dir, "no-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("aws %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), errb.String(), code
}

// ok runs the command, fails t unless it succeeds, and decodes its JSON output
// (nil for none).
func (a *awsCLI) ok(t *testing.T, akid string, args ...string) map[string]any {
	t.Helper()
	out, errOut, code := a.run(t, akid, args...)
	if code != 0 {
		t.Fatalf("aws kms %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	if strings.TrimSpace(out) == "" {
		return nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("aws kms %s: output is not JSON: %q", strings.Join(args, " "), out)
	}
	return m
}

// fails runs the command and fails t unless the CLI reports the service error
// code, as it reports AWS's ("An error occurred (CODE) when calling the OP
// operation: ...", exit status 254).
func (a *awsCLI) fails(t *testing.T, akid, code string, args ...string) {
	t.Helper()
	_, errOut, status := a.run(t, akid, args...)
	if status != 254 || !strings.Contains(errOut, "An error occurred ("+code+") when calling the ") {
		t.Fatalf("aws kms %s: exit %d, %q; want exit 254 and %s", strings.Join(args, " "), status, errOut, code)
	}
}

// shape fails t unless m has exactly the members want (AWS's documented output).
func shape(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s output members %v, want AWS's %v", what, got, want)
	}
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// TestAWSCLI drives the Debian AWS CLI v2 through a scripted session over TLS
// (a self-signed certificate given as AWS_CA_BUNDLE): create-key, create-alias,
// encrypt and decrypt with fileb://, re-encrypt to another account's key by ARN,
// grants, a key policy that denies, a disabled key and rotation; every output
// has the members of AWS's documented examples, as this CLI prints them (it
// follows list markers itself and prints only the members its model knows:
// awscli 2.9.19 predates PolicyName in get-key-policy, RotationPeriodInDays in
// get-key-rotation-status and rotate-key-on-demand).
func TestAWSCLI(t *testing.T) {
	bin := testenv.Require(t, "KEYPORT_AWSCLI", "the AWS CLI v2 (Debian awscli)")
	dir := t.TempDir()
	cfg, certPEM, err := kmsapi.SelfSignedTLS(time.Hour)
	mustOK(t, err)
	caBundle := filepath.Join(dir, "ca.pem")
	mustOK(t, os.WriteFile(caBundle, certPEM, 0o600))
	svc := local.New()
	t.Cleanup(func() { _ = svc.Close() }) // after the server stops
	srv, err := kmsapi.New(kmsapi.Options{Services: []*local.Service{svc}, Principals: testPrincipals()})
	mustOK(t, err)
	aws := &awsCLI{bin: bin, endpoint: "https://" + serve(t, srv, cfg), caBundle: caBundle, dir: dir}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	sdk := kms.NewFromConfig(sdkaws.Config{Region: east, Credentials: credentials.NewStaticCredentialsProvider(akidA, secretFor+akidA, ""),
		HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}},
		func(o *kms.Options) { o.BaseEndpoint = sdkaws.String(aws.endpoint) })

	// create-key and describe-key: AWS's KeyMetadata.
	keyMembers := []string{"AWSAccountId", "Arn", "CreationDate", "CustomerMasterKeySpec", "Description", "Enabled",
		"EncryptionAlgorithms", "KeyId", "KeyManager", "KeySpec", "KeyState", "KeyUsage", "MultiRegion", "Origin"}
	ck := aws.ok(t, akidA, "create-key", "--description", "cli session")
	shape(t, "create-key", ck, "KeyMetadata")
	md, _ := ck["KeyMetadata"].(map[string]any)
	shape(t, "create-key KeyMetadata", md, keyMembers...)
	keyID, keyARN := str(md, "KeyId"), str(md, "Arn")
	if md["KeyState"] != "Enabled" || md["Enabled"] != true || md["AWSAccountId"] != accountA || !strings.HasSuffix(keyARN, ":key/"+keyID) {
		t.Fatalf("create-key KeyMetadata = %v", md)
	}
	if _, err := time.Parse(time.RFC3339, str(md, "CreationDate")); err != nil {
		t.Errorf("CreationDate %q is not a timestamp the CLI formats: %v", md["CreationDate"], err)
	}
	dk := aws.ok(t, akidA, "describe-key", "--key-id", keyARN)
	shape(t, "describe-key KeyMetadata", dk["KeyMetadata"].(map[string]any), keyMembers...)

	// create-alias (no output), list-aliases.
	if out := aws.ok(t, akidA, "create-alias", "--alias-name", "alias/cli", "--target-key-id", keyID); out != nil {
		t.Errorf("create-alias printed %v, want nothing", out)
	}
	la := aws.ok(t, akidA, "list-aliases", "--key-id", keyID)
	shape(t, "list-aliases", la, "Aliases")
	aliases, _ := la["Aliases"].([]any)
	if len(aliases) != 1 {
		t.Fatalf("list-aliases: %v", aliases)
	}
	shape(t, "list-aliases entry", aliases[0].(map[string]any), "AliasName", "AliasArn", "TargetKeyId")
	lk := aws.ok(t, akidA, "list-keys")
	shape(t, "list-keys", lk, "Keys")

	// encrypt and decrypt with fileb:// (binary, not base64, on the way in).
	pt := []byte{0, 1, 2, 0xfe, 0xff, 'k', 'e', 'y', 'p', 'o', 'r', 't'}
	mustOK(t, os.WriteFile(filepath.Join(dir, "pt.bin"), pt, 0o600))
	enc := aws.ok(t, akidA, "encrypt", "--key-id", "alias/cli", "--plaintext", "fileb://pt.bin", "--encryption-context", "tenant=acme")
	shape(t, "encrypt", enc, "CiphertextBlob", "KeyId", "EncryptionAlgorithm")
	if str(enc, "KeyId") != keyARN || str(enc, "EncryptionAlgorithm") != "SYMMETRIC_DEFAULT" {
		t.Errorf("encrypt = %v", enc)
	}
	blob, err := base64.StdEncoding.DecodeString(str(enc, "CiphertextBlob"))
	mustOK(t, err)
	mustOK(t, os.WriteFile(filepath.Join(dir, "ct.bin"), blob, 0o600))
	dec := aws.ok(t, akidA, "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "tenant=acme")
	shape(t, "decrypt", dec, "Plaintext", "KeyId", "EncryptionAlgorithm")
	if got, _ := base64.StdEncoding.DecodeString(str(dec, "Plaintext")); !bytes.Equal(got, pt) || str(dec, "KeyId") != keyARN {
		t.Errorf("decrypt: another plaintext or key (%s)", str(dec, "KeyId"))
	}
	aws.fails(t, akidA, "InvalidCiphertextException", "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "tenant=other")
	gdk := aws.ok(t, akidA, "generate-data-key", "--key-id", "alias/cli", "--key-spec", "AES_256")
	shape(t, "generate-data-key", gdk, "CiphertextBlob", "Plaintext", "KeyId")

	// re-encrypt to a key of account B, named by ARN; B decrypts it.
	policyB := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:ReEncryptTo","Resource":"*"}]}`
	mustOK(t, os.WriteFile(filepath.Join(dir, "policy-b.json"), []byte(policyB), 0o600))
	kb := aws.ok(t, akidB, "create-key", "--policy", "file://policy-b.json")["KeyMetadata"].(map[string]any)
	aws.fails(t, akidA, "NotFoundException", "re-encrypt", "--ciphertext-blob", "fileb://ct.bin",
		"--source-encryption-context", "tenant=acme", "--destination-key-id", str(kb, "KeyId"))
	re := aws.ok(t, akidA, "re-encrypt", "--ciphertext-blob", "fileb://ct.bin", "--source-encryption-context", "tenant=acme",
		"--destination-key-id", str(kb, "Arn"), "--destination-encryption-context", "tenant=acme")
	shape(t, "re-encrypt", re, "CiphertextBlob", "SourceKeyId", "KeyId", "SourceEncryptionAlgorithm", "DestinationEncryptionAlgorithm")
	if str(re, "SourceKeyId") != keyARN || str(re, "KeyId") != str(kb, "Arn") {
		t.Errorf("re-encrypt = %v", re)
	}
	reBlob, _ := base64.StdEncoding.DecodeString(str(re, "CiphertextBlob"))
	mustOK(t, os.WriteFile(filepath.Join(dir, "ct-b.bin"), reBlob, 0o600))
	decB := aws.ok(t, akidB, "decrypt", "--ciphertext-blob", "fileb://ct-b.bin", "--encryption-context", "tenant=acme")
	if got, _ := base64.StdEncoding.DecodeString(str(decB, "Plaintext")); !bytes.Equal(got, pt) {
		t.Error("account B's decrypt of the re-encrypted blob: another plaintext")
	}

	// Grants: the grantee decrypts with the token, and not after revoke-grant.
	aws.fails(t, akidG, "AccessDeniedException", "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "tenant=acme", "--key-id", keyARN)
	cg := aws.ok(t, akidA, "create-grant", "--key-id", keyID, "--grantee-principal", granteeARN, "--operations", "Decrypt", "--name", "cli")
	shape(t, "create-grant", cg, "GrantToken", "GrantId")
	aws.ok(t, akidG, "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "tenant=acme", "--key-id", keyARN,
		"--grant-tokens", str(cg, "GrantToken"))
	lg := aws.ok(t, akidA, "list-grants", "--key-id", keyID)
	shape(t, "list-grants", lg, "Grants")
	grants, _ := lg["Grants"].([]any)
	if len(grants) != 1 {
		t.Fatalf("list-grants: %v", grants)
	}
	shape(t, "list-grants entry", grants[0].(map[string]any), "KeyId", "GrantId", "Name", "CreationDate", "GranteePrincipal", "IssuingAccount", "Operations")
	aws.ok(t, akidA, "revoke-grant", "--key-id", keyID, "--grant-id", str(cg, "GrantId"))
	aws.fails(t, akidG, "AccessDeniedException", "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "tenant=acme",
		"--key-id", keyARN, "--grant-tokens", str(cg, "GrantToken"))

	// A key policy that denies the app role Decrypt.
	deny := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Deny","Principal":{"AWS":"` + appARN + `"},"Action":"kms:Decrypt","Resource":"*"}]}`
	mustOK(t, os.WriteFile(filepath.Join(dir, "deny.json"), []byte(deny), 0o600))
	aws.ok(t, akidApp, "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "tenant=acme")
	aws.ok(t, akidA, "put-key-policy", "--key-id", keyID, "--policy-name", "default", "--policy", "file://deny.json")
	gp := aws.ok(t, akidA, "get-key-policy", "--key-id", keyID, "--policy-name", "default")
	shape(t, "get-key-policy", gp, "Policy")
	aws.fails(t, akidApp, "AccessDeniedException", "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "tenant=acme")
	aws.ok(t, akidApp, "encrypt", "--key-id", keyID, "--plaintext", "fileb://pt.bin")

	// A disabled key.
	aws.ok(t, akidA, "disable-key", "--key-id", keyID)
	aws.fails(t, akidA, "DisabledException", "encrypt", "--key-id", "alias/cli", "--plaintext", "fileb://pt.bin")
	aws.fails(t, akidA, "DisabledException", "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "tenant=acme")
	aws.ok(t, akidA, "enable-key", "--key-id", keyID)

	// Rotation: old blobs still decrypt.
	aws.ok(t, akidA, "enable-key-rotation", "--key-id", keyID)
	rs := aws.ok(t, akidA, "get-key-rotation-status", "--key-id", keyID)
	shape(t, "get-key-rotation-status", rs, "KeyRotationEnabled")
	if rs["KeyRotationEnabled"] != true {
		t.Errorf("get-key-rotation-status = %v", rs)
	}
	// This CLI predates rotate-key-on-demand: the SDK rotates, the CLI decrypts.
	if _, err := sdk.RotateKeyOnDemand(context.Background(), &kms.RotateKeyOnDemandInput{KeyId: &keyID}); err != nil {
		t.Fatal(err)
	}
	aws.ok(t, akidA, "decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "tenant=acme")
	aws.ok(t, akidA, "disable-key-rotation", "--key-id", keyID)
	if rs := aws.ok(t, akidA, "get-key-rotation-status", "--key-id", keyID); rs["KeyRotationEnabled"] != false {
		t.Errorf("get-key-rotation-status after disable-key-rotation = %v", rs)
	}

	// Deletion.
	sd := aws.ok(t, akidA, "schedule-key-deletion", "--key-id", keyID, "--pending-window-in-days", "7")
	shape(t, "schedule-key-deletion", sd, "KeyId", "DeletionDate", "KeyState", "PendingWindowInDays")
	aws.fails(t, akidA, "KMSInvalidStateException", "encrypt", "--key-id", keyID, "--plaintext", "fileb://pt.bin")
	cd := aws.ok(t, akidA, "cancel-key-deletion", "--key-id", keyID)
	shape(t, "cancel-key-deletion", cd, "KeyId")
}
