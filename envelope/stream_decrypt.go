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
// authenticated frames before the damage, no plaintext. Memory is bounded by a
// few frames per worker; a non-framed (legacy) body is held whole. A Decrypter is
// not safe for concurrent use; call Close to release its workers if you stop
// reading before the end.
type Decrypter struct {
	ctx         context.Context
	br          *bufio.Reader
	sess        *session
	res         *Result
	batchFrames int
	nextSeq     uint64

	cur    *dbatch
	off    int
	err    error
	single *dbatch // the batch of the sequential mode
	par    *decPipeline
}

var _ io.Reader = (*Decrypter)(nil)
var _ io.WriterTo = (*Decrypter)(nil)

// dbatch is a run of serialized frames and their plaintext.
type dbatch struct {
	in, out, aad []byte
	frames       []dframe
	last         bool
	err          error
	done         chan struct{}
}

type dframe struct {
	at int // offset of the frame in in
	l  format.FrameLayout
}

type decPipeline struct {
	jobs, pending, free chan *dbatch
	stop                chan struct{}
	stopOnce            sync.Once
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
	d := &Decrypter{ctx: ctx, br: br, sess: sess, res: res, nextSeq: 1, batchFrames: 1}
	if h.ContentType == format.ContentFramed {
		d.batchFrames = body.FramesPerChunk(sess.frameLen)
	}
	if n := workers(opts.Workers); n > 1 && h.ContentType == format.ContentFramed {
		d.par = d.start(n)
	} else {
		d.single = &dbatch{}
	}
	return d, nil
}

// Result describes the message: suite, encryption context, header.
func (d *Decrypter) Result() *Result { return d.res }

// readN appends n bytes from the input to dst, growing dst only as bytes arrive.
func (d *Decrypter) readN(dst []byte, n int, what string) ([]byte, error) {
	for n > 0 {
		step := n
		if room := cap(dst) - len(dst); room < step {
			step = min(n, max(room, 1<<20))
			dst = slices.Grow(dst, step)
		}
		start := len(dst)
		dst = dst[:start+step]
		if _, err := io.ReadFull(d.br, dst[start:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return dst[:start], errCiphertext("truncated in %s", what)
			}
			return dst[:start], err
		}
		n -= step
	}
	return dst, nil
}

// fill reads the next batch of frames (for the last one: and the footer, and
// checks the end of the input) into b. It is only ever called by one goroutine.
func (d *Decrypter) fill(b *dbatch) error {
	b.in, b.frames, b.last, b.err = b.in[:0], b.frames[:0], false, nil
	if err := backends.ContextError(d.ctx, "Decrypt", ""); err != nil {
		return err
	}
	var err error
	if d.sess.hdr.ContentType == format.ContentNonFramed {
		if b.in, err = d.readN(b.in, suite.IVLen+8, "the body"); err != nil {
			return err
		}
		n := binary.BigEndian.Uint64(b.in[suite.IVLen:])
		if n > format.MaxNonFramed {
			return errCiphertext("non-framed content length %d too large", n)
		}
		if b.in, err = d.readN(b.in, int(n)+suite.TagLen, "the body"); err != nil {
			return err
		}
		b.frames = append(b.frames, dframe{l: format.FrameLayout{Seq: 1, Len: int(n), Size: len(b.in)}})
		return d.finish(b)
	}
	F := d.sess.frameLen
	for len(b.frames) < d.batchFrames {
		at := len(b.in)
		if b.in, err = d.readN(b.in, 4, "the body"); err != nil {
			return err
		}
		if binary.BigEndian.Uint32(b.in[at:]) == format.EndMarker {
			if b.in, err = d.readN(b.in, format.FinalHeadLen-4, "the final frame"); err != nil {
				return err
			}
		}
		l, ok, err := format.ParseFrameHead(b.in[at:], uint32(F))
		if err != nil {
			return err
		}
		if !ok {
			return errCiphertext("malformed frame")
		}
		if uint64(l.Seq) != d.nextSeq {
			return errCiphertext("frame %d found where frame %d belongs", l.Seq, d.nextSeq)
		}
		d.nextSeq++
		if b.in, err = d.readN(b.in, l.Size-(len(b.in)-at), "frame"); err != nil {
			return err
		}
		b.frames = append(b.frames, dframe{at: at, l: l})
		if l.Final {
			return d.finish(b)
		}
	}
	if d.sess.verifier != nil {
		d.sess.verifier.Write(b.in)
	}
	return nil
}

