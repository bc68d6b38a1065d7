package migrate

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync/atomic"

	"gocloud.dev/gcerrors"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope"
	"github.com/keyport/keyport/envelope/rekey"
	"github.com/keyport/keyport/migrate/internal/journal"
	"github.com/keyport/keyport/migrate/internal/store"
)

// worker migrates one object at a time, reusing its buffers from one object
// to the next (the buffers are the pool: one set per worker, none shared).
type worker struct {
	r   *runner
	pub *publisher
	buf []byte // the object read
	pt  []byte // its plaintext
	out []byte // the new object
	vpt []byte // the new object's plaintext, from verification
}

func newWorker(r *runner, pub *publisher) *worker { return &worker{r: r, pub: pub} }

// maxPooled is the largest buffer a worker keeps between objects.
const maxPooled = 4 << 20

func (w *worker) trim() {
	for _, b := range []*[]byte{&w.buf, &w.pt, &w.out, &w.vpt} {
		if cap(*b) > maxPooled {
			*b = nil
		}
	}
}

// object migrates one object and records the outcome, unless the run was
// interrupted (the object then stays Pending) or the publisher records it.
func (w *worker) object(ctx context.Context, e journal.Entry) {
	res, handed := w.migrate(ctx, e)
	w.trim()
	if handed {
		return
	}
	if res.State == journal.Failed && ctx.Err() != nil {
		return // interrupted, not failed
	}
	w.r.record(res)
}

func skipped(e journal.Entry, reason string) journal.Entry {
	e.State, e.Reason, e.Error, e.Kind = journal.Skipped, reason, "", ""
	e.FinalVersion = e.Version
	return e
}

func failed(e journal.Entry, reason string, err error) journal.Entry {
	e.State, e.Reason, e.Error, e.Kind = journal.Failed, reason, describe(err), ""
	if k := backends.KindOf(err); k != nil {
		e.Kind = k.Name()
	}
	e.FinalVersion = ""
	return e
}

// describe formats err without the repeated "keyport: " prefix of wrapped layers.
func describe(err error) string {
	return strings.ReplaceAll(err.Error(), "keyport: ", "")
}

// migrate does the work; handed says the publisher took the object over.
func (w *worker) migrate(ctx context.Context, e journal.Entry) (res journal.Entry, handed bool) {
	r := w.r
	rd, err := r.src.Open(ctx, e.Key)
	switch {
	case errors.Is(err, fs.ErrNotExist) || gcerrors.Code(err) == gcerrors.NotFound:
		return skipped(e, ReasonVanished), false
	case errors.Is(err, store.ErrNotRegular):
		return failed(e, ReasonError, err), false
	case err != nil:
		return failed(e, ReasonError, err), false
	}
	defer rd.Close()
	if e.State == journal.Replacing {
		if res, ok := w.resume(e, rd); ok {
			return res, false
		}
		rd.Close()
		if rd, err = r.src.Open(ctx, e.Key); err != nil {
			return failed(e, ReasonError, err), false
		}
		defer rd.Close()
	}
	e.Size = rd.Size()
	switch {
	case r.o.Format == Blobs:
		return w.blob(ctx, e, rd)
	case rd.Size() <= r.o.LargeObject:
		return w.small(ctx, e, rd)
	default:
		return w.large(ctx, e, rd)
	}
}

// resume checks an object that was being replaced when a run stopped: if it
// is the new version (by digest), it is done.
func (w *worker) resume(e journal.Entry, rd store.Reader) (journal.Entry, bool) {
	h := sha256.New()
	n, err := io.Copy(h, rd)
	w.r.bytesRead.Add(n)
	if err != nil || !bytes.Equal(h.Sum(nil), e.NewSHA256) {
		return e, false
	}
	e.State, e.Reason, e.Error, e.Kind = journal.Done, "", "", ""
	e.FinalVersion = rd.Version()
	if v, err := w.r.dst.Version(context.Background(), e.Key); err == nil {
		e.FinalVersion = v
	}
	return e, true
}

// readAll reads the whole object into the worker's buffer.
func (w *worker) readAll(rd store.Reader) ([]byte, error) {
	n := int(rd.Size())
	if cap(w.buf) < n+1 {
		w.buf = make([]byte, 0, n+512)
	}
	b := w.buf[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		m, err := rd.Read(b[len(b):cap(b)])
		b = b[:len(b)+m]
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
	}
	w.buf = b
	w.r.bytesRead.Add(int64(len(b)))
	return b, nil
}

