package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
)

// runEncrypt encrypts a file (or stdin) into one AWS Encryption SDK message.
func runEncrypt(ctx context.Context, e *env, sf *serviceFlags, args []string) error {
	var keys listFlag
	var ec contextFlag
	fs := newFlagSet(e, sf, "encrypt", "--key KEY [--key KEY...] [--context k=v...] [-o OUT] [IN|-]")
	fs.Var(&keys, "key", "`key` that wraps the data key (repeatable; the first generates it)")
	fs.Var(&ec, "context", "encryption context pair `k=v` (repeatable)")
	frame := fs.Int("frame-length", envelope.DefaultFrameLength, "plaintext `bytes` per frame")
	suiteFlag := fs.String("suite", "", "algorithm `suite`: 0x0478, 0x0578 (default), committing, committing-signed; non-committing IDs write format v1")
	out := fs.String("o", "", "write the message to `file` (default stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if len(keys) == 0 {
		return usagef("at least one --key is needed")
	}
	if *frame < 1 || int64(*frame) > envelope.MaxFrameLength {
		return usagef("--frame-length must be 1 to %d", int64(envelope.MaxFrameLength))
	}
	suite, err := parseSuite(*suiteFlag)
	if err != nil {
		return usagef("%v", describe(err))
	}
	in, closeIn, err := openInput(e, fs.Args())
	if err != nil {
		return err
	}
	defer closeIn()
	svc, err := openServices(ctx, sf)
	if err != nil {
		return err
	}
	defer svc.Close()
	kr, err := keyring.NewStrict(&svc.router, nil, keys...)
	if err != nil {
		return err
	}
	policy := policyFor(suite)
	if policy != envelope.RequireEncryptRequireDecrypt {
		fmt.Fprintf(e.stderr, "keyport encrypt: warning: suite %#04x does not commit to its key (message format v1)\n", uint16(suite))
	}
	return writeOutput(e, *out, func(w io.Writer) error {
		enc, err := envelope.NewEncrypter(ctx, w, envelope.EncryptOptions{
			Keyring:           kr,
			EncryptionContext: ec.value(),
			Suite:             suite,
			FrameLength:       *frame,
			CommitmentPolicy:  policy,
		})
		if err != nil {
			return err
		}
		if _, err := io.Copy(enc, in); err != nil {
			_ = enc.Close()
			return err
		}
		return enc.Close()
	})
}

// runDecrypt decrypts one message. Plaintext is released only as the
// streaming decryptor authenticates it; with -o the file appears only once the
// whole message has been authenticated.
func runDecrypt(ctx context.Context, e *env, sf *serviceFlags, args []string) error {
	var keys listFlag
	var ec contextFlag
	fs := newFlagSet(e, sf, "decrypt", "[--key KEY...] [--context k=v...] [-o OUT] [IN|-]")
	fs.Var(&keys, "key", "only these `key`s may unwrap the data key (repeatable; default: any key the services reach, as named in the message)")
	fs.Var(&ec, "context", "expected encryption context pair `k=v` (repeatable; required pairs must be given)")
	allowV1 := fs.Bool("allow-non-committing", false, "also read messages of suites without key commitment")
	out := fs.String("o", "", "write the plaintext to `file` (default stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	in, closeIn, err := openInput(e, fs.Args())
	if err != nil {
		return err
	}
	defer closeIn()
	svc, err := openServices(ctx, sf)
	if err != nil {
		return err
	}
	defer svc.Close()
	kr, err := decryptKeyring(&svc.router, keys)
	if err != nil {
		return err
	}
	policy := envelope.RequireEncryptRequireDecrypt
	if *allowV1 {
		policy = envelope.RequireEncryptAllowDecrypt
	}
	return writeOutput(e, *out, func(w io.Writer) error {
		d, err := envelope.NewDecrypter(ctx, in, envelope.DecryptOptions{
			Keyring:           kr,
			EncryptionContext: ec.value(),
			CommitmentPolicy:  policy,
		})
		if err != nil {
			return err
		}
		defer d.Close()
		_, err = io.Copy(w, d)
		return err
	})
}

// decryptKeyring is a strict keyring over keys, or a discovery keyring over
// every service the Front reaches when keys is empty.
func decryptKeyring(r *backends.Front, keys []string) (envelope.Keyring, error) {
	if len(keys) > 0 {
		return keyring.NewStrict(r, nil, keys...)
	}
	return keyring.NewDiscovery(r, nil)
}

// openInput opens the one positional argument, or stdin for none or "-".
func openInput(e *env, args []string) (io.Reader, func(), error) {
	switch {
	case len(args) > 1:
		return nil, nil, usagef("one input file at most, got %d", len(args))
	case len(args) == 0 || args[0] == "-":
		return bufio.NewReaderSize(e.stdin, 64<<10), func() {}, nil
	}
	f, err := os.Open(args[0])
	if err != nil {
		return nil, nil, err
	}
	return bufio.NewReaderSize(f, 64<<10), func() { f.Close() }, nil
}

// writeOutput runs produce on stdout, or on a temporary file beside path that
// is renamed to path only when produce succeeds (and removed otherwise), so
// that a failed command leaves no partial output file.
func writeOutput(e *env, path string, produce func(io.Writer) error) error {
	if path == "" || path == "-" {
		bw := bufio.NewWriterSize(e.stdout, 64<<10)
		if err := produce(bw); err != nil {
			_ = bw.Flush() // authenticated output already produced is the caller's
			return err
		}
		return bw.Flush()
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+tmpMarker+"*")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 64<<10)
	if err := produce(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	done = true
	return syncDir(dir)
}
