package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
)

func aesKeyring(t testing.TB, name string, seed byte) *keyring.RawAES {
	t.Helper()
	key := bytes.Repeat([]byte{seed}, 32)
	kr, err := keyring.NewRawAES("keyport-test", name, key)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// streamEncrypt encrypts pt with the streaming API, writing in pieces of varying size.
func streamEncrypt(t testing.TB, pt []byte, opts envelope.EncryptOptions, piece int) []byte {
	t.Helper()
	var out bytes.Buffer
	e, err := envelope.NewEncrypter(context.Background(), &out, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; len(pt) > 0; i++ {
		n := min(len(pt), piece+i%3)
		if _, err := e.Write(pt[:n]); err != nil {
			t.Fatal(err)
		}
		pt = pt[n:]
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// readFromEncrypt encrypts pt through io.Copy from a reader without WriteTo, so
// that the Encrypter's ReadFrom does the reading, in short reads.
func readFromEncrypt(t testing.TB, pt []byte, opts envelope.EncryptOptions) []byte {
	t.Helper()
	var out bytes.Buffer
	e, err := envelope.NewEncrypter(context.Background(), &out, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(e, iotest.HalfReader(bytes.NewReader(pt))); err != nil || n != int64(len(pt)) {
		t.Fatalf("ReadFrom: %d, %v", n, err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var ctxEC = map[string]string{"purpose": "test", "Ünïcode ✓": "välue", "B": "upper", "a": "lower"}

func TestRoundTrip(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	type cfg struct{ frame, size int }
	var cases []cfg
	for _, F := range []int{1, 2, 3, 100, 512, 4096, 65535, 65536} {
		sizes := []int{0, 1, F - 1, F, F + 1, 3*F + 5}
		if F <= 100 {
			sizes = append(sizes, 2000)
		}
		if F >= 4096 {
			sizes = append(sizes, 3<<20+7)
		}
		for _, n := range sizes {
			if n >= 0 {
				cases = append(cases, cfg{F, n})
			}
		}
	}
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		for _, c := range cases {
			if testing.Short() && c.size > 1<<20 {
				continue
			}
			t.Run(fmt.Sprintf("%04x/F%d/n%d", uint16(s), c.frame, c.size), func(t *testing.T) {
				pt := randBytes(uint64(c.size*7+c.frame), c.size)
				opts := envelope.EncryptOptions{Keyring: kr, EncryptionContext: ctxEC, RequiredEncryptionContextKeys: []string{"a"}, Suite: s, FrameLength: c.frame}
				var msgs [][]byte
				for _, w := range []int{1, 3} {
					o := opts
					o.Workers = w
					m, err := envelope.Encrypt(context.Background(), pt, o)
					if err != nil {
						t.Fatal(err)
					}
					msgs = append(msgs, m, streamEncrypt(t, pt, o, 1+c.frame/2), streamEncrypt(t, pt, o, 3*c.frame+1), readFromEncrypt(t, pt, o))
				}
				dopts := envelope.DecryptOptions{Keyring: kr, EncryptionContext: map[string]string{"a": "lower"}}
				for i, m := range msgs {
					if s == envelope.SuiteAES256GCMHKDFSHA512CommitKey && len(m) != len(msgs[0]) {
						t.Fatalf("message %d is %d bytes, message 0 is %d: layouts differ", i, len(m), len(msgs[0]))
					}
					if d := len(m) - len(msgs[0]); d < -8 || d > 8 {
						t.Fatalf("message %d is %d bytes, message 0 is %d", i, len(m), len(msgs[0]))
					}
					got, res, err := decryptBoth(t, m, dopts)
					if err != nil {
						t.Fatalf("message %d: %v", i, err)
					}
					if !bytes.Equal(got, pt) {
						t.Fatalf("message %d: plaintext differs", i)
					}
					if res.Suite != s || res.Header.FrameLength != c.frame || res.EncryptionContext["Ünïcode ✓"] != "välue" || res.EncryptionContext["a"] != "lower" {
						t.Fatalf("message %d: result %+v", i, res)
					}
					if _, stored := res.Header.EncryptionContext["a"]; stored {
						t.Fatal("required pair stored in the header")
					}
				}
				if c.size > 0 {
					wantFrames := (c.size + c.frame - 1) / c.frame
					if got := countFrames(t, msgs[0], c.frame); got != wantFrames {
						t.Fatalf("%d frames, want %d (final frame full when the size is a multiple)", got, wantFrames)
					}
				}
			})
		}
	}
}

// countFrames counts the frames of an unsigned-or-signed message's body by
// decrypting with a keyring-independent walk: header size from the result.
func countFrames(t *testing.T, msg []byte, F int) int {
	t.Helper()
	d, err := envelope.NewDecrypter(context.Background(), bytes.NewReader(msg), envelope.DecryptOptions{Keyring: aesKeyring(t, "k1", 1), EncryptionContext: map[string]string{"a": "lower"}})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	body := msg[d.Result().Header.Size:]
	n := 0
	for {
		n++
		if body[0] == 0xff && body[1] == 0xff && body[2] == 0xff && body[3] == 0xff {
			return n
		}
		body = body[F+32:]
	}
}

func TestEncryptOptionsChecked(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	ctx := context.Background()
	for name, o := range map[string]envelope.EncryptOptions{
		"no keyring":           {},
		"reserved key":         {Keyring: kr, EncryptionContext: map[string]string{"aws-crypto-public-key": "x"}},
		"reserved prefix":      {Keyring: kr, EncryptionContext: map[string]string{"aws-crypto-other": "x"}},
		"required not in ec":   {Keyring: kr, RequiredEncryptionContextKeys: []string{"x"}},
		"unknown suite":        {Keyring: kr, Suite: 0x0999},
		"negative frame":       {Keyring: kr, FrameLength: -1},
		"frame too long":       {Keyring: kr, FrameLength: 1 << 32},
		"invalid utf8 context": {Keyring: kr, EncryptionContext: map[string]string{"k": "\xff"}},
		"context too large":    {Keyring: kr, EncryptionContext: map[string]string{"k": string(bytes.Repeat([]byte("v"), 70000))}},
	} {
		if _, err := envelope.Encrypt(ctx, []byte("x"), o); !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("%s: %v, want ErrInvalidArgument", name, err)
		}
		if _, err := envelope.NewEncrypter(ctx, io.Discard, o); !errors.Is(err, backends.ErrInvalidArgument) {
			t.Errorf("%s (stream): %v, want ErrInvalidArgument", name, err)
		}
	}
	// Commitment policy.
	if _, err := envelope.Encrypt(ctx, nil, envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMIV12Tag16HKDFSHA256}); !errors.Is(err, backends.ErrUnsupported) {
		t.Errorf("non-committing suite under RequireEncrypt: %v", err)
	}
	if _, err := envelope.Encrypt(ctx, nil, envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, CommitmentPolicy: envelope.ForbidEncryptAllowDecrypt}); !errors.Is(err, backends.ErrUnsupported) {
		t.Errorf("committing suite under ForbidEncrypt: %v", err)
	}
}

func TestCommitmentPolicies(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	ctx := context.Background()
	pt := randBytes(5, 10000)
	for _, s := range []envelope.SuiteID{0, envelope.SuiteAES128GCMIV12Tag16NoKDF, envelope.SuiteAES192GCMIV12Tag16HKDFSHA384ECDSAP384, envelope.SuiteAES128GCMIV12Tag16HKDFSHA256ECDSAP256, envelope.SuiteAES192GCMIV12Tag16HKDFSHA256} {
		msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: kr, Suite: s, CommitmentPolicy: envelope.ForbidEncryptAllowDecrypt, FrameLength: 1000, EncryptionContext: ctxEC})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: kr}); !errors.Is(err, backends.ErrUnsupported) {
			t.Errorf("%04x: v1 message under RequireDecrypt: %v", uint16(s), err)
		}
		got, res, err := decryptBoth(t, msg, envelope.DecryptOptions{Keyring: kr, CommitmentPolicy: envelope.ForbidEncryptAllowDecrypt})
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%04x: %v", uint16(s), err)
		}
		if res.Header.Version != 1 || (s == 0 && res.Suite != envelope.SuiteAES256GCMIV12Tag16HKDFSHA384ECDSAP384) {
			t.Errorf("%04x: version %d suite %04x", uint16(s), res.Header.Version, uint16(res.Suite))
		}
	}
}

