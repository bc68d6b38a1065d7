package conformance

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/keyport/keyport/backends"
)

// Goroutines is how many goroutines the Concurrent subtest runs at once.
const Goroutines = 32

func (s *suite) testConcurrent(t T) {
	f := s.f
	ctx := context.Background()
	g, canGen := s.generator()
	r, canRe := s.reEncrypter()
	if !canRe {
		f.unless(t, DeviationPartialNativeReEncrypt) // says what is left out
	}
	d, canDesc := s.describer()
	shared := s.encrypt(t, f.KeyA, secret(32), map[string]string{"case": "concurrent"})

	var wg sync.WaitGroup
	for w := 0; w < Goroutines; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			key := f.KeyA
			if w%2 == 1 {
				key = f.KeyB
			}
			ec := map[string]string{"case": "concurrent", "worker": fmt.Sprint(w)}
			pt := secret(16 + w)
			for i := 0; i < 4; i++ {
				switch (w + i) % 5 {
				case 0: // round trip under this worker's own context
					out, err := s.kms.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: pt, EncryptionContext: ec})
					if err != nil {
						t.Errorf("worker %d: Encrypt: want success, got %s", w, describeErr(err))
						return
					}
					dec, err := s.kms.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
					if err != nil {
						t.Errorf("worker %d: Decrypt: want success, got %s", w, describeErr(err))
						return
					}
					if string(dec.Plaintext) != string(pt) {
						t.Errorf("worker %d: Decrypt: plaintext differs from what this worker encrypted", w)
					}
					clear(dec.Plaintext)
				case 1: // the shared blob, with the right and a wrong context
					dec, err := s.kms.Decrypt(ctx, &backends.DecryptInput{KeyID: f.KeyA, CiphertextBlob: shared, EncryptionContext: map[string]string{"case": "concurrent"}})
					if err != nil {
						t.Errorf("worker %d: Decrypt of the shared blob: want success, got %s", w, describeErr(err))
						return
					}
					clear(dec.Plaintext)
					_, err = s.kms.Decrypt(ctx, &backends.DecryptInput{KeyID: f.KeyA, CiphertextBlob: shared, EncryptionContext: ec})
					if !errors.Is(err, backends.ErrInvalidCiphertext) {
						t.Errorf("worker %d: Decrypt of the shared blob with a wrong context: want %s, got %s", w, backends.ErrInvalidCiphertext.Name(), describeErr(err))
					}
				case 2:
					if !canGen {
						continue
					}
					out, err := g.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: key, EncryptionContext: ec})
					if err != nil {
						t.Errorf("worker %d: GenerateDataKey: want success, got %s", w, describeErr(err))
						return
					}
					clear(out.Plaintext)
				case 3:
					if !canRe {
						continue
					}
					out, err := r.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: shared, SourceKeyID: f.KeyA,
						SourceEncryptionContext: map[string]string{"case": "concurrent"}, DestinationKeyID: key, DestinationEncryptionContext: ec})
					if err != nil {
						t.Errorf("worker %d: ReEncrypt: want success, got %s", w, describeErr(err))
						return
					}
					dec, err := s.kms.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec})
					if err != nil {
						t.Errorf("worker %d: Decrypt of the re-encrypted blob: want success, got %s", w, describeErr(err))
						return
					}
					clear(dec.Plaintext)
				case 4:
					if canDesc {
						md, err := d.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: key})
						if err != nil {
							t.Errorf("worker %d: DescribeKey: want success, got %s", w, describeErr(err))
							return
						}
						if md.Arn != key {
							t.Errorf("worker %d: DescribeKey: KeyID = %q, want %q", w, md.Arn, key)
						}
					}
					_, err := s.kms.Encrypt(ctx, &backends.EncryptInput{KeyID: f.Unknown, Plaintext: pt})
					if !errors.Is(err, backends.ErrNotFound) {
						t.Errorf("worker %d: Encrypt under the unknown key: want %s, got %s", w, backends.ErrNotFound.Name(), describeErr(err))
					}
				}
			}
		}(w)
	}
	wg.Wait()
}

