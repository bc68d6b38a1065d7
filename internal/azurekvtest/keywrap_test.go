package azurekvtest

import (
	"bytes"
	"encoding/hex"
	"testing"
)

// TestKeyWrapRFC3394 checks the key wrap against RFC 3394's test vector 4.6
// (256-bit KEK, 256-bit key data).
func TestKeyWrapRFC3394(t *testing.T) {
	kek, _ := hex.DecodeString("000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F")
	data, _ := hex.DecodeString("00112233445566778899AABBCCDDEEFF000102030405060708090A0B0C0D0E0F")
	want, _ := hex.DecodeString("28C9F404C4B810F4CBCCB35CFB87F8263F5786E2D80ED326CBC7F0E71A99F43BFB988B9B7A02DD21")
	got, err := wrapKW(kek, data)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("wrapKW = %X, %v; want %X", got, err, want)
	}
	back, err := unwrapKW(kek, got)
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("unwrapKW = %X, %v", back, err)
	}
	got[3] ^= 1
	if _, err := unwrapKW(kek, got); err == nil {
		t.Fatal("unwrapKW of a damaged blob succeeded")
	}
}
