package tink

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/internal/tempfile"
	"github.com/tink-crypto/tink-go/v2/insecurecleartextkeyset"
	"github.com/tink-crypto/tink-go/v2/keyset"
)

// Format is how a keyset is serialized: Tink's JSON or its binary (protobuf) form.
type Format int

// Keyset formats. Reading detects the format; writing uses Storage.Format.
const (
	JSON Format = iota
	Binary
)

// Storage says where a keyset lives and how it is protected at rest.
//
// A keyset is either encrypted under a key that keyport reaches (KEK and
// KEKKeyID: the local service, AWS KMS, Vault, another keyset, a
// [backends.Front] over any of them) in Tink's encrypted-keyset format, or, only when
// InsecureCleartext says so, written in cleartext. A keyset with neither is kept
// in memory only and cannot have a Path.
type Storage struct {
	// Path is the keyset's file. Every change to the keyset is written back to it
	// atomically (a temporary file beside it, synced, then renamed over it).
	// Empty means the keyset lives in memory only.
	Path string
	// Format is the format written; reading detects it.
	Format Format
	// KEK and KEKKeyID name the key that encrypts the keyset (Tink's
	// EncryptedKeyset: the serialized keyset encrypted by the KEK, beside its
	// KeysetInfo). The KEK sees the keyset as one small plaintext, so a service
	// with a plaintext limit (4096 bytes for AWS KMS) limits the keyset to a few
	// dozen keys.
	KEK      backends.Backend
	KEKKeyID string
	// AssociatedData is bound to the encrypted keyset, as Tink's
	// keyset.ReadWithAssociatedData binds it; it must be the same to read it back.
	// The KEK receives it as Tink's KMS integrations send it: as the encryption
	// context {"associatedData": hex} (none when empty), so a keyset that Tink
	// encrypted under, say, an AWS KMS key opens here under the same key.
	AssociatedData []byte
	// InsecureCleartext allows a keyset without a KEK to be read from and written
	// to Path in cleartext: the key material lies unprotected on disk. For tests
	// and migrations only.
	InsecureCleartext bool
}

func (s *Storage) check(op, name string) error {
	switch {
	case s.KEK != nil && s.KEKKeyID == "":
		return backends.Errorf(backends.ErrInvalidArgument, op, name, "Storage.KEK is set but Storage.KEKKeyID is empty")
	case s.KEK == nil && s.KEKKeyID != "":
		return backends.Errorf(backends.ErrInvalidArgument, op, name, "Storage.KEKKeyID is set but Storage.KEK is nil")
	case s.KEK != nil && s.InsecureCleartext:
		return backends.Errorf(backends.ErrInvalidArgument, op, name, "Storage.KEK and Storage.InsecureCleartext exclude each other")
	case s.Path != "" && s.KEK == nil && !s.InsecureCleartext:
		return backends.Errorf(backends.ErrInvalidArgument, op, name, "a keyset file needs Storage.KEK (encrypted) or Storage.InsecureCleartext (the key material unprotected on disk)")
	case s.Format != JSON && s.Format != Binary:
		return backends.Errorf(backends.ErrInvalidArgument, op, name, "unknown Storage.Format %d", s.Format)
	}
	return nil
}

// kek returns the Tink AEAD over the KEK, for one read or write.
func (s *Storage) kek() *kekAEAD {
	return &kekAEAD{remote: remoteAEAD{b: s.KEK, keyID: s.KEKKeyID}}
}

// kekAEAD is the KEK as a Tink AEAD for one read or write of a keyset: it keeps
// the KEK's own error, which Tink turns into a string.
type kekAEAD struct {
	remote  remoteAEAD
	lastErr error
}

func (k *kekAEAD) EncryptWithContext(ctx context.Context, plaintext, associatedData []byte) ([]byte, error) {
	ct, err := k.remote.EncryptWithContext(ctx, plaintext, associatedData)
	k.lastErr = err
	return ct, err
}

func (k *kekAEAD) DecryptWithContext(ctx context.Context, ciphertext, associatedData []byte) ([]byte, error) {
	pt, err := k.remote.DecryptWithContext(ctx, ciphertext, associatedData)
	k.lastErr = err
	return pt, err
}

