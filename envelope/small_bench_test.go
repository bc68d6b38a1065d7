package envelope_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"runtime"
	"testing"
	"time"

	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/internal/format"
	"github.com/keyport/keyport/envelope/internal/suite"
	"github.com/keyport/keyport/internal/benchcpu"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// smallEC is the encryption context of the 1 KiB benchmarks.
var smallEC = map[string]string{"tenant": "42", "purpose": "bench"}

// BenchmarkSmall1KiB measures 1 KiB messages of suite 0x0478 under a raw AES
// keyring through the byte-slice API ("encrypt", "decrypt": Encrypt and
// Decrypt, each returning a new slice; "append-encrypt", "append-decrypt":
// AppendEncrypt and AppendDecrypt into a reused buffer) beside the format's
// crypto floor, measured piece by piece in the same run ("floor-encrypt" and
// "floor-decrypt" do exactly the cryptography a message needs, nothing else;
// "piece-*" are its parts). scripts/bench.sh prints the ratios.
func BenchmarkSmall1KiB(b *testing.B) {
	ctx := context.Background()
	pt := randBytes(7, 1024)
	kr := aesKeyring(b, "k1", 1)
	eo := envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: smallEC}
	do := envelope.DecryptOptions{Keyring: kr, EncryptionContext: smallEC}
	msg, err := envelope.Encrypt(ctx, pt, eo)
	if err != nil {
		b.Fatal(err)
	}
	hdr, err := envelope.ParseHeader(bytes.NewReader(msg), 0)
	if err != nil {
		b.Fatal(err)
	}
	run := func(name string, op func()) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			defer benchcpu.Start().PerOp(b)
			for b.Loop() {
				op()
			}
		})
	}
	run("encrypt", func() {
		if _, err := envelope.Encrypt(ctx, pt, eo); err != nil {
			b.Fatal(err)
		}
	})
	run("decrypt", func() {
		if _, _, err := envelope.Decrypt(ctx, msg, do); err != nil {
			b.Fatal(err)
		}
	})
	ebuf := make([]byte, 0, 2*len(msg))
	run("append-encrypt", func() {
		if ebuf, err = envelope.AppendEncrypt(ctx, ebuf[:0], pt, eo); err != nil {
			b.Fatal(err)
		}
	})
	dbuf := make([]byte, 0, 2*len(pt))
	run("append-decrypt", func() {
		if dbuf, _, err = envelope.AppendDecrypt(ctx, dbuf[:0], msg, do); err != nil {
			b.Fatal(err)
		}
	})
	var res envelope.Result
	run("append-decrypt-into", func() {
		if dbuf, err = envelope.AppendDecryptInto(ctx, dbuf[:0], msg, do, &res); err != nil {
			b.Fatal(err)
		}
	})

	// The floor: the same cryptography on buffers prepared in advance.
	f := newSmallFloor(b, len(pt), hdr.Size)
	run("floor-encrypt", func() { f.encrypt(pt) })
	run("floor-decrypt", f.decrypt)
	run("piece-random", f.random)
	run("piece-wrap", f.wrap)
	run("piece-unwrap", f.unwrap)
	run("piece-kdf", f.kdf)
	run("piece-aes-key", func() { f.aesKey() })
	run("piece-header-tag", func() { f.headerTag(f.aesKey()) })
	run("piece-seal-1KiB", func() { f.seal(f.gcm, pt) })
	run("piece-open-1KiB", func() { f.open(f.gcm) })
}

