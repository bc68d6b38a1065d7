package rekey_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"testing"

	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/rekey"
	"github.com/keyport/keyport/internal/benchcpu"
)

// BenchmarkMessage64MiB compares re-encrypting a 64 MiB 0x0478 message
// (frame 64 KiB) stream to stream with ReEncryptMessage against decrypting it with
// a streaming Decrypter and encrypting the plaintext again with a streaming
// Encrypter, both single-core, with keys of backends/local. Two settings:
//
//   - stream: the message comes from a plain io.Reader and goes to a plain
//     io.Writer that drops it (as between two sockets): each side reads every
//     byte once through its buffers, no side gets a shortcut (no WriterTo or
//     ReaderFrom);
//   - mem: from a byte slice into a preallocated in-memory buffer, so both sides
//     also pay a full copy of the output.
//
// scripts/bench.sh prints the ratios.
func BenchmarkMessage64MiB(b *testing.B) {
	ctx := context.Background()
	w := newMsgWorld(b)
	src, dst := w.keyring(b, w.keyA), w.keyring(b, w.keyB)
	const size = 64 << 20
	ec := map[string]string{"bench": "64MiB"}
	pt := bytes.Repeat([]byte("keyport "), size/8)
	msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: src, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: 64 << 10, EncryptionContext: ec})
	if err != nil {
		b.Fatal(err)
	}
	newEC := map[string]string{"bench": "moved"}
	var buf bytes.Buffer
	buf.Grow(len(msg) + 4096)

	for _, mode := range []string{"stream", "mem"} {
		ends := func() (io.Reader, io.Writer) {
			if mode == "mem" {
				buf.Reset()
				return bytes.NewReader(msg), &buf
			}
			return struct{ io.Reader }{bytes.NewReader(msg)}, struct{ io.Writer }{io.Discard}
		}
		b.Run("rewrap-"+mode, func(b *testing.B) {
			b.SetBytes(size)
			defer benchcpu.Start().PerOp(b)
			for b.Loop() {
				r, w := ends()
				_, err := rekey.Message(ctx, r, w, rekey.Options{
					Method: rekey.Rewrap, Source: src, SourceEncryptionContext: ec, Destination: dst, DestinationEncryptionContext: newEC,
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("decrypt-encrypt-"+mode, func(b *testing.B) {
			b.SetBytes(size)
			defer benchcpu.Start().PerOp(b)
			for b.Loop() {
				r, w := ends()
				d, err := envelope.NewDecrypter(ctx, r, envelope.DecryptOptions{Keyring: src, EncryptionContext: ec})
				if err != nil {
					b.Fatal(err)
				}
				e, err := envelope.NewEncrypter(ctx, w, envelope.EncryptOptions{Keyring: dst, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: 64 << 10, EncryptionContext: newEC})
				if err != nil {
					b.Fatal(err)
				}
				if n, err := io.Copy(e, d); err != nil || n != size {
					b.Fatal(n, err)
				}
				if err := e.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// firstWrite signals when the first Write starts (the header is ready).
type firstWrite struct {
	w    io.Writer
	once sync.Once
	c    chan struct{}
}

func (f *firstWrite) Write(p []byte) (int, error) {
	f.once.Do(func() { close(f.c) })
	return f.w.Write(p)
}

// countReader counts the bytes read.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

var errStopGenerating = errors.New("benchmark: enough")

// BenchmarkHeader measures the header-only form on a 1 KiB and a
// 1 GiB 0x0478 message. The messages are generated lazily: a streaming Encrypter
// writes into a pipe and is stopped once the header has been read, so the 1 GiB
// message is never held anywhere. The timer runs only while the header is read
// and rewrapped; the benchmark fails if more than the header was read.
func BenchmarkHeader(b *testing.B) {
	ctx := context.Background()
	w := newMsgWorld(b)
	src, dst := w.keyring(b, w.keyA), w.keyring(b, w.keyB)
	ec := map[string]string{"bench": "header"}
	chunk := make([]byte, 1<<20)
	for _, size := range []struct {
		name string
		n    int64
	}{{"1KiB", 1 << 10}, {"1GiB", 1 << 30}} {
		b.Run(size.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				pr, pw := io.Pipe()
				fw := &firstWrite{w: pw, c: make(chan struct{})}
				done := make(chan error, 1)
				release := make(chan struct{})
				go func() {
					e, err := envelope.NewEncrypter(ctx, fw, envelope.EncryptOptions{Keyring: src, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: 64 << 10, EncryptionContext: ec})
					if err != nil {
						done <- err
						return
					}
					// The body is produced only after the timed part, so that
					// sealing it does not compete for the CPU.
					<-release
					for left := size.n; left > 0; left -= int64(len(chunk)) {
						if _, err := e.Write(chunk[:min(left, int64(len(chunk)))]); err != nil {
							done <- err
							return
						}
					}
					done <- e.Close()
					pw.Close()
				}()
				<-fw.c
				cr := &countReader{r: pr}
				b.StartTimer()
				res, err := rekey.Header(ctx, cr, rekey.Options{
					Method: rekey.Rewrap,
					Source: src, SourceEncryptionContext: ec, Destination: dst,
					DestinationEncryptionContext: map[string]string{"bench": "moved"},
				})
				b.StopTimer()
				if err != nil {
					close(release)
					b.Fatal(err)
				}
				if cr.n != res.BodyOffset {
					b.Fatalf("read %d bytes, the header has %d", cr.n, res.BodyOffset)
				}
				close(release)
				pr.CloseWithError(errStopGenerating)
				if err := <-done; err != nil && !errors.Is(err, errStopGenerating) {
					b.Fatal(err)
				}
			}
		})
	}
}
