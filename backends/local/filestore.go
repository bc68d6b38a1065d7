package local

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"

	"github.com/keyport/keyport/backends"
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

type storeMeta struct {
	Format    string `json:"format"`
	Region    string `json:"region"`
	Partition string `json:"partition"`
}

type storePayload struct {
	storeMeta
	State *state `json:"state"`
}

const payloadFormat = "keyport-local/v1"

// load reads the store; a missing file is (nil, zero, nil).
func (f *fileStore) load() (*state, storeMeta, error) {
	b, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, storeMeta{}, nil
	}
	if err != nil {
		return nil, storeMeta{}, backends.Errorf(backends.ErrInternal, "Open", "", "reading store: %w", err)
	}
	st, meta, err := parseStore(f.root, b)
	if err == nil {
		f.last = b
	}
	return st, meta, err
}

// lastState decodes the state that was last written or read.
func (f *fileStore) lastState() (*state, error) {
	st, _, err := parseStore(f.root, f.last)
	return st, err
}

// parseStore decrypts and decodes the bytes of a store file.
func parseStore(root, b []byte) (*state, storeMeta, error) {
	pt, err := store.Open(root, b)
	if err != nil {
		return nil, storeMeta{}, backends.Errorf(backends.ErrInvalidArgument, "Open", "", "%w", err)
	}
	defer clear(pt)
	var p storePayload
	if err := json.Unmarshal(pt, &p); err != nil || p.Format != payloadFormat || p.State == nil || !validRegion(p.Region) || !p.State.fixup() {
		p.State.wipe()
		return nil, storeMeta{}, backends.Errorf(backends.ErrInvalidArgument, "Open", "", "%w: the decrypted state is not valid", store.ErrCorrupt)
	}
	return p.State, p.storeMeta, nil
}

func (f *fileStore) save(st *state, region, partition string) error {
	pt, err := json.Marshal(storePayload{storeMeta{payloadFormat, region, partition}, st})
	if err != nil {
		return err
	}
	defer clear(pt)
	b, err := store.Seal(f.root, pt)
	if err != nil {
		return err
	}
	if err := store.WriteFile(f.path, b); err != nil {
		return err
	}
	f.last = b
	return nil
}
