package envelope

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"sync"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/envelope/internal/body"
	"github.com/keyport/keyport/envelope/internal/format"
	"github.com/keyport/keyport/envelope/internal/suite"
)

// Decrypter decrypts a message read from an io.Reader. It releases the plaintext
// of a frame only after the frame is authenticated, and the final frame's only
// after the signature (signed suites) is verified and the input has ended, so a
// truncated, reordered or altered message yields an error and, apart from
// authenticated frames before the damage, no plaintext. It reads the body a batch
// of frames at a time (256 KiB, 1 MiB with workers) straight into its buffer (one
// copy) and decrypts the batch into one piece of plaintext (one write); with
// Workers > 1 the batches are decrypted on several goroutines while the next are
// read. Memory is bounded by a few batches per worker; a non-framed (legacy) body
// is held whole.
// A Decrypter is not safe for concurrent use; call Close to release its workers
// if you stop reading before the end.
type Decrypter struct {
	ctx         context.Context
	br          *bufio.Reader
	sess        *session
	res         *Result
	batchFrames int
	batchBytes  int // the bytes of a batch of regular frames
	nextSeq     uint64
	eof         bool // the input has ended

	cur    *dbatch
	off    int // bytes of cur.out handed out
	err    error
	single *dbatch // the batch of the sequential mode
	par    *decPipeline
}

var _ io.Reader = (*Decrypter)(nil)
var _ io.WriterTo = (*Decrypter)(nil)

// dbatch is a run of serialized frames (buf) and their plaintext (out).
type dbatch struct {
	buf, out []byte
	frames   []dframe
	aad      []byte
	last     bool
	err      error
	done     chan struct{}
}

// dframe is a frame of a batch.
type dframe struct {
	at int
	l  format.FrameLayout
}

// decPipeline decrypts batches on workers: each worker reads the next batch
// (one at a time, in order, under mu) and then decrypts it, so a batch is read
// and decrypted by the same core; the reader takes the batches in order.
type decPipeline struct {
	mu       sync.Mutex // held while a batch is read
	ended    bool       // the last batch (or an error) is read; mu guards it
	pending  chan *dbatch
	free     chan *dbatch
	stop     chan struct{}
	stopOnce sync.Once
}

// NewDecrypter reads and authenticates the header (unwrapping the data key with
// opts.Keyring) and returns the reader of the plaintext. Result is available at
// once; for signed suites it is final only once Read has returned io.EOF.
func NewDecrypter(ctx context.Context, r io.Reader, opts DecryptOptions) (*Decrypter, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	ds, err := newDecSession(&opts, false)
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
	d := &Decrypter{ctx: ctx, br: br, sess: sess, res: res, nextSeq: 1, batchFrames: 1}
	if h.ContentType == format.ContentFramed {
		d.batchFrames = streamBatchFrames(sess.frameLen, n)
		d.batchBytes = d.batchFrames * (sess.frameLen + format.RegularOverhead)
	}
	if n > 1 && h.ContentType == format.ContentFramed {
		d.par = d.start(n)
	} else {
		d.single = &dbatch{}
	}
	return d, nil
}

// streamBatchFrames is the number of frames of frameLen bytes a streaming
// batch holds: 256 KiB of plaintext sequentially (it stays in the core's cache
// from the read to the write), 1 MiB with workers (fewer hand-offs between
// goroutines).
func streamBatchFrames(frameLen, workers int) int {
	if workers > 1 {
		return max(1, (1<<20)/frameLen)
	}
	return body.FramesPerChunk(frameLen)
}

// Result describes the message: suite, encryption context, header.
func (d *Decrypter) Result() *Result { return d.res }

// readUpTo appends up to n bytes of the input to dst, growing dst only as bytes
// arrive (a forged length costs no more memory than the bytes sent); it stops
// early only at the end of the input, which it records.
func (d *Decrypter) readUpTo(dst []byte, n int) ([]byte, error) {
	for n > 0 && !d.eof {
		step := n
		if room := cap(dst) - len(dst); room < step {
			step = min(n, max(room, 1<<20))
			dst = slices.Grow(dst, step)
		}
		start := len(dst)
		m, err := io.ReadFull(d.br, dst[start:start+step])
		dst = dst[:start+m]
		n -= m
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			d.eof = true
		} else if err != nil {
			return dst, err
		}
	}
	return dst, nil
}

// need makes sure b holds at least n bytes, reading what is missing.
func (d *Decrypter) need(b *dbatch, n int, what string) error {
	if len(b.buf) >= n {
		return nil
	}
	var err error
	if b.buf, err = d.readUpTo(b.buf, n-len(b.buf)); err != nil {
		return err
	}
	if len(b.buf) < n {
		return errCiphertext("truncated in %s", what)
	}
	return nil
}

