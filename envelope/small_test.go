package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"reflect"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
)

// The byte-slice path makes at most four allocations per message: the AES key
// schedule and GCM state (two, from crypto/cipher), the session or the Result
// (none with a reused Result), and the output (none with a reused buffer).
func TestSmallMessageAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own")
	}
	ctx := context.Background()
	pt := randBytes(7, 1024)
	kr := aesKeyring(t, "k1", 1)
	eo := envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: smallEC}
	do := envelope.DecryptOptions{Keyring: kr, EncryptionContext: smallEC}
	msg, err := envelope.Encrypt(ctx, pt, eo)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 2*len(msg))
	var res envelope.Result
	for _, c := range []struct {
		name string
		max  float64
		op   func() error
	}{
		{"Encrypt", 4, func() error { _, err := envelope.Encrypt(ctx, pt, eo); return err }},
		{"AppendEncrypt", 3, func() error { _, err := envelope.AppendEncrypt(ctx, buf[:0], pt, eo); return err }},
		{"Decrypt", 4, func() error { _, _, err := envelope.Decrypt(ctx, msg, do); return err }},
		{"AppendDecrypt", 3, func() error { _, _, err := envelope.AppendDecrypt(ctx, buf[:0], msg, do); return err }},
		// A reused Result: only the AES key schedule and GCM state.
		{"AppendDecryptInto", 2, func() error { _, err := envelope.AppendDecryptInto(ctx, buf[:0], msg, do, &res); return err }},
	} {
		if err := c.op(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if n := testing.AllocsPerRun(200, func() { c.op() }); n > c.max {
			t.Errorf("%s: %v allocations per message, want at most %v", c.name, n, c.max)
		}
	}
}

// Decrypt shares the caller's context map with the Result only when it holds
// exactly the message's pairs (with the Header, exactly its stored pairs);
// every other case gets maps of its own with the right pairs in the right place.
func TestDecryptContextMaps(t *testing.T) {
	ctx := context.Background()
	kr := aesKeyring(t, "k1", 1)
	stored := map[string]string{"a": "1", "b": "2"}
	msg, err := envelope.Encrypt(ctx, []byte("x"), envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: stored})
	if err != nil {
		t.Fatal(err)
	}
	withReq := map[string]string{"a": "1", "b": "2", "r": "3"}
	msgReq, err := envelope.Encrypt(ctx, []byte("x"), envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: withReq, RequiredEncryptionContextKeys: []string{"r"}})
	if err != nil {
		t.Fatal(err)
	}
	same := func(a, b map[string]string) bool {
		return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	}
	for _, c := range []struct {
		name        string
		msg         []byte
		given       map[string]string
		full, store map[string]string
		req         []string
		shared      bool // Result.EncryptionContext
		hdrShared   bool // Header.EncryptionContext
	}{
		{"exactly the stored pairs", msg, map[string]string{"a": "1", "b": "2"}, stored, stored, nil, true, true},
		{"a subset", msg, map[string]string{"b": "2"}, stored, stored, nil, false, false},
		{"none", msg, nil, stored, stored, nil, false, false},
		{"stored and required", msgReq, map[string]string{"a": "1", "b": "2", "r": "3"}, withReq, stored, []string{"r"}, true, false},
		{"only the required", msgReq, map[string]string{"r": "3"}, withReq, stored, []string{"r"}, false, false},
	} {
		given := maps.Clone(c.given)
		_, res, err := envelope.Decrypt(ctx, c.msg, envelope.DecryptOptions{Keyring: kr, EncryptionContext: given})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !maps.Equal(res.EncryptionContext, c.full) || !maps.Equal(res.Header.EncryptionContext, c.store) {
			t.Errorf("%s: context %v, stored %v; want %v, %v", c.name, res.EncryptionContext, res.Header.EncryptionContext, c.full, c.store)
		}
		if len(c.req) > 0 && !reflect.DeepEqual(res.RequiredEncryptionContextKeys, c.req) || len(c.req) == 0 && len(res.RequiredEncryptionContextKeys) != 0 {
			t.Errorf("%s: required keys %v, want %v", c.name, res.RequiredEncryptionContextKeys, c.req)
		}
		if got := given != nil && same(res.EncryptionContext, given); got != c.shared {
			t.Errorf("%s: Result shares the caller's map: %v, want %v", c.name, got, c.shared)
		}
		if got := given != nil && same(res.Header.EncryptionContext, given); got != c.hdrShared {
			t.Errorf("%s: Header shares the caller's map: %v, want %v", c.name, got, c.hdrShared)
		}
		if !maps.Equal(given, c.given) {
			t.Errorf("%s: the caller's map changed to %v", c.name, given)
		}
	}
	// A context that does not match is refused before any key is used.
	if _, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: kr, EncryptionContext: map[string]string{"a": "1", "b": "X"}}); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Errorf("mismatched value: %v", err)
	}
}

