package envelope

import (
	"bufio"
	"context"
	"io"
	"math"
	"sync"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/body"
	"github.com/keyport/keyport/envelope/internal/format"
)

// Decrypter decrypts a message read from an io.Reader. It releases the plaintext
// of a frame only after the frame is authenticated, and the final frame's only
// after the signature (signed suites) is verified and the input has ended, so a
// truncated, reordered or altered message yields an error and, apart from
// authenticated frames before the damage, no plaintext. It reads the body a batch
// of frames at a time (256 KiB, 1 MiB with workers) straight into its buffer (one
// copy) and decrypts the batch into one piece of plaintext (one write); with
// Workers > 1 the batches are decrypted on several goroutines while the next are
// read. When the input is also an [io.ReaderAt] and an [io.Seeker] (an
// *os.File of a regular file, a *bytes.Reader, an *io.SectionReader) and the
// suite is unsigned, each worker reads its own batches (ReadAt at the batch's
// offset, which the frame layout gives), so the copy out of the input is spread
// over the cores too; the input's position afterwards is then unspecified, as
// it is after reading ahead. Memory is bounded by a few batches per worker; a
// non-framed (legacy) body is held whole.
// A Decrypter is not safe for concurrent use; call Close to release its workers
// if you stop reading before the end.
type Decrypter struct {
	ctx  context.Context
	rd   *body.Reader
	sess *session
	res  *Result

	cur    *dbatch
	off    int // bytes of cur.Out handed out
	err    error
	single *dbatch // the batch of the sequential mode
	par    *decPipeline
	// at, when not nil, is the input as an io.ReaderAt whose body starts at
	// atBody: the workers read their batches from it.
	at     io.ReaderAt
	atBody int64
}

var _ io.Reader = (*Decrypter)(nil)
var _ io.WriterTo = (*Decrypter)(nil)

// dbatch is a batch of frames and what became of it.
type dbatch struct {
	body.Batch
	err  error
	done chan struct{}
}

// decPipeline decrypts batches on workers: each worker reads the next batch
// (one at a time, in order, under mu; or, from an io.ReaderAt, it takes the next
// batch's number under mu and reads it at its offset while others read theirs)
// and then decrypts it, so a batch is read and decrypted by the same core; the
// reader takes the batches in order.
type decPipeline struct {
	mu       sync.Mutex // held while a batch is read (or numbered)
	ended    bool       // the last batch (or an error) is read; mu guards it
	next     int        // the number of the next batch (io.ReaderAt); mu guards it
	pending  chan *dbatch
	free     chan *dbatch
	stop     chan struct{}
	stopOnce sync.Once
	workers  sync.WaitGroup
	given    int // batches end gave back wiped: all of them, 2n+1, once a message is read whole
}

// NewDecrypter reads and authenticates the header (unwrapping the data key with
// opts.Keyring) and returns the reader of the plaintext. Result is available at
// once; for signed suites it is final only once Read has returned io.EOF.
func NewDecrypter(ctx context.Context, r io.Reader, opts DecryptOptions) (*Decrypter, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	ds, err := newDecSession(&opts, false, nil)
	if err != nil {
		return nil, err
	}
	if err := ds.parse(br, &opts); err != nil {
		return nil, err
	}
	res, err := ds.open(ctx, &opts)
	if err != nil {
		return nil, err
	}
	sess, h := &ds.session, &ds.hdr
	n := workers(opts.Workers)
	framed := h.ContentType == format.ContentFramed
	batchFrames := 1
	if framed {
		batchFrames = streamBatchFrames(sess.frameLen, n)
	}
	d := &Decrypter{ctx: ctx, sess: sess, res: res, rd: body.NewReader(br, sess.frameLen, !framed, batchFrames, sess.verifier)}
	if n > 1 && framed {
		if sess.verifier == nil {
			d.at, d.atBody = readerAt(r, br)
		}
		d.par = d.start(n)
	} else {
		d.single = &dbatch{}
	}
	return d, nil
}

