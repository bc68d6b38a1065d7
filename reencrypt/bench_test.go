package reencrypt

import (
	"context"
	"testing"

	"github.com/keyport/keyport/backends"
)

// benchReEncrypt re-encrypts a 32-byte data key from a1 to a2 of a world, over and over.
func benchReEncrypt(b *testing.B, split bool, dst func(w *world) key, via backends.Via) {
	w := newWorld(b, split)
	eng := withVia(New(w.front), via)
	in := &backends.ReEncryptInput{
		CiphertextBlob: w.encrypt(w.a1, dataKey(), ctxS), SourceKeyID: w.a1.arn, SourceEncryptionContext: ctxS,
		DestinationKeyID: dst(w).arn, DestinationEncryptionContext: ctxD,
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := eng.ReEncrypt(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReEncryptNative: both keys in one local service, re-encrypted by it.
func BenchmarkReEncryptNative(b *testing.B) {
	benchReEncrypt(b, false, func(w *world) key { return w.a2 }, backends.ViaAny)
}

// BenchmarkReEncryptEngine: the same keys, decrypted and encrypted by the engine.
func BenchmarkReEncryptEngine(b *testing.B) {
	benchReEncrypt(b, false, func(w *world) key { return w.a2 }, backends.ViaPlaintext)
}

// BenchmarkReEncryptEngineTwoServices: from account A in one local service to
// account B in another, through the engine.
func BenchmarkReEncryptEngineTwoServices(b *testing.B) {
	benchReEncrypt(b, true, func(w *world) key { return w.b1 }, backends.ViaAny)
}
