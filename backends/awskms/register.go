package awskms

import "github.com/keyport/keyport/backends"

// Register adds b to f as the owner of the AWS KMS key URLs (awskms:// and
// Tink's aws-kms://) and, when b knows its account (WithAccount), of that
// account's key and alias ARNs in every region: b reaches other regions through
// clients of their own. Bare key IDs and alias names go to f's default backend;
// call f.SetDefault(b) to make that b.
func (b *Backend) Register(f *backends.Front) error {
	if f == nil {
		return backends.Errorf(backends.ErrInvalidArgument, "Register", "", "nil Front")
	}
	if err := f.Register(Scheme, b); err != nil {
		return err
	}
	if err := f.Register(TinkScheme, b); err != nil {
		return err
	}
	if b.account == "" {
		return nil
	}
	return f.RegisterPartitionAccount(b.partition, b.account, "", b)
}

// RegisterAccount adds b to f as the owner of the key and alias ARNs of account
// in region ("" for every region), without the URL schemes. Use it for a second
// Backend (other credentials, another local server) that serves another account,
// or one region of it.
func (b *Backend) RegisterAccount(f *backends.Front, account, region string) error {
	if f == nil {
		return backends.Errorf(backends.ErrInvalidArgument, "RegisterAccount", "", "nil Front")
	}
	return f.RegisterPartitionAccount(b.partition, account, region, b)
}
