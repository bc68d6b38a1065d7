#!/usr/bin/env bash
# Runs every fuzz target in the module for a short time each: scripts/fuzz.sh [DURATION]
#
# Go 1.26's fuzzing coordinator can fail a target that found nothing: when the
# -fuzztime deadline fires, it may read the deadline's error before its workers'
# context is cancelled and report "context deadline exceeded" (go.dev/issue/75804,
# fixed in Go 1.27). A target that fails with only that message and wrote no failing
# input is fuzzed again for the same number of executions it had reached, counted
# (-fuzztime Nx) instead of timed: a count has no deadline to race, so any real
# finding still fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
time=${1:-5s}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# deadline_race OUTPUT: the run failed with Go's coordinator race and nothing else.
deadline_race() {
  grep -q '^    context deadline exceeded$' "$1" &&
    ! grep -q 'Failing input written to\|^panic:\|^fatal error:' "$1" &&
    [ "$(grep -c '^    ' "$1")" = 1 ]
}

for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for f in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz $pkg $f ($time)"
    if go test -run='^$' -fuzz="^$f\$" -fuzztime="$time" "$pkg" 2>&1 | tee "$out"; then
      continue
    fi
    if ! deadline_race "$out"; then
      exit 1
    fi
    n=$(grep -o 'execs: [0-9]*' "$out" | awk '{ if ($2 > m) m = $2 } END { print (m < 1000 ? 1000 : m) }')
    echo "fuzz $pkg $f: Go's fuzzing deadline race (go.dev/issue/75804); again for ${n} executions, counted"
    go test -run='^$' -fuzz="^$f\$" -fuzztime="${n}x" "$pkg"
  done
done
