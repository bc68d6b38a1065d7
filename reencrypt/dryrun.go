package reencrypt

import (
	"errors"

	"github.com/keyport/keyport/backends"
)

// placeholderLen is the length of the stand-in plaintext that a dry run hands the
// destination when the source checked the blob without decrypting it: the size of
// a data key.
const placeholderLen = 32

// dryRun checks the trip without changing anything. It uses the backends' own
// DryRun; a source that does not support DryRun decrypts for real (the plaintext is
// wiped), and a destination that does not support it encrypts a throwaway
// ciphertext. It returns an error matching ErrDryRunOperation when the request
// would have succeeded, and the failure otherwise.
func (t *trip) dryRun() error {
	var pt []byte
	dout, err := t.decrypt(true)
	switch {
	case err == nil:
		// The backend ignored DryRun and decrypted; check the destination with it.
		pt = dout.Plaintext
	case errors.Is(err, backends.ErrDryRunOperation):
		pt = make([]byte, placeholderLen)
	case errors.Is(err, backends.ErrUnsupported):
		if dout, err = t.decrypt(false); err != nil {
			return err
		}
		pt = dout.Plaintext
	default:
		return err
	}
	defer clear(pt)
	if err := backends.ContextError(t.ctx, op, t.in.DestinationKeyID); err != nil {
		return err
	}
	_, err = t.encrypt(pt, true)
	switch {
	case err == nil, errors.Is(err, backends.ErrDryRunOperation):
	case errors.Is(err, backends.ErrUnsupported):
		if _, err := t.encrypt(pt, false); err != nil {
			return err
		}
	default:
		return err
	}
	return backends.Errorf(backends.ErrDryRunOperation, op, t.in.DestinationKeyID,
		"the request would have succeeded, but DryRun is set")
}
