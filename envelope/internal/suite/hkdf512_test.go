package suite

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"testing"
)

// referenceCommitting derives the committing suites' keys with crypto/hkdf, as
// the ESDK specification states them.
func referenceCommitting(t testing.TB, s *Suite, dataKey, messageID []byte) (key, commit []byte) {
	prk, err := hkdf.Extract(sha512.New, dataKey, messageID)
	if err != nil {
		t.Fatal(err)
	}
	info := binary.BigEndian.AppendUint16(nil, s.ID)
	info = append(info, "DERIVEKEY"...)
	if key, err = hkdf.Expand(sha512.New, prk, string(info), s.KeyLen); err != nil {
		t.Fatal(err)
	}
	if commit, err = hkdf.Expand(sha512.New, prk, "COMMITKEY", CommitKeyLen); err != nil {
		t.Fatal(err)
	}
	return key, commit
}

func TestDeriveCommittingMatchesHKDF(t *testing.T) {
	for _, id := range []uint16{0x0478, 0x0578} {
		s := Lookup(id)
		for i := range 200 {
			dk := make([]byte, s.KeyLen)
			mid := make([]byte, s.MessageIDLen())
			if i > 0 { // the first case is all zeros
				rand.Read(dk)
				rand.Read(mid)
			}
			k, c, err := s.DeriveKey(dk, mid)
			if err != nil {
				t.Fatal(err)
			}
			wk, wc := referenceCommitting(t, s, dk, mid)
			if !bytes.Equal(k, wk) || !bytes.Equal(c, wc) {
				t.Fatalf("%04X case %d: derived %x/%x, crypto/hkdf %x/%x", id, i, k, c, wk, wc)
			}
		}
	}
}

// TestDeriveCommittingPoolWiped checks that the pooled working state keeps no
// secret after a derivation.
func TestDeriveCommittingPoolWiped(t *testing.T) {
	s := Lookup(0x0478)
	dk := bytes.Repeat([]byte{0xA5}, 32)
	mid := bytes.Repeat([]byte{0x5A}, 32)
	key, commit := make([]byte, 32), make([]byte, 32)
	w := kdfPool.Get().(*kdfWork)
	kdfPool.Put(w)
	deriveCommitting(dk, mid, s.ID, key, commit)
	// The pool may or may not give w back; check the one we get.
	w = kdfPool.Get().(*kdfWork)
	defer kdfPool.Put(w)
	var zero kdfWork
	if w.pad != zero.pad || w.inner != zero.inner || w.prk != zero.prk || w.t != zero.t || w.ipad != zero.ipad || w.opad != zero.opad {
		t.Fatal("pooled HKDF state not wiped")
	}
}

func TestDeriveCommittingAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool drop items at random")
	}
	s := Lookup(0x0478)
	dk, mid := make([]byte, 32), make([]byte, 32)
	key, commit := make([]byte, 32), make([]byte, 32)
	deriveCommitting(dk, mid, s.ID, key, commit)
	if n := testing.AllocsPerRun(100, func() { deriveCommitting(dk, mid, s.ID, key, commit) }); n > 0 {
		t.Errorf("deriveCommitting allocates %v times", n)
	}
}

func BenchmarkDeriveKey(b *testing.B) {
	dk, mid := make([]byte, 32), make([]byte, 32)
	s := Lookup(0x0478)
	b.Run("keyport", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, _, err := s.DeriveKey(dk, mid); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("crypto-hkdf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			referenceCommitting(b, s, dk, mid)
		}
	})
}