func TestDefaults(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	msg, err := envelope.Encrypt(context.Background(), make([]byte, 10000), envelope.EncryptOptions{Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := envelope.Decrypt(context.Background(), msg, envelope.DecryptOptions{Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	if res.Suite != envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384 || res.Header.FrameLength != 4096 || !res.Header.Framed || res.Header.Version != 2 {
		t.Errorf("defaults: suite %04x frame %d", uint16(res.Suite), res.Header.FrameLength)
	}
	if _, ok := res.EncryptionContext["aws-crypto-public-key"]; !ok {
		t.Error("signed suite without aws-crypto-public-key")
	}
}

func TestMaxEncryptedDataKeys(t *testing.T) {
	ctx := context.Background()
	k1, k2 := aesKeyring(t, "k1", 1), aesKeyring(t, "k2", 2)
	two := firstOf{k1, k2}
	if _, err := envelope.Encrypt(ctx, []byte("x"), envelope.EncryptOptions{Keyring: two, MaxEncryptedDataKeys: 1}); !errors.Is(err, backends.ErrInvalidArgument) {
		t.Errorf("encrypt over the limit: %v", err)
	}
	msg, err := envelope.Encrypt(ctx, []byte("x"), envelope.EncryptOptions{Keyring: two, MaxEncryptedDataKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: k2, MaxEncryptedDataKeys: 1}); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Errorf("decrypt over the limit: %v", err)
	}
	if _, err := envelope.NewDecrypter(ctx, bytes.NewReader(msg), envelope.DecryptOptions{Keyring: k2, MaxEncryptedDataKeys: 1}); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Errorf("stream decrypt over the limit: %v", err)
	}
	for _, k := range []envelope.Keyring{k1, k2} {
		if got, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: k, MaxEncryptedDataKeys: 2}); err != nil || string(got) != "x" {
			t.Errorf("decrypt with either key: %v", err)
		}
	}
}

