package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"

	"cloud.google.com/go/storage"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	// The bucket kinds a URL may name.
	_ "gocloud.dev/blob/azureblob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/gcsblob"
	_ "gocloud.dev/blob/memblob"
	_ "gocloud.dev/blob/s3blob"
)

// Bucket is a gocloud.dev/blob bucket (s3://, gs://, azblob://, mem://, with
// a prefix through the URL's prefix parameter). A new object is published by
// closing its upload; in place, the upload carries the store's precondition on
// the version read: If-Match on the ETag for S3 and Azure, the generation for
// Cloud Storage. Where the store has none (mem://), the version is compared
// just before the upload is closed, which narrows the race but cannot close it.
type Bucket struct {
	b     *blob.Bucket
	owned bool // opened here: Close closes it
}

var _ Store = (*Bucket)(nil)

// OpenBucket opens a bucket URL.
func OpenBucket(ctx context.Context, url string) (*Bucket, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, err
	}
	return &Bucket{b: b, owned: true}, nil
}

// NewBucket wraps an open bucket, which the caller closes.
func NewBucket(b *blob.Bucket) *Bucket { return &Bucket{b: b} }

// bucketVersion is an object's fingerprint: its MD5 where the store keeps
// one, else its size and modification time.
func bucketVersion(md5 []byte, size int64, mod interface{ Unix() int64 }) string {
	if len(md5) > 0 {
		return "md5:" + hex.EncodeToString(md5)
	}
	return "mt:" + strconv.FormatInt(size, 10) + ":" + strconv.FormatInt(mod.Unix(), 10)
}

// List lists every object under the bucket's prefix, in key order.
func (s *Bucket) List(ctx context.Context, fn func(Object) error) error {
	it := s.b.List(nil)
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if o.IsDir {
			continue
		}
		if err := fn(Object{Key: o.Key, Size: o.Size, Version: bucketVersion(o.MD5, o.Size, o.ModTime)}); err != nil {
			return err
		}
	}
}

// Version returns key's fingerprint, from its attributes.
func (s *Bucket) Version(ctx context.Context, key string) (string, error) {
	a, err := s.b.Attributes(ctx, key)
	if err != nil {
		return "", err
	}
	return bucketVersion(a.MD5, a.Size, a.ModTime), nil
}

// bucketReader reads one object and remembers the precondition of its version.
type bucketReader struct {
	*blob.Reader
	key        string
	etag       string // S3, Azure
	generation int64  // Cloud Storage
	version    string // fallback: compared before publishing
}

func (r *bucketReader) Version() string { return r.version }

// Open opens key and notes the version it reads.
func (s *Bucket) Open(ctx context.Context, key string) (Reader, error) {
	r, err := s.b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, err
	}
	br := &bucketReader{Reader: r, key: key}
	var so s3.GetObjectOutput
	var gr *storage.Reader
	var ar azblobblob.DownloadStreamResponse
	switch {
	case r.As(&so):
		if so.ETag != nil {
			br.etag = *so.ETag
		}
	case r.As(&gr):
		br.generation = gr.Attrs.Generation
	case r.As(&ar):
		if ar.ETag != nil {
			br.etag = string(*ar.ETag)
		}
	}
	if br.etag == "" && br.generation == 0 {
		// No precondition: compare the attributes before publishing.
		if br.version, err = s.Version(ctx, key); err != nil {
			r.Close()
			return nil, err
		}
	}
	return br, nil
}

// bucketWriter is an upload that reads the new object from a pipe: it is
// published when the pipe is closed (Publish), and aborted when its context is
// canceled first (Abort). The upload goes through Bucket.Upload, the drivers'
// one-shot path (Azure's streaming Write path crashes when its upload fails,
// as a failed precondition makes it).
type bucketWriter struct {
	s      *Bucket
	pw     *io.PipeWriter
	result chan error
	cancel context.CancelFunc
	key    string
	check  string // a version to compare before closing (no precondition)
	done   bool
}

func (w *bucketWriter) Write(p []byte) (int, error) { return w.pw.Write(p) }

// errAborted ends the pipe of an aborted upload.
var errAborted = errors.New("upload aborted")

// Abort cancels the upload (the context first, so that nothing is
// committed): nothing is written.
func (w *bucketWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.cancel()
	w.pw.CloseWithError(errAborted)
	<-w.result
}

// Create starts an upload of key, with the store's precondition on the
// version o.Replace read.
func (s *Bucket) Create(ctx context.Context, key string, o CreateOptions) (Writer, error) {
	wctx, cancel := context.WithCancel(ctx)
	bw := &bucketWriter{s: s, cancel: cancel, key: key, result: make(chan error, 1)}
	opts := &blob.WriterOptions{ContentType: "application/octet-stream"}
	if o.Replace != nil {
		r, ok := o.Replace.(*bucketReader)
		if !ok {
			cancel()
			return nil, fmt.Errorf("replacing %s: not an object of this store", key)
		}
		bw.check = r.version
		etag, gen := r.etag, r.generation
		opts.BeforeWrite = func(as func(any) bool) error {
			var in *transfermanager.UploadObjectInput
			var oh **storage.ObjectHandle
			var ao *azblob.UploadStreamOptions
			switch {
			case etag != "" && as(&in):
				in.IfMatch = &etag
			case gen != 0 && as(&oh):
				*oh = (*oh).If(storage.Conditions{GenerationMatch: gen})
			case etag != "" && as(&ao):
				e := azcore.ETag(etag)
				ao.AccessConditions = &azblob.AccessConditions{ModifiedAccessConditions: &azblobblob.ModifiedAccessConditions{IfMatch: &e}}
			}
			return nil
		}
	}
	pr, pw := io.Pipe()
	bw.pw = pw
	go func() {
		err := s.b.Upload(wctx, key, pr, opts)
		pr.CloseWithError(err) // a writer still writing learns of the failure
		bw.result <- err
	}()
	return bw, nil
}

// Batched is false: each upload is published by itself.
func (s *Bucket) Batched() bool { return false }

// Publish closes each upload (concurrently); a failed precondition is
// ErrChanged.
func (s *Bucket) Publish(ctx context.Context, ws []Writer) []error {
	errs := make([]error, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		bw, ok := w.(*bucketWriter)
		if !ok || bw.done {
			errs[i] = errors.New("store: Publish of a writer that is not an open upload of this store")
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = bw.publish(ctx)
		}()
	}
	wg.Wait()
	return errs
}

func (w *bucketWriter) publish(ctx context.Context) error {
	if w.check != "" {
		v, err := w.s.Version(ctx, w.key)
		if gcerrors.Code(err) == gcerrors.NotFound || err == nil && v != w.check {
			w.Abort()
			return ErrChanged
		}
		if err != nil {
			w.Abort()
			return err
		}
	}
	w.done = true
	w.pw.Close()
	err := <-w.result
	w.cancel()
	if gcerrors.Code(err) == gcerrors.FailedPrecondition {
		return ErrChanged
	}
	return err
}

// Close closes the bucket if OpenBucket opened it.
func (s *Bucket) Close() error {
	if !s.owned {
		return nil
	}
	return s.b.Close()
}
