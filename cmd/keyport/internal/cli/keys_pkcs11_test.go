//go:build cgo

package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends/pkcs11"
	"github.com/keyport/keyport/internal/testenv"
)

// softHSMToken initialises a SoftHSM2 token labelled label in a temporary
// directory of its own and points SOFTHSM2_CONF, KEYPORT_PKCS11_MODULE and
// KEYPORT_PKCS11_PIN_FILE at it for the rest of the test.
func softHSMToken(t *testing.T, dir, label string) {
	t.Helper()
	module := os.Getenv("KEYPORT_SOFTHSM_MODULE")
	if module == "" {
		module = "/usr/lib/softhsm/libsofthsm2.so"
	}
	util, err := exec.LookPath("softhsm2-util")
	if _, serr := os.Stat(module); err != nil || serr != nil {
		testenv.Require(t, "KEYPORT_SOFTHSM_MODULE", "SoftHSM2 (softhsm2-util and its library)")
		t.Fatalf("SoftHSM2 is not installed: %v %v", err, serr)
	}
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	writeFile(t, conf, []byte("directories.tokendir = "+tokens+"\nobjectstore.backend = file\nlog.level = ERROR\n"), 0o600)
	t.Setenv("SOFTHSM2_CONF", conf)
	if out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", "so-pin-1234", "--pin", "user-pin-1234").CombinedOutput(); err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	pin := filepath.Join(dir, "pin")
	writeFile(t, pin, []byte("user-pin-1234\n"), 0o600)
	t.Setenv(pkcs11.EnvModule, module)
	t.Setenv(pkcs11.EnvPINFile, pin)
	t.Setenv(pkcs11.EnvPIN, "")
}

func TestKeysCreatePKCS11(t *testing.T) {
	w := newWorld(t)
	softHSMToken(t, t.TempDir(), "cli")

	uri := strings.TrimSpace(w.must(t, nil, "keys", "create", "pkcs11:token=cli;object=orders;id=%01"))
	if uri != "pkcs11:token=cli;object=orders;id=%01" {
		t.Fatalf("keys create printed %q, want the canonical URI", uri)
	}
	code, _, errs := w.kp(t, nil, "keys", "create", "pkcs11:token=cli;object=orders")
	if code == ExitOK || !strings.Contains(errs, "AlreadyExistsException") {
		t.Errorf("keys create of a label the token has: exit %d, stderr %q", code, errs)
	}
	code, _, errs = w.kp(t, nil, "keys", "create", "--description", "x", "pkcs11:token=cli;object=other")
	if code == ExitOK || !strings.Contains(errs, "UnsupportedOperationException") {
		t.Errorf("keys create with a description: exit %d, stderr %q", code, errs)
	}
	// A PIN in a key URL is refused. (The Front's routing error repeats the
	// key reference as given; the pkcs11 package's own errors never do.)
	code, _, errs = w.kp(t, nil, "keys", "create", "pkcs11:token=cli;object=x?pin-value=1234")
	if code == ExitOK || !strings.Contains(errs, "may not carry pin-value") {
		t.Errorf("keys create with a PIN in the URL: exit %d, stderr %q", code, errs)
	}

	out := w.must(t, nil, "keys", "create", "--key-type", "RSA_2048", "--output", "json", "pkcs11:token=cli;object=pair")
	var created keyMetadataResult
	if err := json.Unmarshal([]byte(out), &created); err != nil {
		t.Fatalf("keys create --output json: %v: %s", err, out)
	}
	if created.KeyMetadata.KeySpec != "RSA_2048" || created.KeyMetadata.KeyId != "pair" || !strings.HasPrefix(created.KeyMetadata.Arn, "pkcs11:token=cli;object=pair;id=") {
		t.Errorf("keys create --key-type RSA_2048: %+v", created.KeyMetadata)
	}

	out = w.must(t, nil, "keys", "describe", "--output", "json", "pkcs11:token=cli;object=orders")
	var described keyMetadataResult
	if err := json.Unmarshal([]byte(out), &described); err != nil {
		t.Fatal(err)
	}
	md := described.KeyMetadata
	if md.Arn != uri || md.KeySpec != "AES_256" || !strings.Contains(md.Description, "extractable=false") || !strings.Contains(md.Description, "sensitive=true") {
		t.Errorf("keys describe: %+v", md)
	}

	// keys list shows both keys of the token, by their URIs, usable.
	out = w.must(t, nil, "keys", "list", "--output", "json", "pkcs11:token=cli")
	var listed struct{ Keys []keyEntry }
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("keys list --output json: %v: %s", err, out)
	}
	if len(listed.Keys) != 2 || listed.Keys[0].KeyArn != uri || listed.Keys[0].KeyId != "orders" || listed.Keys[0].KeyState != "Enabled" ||
		listed.Keys[1].KeyArn != created.KeyMetadata.Arn || listed.Keys[1].KeyState != "Enabled" {
		t.Errorf("keys list: %+v", listed.Keys)
	}
	code, _, errs = w.kp(t, nil, "keys", "list", "pkcs11:token=another")
	if code == ExitOK {
		t.Errorf("keys list of another token: exit %d, stderr %q", code, errs)
	}

	// The new key wraps a message's data key, and the message opens by its
	// header alone (which names the key by its canonical URI).
	pt := randBytes(2000)
	msg := w.must(t, pt, "encrypt", "--key", "pkcs11:token=cli;object=orders")
	got := w.must(t, []byte(msg), "decrypt")
	if got != string(pt) {
		t.Errorf("decrypt of a message wrapped by the HSM key gave another plaintext")
	}
}
