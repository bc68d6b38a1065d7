package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/lockedbuf"
	"github.com/keyport/keyport/internal/testenv"
	"github.com/keyport/keyport/internal/vaulttest"
)

// startServe runs "keyport serve config" until the test ends and returns the
// URL it serves on and its stderr.
func startServe(t *testing.T, config string) (string, *lockedbuf.Buffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr lockedbuf.Buffer
	done := make(chan int, 1)
	go func() { done <- Run(ctx, []string{"serve", config}, strings.NewReader(""), &stdout, &stderr) }()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != ExitOK {
			t.Errorf("keyport serve stopped with exit status %d: %s", code, stderr.String())
		}
	})
	re := regexp.MustCompile(`listening on (\S+)`)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := re.FindStringSubmatch(stdout.String()); m != nil {
			return m[1], &stderr
		}
		select {
		case code := <-done:
			done <- code
			t.Fatalf("keyport serve exited with %d: %s", code, stderr.String())
		default:
		}
	}
	t.Fatalf("keyport serve did not say where it listens: %s", stderr.String())
	return "", nil
}

const serveTOML = `listen = "127.0.0.1:0"
access-log = true
[tls]
self-signed = "ca.pem"
[[regions]]
region = "us-east-1"
store = "east.db"
root-key-file = "root.key"
[[regions]]
region = "us-west-2"
[[principals]]
access-key-id = "AKIDA"
secret-access-key-env = "KP_TEST_SECRET_A"
account = "111122223333"
[[principals]]
access-key-id = "AKIDB"
secret-access-key = "secret-b"
account = "444455556666"
[[principals]]
access-key-id = "AKIDG"
secret-access-key = "secret-g"
account = "999900001111"
arn = "arn:aws:iam::999900001111:role/grantee"
[[principals]]
access-key-id = "AKIDR"
secret-access-key = "secret-r"
account = "123412341234"
arn = "arn:aws:iam::123412341234:role/reencryptor"
`

// writeServeConfig writes serveTOML, a root key and returns the file's path.
func writeServeConfig(t *testing.T, dir string) string {
	t.Helper()
	rk, err := local.GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "root.key"), []byte(rk+"\n"), 0o600)
	path := filepath.Join(dir, "serve.toml")
	writeFile(t, path, []byte(serveTOML), 0o600)
	return path
}

// TestServeConformance starts keyport serve (TLS with a self-signed certificate,
// a store file in us-east-1 and memory in us-west-2, four principals) and runs
// keyport conformance against it with every principal and hook: its JSON report
// has no failure and no deviation. The keys made in the store survive a restart.
func TestServeConformance(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KP_TEST_SECRET_A", "secret-a")
	t.Setenv("KP_TEST_SECRET_B", "secret-b")
	t.Setenv("KP_TEST_SECRET_G", "secret-g")
	t.Setenv("KP_TEST_SECRET_R", "secret-r")
	config := writeServeConfig(t, dir)
	url, serveErr := startServe(t, config)
	if !strings.HasPrefix(url, "https://127.0.0.1:") {
		t.Fatalf("keyport serve listens on %s, want https on loopback", url)
	}
	ca := filepath.Join(dir, "ca.pem")
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"conformance", url, "--ca-bundle", ca, "--output", "json",
		"--account", "111122223333", "--access-key-id", "AKIDA", "--secret-env", "KP_TEST_SECRET_A",
		"--other-account", "444455556666", "--other-access-key-id", "AKIDB", "--other-secret-env", "KP_TEST_SECRET_B",
		"--other-region", "us-west-2",
		"--grantee-access-key-id", "AKIDG", "--grantee-secret-env", "KP_TEST_SECRET_G", "--grantee-arn", "arn:aws:iam::999900001111:role/grantee",
		"--reencryptor-access-key-id", "AKIDR", "--reencryptor-secret-env", "KP_TEST_SECRET_R", "--reencryptor-arn", "arn:aws:iam::123412341234:role/reencryptor",
		"--rotate"}, strings.NewReader(""), &out, &errOut)
	var rep struct {
		Passed, Failed, NotApplicable int
		Deviations                    []string
		Results                       []struct{ Name, Outcome string }
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("keyport conformance (exit %d): not a JSON report: %v\n%s\n%s", code, err, out.String(), errOut.String())
	}
	if code != ExitOK || rep.Failed != 0 || len(rep.Deviations) != 0 || rep.Passed < 90 {
		t.Fatalf("keyport conformance against keyport serve: exit %d, %d passed, %d failed, deviations %v\n%s", code, rep.Passed, rep.Failed, rep.Deviations, out.String())
	}
	for _, want := range []string{"kms request", `op="CreateKey"`, `op="ReEncrypt"`, `principal="arn:aws:iam::999900001111:role/grantee"`} {
		if !strings.Contains(serveErr.String(), want) {
			t.Errorf("the access log lacks %s:\n%.2000s", want, serveErr.String())
		}
	}

	// The store file keeps the keys: a second server over it describes them.
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	client := func(url string) *kms.Client {
		return kms.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDA", "secret-a", ""),
			HTTPClient: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}},
			func(o *kms.Options) { o.BaseEndpoint = aws.String(url) })
	}
	ck, err := client(url).CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String("kept")})
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, config, []byte(strings.Replace(serveTOML, `self-signed = "ca.pem"`, `self-signed = "ca2.pem"`, 1)), 0o600)
	url2, _ := startServe(t, config)
	pem2, err := os.ReadFile(filepath.Join(dir, "ca2.pem"))
	if err != nil {
		t.Fatal(err)
	}
	pool.AppendCertsFromPEM(pem2)
	md, err := client(url2).DescribeKey(context.Background(), &kms.DescribeKeyInput{KeyId: ck.KeyMetadata.KeyId})
	if err != nil || aws.ToString(md.KeyMetadata.Description) != "kept" {
		t.Fatalf("a second server over the same store: %v, %v", md, err)
	}
}

