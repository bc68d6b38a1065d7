package cli

import (
	"bytes"
	"encoding/hex"
	"io"

	"github.com/spf13/cobra"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/cmd/keyport/internal/holdback"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/keyring"
)

// publicKeyPair is the encryption context key of a signed suite's
// verification key: its presence in a header means the message is signed.
const publicKeyPair = envelope.ReservedPrefix + "public-key"

// holdLimit is how much plaintext decrypt holds in memory, waiting for a
// signature, before spilling to a sealed temporary file.
const holdLimit = 32 << 20

// messageSummary is the JSON result of encrypt and decrypt (with -o).
type messageSummary struct {
	Output            string            `json:"Output"`
	MessageId         string            `json:"MessageId"`
	AlgorithmSuite    string            `json:"AlgorithmSuite"`
	FrameLength       int               `json:"FrameLength,omitempty"`
	EncryptionContext map[string]string `json:"EncryptionContext"`
	EncryptedDataKeys []edkSummary      `json:"EncryptedDataKeys"`
	PlaintextBytes    int64             `json:"PlaintextBytes"`
	MessageBytes      int64             `json:"MessageBytes"`
}

type edkSummary struct {
	ProviderId string `json:"ProviderId"`
	KeyId      string `json:"KeyId"`
}

func summarize(h *envelope.Header, out string, pt, msg int64) *messageSummary {
	s := &messageSummary{
		Output:            out,
		MessageId:         hex.EncodeToString(h.MessageID),
		AlgorithmSuite:    suiteName(h.Suite),
		FrameLength:       h.FrameLength,
		EncryptionContext: map[string]string{},
		PlaintextBytes:    pt,
		MessageBytes:      msg,
	}
	for k, v := range h.EncryptionContext {
		if k != publicKeyPair {
			s.EncryptionContext[k] = v
		}
	}
	for _, k := range h.EncryptedDataKeys {
		s.EncryptedDataKeys = append(s.EncryptedDataKeys, edkSummary{k.ProviderID, string(k.ProviderInfo)})
	}
	return s
}

func (s *messageSummary) text(w *textWriter) {
	w.line("%s: %d bytes, suite %s, message ID %s", s.Output, s.MessageBytes, s.AlgorithmSuite, s.MessageId)
}

// counter counts bytes passing through.
type counter struct {
	n int64
}

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// headCapture keeps the first bytes written, for the header of a message
// being written.
type headCapture struct {
	buf []byte
	max int
}

func (h *headCapture) Write(p []byte) (int, error) {
	if room := h.max - len(h.buf); room > 0 {
		h.buf = append(h.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func newEncryptCmd(a *app) *cobra.Command {
	var keys []string
	var ec contextFlag
	var out outFlags
	var frame int
	var suiteFlag string
	c := &cobra.Command{
		Use:   "encrypt [flags] [FILE|-]",
		Short: "Encrypt a file or stdin into an AWS Encryption SDK message",
		Long: `Encrypt reads FILE (or stdin) and writes one AWS Encryption SDK message (format
v2, committing suite 0x0578 by default) whose data key is wrapped by every --key.
The message opens with any AWS Encryption SDK, given one of the keys.

The message goes to -o FILE (written whole or not at all) or to stdout, never to
a terminal unless --force. With --output json and -o, a summary of the message
(ID, suite, wrapping keys, encryption context) is printed.`,
		Example: `  keyport encrypt --key alias/orders --context tenant=acme -o report.enc report.pdf
  keyport encrypt --key alias/orders --key vault://transit/backup < data.csv > data.csv.enc
  keyport encrypt --key arn:aws:kms:eu-west-1:111122223333:alias/orders --suite 0x0478 -o x.enc x`,
		Args: cobra.MaximumNArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			if len(keys) == 0 {
				return usagef("at least one --key is needed")
			}
			if frame < 1 || int64(frame) > envelope.MaxFrameLength {
				return usagef("--frame-length must be 1 to %d", int64(envelope.MaxFrameLength))
			}
			suite, err := parseSuite(suiteFlag)
			if err != nil {
				return &usageError{err}
			}
			if a.json() && (out.path == "" || out.path == "-") {
				return usagef("--output json prints a summary, so the message needs -o FILE")
			}
			in, closeIn, err := a.openInput(args)
			if err != nil {
				return err
			}
			defer closeIn()
			svc, err := a.openServices(cmd.Context(), openOptions{readOnly: true, keys: keys})
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
				a.logger().Warn("suite " + suiteName(suite) + " does not commit to its key (message format v1)")
			}
			w, err := a.openOutput(&out, true)
			if err != nil {
				return err
			}
			defer w.Discard()
			head := &headCapture{max: 1 << 20}
			size := &counter{}
			enc, err := envelope.NewEncrypter(cmd.Context(), io.MultiWriter(w, head, size), envelope.EncryptOptions{
				Keyring:           kr,
				EncryptionContext: ec.value(),
				Suite:             suite,
				FrameLength:       frame,
				CommitmentPolicy:  policy,
				Workers:           envelope.AllCores, // frames sealed on every core
			})
			if err != nil {
				return err
			}
			n, err := io.Copy(enc, in)
			if cerr := enc.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
			if err := w.Commit(); err != nil {
				return err
			}
			if !a.json() {
				return nil
			}
			h, err := envelope.ParseHeader(bytes.NewReader(head.buf), 0)
			if err != nil {
				return err
			}
			s := summarize(h, out.path, n, size.n)
			return a.print(s, s.text)
		}),
	}
	f := c.Flags()
	f.SetNormalizeFunc(normalize)
	f.StringArrayVar(&keys, "key", nil, "`key` that wraps the data key (repeatable; the first generates it)")
	f.Var(&ec, "context", "encryption context pair `k=v` (repeatable; or a JSON object)")
	f.IntVar(&frame, "frame-length", envelope.DefaultFrameLength, "plaintext `bytes` per frame")
	f.StringVar(&suiteFlag, "suite", "", "algorithm `suite`: 0x0478, 0x0578 (default), committing, committing-signed; non-committing IDs write format v1")
	_ = c.RegisterFlagCompletionFunc("suite", fixedCompletion("0x0478", "0x0578", "committing", "committing-signed"))
	out.register(c, "the message")
	return c
}

