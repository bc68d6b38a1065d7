package envelope_test

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/internal/benchcpu"
)

// BenchmarkFile1GiB encrypts and decrypts a 1 GiB file to /dev/null through
// the streaming API, as `keyport encrypt` and `keyport decrypt` do (suite
// 0x0478, the default 4 KiB frames): "seq" on one goroutine, "all-cores" with
// Workers: AllCores. "cli" hands the *os.File over and writes /dev/null
// through a 64 KiB bufio buffer, as cmd/keyport does (the Encrypter reads the
// file straight into its batches; the Decrypter with workers reads its batches
// at their offsets, on every core); "bufio-in" also wraps the file in a 64 KiB
// bufio buffer, as cmd/keyport did before, so the Decrypter reads it in order
// under one lock; "cli-64KiB-frames" is "cli" with 64 KiB frames (keyport
// encrypt --frame-length 65536), to show what the default frame length costs.
// scripts/bench.sh compares MB/s with `openssl speed -evp aes-256-gcm`
// (one core) in the same run. The files live in the benchmark's temporary
// directory; each run writes them (3 GiB).
func BenchmarkFile1GiB(b *testing.B) {
	const size = 1 << 30
	ctx := context.Background()
	kr := aesKeyring(b, "k1", 1)
	dir := b.TempDir()
	plain, sealed := filepath.Join(dir, "plain"), filepath.Join(dir, "sealed")
	writeFile := func(path string, fill func(w io.Writer) error) {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := fill(f); err != nil {
			b.Fatal(err)
		}
		// Written back now, so that the kernel's writeback of 2 GiB does not
		// compete with the first variants measured.
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
	}
	writeFile(plain, func(w io.Writer) error { _, err := io.Copy(w, &pattern{n: size}); return err })
	eo := envelope.EncryptOptions{Keyring: kr, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey}
	seal := func(o envelope.EncryptOptions) func(w io.Writer) error {
		return func(w io.Writer) error {
			e, err := envelope.NewEncrypter(ctx, w, o)
			if err != nil {
				return err
			}
			if _, err := io.Copy(e, &pattern{n: size}); err != nil {
				return err
			}
			return e.Close()
		}
	}
	eo64 := eo
	eo64.FrameLength = 64 << 10
	sealed64 := filepath.Join(dir, "sealed64")
	writeFile(sealed, seal(eo))
	writeFile(sealed64, seal(eo64))
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer null.Close()
	open := func(path string) *os.File {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		return f
	}
	for _, wrap := range []string{"cli", "bufio-in", "cli-64KiB-frames"} {
		in := func(f *os.File) io.Reader {
			if wrap == "bufio-in" {
				return bufio.NewReaderSize(f, 64<<10)
			}
			return f
		}
		eo, sealed := eo, sealed
		if wrap == "cli-64KiB-frames" {
			eo, sealed = eo64, sealed64
		}
		out := func() (io.Writer, func() error) {
			bw := bufio.NewWriterSize(null, 64<<10)
			return bw, bw.Flush
		}
		for _, m := range []struct {
			name    string
			workers int
		}{{"seq", 1}, {"all-cores", envelope.AllCores}} {
			b.Run("encrypt/"+wrap+"/"+m.name, func(b *testing.B) {
				b.SetBytes(size)
				defer benchcpu.Start().Throughput(b, size)
				o := eo
				o.Workers = m.workers
				for b.Loop() {
					f := open(plain)
					w, flush := out()
					e, err := envelope.NewEncrypter(ctx, w, o)
					if err != nil {
						b.Fatal(err)
					}
					if n, err := io.Copy(e, in(f)); err != nil || n != size {
						b.Fatal(n, err)
					}
					if err := e.Close(); err != nil {
						b.Fatal(err)
					}
					if err := flush(); err != nil {
						b.Fatal(err)
					}
					f.Close()
				}
			})
			b.Run("decrypt/"+wrap+"/"+m.name, func(b *testing.B) {
				b.SetBytes(size)
				defer benchcpu.Start().Throughput(b, size)
				for b.Loop() {
					f := open(sealed)
					w, flush := out()
					d, err := envelope.NewDecrypter(ctx, in(f), envelope.DecryptOptions{Keyring: kr, Workers: m.workers})
					if err != nil {
						b.Fatal(err)
					}
					if n, err := io.Copy(w, d); err != nil || n != size {
						b.Fatal(n, err)
					}
					if err := flush(); err != nil {
						b.Fatal(err)
					}
					f.Close()
				}
			})
		}
	}
}
