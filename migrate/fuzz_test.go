package migrate

import (
	"bytes"
	"testing"
)

// FuzzReadReport reads arbitrary bytes as a shard report: never a panic, and
// a report that reads merges with itself into twice its counts.
func FuzzReadReport(f *testing.F) {
	f.Add([]byte(`{"Source":"s3://b","Objects":3,"Migrated":2,"Skipped":1,"SkippedBy":{"not-a-message":1},"BySourceKey":{"k":{"Migrated":2}},"Failures":[],"Run":{"Seconds":1.5,"Objects":3}}`))
	f.Add([]byte(`{"BySourceKey":{"k":null},"Failures":[{"Key":"x"}]}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := ReadReport(bytes.NewReader(data))
		if err != nil {
			return
		}
		m := MergeReports(rep, rep)
		if m.Objects != 2*rep.Objects || m.Migrated != 2*rep.Migrated || m.Failed != 2*rep.Failed {
			t.Fatalf("merged %+v from %+v", m, rep)
		}
	})
}

// FuzzParseShard: a shard that parses contains every key exactly when K of N
// says so, and K/N round-trips.
func FuzzParseShard(f *testing.F) {
	f.Add("0/3", "a/b.enc")
	f.Add("2/2", "x")
	f.Add("-1/4", "")
	f.Fuzz(func(t *testing.T, s, key string) {
		sh, err := ParseShard(s)
		if err != nil {
			return
		}
		if sh.N > 1 {
			if back, err := ParseShard(sh.String()); err != nil || back != sh {
				t.Fatalf("%q -> %v -> %q", s, sh, sh.String())
			}
			n := 0
			for k := range min(sh.N, 64) {
				if (Shard{K: k, N: sh.N}).Contains(key) {
					n++
				}
			}
			if sh.N <= 64 && n != 1 {
				t.Fatalf("%q is in %d shards of %d", key, n, sh.N)
			}
		}
	})
}