// decode reads a keyset from data, in either format, encrypted under the KEK or,
// when the storage allows it, in cleartext.
func (s *Storage) decode(ctx context.Context, op, name string, data []byte) (*keyset.Handle, error) {
	var r keyset.Reader
	if isJSON(data) {
		r = keyset.NewJSONReader(bytes.NewReader(data))
	} else {
		r = keyset.NewBinaryReader(bytes.NewReader(data))
	}
	if s.KEK != nil {
		kek := s.kek()
		h, err := keyset.ReadWithContext(ctx, r, kek, s.AssociatedData)
		if err != nil {
			return nil, kekError(ctx, op, name, "read the encrypted keyset", kek.lastErr, err)
		}
		return h, nil
	}
	if !s.InsecureCleartext {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, name, "reading a cleartext keyset needs Storage.InsecureCleartext")
	}
	h, err := insecurecleartextkeyset.Read(r)
	if err != nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, op, name, "not a cleartext Tink keyset (%v)", err)
	}
	return h, nil
}

// encode writes h in the storage's format and protection to w.
func (s *Storage) encode(ctx context.Context, op, name string, w io.Writer, h *keyset.Handle) error {
	var kw keyset.Writer
	if s.Format == Binary {
		kw = keyset.NewBinaryWriter(w)
	} else {
		kw = keyset.NewJSONWriter(w)
	}
	if s.KEK != nil {
		kek := s.kek()
		if err := h.WriteWithContext(ctx, kw, kek, s.AssociatedData); err != nil {
			return kekError(ctx, op, name, "encrypt the keyset", kek.lastErr, err)
		}
		return nil
	}
	if !s.InsecureCleartext {
		return backends.Errorf(backends.ErrInvalidArgument, op, name, "writing a keyset needs Storage.KEK or Storage.InsecureCleartext")
	}
	if err := insecurecleartextkeyset.Write(h, kw); err != nil {
		return backends.Errorf(backends.ErrInternal, op, name, "write the cleartext keyset: %v", err)
	}
	return nil
}

// save writes h to the storage's file atomically; nothing for a keyset in memory.
func (s *Storage) save(ctx context.Context, op, name string, h *keyset.Handle) error {
	if s.Path == "" {
		return nil
	}
	var buf bytes.Buffer
	// A cleartext keyset holds key material: wipe the buffer however this ends.
	defer func() { clear(buf.Bytes()[:buf.Cap()]) }()
	if err := s.encode(ctx, op, name, &buf, h); err != nil {
		return err
	}
	// renameio writes a temporary file beside the keyset, syncs it and renames it
	// over the old one; the directory is synced too, so that the rename survives a
	// crash (renameio leaves that to the caller).
	if err := renameio.WriteFile(s.Path, buf.Bytes(), 0o600); err != nil {
		return backends.Errorf(backends.ErrInternal, op, name, "write the keyset file: %w", err)
	}
	if err := tempfile.SyncDir(filepath.Dir(s.Path)); err != nil {
		return backends.Errorf(backends.ErrInternal, op, name, "sync the keyset's directory: %w", err)
	}
	return nil
}

// load reads the storage's file.
func (s *Storage) load(ctx context.Context, op, name string) (*keyset.Handle, error) {
	data, err := os.ReadFile(s.Path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, backends.Errorf(backends.ErrNotFound, op, name, "no keyset file at %s", s.Path)
		}
		return nil, backends.Errorf(backends.ErrInternal, op, name, "read the keyset file: %w", err)
	}
	defer clear(data)
	return s.decode(ctx, op, name, data)
}

// isJSON reports whether data looks like Tink's JSON format (an object).
func isJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}

// kekError labels a failure to read or write the keyset under its KEK. Tink
// flattens the errors of the KEK into strings, so the KEK's own error (kekErr,
// kept by the remote AEAD) decides the kind when there is one; otherwise the
// encrypted keyset was not Tink's (a damaged or foreign file).
func kekError(ctx context.Context, op, name, what string, kekErr, err error) error {
	if kekErr != nil {
		return backends.Errorf(kindOf(kekErr), op, name, "%s under the KEK: %w", what, kekErr)
	}
	if cerr := backends.ContextError(ctx, op, name); cerr != nil {
		return cerr
	}
	return backends.Errorf(backends.ErrInvalidCiphertext, op, name, "%s: %v", what, err)
}

// kindOf returns the kind of err, ErrInternal when it has none.
func kindOf(err error) *backends.Kind {
	if k := backends.KindOf(err); k != nil {
		return k
	}
	return backends.ErrInternal
}
