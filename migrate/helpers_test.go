package migrate

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
)

// calls counts a Front's calls by operation, and the most in flight at once.
type calls struct {
	mu       sync.Mutex
	n        map[string]int
	inflight atomic.Int64
	maxIn    atomic.Int64
}

func (c *calls) interceptor() backends.Interceptor {
	return func(ctx context.Context, call *backends.Call, invoke backends.Invoker) error {
		c.mu.Lock()
		c.n[call.Op]++
		c.mu.Unlock()
		n := c.inflight.Add(1)
		defer c.inflight.Add(-1)
		for {
			m := c.maxIn.Load()
			if n <= m || c.maxIn.CompareAndSwap(m, n) {
				break
			}
		}
		return invoke(ctx)
	}
}

func (c *calls) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]int{}
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *calls) reset() {
	c.mu.Lock()
	c.n = map[string]int{}
	c.mu.Unlock()
	c.maxIn.Store(0)
}

// world is a Front over an embedded key service with three keys.
type world struct {
	front               *backends.Front
	calls               *calls
	src, dst, other     string // key ARNs
	srcKR, dstKR, anyKR envelope.Keyring
}

func newWorld(t testing.TB, svc *local.Service) *world {
	t.Helper()
	ctx := context.Background()
	app := svc.Client(local.Identity{Account: "111122223333"})
	w := &world{calls: &calls{n: map[string]int{}}}
	mk := func(alias string) string {
		out, err := app.CreateKey(ctx, &local.CreateKeyInput{Description: alias})
		if err != nil {
			t.Fatal(err)
		}
		if err := app.CreateAlias(ctx, &local.CreateAliasInput{AliasName: alias, TargetKeyID: out.KeyMetadata.KeyID}); err != nil {
			t.Fatal(err)
		}
		return out.KeyMetadata.Arn
	}
	w.src, w.dst, w.other = mk("alias/src"), mk("alias/dst"), mk("alias/other")
	w.front = backends.NewFront(app)
	w.front.Use(w.calls.interceptor())
	var err error
	if w.srcKR, err = keyring.NewStrict(backends.NewFront(app), nil, w.src); err != nil {
		t.Fatal(err)
	}
	if w.dstKR, err = keyring.NewStrict(backends.NewFront(app), nil, w.dst); err != nil {
		t.Fatal(err)
	}
	if w.anyKR, err = keyring.NewDiscovery(backends.NewFront(app), nil); err != nil {
		t.Fatal(err)
	}
	return w
}

// keyringFor returns a keyring that wraps under one key ARN.
func (w *world) keyringFor(t testing.TB, arn string) envelope.Keyring {
	switch arn {
	case w.src:
		return w.srcKR
	case w.dst:
		return w.dstKR
	}
	kr, err := keyring.NewStrict(w.front, nil, arn)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

var testEC = map[string]string{"tenant": "acme"}

// message encrypts size random bytes under kr and returns the message and the
// plaintext's digest.
func message(t testing.TB, kr envelope.Keyring, size int, suite envelope.SuiteID) ([]byte, [32]byte) {
	t.Helper()
	pt := make([]byte, size)
	rand.Read(pt)
	msg, err := envelope.Encrypt(context.Background(), pt, envelope.EncryptOptions{Keyring: kr, EncryptionContext: testEC, Suite: suite, Workers: envelope.AllCores})
	if err != nil {
		t.Fatal(err)
	}
	return msg, sha256.Sum256(pt)
}

// tree describes what a test wrote: each object's plaintext digest and key.
type tree struct {
	sums map[string][32]byte // key -> plaintext digest (messages only)
	keys map[string]string   // key -> ARN it was written under
}

func newTree() *tree { return &tree{sums: map[string][32]byte{}, keys: map[string]string{}} }

func writeFile(t testing.TB, root, key string, data []byte) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o640); err != nil {
		t.Fatal(err)
	}
}

// readTree reads every regular file under root.
func readTree(t testing.TB, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		b, err := os.ReadFile(p)
		out[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkObjects checks that every message of tr is now under exactly the
// destination key and decrypts to its original plaintext, and that nothing
// else is in objects except what tr does not list as a message (returned).
func (w *world) checkObjects(t testing.TB, tr *tree, objects map[string][]byte, migrated func(key string) bool) {
	t.Helper()
	for key, data := range objects {
		if strings.Contains(key, ".keyport-tmp-") {
			t.Errorf("temporary file left: %s", key)
			continue
		}
		want, ok := tr.sums[key]
		if !ok {
			continue
		}
		kr := w.dstKR
		if !migrated(key) {
			kr = w.keyringFor(t, tr.keys[key])
		}
		pt, res, err := envelope.Decrypt(context.Background(), data, envelope.DecryptOptions{Keyring: kr, EncryptionContext: testEC})
		if err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		if sha256.Sum256(pt) != want {
			t.Errorf("%s: plaintext differs", key)
		}
		if migrated(key) {
			for _, e := range res.Header.EncryptedDataKeys {
				if !bytes.Equal(e.ProviderInfo, []byte(w.dst)) {
					t.Errorf("%s: still wrapped by %s", key, e.ProviderInfo)
				}
			}
		}
	}
	for key := range tr.sums {
		if _, ok := objects[key]; !ok {
			t.Errorf("%s: gone", key)
		}
	}
}
