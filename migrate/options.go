package migrate

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"gocloud.dev/blob"

	"github.com/keyport/keyport/backends"
)

// Format says what the objects are.
type Format int

// Formats.
const (
	// Messages: AWS Encryption SDK messages, resealed under the destination
	// keys (a new data key and message ID, the body encrypted again).
	Messages Format = iota
	// Blobs: raw KMS ciphertext blobs (at most 6144 bytes each), re-encrypted
	// by [reencrypt.Engine] under the one destination key.
	Blobs
)

// String returns "message" or "blob".
func (f Format) String() string {
	if f == Blobs {
		return "blob"
	}
	return "message"
}

// ParseFormat parses "message" or "blob".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "message", "messages", "":
		return Messages, nil
	case "blob", "blobs":
		return Blobs, nil
	}
	return 0, backends.Errorf(backends.ErrInvalidArgument, op, "", "unknown format %q (message or blob)", s)
}

// Shard selects a share of the objects: K of N (0 <= K < N), by a hash of each
// object's key, so that N runs with K = 0..N-1 cover every object exactly once
// with no coordination. The zero Shard is every object.
type Shard struct{ K, N int }

// ParseShard parses "K/N" ("" is every object).
func ParseShard(s string) (Shard, error) {
	if s == "" {
		return Shard{}, nil
	}
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 0 || k >= n {
		return Shard{}, backends.Errorf(backends.ErrInvalidArgument, op, "", "shard %q is not K/N with 0 <= K < N", s)
	}
	return Shard{K: k, N: n}, nil
}

// String returns "K/N", or "" for every object.
func (s Shard) String() string {
	if s.N <= 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", s.K, s.N)
}

// Contains reports whether key belongs to the shard: FNV-1a (64 bits) of the
// key, modulo N, is K. The hash is fixed: shards stay the same across versions,
// machines and runs.
func (s Shard) Contains(key string) bool {
	if s.N <= 1 {
		return true
	}
	h := fnv.New64a()
	h.Write([]byte(key))
	return h.Sum64()%uint64(s.N) == uint64(s.K)
}

// Options configure [Run].
type Options struct {
	// Front reaches every key (required). Give it the backends.Retry
	// interceptor so that throttling and timeouts are retried with backoff;
	// [Run] never changes it.
	Front *backends.Front

	// Source is a directory (a path or a file:// URL) or a bucket URL (s3://,
	// gs://, azblob://, mem://; a prefix with the URL's prefix parameter).
	Source string
	// SourceBucket, if set, is an open bucket to migrate instead of opening
	// Source (which then only names it in the report and the journal); the
	// caller closes it. A mem:// URL opens a new, empty bucket every time, so
	// an in-memory bucket is given this way.
	SourceBucket *blob.Bucket
	// Destination, if set, is where the new objects go (same forms; the same
	// keys under it): the source is left untouched, and only migrated objects
	// are written (skipped ones are not copied). Empty: in place.
	Destination string
	// DestinationBucket, if set, is an open bucket to copy to instead of
	// opening Destination.
	DestinationBucket *blob.Bucket

	// From, if set, are the only keys allowed to unwrap (an allow-list);
	// objects under none of them are skipped. Empty: any key the Front reaches.
	From []string
	// To are the destination keys (at least one; the first makes the data key;
	// exactly one for Blobs).
	To []string
	// SourceEncryptionContext is the context the objects were encrypted with
	// (for messages: the required pairs, and any stored pairs to check).
	SourceEncryptionContext map[string]string
	// DestinationEncryptionContext, if not nil, replaces the context; nil keeps
	// each object's.
	DestinationEncryptionContext map[string]string
	// GrantTokens go to every key-service call.
	GrantTokens []string

	// Format is what the objects are (Messages by default).
	Format Format
	// Rewrap keeps each message's data key and message ID and copies its body
	// byte for byte (many times faster), instead of resealing it. Read the
	// security note of rekey.Rewrap first: whoever holds an old and a new copy
	// of a message can forge that message.
	Rewrap bool
	// AllowNonCommitting also reads messages of suites without key
	// commitment (they are written again with a committing suite).
	AllowNonCommitting bool

	// Include and Exclude are doublestar globs ("**/*.enc") on object keys (the
	// path under Source, '/'-separated): with Include, only matching objects are
	// migrated; an object matching Exclude is not. Objects left out this way are
	// counted, not journaled.
	Include, Exclude []string
	// Shard selects this run's share of the objects.
	Shard Shard

	// Jobs is the number of objects migrated at once (default 1); each holds at
	// most one key-service call at a time, so it also bounds the calls in
	// flight to each key service.
	Jobs int
	// MaxFailures stops the run once that many objects failed (0: never).
	MaxFailures int
	// DryRun re-encrypts and verifies every object, writes nothing, and keeps
	// its journal in memory.
	DryRun bool

	// Journal is the journal's file (default: [DefaultJournal]). A rerun with the
	// same journal resumes.
	Journal string

	// Logger receives warnings and stale temporary files (default: discarded).
	Logger *slog.Logger
	// Progress, if set, is called every ProgressInterval (default 200ms) and
	// once at the end; see [ProgressBar] and [LogProgress].
	Progress         func(Progress)
	ProgressInterval time.Duration

	// LargeObject is the size from which an object is streamed, with its
	// frames sealed and opened on all cores, rather than held in memory
	// (default 1 MiB).
	LargeObject int64
}