func TestWrongKeyAndContext(t *testing.T) {
	ctx := context.Background()
	kr := aesKeyring(t, "k1", 1)
	msg, err := envelope.Encrypt(ctx, []byte("secret"), envelope.EncryptOptions{Keyring: kr, EncryptionContext: map[string]string{"a": "1", "r": "2"}, RequiredEncryptionContextKeys: []string{"r"}})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, o envelope.DecryptOptions, want *backends.Kind) {
		t.Helper()
		pt, res, err := envelope.Decrypt(ctx, msg, o)
		if !errors.Is(err, want) || pt != nil || res != nil {
			t.Errorf("%s: %v, want %v and nothing else", name, err, want)
		}
		spt, err := streamDecrypt(msg, o)
		if !errors.Is(err, want) || len(spt) != 0 {
			t.Errorf("%s (stream): %v, want %v", name, err, want)
		}
	}
	check("wrong key material", envelope.DecryptOptions{Keyring: aesKeyring(t, "k1", 9), EncryptionContext: map[string]string{"r": "2"}}, backends.ErrIncorrectKey)
	check("other key name", envelope.DecryptOptions{Keyring: aesKeyring(t, "k2", 1), EncryptionContext: map[string]string{"r": "2"}}, backends.ErrIncorrectKey)
	check("wrong stored value", envelope.DecryptOptions{Keyring: kr, EncryptionContext: map[string]string{"a": "x", "r": "2"}}, backends.ErrInvalidCiphertext)
	check("missing required pair", envelope.DecryptOptions{Keyring: kr}, backends.ErrIncorrectKey)
	check("wrong required value", envelope.DecryptOptions{Keyring: kr, EncryptionContext: map[string]string{"r": "3"}}, backends.ErrIncorrectKey)
	check("extra pair", envelope.DecryptOptions{Keyring: kr, EncryptionContext: map[string]string{"r": "2", "z": "9"}}, backends.ErrIncorrectKey)
	check("no keyring", envelope.DecryptOptions{}, backends.ErrInvalidArgument)
	// A keyring that returns the right data key without the wrapping AAD (the
	// context) still fails on the header tag when the required pair is wrong.
	dk := dataKeyOf(t, msg, kr, map[string]string{"r": "2"})
	check("static key, wrong required value", envelope.DecryptOptions{Keyring: staticKey(dk), EncryptionContext: map[string]string{"r": "3"}}, backends.ErrInvalidCiphertext)
	check("static key, no required pair", envelope.DecryptOptions{Keyring: staticKey(dk)}, backends.ErrInvalidCiphertext)
	check("static wrong key", envelope.DecryptOptions{Keyring: staticKey(make([]byte, 32)), EncryptionContext: map[string]string{"r": "2"}}, backends.ErrInvalidCiphertext)
	if pt, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: staticKey(dk), EncryptionContext: map[string]string{"r": "2"}}); err != nil || string(pt) != "secret" {
		t.Fatalf("static key: %v", err)
	}
}

