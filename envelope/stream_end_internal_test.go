package envelope

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"
)

// TestDecrypterEndGivesBackEveryBatch: once a message is read whole, every
// batch of the workers' pipeline (2n+1 of them) has been wiped and given back,
// including batches numbered past the end of the message when the workers read
// an io.ReaderAt at offsets, and batches a worker took as the pipeline ended;
// none is left, holding an earlier batch's plaintext, to the garbage collector.
func TestDecrypterEndGivesBackEveryBatch(t *testing.T) {
	ctx := context.Background()
	kr := staticKeyring{EncryptedDataKey{ProviderID: "keyport-test", ProviderInfo: []byte("k"), Ciphertext: []byte("c")}}
	pt := bytes.Repeat([]byte("0123456789abcdef"), (1<<20+123)/16) // a batch of 1 MiB and a bit
	msg, err := Encrypt(ctx, pt, EncryptOptions{Keyring: kr, Suite: SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range []bool{true, false} {
		for _, w := range []int{2, 3} {
			// The read of the last batch is slow, so that the other workers
			// number batches past the end meanwhile.
			var src io.Reader = &slowEnd{bytes.NewReader(msg), int64(len(msg))}
			if !at {
				src = io.MultiReader(src) // hides the io.ReaderAt: read in order
			}
			d, err := NewDecrypter(ctx, src, DecryptOptions{Keyring: kr, Workers: w})
			if err != nil {
				t.Fatal(err)
			}
			if (d.at != nil) != at {
				t.Fatalf("reads at offsets: %v, want %v", d.at != nil, at)
			}
			var out bytes.Buffer
			if _, err := io.Copy(&out, d); err != nil || !bytes.Equal(out.Bytes(), pt) {
				t.Fatalf("at %v, workers %d: %v", at, w, err)
			}
			if want := 2*w + 1; d.par.given != want {
				t.Fatalf("at %v, workers %d: %d batches given back, want %d", at, w, d.par.given, want)
			}
		}
	}
}

// slowEnd is a message as an io.ReaderAt whose read of its last byte takes a
// while.
type slowEnd struct {
	*bytes.Reader
	size int64
}

func (r *slowEnd) ReadAt(p []byte, off int64) (int, error) {
	if off < r.size && off+int64(len(p)) >= r.size {
		time.Sleep(50 * time.Millisecond)
	}
	return r.Reader.ReadAt(p, off)
}
