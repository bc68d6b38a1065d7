package suite

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"errors"
	"testing"
)

func TestTable(t *testing.T) {
	all := All()
	if len(all) != 11 {
		t.Fatalf("%d suites", len(all))
	}
	for _, s := range all {
		if Lookup(s.ID) == nil || Lookup(s.ID).ID != s.ID {
			t.Fatalf("%04x: lookup", s.ID)
		}
		if s.Committing != (s.MessageVersion == 2) || (s.Committing && s.KDF != crypto.SHA512) {
			t.Errorf("%04x: commitment/version/KDF inconsistent", s.ID)
		}
		if s.Signed() != (s.SigHash != 0) {
			t.Errorf("%04x: signing inconsistent", s.ID)
		}
		if want := map[uint16]int{0x14: 16, 0x46: 24, 0x78: 32}[s.ID&0xFF]; want != s.KeyLen {
			t.Errorf("%04x: key length %d", s.ID, s.KeyLen)
		}
	}
	if Lookup(0x0999) != nil {
		t.Fatal("unknown suite found")
	}
}

func TestDeriveKey(t *testing.T) {
	for _, s := range All() {
		dk := bytes.Repeat([]byte{3}, s.KeyLen)
		id := bytes.Repeat([]byte{5}, s.MessageIDLen())
		k1, c1, err := s.DeriveKey(dk, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(k1) != s.KeyLen || (s.Committing && len(c1) != CommitKeyLen) || (!s.Committing && c1 != nil) {
			t.Fatalf("%04x: lengths %d %d", s.ID, len(k1), len(c1))
		}
		if (s.KDF == 0) != bytes.Equal(k1, dk) {
			t.Fatalf("%04x: identity KDF mismatch", s.ID)
		}
		id[0] ^= 1
		k2, c2, _ := s.DeriveKey(dk, id)
		if s.KDF != 0 && bytes.Equal(k1, k2) {
			t.Fatalf("%04x: message ID not bound", s.ID)
		}
		if s.Committing {
			if CheckCommitment(c1, c1) != nil || !errors.Is(CheckCommitment(c1, c2), ErrCommitment) {
				t.Fatalf("%04x: commitment check", s.ID)
			}
		}
		if _, _, err := s.DeriveKey(dk[1:], id); err == nil {
			t.Fatalf("%04x: short data key accepted", s.ID)
		}
	}
}

func TestSignVerify(t *testing.T) {
	for _, s := range All() {
		if !s.Signed() {
			if _, _, err := NewSigner(&s); err == nil {
				t.Fatalf("%04x: signer for unsigned suite", s.ID)
			}
			continue
		}
		sg, pub, err := NewSigner(&s)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := base64.StdEncoding.DecodeString(pub)
		if n := (s.Curve.Params().BitSize+7)/8 + 1; len(raw) != n || (raw[0] != 2 && raw[0] != 3) {
			t.Fatalf("%04x: public key not compressed (%d bytes)", s.ID, len(raw))
		}
		sg.Write([]byte("message"))
		sig, err := sg.Sign()
		if err != nil {
			t.Fatal(err)
		}
		v, err := NewVerifier(&s, pub)
		if err != nil {
			t.Fatal(err)
		}
		v.Write([]byte("message"))
		if !v.Verify(sig) {
			t.Fatalf("%04x: signature does not verify", s.ID)
		}
		v2, _ := NewVerifier(&s, pub)
		v2.Write([]byte("messagf"))
		if v2.Verify(sig) {
			t.Fatalf("%04x: signature verifies another message", s.ID)
		}
		if _, err := NewVerifier(&s, "AAAA"); err == nil {
			t.Fatalf("%04x: bad public key accepted", s.ID)
		}
	}
}
