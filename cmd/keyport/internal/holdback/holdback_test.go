package holdback

import (
	"bytes"
	"crypto/rand"
	"os"
	"testing"
)

func TestHoldAndRelease(t *testing.T) {
	for _, tc := range []struct {
		name         string
		size, limit  int
		wantSpill    bool
		writeInBites int
	}{
		{"memory", 1000, 4096, false, 100},
		{"exact-limit", 4096, 4096, false, 4096},
		{"spill-small-writes", 3*ChunkSize + 17, 10_000, true, 999},
		{"spill-one-write", 2 * ChunkSize, 1, true, 2 * ChunkSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data := make([]byte, tc.size)
			rand.Read(data)
			b := New(tc.limit, dir)
			for p := data; len(p) > 0; {
				n := min(tc.writeInBites, len(p))
				if _, err := b.Write(p[:n]); err != nil {
					t.Fatal(err)
				}
				p = p[n:]
			}
			if b.Spilled() != tc.wantSpill {
				t.Fatalf("spilled %v, want %v", b.Spilled(), tc.wantSpill)
			}
			if b.Spilled() {
				// The file holds no plaintext, and has no name left in dir.
				fi, err := b.file.Stat()
				if err != nil || fi.Size() < int64(tc.size) {
					t.Fatalf("spill file: %v, %d bytes", err, fi.Size())
				}
				raw := make([]byte, fi.Size())
				b.file.ReadAt(raw, 0)
				if bytes.Contains(raw, data[:64]) {
					t.Fatal("the spill file holds plaintext")
				}
				if ents, _ := os.ReadDir(dir); len(ents) != 0 {
					t.Fatalf("spill file still named: %v", ents)
				}
			}
			var out bytes.Buffer
			n, err := b.WriteTo(&out)
			if err != nil || n != int64(tc.size) || !bytes.Equal(out.Bytes(), data) {
				t.Fatalf("released %d bytes, err %v; equal %v", n, err, bytes.Equal(out.Bytes(), data))
			}
			b.Close()
		})
	}
}

func TestDamagedSpill(t *testing.T) {
	b := New(0, t.TempDir())
	data := make([]byte, ChunkSize+10)
	b.Write(data)
	b.file.WriteAt([]byte{1}, 10) // flip a byte of the first sealed chunk
	var out bytes.Buffer
	if _, err := b.WriteTo(&out); err == nil || out.Len() != 0 {
		t.Fatalf("a changed spill file released %d bytes, err %v", out.Len(), err)
	}
	b.Close()
}
