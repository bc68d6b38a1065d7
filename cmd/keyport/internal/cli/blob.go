package cli

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"

	"github.com/spf13/cobra"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/reencrypt"
)

// blobFlags are the flags the raw-blob commands share.
type blobFlags struct {
	ec     contextFlag
	alg    string
	grants []string
	dryRun bool
	query  string
}

func (b *blobFlags) register(c *cobra.Command, withContext bool) {
	f := c.Flags()
	f.SetNormalizeFunc(normalize)
	if withContext {
		f.Var(&b.ec, "context", "encryption context pair `k=v` (repeatable; or a JSON object)")
	}
	f.StringArrayVar(&b.grants, "grant-token", nil, "grant `token` (repeatable)")
	f.BoolVar(&b.dryRun, "dry-run", false, "check permissions and inputs; change and return nothing")
	f.StringVar(&b.query, "query", "", "print only this `field` (text output), as --query Field does in the AWS CLI")
}

// dryRunResult is printed when a dry run would have succeeded.
type dryRunResult struct {
	DryRun string `json:"DryRun"`
}

// dryRunDone turns the DryRunOperation answer of a successful dry run into
// success.
func (a *app) dryRunDone(err error) (bool, error) {
	if !errors.Is(err, backends.ErrDryRunOperation) {
		return false, err
	}
	return true, a.print(dryRunResult{DryRun: "the request would have succeeded (DryRunOperationException)"}, func(w *textWriter) {
		w.line("DryRunOperationException: the request would have succeeded")
	})
}

func b64(b []byte) string {
	if b == nil {
		return ""
	}
	return base64.StdEncoding.EncodeToString(b)
}

// encryptBlobResult is aws kms encrypt's output.
type encryptBlobResult struct {
	CiphertextBlob      string             `json:"CiphertextBlob"`
	KeyId               string             `json:"KeyId"`
	EncryptionAlgorithm backends.Algorithm `json:"EncryptionAlgorithm"`
}

func newEncryptBlobCmd(a *app) *cobra.Command {
	var bf blobFlags
	var key, plaintext string
	c := &cobra.Command{
		Use:   "encrypt-blob --key KEY --plaintext fileb://FILE [flags]",
		Short: "Encrypt up to 4 KiB under a key into a KMS ciphertext blob (aws kms encrypt)",
		Long: `Encrypt-blob encrypts a small plaintext (a data key, a password: 1 to 4096 bytes)
under one key and prints the service's ciphertext blob in base64 with the key's
canonical ID, as "aws kms encrypt" does, with the same field names. --plaintext
takes fileb://FILE (raw bytes; fileb://- for stdin), file://FILE (base64 text)
or base64 text, as the AWS CLI v2 does.`,
		Example: `  keyport encrypt-blob --key alias/orders --plaintext fileb://datakey.bin --output json
  keyport encrypt-blob --key alias/orders --plaintext fileb://datakey.bin --query CiphertextBlob | base64 -d > datakey.blob
  aws kms encrypt --key-id alias/orders --plaintext fileb://datakey.bin     # the same, against AWS`,
		Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			if key == "" || plaintext == "" {
				return usagef("--key and --plaintext are required")
			}
			pt, err := a.readBinaryArg("plaintext", plaintext)
			if err != nil {
				return err
			}
			defer clear(pt)
			svc, err := a.openServices(cmd.Context(), openOptions{readOnly: true, keys: []string{key}})
			if err != nil {
				return err
			}
			defer svc.Close()
			out, err := svc.router.Encrypt(cmd.Context(), &backends.EncryptInput{
				KeyID: key, Plaintext: pt, EncryptionContext: bf.ec.value(), GrantTokens: bf.grants,
				EncryptionAlgorithm: backends.Algorithm(bf.alg), DryRun: bf.dryRun,
			})
			if done, err := a.dryRunDone(err); done || err != nil {
				return err
			}
			return a.printAWS(encryptBlobResult{b64(out.CiphertextBlob), out.KeyID, out.EncryptionAlgorithm.OrDefault()}, bf.query)
		}),
	}
	bf.register(c, true)
	f := c.Flags()
	f.StringVar(&key, "key", "", "`key` to encrypt under (alias: --key-id)")
	f.StringVar(&plaintext, "plaintext", "", "the plaintext: fileb://`FILE`, file://FILE (base64) or base64")
	f.StringVar(&bf.alg, "algorithm", "", "encryption `algorithm` (default SYMMETRIC_DEFAULT; alias --encryption-algorithm)")
	return c
}

