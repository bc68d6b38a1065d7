package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyport/keyport/backends/local"
)

// world is a local key store in a temporary directory and the flags that
// name it.
type world struct {
	dir, store string
	rootKey    []byte
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{dir: t.TempDir()}
	w.store = filepath.Join(w.dir, "keys.db")
	w.rootKey = make([]byte, 32)
	rand.Read(w.rootKey)
	t.Setenv(local.RootKeyEnv, base64.StdEncoding.EncodeToString(w.rootKey))
	t.Setenv("KEYPORT_STORE", "")
	t.Setenv("VAULT_ADDR", "") // only the services a test names
	t.Setenv(ConfigEnv, "")
	t.Setenv("XDG_CONFIG_HOME", w.dir) // no configuration file
	t.Chdir(w.dir)                     // migrate's journals go to the working directory
	return w
}

// kp runs the tool in-process with the world's store.
func (w *world) kp(t *testing.T, stdin []byte, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(context.Background(), append([]string{"--store", w.store, "--account", defaultAccount}, args...), bytes.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// must runs the tool and fails the test unless it exits 0.
func (w *world) must(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	code, out, errs := w.kp(t, stdin, args...)
	if code != ExitOK {
		t.Fatalf("keyport %s: exit %d\n%s", strings.Join(args, " "), code, errs)
	}
	return out
}

// key creates a key with an alias and returns its ARN.
func (w *world) key(t *testing.T, alias string) string {
	t.Helper()
	return strings.TrimSpace(w.must(t, nil, "keys", "create", "--alias", alias))
}

// service opens the store directly, for what the tool does not do (raw blobs,
// disabling keys). The tool must not run while it is open.
func (w *world) service(t *testing.T) (*local.Service, *local.Client) {
	t.Helper()
	svc, err := local.Open(w.store)
	if err != nil {
		t.Fatal(err)
	}
	return svc, svc.Client(local.Identity{Account: defaultAccount})
}

// defaultAccount is the account the tests use the store as.
const defaultAccount = "111122223333"

func randBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func writeFile(t *testing.T, path string, data []byte, mode fs.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEncryptDecryptRoundTrip(t *testing.T) {
	w := newWorld(t)
	a := w.key(t, "alias/a")
	w.key(t, "alias/b")
	c := w.key(t, "alias/c")
	for _, tc := range []struct {
		name  string
		size  int
		flags []string
	}{
		{"empty", 0, nil},
		{"small-default-suite", 100, nil},
		{"frames-unsigned", 10_000, []string{"--frame-length", "512", "--suite", "0x0478"}},
		{"frames-signed-exact", 4096, []string{"--frame-length", "1024", "--suite", "committing-signed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt := randBytes(tc.size)
			in := filepath.Join(w.dir, tc.name+".txt")
			writeFile(t, in, pt, 0o600)
			msgPath := filepath.Join(w.dir, tc.name+".enc")
			args := append([]string{"encrypt", "--key", "alias/a", "--key", c, "--context", "tenant=acme", "--context", "purpose=test", "-o", msgPath}, tc.flags...)
			if out := w.must(t, nil, append(args, in)...); out != "" {
				t.Fatalf("encrypt -o wrote %d bytes to stdout", len(out))
			}
			msg := readFile(t, msgPath)
			if bytes.Contains(msg, pt) && len(pt) > 0 {
				t.Fatal("the message contains the plaintext")
			}
			// stdin -> stdout gives a message too.
			msg2 := []byte(w.must(t, pt, append([]string{"encrypt", "--key", a, "--context", "tenant=acme"}, tc.flags...)...))
			for _, dec := range [][]string{
				{"decrypt", "--context", "tenant=acme"},                      // discovery
				{"decrypt", "--key", "alias/a", "--context", "tenant=acme"},  // strict, first key
				{"decrypt", "--key", "alias/c", "--context", "purpose=test"}, // strict, second key
			} {
				if got := w.must(t, msg, dec...); got != string(pt) {
					t.Fatalf("%v: plaintext differs (%d bytes, want %d)", dec, len(got), len(pt))
				}
			}
			outPath := filepath.Join(w.dir, tc.name+".out")
			w.must(t, msg2, "decrypt", "--key", a, "--context", "tenant=acme", "-o", outPath)
			if got := readFile(t, outPath); !bytes.Equal(got, pt) {
				t.Fatalf("decrypt -o: plaintext differs")
			}
			// A key that wrapped no data key of the message, or a wrong context, fails.
			code, out, errs := w.kp(t, msg, "decrypt", "--key", "alias/b", "--context", "tenant=acme")
			if code != ExitFailure || out != "" || !strings.Contains(errs, "IncorrectKeyException") {
				t.Fatalf("decrypt with another key: exit %d, %d bytes out, stderr %q", code, len(out), errs)
			}
			code, out, errs = w.kp(t, msg, "decrypt", "--context", "tenant=other")
			if code != ExitFailure || out != "" || !strings.Contains(errs, "InvalidCiphertextException") {
				t.Fatalf("decrypt with a wrong context: exit %d, %d bytes out, stderr %q", code, len(out), errs)
			}
		})
	}
}
