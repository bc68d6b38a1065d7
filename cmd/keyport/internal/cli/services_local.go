package cli

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/keyport/keyport/backends"
	"github.com/keyport/keyport/backends/local"
)

const kindLocal = "local"

func init() {
	addKind(&serviceKind{
		name:     kindLocal,
		settings: []string{"account", "root-key-file"},
		parse: func(u *url.URL, s *serviceSpec) error {
			s.path = u.Opaque
			if s.path == "" {
				s.path = u.Path
			}
			if u.Host != "" {
				return errors.New("a store path is local:PATH or local:///abs/path")
			}
			if s.path == "" {
				return errors.New("no store file")
			}
			s.account, s.rootKeyFile = s.query.Get("account"), s.query.Get("root-key-file")
			if s.account == "" {
				return errors.New("the store needs account= (the caller's 12-digit AWS account ID; it is never guessed)")
			}
			return nil
		},
		open: openLocal,
	})
}

// openLocal opens the embedded store as the spec's account. A command that
// only reads opens it with OpenExisting: a mistyped path never creates one.
func openLocal(_ context.Context, spec *serviceSpec, o openOptions) (*service, error) {
	var opts []local.Option
	if spec.rootKeyFile != "" {
		opts = append(opts, local.WithRootKeyFile(spec.rootKeyFile))
	}
	path, err := filepath.Abs(spec.path)
	if err != nil {
		return nil, err
	}
	open := local.Open
	if o.readOnly {
		open = local.OpenExisting
	}
	st, err := open(path, opts...)
	switch {
	case errors.Is(err, local.ErrNoStore):
		return nil, backends.Errorf(backends.ErrNotFound, "", "", "no store at %s (service %q): this command never creates one; check the path, or create a key first (keyport keys create)", spec.path, spec.name)
	case errors.Is(err, local.ErrInvalidRootKey):
		return nil, rootKeyHint(err, spec)
	case err != nil:
		return nil, fmt.Errorf("store %s: %w", spec.path, err)
	}
	c := st.Client(local.Identity{Account: spec.account})
	return &service{
		spec:    spec,
		backend: c,
		bare:    true,
		claims:  []claim{{st.Partition(), spec.account, st.Region()}},
		close:   func() { _ = st.Close() },
	}, nil
}

// rootKeyHint rewrites a refused root key's error for the command line: it
// names the flag and the environment variable, and the command that makes a
// key.
func rootKeyHint(err error, spec *serviceSpec) error {
	var rk *local.RootKeyError
	if !errors.As(err, &rk) {
		return err
	}
	source := rk.Source
	if spec.rootKeyFile != "" {
		source = "the --root-key-file " + spec.rootKeyFile
	}
	return backends.Errorf(backends.ErrInvalidArgument, "", "", "store %s: root key from %s %s.\n"+
		"  A root key is 32 random bytes in base64 (or hex), in the environment variable %s or in a file named by --root-key-file FILE (or root-key-file= in the service URL), readable by its owner only.\n"+
		"  Make one with: keyport root-key generate", spec.path, source, rk.Reason, local.RootKeyEnv)
}