func (s *suite) testCancelledContext(t T) {
	f := s.f
	blob := s.encrypt(t, f.KeyA, secret(16), nil)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		name string
		ctx  context.Context
		want error
	}{{"Cancelled", cancelled, context.Canceled}, {"DeadlinePassed", expired, context.DeadlineExceeded}} {
		t.Run(c.name, func(t T) {
			check := func(what string, gotOut bool, err error) {
				t.Helper()
				if !errors.Is(err, c.want) {
					t.Errorf("%s with a %s context: want an error matching %v, got %s", what, strings.ToLower(c.name), c.want, describeErr(err))
				}
				if gotOut {
					t.Errorf("%s with a %s context returned an output", what, strings.ToLower(c.name))
				}
			}
			eo, err := s.kms.Encrypt(c.ctx, &backends.EncryptInput{KeyID: f.KeyA, Plaintext: secret(16)})
			check("Encrypt", eo != nil, err)
			do, err := s.kms.Decrypt(c.ctx, &backends.DecryptInput{KeyID: f.KeyA, CiphertextBlob: blob})
			if do != nil {
				clear(do.Plaintext)
			}
			check("Decrypt", do != nil, err)
			if g, ok := s.generator(); ok {
				o, err := g.GenerateDataKey(c.ctx, &backends.GenerateDataKeyInput{KeyID: f.KeyA})
				if o != nil {
					clear(o.Plaintext)
				}
				check("GenerateDataKey", o != nil, err)
			}
			if r, ok := s.reEncrypter(); ok {
				o, err := r.ReEncrypt(c.ctx, &backends.ReEncryptInput{CiphertextBlob: blob, SourceKeyID: f.KeyA, DestinationKeyID: f.KeyB})
				check("ReEncrypt", o != nil, err)
			}
			if d, ok := s.describer(); ok {
				o, err := d.DescribeKey(c.ctx, &backends.DescribeKeyInput{KeyID: f.KeyA})
				check("DescribeKey", o != nil, err)
			}
		})
	}
}

// provoked is one failure the ErrorMapping subtest provokes.
type provoked struct {
	kind    *backends.Kind
	op      string
	call    func(ctx context.Context) error
	service bool // the service itself answers: Fixture.ErrorAs applies
}

