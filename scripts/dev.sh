#!/usr/bin/env bash
# Starts every real component the tests talk to (as scripts/test.sh does), writes
# the variables the tests read to an env file, and keeps them running until it is
# interrupted. For working on one package at a time:
#
#   scripts/dev.sh /tmp/keyport.env &     # wait for "ready"
#   . /tmp/keyport.env && go test -race ./backends/awskms/
#
# COMPONENTS_ONLY="start_localkms start_vault" starts only those.
set -euo pipefail
cd "$(dirname "$0")/.."
envfile=${1:?usage: scripts/dev.sh ENVFILE}
. scripts/lib.sh
trap stop_all EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for c in scripts/components/*.sh; do
  [ -e "$c" ] || continue
  . "$c"
done
: >"$envfile.tmp"
for start in ${COMPONENTS_ONLY:-$COMPONENTS}; do
  log "starting ${start#start_}"
  "$start"
done
env | grep -E '^(KEYPORT_|VAULT_)' | sed -e "s/'/'\\\\''/g" -e "s/=\(.*\)/='\1'/" -e 's/^/export /' >"$envfile.tmp"
mv "$envfile.tmp" "$envfile"
log "ready: . $envfile"
while :; do sleep 3600 & wait $!; done
