package envelope_test

import (
	"bytes"
	"context"
	"io"
	"testing"

	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/internal/body"
)

// TestPooledBuffersHoldNoPlaintext runs an Encrypter and a Decrypter with
// workers to their end, then takes every buffer their batches gave back to the
// shared pool: none holds a byte of the plaintext (a recognisable pattern),
// since the next stream, of another caller perhaps, gets them.
func TestPooledBuffersHoldNoPlaintext(t *testing.T) {
	ctx := context.Background()
	kr := aesKeyring(t, "k1", 1)
	pt := bytes.Repeat([]byte("PLAINTEXT-PATTERN"), (5<<20)/17)
	o := envelope.EncryptOptions{Keyring: kr, Workers: 2, FrameLength: 4096}
	var msg bytes.Buffer
	e, err := envelope.NewEncrypter(ctx, &msg, o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(e, bytes.NewReader(pt)); err != nil { // through ReadFrom: the batches' own buffers
		t.Fatal(err)
	}
	if err := e.Close(); err != nil {
		t.Fatal(err)
	}
	d, err := envelope.NewDecrypter(ctx, bytes.NewReader(msg.Bytes()), envelope.DecryptOptions{Keyring: kr, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := io.Copy(&got, d); err != nil || !bytes.Equal(got.Bytes(), pt) {
		t.Fatalf("round trip: %v", err)
	}
	seen := 0
	for range 64 {
		b := body.GetBuf(body.PoolCap)
		if cap(b) != body.PoolCap {
			t.Fatalf("GetBuf(PoolCap) has capacity %d, want %d", cap(b), body.PoolCap)
		}
		if bytes.Contains(b[:cap(b)], []byte("PLAINTEXT-PATTERN")) {
			t.Fatal("a pooled buffer holds plaintext")
		}
		if bytes.ContainsFunc(b[:cap(b)], func(r rune) bool { return r != 0 }) {
			seen++ // a used buffer (ciphertext), wiped of plaintext
		}
	}
	t.Logf("%d used buffers came back from the pool", seen)
}