// recorder captures the data key a keyring unwraps.
type recorder struct {
	envelope.Keyring
	key []byte
}

func (r *recorder) OnDecrypt(ctx context.Context, m *envelope.DecryptionMaterials, edks []envelope.EncryptedDataKey) error {
	err := r.Keyring.OnDecrypt(ctx, m, edks)
	r.key = bytes.Clone(m.PlaintextDataKey)
	return err
}

func dataKeyOf(t *testing.T, msg []byte, kr envelope.Keyring, ec map[string]string) []byte {
	rec := &recorder{Keyring: kr}
	if _, _, err := envelope.Decrypt(context.Background(), msg, envelope.DecryptOptions{Keyring: rec, EncryptionContext: ec}); err != nil {
		t.Fatal(err)
	}
	return rec.key
}

func TestContextCanceled(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := envelope.Encrypt(ctx, []byte("x"), envelope.EncryptOptions{Keyring: kr}); !errors.Is(err, context.Canceled) || !errors.Is(err, backends.ErrCanceled) {
		t.Errorf("Encrypt: %v", err)
	}
	msg, _ := envelope.Encrypt(context.Background(), []byte("x"), envelope.EncryptOptions{Keyring: kr})
	if _, _, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{Keyring: kr}); !errors.Is(err, context.Canceled) {
		t.Errorf("Decrypt: %v", err)
	}
}

func TestParseHeader(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	msg, err := envelope.Encrypt(context.Background(), []byte("x"), envelope.EncryptOptions{Keyring: kr, EncryptionContext: map[string]string{"a": "b"}, FrameLength: 100})
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader(msg)
	h, err := envelope.ParseHeader(r, 0)
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || h.Suite != envelope.DefaultSuite || h.EncryptionContext["a"] != "b" || len(h.EncryptedDataKeys) != 1 ||
		h.EncryptedDataKeys[0].ProviderID != "keyport-test" || h.FrameLength != 100 || len(h.MessageID) != 32 || h.Size != len(msg)-r.Len() {
		t.Fatalf("header %+v", h)
	}
	if _, err := envelope.ParseHeader(bytes.NewReader(msg[:h.Size-1]), 0); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Fatalf("truncated: %v", err)
	}
}
