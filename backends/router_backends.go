package backends

import "sort"

// Backends returns every backend registered with the Router, each once: the
// default first, then the account owners in the order they were registered, then
// the scheme owners in the order of their schemes. A ReEncrypt engine uses it to
// ask each CiphertextInspector which key made a blob that names no key.
func (r *Router) Backends() []Backend {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Backend
	add := func(b Backend) {
		if b == nil {
			return
		}
		for _, o := range out {
			if SameBackend(o, b) {
				return
			}
		}
		out = append(out, b)
	}
	add(r.def)
	for _, a := range r.accounts {
		add(a.b)
	}
	schemes := make([]string, 0, len(r.schemes))
	for s := range r.schemes {
		schemes = append(schemes, s)
	}
	sort.Strings(schemes)
	for _, s := range schemes {
		add(r.schemes[s])
	}
	return out
}

// SameBackend reports whether a and b are the same backend value. Unlike a == b it
// never panics: backends whose dynamic type is not comparable are never the same.
func SameBackend(a, b Backend) (same bool) {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
