//go:build cgo

package pkcs11

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/keyport/keyport/internal/testenv"
)

// defaultSoftHSM is where Debian's softhsm2 package puts the library.
const defaultSoftHSM = "/usr/lib/softhsm/libsofthsm2.so"

// softHSM is a SoftHSM2 token that one test initialised for itself, in a
// directory of its own named by SOFTHSM2_CONF.
type softHSM struct {
	module  string
	label   string
	pinFile string
	pin     string
	serial  string
}

// tokenDeviations are the known ways in which a token departs from what the
// backend asks of PKCS#11. A test that a deviation hits checks the token's
// documented behaviour instead, naming the deviation.
type tokenDeviations struct {
	// oaepSHA1Only: SoftHSM 2.6 implements CKM_RSA_PKCS_OAEP with SHA-1 only and
	// answers CKR_ARGUMENTS_BAD to SHA-256, so the backend's default
	// (RSAES_OAEP_SHA_256) is ErrUnsupported there and RSAES_OAEP_SHA_1 must be
	// asked for by name.
	oaepSHA1Only bool
}

// softHSMDeviations are SoftHSM 2.6's.
var softHSMDeviations = tokenDeviations{oaepSHA1Only: true}

// newSoftHSM initialises a fresh token labelled label in a temporary directory
// and points SOFTHSM2_CONF at it for the rest of the test. Outside CI it skips
// when SoftHSM2 is not installed (scripts/components/softhsm.sh installs it).
func newSoftHSM(t testing.TB, label string) *softHSM {
	t.Helper()
	module := os.Getenv("KEYPORT_SOFTHSM_MODULE")
	if module == "" {
		if _, err := os.Stat(defaultSoftHSM); err == nil {
			module = defaultSoftHSM
		} else {
			module = testenv.Require(t, "KEYPORT_SOFTHSM_MODULE", "SoftHSM2")
		}
	}
	util, err := exec.LookPath("softhsm2-util")
	if err != nil {
		msg := "softhsm2-util is not on PATH; scripts/components/softhsm.sh installs Debian's softhsm2"
		if testenv.InCI() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	tokens := filepath.Join(dir, "tokens")
	if err := os.Mkdir(tokens, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	cfg := "directories.tokendir = " + tokens + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	s := &softHSM{module: module, label: label, pin: "keyport-user-pin", pinFile: filepath.Join(dir, "pin")}
	out, err := exec.Command(util, "--init-token", "--free", "--label", label, "--so-pin", "keyport-so-pin", "--pin", s.pin).CombinedOutput()
	if err != nil {
		t.Fatalf("softhsm2-util --init-token: %v\n%s", err, out)
	}
	if err := os.WriteFile(s.pinFile, []byte(s.pin+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s
}

// options returns Options that open the token with the PIN file.
func (s *softHSM) options() Options {
	return Options{Module: s.module, Token: s.label, PINFile: s.pinFile}
}

// open opens the token and closes it when the test ends.
func (s *softHSM) open(t testing.TB, opts Options) *Backend {
	t.Helper()
	b, err := Open(context.Background(), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = b.Close() })
	s.serial = b.tok.info.SerialNumber
	return b
}

// mustCreate makes a key on b's token and returns its canonical URI.
func mustCreate(t testing.TB, b *Backend, label string, id []byte, spec KeySpec) string {
	t.Helper()
	info, err := b.CreateKey(context.Background(), &CreateKeyInput{Label: label, ID: id, Spec: spec})
	if err != nil {
		t.Fatalf("CreateKey %s %s: %v", label, spec, err)
	}
	return info.URI
}