func (s *suite) testErrorMapping(t T) {
	f := s.f
	pt := secret(40)
	blobA := s.encrypt(t, f.KeyA, pt, nil)
	enc := func(key string, pt []byte, dry bool) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := s.kms.Encrypt(ctx, &backends.EncryptInput{KeyID: key, Plaintext: pt, DryRun: dry})
			return err
		}
	}
	dec := func(key string, blob []byte) func(context.Context) error {
		return func(ctx context.Context) error {
			out, err := s.kms.Decrypt(ctx, &backends.DecryptInput{KeyID: key, CiphertextBlob: blob})
			if out != nil {
				clear(out.Plaintext)
			}
			return err
		}
	}
	wrongEC := map[string]string{"not": "the context of the blob"}
	cases := map[string]provoked{
		"NotFound": {backends.ErrNotFound, "Encrypt", enc(f.Unknown, pt, false), true},
		// A blob opened with the wrong context: InvalidCiphertext on every service,
		// however it treats damaged blobs.
		"InvalidCiphertext": {backends.ErrInvalidCiphertext, "Decrypt", func(ctx context.Context) error {
			out, err := s.kms.Decrypt(ctx, &backends.DecryptInput{KeyID: f.KeyA, CiphertextBlob: blobA, EncryptionContext: wrongEC})
			if out != nil {
				clear(out.Plaintext)
			}
			return err
		}, false},
	}
	// excused are the cases a declared deviation leaves out.
	excused := map[string][]Deviation{}
	if ds := f.declared(DeviationDecryptKeyIDIgnored, DeviationIncorrectKeyIsInvalidCiphertext); len(ds) == 0 {
		cases["IncorrectKey"] = provoked{backends.ErrIncorrectKey, "Decrypt", dec(f.KeyB, blobA), false}
	} else {
		excused["IncorrectKey"] = ds
	}
	if ds := f.declared(DeviationDisabledAccessDenied); f.Disabled != "" && len(ds) == 0 {
		cases["Disabled"] = provoked{backends.ErrDisabled, "Encrypt", enc(f.Disabled, pt, false), false}
	} else if f.Disabled != "" {
		excused["Disabled"] = ds
	}
	if f.PendingDeletion != "" {
		cases["InvalidState"] = provoked{backends.ErrInvalidState, "Encrypt", enc(f.PendingDeletion, pt, false), false}
	}
	cases["InvalidArgument"] = provoked{backends.ErrInvalidArgument, "Encrypt", enc(f.KeyA, secret(backends.MaxPlaintextBytes+1), false), false}
	if ds := f.declared(DeviationNoDryRun); len(ds) == 0 {
		cases["DryRunOperation"] = provoked{backends.ErrDryRunOperation, "Encrypt", enc(f.KeyA, pt, true), false}
	} else {
		excused["DryRunOperation"] = ds
	}
	cases["Canceled"] = provoked{backends.ErrCanceled, "Encrypt", func(ctx context.Context) error {
		c, cancel := context.WithCancel(ctx)
		cancel()
		return enc(f.KeyA, pt, false)(c)
	}, false}

	names := []string{"NotFound", "InvalidCiphertext", "IncorrectKey", "Disabled", "InvalidState", "InvalidArgument", "DryRunOperation", "Canceled"}
	why := map[string]string{
		"IncorrectKey":    "a declared deviation (" + string(DeviationDecryptKeyIDIgnored) + " or " + string(DeviationIncorrectKeyIsInvalidCiphertext) + ")",
		"Disabled":        "no Disabled key (Fixture.Disabled is empty) or declared deviation " + string(DeviationDisabledAccessDenied),
		"InvalidState":    "no key pending deletion (Fixture.PendingDeletion is empty)",
		"DryRunOperation": "declared deviation " + string(DeviationNoDryRun),
	}
	// The other operations name themselves in their errors too.
	if g, ok := s.generator(); ok {
		names = append(names, "NotFoundOnGenerateDataKey")
		cases["NotFoundOnGenerateDataKey"] = provoked{backends.ErrNotFound, "GenerateDataKey", func(ctx context.Context) error {
			out, err := g.GenerateDataKey(ctx, &backends.GenerateDataKeyInput{KeyID: f.Unknown})
			if out != nil {
				clear(out.Plaintext)
			}
			return err
		}, true}
	}
	if d, ok := s.describer(); ok {
		names = append(names, "NotFoundOnDescribeKey")
		cases["NotFoundOnDescribeKey"] = provoked{backends.ErrNotFound, "DescribeKey", func(ctx context.Context) error {
			_, err := d.DescribeKey(ctx, &backends.DescribeKeyInput{KeyID: f.Unknown})
			return err
		}, true}
	}
	if f.has(DeviationPartialNativeReEncrypt) {
		names = append(names, "NotFoundOnReEncrypt", "InvalidCiphertextOnReEncrypt")
		excused["NotFoundOnReEncrypt"] = []Deviation{DeviationPartialNativeReEncrypt}
		excused["InvalidCiphertextOnReEncrypt"] = []Deviation{DeviationPartialNativeReEncrypt}
	} else if r, ok := s.reEncrypter(); ok {
		names = append(names, "NotFoundOnReEncrypt", "InvalidCiphertextOnReEncrypt")
		cases["NotFoundOnReEncrypt"] = provoked{backends.ErrNotFound, "ReEncrypt", func(ctx context.Context) error {
			_, err := r.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blobA, SourceKeyID: f.KeyA, DestinationKeyID: f.Unknown})
			return err
		}, true}
		cases["InvalidCiphertextOnReEncrypt"] = provoked{backends.ErrInvalidCiphertext, "ReEncrypt", func(ctx context.Context) error {
			_, err := r.ReEncrypt(ctx, &backends.ReEncryptInput{CiphertextBlob: blobA, SourceKeyID: f.KeyA, SourceEncryptionContext: wrongEC, DestinationKeyID: f.KeyB})
			return err
		}, false}
	}

	secrets := []string{string(secret(12)), hex.EncodeToString(blobA), base64.StdEncoding.EncodeToString(blobA)}
	for _, name := range names {
		c, ok := cases[name]
		t.Run(name, func(t T) {
			if !ok {
				f.skipIf(t, excused[name]...)
				t.Skipf("skipped: the fixture cannot provoke this kind: %s", why[name])
			}
			err := c.call(context.Background())
			if !wantKind(t, err, c.kind, c.op) {
				return
			}
			var e *backends.Error
			if !errors.As(err, &e) {
				t.Fatalf("%s: the error (%T) does not unwrap to *backends.Error", c.op, err)
			}
			if e.Kind != c.kind {
				t.Errorf("%s: (*backends.Error).Kind = %s, want %s", c.op, e.Kind.Name(), c.kind.Name())
			}
			if e.Op != c.op {
				t.Errorf("%s: (*backends.Error).Op = %q, want %q", c.op, e.Op, c.op)
			}
			if e.KeyID == "" {
				t.Errorf("%s: (*backends.Error).KeyID is empty, want the key the call named", c.op)
			}
			if e.Retryable() || backends.IsRetryable(err) {
				t.Errorf("%s: %s says a retry can help; it cannot", c.op, c.kind.Name())
			}
			msg := err.Error()
			for _, sec := range secrets {
				if strings.Contains(msg, sec) {
					t.Errorf("%s: the error message carries the plaintext or the whole ciphertext", c.op)
				}
			}
			if c.service && f.ErrorAs != nil && !f.ErrorAs(err) {
				t.Errorf("%s: Fixture.ErrorAs is false: the service's own error (%T) is not reachable with errors.As", c.op, err)
			}
		})
	}
	t.Run("ErrorAs", func(t T) {
		if f.ErrorAs == nil {
			t.Skip("skipped: the harness gives no ErrorAs (Fixture.ErrorAs is nil)")
		}
		if f.ErrorAs(nil) {
			t.Errorf("Fixture.ErrorAs(nil) is true, want false")
		}
		if f.ErrorAs(errors.New("some other error")) {
			t.Errorf("Fixture.ErrorAs of a plain error is true, want false")
		}
	})
}