// TestConformanceLocalKMS runs keyport conformance against local-kms (its three
// processes): the JSON report names the deviations backends/awskms's harness
// declares for it (except DeviationDisabledAccessDenied, which the suite does not
// observe against the pinned local-kms), and the exit status is 1.
func TestConformanceLocalKMS(t *testing.T) {
	a := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	b := testenv.Require(t, "KEYPORT_LOCALKMS_B", "local-kms")
	c := testenv.Require(t, "KEYPORT_LOCALKMS_C", "local-kms")
	t.Setenv("KP_TEST_SECRET", "local-kms-does-not-check")
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"conformance", a, "--output", "json",
		"--account", "111122223333", "--access-key-id", "AKID", "--secret-env", "KP_TEST_SECRET",
		"--other-account", "444455556666", "--other-access-key-id", "AKID", "--other-secret-env", "KP_TEST_SECRET", "--other-account-endpoint", b,
		"--other-region", "us-west-2", "--other-region-endpoint", c,
		"--grantee-access-key-id", "AKID", "--grantee-secret-env", "KP_TEST_SECRET", "--grantee-arn", "arn:aws:iam::999900001111:role/grantee",
	}, strings.NewReader(""), &out, &errOut)
	var rep struct {
		Failed, Unexplained int
		Deviations          []string
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("keyport conformance (exit %d): not a JSON report: %v\n%s", code, err, errOut.String())
	}
	want := []string{"DeviationContextPairCollision", "DeviationIncorrectKeyIsInvalidCiphertext", "DeviationNoGrants",
		"DeviationOneAccountPerProcess", "DeviationSourceKeyIDIgnored", "DeviationTamperKindMisreported", "DeviationUnauthenticatedBlobHeader"}
	got := slices.Clone(rep.Deviations)
	slices.Sort(got)
	if code != ExitFailure || !slices.Equal(got, want) || rep.Unexplained != 0 {
		t.Fatalf("keyport conformance against local-kms: exit %d, deviations %v (want %v), %d unexplained failures\n%s", code, got, want, rep.Unexplained, out.String())
	}
}

