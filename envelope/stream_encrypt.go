package envelope

import (
	"context"
	"io"
	"slices"
	"sync"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/body"
	"github.com/keyport/keyport/envelope/internal/format"
)

// Encrypter encrypts a stream into one message written to an io.Writer. It
// holds back the last frame until Close (or until more plaintext shows it is not
// the last), so that the final frame is full when the plaintext length is a
// multiple of the frame length: the layout equals Encrypt's. Memory is bounded by
// a few frames per worker (at least 256 KiB of plaintext per batch). An Encrypter
// is not safe for concurrent use; always call Close, also after an error.
type Encrypter struct {
	ctx         context.Context
	w           io.Writer
	sess        *session
	batchFrames int
	limit       int    // plaintext bytes in a full batch
	seq         uint64 // sequence number of the next frame
	total, max  int64  // plaintext so far; at most (EncryptOptions.PlaintextLength; 0: no limit)
	cur         *ebatch
	err         error
	closed      bool
	par         *encPipeline
}

var (
	_ io.WriteCloser = (*Encrypter)(nil)
	_ io.ReaderFrom  = (*Encrypter)(nil)
)

// ebatch is a run of whole frames of plaintext and their sealed form.
type ebatch struct {
	in, out, aad []byte
	src          []byte // the plaintext to seal: in, or a piece of a caller's Write
	seq          uint32
	final        bool
	idx          uint64          // the batch's place in the order of writing
	sealed       *sync.WaitGroup // for a piece of a caller's Write: done once sealed
}

// encPipeline seals batches on workers and writes them in order. There is no
// writing goroutine: the goroutine that seals the batch next in order writes
// it, and the sealed batches after it, while the others go on sealing. The
// goroutine calling Write or ReadFrom seals too whenever it would otherwise
// wait (for a free batch, or for its batches to be sealed).
type encPipeline struct {
	jobs, free chan *ebatch
	wg         sync.WaitGroup
	queued     uint64 // batches handed to jobs so far; the Encrypter's goroutine owns it

	mu      sync.Mutex
	ready   []*ebatch // sealed batches waiting for their turn, at idx % len(ready)
	next    uint64    // idx of the next batch to write
	writing bool      // a goroutine is writing ready batches
	werr    error     // the first error writing
}

// NewEncrypter gets the data key from opts.Keyring, writes the message header to
// w and returns the writer that encrypts what is written to it. Close writes the
// final frame and, for signed suites, the footer; it does not close w.
func NewEncrypter(ctx context.Context, w io.Writer, opts EncryptOptions) (*Encrypter, error) {
	es, err := newEncryptSession(ctx, &opts, "Encrypt", 0, false)
	if err != nil {
		return nil, err
	}
	sess := &es.session
	hdr := sess.serializedHeader()
	if _, err := w.Write(hdr); err != nil {
		return nil, err
	}
	if sess.signer != nil {
		sess.signer.Write(hdr)
	}
	n := workers(opts.Workers)
	e := &Encrypter{ctx: ctx, w: w, sess: sess, batchFrames: streamBatchFrames(sess.frameLen, n), seq: 1, max: opts.PlaintextLength}
	e.limit = e.batchFrames * sess.frameLen
	if n > 1 {
		e.par = newEncPipeline(e, n)
		e.cur = <-e.par.free
	} else {
		e.cur = &ebatch{}
	}
	e.cur.in = e.buf(e.cur.in)
	return e, nil
}

// buf returns b emptied, or a new buffer that grows up to e.limit as plaintext
// arrives (a huge frame length costs memory only when it is used).
func (e *Encrypter) buf(b []byte) []byte {
	if b == nil {
		if e.par != nil {
			return body.GetBuf(e.limit)
		}
		return make([]byte, 0, min(e.limit, 1<<20))
	}
	return b[:0]
}

// newEncPipeline starts n-1 workers: the Encrypter's own goroutine is the
// n-th (see help).
func newEncPipeline(e *Encrypter, n int) *encPipeline {
	nb := 2*n + 1
	p := &encPipeline{jobs: make(chan *ebatch, nb), free: make(chan *ebatch, nb), ready: make([]*ebatch, nb)}
	for range nb {
		p.free <- &ebatch{}
	}
	for range n - 1 {
		p.wg.Go(func() {
			for b := range p.jobs {
				e.sealJob(b)
			}
		})
	}
	return p
}

// queue hands b to the workers.
func (p *encPipeline) queue(b *ebatch) {
	b.idx = p.queued
	p.queued++
	p.jobs <- b
}

