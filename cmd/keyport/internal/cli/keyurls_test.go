package cli

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/internal/testenv"
)

// TestAWSKeyURLForms names one AWS KMS key (local-kms) in every form a user may
// have it in: keyport's and gocloud's awskms:/// URL, with and without a region,
// its key ARN, alias ARN and Tink's aws-kms:// URL. A file encrypted with each
// form decrypts with each other form, and migrate --to each form re-encrypts a
// file and then recognises it as done (the header names the key ARN, whatever
// form named the key).
func TestAWSKeyURLForms(t *testing.T) {
	ep := testenv.Require(t, "KEYPORT_LOCALKMS_A", "local-kms")
	awsEnv(t)
	const (
		account  = "111122223333"
		keyID    = "11111111-1111-4111-8111-000000000001" // seeded as alias/keyport/primary
		keyARN   = "arn:aws:kms:us-east-1:" + account + ":key/" + keyID
		aliasARN = "arn:aws:kms:us-east-1:" + account + ":alias/keyport/primary"
		otherARN = "arn:aws:kms:us-east-1:" + account + ":key/11111111-1111-4111-8111-000000000002"
	)
	forms := []string{
		"awskms:///" + keyID,
		"awskms:///" + keyID + "?region=us-east-1",
		"awskms:///alias/keyport/primary?region=us-east-1",
		keyARN,
		aliasARN,
		"aws-kms://" + keyARN,
	}
	dir := t.TempDir()
	t.Setenv("KEYPORT_STORE", "")
	t.Setenv("VAULT_ADDR", "")
	t.Setenv(ConfigEnv, "")
	t.Setenv("XDG_CONFIG_HOME", dir)
	kp := func(stdin []byte, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		args = append([]string{"--aws-endpoint", ep, "--aws-account", account}, args...)
		if code := Run(context.Background(), args, bytes.NewReader(stdin), &out, &errb); code != ExitOK {
			t.Fatalf("keyport %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
		}
		return out.String()
	}
	pt := randBytes(5000)
	for _, enc := range forms {
		msg := []byte(kp(pt, "encrypt", "--key", enc, "--context", "app=forms"))
		for _, dec := range forms {
			if got := kp(msg, "decrypt", "--key", dec, "--context", "app=forms"); got != string(pt) {
				t.Errorf("encrypt --key %s, decrypt --key %s: plaintext differs", enc, dec)
			}
		}
	}
	for i, to := range forms {
		p := filepath.Join(dir, "m.enc")
		writeFile(t, p, []byte(kp(pt, "encrypt", "--key", otherARN, "--context", "app=forms")), 0o600)
		if out := kp(nil, "migrate", "--to", to, "--context", "app=forms", p); !strings.Contains(out, "migrated 1") {
			t.Fatalf("migrate --to %s: %s", to, out)
		}
		// The same key in another form: the file is under it already, so it is
		// left as it is (whether the report counts it skipped, or done by the
		// run its journal remembers).
		again := forms[(i+1)%len(forms)]
		before := readFile(t, p)
		if out := kp(nil, "migrate", "--to", again, "--context", "app=forms", p); strings.Contains(out, "failed 1") {
			t.Errorf("migrate --to %s after migrating to %s: %s", again, to, out)
		}
		if !bytes.Equal(readFile(t, p), before) {
			t.Errorf("migrate --to %s after migrating to %s re-encrypted the file: the header's key ARN is that key", again, to)
		}
		if got := kp(readFile(t, p), "decrypt", "--key", keyARN, "--context", "app=forms"); got != string(pt) {
			t.Errorf("after migrate --to %s: the file does not open with the key ARN", to)
		}
	}
}