// readerAt returns r as an io.ReaderAt and the offset in it of what br (which
// reads r) has not yet handed out, or nil if r is not both an io.ReaderAt and an
// io.Seeker that knows its position (a pipe is not).
func readerAt(r io.Reader, br *bufio.Reader) (io.ReaderAt, int64) {
	ra, ok := r.(io.ReaderAt)
	s, ok2 := r.(io.Seeker)
	if !ok || !ok2 {
		return nil, 0
	}
	pos, err := s.Seek(0, io.SeekCurrent)
	if err != nil || pos < int64(br.Buffered()) {
		return nil, 0
	}
	return ra, pos - int64(br.Buffered())
}

// fillAt reads batch k into b from d.at, through br (the worker's, reused).
func (d *Decrypter) fillAt(b *dbatch, k int, br **bufio.Reader) error {
	off := d.atBody + int64(k)*int64(d.rd.BatchBytes())
	sr := io.NewSectionReader(d.at, off, math.MaxInt64-off)
	if *br == nil {
		*br = bufio.NewReaderSize(sr, 4<<10) // batches are read past it, straight into their buffer
	} else {
		(*br).Reset(sr)
	}
	rd := d.rd.AtBatch(*br, k)
	return rd.Fill(d.ctx, &b.Batch)
}

// Result describes the message: suite, encryption context, header.
func (d *Decrypter) Result() *Result { return d.res }

// fill reads the next batch into b.
func (d *Decrypter) fill(b *dbatch) error { return d.rd.Fill(d.ctx, &b.Batch) }

// open decrypts b.
func (d *Decrypter) open(b *dbatch) error {
	return d.sess.codec.OpenBatch(&b.Batch, d.sess.hdr.ContentType == format.ContentNonFramed)
}

// start runs the workers for n cores: n+1 of them. One worker at a time reads
// (under mu) and the goroutine calling Read needs a core now and then, so n
// workers leave cores idle: measured on two cores, n workers reach about 1.45x
// one goroutine's speed and n+1 about 1.75x (BenchmarkStream64MiBTurns).
func (d *Decrypter) start(n int) *decPipeline {
	nb := 2*n + 1
	p := &decPipeline{pending: make(chan *dbatch, nb), free: make(chan *dbatch, nb), stop: make(chan struct{})}
	for range nb {
		p.free <- &dbatch{done: make(chan struct{}, 1)} // one signal per use, reused
	}
	// end marks the last batch (or an error) read and ends pending once; the
	// caller holds mu. Batches already numbered past the end (io.ReaderAt)
	// stay in pending behind the last one, which the reader stops at.
	end := func() {
		if !p.ended {
			p.ended = true
			close(p.pending)
		}
	}
	for range n + 1 {
		p.workers.Add(1)
		go func() {
			defer p.workers.Done()
			var br *bufio.Reader // this worker's, for io.ReaderAt
			for {
				var b *dbatch
				select {
				case b = <-p.free:
				case <-p.stop:
					return
				}
				p.mu.Lock()
				select {
				case <-p.stop: // Close: read no further
					end()
				default:
				}
				if p.ended {
					p.mu.Unlock()
					p.free <- b // for end to wipe; free has room, b came from it
					return
				}
				var err error
				if d.at != nil {
					k := p.next
					p.next++
					p.pending <- b // in the order of the input
					p.mu.Unlock()
					err = d.fillAt(b, k, &br)
					if err != nil || b.Last {
						p.mu.Lock()
						end()
						p.mu.Unlock()
					}
				} else {
					err = d.fill(b)
					p.pending <- b // in the order of the input
					if err != nil || b.Last {
						end()
					}
					p.mu.Unlock()
				}
				if err == nil {
					err = d.open(b)
				}
				b.err = err
				b.done <- struct{}{}
			}
		}()
	}
	return p
}

// next makes the next batch of plaintext current.
func (d *Decrypter) next() error {
	if err := backends.ContextError(d.ctx, "Decrypt", ""); err != nil {
		return err
	}
	d.off = 0
	if d.par == nil {
		b := d.single
		d.cur = nil
		if err := d.fill(b); err != nil {
			return err
		}
		if err := d.open(b); err != nil {
			return err
		}
		d.cur = b
		return nil
	}
	if d.cur != nil {
		d.par.free <- d.cur
		d.cur = nil
	}
	var b *dbatch
	var ok bool
	select {
	case b, ok = <-d.par.pending:
	case <-d.ctx.Done():
		return backends.ContextError(d.ctx, "Decrypt", "")
	}
	if !ok {
		return errCiphertext("decryption stopped")
	}
	<-b.done
	if b.err != nil {
		return b.err
	}
	d.cur = b
	return nil
}

// plaintext returns the plaintext of the current batch not yet handed out (nil
// when there is none).
func (d *Decrypter) plaintext() []byte {
	if d.cur == nil || d.off == len(d.cur.Out) {
		return nil
	}
	return d.cur.Out[d.off:]
}

// Read reads authenticated plaintext.
func (d *Decrypter) Read(p []byte) (int, error) {
	for {
		if pt := d.plaintext(); pt != nil {
			n := copy(p, pt)
			d.off += n
			return n, nil
		}
		if d.err != nil {
			return 0, d.err
		}
		if d.cur != nil && d.cur.Last {
			d.end()
			return 0, io.EOF
		}
		if err := d.next(); err != nil {
			d.fail(err)
			return 0, err
		}
		if len(p) == 0 {
			return 0, nil
		}
	}
}

// WriteTo writes the plaintext to w, a batch at a time, without an
// intermediate copy (io.Copy uses it).
func (d *Decrypter) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if pt := d.plaintext(); pt != nil {
			n, err := w.Write(pt)
			d.off += n
			total += int64(n)
			if err != nil {
				return total, err
			}
			continue
		}
		if d.err != nil {
			if d.err == io.EOF {
				return total, nil
			}
			return total, d.err
		}
		if d.cur != nil && d.cur.Last {
			d.end()
			return total, nil
		}
		if err := d.next(); err != nil {
			d.fail(err)
			return total, err
		}
	}
}

// end ends a message read whole: the batches no goroutine holds any more go
// back to the pool, their plaintext wiped.
func (d *Decrypter) end() {
	d.err = io.EOF
	give := func(b *dbatch) {
		clear(b.Out)
		body.PutBuf(b.Out)
		body.PutBuf(b.Buf)
		b.Out, b.Buf = nil, nil
		if d.par != nil {
			d.par.given++
		}
	}
	if d.cur != nil {
		give(d.cur)
		d.cur = nil
	}
	if d.par == nil {
		return
	}
	d.Close() // the workers stop: the last batch is read, so none is blocked in a read
	d.par.workers.Wait()
	for b := range d.par.pending { // batches numbered past the end (io.ReaderAt), whose Out holds an earlier batch's plaintext
		give(b)
	}
	for {
		select {
		case b := <-d.par.free:
			give(b)
		default:
			return
		}
	}
}

func (d *Decrypter) fail(err error) {
	d.err = err
	if d.cur != nil {
		clear(d.cur.Out)
		d.cur = nil
	}
	d.Close()
}

// Close stops the workers (one blocked in a read of the underlying reader stops
// when that read returns). It does not close the underlying reader.
func (d *Decrypter) Close() error {
	if d.par != nil {
		d.par.stopOnce.Do(func() { close(d.par.stop) })
	}
	if d.cur != nil {
		clear(d.cur.Out)
		d.cur = nil
	}
	if d.err == nil {
		d.err = errArg("Decrypt", "read after Close")
	}
	return nil
}
