package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"runtime"
	"sync/atomic"
	"testing"
	"testing/iotest"
	"time"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/internal/lockedbuf"
)

type failingWriter struct {
	n   int
	err error
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n < len(p) {
		return 0, w.err
	}
	w.n -= len(p)
	return len(p), nil
}

func TestEncrypterWriterError(t *testing.T) {
	boom := errors.New("disk full")
	pt := randBytes(3, 4<<20)
	for _, w := range []int{1, 3} {
		e, err := envelope.NewEncrypter(context.Background(), &failingWriter{n: 100 << 10, err: boom}, envelope.EncryptOptions{Keyring: aesKeyring(t, "k1", 1), Workers: w})
		if err != nil {
			t.Fatal(err)
		}
		var werr error
		for i := 0; i < len(pt) && werr == nil; i += 64 << 10 {
			_, werr = e.Write(pt[i : i+64<<10])
		}
		cerr := e.Close()
		if !errors.Is(werr, boom) && !errors.Is(cerr, boom) {
			t.Fatalf("workers %d: write %v, close %v", w, werr, cerr)
		}
		if _, err := e.Write([]byte("x")); err == nil {
			t.Fatalf("workers %d: write after failure succeeded", w)
		}
	}
	if _, err := envelope.NewEncrypter(context.Background(), &failingWriter{err: boom}, envelope.EncryptOptions{Keyring: aesKeyring(t, "k1", 1)}); !errors.Is(err, boom) {
		t.Fatalf("header write: %v", err)
	}
}