// decryptBlobResult is aws kms decrypt's output.
type decryptBlobResult struct {
	KeyId               string             `json:"KeyId"`
	Plaintext           string             `json:"Plaintext"`
	EncryptionAlgorithm backends.Algorithm `json:"EncryptionAlgorithm"`
}

func newDecryptBlobCmd(a *app) *cobra.Command {
	var bf blobFlags
	var key, blob string
	c := &cobra.Command{
		Use:   "decrypt-blob --ciphertext-blob fileb://FILE [flags]",
		Short: "Decrypt a KMS ciphertext blob (aws kms decrypt)",
		Long: `Decrypt-blob decrypts one ciphertext blob and prints the plaintext in base64 with
the canonical ID of the key that decrypted it, as "aws kms decrypt" does. --key
names the key that must have encrypted the blob; services whose blobs name their
key (AWS KMS, the embedded store) do not need it. --ciphertext-blob takes
fileb://FILE, file://FILE (base64 text) or base64 text.`,
		Example: `  keyport decrypt-blob --ciphertext-blob fileb://datakey.blob --output json
  keyport decrypt-blob --ciphertext-blob fileb://datakey.blob --query Plaintext | base64 -d > datakey.bin
  keyport decrypt-blob --key vault://transit/orders --ciphertext-blob fileb://v.blob --context app=x`,
		Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			if blob == "" {
				return usagef("--ciphertext-blob is required")
			}
			ct, err := a.readBinaryArg("ciphertext-blob", blob)
			if err != nil {
				return err
			}
			svc, err := a.openServices(cmd.Context(), openOptions{readOnly: true, keys: []string{key}})
			if err != nil {
				return err
			}
			defer svc.Close()
			out, err := svc.router.Decrypt(cmd.Context(), &backends.DecryptInput{
				KeyID: key, CiphertextBlob: ct, EncryptionContext: bf.ec.value(), GrantTokens: bf.grants,
				EncryptionAlgorithm: backends.Algorithm(bf.alg), DryRun: bf.dryRun,
			})
			if done, err := a.dryRunDone(err); done || err != nil {
				return err
			}
			defer clear(out.Plaintext)
			return a.printAWS(decryptBlobResult{out.KeyID, b64(out.Plaintext), out.EncryptionAlgorithm.OrDefault()}, bf.query)
		}),
	}
	bf.register(c, true)
	f := c.Flags()
	f.StringVar(&key, "key", "", "`key` that must have encrypted the blob (alias: --key-id)")
	f.StringVar(&blob, "ciphertext-blob", "", "the blob: fileb://`FILE`, file://FILE (base64) or base64")
	f.StringVar(&bf.alg, "algorithm", "", "encryption `algorithm` (default SYMMETRIC_DEFAULT; alias --encryption-algorithm)")
	return c
}

// dataKeyResult is aws kms generate-data-key's output (Plaintext empty for
// generate-data-key-without-plaintext).
type dataKeyResult struct {
	CiphertextBlob string `json:"CiphertextBlob"`
	Plaintext      string `json:"Plaintext,omitempty"`
	KeyId          string `json:"KeyId"`
}

