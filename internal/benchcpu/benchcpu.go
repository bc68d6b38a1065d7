// Package benchcpu reports the CPU time (user and system) of the whole process
// beside a benchmark's wall-clock figures. On a loaded machine it moves far less
// than wall-clock time, and scripts/bench.sh prefers it for ratios.
package benchcpu

import (
	"syscall"
	"testing"
	"time"
)

// Used returns the CPU time the process has used so far, or 0 if it cannot tell.
func Used() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Meter measures the CPU time used since Start.
type Meter struct{ start time.Duration }

// Start starts a Meter: `defer benchcpu.Start().PerOp(b)` measures the rest of the
// benchmark function.
func Start() Meter { return Meter{Used()} }

// PerOp reports the CPU time since Start per operation, as cpu-ns/op.
func (m Meter) PerOp(b *testing.B) {
	if d := Used() - m.start; d > 0 && b.N > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

// Throughput reports the bytes processed per CPU-second since Start, as MB/cpu-s,
// for bytesPerOp bytes an operation.
func (m Meter) Throughput(b *testing.B, bytesPerOp int64) {
	if d := Used() - m.start; d > 0 {
		b.ReportMetric(float64(b.N)*float64(bytesPerOp)/d.Seconds()/1e6, "MB/cpu-s")
	}
}
