package migrate

import (
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Progress is a snapshot of a run, for [Options.Progress].
type Progress struct {
	// Listed is the number of objects listed so far; ListingDone says the
	// listing has ended and Total is known.
	Listed      int64
	ListingDone bool
	// Total is the number of objects this run has to process (those an
	// earlier run finished are not counted).
	Total int64
	// Processed, Migrated, Skipped and Failed count this run's objects.
	Processed, Migrated, Skipped, Failed int64
	// Bytes is what this run has read.
	Bytes   int64
	Elapsed time.Duration
}

// Rate returns objects per second.
func (p Progress) Rate() float64 {
	if s := p.Elapsed.Seconds(); s > 0 {
		return float64(p.Processed) / s
	}
	return 0
}

// ETA estimates the time left at the rate so far (0 when it cannot tell).
func (p Progress) ETA() time.Duration {
	rate := p.Rate()
	if !p.ListingDone || rate == 0 || p.Total <= p.Processed {
		return 0
	}
	return time.Duration(float64(p.Total-p.Processed) / rate * float64(time.Second))
}

func (r *runner) progress() Progress {
	return Progress{
		Listed: r.listed.Load(), ListingDone: r.listingDone.Load(), Total: r.total.Load(),
		Processed: r.processed.Load(), Migrated: r.migrated.Load(), Skipped: r.skipped.Load(), Failed: r.failed.Load(),
		Bytes: r.bytesRead.Load(), Elapsed: time.Since(r.started),
	}
}

// ProgressBar returns an Options.Progress that draws a progress bar with the
// rate and the time left on w (a terminal), with schollz/progressbar. Call the
// returned finish function after Run.
func ProgressBar(w io.Writer) (progress func(Progress), finish func()) {
	var mu sync.Mutex
	bar := progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription("listing"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("objects"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
		progressbar.OptionFullWidth(),
		// No spinner ticker: with an unknown length, progressbar v3.19.1
		// starts a goroutine that reads the bar's state without its lock
		// (a data race under -race). The bar redraws on every update
		// instead.
		progressbar.OptionSetSpinnerChangeInterval(0),
	)
	sized := false
	progress = func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if !p.ListingDone {
			_ = bar.Set64(p.Listed)
			return
		}
		if !sized {
			sized = true
			bar.Reset()
			bar.ChangeMax64(max(p.Total, 1))
		}
		// The bytes read move within a large object, whose count comes at its end.
		bar.Describe("migrating, " + humanBytes(p.Bytes) + " read")
		_ = bar.Set64(p.Processed)
	}
	finish = func() {
		mu.Lock()
		defer mu.Unlock()
		_ = bar.Finish()
	}
	return progress, finish
}

// humanBytes formats n bytes with a binary unit: 512 B, 1.5 MiB, 3.2 GiB.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// LogProgress returns an Options.Progress that logs a line at most every
// interval (for logs rather than terminals: JSON with a slog.JSONHandler).
func LogProgress(l *slog.Logger, every time.Duration) func(Progress) {
	var mu sync.Mutex
	last := time.Now() // a run shorter than every logs nothing
	return func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if now := time.Now(); now.Sub(last) < every {
			return
		} else {
			last = now
		}
		if !p.ListingDone {
			l.Info("listing", "listed", p.Listed)
			return
		}
		l.Info("progress", "processed", p.Processed, "total", p.Total, "migrated", p.Migrated, "skipped", p.Skipped,
			"failed", p.Failed, "bytes", p.Bytes, "objects_per_second", round(p.Rate()), "eta_seconds", round(p.ETA().Seconds()))
	}
}

func round(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }
