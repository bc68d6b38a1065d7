//go:build !cgo

package pkcs11

import (
	"context"

	"github.com/keyport/keyport/backends"
)

// Backend is a keyport backend over one token of a PKCS#11 library. This build
// has no cgo, so there is none: Open answers ErrUnsupported.
type Backend struct{}

var (
	_ backends.Backend             = (*Backend)(nil)
	_ backends.DataKeyGenerator    = (*Backend)(nil)
	_ backends.KeyDescriber        = (*Backend)(nil)
	_ backends.CiphertextInspector = (*Backend)(nil)
)

func errNoCgo(op string) error {
	return backends.Errorf(backends.ErrUnsupported, op, "", "keyport was built without cgo (CGO_ENABLED=0), so it cannot load a PKCS#11 library")
}

// Open answers ErrUnsupported: PKCS#11 needs cgo.
func Open(ctx context.Context, opts Options) (*Backend, error) { return nil, errNoCgo("Open") }

// Close does nothing.
func (b *Backend) Close() error { return nil }

// Token returns "".
func (b *Backend) Token() string { return "" }

// Serial returns "".
func (b *Backend) Serial() string { return "" }

// Module returns "".
func (b *Backend) Module() string { return "" }

// Encrypt answers ErrUnsupported.
func (b *Backend) Encrypt(ctx context.Context, in *backends.EncryptInput) (*backends.EncryptOutput, error) {
	return nil, errNoCgo("Encrypt")
}

// Decrypt answers ErrUnsupported.
func (b *Backend) Decrypt(ctx context.Context, in *backends.DecryptInput) (*backends.DecryptOutput, error) {
	return nil, errNoCgo("Decrypt")
}

// GenerateDataKey answers ErrUnsupported.
func (b *Backend) GenerateDataKey(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return nil, errNoCgo("GenerateDataKey")
}

// GenerateDataKeyWithoutPlaintext answers ErrUnsupported.
func (b *Backend) GenerateDataKeyWithoutPlaintext(ctx context.Context, in *backends.GenerateDataKeyInput) (*backends.GenerateDataKeyOutput, error) {
	return nil, errNoCgo("GenerateDataKeyWithoutPlaintext")
}

// DescribeKey answers ErrUnsupported.
func (b *Backend) DescribeKey(ctx context.Context, in *backends.DescribeKeyInput) (*backends.KeyMetadata, error) {
	return nil, errNoCgo("DescribeKey")
}

// KeyInfo answers ErrUnsupported.
func (b *Backend) KeyInfo(ctx context.Context, keyID string) (*KeyInfo, error) {
	return nil, errNoCgo("DescribeKey")
}

// CreateKey answers ErrUnsupported.
func (b *Backend) CreateKey(ctx context.Context, in *CreateKeyInput) (*KeyInfo, error) {
	return nil, errNoCgo("CreateKey")
}

// ListKeys answers ErrUnsupported.
func (b *Backend) ListKeys(ctx context.Context) ([]KeyInfo, error) {
	return nil, errNoCgo("ListKeys")
}

// String names the backend.
func (b *Backend) String() string { return "pkcs11 (unavailable: built without cgo)" }
