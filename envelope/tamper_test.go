package envelope_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
)

// checkRejected asserts that msg fails to decrypt with a typed error, that
// Decrypt returns no plaintext, and that the streaming decryptor (sequential
// and parallel) releases at most an authentic proper prefix of want, and none
// at all when nothing before the damage is a whole authenticated frame.
func checkRejected(t *testing.T, name string, msg, want []byte, o envelope.DecryptOptions) {
	t.Helper()
	pt, res, err := envelope.Decrypt(context.Background(), msg, o)
	if err == nil || pt != nil || res != nil {
		t.Fatalf("%s: Decrypt: err %v, %d plaintext bytes", name, err, len(pt))
	}
	if backends.KindOf(err) == nil {
		t.Fatalf("%s: untyped error %v", name, err)
	}
	po := o
	po.Workers = 2
	if pt, res, err := envelope.Decrypt(context.Background(), msg, po); err == nil || pt != nil || res != nil {
		t.Fatalf("%s: Decrypt with 2 workers: err %v, %d plaintext bytes", name, err, len(pt))
	}
	for _, w := range []int{1, 2} {
		o.Workers = w
		spt, err := streamDecrypt(msg, o)
		if err == nil {
			t.Fatalf("%s: stream workers=%d: no error", name, w)
		}
		if backends.KindOf(err) == nil {
			t.Fatalf("%s: stream: untyped error %v", name, err)
		}
		if len(spt) >= len(want) && len(want) > 0 || !bytes.HasPrefix(want, spt) {
			t.Fatalf("%s: stream workers=%d released %d bytes that are not an authentic proper prefix", name, w, len(spt))
		}
	}
}

func TestTruncationAndBitFlips(t *testing.T) {
	kr := aesKeyring(t, "k1", 1)
	o := envelope.DecryptOptions{Keyring: kr, EncryptionContext: map[string]string{"r": "v"}}
	for _, s := range []envelope.SuiteID{envelope.SuiteAES256GCMHKDFSHA512CommitKey, envelope.SuiteAES256GCMHKDFSHA512CommitKeyECDSAP384} {
		for _, n := range []int{0, 10, 40} { // one frame; several frames of 16
			pt := randBytes(uint64(n), n)
			msg, err := envelope.Encrypt(context.Background(), pt, envelope.EncryptOptions{
				Keyring: kr, Suite: s, FrameLength: 16,
				EncryptionContext: map[string]string{"a": "b", "r": "v"}, RequiredEncryptionContextKeys: []string{"r"},
			})
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < len(msg); i++ {
				checkRejected(t, "truncated", msg[:i], pt, o)
				if n <= 10 {
					// A single-frame message releases nothing at all.
					if spt, _ := streamDecrypt(msg[:i], o); len(spt) != 0 {
						t.Fatalf("truncated single-frame message released %d bytes", len(spt))
					}
				}
			}
			checkRejected(t, "trailing byte", append(bytes.Clone(msg), 0), pt, o)
			bad := bytes.Clone(msg)
			// Every bit of the unsigned one-frame message; one bit per byte otherwise.
			every := s == envelope.SuiteAES256GCMHKDFSHA512CommitKey && n == 10
			for i := range bad {
				for bit := 0; bit < 8; bit++ {
					if !every && bit != i%8 {
						continue
					}
					bad[i] ^= 1 << bit
					checkRejected(t, "bit flip", bad, pt, o)
					bad[i] ^= 1 << bit
				}
			}
			if n == 40 {
				// Swap frames 1 and 2 (regular frames of 16+32 bytes after the header).
				d, err := envelope.NewDecrypter(context.Background(), bytes.NewReader(msg), o)
				if err != nil {
					t.Fatal(err)
				}
				h := d.Result().Header.Size
				d.Close()
				sw := bytes.Clone(msg)
				copy(sw[h:], msg[h+48:h+96])
				copy(sw[h+48:], msg[h:h+48])
				checkRejected(t, "reordered", sw, pt, o)
				// Drop frame 2: the final frame then follows frame 1 with the wrong number.
				drop := append(bytes.Clone(msg[:h+48]), msg[h+96:]...)
				checkRejected(t, "dropped frame", drop, pt, o)
			}
		}
	}
}

func TestSignedFinalFrameHeldBack(t *testing.T) {
	// The only frame of a signed message is released only after the signature
	// verifies: a bad signature releases nothing even though the frame is authentic.
	kr := aesKeyring(t, "k1", 1)
	msg, err := envelope.Encrypt(context.Background(), []byte("hello"), envelope.EncryptOptions{Keyring: kr})
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(msg)
	bad[len(bad)-1] ^= 1
	for _, w := range []int{1, 2} {
		pt, err := streamDecrypt(bad, envelope.DecryptOptions{Keyring: kr, Workers: w})
		if !errors.Is(err, backends.ErrInvalidCiphertext) || len(pt) != 0 {
			t.Fatalf("workers=%d: %v, %d bytes released", w, err, len(pt))
		}
	}
}