// classify decides from a message header alone (no key-service call) whether
// the message is already under exactly the destination keys (with the new
// context, when one is asked for), or under none of the --from keys.
func (r *runner) classify(h *envelope.Header) string {
	if r.onlyDestination(h.EncryptedDataKeys) && r.contextIsNew(h.EncryptionContext) {
		return ReasonAlreadyMigrated
	}
	if r.fromIDs != nil {
		for _, k := range h.EncryptedDataKeys {
			if r.fromIDs[string(k.ProviderInfo)] {
				return ""
			}
		}
		return ReasonNotFromKeys
	}
	return ""
}

// onlyDestination reports whether edks are wrapped by every destination key
// and by no other.
func (r *runner) onlyDestination(edks []envelope.EncryptedDataKey) bool {
	found := map[string]bool{}
	for _, k := range edks {
		id := string(k.ProviderInfo)
		if !r.dstIDs[id] {
			return false
		}
		found[id] = true
	}
	return len(found) == len(r.dstIDs)
}

// contextIsNew reports whether a header's stored context is the one asked
// for (always, when the context is kept).
func (r *runner) contextIsNew(stored map[string]string) bool {
	want := r.o.DestinationEncryptionContext
	if want == nil {
		return true
	}
	n := 0
	for k, v := range stored {
		if strings.HasPrefix(k, envelope.ReservedPrefix) {
			continue
		}
		if w, ok := want[k]; !ok || w != v {
			return false
		}
		n++
	}
	return n == len(want)
}

// sourceKey names the key a message is counted under: the first --from key
// among its encrypted data keys, else its first one.
func (r *runner) sourceKey(h *envelope.Header) string {
	for _, k := range h.EncryptedDataKeys {
		if r.fromIDs[string(k.ProviderInfo)] {
			return string(k.ProviderInfo)
		}
	}
	if len(h.EncryptedDataKeys) > 0 {
		return string(h.EncryptedDataKeys[0].ProviderInfo)
	}
	return ""
}

// already returns the entry of a message found under the destination: done
// when an earlier run migrated it, else skipped.
func already(e journal.Entry) journal.Entry {
	if e.Prev == journal.Done {
		e.State, e.Reason, e.Error, e.Kind = journal.Done, "", "", ""
		e.FinalVersion = e.Version
		return e
	}
	return skipped(e, ReasonAlreadyMigrated)
}

// admit decides from an object's header (and the error parsing it) whether
// the object is migrated: if not, it returns the entry that records why and
// true; if so, it records the source key in e.
func (r *runner) admit(e *journal.Entry, h *envelope.Header, err error) (journal.Entry, bool) {
	if err != nil {
		return skipped(*e, ReasonNotMessage), true
	}
	switch r.classify(h) {
	case ReasonAlreadyMigrated:
		return already(*e), true
	case ReasonNotFromKeys:
		return skipped(*e, ReasonNotFromKeys), true
	}
	e.SourceKey = r.sourceKey(h)
	return *e, false
}

// errNotVerified is the error of a new object that did not verify.
func errNotVerified(what string) error {
	return backends.Errorf(backends.ErrInternal, op, "", "the new object did not verify: %s; the original is left alone", what)
}

// newContext is the context that opens the new message: the new one, or the
// message's own (its stored pairs and the required pairs the caller gave).
func (r *runner) newContext(h *envelope.Header) map[string]string {
	if r.o.DestinationEncryptionContext != nil {
		return r.o.DestinationEncryptionContext
	}
	ec := make(map[string]string, len(h.EncryptionContext)+len(r.o.SourceEncryptionContext))
	for k, v := range h.EncryptionContext {
		if !strings.HasPrefix(k, envelope.ReservedPrefix) {
			ec[k] = v
		}
	}
	for k, v := range r.o.SourceEncryptionContext {
		ec[k] = v
	}
	return ec
}

// rewrapOptions are those of rekey.Message for --rewrap, the data key wrapped
// for the destination through c.
func (r *runner) rewrapOptions(c *capture) rekey.Options {
	return rekey.Options{
		Source: r.srcKR, Destination: c, Method: rekey.Rewrap, CommitmentPolicy: r.policy,
		SourceEncryptionContext: r.o.SourceEncryptionContext, DestinationEncryptionContext: r.o.DestinationEncryptionContext,
	}
}

// destination returns the capture of this object's destination keyring: one
// that makes the data key (reseal), or only wraps the existing one (rewrap).
func (r *runner) destination() *capture {
	if r.o.Rewrap {
		return &capture{inner: r.dstWrap}
	}
	return &capture{inner: r.dstKR}
}