// TestServeAWSCLI: the Debian AWS CLI v2 (by its packaged path) creates a key and
// an alias, encrypts a file with fileb:// and decrypts it through keyport serve
// over TLS, trusting the self-signed certificate the server wrote.
func TestServeAWSCLI(t *testing.T) {
	bin := testenv.Require(t, "KEYPORT_AWSCLI", "the AWS CLI v2 (Debian awscli)")
	dir := t.TempDir()
	t.Setenv("KP_TEST_SECRET_A", "secret-a")
	url, _ := startServe(t, writeServeConfig(t, dir))
	aws := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"kms", "--endpoint-url", url, "--ca-bundle", filepath.Join(dir, "ca.pem"), "--output", "json"}, args...)...)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir, "AWS_ACCESS_KEY_ID=AKIDA", "AWS_SECRET_ACCESS_KEY=secret-a",
			"AWS_DEFAULT_REGION=us-east-1", "AWS_PAGER=", "AWS_MAX_ATTEMPTS=1", "AWS_EC2_METADATA_DISABLED=true",
			"AWS_CONFIG_FILE=" + filepath.Join(dir, "none"), "AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(dir, "none")}
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("aws kms %s: %v: %s", strings.Join(args, " "), err, stderr)
		}
		var m map[string]any
		if len(bytes.TrimSpace(out)) > 0 {
			if err := json.Unmarshal(out, &m); err != nil {
				t.Fatalf("aws kms %s: %q", args[0], out)
			}
		}
		return m
	}
	md := aws("create-key", "--description", "from the CLI")["KeyMetadata"].(map[string]any)
	aws("create-alias", "--alias-name", "alias/cli", "--target-key-id", md["KeyId"].(string))
	pt := []byte{0, 1, 2, 3, 0xff, 'k', 'p'}
	writeFile(t, filepath.Join(dir, "pt.bin"), pt, 0o600)
	enc := aws("encrypt", "--key-id", "alias/cli", "--plaintext", "fileb://pt.bin", "--encryption-context", "app=cli")
	blob, err := base64.StdEncoding.DecodeString(enc["CiphertextBlob"].(string))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "ct.bin"), blob, 0o600)
	dec := aws("decrypt", "--ciphertext-blob", "fileb://ct.bin", "--encryption-context", "app=cli")
	if got, _ := base64.StdEncoding.DecodeString(dec["Plaintext"].(string)); !bytes.Equal(got, pt) || dec["KeyId"] != md["Arn"] {
		t.Fatalf("aws kms decrypt through keyport serve: %v", dec)
	}
}

// TestConformanceKeyURL runs keyport conformance against two Vault Transit keys
// named by key URL: the report names exactly the deviations the Vault driver's
// own harness declares that show here (a blob of another key is
// InvalidCiphertext; Transit's rewrap serves one key and one context only), and
// they explain every failure.
func TestConformanceKeyURL(t *testing.T) {
	addr := testenv.Require(t, "KEYPORT_VAULT_ADDR", "vault")
	t.Setenv("VAULT_ADDR", addr)
	root, mount := vaulttest.Transit(t, "kpconf")
	for _, k := range []string{"key-a", "key-b"} {
		if _, err := root.Logical().Write(mount+"/keys/"+k, nil); err != nil {
			t.Fatal(err)
		}
	}
	var out, errOut bytes.Buffer
	code := Run(context.Background(), []string{"conformance", "vault://" + mount + "/key-a", "--key-b", "vault://" + mount + "/key-b",
		"--output", "json"}, strings.NewReader(""), &out, &errOut)
	var rep struct {
		Passed, Failed, Unexplained int
		Deviations                  []string
		Results                     []struct {
			Name, Outcome string
			Messages      []string
			Deviations    []string
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("keyport conformance (exit %d): not a JSON report: %v\n%s", code, err, errOut.String())
	}
	for _, r := range rep.Results {
		if r.Outcome == "failed" && len(r.Deviations) == 0 && len(r.Messages) > 0 {
			t.Errorf("unexplained: %s: %v", r.Name, r.Messages)
		}
	}
	want := []string{"DeviationIncorrectKeyIsInvalidCiphertext", "DeviationPartialNativeReEncrypt"}
	got := slices.Clone(rep.Deviations)
	slices.Sort(got)
	if code != ExitFailure || !slices.Equal(got, want) || rep.Unexplained != 0 || rep.Passed < 40 {
		t.Fatalf("keyport conformance against Vault Transit: exit %d, %d passed, %d failed, deviations %v (want %v), %d unexplained",
			code, rep.Passed, rep.Failed, got, want, rep.Unexplained)
	}
	// A key URL target needs a second key.
	if code := Run(context.Background(), []string{"conformance", "vault://" + mount + "/key-a"}, strings.NewReader(""), &out, &errOut); code != ExitUsage {
		t.Errorf("conformance without --key-b: exit %d, want %d", code, ExitUsage)
	}
}
