//go:build cgo

package pkcs11

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"sync"

	p11 "github.com/miekg/pkcs11"

	"github.com/keyport/keyport/backends"
)

// token is one token of a module, with its pool of sessions. The pool holds at
// most max sessions, each used by one call at a time; a call waits for a free
// session (or its ctx). The token is logged in once: PKCS#11 login state belongs
// to the application, not to a session, so a session opened later finds the
// token logged in already and only a token that logged out (all its sessions
// closed, or the device reset) is logged in again.
type token struct {
	mod  *module
	slot uint
	info p11.TokenInfo
	pin  []byte // kept for a login after the token logged out; wiped by close

	idle   chan p11.SessionHandle // open sessions not in use
	slots  chan struct{}          // one element per open session
	closed chan struct{}          // closed by close
	once   sync.Once
	login  sync.Mutex // serialises logins
}

// openToken finds the token opts selects in m and logs in to it. Its errors are
// clear about what is missing: no such token, several, a wrong PIN.
func openToken(m *module, opts Options) (*token, error) {
	slots, err := m.ctx.GetSlotList(true)
	if err != nil {
		return nil, ckrError("Open", "", "C_GetSlotList", codeOf(err), err)
	}
	var found []uint
	var infos []p11.TokenInfo
	for _, s := range slots {
		ti, err := m.ctx.GetTokenInfo(s)
		if err != nil || ti.Flags&p11.CKF_TOKEN_INITIALIZED == 0 {
			continue
		}
		if opts.Token != "" && strings.TrimRight(ti.Label, " ") != opts.Token ||
			opts.Serial != "" && strings.TrimRight(ti.SerialNumber, " ") != opts.Serial {
			continue
		}
		found = append(found, s)
		infos = append(infos, ti)
	}
	switch len(found) {
	case 0:
		return nil, backends.Errorf(backends.ErrNotFound, "Open", "", "PKCS#11 module %s has no initialised token%s", m.path, selection(opts))
	case 1:
	default:
		return nil, backends.Errorf(backends.ErrInvalidArgument, "Open", "", "PKCS#11 module %s has %d initialised tokens%s: name one by label or serial", m.path, len(found), selection(opts))
	}
	pin, err := opts.readPIN()
	if err != nil {
		return nil, err
	}
	max := opts.maxSessions()
	t := &token{
		mod: m, slot: found[0], info: infos[0], pin: pin,
		idle: make(chan p11.SessionHandle, max), slots: make(chan struct{}, max), closed: make(chan struct{}),
	}
	t.info.Label = strings.TrimRight(t.info.Label, " ")
	t.info.SerialNumber = strings.TrimRight(t.info.SerialNumber, " ")
	t.info.ManufacturerID = strings.TrimRight(t.info.ManufacturerID, " ")
	t.info.Model = strings.TrimRight(t.info.Model, " ")
	if pin == nil && t.info.Flags&p11.CKF_LOGIN_REQUIRED != 0 {
		return nil, backends.Errorf(backends.ErrAccessDenied, "Open", "",
			"token %q requires a login and no PIN is set (Options.PINFile, Options.PINEnv, %s or %s)", t.info.Label, EnvPINFile, EnvPIN)
	}
	// The first session proves the PIN at once.
	t.slots <- struct{}{}
	sh, err := t.open("Open")
	if err != nil {
		<-t.slots
		clear(t.pin)
		return nil, err
	}
	t.idle <- sh
	return t, nil
}

func quote(s string) string { return strconv.Quote(s) }

// selection says which token opts asks for, for messages.
func selection(opts Options) string {
	s := ""
	if opts.Token != "" {
		s += " labelled " + quote(opts.Token)
	}
	if opts.Serial != "" {
		if s != "" {
			s += " and"
		}
		s += " with serial " + quote(opts.Serial)
	}
	return s
}

// open opens a session and logs the token in if it is not. The caller holds a
// slot for it.
func (t *token) open(op string) (p11.SessionHandle, error) {
	sh, err := t.mod.ctx.OpenSession(t.slot, p11.CKF_SERIAL_SESSION|p11.CKF_RW_SESSION)
	if err != nil {
		return 0, ckrError(op, "", "C_OpenSession", codeOf(err), err)
	}
	if err := t.ensureLogin(op, sh); err != nil {
		_ = t.mod.ctx.CloseSession(sh)
		return 0, err
	}
	return sh, nil
}

