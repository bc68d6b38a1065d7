package envelope_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
)

func Example() {
	ctx := context.Background()
	wrappingKey := bytes.Repeat([]byte{0x42}, 32) // in practice: from your key store
	kr, err := keyring.NewRawAES("my-namespace", "my-key", wrappingKey)
	if err != nil {
		log.Fatal(err)
	}
	msg, err := envelope.Encrypt(ctx, []byte("hello, envelope"), envelope.EncryptOptions{
		Keyring:           kr,
		EncryptionContext: map[string]string{"purpose": "example", "tenant": "t-1"},
		// "tenant" is authenticated but not stored: the reader supplies it.
		RequiredEncryptionContextKeys: []string{"tenant"},
	})
	if err != nil {
		log.Fatal(err)
	}
	pt, res, err := envelope.Decrypt(ctx, msg, envelope.DecryptOptions{
		Keyring:           kr,
		EncryptionContext: map[string]string{"tenant": "t-1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s (suite %04X, purpose %s)\n", pt, uint16(res.Suite), res.EncryptionContext["purpose"])
	// Output: hello, envelope (suite 0578, purpose example)
}

func ExampleNewEncrypter() {
	ctx := context.Background()
	kr, err := keyring.NewRawAES("my-namespace", "my-key", bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		log.Fatal(err)
	}
	var msg bytes.Buffer
	enc, err := envelope.NewEncrypter(ctx, &msg, envelope.EncryptOptions{
		Keyring:     kr,
		Suite:       envelope.SuiteAES256GCMHKDFSHA512CommitKey,
		FrameLength: 64 << 10,
		Workers:     envelope.AllCores,
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.Copy(enc, bytes.NewReader(make([]byte, 1<<20))); err != nil {
		log.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		log.Fatal(err)
	}
	dec, err := envelope.NewDecrypter(ctx, &msg, envelope.DecryptOptions{Keyring: kr, Workers: envelope.AllCores})
	if err != nil {
		log.Fatal(err)
	}
	defer dec.Close()
	n, err := io.Copy(io.Discard, dec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "bytes")
	// Output: 1048576 bytes
}

// Stream a message under a key of a key service: the data key is wrapped by the
// service (here the embedded one), the body never leaves this process, and the
// decrypting reader releases each frame only once it is authenticated.
func ExampleNewDecrypter() {
	ctx := context.Background()
	app := local.New().Client(local.Identity{Account: "111122223333"})
	key, err := app.CreateKey(ctx, &local.CreateKeyInput{Description: "reports"})
	if err != nil {
		log.Fatal(err)
	}
	kr, err := keyring.NewBackend(backends.NewFront(app), key.KeyMetadata.Arn, nil)
	if err != nil {
		log.Fatal(err)
	}
	ec := map[string]string{"report": "2026-q4"}
	var msg bytes.Buffer
	enc, err := envelope.NewEncrypter(ctx, &msg, envelope.EncryptOptions{Keyring: kr, EncryptionContext: ec})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.WriteString(enc, "quarterly numbers, streamed"); err != nil {
		log.Fatal(err)
	}
	if err := enc.Close(); err != nil {
		log.Fatal(err)
	}

	dec, err := envelope.NewDecrypter(ctx, &msg, envelope.DecryptOptions{Keyring: kr})
	if err != nil {
		log.Fatal(err)
	}
	defer dec.Close()
	var out bytes.Buffer
	if _, err := io.Copy(&out, dec); err != nil {
		log.Fatal(err)
	}
	fmt.Println(out.String(), dec.Result().EncryptionContext["report"])
	// Output: quarterly numbers, streamed 2026-q4
}

// A server that decrypts one small message after another reuses its plaintext
// buffer and its Result: a decryption then allocates nothing for either (for an
// unsigned suite, only the cipher's key schedule is new).
func ExampleAppendDecryptInto() {
	ctx := context.Background()
	kr, err := keyring.NewRawAES("my-namespace", "my-key", bytes.Repeat([]byte{0x42}, 32))
	if err != nil {
		log.Fatal(err)
	}
	var msgs [][]byte
	for _, s := range []string{"first", "second", "third"} {
		msg, err := envelope.Encrypt(ctx, []byte(s), envelope.EncryptOptions{Keyring: kr, EncryptionContext: map[string]string{"n": s}})
		if err != nil {
			log.Fatal(err)
		}
		msgs = append(msgs, msg)
	}
	var (
		buf []byte
		res envelope.Result // overwritten by each call: copy what must outlive it
	)
	for _, msg := range msgs {
		buf, err = envelope.AppendDecryptInto(ctx, buf[:0], msg, envelope.DecryptOptions{Keyring: kr}, &res)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s (n=%s)\n", buf, res.EncryptionContext["n"])
	}
	// Output:
	// first (n=first)
	// second (n=second)
	// third (n=third)
}