func newDecryptCmd(a *app) *cobra.Command {
	var keys []string
	var ec contextFlag
	var out outFlags
	var allowV1, unverified bool
	c := &cobra.Command{
		Use:   "decrypt [flags] [FILE|-]",
		Short: "Decrypt an AWS Encryption SDK message",
		Long: `Decrypt reads one AWS Encryption SDK message from FILE (or stdin) and writes its
plaintext. Any key the configured services reach may unwrap the data key, as the
message names it; --key limits that to the keys given.

Nothing unauthenticated is ever released. With -o FILE the file appears only once
the whole message is authenticated. On a stream (stdout, a FIFO, a device) the
plaintext of a signed message (suite 0x0578, the default) is held back until its
signature, at the very end, has verified: in memory up to 32 MiB, then in a
temporary file sealed under a key that exists only in this process. Give
--stream-unverified to release each frame as it authenticates instead (as the
ESDK CLI does without --buffer): a truncated or re-signed message then fails only
after part of its plaintext has been written.`,
		Example: `  keyport decrypt --context tenant=acme -o report.pdf report.enc
  keyport decrypt --key alias/orders < data.csv.enc | wc -l
  keyport decrypt --stream-unverified big.enc | consumer-that-can-roll-back`,
		Args: cobra.MaximumNArgs(1),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			if a.json() && (out.path == "" || out.path == "-") {
				return usagef("--output json prints a summary, so the plaintext needs -o FILE")
			}
			in, closeIn, err := a.openInput(args)
			if err != nil {
				return err
			}
			defer closeIn()
			svc, err := a.openServices(cmd.Context(), openOptions{readOnly: true, keys: keys})
			if err != nil {
				return err
			}
			defer svc.Close()
			kr, err := decryptKeyring(&svc.router, keys)
			if err != nil {
				return err
			}
			policy := envelope.RequireEncryptRequireDecrypt
			if allowV1 {
				policy = envelope.RequireEncryptAllowDecrypt
			}
			w, err := a.openOutput(&out, false)
			if err != nil {
				return err
			}
			defer w.Discard()
			// The message's size for the summary: a regular file's rest (a
			// message decrypts only if it ends where the input ends), else
			// counted as read, which hides the file's io.ReaderAt.
			size := &counter{}
			src := in
			if n, ok := remaining(in); ok {
				size.n = n
			} else {
				src = io.TeeReader(in, size)
			}
			d, err := envelope.NewDecrypter(cmd.Context(), src, envelope.DecryptOptions{
				Keyring:           kr,
				EncryptionContext: ec.value(),
				CommitmentPolicy:  policy,
				Workers:           envelope.AllCores, // frames opened on every core
			})
			if err != nil {
				return err
			}
			defer d.Close()
			res := d.Result()
			_, signed := res.Header.EncryptionContext[publicKeyPair]
			var n int64
			if signed && w.stream && !w.null && !unverified {
				hold := holdback.New(holdLimit, "")
				defer hold.Close()
				if _, err := io.Copy(hold, d); err != nil {
					return err
				}
				n, err = hold.WriteTo(w)
			} else {
				n, err = io.Copy(w, d)
			}
			if err != nil {
				return err
			}
			if err := w.Commit(); err != nil {
				return err
			}
			if !a.json() {
				return nil
			}
			s := summarize(res.Header, out.path, n, size.n)
			s.EncryptionContext = res.EncryptionContext
			delete(s.EncryptionContext, publicKeyPair)
			return a.print(s, s.text)
		}),
	}
	f := c.Flags()
	f.SetNormalizeFunc(normalize)
	f.StringArrayVar(&keys, "key", nil, "only these `key`s may unwrap the data key (repeatable; default: any key the services reach, as the message names it)")
	f.Var(&ec, "context", "expected encryption context pair `k=v` (repeatable; required pairs must be given)")
	f.BoolVar(&allowV1, "allow-non-committing", false, "also read messages of suites without key commitment")
	f.BoolVar(&unverified, "stream-unverified", false, "release plaintext of signed messages before the signature verifies")
	out.register(c, "the plaintext")
	return c
}

// decryptKeyring is a strict keyring over keys, or a discovery keyring over
// every service the Front reaches when keys is empty.
func decryptKeyring(r *backends.Front, keys []string) (envelope.Keyring, error) {
	if len(keys) > 0 {
		return keyring.NewStrict(r, nil, keys...)
	}
	return keyring.NewDiscovery(r, nil)
}