// ctxSpy records what a keyring sees of the materials and checks that the
// serialized context the session hands over is the map's.
type ctxSpy struct {
	envelope.Keyring
	t            *testing.T
	encEC, decEC []byte
	maxPlaintext int64
}

func (k *ctxSpy) OnEncrypt(ctx context.Context, m *envelope.EncryptionMaterials) error {
	b, err := m.SerializedEncryptionContext()
	if err != nil {
		return err
	}
	k.encEC, k.maxPlaintext = bytes.Clone(b), m.MaxPlaintextLength
	// A copy given another map serializes that map, not the cached one.
	c := *m
	c.EncryptionContext = map[string]string{"other": "pair"}
	if other, _ := c.SerializedEncryptionContext(); bytes.Equal(other, b) {
		k.t.Error("a copy of the materials with another context kept the cached serialization")
	}
	// Bytes from the room never overlap, across copies too.
	x, y := m.Alloc(40), c.Alloc(40)
	for i := range x {
		x[i] = 1
	}
	if !bytes.Equal(y, make([]byte, 40)) {
		k.t.Error("two Alloc calls returned overlapping bytes")
	}
	return k.Keyring.OnEncrypt(ctx, m)
}

func (k *ctxSpy) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	b, err := m.SerializedEncryptionContext()
	if err != nil {
		return err
	}
	k.decEC = bytes.Clone(b)
	return k.Keyring.OnDecrypt(ctx, m, edks)
}

func TestMaterialsContextAndRoom(t *testing.T) {
	ctx := context.Background()
	ec := map[string]string{"zeta": "1", "alpha": "2", "mid": "ü"}
	want := []byte("\x00\x03\x00\x05alpha\x00\x012\x00\x03mid\x00\x02ü\x00\x04zeta\x00\x011")
	for _, req := range [][]string{nil, {"mid"}} {
		spy := &ctxSpy{Keyring: aesKeyring(t, "k1", 1), t: t}
		msg, err := envelope.Encrypt(ctx, make([]byte, 100), envelope.EncryptOptions{Keyring: spy, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: ec, RequiredEncryptionContextKeys: req})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(spy.encEC, want) || spy.maxPlaintext != 100 {
			t.Errorf("required %v: encrypting keyring saw %q and max plaintext %d", req, spy.encEC, spy.maxPlaintext)
		}
		for _, given := range []map[string]string{ec, {"mid": "ü"}} {
			spy.decEC = nil
			if _, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: spy, EncryptionContext: given}); err != nil {
				t.Fatalf("required %v, given %v: %v", req, given, err)
			}
			if !bytes.Equal(spy.decEC, want) {
				t.Errorf("required %v, given %v: decrypting keyring saw %q", req, given, spy.decEC)
			}
		}
	}
}

