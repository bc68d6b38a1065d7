package conformance

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/reencrypt"
)

// The suite talks to the driver only through a backends.Front, as every caller
// does: once through a plain Front ("Front"), and once more through a Front with
// a pass-through interceptor ("Intercepted"), which proves that wrapping the Front
// loses no capability.

// baseFront returns the Fixture's Front, or builds one that routes the fixture's
// keys: the scheme (URIs) or the account and region (ARNs) of KeyA and
// CrossAccountKey to Backend, of OtherKey to Other, and Backend as the default.
func (f *Fixture) baseFront(t T, ics ...backends.Interceptor) *backends.Front {
	t.Helper()
	if f.Front != nil {
		if len(ics) == 0 {
			return f.Front
		}
		// The harness's Front, behind a Front of the suite's that routes every
		// key of the fixture to it.
		outer := routeFront(t, f.Front, f.fixtureKeys())
		outer.Use(ics...)
		return outer
	}
	fr := routeFront(t, f.Backend, f.ownKeys())
	if f.Other != nil {
		route(t, fr, f.OtherKey, f.Other)
	}
	fr.Use(ics...)
	return fr
}

// ownKeys are the keys the driver under test holds for the suite's caller.
func (f *Fixture) ownKeys() []string {
	keys := []string{f.KeyA, f.KeyB}
	if f.CrossAccountKey != "" {
		keys = append(keys, f.CrossAccountKey)
	}
	return keys
}

// fixtureKeys are all the keys and key references of the fixture.
func (f *Fixture) fixtureKeys() []string {
	keys := append(f.ownKeys(), f.KeyAForms...)
	for _, k := range []string{f.OtherKey, f.Unknown, f.Disabled, f.PendingDeletion} {
		if k != "" {
			keys = append(keys, k)
		}
	}
	return keys
}

// routeFront returns a Front that routes keys, and bare references, to b.
func routeFront(t T, b backends.Backend, keys []string) *backends.Front {
	t.Helper()
	fr := backends.NewFront(b)
	for _, k := range keys {
		route(t, fr, k, b)
	}
	return fr
}

// route makes b the owner of key in fr: its scheme or its account and region.
func route(t T, fr *backends.Front, key string, b backends.Backend) {
	t.Helper()
	ref, err := backends.ParseKeyRef(key)
	if err != nil {
		t.Fatalf("conformance: cannot route %q: %v", key, err)
	}
	if ref.Form != backends.FormURI && !ref.IsARN() {
		return // the default
	}
	switch {
	case ref.Form == backends.FormURI:
		err = fr.Register(ref.Scheme, b)
	default:
		err = fr.RegisterPartitionAccount(ref.Partition, ref.Account, ref.Region, b)
	}
	if errors.Is(err, backends.ErrAlreadyExists) {
		if have, _, lerr := fr.Lookup(context.Background(), key); lerr == nil && backends.SameBackend(have, b) {
			return
		}
		t.Fatalf("conformance: %s routes to two backends; give Fixture.Front", key)
	}
	if err != nil {
		t.Fatalf("conformance: route %s: %v", key, err)
	}
}

// frontFor returns a Front through which b (another principal of the driver: a
// grantee, a restricted caller) is reached for the fixture's own keys, with the
// pass's interceptors.
func (s *suite) frontFor(t T, b backends.Backend) *backends.Front {
	t.Helper()
	fr := routeFront(t, b, s.f.ownKeys())
	fr.Use(s.ics...)
	return fr
}

// generator returns the Front as a DataKeyGenerator: every Front makes data
// keys, natively or by encrypting random bytes.
func (s *suite) generator() (backends.DataKeyGenerator, bool) { return s.kms, true }

// describer returns the Front as a KeyDescriber when the driver describes keys.
func (s *suite) describer() (backends.KeyDescriber, bool) { return s.kms, s.caps.DescribeKey }

// reEncrypter returns the Front as a ReEncrypter when the driver re-encrypts
// natively.
func (s *suite) reEncrypter() (backends.ReEncrypter, bool) { return s.kms, s.caps.ReEncrypt }

// inspector returns the Front as a CiphertextInspector when the driver's blobs
// name their key.
func (s *suite) inspector() (backends.CiphertextInspector, bool) {
	return s.kms, s.caps.InspectCiphertext
}

// viaPlaintext is an engine that always decrypts and encrypts (Via ViaPlaintext).
func viaPlaintext(e *reencrypt.Engine) reEncryptEngine { return reEncryptEngine{e} }

type reEncryptEngine struct{ e *reencrypt.Engine }

func (v reEncryptEngine) ReEncrypt(ctx context.Context, in *backends.ReEncryptInput) (*backends.ReEncryptOutput, error) {
	if in != nil {
		c := *in
		c.Via = backends.ViaPlaintext
		in = &c
	}
	return v.e.ReEncrypt(ctx, in)
}

// callCounter is the pass-through interceptor of the Intercepted pass: it counts
// the calls of each operation and lets them through unchanged.
type callCounter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *callCounter) intercept(ctx context.Context, call *backends.Call, invoke backends.Invoker) error {
	c.mu.Lock()
	if c.calls == nil {
		c.calls = make(map[string]int)
	}
	c.calls[call.Op]++
	c.mu.Unlock()
	return invoke(ctx)
}

// check fails t unless the interceptor saw every operation the driver's
// capabilities let the suite make.
func (c *callCounter) check(t T, caps backends.Capabilities) {
	t.Helper()
	want := []string{"Encrypt", "Decrypt", "GenerateDataKey", "GenerateDataKeyWithoutPlaintext"}
	if caps.ReEncrypt {
		want = append(want, "ReEncrypt")
	}
	if caps.DescribeKey {
		want = append(want, "DescribeKey")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing, seen []string
	for _, op := range want {
		if c.calls[op] == 0 {
			missing = append(missing, op)
		}
	}
	for op, n := range c.calls {
		seen = append(seen, fmt.Sprintf("%s=%d", op, n))
	}
	sort.Strings(seen)
	if len(missing) > 0 {
		t.Errorf("the pass-through interceptor never saw %s (it saw %s): a capability was lost behind it",
			strings.Join(missing, ", "), strings.Join(seen, " "))
	}
}
