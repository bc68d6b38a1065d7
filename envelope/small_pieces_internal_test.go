package envelope

import (
	"bytes"
	"context"
	"crypto/sha512"
	"testing"

	"github.com/keyport/keyport/envelope/internal/format"
	"github.com/keyport/keyport/internal/benchcpu"
)

// staticKeyring hands out one fixed data key and encrypted data key, so that
// the pieces below measure the session, not a keyring.
type staticKeyring struct{ edk EncryptedDataKey }

func (k staticKeyring) OnEncrypt(_ context.Context, m *EncryptionMaterials) error {
	m.PlaintextDataKey = m.Alloc(32)
	m.EncryptedDataKeys = append(m.EncryptedDataKeys, k.edk)
	return nil
}

func (k staticKeyring) OnDecrypt(_ context.Context, m *DecryptionMaterials, _ []EncryptedDataKey) error {
	m.PlaintextDataKey = m.Alloc(32)
	return nil
}

// BenchmarkSmall1KiBPieces measures, in CPU time, the work a 1 KiB message of
// suite 0x0478 costs beyond the cryptography of BenchmarkSmall1KiB's floor,
// piece by piece: what the session adds to the pieces of the floor (the
// Result a decryption must return, the header and context work, the pooled
// session), and "sha512-10-blocks", the raw compression of the ten blocks the
// key derivation hashes, beside the floor's derivation (which also saves and
// restores HMAC states through the public hash API). scripts/bench.sh prints
// them next to the floor.
func BenchmarkSmall1KiBPieces(b *testing.B) {
	ec := map[string]string{"tenant": "42", "purpose": "bench"}
	edk := EncryptedDataKey{ProviderID: "keyport-test", ProviderInfo: bytes.Repeat([]byte{1}, 2+8+12), Ciphertext: bytes.Repeat([]byte{2}, 48)}
	msg, err := Encrypt(context.Background(), make([]byte, 1024), EncryptOptions{Keyring: staticKeyring{edk}, Suite: SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: ec})
	if err != nil {
		b.Fatal(err)
	}
	var h format.Header
	var hdrEDKs [2]format.EDK
	buf := make([]byte, 0, 2048)
	var sink any
	pieces := []struct {
		name string
		op   func()
	}{
		// The raw SHA-512 compression of ten blocks: the floor's derivation
		// hashes as many, with the saving and restoring of HMAC states the
		// public hash API requires.
		{"sha512-10-blocks", func() { sha512.Sum512(buf[:10*128-17]) }},
		// Encryption.
		{"encrypt/session-pool", func() { es := encPool.Get().(*encSession); es.pooled = true; es.release() }},
		{"encrypt/serialize-context", func() { format.AppendContext(buf[:0], ec, nil, ReservedPrefix) }},
		{"encrypt/write-header", func() {
			if _, err := h.BodySize(); err != nil {
				b.Fatal(err)
			}
			h.AppendBody(buf[:0])
		}},
		{"encrypt/frame-aad", func() { format.AppendBodyAAD(buf[:0], msg[4:36], format.Final, 1, 1024) }},
		// Decryption.
		{"decrypt/result-alloc", func() { sink = new(decResult) }},
		{"decrypt/session-pool", func() { ds := decPool.Get().(*decSession); ds.pooled = true; ds.release() }},
		{"decrypt/parse-header", func() {
			h.EDKs = hdrEDKs[:0]
			if _, err := h.ParseBytesInto(buf[:0], msg, format.Limits{LazyContext: true}); err != nil {
				b.Fatal(err)
			}
		}},
		{"decrypt/match-context", func() { format.MatchContext(h.SerializedContext, ec) }},
	}
	if _, err := h.ParseBytesInto(buf[:0], msg, format.Limits{}); err != nil {
		b.Fatal(err)
	}
	for _, p := range pieces {
		b.Run(p.name, func(b *testing.B) {
			defer benchcpu.Start().PerOp(b)
			for b.Loop() {
				p.op()
			}
		})
	}
	_ = sink
}