func newGenerateDataKeyCmd(a *app) *cobra.Command {
	var bf blobFlags
	var key, spec string
	var nbytes int
	var without bool
	c := &cobra.Command{
		Use:   "generate-data-key --key KEY [flags]",
		Short: "Make a data key and its ciphertext blob (aws kms generate-data-key)",
		Long: `Generate-data-key makes a random data key and encrypts it under --key, printing
both in base64 with the key's canonical ID, as "aws kms generate-data-key" does
(--without-plaintext: the blob only, as generate-data-key-without-plaintext).
Where the service cannot make data keys itself, keyport draws the key from the
system's random source and encrypts it with the service.`,
		Example: `  keyport generate-data-key --key alias/orders --output json
  keyport generate-data-key --key alias/orders --without-plaintext --query CiphertextBlob | base64 -d > dk.blob
  keyport re-encrypt --ciphertext-blob fileb://dk.blob --to alias/archive    # then move it to another key`,
		Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			if key == "" {
				return usagef("--key is required")
			}
			switch spec {
			case "":
			case "AES_256":
				if nbytes != 0 {
					return usagef("give --key-spec or --number-of-bytes, not both")
				}
				nbytes = 32
			case "AES_128":
				if nbytes != 0 {
					return usagef("give --key-spec or --number-of-bytes, not both")
				}
				nbytes = 16
			default:
				return usagef("--key-spec must be AES_256 or AES_128")
			}
			svc, err := a.openServices(cmd.Context(), openOptions{readOnly: true, keys: []string{key}})
			if err != nil {
				return err
			}
			defer svc.Close()
			in := &backends.GenerateDataKeyInput{KeyID: key, NumberOfBytes: nbytes, EncryptionContext: bf.ec.value(), GrantTokens: bf.grants, DryRun: bf.dryRun}
			gen := svc.router.GenerateDataKey // the Front falls back to a random key and Encrypt
			if without {
				gen = svc.router.GenerateDataKeyWithoutPlaintext
			}
			out, err := gen(cmd.Context(), in)
			if done, err := a.dryRunDone(err); done || err != nil {
				return err
			}
			defer clear(out.Plaintext)
			return a.printAWS(dataKeyResult{b64(out.CiphertextBlob), b64(out.Plaintext), out.KeyID}, bf.query)
		}),
	}
	bf.register(c, true)
	f := c.Flags()
	f.StringVar(&key, "key", "", "`key` to encrypt the data key under (alias: --key-id)")
	f.StringVar(&spec, "key-spec", "", "data key `spec`: AES_256 (default) or AES_128")
	f.IntVar(&nbytes, "number-of-bytes", 0, "data key length in `bytes` (1 to 1024; default 32)")
	f.BoolVar(&without, "without-plaintext", false, "return only the encrypted data key")
	_ = c.RegisterFlagCompletionFunc("key-spec", fixedCompletion("AES_256", "AES_128"))
	return c
}

// reEncryptResult is aws kms re-encrypt's output, and whether the service did
// it natively (keyport's addition).
type reEncryptResult struct {
	CiphertextBlob                 string             `json:"CiphertextBlob,omitempty"`
	SourceKeyId                    string             `json:"SourceKeyId"`
	KeyId                          string             `json:"KeyId"`
	SourceEncryptionAlgorithm      backends.Algorithm `json:"SourceEncryptionAlgorithm"`
	DestinationEncryptionAlgorithm backends.Algorithm `json:"DestinationEncryptionAlgorithm"`
	Native                         bool               `json:"Native"`
}

