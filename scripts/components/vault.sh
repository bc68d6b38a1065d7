# Vault Transit for backends/vault: an in-process Vault core (internal/tools/vaultdev,
# built from Vault's own packages in a Go module of its own) on a free loopback port,
# plain HTTP, in-memory storage, a fixed root token and Transit mounted at transit/.
# Sourced by scripts/test.sh; needs scripts/lib.sh.
#
# The first build on a machine downloads ~2.8 GB of modules and compiles for several
# minutes; the binary is kept in $KEYPORT_CACHE/bin and rebuilt only when the tool's
# sources are newer than it.

COMPONENTS="${COMPONENTS:-} start_vault"
# The build is the longest step of a cold run (downloads, then compiling):
# scripts/test.sh starts it first, in the background, and start_vault waits for it.
PREPARE="${PREPARE:-} prepare_vault"

# build_vaultdev builds $KEYPORT_CACHE/bin/vaultdev if it is missing or older than its
# sources, and prints its path.
build_vaultdev() {
  local root src bin
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  src="$root/internal/tools/vaultdev"
  bin="$KEYPORT_CACHE/bin/vaultdev"
  mkdir -p "$KEYPORT_CACHE/bin"
  if [ ! -x "$bin" ] || [ -n "$(find "$src" -maxdepth 1 -type f \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) -newer "$bin" -print -quit)" ]; then
    log "building vaultdev (first build on a machine takes several minutes)"
    local t0=$SECONDS
    (cd "$src" && GOFLAGS=-mod=mod go build -trimpath -o "$bin.tmp" . && mv "$bin.tmp" "$bin") >&2 || return 1
    log "built vaultdev in $((SECONDS - t0))s"
  fi
  printf '%s\n' "$bin"
}

# prepare_vault starts build_vaultdev in the background; start_vault takes its result.
prepare_vault() {
  build_vaultdev >"$KEYPORT_STATE/vaultdev.path" 2>"$KEYPORT_STATE/vaultdev-build.log" &
  _vault_build_pid=$!
  track "$_vault_build_pid"
}

start_vault() {
  local bin port token=keyport-root-token dir
  if [ -n "${_vault_build_pid:-}" ]; then
    local ok=0
    wait "$_vault_build_pid" || ok=$?
    cat "$KEYPORT_STATE/vaultdev-build.log" >&2
    [ "$ok" = 0 ] || { log "vaultdev build failed"; return 1; }
    bin=$(cat "$KEYPORT_STATE/vaultdev.path")
  else
    bin=$(build_vaultdev) || { log "vaultdev build failed"; return 1; }
  fi
  port=$(free_port)
  dir="$KEYPORT_STATE/vault"
  mkdir -p "$dir"
  "$bin" -addr "127.0.0.1:$port" -token "$token" -mount transit >"$dir/stdout.log" 2>"$dir/stderr.log" &
  track $!
  if ! wait_http "http://127.0.0.1:$port/v1/sys/health" 60; then
    cat "$dir/stderr.log" >&2
    return 1
  fi
  export VAULT_ADDR="http://127.0.0.1:$port"
  export VAULT_TOKEN="$token"
  export KEYPORT_VAULT_ADDR="$VAULT_ADDR"
  # Tests that need a Vault of their own (sealing one) start this binary themselves.
  export KEYPORT_VAULTDEV_BIN="$bin"
  log "vault on $VAULT_ADDR"
}