// BenchmarkSmall1KiBRatio runs two ways of doing the same thing alternately, a
// batch of each in turn, and reports the CPU time per message of both and
// their ratio ("x-ref", lower is better); taking turns every few milliseconds
// exposes both to the same load from the rest of the machine. Each runs twice:
// as go test runs it (a live heap of a few MB, so a garbage collection every
// few thousand messages: allocations cost most there), and with 64 MiB held live
// beside it ("heap64" suffix), as in a process with a working set of that size.
//   - "encrypt", "decrypt": AppendEncrypt and AppendDecrypt of a 1 KiB message
//     (suite 0x0478, raw AES keyring, as in BenchmarkSmall1KiB) against the
//     format's crypto floor (smallFloor);
//   - "encrypt-vs-tink", "decrypt-vs-tink": Encrypt and Decrypt against tink's
//     KMS envelope AEAD (NewKMSEnvelopeAEAD2, AES-256-GCM data keys) under an
//     AES-256-GCM key-encryption key in memory, as the raw AES keyring's.
func BenchmarkSmall1KiBRatio(b *testing.B) {
	ctx := context.Background()
	pt := randBytes(7, 1024)
	kr := aesKeyring(b, "k1", 1)
	eo := envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: smallEC}
	do := envelope.DecryptOptions{Keyring: kr, EncryptionContext: smallEC}
	msg, err := envelope.Encrypt(ctx, pt, eo)
	if err != nil {
		b.Fatal(err)
	}
	f := newSmallFloor(b, len(pt), len(msg)-len(pt)-format.FinalOverhead)
	buf := make([]byte, 0, 2*len(msg))
	kh, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		b.Fatal(err)
	}
	kek, err := aead.New(kh)
	if err != nil {
		b.Fatal(err)
	}
	tink := aead.NewKMSEnvelopeAEAD2(aead.AES256GCMKeyTemplate(), kek)
	ad := []byte("tenant=42,purpose=bench")
	tinkCT, err := tink.Encrypt(pt, ad)
	if err != nil {
		b.Fatal(err)
	}
	check := func(err error) {
		if err != nil {
			b.Fatal(err)
		}
	}
	var res envelope.Result
	cases := []struct {
		name      string
		ours, ref func()
	}{
		{"encrypt", func() { buf, err = envelope.AppendEncrypt(ctx, buf[:0], pt, eo); check(err) }, func() { f.encrypt(pt) }},
		{"decrypt", func() { buf, _, err = envelope.AppendDecrypt(ctx, buf[:0], msg, do); check(err) }, f.decrypt},
		{"decrypt-into", func() { buf, err = envelope.AppendDecryptInto(ctx, buf[:0], msg, do, &res); check(err) }, f.decrypt},
		{"encrypt-vs-tink", func() { _, err := envelope.Encrypt(ctx, pt, eo); check(err) }, func() { _, err := tink.Encrypt(pt, ad); check(err) }},
		{"decrypt-vs-tink", func() { _, _, err := envelope.Decrypt(ctx, msg, do); check(err) }, func() { _, err := tink.Decrypt(tinkCT, ad); check(err) }},
	}
	var ballast []byte
	defer func() { runtime.KeepAlive(ballast) }()
	for _, heap := range []string{"", "-heap64"} {
		if heap != "" {
			ballast = make([]byte, 64<<20)
		}
		for _, c := range cases {
			runInTurns(b, c.name+heap, c.ours, c.ref)
		}
	}
}

// runInTurns runs ours and ref alternately, a batch of each in turn, and
// reports their CPU time per operation and the ratio (see
// BenchmarkSmall1KiBRatio).
func runInTurns(b *testing.B, name string, ours, ref func()) {
	b.Helper()
	b.Run(name, func(b *testing.B) {
		const batch = 1000
		var tOurs, tRef time.Duration
		for b.Loop() {
			t0 := benchcpu.Used()
			for range batch {
				ours()
			}
			t1 := benchcpu.Used()
			for range batch {
				ref()
			}
			tOurs, tRef = tOurs+t1-t0, tRef+benchcpu.Used()-t1
		}
		n := float64(b.N * batch)
		b.ReportMetric(float64(tOurs.Nanoseconds())/n, "cpu-ns/msg")
		b.ReportMetric(float64(tRef.Nanoseconds())/n, "ref-cpu-ns/msg")
		b.ReportMetric(float64(tOurs)/float64(tRef), "x-ref")
	})
}

