package local_test

import (
	"context"
	"crypto/sha256"
	"sync"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
)

const (
	acctA = "111122223333"
	acctB = "444455556666"
	roleA = "arn:aws:iam::111122223333:role/app"
	roleB = "arn:aws:iam::444455556666:role/app"
)

var bg = context.Background()

// clock is a settable clock for WithClock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

const day = 24 * time.Hour

type fixture struct {
	t     *testing.T
	clock *clock
	svc   *local.Service
	a     *local.Client // role in account A
	b     *local.Client // role in account B
}

func newFixture(t *testing.T, opts ...local.Option) *fixture {
	t.Helper()
	c := newClock()
	svc := local.New(append([]local.Option{local.WithClock(c.Now)}, opts...)...)
	t.Cleanup(func() { svc.Close() })
	return &fixture{t: t, clock: c, svc: svc,
		a: svc.Client(local.Identity{Account: acctA, Principal: roleA}),
		b: svc.Client(local.Identity{Account: acctB, Principal: roleB})}
}

// key creates a key with c and returns its metadata.
func (f *fixture) key(c *local.Client, in *local.CreateKeyInput) *backends.KeyMetadata {
	f.t.Helper()
	out, err := c.CreateKey(bg, in)
	if err != nil {
		f.t.Fatalf("CreateKey: %v", err)
	}
	return out.KeyMetadata
}

func (f *fixture) encrypt(c *local.Client, keyID string, pt []byte, ec map[string]string) []byte {
	f.t.Helper()
	out, err := c.Encrypt(bg, &backends.EncryptInput{KeyID: keyID, Plaintext: pt, EncryptionContext: ec})
	if err != nil {
		f.t.Fatalf("Encrypt(%s): %v", keyID, err)
	}
	return out.CiphertextBlob
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// allowPolicy returns a key policy that gives account owner kms:* and principals
// the actions.
func allowPolicy(owner string, principals []string, actions ...string) string {
	ps, as := quoteList(principals), quoteList(actions)
	return `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + owner + `:root"},"Action":"kms:*","Resource":"*"},` +
		`{"Effect":"Allow","Principal":{"AWS":` + ps + `},"Action":` + as + `,"Resource":"*"}]}`
}

func quoteList(ss []string) string {
	s := "["
	for i, v := range ss {
		if i > 0 {
			s += ","
		}
		s += `"` + v + `"`
	}
	return s + "]"
}

// rootKey returns a fixed root key for seed b (SHA-256 of it: not 32 equal bytes,
// which Open refuses).
func rootKey(b byte) []byte {
	k := sha256.Sum256([]byte{b})
	return k[:]
}
