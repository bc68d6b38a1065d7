# Object stores for package migrate's bucket tests, each on a free loopback port,
# in memory, started by scripts/test.sh (needs scripts/lib.sh):
#   KEYPORT_AZURITE_BLOB  Azurite (npm azurite, Microsoft's Azure Storage emulator): its
#                         blob service, account devstoreaccount1 with the emulator's
#                         well-known key, as http://127.0.0.1:PORT
#   KEYPORT_FAKEGCS       fsouza/fake-gcs-server (Go), a Cloud Storage JSON API server, as
#                         127.0.0.1:PORT (the form STORAGE_EMULATOR_HOST takes)
#   KEYPORT_GOFAKES3      johannesboyne/gofakes3 (Go), an S3 API server, as
#                         http://127.0.0.1:PORT; buckets are made on first use
# gofakes3 rather than npm s3rver: it answers PutObject's If-Match and If-None-Match
# (conditional writes, which the migration's in-place replacement relies on) where
# s3rver 3.7.1 (2021) predates S3's conditional writes and ignores them; and it is a
# Go binary built like local-kms, with no second runtime. Both Go servers run as
# binaries installed outside the module (their dependencies never enter keyport's
# go.mod), built once per machine into $KEYPORT_CACHE/bin.

AZURITE_VERSION=3.37.0
FAKEGCS_MODULE=github.com/fsouza/fake-gcs-server
FAKEGCS_VERSION=v1.56.1
GOFAKES3_MODULE=github.com/johannesboyne/gofakes3/cmd/gofakes3
GOFAKES3_VERSION=v1.2.0

# _go_install_tool NAME MODULE VERSION installs a pinned Go binary into $KEYPORT_CACHE/bin.
_go_install_tool() {
  local name=$1 module=$2 version=$3 bin="$KEYPORT_CACHE/bin/$1" stamp="$KEYPORT_CACHE/bin/$1.version"
  if [ -x "$bin" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  log "installing $name $version"
  mkdir -p "$KEYPORT_CACHE/bin"
  (cd "${TMPDIR:-/tmp}" && GOBIN="$KEYPORT_CACHE/bin" GOFLAGS=-mod=mod go install "$module@$version") >&2 || return 1
  echo "$version" >"$stamp"
}

# _wait_port PORT [SECONDS] waits until something listens on 127.0.0.1:PORT.
_wait_port() {
  local port=$1 secs=${2:-30} i
  for i in $(seq $((secs * 10))); do
    if python3 -c "import socket,sys; s=socket.socket(); s.settimeout(0.2); sys.exit(s.connect_ex(('127.0.0.1', $port)))" 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  log "nothing listens on 127.0.0.1:$port after ${secs}s"
  return 1
}

start_azurite() {
  command -v node >/dev/null || { log "azurite: node is not installed"; return 1; }
  local dir="$KEYPORT_CACHE/azurite/$AZURITE_VERSION" port state
  if [ ! -f "$dir/.installed" ]; then
    log "azurite: npm install azurite@$AZURITE_VERSION into $dir"
    rm -rf "$dir.tmp.$$"
    mkdir -p "$dir.tmp.$$"
    (cd "$dir.tmp.$$" && npm install --no-audit --no-fund --loglevel=error --no-save "azurite@$AZURITE_VERSION" >&2) || return 1
    rm -rf "$dir"
    mv "$dir.tmp.$$" "$dir"
    touch "$dir/.installed"
  fi
  port=$(free_port)
  state="$KEYPORT_STATE/azurite"
  mkdir -p "$state"
  node "$dir/node_modules/azurite/dist/src/blob/main.js" --blobHost 127.0.0.1 --blobPort "$port" \
    --inMemoryPersistence --skipApiVersionCheck --loose --silent >"$state/log" 2>&1 &
  track $!
  _wait_port "$port" 60 || { cat "$state/log" >&2; return 1; }
  export KEYPORT_AZURITE_BLOB="http://127.0.0.1:$port"
  log "azurite: $KEYPORT_AZURITE_BLOB"
}

start_fakegcs() {
  _go_install_tool fake-gcs-server "$FAKEGCS_MODULE" "$FAKEGCS_VERSION" || return 1
  local port state
  port=$(free_port)
  state="$KEYPORT_STATE/fakegcs"
  mkdir -p "$state"
  "$KEYPORT_CACHE/bin/fake-gcs-server" -scheme http -host 127.0.0.1 -port "$port" -backend memory \
    -public-host "127.0.0.1:$port" -external-url "http://127.0.0.1:$port" -log-level error >"$state/log" 2>&1 &
  track $!
  _wait_port "$port" 30 || { cat "$state/log" >&2; return 1; }
  export KEYPORT_FAKEGCS="127.0.0.1:$port"
  log "fake-gcs-server: $KEYPORT_FAKEGCS"
}

start_gofakes3() {
  _go_install_tool gofakes3 "$GOFAKES3_MODULE" "$GOFAKES3_VERSION" || return 1
  local port state
  port=$(free_port)
  state="$KEYPORT_STATE/gofakes3"
  mkdir -p "$state"
  "$KEYPORT_CACHE/bin/gofakes3" -backend memory -host "127.0.0.1:$port" -autobucket -quiet >"$state/log" 2>&1 &
  track $!
  _wait_port "$port" 30 || { cat "$state/log" >&2; return 1; }
  export KEYPORT_GOFAKES3="http://127.0.0.1:$port"
  log "gofakes3: $KEYPORT_GOFAKES3"
}

COMPONENTS="${COMPONENTS:-} start_azurite start_fakegcs start_gofakes3"
