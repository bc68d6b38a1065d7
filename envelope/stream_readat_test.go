package envelope_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/keyport/keyport/envelope"
)

// readAtCounter is an input that is an io.ReaderAt and an io.Seeker, as a file
// is, and counts its ReadAt calls, so that a test can tell how the Decrypter
// read it.
type readAtCounter struct {
	*bytes.Reader
	readAts atomic.Int64
}

func (r *readAtCounter) ReadAt(p []byte, off int64) (int, error) {
	r.readAts.Add(1)
	return r.Reader.ReadAt(p, off)
}

// readAtFrame is the frame length of the tests of reading at offsets: with
// workers a batch is 16 frames (1 MiB), so a few MiB make several batches.
const readAtFrame = 64 << 10

// TestDecrypterReadsAtOffsets: with workers, an input that is an io.ReaderAt
// and an io.Seeker is read batch by batch at the batches' offsets (unsigned
// suites) from wherever the input stood, and yields the plaintext whole, for
// messages that end inside the first batch, exactly on a batch's end, and after
// several; a signed suite, a pipe, and one worker read in order.
func TestDecrypterReadsAtOffsets(t *testing.T) {
	ctx := context.Background()
	kr := aesKeyring(t, "k1", 1)
	prefix := randBytes(7, 100) // the message starts 100 bytes into the input
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		for _, n := range []int{0, 1, readAtFrame, 16 * readAtFrame, 16*readAtFrame + 1, 40*readAtFrame + 5} {
			pt := randBytes(uint64(n), n)
			msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: kr, Suite: s, FrameLength: readAtFrame})
			if err != nil {
				t.Fatal(err)
			}
			input := append(bytes.Clone(prefix), msg...)
			decrypt := func(name string, src io.Reader, w int) {
				t.Helper()
				d, err := envelope.NewDecrypter(ctx, src, envelope.DecryptOptions{Keyring: kr, Workers: w})
				if err != nil {
					t.Fatalf("%04x %d bytes, %s, workers %d: %v", uint16(s), n, name, w, err)
				}
				defer d.Close()
				var out bytes.Buffer
				if _, err := io.Copy(&out, d); err != nil || !bytes.Equal(out.Bytes(), pt) {
					t.Fatalf("%04x %d bytes, %s, workers %d: %d plaintext bytes (equal: %v), %v", uint16(s), n, name, w, out.Len(), bytes.Equal(out.Bytes(), pt), err)
				}
			}
			for _, w := range []int{1, 2, 3} {
				src := &readAtCounter{Reader: bytes.NewReader(input)}
				if _, err := src.Seek(int64(len(prefix)), io.SeekStart); err != nil {
					t.Fatal(err)
				}
				decrypt("io.ReaderAt", src, w)
				if at, want := src.readAts.Load() > 0, w > 1 && s == envelope.SuiteAES256GCMHKDFSHA512CommitKey; at != want {
					t.Fatalf("%04x %d bytes, workers %d: read at offsets %v, want %v", uint16(s), n, w, at, want)
				}
			}
			path := filepath.Join(t.TempDir(), "msg")
			if err := os.WriteFile(path, input, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(int64(len(prefix)), io.SeekStart); err != nil {
				t.Fatal(err)
			}
			decrypt("*os.File", f, 2)
			f.Close()
			pr, pw, err := os.Pipe() // an *os.File that cannot seek
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				pw.Write(msg)
				pw.Close()
			}()
			decrypt("pipe", pr, 2)
			pr.Close()
		}
	}
}

// TestDecrypterReadAtRejects: read at offsets, a message cut at or around a
// batch boundary, with a byte after it, with frames of two batches swapped, or
// with a whole batch dropped, fails with a typed error and releases at most an
// authentic proper prefix (checkRejected reads from a *bytes.Reader, an
// io.ReaderAt, with one worker and with two).
func TestDecrypterReadAtRejects(t *testing.T) {
	ctx := context.Background()
	kr := aesKeyring(t, "k1", 1)
	o := envelope.DecryptOptions{Keyring: kr}
	pt := randBytes(3, 40*readAtFrame+5) // batches of 16, 16 and 8 regular frames, then the final frame
	msg, err := envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: readAtFrame})
	if err != nil {
		t.Fatal(err)
	}
	d, err := envelope.NewDecrypter(ctx, bytes.NewReader(msg), o)
	if err != nil {
		t.Fatal(err)
	}
	h := d.Result().Header.Size
	d.Close()
	const frame = readAtFrame + 32 // sequence number, IV, content, tag
	const batch = 16 * frame
	for _, cut := range []int{h + batch - 1, h + batch, h + batch + 1, h + 2*batch, h + 2*batch + 5, h + 40*frame, len(msg) - 1} {
		checkRejected(t, "cut", msg[:cut], pt, o)
	}
	checkRejected(t, "trailing byte", append(bytes.Clone(msg), 0), pt, o)
	sw := bytes.Clone(msg) // the first frames of batches 0 and 1 swapped
	copy(sw[h:], msg[h+batch:h+batch+frame])
	copy(sw[h+batch:], msg[h:h+frame])
	checkRejected(t, "frames of two batches swapped", sw, pt, o)
	drop := append(bytes.Clone(msg[:h+batch]), msg[h+2*batch:]...)
	checkRejected(t, "a batch dropped", drop, pt, o)
	dup := append(bytes.Clone(msg[:h+2*batch]), msg[h+batch:]...)
	checkRejected(t, "a batch repeated", dup, pt, o)
}