func TestDecrypterCloseEarly(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	msg, err := envelope.Encrypt(context.Background(), randBytes(4, 8<<20), envelope.EncryptOptions{Keyring: kr, FrameLength: 1024})
	if err != nil {
		t.Fatal(err)
	}
	before := runtime.NumGoroutine()
	for range 5 {
		d, err := envelope.NewDecrypter(context.Background(), bytes.NewReader(msg), envelope.DecryptOptions{Keyring: kr, Workers: 3})
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 1000)
		if _, err := io.ReadFull(d, buf); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if _, err := d.Read(buf); err == nil {
			t.Fatal("read after Close succeeded")
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+1 {
		t.Fatalf("%d goroutines left after Close, %d before", n, before)
	}
}

func TestStreamContextCanceled(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	ctx, cancel := context.WithCancel(context.Background())
	e, err := envelope.NewEncrypter(ctx, io.Discard, envelope.EncryptOptions{Keyring: kr, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := e.Write(make([]byte, 1<<20)); !errors.Is(err, context.Canceled) || !errors.Is(err, backends.ErrCanceled) {
		t.Fatalf("write: %v", err)
	}
	e.Close()
	msg, _ := envelope.Encrypt(context.Background(), make([]byte, 1<<20), envelope.EncryptOptions{Keyring: kr})
	ctx2, cancel2 := context.WithCancel(context.Background())
	d, err := envelope.NewDecrypter(ctx2, bytes.NewReader(msg), envelope.DecryptOptions{Keyring: kr, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	cancel2()
	if _, err := io.Copy(io.Discard, d); !errors.Is(err, context.Canceled) {
		t.Fatalf("read: %v", err)
	}
}

func TestHugeFrameLengthSmallMessage(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	o := envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: envelope.MaxFrameLength}
	a, err := envelope.Encrypt(context.Background(), []byte("tiny"), o)
	if err != nil {
		t.Fatal(err)
	}
	b := streamEncrypt(t, []byte("tiny"), o, 2)
	if len(a) != len(b) {
		t.Fatalf("%d vs %d bytes", len(a), len(b))
	}
	for _, m := range [][]byte{a, b} {
		if pt, _, err := decryptBoth(t, m, envelope.DecryptOptions{Keyring: kr}); err != nil || string(pt) != "tiny" {
			t.Fatalf("%v", err)
		}
	}
}

type countingReader struct {
	r io.Reader
	n atomic.Int64 // read by the test while a decrypter's producer reads
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestNoPlaintextBeforeAuthentication checks, byte by byte, that the streaming
// decryptor has read a frame's tag before it releases any of the frame's
// plaintext, and the whole message (footer and end of input) before it releases
// the final frame's.
func TestNoPlaintextBeforeAuthentication(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	const F = 256 << 10       // one frame per batch, so that frames are released one by one
	pt := randBytes(9, 6*F+4) // 6 regular frames and a final frame of 4 bytes
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		msg, err := envelope.Encrypt(context.Background(), pt, envelope.EncryptOptions{Keyring: kr, Suite: s, FrameLength: F})
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range []int{1, 2} {
			src := &countingReader{r: iotest.OneByteReader(bytes.NewReader(msg))}
			d, err := envelope.NewDecrypter(context.Background(), src, envelope.DecryptOptions{Keyring: kr, Workers: w})
			if err != nil {
				t.Fatal(err)
			}
			hdr := d.Result().Header.Size
			released := 0
			buf := make([]byte, 50000)
			reads := 0
			for {
				n, err := d.Read(buf)
				if n > 0 {
					reads++
					if src.n.Load() == int64(len(msg)) && released == 0 && s == envelope.SuiteAES256GCMHKDFSHA512CommitKey && w == 1 {
						t.Fatal("the whole message was read before the first frame was released: the test proves nothing")
					}
					if !bytes.Equal(buf[:n], pt[released:released+n]) {
						t.Fatal("wrong plaintext")
					}
					released += n
					need := hdr + (released+F-1)/F*(F+32)
					if released > 6*F {
						need = len(msg) // the final frame: after the footer and the end
					}
					if got := src.n.Load(); got < int64(need) {
						t.Fatalf("%04x workers %d: %d plaintext bytes released after reading %d message bytes; their frames end at %d", uint16(s), w, released, got, need)
					}
				}
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if released != len(pt) {
				t.Fatalf("released %d bytes", released)
			}
			d.Close()
		}
	}
}

// With workers, a Write of more than a batch is sealed straight from the
// caller's slice; the message has Encrypt's layout whatever the split, and the
// slice is not used once Write returns.
func TestEncrypterParallelLargeWrites(t *testing.T) {
	ctx := context.Background()
	kr := aesKeyring(t, "k1", 1)
	const batch = 1 << 20 // a batch of 4 KiB frames with workers
	for _, F := range []int{4096, 1000} {
		for _, size := range []int{batch, batch + 1, 2*batch - 1, 3 * batch, 3*batch + 4097} {
			pt := randBytes(uint64(size+F), size)
			o := envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: F, Workers: 2}
			ref, err := envelope.Encrypt(ctx, pt, o)
			if err != nil {
				t.Fatal(err)
			}
			for _, split := range []int{size, size / 3, 1} {
				var out bytes.Buffer
				e, err := envelope.NewEncrypter(ctx, &out, o)
				if err != nil {
					t.Fatal(err)
				}
				work := bytes.Clone(pt)
				if _, err := e.Write(work[:split]); err != nil {
					t.Fatal(err)
				}
				clear(work[:split]) // the Encrypter must not read it any more
				if _, err := e.Write(work[split:]); err != nil {
					t.Fatal(err)
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				if out.Len() != len(ref) {
					t.Fatalf("F %d, size %d, split %d: %d bytes, Encrypt wrote %d", F, size, split, out.Len(), len(ref))
				}
				got, _, err := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: kr})
				if err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("F %d, size %d, split %d: %v", F, size, split, err)
				}
			}
		}
	}
	// A writer that fails while whole batches are sealed from the caller's
	// slice: the error comes back, and nothing is left running.
	boom := errors.New("disk full")
	e, err := envelope.NewEncrypter(ctx, &failingWriter{n: 300 << 10, err: boom}, envelope.EncryptOptions{Keyring: kr, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	_, werr := e.Write(randBytes(9, 8*batch))
	if cerr := e.Close(); !errors.Is(werr, boom) && !errors.Is(cerr, boom) {
		t.Fatalf("write %v, close %v", werr, cerr)
	}
}

// Frames longer than a batch's worth: the final frame (12 bytes longer than a
// regular one) and the footer reach past what a batch reads at once.
func TestDecrypterLargeFrames(t *testing.T) {
	ctx := context.Background()
	kr := aesKeyring(t, "k1", 1)
	const F = 300 << 10
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		for _, size := range []int{F, 2 * F, 2*F + 5} {
			pt := randBytes(uint64(size), size)
			msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: kr, Suite: s, FrameLength: F})
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range []int{1, 2} {
				o := envelope.DecryptOptions{Keyring: kr, Workers: w}
				if got, err := streamDecrypt(msg, o); err != nil || !bytes.Equal(got, pt) {
					t.Fatalf("%04x, %d bytes, %d workers: %v", uint16(s), size, w, err)
				}
				if _, err := streamDecrypt(append(bytes.Clone(msg), 0), o); !errors.Is(err, backends.ErrInvalidCiphertext) {
					t.Errorf("%04x, %d bytes, %d workers, a byte after the end: %v", uint16(s), size, w, err)
				}
				for _, cut := range []int{1, 2, 20, 100, 120, len(msg) - size/F*(F+28) + 1} {
					got, err := streamDecrypt(msg[:len(msg)-cut], o)
					if !errors.Is(err, backends.ErrInvalidCiphertext) {
						t.Errorf("%04x, %d bytes, %d workers, %d cut: %v", uint16(s), size, w, cut, err)
					}
					// Only whole regular frames before the damage come out.
					if len(got)%F != 0 || len(got) >= size || !bytes.Equal(got, pt[:len(got)]) {
						t.Errorf("%04x, %d bytes, %d workers, %d cut: released %d bytes", uint16(s), size, w, cut, len(got))
					}
				}
			}
		}
	}
}

// waitFor polls cond for up to ten seconds.
func waitFor(cond func() bool) bool {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

// TestStreamsDoNotHoldBackData checks that the parallel pipelines pass on
// what they can while their input is stalled: the Encrypter writes every
// sealed batch while the goroutine of ReadFrom waits for more plaintext, and
// the Decrypter hands out the plaintext of every whole batch received while
// the rest of the message has not arrived. A producer that waits for this
// output before it sends more would otherwise deadlock.
func TestStreamsDoNotHoldBackData(t *testing.T) {
	ctx := context.Background()
	kr := aesKeyring(t, "k1", 1)
	const batch = 1 << 20 // a batch of the Encrypter's with workers (4 KiB frames)
	o := envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: 4096, Workers: 2}
	pt := randBytes(11, 4*batch)

	t.Run("Encrypter", func(t *testing.T) {
		var out lockedbuf.Buffer
		e, err := envelope.NewEncrypter(ctx, &out, o)
		if err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		done := make(chan error, 1)
		go func() { _, err := e.ReadFrom(pr); done <- err }()
		if _, err := pw.Write(pt[:3*batch+100]); err != nil { // three whole batches and a bit
			t.Fatal(err)
		}
		// Two batches are sealed for sure (the third may be the last one
		// until more plaintext shows it is not).
		if !waitFor(func() bool { return out.Len() >= 2*batch }) {
			t.Fatalf("%d bytes written while the input stalls after %d; want the sealed batches (>= %d)", out.Len(), 3*batch+100, 2*batch)
		}
		pw.Write(pt[3*batch+100:])
		pw.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if err := e.Close(); err != nil {
			t.Fatal(err)
		}
		got, _, err := envelope.Decrypt(ctx, out.Bytes(), envelope.DecryptOptions{Keyring: kr})
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("round trip: %v", err)
		}
	})

	t.Run("Decrypter", func(t *testing.T) {
		msg, err := envelope.Encrypt(ctx, pt, o)
		if err != nil {
			t.Fatal(err)
		}
		// The header, then three whole batches of the Decrypter with workers
		// (256 frames of 4,128 bytes each: 1 MiB of plaintext), then a stall.
		// The body is 1,023 regular frames and a full final frame (4,136 bytes).
		const frame, perBatch = 4 + 12 + 4096 + 16, 256
		head := len(msg) - 1023*frame - (frame + 8)
		if head <= 0 || head > 4096 {
			t.Fatalf("header of %d bytes: the message's layout is not the one assumed", head)
		}
		cut := head + 3*perBatch*frame
		pr, pw := io.Pipe()
		go pw.Write(msg[:cut])
		d, err := envelope.NewDecrypter(ctx, pr, envelope.DecryptOptions{Keyring: kr, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		var got lockedbuf.Buffer
		done := make(chan error, 1)
		go func() { _, err := io.Copy(&got, d); done <- err }()
		const want = 3 * perBatch * 4096
		if !waitFor(func() bool { return got.Len() >= want }) {
			t.Fatalf("%d bytes of plaintext while the input stalls after three whole batches; want %d", got.Len(), want)
		}
		if got.Len() != want {
			t.Fatalf("%d bytes of plaintext from three batches of %d", got.Len(), want)
		}
		if _, err := pw.Write(msg[cut:]); err != nil {
			t.Fatal(err)
		}
		pw.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), pt) {
			t.Fatal("plaintext differs")
		}
	})
}
