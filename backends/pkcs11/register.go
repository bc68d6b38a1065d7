package pkcs11

import "github.com/keyport/keyport/backends"

// Register adds b to f as the owner of pkcs11: key URLs. One Backend serves one
// token; for several tokens or libraries register an [Opener] instead
// (f.RegisterOpener(Scheme, &Opener{...})), which opens a Backend per token.
func (b *Backend) Register(f *backends.Front) error {
	if f == nil {
		return backends.Errorf(backends.ErrInvalidArgument, "Register", "", "nil Front")
	}
	return f.Register(Scheme, b)
}
