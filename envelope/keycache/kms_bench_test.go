package keycache_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/awskms"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keycache"
	"github.com/keyport/keyport/envelope/keyring"
	"github.com/keyport/keyport/internal/testenv"
)

// BenchmarkLocalKMS1KiB encrypts and decrypts 1 KiB messages (suite 0x0478)
// under an AWS KMS key of local-kms through a backend keyring over
// backends/awskms: "kms" asks the key service for every message, "cached"
// goes through a caching keyring (MaxAge 5 minutes, MaxMessages 1000: one
// GenerateDataKey per 1000 messages). Decryption opens 100 messages written
// through the cache in turn. scripts/bench.sh prints cached/kms ops/s.
//
//	scripts/dev.sh starts local-kms (the key is account A's first seeded key);
//	with its KEYPORT_LOCALKMS_A exported: go test -run '^$' -bench LocalKMS ./envelope/keycache/
func BenchmarkLocalKMS1KiB(b *testing.B) {
	ep := testenv.Require(b, "KEYPORT_LOCALKMS_A", "local-kms")
	ctx := context.Background()
	kms, err := awskms.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCALKMS", "local-kms-does-not-check", "")},
		awskms.WithEndpoint(ep), awskms.WithAccount("111122223333"))
	if err != nil {
		b.Fatal(err)
	}
	key := backends.KeyARN("aws", "us-east-1", "111122223333", "11111111-1111-4111-8111-000000000001")
	front := backends.NewFront(kms)
	if err := kms.Register(front); err != nil {
		b.Fatal(err)
	}
	kr, err := keyring.NewBackend(front, key, nil)
	if err != nil {
		b.Fatal(err)
	}
	pt := make([]byte, 1024)
	rand.Read(pt)
	ec := map[string]string{"tenant": "42"}
	for _, c := range []struct {
		name string
		kr   func() envelope.Keyring
	}{
		{"kms", func() envelope.Keyring { return kr }},
		{"cached", func() envelope.Keyring {
			ck, err := keycache.NewKeyring(kr, keycache.Options{MaxAge: 5 * time.Minute, MaxMessages: 1000})
			if err != nil {
				b.Fatal(err)
			}
			return ck
		}},
	} {
		eo := envelope.EncryptOptions{Keyring: c.kr(), Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: ec}
		b.Run("encrypt/"+c.name, func(b *testing.B) {
			start := time.Now()
			for b.Loop() {
				if _, err := envelope.Encrypt(ctx, pt, eo); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
		writer, err := keycache.NewKeyring(kr, keycache.Options{MaxAge: 5 * time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		msgs := make([][]byte, 100)
		for i := range msgs {
			if msgs[i], err = envelope.Encrypt(ctx, pt, envelope.EncryptOptions{Keyring: writer, Suite: envelope.SuiteAES256GCMHKDFSHA512CommitKey, EncryptionContext: ec}); err != nil {
				b.Fatal(err)
			}
		}
		do := envelope.DecryptOptions{Keyring: c.kr(), EncryptionContext: ec}
		b.Run("decrypt/"+c.name, func(b *testing.B) {
			start, i := time.Now(), 0
			for b.Loop() {
				got, _, err := envelope.Decrypt(ctx, msgs[i%len(msgs)], do)
				if err != nil || !bytes.Equal(got, pt) {
					b.Fatal(err)
				}
				i++
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "ops/s")
		})
	}
}
