package local_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/internal/benchcpu"
)

// benchModes runs fn once per place the service keeps its state: in memory
// (New) and in a store file (Open). Each reports CPU time per operation
// (cpu-ns/op) beside wall-clock time, which other load on the machine distorts.
func benchModes(b *testing.B, fn func(b *testing.B, c *local.Client)) {
	for _, mode := range []string{"memory", "store"} {
		b.Run(mode, func(b *testing.B) {
			var svc *local.Service
			if mode == "memory" {
				svc = local.New()
			} else {
				var err error
				if svc, err = local.Open(filepath.Join(b.TempDir(), "keys.db"), local.WithRootKey(rootKey(1))); err != nil {
					b.Fatal(err)
				}
			}
			b.Cleanup(func() { svc.Close() })
			fn(b, svc.Client(local.Identity{Account: acctA}))
		})
	}
}

func benchKeys(b *testing.B, c *local.Client) (k1, k2 string, dataKey []byte, ec map[string]string) {
	b.Helper()
	var arns [2]string
	for i := range arns {
		k, err := c.CreateKey(bg, nil)
		if err != nil {
			b.Fatal(err)
		}
		arns[i] = k.KeyMetadata.Arn
	}
	return arns[0], arns[1], make([]byte, 32), map[string]string{"purpose": "bench", "tenant": "t1"}
}

// BenchmarkEncrypt encrypts a 32-byte data key with an encryption context.
func BenchmarkEncrypt(b *testing.B) {
	benchModes(b, func(b *testing.B, c *local.Client) {
		k1, _, dk, ec := benchKeys(b, c)
		in := &backends.EncryptInput{KeyID: k1, Plaintext: dk, EncryptionContext: ec}
		b.ReportAllocs()
		defer benchcpu.Start().PerOp(b)
		for b.Loop() {
			if _, err := c.Encrypt(bg, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecrypt decrypts a 32-byte data key.
func BenchmarkDecrypt(b *testing.B) {
	benchModes(b, func(b *testing.B, c *local.Client) {
		k1, _, dk, ec := benchKeys(b, c)
		out, err := c.Encrypt(bg, &backends.EncryptInput{KeyID: k1, Plaintext: dk, EncryptionContext: ec})
		if err != nil {
			b.Fatal(err)
		}
		in := &backends.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec}
		b.ReportAllocs()
		defer benchcpu.Start().PerOp(b)
		for b.Loop() {
			dec, err := c.Decrypt(bg, in)
			if err != nil {
				b.Fatal(err)
			}
			clear(dec.Plaintext)
		}
	})
}

// BenchmarkReEncrypt re-encrypts a 32-byte data key natively to another key.
func BenchmarkReEncrypt(b *testing.B) {
	benchModes(b, func(b *testing.B, c *local.Client) {
		k1, k2, dk, ec := benchKeys(b, c)
		out, err := c.Encrypt(bg, &backends.EncryptInput{KeyID: k1, Plaintext: dk, EncryptionContext: ec})
		if err != nil {
			b.Fatal(err)
		}
		in := &backends.ReEncryptInput{CiphertextBlob: out.CiphertextBlob, SourceEncryptionContext: ec, DestinationKeyID: k2, DestinationEncryptionContext: ec}
		b.ReportAllocs()
		defer benchcpu.Start().PerOp(b)
		for b.Loop() {
			if _, err := c.ReEncrypt(bg, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkCreateKey makes a key with an alias (two calls before issue 9's
// AliasName; the alias keeps the comparison with today's code fair).
func BenchmarkCreateKey(b *testing.B) {
	benchModes(b, func(b *testing.B, c *local.Client) {
		i := 0
		b.ReportAllocs()
		defer benchcpu.Start().PerOp(b)
		for b.Loop() {
			i++
			k, err := c.CreateKey(bg, nil)
			if err != nil {
				b.Fatal(err)
			}
			if err := c.CreateAlias(bg, &local.CreateAliasInput{AliasName: fmt.Sprintf("alias/k%d", i), TargetKeyID: k.KeyMetadata.KeyID}); err != nil {
				b.Fatal(err)
			}
		}
	})
}
