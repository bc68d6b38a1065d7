package conformance

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
)

// Outcome is how one subtest of a [Report] ended.
type Outcome string

// Outcomes.
const (
	Passed Outcome = "passed"
	Failed Outcome = "failed"
	// Skipped: the fixture declared a deviation that this subtest checks.
	SkippedDeviation Outcome = "deviation-declared"
	// NotApplicable: the service lacks what the subtest needs (a capability, a
	// hook, a key in some state, a second account).
	NotApplicable Outcome = "not-applicable"
)

// Result is the outcome of one subtest.
type Result struct {
	// Name is the subtest's path, as go test names it without the test's own
	// name ("ContextBinding/ResplitPairs").
	Name    string  `json:"name"`
	Outcome Outcome `json:"outcome"`
	// Messages are what the subtest said: for a failure, what the service
	// answered against what AWS KMS answers; for a skip, why.
	Messages []string `json:"messages,omitempty"`
	// Deviations are the known deviations that explain a failure: the ones that,
	// declared, skip this subtest.
	Deviations []Deviation `json:"deviations,omitempty"`
	leaf       bool        // the subtest runs no subtests of its own
	own        bool        // the subtest failed by a check of its own (not only through a child)
}

// Report is the compatibility report of one service: every subtest the suite
// ran against it, and the known deviations its failures show.
type Report struct {
	Target string `json:"target"`
	// Failed counts the subtests that failed a check of their own; the other
	// counts are of the subtests that run no subtests of their own.
	Passed        int `json:"passed"`
	Failed        int `json:"failed"`
	Declared      int `json:"deviationDeclared"`
	NotApplicable int `json:"notApplicable"`
	// Deviations are the known deviations the failures show, in order.
	Deviations []Deviation `json:"deviations"`
	// Unexplained counts the failures no known deviation explains.
	Unexplained int      `json:"unexplained"`
	Results     []Result `json:"results"`
}

// Check runs the suite against f outside go test (one pass, through a
// [backends.Front] over the driver) and returns its report. The subtests are
// those [Run] runs. When subtests fail, Check runs the suite once more with every
// known deviation declared, to learn which deviations skip which subtests, and
// names in each failure the deviations that explain it. It calls f.Close when
// done. An error means the suite could not start (an invalid fixture, a Front that
// does not route KeyA).
func Check(ctx context.Context, target string, f *Fixture) (*Report, error) {
	if f == nil {
		return nil, errors.New("conformance: nil Fixture")
	}
	if f.Close != nil {
		defer f.Close()
	}
	if err := f.validate(); err != nil {
		return nil, fmt.Errorf("conformance: invalid Fixture: %w", err)
	}
	results, err := checkOnce(ctx, f)
	if err != nil {
		return nil, err
	}
	rep := &Report{Target: target, Results: results, Deviations: []Deviation{}}
	if slices.ContainsFunc(results, func(r Result) bool { return r.own }) {
		// Learn which deviations excuse which subtests: declared, each one skips
		// its subtests (a group: all of them) or leaves a check out, and says so
		// by name. The coarse deviation, which hides native ReEncrypt, is
		// declared alone in a second pass, and only on its evidence: the service
		// refused, as unsupported, a native ReEncrypt between its two keys or to
		// a new context of one key, which a service with native ReEncrypt does.
		// cover then picks the fewest deviations that explain the failures.
		passes := [][]Deviation{allDeviations}
		if slices.ContainsFunc(results, func(r Result) bool {
			return r.own && (strings.HasSuffix(r.Name, "ReEncrypt/Native/CrossKey") || strings.HasSuffix(r.Name, "ReEncrypt/Native/ContextChangeOnly")) &&
				slices.ContainsFunc(r.Messages, func(m string) bool { return strings.Contains(m, "got UnsupportedOperationException") })
		}) {
			passes = append(passes, coarseDeviations)
		}
		for _, pass := range passes {
			all := *f
			all.Deviations = pass
			again, err := checkOnce(ctx, &all)
			if err != nil {
				return nil, err
			}
			excuses := map[string][]Deviation{}
			for _, r := range again {
				for _, d := range pass {
					if slices.ContainsFunc(r.Messages, func(m string) bool { return strings.Contains(m, "declared deviation "+string(d)+":") }) {
						excuses[r.Name] = append(excuses[r.Name], d)
					}
				}
			}
			for i := range rep.Results {
				if r := &rep.Results[i]; r.own {
					var ds []Deviation
					for name := r.Name; name != "" && len(ds) == 0; name = parentName(name) {
						ds = excuses[name]
					}
					for _, d := range ds {
						if !slices.Contains(r.Deviations, d) {
							r.Deviations = append(r.Deviations, d)
						}
					}
				}
			}
		}
		// A subtest that fails on account of its failing subtests (a count of
		// them, say) is explained by what explains them.
		for i := range rep.Results {
			r := &rep.Results[i]
			if !r.own || r.leaf || len(r.Deviations) > 0 {
				continue
			}
			for _, c := range rep.Results {
				if c.own && strings.HasPrefix(c.Name, r.Name+"/") {
					for _, d := range c.Deviations {
						if !slices.Contains(r.Deviations, d) {
							r.Deviations = append(r.Deviations, d)
						}
					}
				}
			}
		}
		rep.Deviations = cover(rep.Results)
	}
	for _, r := range rep.Results {
		switch {
		case r.own:
			rep.Failed++
			if len(r.Deviations) == 0 {
				rep.Unexplained++
			}
		case !r.leaf || r.Outcome == Failed:
		case r.Outcome == Passed:
			rep.Passed++
		case r.Outcome == SkippedDeviation:
			rep.Declared++
		case r.Outcome == NotApplicable:
			rep.NotApplicable++
		}
	}
	return rep, nil
}