// fill reads the next batch of frames into b: a batch of regular frames in one
// read, or the frames up to the final frame (then the footer, the signature and
// the end of the input are checked). It is only ever called by one goroutine.
func (d *Decrypter) fill(b *dbatch) error {
	b.buf, b.frames, b.last, b.err = b.buf[:0], b.frames[:0], false, nil
	if err := backends.ContextError(d.ctx, "Decrypt", ""); err != nil {
		return err
	}
	if d.sess.hdr.ContentType == format.ContentNonFramed {
		const head = suite.IVLen + 8
		if err := d.need(b, head, "the body"); err != nil {
			return err
		}
		n := binary.BigEndian.Uint64(b.buf[suite.IVLen:])
		if n > format.MaxNonFramed {
			return errCiphertext("non-framed content length %d too large", n)
		}
		if err := d.need(b, head+int(n)+suite.TagLen, "the body"); err != nil {
			return err
		}
		size := head + int(n) + suite.TagLen
		b.frames = append(b.frames, dframe{l: format.FrameLayout{Seq: 1, Content: head, Len: int(n), Size: size}})
		return d.finish(b, size)
	}
	if cap(b.buf) == 0 && d.batchBytes <= 4<<20 {
		// Room for a final frame that ends the batch, and the footer.
		b.buf = make([]byte, 0, d.batchBytes+format.FinalOverhead+maxFooter)
	}
	var err error
	if b.buf, err = d.readUpTo(b.buf, d.batchBytes); err != nil {
		return err
	}
	F, p := d.sess.frameLen, 0
	for len(b.frames) < d.batchFrames {
		if err := d.need(b, p+4, "the body"); err != nil {
			return err
		}
		if binary.BigEndian.Uint32(b.buf[p:]) == format.EndMarker {
			if err := d.need(b, p+format.FinalHeadLen, "the final frame"); err != nil {
				return err
			}
		}
		l, ok, err := format.ParseFrameHead(b.buf[p:], uint32(F))
		if err != nil {
			return err
		}
		if !ok {
			return errCiphertext("malformed frame")
		}
		if uint64(l.Seq) != d.nextSeq {
			return errCiphertext("frame %d found where frame %d belongs", l.Seq, d.nextSeq)
		}
		if err := d.need(b, p+l.Size, "frame"); err != nil {
			return err
		}
		d.nextSeq++
		b.frames = append(b.frames, dframe{at: p, l: l})
		p += l.Size
		if l.Final {
			return d.finish(b, p)
		}
	}
	// A whole batch of regular frames: exactly what was read.
	if p != len(b.buf) {
		return backends.Errorf(backends.ErrInternal, "Decrypt", "", "batch of %d bytes holds %d bytes of frames", len(b.buf), p)
	}
	if d.sess.verifier != nil {
		d.sess.verifier.Write(b.buf)
	}
	return nil
}

// finish completes the batch that ends the body at b.buf[:end]: the footer and
// the signature (signed suites), and the end of the input.
func (d *Decrypter) finish(b *dbatch, end int) error {
	b.last = true
	rest := end
	if v := d.sess.verifier; v != nil {
		v.Write(b.buf[:end])
		if err := d.need(b, end+2, "the footer"); err != nil {
			return err
		}
		rest = end + 2 + int(binary.BigEndian.Uint16(b.buf[end:]))
		if err := d.need(b, rest, "the footer"); err != nil {
			return err
		}
		if !v.Verify(b.buf[end+2 : rest]) {
			return errCiphertext("signature verification failed")
		}
	}
	if len(b.buf) > rest {
		return errCiphertext("bytes after the end of the message")
	}
	if !d.eof {
		if _, err := d.br.ReadByte(); err == nil {
			return errCiphertext("bytes after the end of the message")
		} else if err != io.EOF {
			return err
		}
		d.eof = true
	}
	b.buf = b.buf[:end]
	return nil
}

// open authenticates and decrypts every frame of b into b.out.
func (d *Decrypter) open(b *dbatch) error {
	n := 0
	for _, f := range b.frames {
		n += f.l.Len
	}
	if cap(b.out) < n {
		b.out = make([]byte, n)
	}
	b.out = b.out[:n]
	c := &d.sess.codec
	var err error
	if d.sess.hdr.ContentType == format.ContentNonFramed {
		if b.aad, err = c.OpenSingle(b.out, b.buf, b.aad); err != nil {
			clear(b.out)
		}
		return err
	}
	pos := 0
	for _, f := range b.frames {
		if b.aad, err = c.OpenFrame(b.out[pos:], b.buf[f.at:f.at+f.l.Size], f.l, b.aad); err != nil {
			clear(b.out)
			return err
		}
		pos += f.l.Len
	}
	return nil
}

// start runs n workers.
func (d *Decrypter) start(n int) *decPipeline {
	nb := 2*n + 1
	p := &decPipeline{pending: make(chan *dbatch, nb), free: make(chan *dbatch, nb), stop: make(chan struct{})}
	for range nb {
		p.free <- &dbatch{done: make(chan struct{}, 1)} // one signal per use, reused
	}
	for range n {
		go func() {
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
					p.ended = true
				default:
				}
				if p.ended {
					p.mu.Unlock()
					return
				}
				err := d.fill(b)
				p.pending <- b // in the order of the input
				if err != nil || b.last {
					p.ended = true
					close(p.pending)
				}
				p.mu.Unlock()
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
	if d.cur == nil || d.off == len(d.cur.out) {
		return nil
	}
	return d.cur.out[d.off:]
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
		if d.cur != nil && d.cur.last {
			d.err = io.EOF
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
		if d.cur != nil && d.cur.last {
			d.err = io.EOF
			return total, nil
		}
		if err := d.next(); err != nil {
			d.fail(err)
			return total, err
		}
	}
}

func (d *Decrypter) fail(err error) {
	d.err = err
	if d.cur != nil {
		clear(d.cur.out)
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
		clear(d.cur.out)
		d.cur = nil
	}
	if d.err == nil {
		d.err = errArg("Decrypt", "read after Close")
	}
	return nil
}