// ensureLogin logs the token in through sh unless it is logged in already.
func (t *token) ensureLogin(op string, sh p11.SessionHandle) error {
	if t.pin == nil {
		return nil
	}
	t.login.Lock()
	defer t.login.Unlock()
	si, err := t.mod.ctx.GetSessionInfo(sh)
	if err != nil {
		return ckrError(op, "", "C_GetSessionInfo", codeOf(err), err)
	}
	if si.State == p11.CKS_RO_USER_FUNCTIONS || si.State == p11.CKS_RW_USER_FUNCTIONS {
		return nil
	}
	err = t.mod.ctx.Login(sh, p11.CKU_USER, string(t.pin))
	if err != nil && codeOf(err) != p11.CKR_USER_ALREADY_LOGGED_IN {
		return ckrError(op, "", "C_Login", codeOf(err), err)
	}
	return nil
}

// get returns a session for one call: an idle one, a new one while the pool
// has room, or the first to come back, unless ctx ends first.
func (t *token) get(ctx context.Context, op, keyID string) (p11.SessionHandle, error) {
	if err := backends.ContextError(ctx, op, keyID); err != nil {
		return 0, err
	}
	select {
	case sh := <-t.idle:
		return sh, nil
	default:
	}
	select {
	case sh := <-t.idle:
		return sh, nil
	case t.slots <- struct{}{}:
		sh, err := t.open(op)
		if err != nil {
			<-t.slots
			if e, ok := err.(*backends.Error); ok {
				e.KeyID = keyID
			}
			return 0, err
		}
		return sh, nil
	case <-ctx.Done():
		return 0, backends.ContextError(ctx, op, keyID)
	case <-t.closed:
		return 0, backends.Errorf(backends.ErrKeyUnavailable, op, keyID, "the backend is closed")
	}
}

// put gives a session back to the pool (or closes it, once the token is closing).
func (t *token) put(sh p11.SessionHandle) {
	select {
	case <-t.closed:
		t.discard(sh)
	default:
		t.idle <- sh
	}
}

// discard closes a session that is broken or no longer wanted and frees its slot.
func (t *token) discard(sh p11.SessionHandle) {
	_ = t.mod.ctx.CloseSession(sh)
	<-t.slots
}

// close closes every session, waiting for those in use to come back, and
// wipes the PIN.
func (t *token) close() {
	t.once.Do(func() {
		close(t.closed)
		for n := cap(t.slots); n > 0; n-- {
			// Take every slot: an idle session is closed at once, one in use
			// when put comes back.
			for {
				select {
				case sh := <-t.idle:
					t.discard(sh)
					continue
				case t.slots <- struct{}{}:
				}
				break
			}
		}
		clear(t.pin)
	})
}

func (o Options) maxSessions() int {
	if o.MaxSessions > 0 {
		return o.MaxSessions
	}
	return DefaultMaxSessions
}

// readPIN returns the user PIN from the sources Options name, or nil when none
// is set. Its errors name the source, never the PIN.
func (o Options) readPIN() ([]byte, error) {
	file, env := o.PINFile, o.PINEnv
	if file == "" && env == "" {
		file = os.Getenv(EnvPINFile)
		if file == "" {
			env = EnvPIN
		}
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, backends.Errorf(backends.ErrAccessDenied, "Open", "", "reading the PIN file: %w", err)
		}
		pin := bytes.TrimRight(b, "\r\n")
		if len(pin) == 0 {
			clear(b)
			return nil, backends.Errorf(backends.ErrAccessDenied, "Open", "", "the PIN file %s is empty", file)
		}
		out := bytes.Clone(pin)
		clear(b)
		return out, nil
	}
	if v, ok := os.LookupEnv(env); ok {
		if v == "" {
			return nil, backends.Errorf(backends.ErrAccessDenied, "Open", "", "the PIN variable %s is empty", env)
		}
		return []byte(v), nil
	}
	if o.PINEnv != "" {
		return nil, backends.Errorf(backends.ErrAccessDenied, "Open", "", "the PIN variable %s is not set", env)
	}
	return nil, nil
}
