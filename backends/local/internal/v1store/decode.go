package v1store

import (
	"encoding/json"
	"fmt"

	"github.com/keyport/keyport/backends/local/internal/state"
)

// Meta is what a store file says of its service.
type Meta struct {
	Region    string `json:"region"`
	Partition string `json:"partition"`
}

type payload struct {
	Format string `json:"format"`
	Meta
	State *state.State `json:"state"`
}

const format = "keyport-local/v1"

// Encode returns the bytes of a version 1 store file holding st, encrypted under
// root. Only tests write version 1 files now.
func Encode(root []byte, st *state.State, meta Meta) ([]byte, error) {
	pt, err := json.Marshal(payload{format, meta, st})
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return Seal(root, pt)
}

// Decode reads the bytes of a store file. Its errors match ErrForeign,
// ErrCorrupt (also for a decrypted state that is not valid) or
// ErrWrongKey.
func Decode(root, b []byte) (*state.State, Meta, error) {
	pt, err := Open(root, b)
	if err != nil {
		return nil, Meta{}, err
	}
	defer clear(pt)
	var p payload
	if err := json.Unmarshal(pt, &p); err != nil || p.Format != format || p.State == nil || p.Region == "" || p.Partition == "" || !p.State.Fixup() {
		p.State.Wipe()
		return nil, Meta{}, fmt.Errorf("%w: the decrypted state is not valid", ErrCorrupt)
	}
	return p.State, p.Meta, nil
}
