package tink

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keyport/keyport/backends"
	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	tinkpb "github.com/tink-crypto/tink-go/v2/proto/tink_go_proto"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// Keyset is one Tink AEAD keyset held as one keyport key: its keys are the
// key's versions, the primary encrypts, every enabled key decrypts, and Tink's
// output prefix on each ciphertext names the key that made it. A Keyset is safe
// for concurrent use; its changes (Rotate, AddKey, Promote, Enable, Disable,
// Destroy) are serialized and each is written back to its Storage before it takes
// effect. Only one process may change a keyset file: nothing locks it, and the
// last writer wins.
type Keyset struct {
	name    string
	storage Storage

	mu    sync.Mutex // serializes changes
	state atomic.Pointer[keysetState]
}

// keysetState is an immutable snapshot of a keyset: its handle, the primitive
// made from it, and what each output prefix names.
type keysetState struct {
	handle   *keyset.Handle
	aead     tink.AEAD
	keys     []KeyInfo
	byPrefix map[string]*KeyInfo
	hasRaw   bool // an enabled key without prefix: its ciphertexts name no key
}

// KeyInfo describes one key of a keyset.
type KeyInfo struct {
	// ID is Tink's key ID, the one its output prefix carries.
	ID uint32
	// Type is the key's Tink type URL (type.googleapis.com/google.crypto.tink.AesGcmKey).
	Type string
	// Status is the key's status in the keyset.
	Status keyset.KeyStatus
	// Primary says the key encrypts.
	Primary bool
	// OutputPrefix is Tink's output prefix type (TINK, RAW, LEGACY, CRUNCHY).
	OutputPrefix string
}

// Version numbers a keyset's keys from 1 in the order the keyset lists them,
// which is the order they were added.
func (st *keysetState) version(id uint32) int {
	for i, k := range st.keys {
		if k.ID == id {
			return i + 1
		}
	}
	return 0
}

// Create makes a keyset named name with one key of type kt as its primary and
// writes it to st (nothing is written for a keyset in memory). An existing file
// at st.Path is replaced.
func Create(ctx context.Context, name string, kt KeyType, st Storage) (*Keyset, error) {
	const op = "CreateKeyset"
	return hold(ctx, op, name, st, true, func() (*keyset.Handle, error) {
		tmpl, ok := kt.template()
		if !ok {
			return nil, backends.Errorf(backends.ErrInvalidArgument, op, name, "unknown key type %q", string(kt))
		}
		h, err := keyset.NewHandle(tmpl)
		if err != nil {
			return nil, backends.Errorf(backends.ErrInternal, op, name, "make the keyset: %v", err)
		}
		return h, nil
	})
}

// Open reads the keyset at st.Path, in Tink's JSON or binary format, encrypted
// under st's KEK or (with st.InsecureCleartext) in cleartext, and names it name.
func Open(ctx context.Context, name string, st Storage) (*Keyset, error) {
	const op = "OpenKeyset"
	return hold(ctx, op, name, st, false, func() (*keyset.Handle, error) {
		if st.Path == "" {
			return nil, backends.Errorf(backends.ErrInvalidArgument, op, name, "Storage.Path is empty")
		}
		return st.load(ctx, op, name)
	})
}

// Read reads a keyset from r as Open reads a file; changes are written to
// st.Path when it is set.
func Read(ctx context.Context, name string, r io.Reader, st Storage) (*Keyset, error) {
	const op = "ReadKeyset"
	return hold(ctx, op, name, st, false, func() (*keyset.Handle, error) {
		data, err := io.ReadAll(r)
		defer clear(data)
		if err != nil {
			return nil, backends.Errorf(backends.ErrInvalidArgument, op, name, "read the keyset: %w", err)
		}
		return st.decode(ctx, op, name, data)
	})
}

// FromHandle holds an existing keyset handle as a keyset named name; changes are
// written to st.Path when it is set.
func FromHandle(name string, h *keyset.Handle, st Storage) (*Keyset, error) {
	const op = "FromHandle"
	return hold(context.Background(), op, name, st, false, func() (*keyset.Handle, error) {
		if h == nil {
			return nil, backends.Errorf(backends.ErrInvalidArgument, op, name, "nil keyset handle")
		}
		return h, nil
	})
}