// sealJob seals b, then writes it if its turn has come (see encPipeline).
func (e *Encrypter) sealJob(b *ebatch) {
	e.seal(b)
	if b.sealed != nil {
		b.sealed.Done()
	}
	p := e.par
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ready[b.idx%uint64(len(p.ready))] = b // at most len(ready) batches exist
	if p.writing {
		return // the writing goroutine takes it in turn
	}
	p.writing = true
	for {
		i := p.next % uint64(len(p.ready))
		h := p.ready[i]
		if h == nil || h.idx != p.next {
			p.writing = false
			return
		}
		p.ready[i] = nil
		p.next++
		err := p.werr
		p.mu.Unlock()
		if err == nil {
			err = e.emit(h.out)
		}
		p.mu.Lock()
		if p.werr == nil {
			p.werr = err
		}
		p.free <- h // never blocks: it holds every batch
	}
}

// help seals one queued batch on the calling goroutine, if one is queued, and
// reports whether it did.
func (e *Encrypter) help() bool {
	select {
	case b := <-e.par.jobs:
		e.sealJob(b)
		return true
	default:
		return false
	}
}

func (p *encPipeline) error() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.werr
}

// seal seals batch b (its frames start at b.seq).
func (e *Encrypter) seal(b *ebatch) {
	size := body.SealedSize(len(b.src), e.sess.frameLen, b.final)
	if cap(b.out) < size && e.par != nil {
		b.out = body.GetBuf(size)
	} else if cap(b.out) < size {
		b.out = make([]byte, size)
	}
	b.out = b.out[:size]
	b.aad = e.sess.codec.SealFrames(b.out, b.src, b.seq, b.final, b.aad)
}

// streamBatchFrames is the number of frames of frameLen bytes a streaming
// batch of the Encrypter and of the Decrypter holds: 256 KiB of plaintext
// sequentially (it stays in the core's cache from the read to the write), 1 MiB
// with workers (every batch handed from one goroutine to another costs a
// wake-up; measured faster than 256 KiB both ways: decrypt-all-cores of
// BenchmarkStream64MiBTurns, alternated runs, 1.06-1.44x with 256 KiB,
// 1.39-1.56x with 1 MiB).
func streamBatchFrames(frameLen, workers int) int {
	if workers > 1 {
		return max(1, (1<<20)/frameLen)
	}
	return body.FramesPerChunk(frameLen)
}

// emit writes sealed bytes and feeds the signature.
func (e *Encrypter) emit(p []byte) error {
	if _, err := e.w.Write(p); err != nil {
		return err
	}
	if e.sess.signer != nil {
		e.sess.signer.Write(p)
	}
	return nil
}

// take assigns sequence numbers to a batch of n plaintext bytes.
func (e *Encrypter) take(n int, final bool) (uint32, error) {
	k := body.FrameCount(n, e.sess.frameLen, final)
	if e.seq+uint64(k)-1 > format.MaxFrames {
		return 0, errArg("Encrypt", "message would exceed %d frames", int64(format.MaxFrames))
	}
	s := e.seq
	e.seq += uint64(k)
	return uint32(s), nil
}

// flush seals and writes (or hands to the pipeline) the current batch.
func (e *Encrypter) flush(final bool) error {
	b := e.cur
	seq, err := e.take(len(b.in), final)
	if err != nil {
		return err
	}
	b.seq, b.final, b.src, b.sealed = seq, final, b.in, nil
	if e.par == nil {
		e.seal(b)
		err := e.emit(b.out)
		b.in = b.in[:0]
		return err
	}
	if err := e.par.error(); err != nil {
		return err
	}
	e.par.queue(b)
	if final {
		e.cur = nil
		return nil
	}
	nb, err := e.free()
	if err != nil {
		e.cur = nil
		return err
	}
	e.cur = nb
	e.cur.in = e.buf(e.cur.in)
	return nil
}

// free returns a batch of the pipeline that is free for use, sealing queued
// batches while there is none.
func (e *Encrypter) free() (*ebatch, error) {
	for {
		select {
		case b := <-e.par.free:
			return b, nil
		default:
		}
		if !e.help() {
			break
		}
	}
	select {
	case b := <-e.par.free:
		return b, nil
	case <-e.ctx.Done():
		return nil, backends.ContextError(e.ctx, "Encrypt", "")
	}
}

// sealFrom has the workers seal whole batches straight from p (no copy),
// keeping back at least one byte, and waits until they are sealed: p is the
// caller's only for the call. It returns the bytes taken.
func (e *Encrypter) sealFrom(p []byte) (int, error) {
	var sealed sync.WaitGroup
	defer func() {
		for e.help() {
		}
		sealed.Wait()
	}()
	n := 0
	for len(p)-n > e.limit {
		if err := e.par.error(); err != nil {
			return n, err
		}
		seq, err := e.take(e.limit, false)
		if err != nil {
			return n, err
		}
		b, err := e.free()
		if err != nil {
			return n, err
		}
		b.seq, b.final, b.src, b.sealed = seq, false, p[n:n+e.limit], &sealed
		sealed.Add(1)
		e.par.queue(b)
		n += e.limit
	}
	return n, nil
}