func newReEncryptCmd(a *app) *cobra.Command {
	var bf blobFlags
	var newEC contextFlag
	var from, to, blob, fromAlg, toAlg, inFormat, outFormat string
	var out outFlags
	c := &cobra.Command{
		Use:   "re-encrypt --to KEY [flags] [--ciphertext-blob fileb://FILE | FILE | -]",
		Short: "Re-encrypt a KMS ciphertext blob under another key (aws kms re-encrypt)",
		Long: `Re-encrypt moves one ciphertext blob to another key, account or key service with
the semantics of AWS KMS ReEncrypt: natively where the service can (the plaintext
never leaves it), else by decrypting at the source and encrypting at the
destination (which needs Decrypt permission at the source). The flags take the
AWS CLI's names too: --source-key-id (--from), --destination-key-id (--to),
--source-encryption-context (--context), --destination-encryption-context
(--new-context; default empty, as in AWS KMS).

The blob comes from --ciphertext-blob (fileb://FILE, file://FILE, base64) or from
FILE or stdin (--in-format auto: base64 if it decodes, else raw). The result is
printed as "aws kms re-encrypt" prints it; with -o FILE the new blob goes to the
file (--out-format base64 or raw) before anything is printed, and the printed
result leaves it out.`,
		Example: `  keyport re-encrypt --ciphertext-blob fileb://dk.blob --to alias/archive --output json
  keyport re-encrypt --from alias/orders --context k=v --to arn:aws:kms:us-east-1:444455556666:alias/shared --new-context k=v -o new.blob --out-format raw dk.blob
  keyport re-encrypt --ciphertext-blob fileb://dk.blob --to vault://transit/archive --dry-run`,
		Args: cobra.MaximumNArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			if to == "" {
				return usagef("--to (--destination-key-id) is required")
			}
			if outFormat != "base64" && outFormat != "raw" {
				return usagef("--out-format must be base64 or raw")
			}
			var ct []byte
			var err error
			if blob != "" {
				if len(args) > 0 {
					return usagef("give the blob by --ciphertext-blob or as FILE, not both")
				}
				ct, err = a.readBinaryArg("ciphertext-blob", blob)
			} else {
				var in io.Reader
				var closeIn func()
				in, closeIn, err = a.openInput(args)
				if err != nil {
					return err
				}
				ct, err = readBlob(in, inFormat)
				closeIn()
			}
			if err != nil {
				return err
			}
			var w *output
			if out.path != "" {
				if w, err = a.openOutput(&out, outFormat == "raw"); err != nil {
					return err
				}
				defer w.Discard()
			}
			svc, err := a.openServices(cmd.Context(), openOptions{keys: []string{from, to}})
			if err != nil {
				return err
			}
			defer svc.Close()
			res, err := reencrypt.New(&svc.router).ReEncrypt(cmd.Context(), &backends.ReEncryptInput{
				CiphertextBlob:                 ct,
				SourceEncryptionContext:        bf.ec.value(),
				SourceKeyID:                    from,
				SourceEncryptionAlgorithm:      backends.Algorithm(fromAlg),
				DestinationKeyID:               to,
				DestinationEncryptionContext:   newEC.value(),
				DestinationEncryptionAlgorithm: backends.Algorithm(toAlg),
				GrantTokens:                    bf.grants,
				DryRun:                         bf.dryRun,
			})
			if done, err := a.dryRunDone(err); done || err != nil {
				return err
			}
			r := reEncryptResult{b64(res.CiphertextBlob), res.SourceKeyID, res.KeyID, res.SourceEncryptionAlgorithm.OrDefault(), res.DestinationEncryptionAlgorithm.OrDefault(), res.Native}
			if w != nil {
				// The blob is written (and the file published) before success is reported.
				if outFormat == "raw" {
					_, err = w.Write(res.CiphertextBlob)
				} else {
					_, err = io.WriteString(w, r.CiphertextBlob+"\n")
				}
				if err == nil {
					err = w.Commit()
				}
				if err != nil {
					return err
				}
				r.CiphertextBlob = ""
			}
			return a.printAWS(r, bf.query)
		}),
	}
	bf.register(c, true)
	f := c.Flags()
	f.StringVar(&blob, "ciphertext-blob", "", "the blob: fileb://`FILE`, file://FILE (base64) or base64 (default: FILE or stdin)")
	f.StringVar(&from, "from", "", "`key` that encrypted the blob (optional where the blob names its key; alias --source-key-id)")
	f.StringVar(&to, "to", "", "`key` to re-encrypt under (required; alias --destination-key-id)")
	f.Var(&newEC, "new-context", "destination encryption context pair `k=v` (repeatable; default empty, as in AWS KMS)")
	f.StringVar(&fromAlg, "from-algorithm", "", "source `algorithm` (default SYMMETRIC_DEFAULT)")
	f.StringVar(&toAlg, "to-algorithm", "", "destination `algorithm` (default SYMMETRIC_DEFAULT)")
	f.StringVar(&inFormat, "in-format", "auto", "`format` of FILE or stdin: auto (base64 if it decodes, else raw), base64 or raw")
	f.StringVar(&outFormat, "out-format", "base64", "`format` of the -o file: base64 or raw")
	out.register(c, "the new blob")
	return c
}

// readBlob reads one ciphertext blob in the given format.
func readBlob(r io.Reader, format string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxBlobInput+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBlobInput {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "ReEncrypt", "", "ciphertext blob larger than %d bytes", maxBlobInput)
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