// PlaintextLength caps what a message may carry and reaches the keyrings.
func TestPlaintextLength(t *testing.T) {
	ctx := context.Background()
	spy := &ctxSpy{Keyring: aesKeyring(t, "k1", 1), t: t}
	o := envelope.EncryptOptions{Keyring: spy, PlaintextLength: 10, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey}
	if _, err := envelope.Encrypt(ctx, make([]byte, 11), o); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("11 bytes under a PlaintextLength of 10: %v", err)
	}
	if _, err := envelope.Encrypt(ctx, make([]byte, 4), o); err != nil || spy.maxPlaintext != 4 {
		t.Errorf("4 bytes: %v, keyring saw max %d", err, spy.maxPlaintext)
	}
	var out bytes.Buffer
	e, err := envelope.NewEncrypter(ctx, &out, o)
	if err != nil {
		t.Fatal(err)
	}
	if spy.maxPlaintext != 10 {
		t.Errorf("stream: keyring saw max %d, want 10", spy.maxPlaintext)
	}
	if _, err := e.Write(make([]byte, 6)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Write(make([]byte, 5)); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("stream past PlaintextLength: %v", err)
	}
	if err := e.Close(); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("Close after the overrun: %v", err)
	}
	if _, err := envelope.Encrypt(ctx, nil, envelope.EncryptOptions{Keyring: spy, PlaintextLength: -1}); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("negative PlaintextLength: %v", err)
	}
	e, err = envelope.NewEncrypter(ctx, &out, envelope.EncryptOptions{Keyring: spy, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey})
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	if spy.maxPlaintext != 0 {
		t.Errorf("stream of unknown length: keyring saw max %d, want 0", spy.maxPlaintext)
	}
}

// AppendDecryptInto describes each message in the Result it is given exactly as
// Decrypt describes it in a Result of its own, message after message in one
// Result; a failed call leaves nothing of the last message in it.
func TestAppendDecryptInto(t *testing.T) {
	ctx := context.Background()
	kr1, kr2 := aesKeyring(t, "k1", 1), aesKeyring(t, "k2", 2)
	multi, err := keyring.NewMulti(kr1, kr2)
	if err != nil {
		t.Fatal(err)
	}
	type msgCase struct {
		name string
		eo   envelope.EncryptOptions
		do   envelope.DecryptOptions
		pt   []byte
	}
	cases := []msgCase{
		{"small", envelope.EncryptOptions{Keyring: kr1, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: smallEC},
			envelope.DecryptOptions{Keyring: kr1, EncryptionContext: smallEC}, randBytes(1, 1024)},
		{"two keys, required pair, signed", envelope.EncryptOptions{Keyring: multi, EncryptionContext: map[string]string{"a": "1", "tenant": "t"}, RequiredEncryptionContextKeys: []string{"tenant"}},
			envelope.DecryptOptions{Keyring: kr2, EncryptionContext: map[string]string{"tenant": "t"}}, randBytes(2, 70000)},
		{"no context, unframed", envelope.EncryptOptions{Keyring: kr1, FrameLength: 0, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey},
			envelope.DecryptOptions{Keyring: kr1}, randBytes(3, 10)},
	}
	var res envelope.Result
	for round := range 2 {
		for _, c := range cases {
			msg, err := envelope.Encrypt(ctx, c.pt, c.eo)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			want, wantRes, err := envelope.Decrypt(ctx, msg, c.do)
			if err != nil {
				t.Fatalf("%s: Decrypt: %v", c.name, err)
			}
			got, err := envelope.AppendDecryptInto(ctx, []byte("prefix"), msg, c.do, &res)
			if err != nil || !bytes.Equal(got, append([]byte("prefix"), want...)) {
				t.Fatalf("%s (round %d): AppendDecryptInto: %v", c.name, round, err)
			}
			if res.Suite != wantRes.Suite || !maps.Equal(res.EncryptionContext, wantRes.EncryptionContext) ||
				!reflect.DeepEqual(res.RequiredEncryptionContextKeys, wantRes.RequiredEncryptionContextKeys) ||
				res.Header == nil || !reflect.DeepEqual(*res.Header, *wantRes.Header) {
				t.Errorf("%s (round %d): the Result differs from Decrypt's:\n%+v\n%+v", c.name, round, res, *wantRes)
			}
			// A damaged message: an error, and nothing of this message left.
			bad := bytes.Clone(msg)
			bad[len(bad)-1] ^= 1 // the last tag, or the signature
			if _, err := envelope.AppendDecryptInto(ctx, nil, bad, c.do, &res); !errors.Is(err, backends.ErrInvalidCiphertext) {
				t.Errorf("%s: a damaged message: %v", c.name, err)
			}
			if res.Header != nil || res.EncryptionContext != nil || res.Suite != 0 {
				t.Errorf("%s: a failed call left the last message's description: %+v", c.name, res)
			}
		}
	}
	if _, err := envelope.AppendDecryptInto(ctx, nil, []byte("x"), cases[0].do, nil); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("a nil Result: %v", err)
	}
}