// finish completes the batch that ends the body: signature and end of input.
func (d *Decrypter) finish(b *dbatch) error {
	b.last = true
	if v := d.sess.verifier; v != nil {
		v.Write(b.in)
		foot, err := d.readN(nil, 2, "the footer")
		if err != nil {
			return err
		}
		if foot, err = d.readN(foot, int(binary.BigEndian.Uint16(foot)), "the footer"); err != nil {
			return err
		}
		if !v.Verify(foot[2:]) {
			return errCiphertext("signature verification failed")
		}
	}
	if _, err := d.br.ReadByte(); err == nil {
		return errCiphertext("bytes after the end of the message")
	} else if err != io.EOF {
		return err
	}
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
	if d.sess.hdr.ContentType == format.ContentNonFramed {
		var err error
		if b.aad, err = d.sess.codec.OpenSingle(b.out, b.in, b.aad); err != nil {
			clear(b.out)
			return err
		}
		return nil
	}
	pos := 0
	var err error
	for _, f := range b.frames {
		if b.aad, err = d.sess.codec.OpenFrame(b.out[pos:], b.in[f.at:f.at+f.l.Size], f.l, b.aad); err != nil {
			clear(b.out)
			return err
		}
		pos += f.l.Len
	}
	return nil
}

// start runs the producer and n workers.
func (d *Decrypter) start(n int) *decPipeline {
	nb := 2*n + 2
	p := &decPipeline{
		jobs: make(chan *dbatch, nb), pending: make(chan *dbatch, nb), free: make(chan *dbatch, nb),
		stop: make(chan struct{}),
	}
	for range nb {
		p.free <- &dbatch{done: make(chan struct{}, 1)} // one signal per use, reused
	}
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for b := range p.jobs {
				b.err = d.open(b)
				b.done <- struct{}{}
			}
		})
	}
	go func() {
		defer close(p.pending)
		defer close(p.jobs)
		for {
			var b *dbatch
			select {
			case b = <-p.free:
			case <-p.stop:
				return
			}
			err := d.fill(b)
			p.pending <- b
			if err != nil {
				b.err = err
				b.done <- struct{}{}
				return
			}
			p.jobs <- b
			if b.last {
				return
			}
		}
	}()
	return p
}

// next makes the next batch of plaintext current.
func (d *Decrypter) next() error {
	if err := backends.ContextError(d.ctx, "Decrypt", ""); err != nil {
		return err
	}
	if d.par == nil {
		b := d.single
		if err := d.fill(b); err != nil {
			return err
		}
		if err := d.open(b); err != nil {
			return err
		}
		d.cur, d.off = b, 0
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
	d.cur, d.off = b, 0
	return nil
}

// Read reads authenticated plaintext.
func (d *Decrypter) Read(p []byte) (int, error) {
	for {
		if d.cur != nil && d.off < len(d.cur.out) {
			n := copy(p, d.cur.out[d.off:])
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

// WriteTo writes the plaintext to w without an intermediate copy (io.Copy uses it).
func (d *Decrypter) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if d.cur != nil && d.off < len(d.cur.out) {
			n, err := w.Write(d.cur.out[d.off:])
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

// Close stops the workers (a producer blocked in a read of the underlying reader
// stops when that read returns). It does not close the underlying reader.
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
