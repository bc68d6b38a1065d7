// Package store is where a migration reads and writes objects: a directory of
// the local file system, or any gocloud.dev/blob bucket. Both publish a new
// object only through a precondition on the version that was read, so that an
// object someone else changed meanwhile is left alone ([ErrChanged]).
package store

import (
	"context"
	"errors"
	"io"
	"io/fs"
)

// Object is one listed object.
type Object struct {
	// Key is the object's name under the store's root, '/'-separated.
	Key  string
	Size int64
	// Version is the store's fingerprint of the object's current content (a
	// local file's inode, size and times; a bucket's MD5, or its size and time):
	// it changes when the object does.
	Version string
}

// Store reads and writes the objects under one root.
type Store interface {
	// List calls fn for every object under the root, in the store's order.
	List(ctx context.Context, fn func(Object) error) error
	// Open opens key for reading.
	Open(ctx context.Context, key string) (Reader, error)
	// Create starts a new version of key. With o.Replace, publishing it
	// succeeds only while key is still the version that Reader read.
	Create(ctx context.Context, key string, o CreateOptions) (Writer, error)
	// Publish publishes written objects, in order, and returns one error per
	// writer (nil when published). A local directory does it for many at once:
	// it syncs every file, renames each, then syncs each directory once. Every
	// writer is finished afterwards, published or not.
	Publish(ctx context.Context, ws []Writer) []error
	// Batched reports whether Publish is cheaper per object for many writers
	// (the local directory) than for one at a time (buckets).
	Batched() bool
	// Version returns key's fingerprint now, as List reports it.
	Version(ctx context.Context, key string) (string, error)
	// Close releases the store.
	Close() error
}

// Reader reads one object.
type Reader interface {
	io.Reader
	Close() error
	// Size is the object's size.
	Size() int64
	// Version is the fingerprint of the version read.
	Version() string
}

// CreateOptions configure Create.
type CreateOptions struct {
	// Replace is the Reader of the version that must still be current when the
	// new one is published (nil: publish whatever is there).
	Replace Reader
	// Like is a Reader whose mode and owner a new local file takes (the source
	// of a copy); Replace's are taken otherwise.
	Like Reader
	// Size is the new object's size when known in advance (0: unknown).
	Size int64
}

// Writer writes a new object. Nothing is visible until Publish.
type Writer interface {
	io.Writer
	// Abort drops the new object; after Publish it does nothing.
	Abort()
}

// ErrChanged means the object changed (or vanished) since it was read: another
// writer was at work, and the object is left alone.
var ErrChanged = errors.New("the object changed since it was read (another writer?); left alone")

// ErrNotRegular means a local path is not a regular file (or has other hard
// links, which a replacement would leave behind under the old key).
var ErrNotRegular = errors.New("not a regular file with one link")

// fileInfoer is what the local store's readers offer for CreateOptions.Like.
type fileInfoer interface{ fileInfo() fs.FileInfo }
