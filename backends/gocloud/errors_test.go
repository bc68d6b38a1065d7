package gocloud_test

import (
	"context"
	"errors"
	"testing"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/gocloud"
	"github.com/keyport/keyport/internal/kmstest"
	"gocloud.dev/gcerrors"
	"gocloud.dev/secrets"
	"gocloud.dev/secrets/driver"
)

// codeKeeper is a keeper driver whose every call fails with one gocloud code.
type codeKeeper struct{ code gcerrors.ErrorCode }

var _ driver.Keeper = codeKeeper{}

func (k codeKeeper) Decrypt(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("refused")
}
func (k codeKeeper) Encrypt(context.Context, []byte) ([]byte, error) {
	return nil, errors.New("refused")
}
func (codeKeeper) Close() error                         { return nil }
func (codeKeeper) ErrorAs(error, any) bool              { return false }
func (k codeKeeper) ErrorCode(error) gcerrors.ErrorCode { return k.code }

// TestErrorTable checks gocloud's portable codes, as a keeper's driver reports
// them, against the kinds they become on Encrypt and on Decrypt.
func TestErrorTable(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		code     gcerrors.ErrorCode
		enc, dec *backends.Kind
	}{
		{gcerrors.NotFound, backends.ErrNotFound, backends.ErrNotFound},
		{gcerrors.PermissionDenied, backends.ErrAccessDenied, backends.ErrAccessDenied},
		{gcerrors.ResourceExhausted, backends.ErrThrottling, backends.ErrThrottling},
		{gcerrors.DeadlineExceeded, backends.ErrDependencyTimeout, backends.ErrDependencyTimeout},
		{gcerrors.Unimplemented, backends.ErrUnsupported, backends.ErrUnsupported},
		{gcerrors.FailedPrecondition, backends.ErrInvalidState, backends.ErrInvalidState},
		{gcerrors.InvalidArgument, backends.ErrInvalidArgument, backends.ErrInvalidCiphertext},
		{gcerrors.Unknown, backends.ErrInternal, backends.ErrInvalidCiphertext},
		{gcerrors.Internal, backends.ErrInternal, backends.ErrInternal},
		{gcerrors.Canceled, backends.ErrCanceled, backends.ErrCanceled},
		{gcerrors.AlreadyExists, backends.ErrAlreadyExists, backends.ErrAlreadyExists},
	} {
		t.Run(c.code.String(), func(t *testing.T) {
			b := gocloud.New(gocloud.Options{URLMux: new(secrets.URLMux)})
			defer b.Close()
			if err := b.Add("gocloud://k", secrets.NewKeeper(codeKeeper{c.code})); err != nil {
				t.Fatal(err)
			}
			_, err := b.Encrypt(ctx, &backends.EncryptInput{KeyID: "gocloud://k", Plaintext: []byte("pt")})
			kmstest.WantKind(t, err, c.enc, "Encrypt")
			_, err = b.Decrypt(ctx, &backends.DecryptInput{KeyID: "gocloud://k", CiphertextBlob: []byte("ct")})
			kmstest.WantKind(t, err, c.dec, "Decrypt")
		})
	}
}
