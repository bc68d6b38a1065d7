#!/usr/bin/env bash
# Runs the whole test suite: installs and starts every real component the tests talk
# to (each on a free loopback port), runs go vet, go test -race and a short fuzz run,
# and stops what it started. Usage: scripts/test.sh [go test flags...]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
trap stop_all EXIT

for c in scripts/components/*.sh; do
  [ -e "$c" ] || continue
  . "$c"
done
# Each component file defines a start_<name> function and adds it to COMPONENTS;
# one with a long build adds a prepare_<name> to PREPARE, which starts the build
# in the background (its start_<name> waits for it), so that the build overlaps
# the checks and the other components' installs.
for prepare in ${PREPARE:-}; do
  log "preparing ${prepare#prepare_} (in the background)"
  "$prepare"
done

log "gofmt, go vet, staticcheck"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted" >&2; exit 1; fi
go vet ./...
go run honnef.co/go/tools/cmd/staticcheck@v0.7.0 ./...

for start in ${COMPONENTS:-}; do
  log "starting ${start#start_}"
  "$start"
done
log "go test -race"
# cmd/keyport runs the command in hundreds of processes (its kill tests among
# them) and takes over ten minutes, go test's default limit, under -race here.
go test -race -count=1 -timeout 30m "$@" ./...
log "fuzz (short)"
scripts/fuzz.sh "${FUZZTIME:-5s}"
log "done"