// smallFloor does the cryptography of one 1 KiB message of suite 0x0478 under a
// raw AES keyring, on buffers prepared in advance: the random data key, message
// ID and wrapping IV (76 bytes in one read); the wrapping of the data key
// (AES-GCM, AAD the serialized context); the committing HKDF-SHA512 (ten SHA-512
// blocks); the AES-256 key schedule and GCM setup; the header tag (GCM over the
// header body as AAD); one final frame (GCM over 1 KiB with the frame AAD).
type smallFloor struct {
	b                   testing.TB
	st                  *suite.Suite
	kek                 cipher.AEAD
	gcm                 cipher.AEAD        // a message key, for the frame pieces
	rnd                 [32 + 32 + 12]byte // encrypt: data key, message ID, IV
	fixed               []byte             // decrypt: the same, of the message opened
	ecAAD, hdrBody      []byte
	wrapped, wrapOut    []byte
	keys                [64]byte
	commit              []byte
	frameAAD, frame, pt []byte
	sealed              []byte
	tag                 []byte
}

func newSmallFloor(b testing.TB, ptLen, headerSize int) *smallFloor {
	f := &smallFloor{b: b, st: suite.Lookup(0x0478)}
	blk, _ := aes.NewCipher(bytes.Repeat([]byte{1}, 32))
	f.kek, _ = cipher.NewGCM(blk)
	f.ecAAD, _ = format.MarshalContext(smallEC)
	f.hdrBody = randBytes(3, headerSize-suite.TagLen)
	f.wrapOut = make([]byte, 0, 64)
	f.fixed = randBytes(4, len(f.rnd))
	f.wrapped = f.kek.Seal(nil, f.fixed[64:], f.fixed[:32], f.ecAAD)
	f.derive(f.fixed)
	f.commit = bytes.Clone(f.keys[32:])
	f.gcm = f.aesKey()
	f.frameAAD = format.AppendBodyAAD(nil, f.fixed[32:64], format.Final, 1, uint64(ptLen))
	f.frame = f.gcm.Seal(nil, f.fixed[64:], make([]byte, ptLen), f.frameAAD)
	f.pt = make([]byte, 0, ptLen)
	f.tag = bytes.Clone(f.headerTag(f.gcm))
	return f
}

func (f *smallFloor) random() { rand.Read(f.rnd[:]) }

func (f *smallFloor) wrap() { f.wrapOut = f.kek.Seal(f.wrapOut[:0], f.rnd[64:], f.rnd[:32], f.ecAAD) }

func (f *smallFloor) unwrap() {
	if _, err := f.kek.Open(f.wrapOut[:0], f.fixed[64:], f.wrapped, f.ecAAD); err != nil {
		f.b.Fatal(err)
	}
}

// derive derives the message key and commit key from the data key and message
// ID at the start of in.
func (f *smallFloor) derive(in []byte) {
	if _, _, err := f.st.DeriveCommitting(in[:32], in[32:64], f.keys[:]); err != nil {
		f.b.Fatal(err)
	}
}

func (f *smallFloor) kdf() { f.derive(f.rnd[:]) }

func (f *smallFloor) aesKey() cipher.AEAD {
	blk, err := aes.NewCipher(f.keys[:32])
	if err != nil {
		f.b.Fatal(err)
	}
	g, err := cipher.NewGCM(blk)
	if err != nil {
		f.b.Fatal(err)
	}
	return g
}

var zeroIV [12]byte

func (f *smallFloor) headerTag(g cipher.AEAD) []byte {
	return g.Seal(f.wrapOut[:0], zeroIV[:], nil, f.hdrBody)
}

func (f *smallFloor) seal(g cipher.AEAD, pt []byte) {
	f.sealed = g.Seal(f.sealed[:0], f.rnd[64:], pt, f.frameAAD)
}

func (f *smallFloor) open(g cipher.AEAD) {
	if _, err := g.Open(f.pt[:0], f.fixed[64:], f.frame, f.frameAAD); err != nil {
		f.b.Fatal(err)
	}
}

func (f *smallFloor) encrypt(pt []byte) {
	f.random()
	f.wrap()
	f.kdf()
	g := f.aesKey()
	f.headerTag(g)
	f.seal(g, pt)
}

func (f *smallFloor) decrypt() {
	f.unwrap()
	f.derive(f.fixed)
	if subtle.ConstantTimeCompare(f.keys[32:], f.commit) != 1 {
		f.b.Fatal("commitment")
	}
	g := f.aesKey()
	if _, err := g.Open(nil, zeroIV[:], f.tag, f.hdrBody); err != nil {
		f.b.Fatal(err)
	}
	f.open(g)
}
