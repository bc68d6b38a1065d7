package local

import (
	"errors"
	"io/fs"
	"os"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local/internal/state"
	"github.com/keyport/keyport/backends/local/internal/store"
)

// Errors of Open for a store file it cannot use. Open returns them wrapped in a
// *backends.Error of kind backends.ErrInvalidArgument; match them with errors.Is.
var (
	// ErrForeignStore: the file is not a keyport local store.
	ErrForeignStore = store.ErrForeign
	// ErrCorruptStore: the file is a keyport store but damaged or truncated.
	ErrCorruptStore = store.ErrCorrupt
	// ErrWrongRootKey: the file was written under another root key.
	ErrWrongRootKey = store.ErrWrongKey
)

type fileStore struct {
	path string
	root []byte
	last []byte // the bytes last written or read: the state to go back to
}

// load reads the store; a missing file is (nil, zero, nil).
func (f *fileStore) load() (*state.State, state.Meta, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, state.Meta{}, nil
	}
	if err != nil {
		return nil, state.Meta{}, backends.Errorf(backends.ErrInternal, "Open", "", "reading store: %w", err)
	}
	st, meta, err := state.Decode(f.root, b)
	if err != nil {
		return nil, state.Meta{}, backends.Errorf(backends.ErrInvalidArgument, "Open", "", "%s: %w", f.path, err)
	}
	if !validRegion(meta.Region) {
		st.Wipe()
		return nil, state.Meta{}, backends.Errorf(backends.ErrInvalidArgument, "Open", "", "%s: %w: bad region", f.path, store.ErrCorrupt)
	}
	f.last = b
	return st, meta, nil
}

// lastState decodes the state that was last written or read.
func (f *fileStore) lastState() (*state.State, error) {
	st, _, err := state.Decode(f.root, f.last)
	return st, err
}

func (f *fileStore) save(st *state.State, region, partition string) error {
	b, err := state.Encode(f.root, st, state.Meta{Region: region, Partition: partition})
	if err != nil {
		return err
	}
	if err := store.WriteFile(f.path, b); err != nil {
		return err
	}
	f.last = b
	return nil
}