// small migrates a message held in memory: one read, one decryption at the
// source, one encryption, one verifying decryption with the captured data key.
func (w *worker) small(ctx context.Context, e journal.Entry, rd store.Reader) (journal.Entry, bool) {
	r := w.r
	msg, err := w.readAll(rd)
	if err != nil {
		return failed(e, ReasonError, err), false
	}
	h, err := envelope.ParseHeader(bytes.NewReader(msg), 0)
	if done, stop := r.admit(&e, h, err); stop {
		return done, false
	}
	c := r.destination()
	defer c.wipe()
	var plain [32]byte
	var out []byte
	if r.o.Rewrap {
		buf := bytes.NewBuffer(w.out[:0])
		if _, err := rekey.Message(ctx, bytes.NewReader(msg), buf, r.rewrapOptions(c)); err != nil {
			return failed(e, ReasonError, err), false
		}
		out = buf.Bytes()
	} else {
		pt, res, err := envelope.AppendDecrypt(ctx, w.pt[:0], msg, envelope.DecryptOptions{
			Keyring: r.srcKR, EncryptionContext: r.o.SourceEncryptionContext, CommitmentPolicy: r.policy,
		})
		w.pt = pt[:0]
		if err != nil {
			clear(pt)
			return failed(e, ReasonError, err), false
		}
		plain = sha256.Sum256(pt)
		eo := rekey.NewMessageOptions(res, r.o.DestinationEncryptionContext)
		eo.Keyring = c
		out, err = envelope.AppendEncrypt(ctx, w.out[:0], pt, eo)
		clear(pt)
		if err != nil {
			return failed(e, ReasonError, err), false
		}
	}
	w.out = out[:0]
	vpt, vres, err := envelope.AppendDecrypt(ctx, w.vpt[:0], out, envelope.DecryptOptions{
		Keyring: c.verifier(), EncryptionContext: r.newContext(h), CommitmentPolicy: envelope.RequireEncryptRequireDecrypt,
	})
	w.vpt = vpt[:0]
	if err != nil {
		clear(vpt)
		return failed(e, ReasonError, fmt.Errorf("verifying the new message: %w", err)), false
	}
	got := sha256.Sum256(vpt)
	clear(vpt)
	if r.o.Rewrap {
		plain = got // the body was copied, not decrypted: the verification is the first decryption
	}
	switch {
	case got != plain:
		return failed(e, ReasonError, errNotVerified("it decrypts to other plaintext")), false
	case !r.onlyDestination(vres.Header.EncryptedDataKeys):
		return failed(e, ReasonError, errNotVerified("it is not under exactly the destination keys")), false
	}
	newSum := sha256.Sum256(out)
	e.PlainSHA256, e.NewSHA256, e.NewSize = plain[:], newSum[:], int64(len(out))
	e.DestKey = strings.Join(r.to, ",")
	return w.write(ctx, e, rd, out)
}

// write writes a verified new object held in memory and publishes it.
func (w *worker) write(ctx context.Context, e journal.Entry, rd store.Reader, out []byte) (journal.Entry, bool) {
	r := w.r
	if r.o.DryRun {
		return done(e), false
	}
	co := store.CreateOptions{Like: rd, Size: int64(len(out))}
	if r.inPlace {
		co.Replace = rd
	}
	wr, err := r.dst.Create(ctx, e.Key, co)
	if err != nil {
		return failed(e, ReasonError, err), false
	}
	if _, err := wr.Write(out); err != nil {
		wr.Abort()
		return failed(e, ReasonError, err), false
	}
	return w.publish(ctx, e, wr)
}

// done marks e migrated.
func done(e journal.Entry) journal.Entry {
	e.State, e.Reason, e.Error, e.Kind = journal.Done, "", "", ""
	e.FinalVersion = e.Version
	return e
}

// publish publishes a written, verified object: through the publisher's
// batches for a local directory, at once for a bucket. In place, the journal
// first records the new object's digest (Replacing), so that a run after a
// crash knows the object for its own work.
func (w *worker) publish(ctx context.Context, e journal.Entry, wr store.Writer) (journal.Entry, bool) {
	r := w.r
	r.bytesWritten.Add(e.NewSize)
	if w.pub != nil {
		w.pub.submit(staged{e: e, w: wr})
		return e, true
	}
	if r.inPlace {
		intent := e
		intent.State = journal.Replacing
		if err := r.j.Apply(ctx, []journal.Entry{intent}); err != nil {
			wr.Abort()
			return failed(e, ReasonError, fmt.Errorf("journal: %w", err)), false
		}
	}
	beforePublish(e.Key)
	return r.published(ctx, e, r.dst.Publish(ctx, []store.Writer{wr})[0]), false
}

// published returns the entry of an object whose publication returned err.
func (r *runner) published(ctx context.Context, e journal.Entry, err error) journal.Entry {
	switch {
	case errors.Is(err, store.ErrChanged):
		return failed(e, ReasonChanged, err)
	case err != nil:
		return failed(e, ReasonError, err)
	}
	e = done(e)
	if r.inPlace {
		e.FinalVersion = ""
		if v, err := r.dst.Version(context.WithoutCancel(ctx), e.Key); err == nil {
			e.FinalVersion = v
		}
	}
	return e
}