// validate checks the options that need no key service.
func (o *Options) validate() error {
	switch {
	case o.Front == nil:
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "no Front")
	case o.Source == "" && o.SourceBucket == nil:
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "no source")
	case len(o.To) == 0:
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "no destination key")
	case o.Format == Blobs && len(o.To) != 1:
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "ciphertext blobs go to exactly one destination key, not %d", len(o.To))
	case o.Format != Messages && o.Format != Blobs:
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "unknown format %d", o.Format)
	case o.Shard.N < 0 || o.Shard.N > 0 && (o.Shard.K < 0 || o.Shard.K >= o.Shard.N):
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "shard %d/%d: want 0 <= K < N", o.Shard.K, o.Shard.N)
	case o.Jobs < 0:
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "jobs must be at least 1")
	case o.MaxFailures < 0:
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "max failures must not be negative")
	}
	for _, p := range slices.Concat(o.Include, o.Exclude) {
		if !doublestar.ValidatePattern(p) {
			return backends.Errorf(backends.ErrInvalidArgument, op, "", "bad glob %q", p)
		}
	}
	if o.Jobs == 0 {
		o.Jobs = 1
	}
	if o.LargeObject <= 0 {
		o.LargeObject = 1 << 20
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 200 * time.Millisecond
	}
	return nil
}

// selected reports whether the filters take key.
func (o *Options) selected(key string) bool {
	if len(o.Include) > 0 && !slices.ContainsFunc(o.Include, func(p string) bool { return match(p, key) }) {
		return false
	}
	return !slices.ContainsFunc(o.Exclude, func(p string) bool { return match(p, key) })
}

func match(pattern, key string) bool {
	ok, _ := doublestar.Match(pattern, key)
	return ok
}

// identity names the migration in its journal: a journal of another migration
// is refused rather than taken for this one's progress. Encryption contexts
// are recorded by digest only.
func (o *Options) identity(to, from []string) map[string]string {
	ctxDigest := func(ec map[string]string) string {
		if ec == nil {
			return "keep"
		}
		s := sha256.Sum256(backends.EncodeEncryptionContext(ec))
		return hex.EncodeToString(s[:8])
	}
	return map[string]string{
		"source":      o.Source,
		"destination": o.Destination,
		"to":          strings.Join(to, ","),
		"from":        strings.Join(from, ","),
		"format":      o.Format.String(),
		"rewrap":      strconv.FormatBool(o.Rewrap),
		"shard":       o.Shard.String(),
		"include":     strings.Join(o.Include, "\x00"),
		"exclude":     strings.Join(o.Exclude, "\x00"),
		"context":     ctxDigest(o.SourceEncryptionContext),
		"new-context": ctxDigest(o.DestinationEncryptionContext),
	}
}

// DefaultJournal returns the journal file a run of o uses when o.Journal is
// empty: ".keyport-migrate-HASH[-shard-K-of-N].db" in the working directory,
// HASH naming the migration (source, destination, keys as given, filters,
// format, method, contexts), so that reruns of the same command share it and
// different ones do not.
func DefaultJournal(o Options) string {
	id := o.identity(o.To, o.From)
	keys := make([]string, 0, len(id))
	for k := range id {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	h := sha256.New()
	for _, k := range keys {
		h.Write([]byte(k + "=" + id[k]))
		h.Write([]byte{0})
	}
	name := ".keyport-migrate-" + hex.EncodeToString(h.Sum(nil)[:6])
	if o.Shard.N > 1 {
		name += fmt.Sprintf("-shard-%d-of-%d", o.Shard.K, o.Shard.N)
	}
	return filepath.Join(".", name+".db")
}