// hold checks name and st for op, then holds the handle that handle returns as
// the keyset named name, writing it to st at once when write is set.
func hold(ctx context.Context, op, name string, st Storage, write bool, handle func() (*keyset.Handle, error)) (*Keyset, error) {
	if err := checkName(op, name); err != nil {
		return nil, err
	}
	if err := st.check(op, name); err != nil {
		return nil, err
	}
	h, err := handle()
	if err != nil {
		return nil, err
	}
	ks := &Keyset{name: name, storage: st}
	if err := ks.install(ctx, op, h, write); err != nil {
		return nil, err
	}
	return ks, nil
}

// checkName accepts keyset names of 1 to 128 letters, digits, '.', '_' and '-'.
func checkName(op, name string) error {
	if name == "" || len(name) > 128 || strings.Trim(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != "" {
		return backends.Errorf(backends.ErrInvalidArgument, op, "", "invalid keyset name %q: want 1 to 128 of [A-Za-z0-9._-]", truncate(name, 40))
	}
	return nil
}

// Name returns the keyset's name.
func (k *Keyset) Name() string { return k.name }

// URI returns the keyset's canonical key reference, tink-keyset://<name>.
func (k *Keyset) URI() string { return Scheme + "://" + k.name }

// Handle returns the keyset's current handle, for use with Tink directly.
func (k *Keyset) Handle() *keyset.Handle { return k.state.Load().handle }

// Keys lists the keyset's keys in the keyset's order (the order they were added).
func (k *Keyset) Keys() []KeyInfo {
	return append([]KeyInfo(nil), k.state.Load().keys...)
}

// WriteTo writes the keyset to w as its Storage says (format, KEK or cleartext),
// the form Open reads.
func (k *Keyset) WriteTo(ctx context.Context, w io.Writer) error {
	return k.storage.encode(ctx, "WriteKeyset", k.URI(), w, k.Handle())
}

// Rotate adds a key of type kt and makes it the primary: new ciphertexts use it,
// old ones still decrypt. It returns the new key's ID.
func (k *Keyset) Rotate(ctx context.Context, kt KeyType) (uint32, error) {
	return k.add(ctx, "Rotate", kt, true)
}

// AddKey adds an enabled key of type kt that is not the primary (it decrypts,
// and Promote makes it encrypt). It returns the new key's ID.
func (k *Keyset) AddKey(ctx context.Context, kt KeyType) (uint32, error) {
	return k.add(ctx, "AddKey", kt, false)
}

func (k *Keyset) add(ctx context.Context, op string, kt KeyType, primary bool) (uint32, error) {
	tmpl, ok := kt.template()
	if !ok {
		return 0, backends.Errorf(backends.ErrInvalidArgument, op, k.URI(), "unknown key type %q", string(kt))
	}
	var id uint32
	err := k.change(ctx, op, func(m *keyset.Manager) error {
		var err error
		if id, err = m.Add(tmpl); err != nil {
			return err
		}
		if primary {
			return m.SetPrimary(id)
		}
		return nil
	})
	return id, err
}

// Promote makes the enabled key id the primary.
func (k *Keyset) Promote(ctx context.Context, id uint32) error {
	return k.changeKey(ctx, "Promote", id, func(m *keyset.Manager) error { return m.SetPrimary(id) })
}

// Enable enables the key id, so that its ciphertexts decrypt again.
func (k *Keyset) Enable(ctx context.Context, id uint32) error {
	return k.changeKey(ctx, "Enable", id, func(m *keyset.Manager) error { return m.Enable(id) })
}

// Disable disables the key id, which must not be the primary: its ciphertexts
// fail with backends.ErrDisabled until it is enabled again.
func (k *Keyset) Disable(ctx context.Context, id uint32) error {
	return k.changeKey(ctx, "Disable", id, func(m *keyset.Manager) error { return m.Disable(id) })
}

// Destroy removes the key id, which must not be the primary, and its key
// material from the keyset, for good: its ciphertexts can never be decrypted
// again, and since the keyset no longer knows the key they fail as any
// ciphertext of an unknown key does (backends.ErrInvalidCiphertext). Re-encrypt
// them first (reencrypt.Engine) and disable the key for a while before.
func (k *Keyset) Destroy(ctx context.Context, id uint32) error {
	return k.changeKey(ctx, "Destroy", id, func(m *keyset.Manager) error { return m.Delete(id) })
}

// changeKey applies f to the keyset after checking that key id is in it.
func (k *Keyset) changeKey(ctx context.Context, op string, id uint32, f func(*keyset.Manager) error) error {
	return k.change(ctx, op, func(m *keyset.Manager) error {
		if k.state.Load().version(id) == 0 {
			return backends.Errorf(backends.ErrNotFound, op, k.URI(), "the keyset has no key %d", id)
		}
		return f(m)
	})
}

// change applies f to a copy of the keyset, writes the result to the storage
// and only then makes it current: a failure leaves the keyset as it was, in
// memory and on disk.
func (k *Keyset) change(ctx context.Context, op string, f func(*keyset.Manager) error) error {
	if err := backends.ContextError(ctx, op, k.URI()); err != nil {
		return err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	m := keyset.NewManagerFromHandle(k.state.Load().handle)
	if err := f(m); err != nil {
		if _, ok := err.(*backends.Error); ok {
			return err
		}
		// Tink's manager refuses to disable, destroy or promote what it cannot.
		return backends.Errorf(backends.ErrInvalidState, op, k.URI(), "%v", err)
	}
	h, err := m.Handle()
	if err != nil {
		return backends.Errorf(backends.ErrInternal, op, k.URI(), "rebuild the keyset: %v", err)
	}
	return k.install(ctx, op, h, true)
}

// install checks h, optionally writes it to the storage, and makes it current.
func (k *Keyset) install(ctx context.Context, op string, h *keyset.Handle, save bool) error {
	st, err := newState(op, k.URI(), h)
	if err != nil {
		return err
	}
	if save {
		if err := k.storage.save(ctx, op, k.URI(), h); err != nil {
			return err
		}
	}
	k.state.Store(st)
	return nil
}

// newState indexes h by output prefix and makes its AEAD primitive.
func newState(op, uri string, h *keyset.Handle) (*keysetState, error) {
	info := h.KeysetInfo()
	st := &keysetState{handle: h, byPrefix: make(map[string]*KeyInfo)}
	st.keys = make([]KeyInfo, len(info.GetKeyInfo()))
	for i, ki := range info.GetKeyInfo() {
		if !supportedType(ki.GetTypeUrl()) {
			return nil, backends.Errorf(backends.ErrInvalidKeyUsage, op, uri, "key %d is a %s: keyport takes AEAD keysets of AES-GCM, AES-GCM-SIV and XChaCha20-Poly1305 keys", ki.GetKeyId(), shortType(ki.GetTypeUrl()))
		}
		status := keyset.Unknown
		switch ki.GetStatus() {
		case tinkpb.KeyStatusType_ENABLED:
			status = keyset.Enabled
		case tinkpb.KeyStatusType_DISABLED:
			status = keyset.Disabled
		case tinkpb.KeyStatusType_DESTROYED:
			status = keyset.Destroyed
		}
		st.keys[i] = KeyInfo{
			ID:           ki.GetKeyId(),
			Type:         ki.GetTypeUrl(),
			Status:       status,
			Primary:      ki.GetKeyId() == info.GetPrimaryKeyId(),
			OutputPrefix: ki.GetOutputPrefixType().String(),
		}
		p := outputPrefix(ki.GetOutputPrefixType(), ki.GetKeyId())
		if p == nil {
			st.hasRaw = st.hasRaw || status == keyset.Enabled
			continue
		}
		st.byPrefix[string(p)] = &st.keys[i]
	}
	a, err := aead.New(h)
	if err != nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, uri, "not a usable AEAD keyset: %v", err)
	}
	st.aead = a
	return st, nil
}

// keyOf returns the key whose output prefix starts blob, or nil.
func (st *keysetState) keyOf(blob []byte) *KeyInfo {
	if len(blob) < prefixLen {
		return nil
	}
	return st.byPrefix[string(blob[:prefixLen])]
}

// describe lists the keys as DescribeKey's Description does.
func (st *keysetState) describe() string {
	var b bytes.Buffer
	b.WriteString("Tink keyset:")
	for i, k := range st.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %d %s %s", k.ID, shortType(k.Type), strings.ToUpper(k.Status.String()))
		if k.Primary {
			b.WriteString(" primary")
		}
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
