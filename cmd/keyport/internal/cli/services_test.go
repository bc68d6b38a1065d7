package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/testenv"
)

// awsEnv points the AWS SDK at static test credentials and nothing else of
// the host's configuration.
func awsEnv(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
}

// TestMigrateLocalToAWSKMS moves files from a key of the embedded service to
// an AWS KMS key (local-kms), named by ARN, and re-encrypts a blob across the
// two providers.
func TestMigrateLocalToAWSKMS(t *testing.T) {
	ep := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	w := newWorld(t)
	awsEnv(t)
	// The local store plays another account, so that ARNs of 111122223333 go to AWS.
	svcFlags := []string{"--account", "444455556666", "--aws-endpoint", ep, "--aws-account", "111122223333", "--default-service", "store"}
	const awsKey = "arn:aws:kms:us-east-1:111122223333:key/11111111-1111-4111-8111-000000000002"
	kp := func(stdin []byte, args ...string) (int, string, string) {
		return w.kp(t, stdin, append(svcFlags, args...)...)
	}
	must := func(stdin []byte, args ...string) string {
		t.Helper()
		code, out, errs := kp(stdin, args...)
		if code != ExitOK {
			t.Fatalf("keyport %v: exit %d\n%s", args, code, errs)
		}
		return out
	}
	must(nil, "keys", "create", "--alias", "alias/old")
	dir := filepath.Join(w.dir, "data")
	pts := map[string][]byte{}
	for i, name := range []string{"x.enc", "y.enc"} {
		pt := randBytes(3000 * (i + 1))
		writeFile(t, filepath.Join(dir, name), []byte(must(pt, "encrypt", "--key", "alias/old", "--context", "app=cli")), 0o600)
		pts[filepath.Join(dir, name)] = pt
	}
	out := must(nil, "migrate", "--from", "alias/old", "--to", awsKey, "--context", "app=cli", dir)
	if !strings.Contains(out, "migrated 2, skipped 0") {
		t.Fatalf("migrate: %s", out)
	}
	for p, pt := range pts {
		msg := readFile(t, p)
		if got := must(msg, "decrypt", "--key", awsKey, "--context", "app=cli"); got != string(pt) {
			t.Fatalf("%s: plaintext differs after the migration", p)
		}
		if code, _, errs := kp(msg, "decrypt", "--key", "alias/old", "--context", "app=cli"); code != ExitFailure || !strings.Contains(errs, backends.ErrIncorrectKey.Name()) {
			t.Fatalf("%s still opens under the old key: exit %d %s", p, code, errs)
		}
	}
	if out := must(nil, "migrate", "--to", awsKey, "--context", "app=cli", dir); !strings.Contains(out, "skipped 2") {
		t.Fatalf("second run: %s", out)
	}

	// A blob of the local service re-encrypted to AWS KMS and back: not native.
	svc, _ := w.service(t)
	c := svc.Client(local.Identity{Account: "444455556666"})
	enc, err := c.Encrypt(context.Background(), &backends.EncryptInput{KeyID: "alias/old", Plaintext: []byte("data key")})
	_ = svc.Close()
	if err != nil {
		t.Fatal(err)
	}
	b64 := []byte(base64.StdEncoding.EncodeToString(enc.CiphertextBlob))
	if code, out, errs := kp(b64, "re-encrypt", "--destination-key-id", awsKey, "--dry-run"); code != ExitOK || !strings.Contains(out, "DryRunOperationException") {
		t.Fatalf("dry run: exit %d %s %s", code, out, errs)
	}
	code, toAWS, errs := kp(b64, "re-encrypt", "--destination-key-id", awsKey, "--destination-encryption-context", "to=aws", "--output", "json")
	var res reEncryptResult
	if code != ExitOK || json.Unmarshal([]byte(toAWS), &res) != nil || res.KeyId != awsKey || res.Native {
		t.Fatalf("re-encrypt to AWS KMS: exit %d %s %s", code, toAWS, errs)
	}
	code, back, errs := kp([]byte(res.CiphertextBlob), "re-encrypt", "--source-key-id", awsKey, "--source-encryption-context", "to=aws", "--destination-key-id", "alias/old", "--output", "json")
	if code != ExitOK || json.Unmarshal([]byte(back), &res) != nil || res.SourceKeyId != awsKey {
		t.Fatalf("re-encrypt back: exit %d %s %s", code, back, errs)
	}
	blob, err := base64.StdEncoding.DecodeString(res.CiphertextBlob)
	if err != nil {
		t.Fatal(err)
	}
	svc, _ = w.service(t)
	defer svc.Close()
	dec, err := svc.Client(local.Identity{Account: "444455556666"}).Decrypt(context.Background(), &backends.DecryptInput{CiphertextBlob: blob})
	if err != nil || string(dec.Plaintext) != "data key" {
		t.Fatalf("the blob did not come back intact: %v", err)
	}
}

// TestMigrateLocalToVault moves files from a key of the embedded service to a
// Vault Transit key named vault://transit/<key>.
func TestMigrateLocalToVault(t *testing.T) {
	addr := testenv.Require(t, "KEYPORT_VAULT_ADDR", "vault")
	token := os.Getenv("VAULT_TOKEN")
	w := newWorld(t)
	t.Setenv("VAULT_ADDR", addr)
	cfg := api.DefaultConfig()
	cfg.Address = addr
	vc, err := api.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	vc.SetToken(token)
	name := "cli-" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-"))
	if _, err := vc.Logical().Write("transit/keys/"+name, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = vc.Logical().Write("transit/keys/"+name+"/config", map[string]any{"deletion_allowed": true})
		_, _ = vc.Logical().Delete("transit/keys/" + name)
	})
	vkey := "vault://transit/" + name
	w.key(t, "alias/old")
	p := filepath.Join(w.dir, "m.enc")
	pt := randBytes(10_000)
	writeFile(t, p, []byte(w.must(t, pt, "encrypt", "--key", "alias/old", "--context", "a=b")), 0o640)
	for _, flags := range [][]string{{"--dry-run"}, nil} {
		if out := w.must(t, nil, append(append([]string{"migrate", "--to", vkey, "--context", "a=b"}, flags...), p)...); !strings.Contains(out, "migrate 1, skipped 0") && !strings.Contains(out, "migrated 1, skipped 0") {
			t.Fatalf("migrate %v: %s", flags, out)
		}
	}
	msg := readFile(t, p)
	if got := w.must(t, msg, "decrypt", "--key", vkey, "--context", "a=b"); got != string(pt) {
		t.Fatal("plaintext differs after the migration to Vault")
	}
	// Discovery: the message names a vault:// key, which opens Vault (from
	// VAULT_ADDR) on first use; a configured Vault service serves it too.
	for _, flags := range [][]string{nil, {"--service-url", "vault://"}} {
		if got := w.must(t, msg, append(flags, "decrypt", "--context", "a=b")...); got != string(pt) {
			t.Fatalf("%v: discovery decrypt through the Front fails after the migration to Vault", flags)
		}
	}
	if code, _, _ := w.kp(t, msg, "decrypt", "--key", "alias/old", "--context", "a=b"); code != ExitFailure {
		t.Fatal("the old key still opens the migrated file")
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode not kept: %v %v", fi.Mode(), err)
	}
}
