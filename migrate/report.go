package migrate

import (
	"context"
	"encoding/json"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/keyport/keyport/migrate/internal/journal"
)

// Report is the account of a migration: the whole journal (every run so far)
// and the numbers of the last run. Reports of the shards of one migration
// merge with [MergeReports].
type Report struct {
	Source      string `json:"Source"`
	Destination string `json:"Destination,omitempty"`
	// Shards are the shards the report covers ("K/N"), empty for all objects.
	Shards  []string `json:"Shards,omitempty"`
	Format  string   `json:"Format"`
	DryRun  bool     `json:"DryRun"`
	Journal string   `json:"Journal,omitempty"`

	// Complete says every object was listed and none is left unfinished
	// (failed objects count as finished).
	Complete bool `json:"Complete"`
	// ListingComplete says the source was listed to its end.
	ListingComplete bool `json:"ListingComplete"`
	// Interrupted says the run was stopped before every object was reached;
	// StoppedEarly that it stopped at MaxFailures.
	Interrupted  bool `json:"Interrupted"`
	StoppedEarly bool `json:"StoppedEarly"`

	// Objects is the number of objects of the migration (those the filters and
	// the shard select); it is Migrated + Skipped + Failed + NotReached.
	Objects    int64 `json:"Objects"`
	Migrated   int64 `json:"Migrated"`
	Skipped    int64 `json:"Skipped"`
	Failed     int64 `json:"Failed"`
	NotReached int64 `json:"NotReached"`
	// SkippedBy and FailedBy count by reason (not-a-message,
	// already-under-destination, not-under-source-keys, vanished;
	// changed-during-migration, error).
	SkippedBy map[string]int64 `json:"SkippedBy"`
	FailedBy  map[string]int64 `json:"FailedBy"`
	// BySourceKey counts by the key the objects were under (messages: the first
	// --from key of the header, else its first key; blobs: the key that
	// decrypted them). Objects skipped as non-messages have no key ("").
	BySourceKey map[string]*KeyCounts `json:"BySourceKey"`
	// Bytes are the sizes of the migrated objects before and after.
	Bytes        int64 `json:"Bytes"`
	BytesWritten int64 `json:"BytesWritten"`
	// Excluded counts the objects the include/exclude filters left out (in the
	// last run's listing); StaleTempFilesRemoved the temporary files of killed
	// runs found and removed (last run).
	Excluded              int64 `json:"Excluded"`
	StaleTempFilesRemoved int64 `json:"StaleTempFilesRemoved"`

	// Failures are the failed objects with their reasons, by key.
	Failures []Failure `json:"Failures"`
	// NotReachedKeys are the objects not finished (at most MaxListed), by key.
	NotReachedKeys []string `json:"NotReachedKeys"`

	// Run is the last run (of each shard, merged).
	Run RunStats `json:"Run"`
}

// KeyCounts are the outcomes of the objects under one source key.
type KeyCounts struct {
	Migrated int64 `json:"Migrated"`
	Skipped  int64 `json:"Skipped"`
	Failed   int64 `json:"Failed"`
	Bytes    int64 `json:"Bytes"`
}

// Failure is one failed object.
type Failure struct {
	Key    string `json:"Key"`
	Reason string `json:"Reason"`
	Error  string `json:"Error"`
	Kind   string `json:"Kind,omitempty"`
}

// RunStats describe one run: what it did and how fast.
type RunStats struct {
	Started time.Time `json:"Started"`
	Seconds float64   `json:"Seconds"`
	// Objects and Bytes are what this run processed and read (resumed objects
	// finished before are not counted again).
	Objects          int64   `json:"Objects"`
	Migrated         int64   `json:"Migrated"`
	Bytes            int64   `json:"Bytes"`
	ObjectsPerSecond float64 `json:"ObjectsPerSecond"`
	MBPerSecond      float64 `json:"MBPerSecond"`
}

// MaxListed bounds Failures and NotReachedKeys in a report.
const MaxListed = 10000

func (s *RunStats) rates() {
	if s.Seconds > 0 {
		s.ObjectsPerSecond = float64(s.Objects) / s.Seconds
		s.MBPerSecond = float64(s.Bytes) / 1e6 / s.Seconds
	}
}

