package keycache

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
)

// counting wraps a keyring and counts the calls that reach it, and the
// plaintext length each encryption announced to it.
type counting struct {
	envelope.Keyring
	enc, dec atomic.Int64
	lastMax  atomic.Int64
}

func (c *counting) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	c.enc.Add(1)
	c.lastMax.Store(m.MaxPlaintextLength)
	return c.Keyring.OnEncrypt(ctx, m)
}

func (c *counting) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	c.dec.Add(1)
	return c.Keyring.OnDecrypt(ctx, m, edks)
}

func newCounting(t testing.TB) *counting {
	t.Helper()
	kr, err := keyring.NewRawAES("keycache-test", "k1", bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	return &counting{Keyring: kr}
}

// fakeClock is a settable clock for a Cache.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func newTestCache(capacity int) (*Cache, *fakeClock) {
	clk := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	c := New(capacity)
	c.now = clk.now
	return c, clk
}

const s0478 = envelope.SuiteAES256GCMHKDFSHA512CommitKey

var ctxBG = context.Background()

func encrypt(t *testing.T, kr envelope.Keyring, pt []byte, ec map[string]string, s envelope.SuiteID) []byte {
	t.Helper()
	msg, err := envelope.Encrypt(ctxBG, pt, envelope.EncryptOptions{Keyring: kr, Suite: s, EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// edkOf returns the first encrypted data key of msg, the sign of the data key
// that encrypted it.
func edkOf(t *testing.T, msg []byte) []byte {
	t.Helper()
	h, err := envelope.ParseHeader(bytes.NewReader(msg), 0)
	if err != nil {
		t.Fatal(err)
	}
	return h.EncryptedDataKeys[0].Ciphertext
}

func TestEncryptionReusesDataKeysWithinLimits(t *testing.T) {
	c, clk := newTestCache(10)
	inner := newCounting(t)
	kr, err := NewKeyring(inner, Options{Cache: c, MaxAge: time.Minute, MaxMessages: 3, MaxBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	ec := map[string]string{"tenant": "a"}
	var msgs [][]byte
	for range 3 {
		msgs = append(msgs, encrypt(t, kr, make([]byte, 100), ec, s0478))
	}
	if inner.enc.Load() != 1 {
		t.Fatalf("3 messages asked the wrapped keyring %d times, want 1", inner.enc.Load())
	}
	if inner.lastMax.Load() != 1000 {
		t.Errorf("a miss announced %d bytes to the wrapped keyring, want MaxBytes (1000)", inner.lastMax.Load())
	}
	for i := range msgs {
		if !bytes.Equal(edkOf(t, msgs[i]), edkOf(t, msgs[0])) {
			t.Fatalf("message %d has another data key", i)
		}
		if i > 0 && bytes.Equal(msgs[i], msgs[0]) {
			t.Fatal("two messages are identical")
		}
	}
	// MaxMessages: the fourth message gets a new data key.
	m4 := encrypt(t, kr, make([]byte, 100), ec, s0478)
	if inner.enc.Load() != 2 || bytes.Equal(edkOf(t, m4), edkOf(t, msgs[0])) {
		t.Fatalf("after MaxMessages: %d calls, same key %v", inner.enc.Load(), bytes.Equal(edkOf(t, m4), edkOf(t, msgs[0])))
	}
	// MaxBytes: 100 (m4) + 850 fits, 50 more does not.
	encrypt(t, kr, make([]byte, 850), ec, s0478)
	if inner.enc.Load() != 2 {
		t.Fatalf("within MaxBytes: %d calls", inner.enc.Load())
	}
	encrypt(t, kr, make([]byte, 51), ec, s0478)
	if inner.enc.Load() != 3 {
		t.Fatalf("past MaxBytes: %d calls, want 3", inner.enc.Load())
	}
	// A message longer than MaxBytes bypasses the cache (and is not cached).
	encrypt(t, kr, make([]byte, 1001), ec, s0478)
	encrypt(t, kr, make([]byte, 1), ec, s0478)
	if inner.enc.Load() != 4 {
		t.Fatalf("a message over MaxBytes: %d calls, want 4", inner.enc.Load())
	}
	// MaxAge.
	clk.advance(time.Minute)
	encrypt(t, kr, make([]byte, 1), ec, s0478)
	if inner.enc.Load() != 5 {
		t.Fatalf("after MaxAge: %d calls, want 5", inner.enc.Load())
	}
	// Every message decrypts.
	for _, m := range append(msgs, m4) {
		if _, _, err := envelope.Decrypt(ctxBG, m, envelope.DecryptOptions{Keyring: inner.Keyring, EncryptionContext: ec}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestEntriesNeverCrossContextsSuitesOrPartitions(t *testing.T) {
	c, _ := newTestCache(10)
	inner := newCounting(t)
	kr, _ := NewKeyring(inner, Options{Cache: c, MaxAge: time.Minute})
	encrypt(t, kr, []byte("x"), map[string]string{"a": "1", "b": "2"}, s0478)
	encrypt(t, kr, []byte("x"), map[string]string{"b": "2", "a": "1"}, s0478) // the same context
	if inner.enc.Load() != 1 {
		t.Fatalf("the same context: %d calls", inner.enc.Load())
	}
	for i, ec := range []map[string]string{{"a": "1"}, {"a": "1", "b": "3"}, {"a": "1", "b": "2", "c": ""}, nil} {
		encrypt(t, kr, []byte("x"), ec, s0478)
		if inner.enc.Load() != int64(2+i) {
			t.Fatalf("context %v reused another context's data key", ec)
		}
	}
	// Another suite: 0x0178 (HKDF, no commitment) under a policy that writes it.
	calls := inner.enc.Load()
	o := envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMIV12Tag16HKDFSHA256, CommitmentPolicy: envelope.ForbidEncryptAllowDecrypt, EncryptionContext: map[string]string{"a": "1"}}
	for range 2 {
		if _, err := envelope.Encrypt(ctxBG, []byte("x"), o); err != nil {
			t.Fatal(err)
		}
	}
	if inner.enc.Load() != calls+1 {
		t.Fatalf("another suite: %d calls, want %d", inner.enc.Load(), calls+1)
	}
	// Partitions: the same cache, another partition, no sharing; the same
	// partition name, sharing.
	p1, _ := NewKeyring(inner, Options{Cache: c, MaxAge: time.Minute, Partition: "p"})
	p2, _ := NewKeyring(inner, Options{Cache: c, MaxAge: time.Minute, Partition: "p"})
	calls = inner.enc.Load()
	encrypt(t, p1, []byte("x"), map[string]string{"a": "1"}, s0478)
	encrypt(t, p2, []byte("x"), map[string]string{"a": "1"}, s0478)
	if inner.enc.Load() != calls+1 {
		t.Fatalf("partitions: %d calls, want %d (a new partition once, then shared)", inner.enc.Load(), calls+1)
	}
}

func TestBypass(t *testing.T) {
	c, _ := newTestCache(10)
	inner := newCounting(t)
	kr, _ := NewKeyring(inner, Options{Cache: c, MaxAge: time.Minute})
	// A signed suite: each message has its own signing key in its context.
	encrypt(t, kr, []byte("x"), nil, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384)
	encrypt(t, kr, []byte("x"), nil, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384)
	// No key derivation.
	o := envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMIV12Tag16NoKDF, CommitmentPolicy: envelope.ForbidEncryptAllowDecrypt}
	for range 2 {
		if _, err := envelope.Encrypt(ctxBG, []byte("x"), o); err != nil {
			t.Fatal(err)
		}
	}
	// A stream of unknown length.
	for range 2 {
		e, err := envelope.NewEncrypter(ctxBG, &bytes.Buffer{}, envelope.EncryptOptions{Keyring: kr, Suite: s0478})
		if err != nil {
			t.Fatal(err)
		}
		e.Close()
	}
	// Empty plaintext announces nothing.
	encrypt(t, kr, nil, nil, s0478)
	encrypt(t, kr, nil, nil, s0478)
	if got := inner.enc.Load(); got != 8 || c.Len() != 0 {
		t.Fatalf("bypassing messages: %d calls (want 8), %d entries (want 0)", got, c.Len())
	}
	// A stream of announced length is cached.
	for range 2 {
		e, err := envelope.NewEncrypter(ctxBG, &bytes.Buffer{}, envelope.EncryptOptions{Keyring: kr, Suite: s0478, PlaintextLength: 10})
		if err != nil {
			t.Fatal(err)
		}
		e.Write([]byte("0123456789"))
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if got := inner.enc.Load(); got != 9 {
		t.Fatalf("a stream of announced length: %d calls, want 9", got)
	}
	// Materials that already have a data key go to the wrapped keyring as they are.
	m := &envelope.EncryptionMaterials{Suite: s0478, MaxPlaintextLength: 1, PlaintextDataKey: make([]byte, 32)}
	if err := kr.OnEncrypt(ctxBG, m); err != nil || len(m.EncryptedDataKeys) != 1 || inner.enc.Load() != 10 {
		t.Fatalf("materials with a data key: %v, %d data keys, %d calls", err, len(m.EncryptedDataKeys), inner.enc.Load())
	}
}

func TestDecryptionCache(t *testing.T) {
	c, clk := newTestCache(10)
	inner := newCounting(t)
	kr, _ := NewKeyring(inner, Options{Cache: c, MaxAge: time.Minute})
	ec := map[string]string{"a": "1"}
	var msgs [][]byte
	for range 3 { // three messages under one cached data key
		msgs = append(msgs, encrypt(t, kr, []byte("secret"), ec, s0478))
	}
	signed := encrypt(t, inner.Keyring, []byte("signed"), ec, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384)
	for range 2 {
		for _, m := range append(msgs, signed) {
			pt, _, err := envelope.Decrypt(ctxBG, m, envelope.DecryptOptions{Keyring: kr, EncryptionContext: ec})
			if err != nil || (string(pt) != "secret" && string(pt) != "signed") {
				t.Fatalf("decrypt: %q, %v", pt, err)
			}
		}
	}
	if got := inner.dec.Load(); got != 2 {
		t.Fatalf("8 decryptions of messages under 2 data keys asked %d times, want 2", got)
	}
	// Another context is another entry (and the wrapped keyring refuses it).
	if _, _, err := envelope.Decrypt(ctxBG, msgs[0], envelope.DecryptOptions{Keyring: kr, EncryptionContext: map[string]string{"a": "2"}}); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Fatalf("wrong context: %v", err)
	}
	clk.advance(time.Minute)
	if _, _, err := envelope.Decrypt(ctxBG, msgs[0], envelope.DecryptOptions{Keyring: kr, EncryptionContext: ec}); err != nil || inner.dec.Load() != 3 {
		t.Fatalf("after MaxAge: %v, %d calls (want 3)", err, inner.dec.Load())
	}
	// A tampered encrypted data key is not the cached entry's.
	bad := bytes.Clone(msgs[1])
	h, _ := envelope.ParseHeader(bytes.NewReader(bad), 0)
	i := bytes.Index(bad, h.EncryptedDataKeys[0].Ciphertext)
	bad[i] ^= 1
	if _, _, err := envelope.Decrypt(ctxBG, bad, envelope.DecryptOptions{Keyring: kr, EncryptionContext: ec}); !errors.Is(err, backends.ErrIncorrectKey) {
		t.Fatalf("tampered encrypted data key: %v", err)
	}
}

// Data keys are wiped when their entries leave the cache, in every way they
// can; entries beyond the capacity go least recently used first.
func TestEvictionWipes(t *testing.T) {
	c, clk := newTestCache(2)
	keys := func() map[string][]byte { // the cached key slices, by context
		c.mu.Lock()
		defer c.mu.Unlock()
		out := map[string][]byte{}
		for _, el := range c.entries {
			out[string(el.Value.(*entry).edks[0].Ciphertext)] = el.Value.(*entry).dataKey
		}
		return out
	}
	inner := newCounting(t)
	kr, _ := NewKeyring(inner, Options{Cache: c, MaxAge: time.Minute, MaxMessages: 2})
	zero := make([]byte, 32)
	m1 := encrypt(t, kr, []byte("x"), map[string]string{"n": "1"}, s0478)
	k1 := keys()[string(edkOf(t, m1))]
	m2 := encrypt(t, kr, []byte("x"), map[string]string{"n": "2"}, s0478)
	k2 := keys()[string(edkOf(t, m2))]
	encrypt(t, kr, []byte("x"), map[string]string{"n": "1"}, s0478) // n=1 is now the most recently used
	m3 := encrypt(t, kr, []byte("x"), map[string]string{"n": "3"}, s0478)
	k3 := keys()[string(edkOf(t, m3))]
	if c.Len() != 2 || !bytes.Equal(k2, zero) || bytes.Equal(k1, zero) {
		t.Fatalf("capacity 2: %d entries; LRU entry wiped %v; recent entry intact %v", c.Len(), bytes.Equal(k2, zero), !bytes.Equal(k1, zero))
	}
	encrypt(t, kr, []byte("x"), map[string]string{"n": "1"}, s0478) // the third use of n=1's key: used up
	if !bytes.Equal(k1, zero) {
		t.Fatal("a used-up entry was not wiped")
	}
	clk.advance(2 * time.Minute)
	encrypt(t, kr, []byte("x"), map[string]string{"n": "4"}, s0478) // prunes the expired tail
	if !bytes.Equal(k3, zero) {
		t.Fatal("an expired entry was not wiped")
	}
	all := keys()
	c.Purge()
	for _, k := range all {
		if !bytes.Equal(k, zero) {
			t.Fatal("Purge did not wipe")
		}
	}
	if c.Len() != 0 {
		t.Fatal("Purge left entries")
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New(4)
	kr, _ := NewKeyring(newCounting(t), Options{Cache: c, MaxAge: time.Minute, MaxMessages: 5})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			ec := map[string]string{"g": string(rune('a' + g%6))}
			for range 50 {
				msg, err := envelope.Encrypt(ctxBG, []byte("concurrent"), envelope.EncryptOptions{Keyring: kr, Suite: s0478, EncryptionContext: ec})
				if err != nil {
					t.Error(err)
					return
				}
				if pt, _, err := envelope.Decrypt(ctxBG, msg, envelope.DecryptOptions{Keyring: kr, EncryptionContext: ec}); err != nil || string(pt) != "concurrent" {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if c.Len() > 4 {
		t.Fatalf("%d entries in a cache of 4", c.Len())
	}
}

func TestNewKeyringArguments(t *testing.T) {
	if _, err := NewKeyring(nil, Options{MaxAge: time.Second}); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("nil keyring: %v", err)
	}
	if _, err := NewKeyring(newCounting(t), Options{}); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("no MaxAge: %v", err)
	}
}
