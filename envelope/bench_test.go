package envelope_test

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"io"
	"testing"

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
					e, err := envelope.NewEncrypter(ctx, io.Discard, o)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := e.Write(pt); err != nil {
						b.Fatal(err)
					}
					if err := e.Close(); err != nil {
						b.Fatal(err)
					}
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
					d, err := envelope.NewDecrypter(ctx, bytes.NewReader(msg), o)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := io.Copy(io.Discard, d); err != nil {
						b.Fatal(err)
					}
				} else if buf, _, err = envelope.AppendDecrypt(ctx, buf[:0], msg, o); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
