// Package holdback holds a command's output back until it may be released: the
// plaintext of a signed message must not reach a pipeline before the message's
// signature, at its very end, has verified.
//
// A [Buffer] keeps what is written in memory up to a limit, then spills it to
// a temporary file, sealed in chunks under a fresh AES-256-GCM key that exists
// only in this process's memory (the file is unlinked at once where the system
// allows), so no plaintext reaches the disk. [Buffer.WriteTo] releases it all;
// [Buffer.Close] wipes it.
//
// It is written here because no library does this job: it is a few lines over
// crypto/cipher.
package holdback

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"os"
)

// ChunkSize is the plaintext length of each sealed chunk of a spill file.
const ChunkSize = 64 << 10

// Buffer holds written bytes until WriteTo or Close. It is not safe for
// concurrent use.
type Buffer struct {
	limit  int
	dir    string
	mem    []byte
	file   *os.File // the spill file, once mem passed limit
	aead   cipher.AEAD
	chunks uint64 // sealed chunks in file
	err    error
}

// New returns a Buffer that keeps up to limit bytes in memory and spills the
// rest to a temporary file in dir (os.TempDir() when empty).
func New(limit int, dir string) *Buffer {
	if dir == "" {
		dir = os.TempDir()
	}
	return &Buffer{limit: limit, dir: dir}
}

// Spilled reports whether the buffer has moved to its temporary file.
func (b *Buffer) Spilled() bool { return b.file != nil }

// Write holds p.
func (b *Buffer) Write(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n := len(p)
	if b.file == nil && len(b.mem)+len(p) <= b.limit {
		b.mem = append(b.mem, p...)
		return n, nil
	}
	if b.file == nil {
		if err := b.spill(); err != nil {
			b.err = err
			return 0, err
		}
	}
	for len(p) > 0 {
		take := min(ChunkSize-len(b.mem), len(p))
		b.mem = append(b.mem, p[:take]...)
		p = p[take:]
		if len(b.mem) == ChunkSize {
			if err := b.seal(); err != nil {
				b.err = err
				return 0, err
			}
		}
	}
	return n, nil
}

// spill opens the spill file under a fresh key and moves mem into it.
func (b *Buffer) spill() error {
	key := make([]byte, 32)
	defer clear(key)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return err
	}
	if b.aead, err = cipher.NewGCM(block); err != nil {
		return err
	}
	f, err := os.CreateTemp(b.dir, ".keyport-holdback-*")
	if err != nil {
		return err
	}
	b.file = f
	unlink(f) // on Unix the name goes now; the open file stays ours
	held := b.mem
	b.mem = make([]byte, 0, ChunkSize)
	defer clear(held)
	for len(held) > 0 {
		take := min(ChunkSize, len(held))
		b.mem = append(b.mem, held[:take]...)
		held = held[take:]
		if len(b.mem) == ChunkSize {
			if err := b.seal(); err != nil {
				return err
			}
		}
	}
	return nil
}

// nonce is the chunk index: each key seals at most one file, so counter
// nonces never repeat.
func nonce(i uint64) []byte {
	n := make([]byte, 12)
	binary.BigEndian.PutUint64(n[4:], i)
	return n
}

// seal appends mem as one sealed chunk to the file.
func (b *Buffer) seal() error {
	out := b.aead.Seal(make([]byte, 4, 4+len(b.mem)+b.aead.Overhead()), nonce(b.chunks), b.mem, nil)
	binary.BigEndian.PutUint32(out, uint32(len(out)-4))
	clear(b.mem)
	b.mem = b.mem[:0]
	if _, err := b.file.Write(out); err != nil {
		return err
	}
	b.chunks++
	return nil
}

var errDamaged = errors.New("holdback: the spill file was changed")

// WriteTo releases everything held to w, in order, and wipes it.
func (b *Buffer) WriteTo(w io.Writer) (int64, error) {
	if b.err != nil {
		return 0, b.err
	}
	var total int64
	if b.file != nil {
		if _, err := b.file.Seek(0, io.SeekStart); err != nil {
			return 0, err
		}
		var lenBuf [4]byte
		buf := make([]byte, 0, ChunkSize+b.aead.Overhead())
		for i := range b.chunks {
			if _, err := io.ReadFull(b.file, lenBuf[:]); err != nil {
				return total, errDamaged
			}
			n := binary.BigEndian.Uint32(lenBuf[:])
			if int(n) > cap(buf) {
				return total, errDamaged
			}
			buf = buf[:n]
			if _, err := io.ReadFull(b.file, buf); err != nil {
				return total, errDamaged
			}
			pt, err := b.aead.Open(buf[:0], nonce(i), buf, nil)
			if err != nil {
				return total, errDamaged
			}
			m, err := w.Write(pt)
			clear(pt)
			total += int64(m)
			if err != nil {
				return total, err
			}
		}
	}
	m, err := w.Write(b.mem)
	total += int64(m)
	clear(b.mem)
	b.mem = b.mem[:0]
	return total, err
}

// Close wipes what is held and removes the spill file.
func (b *Buffer) Close() error {
	clear(b.mem)
	b.mem = nil
	b.aead = nil
	if b.file != nil {
		name := b.file.Name()
		b.file.Close()
		os.Remove(name) // already gone on Unix
		b.file = nil
	}
	return nil
}