// Write encrypts p. Frames are written to the underlying writer as they fill.
func (e *Encrypter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.closed {
		return 0, errArg("Encrypt", "write after Close")
	}
	if err := e.count(len(p)); err != nil {
		return 0, err
	}
	written := 0
	F := e.sess.frameLen
	for len(p) > 0 {
		if err := backends.ContextError(e.ctx, "Encrypt", ""); err != nil {
			e.err = err
			return written, err
		}
		b := e.cur
		if len(b.in) == e.limit {
			// Full, and more plaintext follows: its frames are regular.
			if err := e.flush(false); err != nil {
				e.err = err
				return written, err
			}
			continue
		}
		if e.par != nil && len(b.in) == 0 && len(p) > e.limit {
			// Whole batches, sealed by the workers straight from p.
			n, err := e.sealFrom(p)
			p = p[n:]
			written += n
			if err != nil {
				e.err = err
				return written, err
			}
			continue
		}
		if e.par == nil && len(b.in) == 0 && len(p) > F {
			// Seal whole frames straight from p, keeping at least one byte back.
			n := min((len(p)-1)/F, e.batchFrames) * F
			seq, err := e.take(n, false)
			if err != nil {
				e.err = err
				return written, err
			}
			size := body.SealedSize(n, F, false)
			if cap(b.out) < size {
				b.out = make([]byte, size)
			}
			b.out = b.out[:size]
			b.aad = e.sess.codec.SealFrames(b.out, p[:n], seq, false, b.aad)
			if err := e.emit(b.out); err != nil {
				e.err = err
				return written, err
			}
			p = p[n:]
			written += n
			continue
		}
		n := min(e.limit-len(b.in), len(p))
		b.in = append(b.in, p[:n]...)
		p = p[n:]
		written += n
	}
	return written, nil
}

// count adds n bytes to the plaintext seen, failing past the announced length.
func (e *Encrypter) count(n int) error {
	e.total += int64(n)
	if e.max > 0 && e.total > e.max {
		e.err = errArg("Encrypt", "more plaintext than the %d bytes PlaintextLength announced", e.max)
		return e.err
	}
	return nil
}

// ReadFrom encrypts everything r yields until io.EOF, reading straight into the
// frame buffers (io.Copy uses it). It does not Close the Encrypter.
func (e *Encrypter) ReadFrom(r io.Reader) (int64, error) {
	var total int64
	for {
		if e.err != nil {
			return total, e.err
		}
		if e.closed {
			return total, errArg("Encrypt", "write after Close")
		}
		if err := backends.ContextError(e.ctx, "Encrypt", ""); err != nil {
			e.err = err
			return total, err
		}
		b := e.cur
		if len(b.in) == e.limit {
			// Full: read one byte to learn whether the batch is the last.
			var one [1]byte
			n, err := r.Read(one[:])
			if n == 1 {
				if _, werr := e.Write(one[:]); werr != nil {
					return total, werr
				}
				total++
			}
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
			continue
		}
		if len(b.in) == cap(b.in) {
			b.in = slices.Grow(b.in, min(e.limit-len(b.in), max(len(b.in), 64<<10)))
		}
		room := b.in[len(b.in):min(cap(b.in), len(b.in)+e.limit-len(b.in))]
		n, err := r.Read(room)
		b.in = b.in[:len(b.in)+n]
		total += int64(n)
		if cerr := e.count(n); cerr != nil {
			return total, cerr
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// Close seals the final frame, writes it and, for signed suites, the footer. It
// does not close the underlying writer. After an error Close releases the workers
// and returns the error.
func (e *Encrypter) Close() error {
	if e.closed {
		return e.err
	}
	e.closed = true
	if e.err == nil && e.cur != nil {
		e.err = e.flush(true)
	}
	if e.par != nil {
		for e.help() {
		}
		close(e.par.jobs)
		e.par.wg.Wait()
		if e.err == nil {
			e.err = e.par.error()
		}
		close(e.par.free)
		for b := range e.par.free {
			clear(b.in[:cap(b.in)])
			body.PutBuf(b.in)
			body.PutBuf(b.out)
		}
	}
	if e.cur != nil { // sequential, or a batch kept back by an error
		clear(e.cur.in[:cap(e.cur.in)])
	}
	if e.err == nil && e.sess.signer != nil {
		sig, err := e.sess.signer.Sign()
		if err != nil {
			e.err = backends.Wrap(backends.ErrInternal, "Encrypt", "", err)
		} else if _, err := e.w.Write(format.AppendFooter(nil, sig)); err != nil {
			e.err = err
		}
	}
	return e.err
}