// large migrates a message streamed from the store: its frames are opened
// and sealed on all cores, and the new message is verified while it is
// written (through a pipe to a second decrypter), so that it is published
// only once verified and nothing is read twice.
func (w *worker) large(ctx context.Context, e journal.Entry, rd store.Reader) (res journal.Entry, handed bool) {
	r := w.r
	br := bufio.NewReaderSize(rd, 256<<10)
	var hb bytes.Buffer
	h, err := envelope.ParseHeader(io.TeeReader(br, &hb), 0)
	if done, stop := r.admit(&e, h, err); stop {
		return done, false
	}
	counted := &countReader{r: io.MultiReader(&hb, br), total: &r.bytesRead} // progress within the object
	c := r.destination()
	defer c.wipe()

	var wr store.Writer
	sink := io.Discard
	if !r.o.DryRun {
		co := store.CreateOptions{Like: rd}
		if r.inPlace {
			co.Replace = rd
		}
		if wr, err = r.dst.Create(ctx, e.Key, co); err != nil {
			return failed(e, ReasonError, err), false
		}
		sink = wr
		defer func() {
			if !handed {
				wr.Abort() // nothing after a Publish
			}
		}()
	}
	// The verifier reads the new message as it is written.
	pr, pw := io.Pipe()
	type verdict struct {
		sum [32]byte
		ok  bool
		err error
	}
	vch := make(chan verdict, 1)
	go func() {
		var v verdict
		vd, err := envelope.NewDecrypter(ctx, pr, envelope.DecryptOptions{
			Keyring: c.verifier(), EncryptionContext: r.newContext(h), CommitmentPolicy: envelope.RequireEncryptRequireDecrypt, Workers: envelope.AllCores,
		})
		if err == nil {
			h := sha256.New()
			_, err = vd.WriteTo(h)
			copy(v.sum[:], h.Sum(nil))
			v.ok = r.onlyDestination(vd.Result().Header.EncryptedDataKeys)
			vd.Close()
		}
		v.err = err
		pr.CloseWithError(errors.New("verification ended")) // unblock the writer
		vch <- v
	}()
	newHash := sha256.New()
	var written countWriter
	bw := bufio.NewWriterSize(io.MultiWriter(sink, pw, newHash, &written), 256<<10)
	plainHash := sha256.New()
	if r.o.Rewrap {
		_, err = rekey.Message(ctx, counted, bw, r.rewrapOptions(c))
	} else {
		err = w.reseal(ctx, counted, bw, c, plainHash)
	}
	if err == nil {
		err = bw.Flush()
	}
	pw.CloseWithError(err) // nil: the verifier sees the end
	v := <-vch
	if err != nil {
		return failed(e, ReasonError, err), false
	}
	var plain [32]byte
	copy(plain[:], plainHash.Sum(nil))
	if r.o.Rewrap {
		plain = v.sum
	}
	switch {
	case v.err != nil:
		return failed(e, ReasonError, fmt.Errorf("verifying the new message: %w", v.err)), false
	case v.sum != plain:
		return failed(e, ReasonError, errNotVerified("it decrypts to other plaintext")), false
	case !v.ok:
		return failed(e, ReasonError, errNotVerified("it is not under exactly the destination keys")), false
	}
	e.PlainSHA256, e.NewSHA256, e.NewSize = plain[:], newHash.Sum(nil), written.n
	e.DestKey = strings.Join(r.to, ",")
	if r.o.DryRun {
		return done(e), false
	}
	return w.publish(ctx, e, wr)
}

// reseal decrypts the message from in and encrypts it again to out under a
// new data key made through c, on all cores, hashing the plaintext as it
// passes.
func (w *worker) reseal(ctx context.Context, in io.Reader, out io.Writer, c *capture, plainHash io.Writer) error {
	r := w.r
	dec, err := envelope.NewDecrypter(ctx, in, envelope.DecryptOptions{
		Keyring: r.srcKR, EncryptionContext: r.o.SourceEncryptionContext, CommitmentPolicy: r.policy, Workers: envelope.AllCores,
	})
	if err != nil {
		return err
	}
	defer dec.Close()
	eo := rekey.NewMessageOptions(dec.Result(), r.o.DestinationEncryptionContext)
	eo.Keyring, eo.Workers = c, envelope.AllCores
	enc, err := envelope.NewEncrypter(ctx, out, eo)
	if err != nil {
		return err
	}
	if _, err := dec.WriteTo(io.MultiWriter(enc, plainHash)); err != nil {
		return err
	}
	return enc.Close()
}

// countReader counts what it reads, and adds it to total as it goes.
type countReader struct {
	r     io.Reader
	n     int64
	total *atomic.Int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.total.Add(int64(n))
	return n, err
}

type countWriter struct{ n int64 }

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}
