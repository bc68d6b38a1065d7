//go:build cgo

package pkcs11

import (
	"errors"
	"os"
	"path/filepath"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/keyport/keyport/backends"
)

// module is a loaded and initialised PKCS#11 library. A library may be
// initialised once per process, and finalising it ends every session on it, so
// the Backends of one process share a module per path and the last to close
// finalises it.
type module struct {
	path string
	ctx  *p11.Ctx
	refs int
	// owned says this package initialised the library (and so finalises it);
	// false when someone else in the process had initialised it already.
	owned bool
}

var modules = struct {
	sync.Mutex
	m map[string]*module
}{m: map[string]*module{}}

// loadModule loads and initialises the library at path, or takes another
// reference to it. Its errors say what is wrong with the path.
func loadModule(path string) (*module, error) {
	if path == "" {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "Open", "", "no PKCS#11 module: set Options.Module or %s", EnvModule)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "Open", "", "PKCS#11 module %q: %w", path, err)
	}
	modules.Lock()
	defer modules.Unlock()
	if m := modules.m[abs]; m != nil {
		m.refs++
		return m, nil
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "Open", "", "PKCS#11 module %q: %w", path, err)
	}
	ctx := p11.New(abs)
	if ctx == nil {
		return nil, backends.Errorf(backends.ErrInvalidArgument, "Open", "", "PKCS#11 module %q does not load, or is not a PKCS#11 library (no C_GetFunctionList)", path)
	}
	owned := true
	if err := ctx.Initialize(); err != nil {
		var e p11.Error
		if errors.As(err, &e) && e == p11.CKR_CRYPTOKI_ALREADY_INITIALIZED {
			owned = false
		} else {
			ctx.Destroy()
			return nil, ckrError("Open", "", "C_Initialize", codeOf(err), err)
		}
	}
	m := &module{path: abs, ctx: ctx, refs: 1, owned: owned}
	modules.m[abs] = m
	return m, nil
}

// release drops a reference; the last one finalises and unloads the library.
func (m *module) release() {
	modules.Lock()
	defer modules.Unlock()
	m.refs--
	if m.refs > 0 {
		return
	}
	delete(modules.m, m.path)
	if m.owned {
		_ = m.ctx.Finalize()
	}
	m.ctx.Destroy()
}

// codeOf returns the CKR_* code of an error of the library, or
// CKR_GENERAL_ERROR for any other error.
func codeOf(err error) uint {
	var e p11.Error
	if errors.As(err, &e) {
		return uint(e)
	}
	return p11.CKR_GENERAL_ERROR
}
