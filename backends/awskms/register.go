package awskms

import "github.com/keyport/keyport/backends"

// Register adds b to the Router r as the owner of the "awskms" URI scheme and, when
// b knows its account (WithAccount), of that account's key and alias ARNs in every
// region: b reaches other regions through clients of their own. Bare key IDs and
// alias names go to r's default backend; call r.SetDefault(b) to make that b.
func (b *Backend) Register(r *backends.Router) error {
	if r == nil {
		return backends.Errorf(backends.ErrInvalidArgument, "Register", "", "nil router")
	}
	if err := r.Register(Scheme, b); err != nil {
		return err
	}
	if b.account == "" {
		return nil
	}
	return r.RegisterPartitionAccount(b.partition, b.account, "", b)
}

// RegisterAccount adds b to the Router r as the owner of the key and alias ARNs of
// account in region ("" for every region), without the URI scheme. Use it for a
// second Backend (other credentials, another local server) that serves another
// account, or one region of it.
func (b *Backend) RegisterAccount(r *backends.Router, account, region string) error {
	if r == nil {
		return backends.Errorf(backends.ErrInvalidArgument, "RegisterAccount", "", "nil router")
	}
	return r.RegisterPartitionAccount(b.partition, account, region, b)
}
