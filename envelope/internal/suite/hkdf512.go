package suite

import (
	"crypto/sha512"
	"crypto/subtle"
	"encoding"
	"hash"
	"sync"
)

// HMAC-SHA512 block and output sizes.
const (
	sha512Block = 128
	sha512Size  = 64
)

// sha512State is a SHA-512 digest that can save and restore its state, as the
// digests of crypto/sha512 can.
type sha512State interface {
	hash.Hash
	encoding.BinaryAppender
	encoding.BinaryUnmarshaler
}

// deriveCommitting is the HKDF-SHA512 of the committing suites (RFC 5869 with
// the message ID as salt), computed in one pass for both outputs:
//
//	PRK       = HMAC-SHA512(messageID, dataKey)
//	key       = HMAC-SHA512(PRK, suiteID || "DERIVEKEY" || 0x01)[:len(key)]
//	commitKey = HMAC-SHA512(PRK, "COMMITKEY" || 0x01)[:len(commitKey)]
//
// Both expansions take one HMAC block (len(key) and len(commitKey) are at most
// 64), so this is exactly what crypto/hkdf computes, but the PRK is extracted
// once and keyed once (its inner and outer pad states are hashed once and
// restored for each expansion): ten SHA-512 blocks instead of twelve, and no
// allocation (crypto/hkdf makes some thirty). Every intermediate secret is wiped.
func deriveCommitting(dataKey, messageID []byte, suiteID uint16, key, commitKey []byte) {
	w := kdfPool.Get().(*kdfWork)
	defer kdfPool.Put(w)
	d := w.d
	// Extract: HMAC keyed with the salt (a message ID: shorter than a block).
	hmacPads(&w.pad, messageID)
	d.Reset()
	d.Write(w.pad[:])
	d.Write(dataKey)
	d.Sum(w.inner[:0])
	flipPads(&w.pad)
	d.Reset()
	d.Write(w.pad[:])
	d.Write(w.inner[:])
	d.Sum(w.prk[:0])

	// Key HMAC with the PRK once: save the inner and outer pad states.
	hmacPads(&w.pad, w.prk[:])
	d.Reset()
	d.Write(w.pad[:])
	ipad, _ := d.AppendBinary(w.ipad[:0])
	flipPads(&w.pad)
	d.Reset()
	d.Write(w.pad[:])
	opad, _ := d.AppendBinary(w.opad[:0])

	w.info[0], w.info[1] = byte(suiteID>>8), byte(suiteID)
	copy(w.info[2:], "DERIVEKEY")
	w.info[len(w.info)-1] = 1
	w.expand1(ipad, opad, w.info[:])
	copy(key, w.t[:])
	w.expand1(ipad, opad, commitInfo)
	copy(commitKey, w.t[:])
	w.wipe()
}

var commitInfo = []byte("COMMITKEY\x01")

// kdfWork is the working state of deriveCommitting, pooled: a SHA-512 digest
// and room for every intermediate value, wiped before it goes back to the pool.
type kdfWork struct {
	d          sha512State
	pad        [sha512Block]byte
	inner, prk [sha512Size]byte
	t          [sha512Size]byte
	ipad, opad [256]byte // marshaled digest states (204 bytes for SHA-512)
	info       [2 + len("DERIVEKEY") + 1]byte
}

var kdfPool = sync.Pool{New: func() any {
	d, ok := sha512.New().(sha512State)
	if !ok {
		panic("keyport/suite: crypto/sha512 digests cannot save their state")
	}
	return &kdfWork{d: d}
}}

// wipe clears every intermediate value, and what the digest keeps of its last
// input (an inner hash) in its block buffer.
func (w *kdfWork) wipe() {
	clear(w.pad[:])
	clear(w.inner[:])
	clear(w.prk[:])
	clear(w.t[:])
	clear(w.ipad[:])
	clear(w.opad[:])
	w.d.Reset()
	w.d.Write(w.pad[:sha512Block-1])
	w.d.Reset()
}

// expand1 computes HMAC(PRK, msg) into w.t from the saved pad states of PRK.
func (w *kdfWork) expand1(ipad, opad, msg []byte) {
	if w.d.UnmarshalBinary(ipad) != nil {
		panic("keyport/suite: SHA-512 state does not restore")
	}
	w.d.Write(msg)
	w.d.Sum(w.inner[:0])
	if w.d.UnmarshalBinary(opad) != nil {
		panic("keyport/suite: SHA-512 state does not restore")
	}
	w.d.Write(w.inner[:])
	w.d.Sum(w.t[:0])
}

// hmacPads sets pad to the HMAC inner pad of key (at most one block long).
func hmacPads(pad *[sha512Block]byte, key []byte) {
	n := subtle.XORBytes(pad[:], key, ipadBlock[:len(key)])
	copy(pad[n:], ipadBlock[n:])
}

// flipPads turns an HMAC inner pad into the outer pad of the same key.
func flipPads(pad *[sha512Block]byte) {
	subtle.XORBytes(pad[:], pad[:], flipBlock[:])
}

// ipadBlock is a block of HMAC inner-pad bytes; flipBlock turns an inner pad
// into the outer pad.
var ipadBlock, flipBlock = func() (ipad, flip [sha512Block]byte) {
	for i := range ipad {
		ipad[i], flip[i] = 0x36, 0x36^0x5c
	}
	return
}()