// report builds the report from the journal and this run's counters.
func (r *runner) report(ctx context.Context, listed, interrupted bool) (*Report, error) {
	rep := &Report{
		Source: r.o.Source, Destination: r.o.Destination, Format: r.o.Format.String(), DryRun: r.o.DryRun,
		ListingComplete: listed, Interrupted: interrupted, StoppedEarly: r.stopEarly.Load(),
		SkippedBy: map[string]int64{}, FailedBy: map[string]int64{}, BySourceKey: map[string]*KeyCounts{},
		Excluded: r.excluded.Load(), StaleTempFilesRemoved: r.staleTemps.Load(),
		Failures: []Failure{}, NotReachedKeys: []string{},
	}
	if !r.o.DryRun {
		rep.Journal = r.j.Path()
	}
	if s := r.o.Shard.String(); s != "" {
		rep.Shards = []string{s}
	}
	groups, err := r.j.Summary(ctx)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		rep.Objects += g.Count
		kc := rep.BySourceKey[g.SourceKey]
		if kc == nil {
			kc = &KeyCounts{}
			rep.BySourceKey[g.SourceKey] = kc
		}
		switch g.State {
		case journal.Done:
			rep.Migrated += g.Count
			rep.Bytes += g.Bytes
			rep.BytesWritten += g.NewSize
			kc.Migrated += g.Count
			kc.Bytes += g.Bytes
		case journal.Skipped:
			rep.Skipped += g.Count
			rep.SkippedBy[g.Reason] += g.Count
			kc.Skipped += g.Count
		case journal.Failed:
			rep.Failed += g.Count
			rep.FailedBy[g.Reason] += g.Count
			kc.Failed += g.Count
		default:
			rep.NotReached += g.Count
		}
	}
	fs, err := r.j.Entries(ctx, journal.Failed, MaxListed)
	if err != nil {
		return nil, err
	}
	for _, e := range fs {
		rep.Failures = append(rep.Failures, Failure{Key: e.Key, Reason: e.Reason, Error: e.Error, Kind: e.Kind})
	}
	for _, s := range []journal.State{journal.Pending, journal.Replacing} {
		es, err := r.j.Entries(ctx, s, MaxListed)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			rep.NotReachedKeys = append(rep.NotReachedKeys, e.Key)
		}
	}
	sort.Strings(rep.NotReachedKeys)
	if len(rep.NotReachedKeys) > MaxListed {
		rep.NotReachedKeys = rep.NotReachedKeys[:MaxListed]
	}
	rep.Complete = listed && rep.NotReached == 0 && !rep.StoppedEarly
	rep.Run = RunStats{
		Started: r.started, Seconds: time.Since(r.started).Seconds(),
		Objects: r.processed.Load(), Migrated: r.migrated.Load(), Bytes: r.bytesRead.Load(),
	}
	rep.Run.rates()
	return rep, nil
}

// MergeReports merges the reports of the shards of one migration into the
// report of the whole: counts and bytes add up, failures and unreached objects
// are listed together, and the run is as long as the longest shard's (they
// run side by side), so its rates are those of the whole.
func MergeReports(reps ...*Report) *Report {
	m := &Report{
		Complete: true, ListingComplete: true,
		SkippedBy: map[string]int64{}, FailedBy: map[string]int64{}, BySourceKey: map[string]*KeyCounts{},
		Failures: []Failure{}, NotReachedKeys: []string{},
	}
	var sources, dests, formats []string
	for i, r := range reps {
		if r == nil {
			continue
		}
		if i == 0 || r.Run.Started.Before(m.Run.Started) {
			m.Run.Started = r.Run.Started
		}
		sources, dests, formats = appendNew(sources, r.Source), appendNew(dests, r.Destination), appendNew(formats, r.Format)
		m.Shards = append(m.Shards, r.Shards...)
		m.DryRun = m.DryRun || r.DryRun
		m.Complete = m.Complete && r.Complete
		m.ListingComplete = m.ListingComplete && r.ListingComplete
		m.Interrupted = m.Interrupted || r.Interrupted
		m.StoppedEarly = m.StoppedEarly || r.StoppedEarly
		m.Objects += r.Objects
		m.Migrated += r.Migrated
		m.Skipped += r.Skipped
		m.Failed += r.Failed
		m.NotReached += r.NotReached
		m.Bytes += r.Bytes
		m.BytesWritten += r.BytesWritten
		m.Excluded += r.Excluded
		m.StaleTempFilesRemoved += r.StaleTempFilesRemoved
		for k, v := range r.SkippedBy {
			m.SkippedBy[k] += v
		}
		for k, v := range r.FailedBy {
			m.FailedBy[k] += v
		}
		for k, v := range r.BySourceKey {
			if v == nil {
				continue
			}
			kc := m.BySourceKey[k]
			if kc == nil {
				kc = &KeyCounts{}
				m.BySourceKey[k] = kc
			}
			kc.Migrated += v.Migrated
			kc.Skipped += v.Skipped
			kc.Failed += v.Failed
			kc.Bytes += v.Bytes
		}
		m.Failures = append(m.Failures, r.Failures...)
		m.NotReachedKeys = append(m.NotReachedKeys, r.NotReachedKeys...)
		m.Run.Seconds = max(m.Run.Seconds, r.Run.Seconds)
		m.Run.Objects += r.Run.Objects
		m.Run.Migrated += r.Run.Migrated
		m.Run.Bytes += r.Run.Bytes
	}
	m.Source, m.Destination, m.Format = strings.Join(sources, " "), strings.Join(dests, " "), strings.Join(formats, " ")
	sort.Strings(m.Shards)
	sort.Slice(m.Failures, func(i, j int) bool { return m.Failures[i].Key < m.Failures[j].Key })
	sort.Strings(m.NotReachedKeys)
	if len(m.Failures) > MaxListed {
		m.Failures = m.Failures[:MaxListed]
	}
	if len(m.NotReachedKeys) > MaxListed {
		m.NotReachedKeys = m.NotReachedKeys[:MaxListed]
	}
	m.Run.rates()
	return m
}

func appendNew(list []string, s string) []string {
	if s == "" || slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// ReadReport reads a report written as JSON (by the keyport command's
// --output json, or [Report.WriteJSON]).
func ReadReport(r io.Reader) (*Report, error) {
	var rep Report
	dec := json.NewDecoder(r)
	if err := dec.Decode(&rep); err != nil {
		return nil, err
	}
	return &rep, nil
}

// WriteJSON writes the report as indented JSON.
func (rep *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "    ")
	return enc.Encode(rep)
}
