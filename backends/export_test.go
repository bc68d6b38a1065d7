package backends

// What the external tests (package backends_test) reach inside the package.

// AWSURLARN is awsURLARN, for FuzzFrontRoute.
var AWSURLARN = awsURLARN

// Backends returns the drivers f reaches, as backends does.
func (f *Front) Backends() []Backend { return f.backends() }
