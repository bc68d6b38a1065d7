package envelope_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc64"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
)

const (
	streamTotal  = 1 << 30
	streamChild  = "KEYPORT_ENVELOPE_STREAM_CHILD"
	peakRSSLimit = 64 << 20
	hwmMarker    = "child-peak-rss-bytes:"
)

// highWaterRSS returns the process's peak resident memory in bytes, from
// /proc/self/status (VmHWM, this process's own since its exec).
func highWaterRSS() (int64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib); err != nil {
				return 0, err
			}
			return kib << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

// pattern is an io.Reader of n deterministic bytes that holds no buffer.
type pattern struct{ off, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n-p.off)]
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], uint64(p.off+int64(i))*0x9e3779b97f4a7c15)
	}
	for i := len(b) &^ 7; i < len(b); i++ {
		b[i] = byte(p.off + int64(i))
	}
	p.off += int64(len(b))
	return len(b), nil
}

// streamOnce pipes total bytes through an Encrypter and a Decrypter (both with
// two workers) and checks the plaintext by CRC-64.
func streamOnce(total int64) error {
	ctx := context.Background()
	kr, err := keyring.NewRawAES("keyport-test", "k1", make([]byte, 32))
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		enc, err := envelope.NewEncrypter(ctx, pw, envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, FrameLength: 64 << 10, Workers: 2})
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		h := crc64.New(crc64.MakeTable(crc64.ECMA))
		_, err = io.Copy(io.MultiWriter(enc, h), &pattern{n: total})
		if cerr := enc.Close(); err == nil {
			err = cerr
		}
		pw.CloseWithError(err)
	}()
	dec, err := envelope.NewDecrypter(ctx, pr, envelope.DecryptOptions{Keyring: kr, Workers: 2})
	if err != nil {
		return err
	}
	defer dec.Close()
	got := crc64.New(crc64.MakeTable(crc64.ECMA))
	n, err := io.Copy(got, dec)
	if err != nil {
		return err
	}
	want := crc64.New(crc64.MakeTable(crc64.ECMA))
	io.Copy(want, &pattern{n: total})
	if n != total || got.Sum64() != want.Sum64() {
		return fmt.Errorf("streamed %d bytes, want %d; checksum match %v", n, total, got.Sum64() == want.Sum64())
	}
	return nil
}

// TestStream1GiBPeakMemory streams 1 GiB through encryption and decryption in
// a child process and checks the child's peak resident memory.
func TestStream1GiBPeakMemory(t *testing.T) {
	if os.Getenv(streamChild) == "1" {
		if err := streamOnce(streamTotal); err != nil {
			t.Fatal(err)
		}
		if hwm, err := highWaterRSS(); err == nil {
			fmt.Printf("%s %d\n", hwmMarker, hwm)
		}
		return
	}
	if testing.Short() {
		t.Skip("streams 1 GiB; skipped in -short mode")
	}
	bin := os.Args[0]
	if raceEnabled {
		// The race detector's shadow memory and slowness would measure itself:
		// build this package's tests without it and run that binary as the child.
		gocmd, err := exec.LookPath("go")
		if err != nil {
			t.Fatalf("the go command is needed to build the child without -race: %v", err)
		}
		bin = filepath.Join(t.TempDir(), "envelope.test")
		if out, err := exec.Command(gocmd, "test", "-c", "-o", bin, ".").CombinedOutput(); err != nil {
			t.Fatalf("go test -c: %v\n%s", err, out)
		}
	}
	cmd := exec.Command(bin, "-test.run=^TestStream1GiBPeakMemory$", "-test.v")
	cmd.Env = append(os.Environ(), streamChild+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS") {
		t.Fatalf("child: %v\n%s", err, out)
	}
	ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		t.Fatal("no rusage")
	}
	// The child's own high-water mark: ru_maxrss would also count the
	// parent's memory, which the child's fork shares until its exec (Linux
	// keeps the larger of the two), so a parent grown by earlier tests would be
	// measured instead of the child.
	peak := ru.Maxrss * 1024 // KiB on Linux
	if i := strings.Index(string(out), hwmMarker+" "); i >= 0 {
		if _, err := fmt.Sscan(string(out[i+len(hwmMarker):]), &peak); err != nil {
			t.Fatalf("child's high-water mark: %v", err)
		}
	}
	t.Logf("peak RSS streaming 1 GiB through encrypt and decrypt: %.1f MiB (user %.1fs)", float64(peak)/(1<<20), float64(ru.Utime.Nano())/1e9)
	if peak >= peakRSSLimit {
		t.Fatalf("peak RSS %d MiB, want < 64 MiB", peak>>20)
	}
}

func TestStreamPipeSmall(t *testing.T) {
	// The same pipeline as the 1 GiB test, 8 MiB, also under -race.
	if err := streamOnce(8<<20 + 3); err != nil {
		t.Fatal(err)
	}
}
