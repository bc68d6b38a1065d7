# local-kms (github.com/nsmithuk/local-kms): an AWS KMS API server for the awskms
# backend's tests. Sourced by scripts/test.sh (after scripts/lib.sh); defines
# start_localkms.
#
# It starts three processes, one account and region each (local-kms serves one of
# each per process), every one on a free port with its own data directory and seeded
# from backends/awskms/testdata/seed-*.yaml:
#   KEYPORT_LOCALKMS_A  account 111122223333, us-east-1
#   KEYPORT_LOCALKMS_B  account 444455556666, us-east-1
#   KEYPORT_LOCALKMS_C  account 111122223333, us-west-2 (multi-Region replica)
# Each is exported as http://127.0.0.1:PORT. local-kms binds 0.0.0.0; the tests only
# ever talk to 127.0.0.1.

LOCALKMS_MODULE=github.com/nsmithuk/local-kms
LOCALKMS_VERSION=v0.0.0-20260228092603-2a5e92d09ab6

# install_localkms installs the pinned local-kms into $KEYPORT_CACHE/bin unless the
# same version is already there.
install_localkms() {
  local bin="$KEYPORT_CACHE/bin/local-kms" stamp="$KEYPORT_CACHE/bin/local-kms.version"
  if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$LOCALKMS_VERSION" ]; then
    return 0
  fi
  log "installing local-kms $LOCALKMS_VERSION"
  mkdir -p "$KEYPORT_CACHE/bin"
  # Outside the repository, so that keyport's go.mod is neither read nor changed.
  (cd "${TMPDIR:-/tmp}" && GOBIN="$KEYPORT_CACHE/bin" GOFLAGS=-mod=mod go install "$LOCALKMS_MODULE@$LOCALKMS_VERSION")
  echo "$LOCALKMS_VERSION" >"$stamp"
}

# _run_localkms NAME ACCOUNT REGION SEED starts a local-kms process, tracks its PID
# and sets _localkms_ep to its endpoint.
_run_localkms() {
  local name=$1 account=$2 region=$3 seed=$4 port dir
  port=$(free_port)
  dir="$KEYPORT_STATE/localkms-$name"
  mkdir -p "$dir/data"
  PORT=$port KMS_ACCOUNT_ID=$account KMS_REGION=$region \
    KMS_DATA_PATH="$dir/data" KMS_SEED_PATH="$seed" \
    "$KEYPORT_CACHE/bin/local-kms" >"$dir/log" 2>&1 &
  local pid=$!
  track "$pid"
  echo "$pid" >"$dir/pid"
  _localkms_ep="http://127.0.0.1:$port"
}

start_localkms() {
  install_localkms || return 1
  local root testdata a b c
  root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel 2>/dev/null || pwd)
  testdata="$root/backends/awskms/testdata"
  _run_localkms a 111122223333 us-east-1 "$testdata/seed-a.yaml"; a=$_localkms_ep
  _run_localkms b 444455556666 us-east-1 "$testdata/seed-b.yaml"; b=$_localkms_ep
  _run_localkms c 111122223333 us-west-2 "$testdata/seed-c.yaml"; c=$_localkms_ep
  local ep
  for ep in "$a" "$b" "$c"; do
    wait_http "$ep/" 30 || { log "local-kms at $ep did not start; see $KEYPORT_STATE/localkms-*/log"; return 1; }
  done
  export KEYPORT_LOCALKMS_A=$a KEYPORT_LOCALKMS_B=$b KEYPORT_LOCALKMS_C=$c
  log "local-kms: A=$a B=$b C=$c"
}

COMPONENTS="${COMPONENTS:-} start_localkms"