// cover returns the fewest deviations that explain every explained failure
// (greedily: the deviation that explains most failures left, first declared on
// a tie), in the order of their declaration.
func cover(results []Result) []Deviation {
	left := map[string][]Deviation{}
	for _, r := range results {
		if r.own && len(r.Deviations) > 0 {
			left[r.Name] = r.Deviations
		}
	}
	known := append(slices.Clone(allDeviations), coarseDeviations...)
	chosen := map[Deviation]bool{}
	for len(left) > 0 {
		var best Deviation
		n := 0
		for _, d := range known {
			c := 0
			for _, ds := range left {
				if slices.Contains(ds, d) {
					c++
				}
			}
			if c > n {
				best, n = d, c
			}
		}
		if n == 0 { // a deviation none of the known ones: nothing covers it
			break
		}
		chosen[best] = true
		for name, ds := range left {
			if slices.Contains(ds, best) {
				delete(left, name)
			}
		}
	}
	out := []Deviation{}
	for _, d := range known {
		if chosen[d] {
			out = append(out, d)
		}
	}
	return out
}

// checkOnce runs the suite's subtests once, each in a recorder.
func checkOnce(ctx context.Context, f *Fixture) ([]Result, error) {
	root := &recorder{rep: &recording{}}
	var setupErr error
	root.call(func(t T) {
		base := f.baseFront(t)
		caps, err := base.Capabilities(ctx, f.KeyA)
		if err != nil {
			setupErr = fmt.Errorf("conformance: the Front does not route KeyA: %w", err)
			return
		}
		(&suite{f: f, kms: base, caps: f.suiteCaps(caps)}).run(t)
	})
	if setupErr != nil {
		return nil, setupErr
	}
	if root.Failed() && len(root.rep.results) == 0 {
		return nil, fmt.Errorf("conformance: the suite could not start: %s", strings.Join(root.msgs, "; "))
	}
	return root.rep.results, nil
}

// recording collects the results of one run, in the order subtests start.
type recording struct {
	mu      sync.Mutex
	results []Result
}

// recorder is a T that records what a subtest says and how it ends. Fatal and
// Skip end the subtest's goroutine, as in package testing.
type recorder struct {
	rep    *recording
	parent *recorder
	name   string
	index  int // of its Result in rep.results

	mu       sync.Mutex
	failed   bool
	own      bool
	skipped  bool
	children int
	msgs     []string
	cleanups []func()
}

var _ T = (*recorder)(nil)

func (r *recorder) Helper()      {}
func (r *recorder) Name() string { return r.name }

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *recorder) say(msg string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, strings.TrimSuffix(msg, "\n"))
	r.mu.Unlock()
}

