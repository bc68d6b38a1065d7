package body

import (
	"bytes"
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/suite"
)

func TestSizes(t *testing.T) {
	for _, c := range []struct{ n, F, frames, size int }{
		{0, 10, 1, 40},
		{1, 10, 1, 41},
		{10, 10, 1, 50},            // a full final frame, no empty one
		{11, 10, 2, 42 + 41},       // regular + final of 1
		{30, 10, 3, 2*42 + 50},     // the final frame is full
		{25, 10, 3, 2*42 + 40 + 5}, // remainder in the final frame
		{1 << 20, 4096, 256, 255*(4096+32) + 40 + 4096},
	} {
		if got := FrameCount(c.n, c.F, true); got != c.frames {
			t.Errorf("FrameCount(%d,%d) = %d, want %d", c.n, c.F, got, c.frames)
		}
		if got := SealedSize(c.n, c.F, true); got != c.size {
			t.Errorf("SealedSize(%d,%d) = %d, want %d", c.n, c.F, got, c.size)
		}
	}
	if FrameCount(25, 10, false) != 2 || SealedSize(20, 10, false) != 84 {
		t.Error("non-final runs")
	}
}

func TestSealOpenWorkers(t *testing.T) {
	key := bytes.Repeat([]byte{1}, 32)
	aead, _ := suite.NewAEAD(key)
	c := &Codec{AEAD: aead, MessageID: make([]byte, 32), FrameLen: 7}
	pt := bytes.Repeat([]byte("0123456789"), 500)
	ct := make([]byte, SealedSize(len(pt), 7, true))
	c.SealFrames(ct, pt, 1, true, nil)
	for _, w := range []int{1, 2, 4} {
		got, n, err := c.AppendOpenFramed(context.Background(), []byte("x"), append(ct, 0xEE), w)
		if err != nil || n != len(ct) || !bytes.Equal(got[1:], pt) || got[0] != 'x' {
			t.Fatalf("workers %d: %v", w, err)
		}
	}
	ct[len(ct)/2] ^= 1
	if got, _, err := c.AppendOpenFramed(context.Background(), nil, ct, 3); !errors.Is(err, backends.ErrInvalidCiphertext) || got != nil {
		t.Fatalf("tampered: %v", err)
	}
}

func TestParallelStopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	var ran atomic.Int64
	err := Parallel(context.Background(), "op", 4, 10000, func(i int, _ *[]byte) error {
		ran.Add(1)
		if i == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || ran.Load() == 10000 {
		t.Fatalf("err %v, ran %d", err, ran.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Parallel(ctx, "op", 2, 5, func(int, *[]byte) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled: %v", err)
	}
}

func TestEmptyFinalFrameAfterFullFrames(t *testing.T) {
	// Other ESDKs may end a multiple of the frame length with an empty final frame.
	aead, _ := suite.NewAEAD(bytes.Repeat([]byte{2}, 32))
	c := &Codec{AEAD: aead, MessageID: make([]byte, 32), FrameLen: 16}
	pt := bytes.Repeat([]byte("a"), 48)
	regular := make([]byte, SealedSize(48, 16, false))
	c.SealFrames(regular, pt, 1, false, nil)
	final := make([]byte, SealedSize(0, 16, true))
	c.SealFrames(final, nil, 4, true, nil)
	msg := append(regular, final...)
	got, n, err := c.AppendOpenFramed(context.Background(), nil, msg, 1)
	if err != nil || n != len(msg) || !bytes.Equal(got, pt) {
		t.Fatalf("%v", err)
	}
	// The final frame numbered wrongly, or missing, is refused.
	bad := append(bytes.Clone(regular), final...)
	bad[len(regular)+7] = 9
	if _, _, err := c.AppendOpenFramed(context.Background(), nil, bad, 1); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Fatalf("misnumbered final frame: %v", err)
	}
	if _, _, err := c.AppendOpenFramed(context.Background(), nil, regular, 1); !errors.Is(err, backends.ErrInvalidCiphertext) {
		t.Fatalf("missing final frame: %v", err)
	}
}
