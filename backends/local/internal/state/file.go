package state

import (
	"encoding/json"
	"fmt"

	"github.com/keyport/keyport/backends/local/internal/store"
)

// Meta is what a store file says of its service.
type Meta struct {
	Region    string `json:"region"`
	Partition string `json:"partition"`
}

type payload struct {
	Format string `json:"format"`
	Meta
	State *State `json:"state"`
}

const format = "keyport-local/v1"

// Encode returns the bytes of a store file holding st, encrypted under root.
func Encode(root []byte, st *State, meta Meta) ([]byte, error) {
	pt, err := json.Marshal(payload{format, meta, st})
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return store.Seal(root, pt)
}

// Decode reads the bytes of a store file. Its errors match store.ErrForeign,
// store.ErrCorrupt (also for a decrypted state that is not valid) or
// store.ErrWrongKey.
func Decode(root, b []byte) (*State, Meta, error) {
	pt, err := store.Open(root, b)
	if err != nil {
		return nil, Meta{}, err
	}
	defer clear(pt)
	var p payload
	if err := json.Unmarshal(pt, &p); err != nil || p.Format != format || p.State == nil || p.Region == "" || p.Partition == "" || !p.State.Fixup() {
		p.State.Wipe()
		return nil, Meta{}, fmt.Errorf("%w: the decrypted state is not valid", store.ErrCorrupt)
	}
	return p.State, p.Meta, nil
}
