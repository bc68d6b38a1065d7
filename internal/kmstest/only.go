package kmstest

import (
	"fmt"

	"github.com/keyport/keyport/backends"
)

// Only returns f as a driver with only the optional capabilities that caps
// sets, for a test of code that must cope without the others (a *Fake itself
// has them all). Optional capabilities are found by type assertion, so each
// set is a type of its own: Only knows the sets tests use (none, ReEncrypt
// alone, InspectCiphertext alone, all) and panics for another, which a test
// that needs it adds here. Every view of f is the same key service, but not
// the same driver value as f or as a view with other capabilities
// ([backends.SameBackend]).
func (f *Fake) Only(caps backends.Capabilities) backends.Backend {
	type plain struct{ backends.Backend }
	switch caps {
	case backends.Capabilities{}:
		return plain{f}
	case backends.Capabilities{ReEncrypt: true}:
		return struct {
			plain
			backends.ReEncrypter
		}{plain{f}, f}
	case backends.Capabilities{InspectCiphertext: true}:
		return struct {
			plain
			backends.CiphertextInspector
		}{plain{f}, f}
	case backends.Capabilities{ReEncrypt: true, GenerateDataKey: true, DescribeKey: true, InspectCiphertext: true}:
		return f
	}
	panic(fmt.Sprintf("kmstest: Only knows no view with the capabilities %+v: add it", caps))
}