func (r *recorder) fail() {
	r.mu.Lock()
	r.own = true
	r.mu.Unlock()
	for p := r; p != nil; p = p.parent {
		p.mu.Lock()
		p.failed = true
		p.mu.Unlock()
	}
}

func (r *recorder) Logf(format string, args ...any) { r.say(fmt.Sprintf(format, args...)) }

func (r *recorder) Errorf(format string, args ...any) {
	r.say(fmt.Sprintf(format, args...))
	r.fail()
}

func (r *recorder) Fatal(args ...any) {
	r.say(fmt.Sprintln(args...))
	r.fail()
	runtime.Goexit()
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}

func (r *recorder) skip(msg string) {
	r.say(msg)
	r.mu.Lock()
	r.skipped = true
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Skip(args ...any)                 { r.skip(fmt.Sprintln(args...)) }
func (r *recorder) Skipf(format string, args ...any) { r.skip(fmt.Sprintf(format, args...)) }

func (r *recorder) Cleanup(f func()) {
	r.mu.Lock()
	r.cleanups = append(r.cleanups, f)
	r.mu.Unlock()
}

// call runs f with r in a goroutine of its own and waits for it, running r's
// clean-ups afterwards (last first); a panic fails r.
func (r *recorder) call(f func(T)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			r.mu.Lock()
			cs := r.cleanups
			r.cleanups = nil
			r.mu.Unlock()
			for i := len(cs) - 1; i >= 0; i-- {
				cs[i]()
			}
		}()
		defer func() {
			if v := recover(); v != nil {
				r.say(fmt.Sprintf("panic: %v", v))
				r.fail()
			}
		}()
		f(r)
	}()
	<-done
}

func (r *recorder) Run(name string, f func(T)) bool {
	name = strings.ReplaceAll(name, " ", "_")
	if r.name != "" {
		name = r.name + "/" + name
	}
	r.mu.Lock()
	r.children++
	r.mu.Unlock()
	c := &recorder{rep: r.rep, parent: r, name: name}
	r.rep.mu.Lock()
	c.index = len(r.rep.results)
	r.rep.results = append(r.rep.results, Result{Name: name})
	r.rep.mu.Unlock()
	c.call(f)
	c.mu.Lock()
	res := Result{Name: name, Outcome: Passed, Messages: c.msgs, leaf: c.children == 0, own: c.own}
	switch {
	case c.failed:
		res.Outcome = Failed
	case c.skipped && slices.ContainsFunc(c.msgs, func(m string) bool { return strings.Contains(m, "declared deviation ") }):
		res.Outcome = SkippedDeviation
	case c.skipped:
		res.Outcome = NotApplicable
	}
	failed := c.failed
	c.mu.Unlock()
	r.rep.mu.Lock()
	r.rep.results[c.index] = res
	r.rep.mu.Unlock()
	return !failed
}

// WriteText writes the report as a table: one line per subtest that runs no
// subtests of its own, with the first thing it said, then the deviations found.
func (rep *Report) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "SUBTEST\tOUTCOME\tDETAIL\n")
	for _, r := range rep.Results {
		if !r.leaf && !r.own {
			continue
		}
		detail := ""
		if len(r.Messages) > 0 {
			detail = firstLine(r.Messages[0])
		}
		if len(r.Deviations) > 0 {
			ds := make([]string, len(r.Deviations))
			for i, d := range r.Deviations {
				ds[i] = string(d)
			}
			detail = "[" + strings.Join(ds, ", ") + "] " + detail
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Name, r.Outcome, detail)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s: %d passed, %d failed (%d unexplained), %d skipped for declared deviations, %d not applicable\n",
		rep.Target, rep.Passed, rep.Failed, rep.Unexplained, rep.Declared, rep.NotApplicable)
	if len(rep.Deviations) == 0 {
		_, err := fmt.Fprintf(w, "known deviations from AWS KMS: none\n")
		return err
	}
	fmt.Fprintf(w, "known deviations from AWS KMS (%d):\n", len(rep.Deviations))
	for _, d := range rep.Deviations {
		fmt.Fprintf(w, "  %s: %s\n", d, d.Reason())
	}
	return nil
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// parentName returns the name of the subtest that holds name ("" for a top one).
func parentName(name string) string {
	i := strings.LastIndex(name, "/")
	if i < 0 {
		return ""
	}
	return name[:i]
}
