package envelope_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/internal/benchcpu"
)

// The acceptance benchmarks: 64 MiB, suite 0478, 64 KiB frames, against raw
// AES-256-GCM from crypto/cipher over the same chunks (same nonce and AAD sizes).
const (
	benchSize  = 64 << 20
	benchFrame = 64 << 10
)

// BenchmarkRawAESGCM64MiB is the reference: AES-256-GCM over the same 64 KiB
// chunks with the same nonce and AAD sizes. "seal" and "open" write into a 64 MiB
// buffer, as AppendEncrypt and AppendDecrypt do (touched before timing, so no
// page faults are measured); "seal-frame" and "open-frame" write every chunk into
// one frame-sized buffer, as the streaming Encrypter and Decrypter do when their
// output goes to io.Discard.
func BenchmarkRawAESGCM64MiB(b *testing.B) {
	blk, _ := aes.NewCipher(bytes.Repeat([]byte{1}, 32))
	g, _ := cipher.NewGCM(blk)
	pt := randBytes(1, benchSize)
	n := benchSize / benchFrame
	ct := make([]byte, n*(benchFrame+g.Overhead()))
	frame := make([]byte, benchFrame+g.Overhead())
	aad := make([]byte, 32+34+12) // message ID, content string, sequence number, length
	nonce := make([]byte, 12)
	setSeq := func(i int) {
		binary.BigEndian.PutUint32(nonce[8:], uint32(i+1))
		binary.BigEndian.PutUint32(aad[66:], uint32(i+1))
	}
	seal := func(perFrame bool) {
		for i := range n {
			setSeq(i)
			out := frame[:0]
			if !perFrame {
				off := i * (benchFrame + g.Overhead())
				out = ct[off:off]
			}
			g.Seal(out, nonce, pt[i*benchFrame:(i+1)*benchFrame], aad)
		}
	}
	open := func(perFrame bool) {
		for i := range n {
			setSeq(i)
			off := i * (benchFrame + g.Overhead())
			out := pt[i*benchFrame : i*benchFrame]
			if perFrame {
				out = frame[:0]
			}
			if _, err := g.Open(out, nonce, ct[off:off+benchFrame+g.Overhead()], aad); err != nil {
				b.Fatal(err)
			}
		}
	}
	seal(false) // touch every page of ct before timing
	for _, perFrame := range []bool{false, true} {
		suffix := ""
		if perFrame {
			suffix = "-frame"
		}
		b.Run("seal"+suffix, func(b *testing.B) {
			b.SetBytes(benchSize)
			defer benchcpu.Start().Throughput(b, benchSize)
			for b.Loop() {
				seal(perFrame)
			}
		})
		b.Run("open"+suffix, func(b *testing.B) {
			b.SetBytes(benchSize)
			defer benchcpu.Start().Throughput(b, benchSize)
			for b.Loop() {
				open(perFrame)
			}
		})
	}
}

func benchOpts(b *testing.B, w int) envelope.EncryptOptions {
	return envelope.EncryptOptions{Keyring: aesKeyring(b, "k1", 1), Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: benchFrame, Workers: w}
}

var benchModes = []struct {
	name    string
	workers int
	stream  bool
}{{"seq", 1, false}, {"parallel", envelope.AllCores, false}, {"stream-seq", 1, true}, {"stream-parallel", envelope.AllCores, true}}

func BenchmarkEncrypt64MiB(b *testing.B) {
	pt := randBytes(1, benchSize)
	ctx := context.Background()
	buf := make([]byte, 0, benchSize+benchSize/benchFrame*64+4096)                       // reused, as the raw benchmark reuses its output
	if _, err := envelope.AppendEncrypt(ctx, buf[:0], pt, benchOpts(b, 1)); err != nil { // touch its pages before timing
		b.Fatal(err)
	}
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			o := benchOpts(b, m.workers)
			b.SetBytes(benchSize)
			var err error
			defer benchcpu.Start().Throughput(b, benchSize)
			for b.Loop() {
				if m.stream {
					encryptStream(b, pt, o)
				} else if buf, err = envelope.AppendEncrypt(ctx, buf[:0], pt, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkDecrypt64MiB(b *testing.B) {
	ctx := context.Background()
	msg, err := envelope.Encrypt(ctx, randBytes(1, benchSize), benchOpts(b, 1))
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, benchSize)
	if _, _, err := envelope.AppendDecrypt(ctx, buf[:0], msg, envelope.DecryptOptions{Keyring: aesKeyring(b, "k1", 1)}); err != nil { // touch its pages before timing
		b.Fatal(err)
	}
	for _, m := range benchModes {
		b.Run(m.name, func(b *testing.B) {
			o := envelope.DecryptOptions{Keyring: aesKeyring(b, "k1", 1), Workers: m.workers}
			b.SetBytes(benchSize)
			var err error
			defer benchcpu.Start().Throughput(b, benchSize)
			for b.Loop() {
				if m.stream {
					decryptStream(b, msg, o)
				} else if buf, _, err = envelope.AppendDecrypt(ctx, buf[:0], msg, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// encryptStream encrypts pt through an Encrypter (one Write) to io.Discard.
func encryptStream(b *testing.B, pt []byte, o envelope.EncryptOptions) {
	e, err := envelope.NewEncrypter(context.Background(), io.Discard, o)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := e.Write(pt); err != nil {
		b.Fatal(err)
	}
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
}

// decryptStream decrypts msg through a Decrypter to io.Discard and checks
// that benchSize bytes came out.
func decryptStream(b *testing.B, msg []byte, o envelope.DecryptOptions) {
	d, err := envelope.NewDecrypter(context.Background(), bytes.NewReader(msg), o)
	if err != nil {
		b.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, d); err != nil || n != benchSize {
		b.Fatal(n, err)
	}
}

// BenchmarkStream64MiBTurns measures the streaming targets in turns, one
// 64 MiB pass of each side alternately, so that both sides see the same load
// from the rest of the machine (suite 0478, 64 KiB frames, as the other 64 MiB
// benchmarks):
//   - "bytes-encrypt-vs-raw", "bytes-decrypt-vs-raw": AppendEncrypt and
//     AppendDecrypt on one goroutine against raw AES-256-GCM into a 64 MiB
//     buffer (CPU time); "bytes-...-all-cores-vs-raw": with Workers: AllCores,
//     in wall-clock time ("speedup" over raw on one core);
//   - "encrypt-vs-raw", "decrypt-vs-raw": the Encrypter and Decrypter on one
//     goroutine against raw AES-256-GCM per frame (BenchmarkRawAESGCM64MiB's
//     seal-frame and open-frame), in CPU time: "x-ref" is ours/raw, so the
//     throughput ratio is its inverse;
//   - "decrypt-vs-raw-read": the Decrypter against raw AES-256-GCM that first
//     copies each batch of four frames out of the message, as any decrypter
//     reading an io.Reader must (the per-frame reference reads nothing);
//   - "encrypt-all-cores", "decrypt-all-cores": the same streams with Workers:
//     AllCores against one goroutine, in wall-clock time: "speedup" is
//     one goroutine's time over all cores';
//   - "raw-read-vs-raw": the references themselves, raw AES-GCM that reads its
//     input against raw AES-GCM per frame (CPU time): the share of a stream
//     decrypter's time that reading its input takes, whatever the decrypter;
//   - "raw-read-all-cores": raw AES-GCM that reads its input, batches taken in
//     turn by one goroutine per core, against one goroutine (wall-clock time):
//     how far decryption that reads its input can scale on this machine.
func BenchmarkStream64MiBTurns(b *testing.B) {
	ctx := context.Background()
	pt := randBytes(1, benchSize)
	kr := aesKeyring(b, "k1", 1)
	eo := func(w int) envelope.EncryptOptions {
		return envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: benchFrame, Workers: w}
	}
	msg, err := envelope.Encrypt(ctx, pt, eo(1))
	if err != nil {
		b.Fatal(err)
	}
	encrypt := func(w int) func() { return func() { encryptStream(b, pt, eo(w)) } }
	decrypt := func(w int) func() {
		return func() { decryptStream(b, msg, envelope.DecryptOptions{Keyring: kr, Workers: w}) }
	}
	// Raw AES-256-GCM per frame, as BenchmarkRawAESGCM64MiB.
	blk, _ := aes.NewCipher(bytes.Repeat([]byte{1}, 32))
	g, _ := cipher.NewGCM(blk)
	ct := make([]byte, benchSize/benchFrame*(benchFrame+g.Overhead()))
	frame := make([]byte, benchFrame+g.Overhead())
	nonce, aad := make([]byte, 12), make([]byte, 32+34+12)
	// Raw AES-256-GCM reading its input as a stream decrypter must: each batch
	// of four frames copied out of the message (one read), then opened per
	// frame; batches are numbered from next, on any number of goroutines.
	const batchFrames = 4
	rawReadOn := func(next *atomic.Int64) {
		stride := benchFrame + g.Overhead()
		batch, frame := make([]byte, batchFrames*stride), make([]byte, stride)
		nonce, aad := make([]byte, 12), make([]byte, 32+34+12)
		for {
			i := int(next.Add(1)-1) * batchFrames
			if i >= benchSize/benchFrame {
				return
			}
			copy(batch, ct[i*stride:(i+batchFrames)*stride])
			for k := range batchFrames {
				binary.BigEndian.PutUint32(nonce[8:], uint32(i+k+1))
				binary.BigEndian.PutUint32(aad[66:], uint32(i+k+1))
				if _, err := g.Open(frame[:0], nonce, batch[k*stride:(k+1)*stride], aad); err != nil {
					panic(err)
				}
			}
		}
	}
	rawRead := func() { rawReadOn(new(atomic.Int64)) }
	rawReadAllCores := func() {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() { rawReadOn(&next) })
		}
		wg.Wait()
	}
	raw := func(open bool) func() {
		return func() {
			for i := range benchSize / benchFrame {
				binary.BigEndian.PutUint32(nonce[8:], uint32(i+1))
				binary.BigEndian.PutUint32(aad[66:], uint32(i+1))
				off := i * (benchFrame + g.Overhead())
				if !open {
					g.Seal(frame[:0], nonce, pt[i*benchFrame:(i+1)*benchFrame], aad)
				} else if _, err := g.Open(frame[:0], nonce, ct[off:off+benchFrame+g.Overhead()], aad); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	for i := range benchSize / benchFrame { // the raw ciphertext, every page touched
		binary.BigEndian.PutUint32(nonce[8:], uint32(i+1))
		binary.BigEndian.PutUint32(aad[66:], uint32(i+1))
		off := i * (benchFrame + g.Overhead())
		g.Seal(ct[off:off], nonce, pt[i*benchFrame:(i+1)*benchFrame], aad)
	}
	turns := func(name string, ours, ref func(), wall bool) {
		b.Run(name, func(b *testing.B) {
			var tOurs, tRef time.Duration
			clock := benchcpu.Used
			if wall {
				start := time.Now()
				clock = func() time.Duration { return time.Since(start) }
			}
			for b.Loop() {
				t0 := clock()
				ours()
				t1 := clock()
				ref()
				tOurs, tRef = tOurs+t1-t0, tRef+clock()-t1
			}
			if wall {
				b.ReportMetric(float64(tRef)/float64(tOurs), "speedup")
				b.ReportMetric(float64(b.N)*benchSize/tOurs.Seconds()/1e6, "MB/s-all-cores")
				return
			}
			b.ReportMetric(float64(tOurs)/float64(tRef), "x-ref")
			b.ReportMetric(float64(b.N)*benchSize/tOurs.Seconds()/1e6, "MB/cpu-s")
		})
	}
	// The byte-slice API against raw AES-256-GCM into a 64 MiB buffer
	// (BenchmarkRawAESGCM64MiB's seal and open), both with buffers touched in
	// advance.
	out := make([]byte, 0, benchSize+benchSize/benchFrame*64+4096)
	plain := make([]byte, 0, benchSize)
	if out, err = envelope.AppendEncrypt(ctx, out[:0], pt, eo(1)); err != nil {
		b.Fatal(err)
	}
	if plain, _, err = envelope.AppendDecrypt(ctx, plain[:0], msg, envelope.DecryptOptions{Keyring: kr}); err != nil {
		b.Fatal(err)
	}
	bytesEnc := func(w int) func() {
		return func() {
			if out, err = envelope.AppendEncrypt(ctx, out[:0], pt, eo(w)); err != nil {
				b.Fatal(err)
			}
		}
	}
	bytesDec := func(w int) func() {
		return func() {
			if plain, _, err = envelope.AppendDecrypt(ctx, plain[:0], msg, envelope.DecryptOptions{Keyring: kr, Workers: w}); err != nil {
				b.Fatal(err)
			}
		}
	}
	rawBuf := func(open bool) func() {
		return func() {
			stride := benchFrame + g.Overhead()
			for i := range benchSize / benchFrame {
				binary.BigEndian.PutUint32(nonce[8:], uint32(i+1))
				binary.BigEndian.PutUint32(aad[66:], uint32(i+1))
				if !open {
					g.Seal(out[i*stride:i*stride], nonce, pt[i*benchFrame:(i+1)*benchFrame], aad)
				} else if _, err := g.Open(plain[i*benchFrame:i*benchFrame], nonce, ct[i*stride:(i+1)*stride], aad); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	turns("bytes-encrypt-vs-raw", bytesEnc(1), rawBuf(false), false)
	turns("bytes-decrypt-vs-raw", bytesDec(1), rawBuf(true), false)
	turns("bytes-encrypt-all-cores-vs-raw", bytesEnc(envelope.AllCores), rawBuf(false), true)
	turns("bytes-decrypt-all-cores-vs-raw", bytesDec(envelope.AllCores), rawBuf(true), true)
	turns("encrypt-vs-raw", encrypt(1), raw(false), false)
	turns("decrypt-vs-raw", decrypt(1), raw(true), false)
	turns("decrypt-vs-raw-read", decrypt(1), rawRead, false)
	turns("encrypt-all-cores", encrypt(envelope.AllCores), encrypt(1), true)
	turns("decrypt-all-cores", decrypt(envelope.AllCores), decrypt(1), true)
	// The references themselves: what reading the input costs raw AES-GCM, and
	// how far raw AES-GCM that reads scales over all cores.
	turns("raw-read-vs-raw", rawRead, raw(true), false)
	turns("raw-read-all-cores", rawReadAllCores, rawRead, true)
}
