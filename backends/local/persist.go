package local

import (
	"context"
	"errors"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/store"
)

// Errors of Open and OpenExisting for a store they cannot use, and of the calls
// of a service whose store fails; match them with errors.Is. Each comes inside a
// *backends.Error: ErrNoStore of kind backends.ErrNotFound; ErrForeignStore,
// ErrWrongRootKey and (at Open) ErrCorruptStore of kind
// backends.ErrInvalidArgument; ErrReadOnlyStore of kind backends.ErrAccessDenied;
// ErrCorruptStore found by a later call of kind backends.ErrInternal.
var (
	// ErrNoStore: there is no store at the path (OpenExisting), or the file is
	// empty.
	ErrNoStore = store.ErrNoStore
	// ErrForeignStore: the file is not a keyport local store.
	ErrForeignStore = store.ErrForeign
	// ErrCorruptStore: the store is damaged, or a record was moved or edited,
	// or a row was deleted, added or put back as an older copy.
	ErrCorruptStore = store.ErrCorrupt
	// ErrWrongRootKey: the store was written under another root key.
	ErrWrongRootKey = store.ErrWrongKey
	// ErrReadOnlyStore: a change to a store whose file mode gives its owner no
	// write permission (0444, say), which is opened read-only; or Open of such a
	// store in the format keyport-local/v2, which must be converted first.
	ErrReadOnlyStore = store.ErrReadOnly
)

// WithLegacyRootKey gives the root key of a store in the version 1 file format
// (keyport before issue 9), when it is not the root key: Open then converts the
// store and seals it under the root key. Version 1 took any 32 bytes, raw or in
// base64, as the root key; this option takes them as they were (raw 32 bytes, or
// the base64 text).
func WithLegacyRootKey(key []byte) Option {
	return func(c *config) { c.legacyRootKey = append([]byte(nil), key...) }
}

// Open returns a Service that keeps its state in the store at path, an SQLite
// database (see package store's documentation in internal/store), creating it if
// there is no file at path or the file is empty. Several processes may open one
// store at once: every change is one transaction that reads what others
// committed, and every call sees what they committed before it acts. The
// records are sealed under a 32-byte root key taken from WithRootKey, else
// WithRootKeyFile, else the environment variable KEYPORT_LOCAL_ROOT_KEY (see
// ParseRootKey).
//
// A store in the version 1 file format is converted on the first Open: the new
// store is written beside it, read back and compared, and only then renamed over
// it (see WithLegacyRootKey). A file whose mode gives its owner no write
// permission is opened read-only: every change fails with ErrReadOnlyStore, and
// the clock neither rotates nor deletes keys. A file that is not a keyport store,
// is damaged, or was written under another root key is an error matching
// ErrForeignStore, ErrCorruptStore or ErrWrongRootKey; the file is left as it is.
func Open(path string, opts ...Option) (*Service, error) {
	return open("Open", path, true, opts)
}

// OpenExisting is Open for a store that must already exist: it never creates
// one, and a missing or empty file is an error matching ErrNoStore (and
// backends.ErrNotFound) that says "no store at PATH". Commands that only read
// use it, so that a mistyped path does not leave an empty store behind.
func OpenExisting(path string, opts ...Option) (*Service, error) {
	return open("OpenExisting", path, false, opts)
}

func open(op, path string, create bool, opts []Option) (*Service, error) {
	c := buildConfig(opts)
	defer clear(c.rootKey)
	defer clear(c.legacyRootKey)
	if c.err != nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "%v", c.err)
	}
	root, err := rootKeyFromConfig(c)
	if err != nil {
		return nil, err
	}
	defer clear(root)
	legacy := c.legacyRootKey
	if legacy != nil && len(legacy) != RootKeySize {
		if legacy, err = legacyKey(legacy); err != nil {
			return nil, backends.Wrap(backends.ErrInvalidArgument, op, "", err)
		}
		defer clear(legacy)
	}
	db, st, err := store.Open(context.Background(), path, root, store.Options{
		Create:     create,
		Meta:       store.Meta{Region: c.region, Partition: c.partition},
		LegacyRoot: legacy,
	})
	if err != nil {
		return nil, openErr(op, err)
	}
	m := db.Meta()
	if (c.regionSet && m.Region != c.region) || (c.partitionSet && m.Partition != c.partition) {
		db.Close()
		st.Wipe()
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, "", "store %s is for %s/%s, not %s/%s", path, m.Partition, m.Region, c.partition, c.region)
	}
	s := &Service{region: m.Region, partition: m.Partition, now: c.clock, st: st, db: db}
	s.setNextDue()
	return s, nil
}

// openErr maps an error of store.Open.
func openErr(op string, err error) error {
	kind := backends.ErrInvalidArgument
	switch {
	case errors.Is(err, store.ErrNoStore):
		kind = backends.ErrNotFound
	case errors.Is(err, store.ErrReadOnly):
		kind = backends.ErrAccessDenied
	case errors.Is(err, store.ErrForeign), errors.Is(err, store.ErrCorrupt), errors.Is(err, store.ErrWrongKey):
	default:
		kind = backends.ErrInternal
	}
	return backends.Errorf(kind, op, "", "%w", err)
}

// storeErr maps an error of the store during a call.
func (s *Service) storeErr(op string, err error) error {
	kind := backends.ErrInternal
	if errors.Is(err, store.ErrReadOnly) {
		kind = backends.ErrAccessDenied
	}
	return backends.Errorf(kind, op, "", "%w", err)
}

// ReadOnly reports whether the service's store is read-only (see Open); false
// for a service made by New.
func (s *Service) ReadOnly() bool { return s.db != nil && s.db.ReadOnly() }
