package backends

import (
	"context"
	"fmt"
	"strings"
	"sync"
)

// Router maps a key reference to the backend that owns it, in the manner of
// gocloud.dev's URLMux: URIs by scheme, AWS ARNs by account and region, and bare key
// IDs and alias names to the default backend (they resolve in the caller's account).
// A Router is itself a Backend that dispatches each call by its KeyID. The zero
// Router is empty and ready for use; it is safe for concurrent use.
type Router struct {
	mu       sync.RWMutex
	schemes  map[string]Backend
	accounts []accountRoute
	def      Backend
}

type accountRoute struct {
	partition, account, region string
	b                          Backend
}

var _ Backend = (*Router)(nil)

// Register makes b the owner of URIs with the given scheme ("vault", "awskms", ...).
// It is an error to register a scheme twice.
func (r *Router) Register(scheme string, b Backend) error {
	scheme = strings.ToLower(scheme)
	if !isScheme(scheme) {
		return Errorf(ErrInvalidArgument, "Register", "", "invalid scheme %q", scheme)
	}
	if b == nil {
		return Errorf(ErrInvalidArgument, "Register", "", "nil backend for scheme %q", scheme)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.schemes == nil {
		r.schemes = make(map[string]Backend)
	}
	if _, dup := r.schemes[scheme]; dup {
		return Errorf(ErrAlreadyExists, "Register", "", "scheme %q is already registered", scheme)
	}
	r.schemes[scheme] = b
	return nil
}

// RegisterAccount makes b the owner of the ARNs of an AWS account in a region of
// the "aws" partition; an empty region matches every region. Use
// RegisterPartitionAccount for another partition. Later registrations do not
// override earlier ones for the same account and region.
func (r *Router) RegisterAccount(account, region string, b Backend) error {
	return r.RegisterPartitionAccount("aws", account, region, b)
}

// RegisterPartitionAccount is RegisterAccount for any partition.
func (r *Router) RegisterPartitionAccount(partition, account, region string, b Backend) error {
	switch {
	case !isPartition(partition):
		return Errorf(ErrInvalidArgument, "RegisterAccount", "", "invalid partition %q", partition)
	case !isAccount(account):
		return Errorf(ErrInvalidArgument, "RegisterAccount", "", "account %q is not 12 digits", account)
	case region != "" && !isRegion(region):
		return Errorf(ErrInvalidArgument, "RegisterAccount", "", "invalid region %q", region)
	case b == nil:
		return Errorf(ErrInvalidArgument, "RegisterAccount", "", "nil backend")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, a := range r.accounts {
		if a.partition == partition && a.account == account && a.region == region {
			return Errorf(ErrAlreadyExists, "RegisterAccount", "", "account %s region %q is already registered", account, region)
		}
	}
	r.accounts = append(r.accounts, accountRoute{partition, account, region, b})
	return nil
}

// SetDefault makes b the owner of bare key IDs and alias names, and of decryptions
// that name no key.
func (r *Router) SetDefault(b Backend) {
	r.mu.Lock()
	r.def = b
	r.mu.Unlock()
}

// Default returns the default backend, or nil.
func (r *Router) Default() Backend {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.def
}

// Lookup parses keyRef and returns the backend that owns it. A reference no backend
// owns is an error matching ErrNotFound.
func (r *Router) Lookup(keyRef string) (Backend, KeyRef, error) {
	ref, err := ParseKeyRef(keyRef)
	if err != nil {
		return nil, KeyRef{}, err
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	var b Backend
	switch {
	case ref.Form == FormURI:
		b = r.schemes[ref.Scheme]
	case ref.IsARN():
		// An exact region beats the any-region entry of the same account.
		for _, a := range r.accounts {
			if a.partition == ref.Partition && a.account == ref.Account {
				if a.region == ref.Region {
					b = a.b
					break
				}
				if a.region == "" && b == nil {
					b = a.b
				}
			}
		}
	default:
		b = r.def
	}
	if b == nil {
		return nil, ref, Errorf(ErrNotFound, "", keyRef, "no backend is registered for this %s", describeRoute(ref))
	}
	return b, ref, nil
}

func describeRoute(ref KeyRef) string {
	switch {
	case ref.Form == FormURI:
		return fmt.Sprintf("scheme %q", ref.Scheme)
	case ref.IsARN():
		return fmt.Sprintf("account %s in %s", ref.Account, ref.Region)
	}
	return ref.Form.String() + " (no default backend)"
}

// Encrypt encrypts with the backend that owns in.KeyID.
func (r *Router) Encrypt(ctx context.Context, in *EncryptInput) (*EncryptOutput, error) {
	b, _, err := r.Lookup(in.KeyID)
	if err != nil {
		return nil, WithOp(err, "Encrypt")
	}
	return b.Encrypt(ctx, in)
}

// Decrypt decrypts with the backend that owns in.KeyID, or with the default backend
// when in.KeyID is empty.
func (r *Router) Decrypt(ctx context.Context, in *DecryptInput) (*DecryptOutput, error) {
	if in.KeyID == "" {
		b := r.Default()
		if b == nil {
			return nil, Errorf(ErrInvalidArgument, "Decrypt", "", "no KeyID given and no default backend to ask")
		}
		return b.Decrypt(ctx, in)
	}
	b, _, err := r.Lookup(in.KeyID)
	if err != nil {
		return nil, WithOp(err, "Decrypt")
	}
	return b.Decrypt(ctx, in)
}

// WithOp returns err with its operation set to op when err is an *Error that names
// none (as ParseKeyRef's errors do), and err unchanged otherwise.
func WithOp(err error, op string) error {
	if e, ok := err.(*Error); ok && e.Op == "" {
		c := *e
		c.Op = op
		return &c
	}
	return err
}
