package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/reencrypt"
)

// maxBlob bounds a ciphertext blob read by re-encrypt (AWS KMS blobs are at
// most about 6 KiB; the base64 form is larger).
const maxBlob = 64 << 10

// runReEncrypt re-encrypts one KMS ciphertext blob with the flags of AWS KMS
// ReEncrypt, through a reencrypt.Engine. The new blob goes to stdout (or -o);
// the other ReEncryptOutput fields go to stderr.
func runReEncrypt(ctx context.Context, e *env, sf *serviceFlags, args []string) error {
	var srcEC, dstEC contextFlag
	var grants listFlag
	fs := newFlagSet(e, sf, "re-encrypt", "--destination-key-id KEY [flags] [BLOB-FILE|-]")
	srcKey := fs.String("source-key-id", "", "`key` that encrypted the blob (optional where the blob names its key)")
	dstKey := fs.String("destination-key-id", "", "`key` to re-encrypt under (required)")
	fs.Var(&srcEC, "source-encryption-context", "source encryption context pair `k=v` (repeatable)")
	fs.Var(&dstEC, "destination-encryption-context", "destination encryption context pair `k=v` (repeatable; default empty, as in AWS KMS)")
	srcAlg := fs.String("source-encryption-algorithm", "", "source `algorithm` (default SYMMETRIC_DEFAULT)")
	dstAlg := fs.String("destination-encryption-algorithm", "", "destination `algorithm` (default SYMMETRIC_DEFAULT)")
	fs.Var(&grants, "grant-tokens", "grant `token` (repeatable)")
	dryRun := fs.Bool("dry-run", false, "check permissions and inputs; re-encrypt nothing")
	inFormat := fs.String("in-format", "auto", "input `format`: auto (base64 if it decodes, else raw), base64 or raw")
	outFormat := fs.String("out-format", "base64", "output `format`: base64 or raw")
	out := fs.String("o", "", "write the new blob to `file` (default stdout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *dstKey == "" {
		return usagef("--destination-key-id is required")
	}
	if *outFormat != "base64" && *outFormat != "raw" {
		return usagef("--out-format must be base64 or raw")
	}
	in, closeIn, err := openInput(e, fs.Args())
	if err != nil {
		return err
	}
	defer closeIn()
	blob, err := readBlob(in, *inFormat)
	if err != nil {
		return err
	}
	svc, err := openServices(ctx, sf)
	if err != nil {
		return err
	}
	defer svc.Close()
	res, err := reencrypt.New(&svc.router).ReEncrypt(ctx, &backends.ReEncryptInput{
		CiphertextBlob:                 blob,
		SourceEncryptionContext:        srcEC.value(),
		SourceKeyID:                    *srcKey,
		SourceEncryptionAlgorithm:      backends.Algorithm(*srcAlg),
		DestinationKeyID:               *dstKey,
		DestinationEncryptionContext:   dstEC.value(),
		DestinationEncryptionAlgorithm: backends.Algorithm(*dstAlg),
		GrantTokens:                    grants,
		DryRun:                         *dryRun,
	})
	if *dryRun && errors.Is(err, backends.ErrDryRunOperation) {
		fmt.Fprintln(e.stderr, "DryRun: the request would have succeeded (DryRunOperationException)")
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "SourceKeyId: %s\nKeyId: %s\nSourceEncryptionAlgorithm: %s\nDestinationEncryptionAlgorithm: %s\nNative: %t\n",
		res.SourceKeyID, res.KeyID, res.SourceEncryptionAlgorithm.OrDefault(), res.DestinationEncryptionAlgorithm.OrDefault(), res.Native)
	return writeOutput(e, *out, func(w io.Writer) error {
		if *outFormat == "raw" {
			_, err := w.Write(res.CiphertextBlob)
			return err
		}
		_, err := fmt.Fprintln(w, base64.StdEncoding.EncodeToString(res.CiphertextBlob))
		return err
	})
}

// readBlob reads one ciphertext blob in the given format.
func readBlob(r io.Reader, format string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBlob+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBlob {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "ReEncrypt", "", "ciphertext blob larger than %d bytes", maxBlob)
	}
	return decodeBlob(data, format)
}

// decodeBlob turns input bytes into a blob: base64 (whitespace around it
// ignored), raw, or auto (base64 when the whole input decodes as standard
// base64, raw otherwise).
func decodeBlob(data []byte, format string) ([]byte, error) {
	switch format {
	case "raw":
	case "base64", "auto":
		b, err := base64.StdEncoding.Strict().DecodeString(string(bytes.TrimSpace(data)))
		if err == nil && len(b) > 0 {
			return b, nil
		}
		if format == "base64" {
			return nil, backends.Errorf(backends.ErrInvalidCiphertext, "ReEncrypt", "", "the input is not standard base64")
		}
	default:
		return nil, usagef("--in-format must be auto, base64 or raw")
	}
	if len(data) == 0 {
		return nil, backends.Errorf(backends.ErrInvalidCiphertext, "ReEncrypt", "", "empty ciphertext blob")
	}
	return data, nil
}
