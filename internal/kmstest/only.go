package kmstest

import "github.com/keyport/keyport/backends"

// The interfaces a view of a Fake embeds: a struct that embeds some of them
// has the methods of those and of no other, so the type assertions that find
// optional capabilities ([backends.Front.Capabilities]) see exactly those.
type (
	be   = backends.Backend
	re   = backends.ReEncrypter
	gen  = backends.DataKeyGenerator
	desc = backends.KeyDescriber
	insp = backends.CiphertextInspector
)

// Only returns f as a driver with only the optional capabilities that caps
// sets, for a test of code that must cope without the others (a *Fake itself
// has them all). Every view of f is the same key service, but not the same
// driver value as f or as a view with other capabilities ([backends.SameBackend]).
func (f *Fake) Only(caps backends.Capabilities) backends.Backend {
	var n int
	for i, on := range []bool{caps.ReEncrypt, caps.GenerateDataKey, caps.DescribeKey, caps.InspectCiphertext} {
		if on {
			n |= 1 << i
		}
	}
	switch n {
	case 0b0000:
		return struct{ be }{f}
	case 0b0001:
		return struct {
			be
			re
		}{f, f}
	case 0b0010:
		return struct {
			be
			gen
		}{f, f}
	case 0b0011:
		return struct {
			be
			re
			gen
		}{f, f, f}
	case 0b0100:
		return struct {
			be
			desc
		}{f, f}
	case 0b0101:
		return struct {
			be
			re
			desc
		}{f, f, f}
	case 0b0110:
		return struct {
			be
			gen
			desc
		}{f, f, f}
	case 0b0111:
		return struct {
			be
			re
			gen
			desc
		}{f, f, f, f}
	case 0b1000:
		return struct {
			be
			insp
		}{f, f}
	case 0b1001:
		return struct {
			be
			re
			insp
		}{f, f, f}
	case 0b1010:
		return struct {
			be
			gen
			insp
		}{f, f, f}
	case 0b1011:
		return struct {
			be
			re
			gen
			insp
		}{f, f, f, f}
	case 0b1100:
		return struct {
			be
			desc
			insp
		}{f, f, f}
	case 0b1101:
		return struct {
			be
			re
			desc
			insp
		}{f, f, f, f}
	case 0b1110:
		return struct {
			be
			gen
			desc
			insp
		}{f, f, f, f}
	}
	return f
}
