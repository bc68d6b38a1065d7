# Component: the AWS Encryption SDK for JavaScript (@aws-crypto/client-node, pinned
# in internal/jsesdk/package-lock.json) as an interop peer for envelope tests.
# start_jsesdk installs the locked packages once per lockfile into $KEYPORT_CACHE and
# exports KEYPORT_JSESDK_DIR, a directory holding encrypt.js, decrypt.js and their
# node_modules. Nothing keeps running: each test batch starts its own node process.
# Sourced by scripts/test.sh (needs scripts/lib.sh) and by scripts/bench.sh.

start_jsesdk() {
  local src hash dir tmp
  src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../internal/jsesdk" && pwd)"
  command -v node >/dev/null || { log "jsesdk: node is not installed"; return 1; }
  command -v npm >/dev/null || { log "jsesdk: npm is not installed"; return 1; }
  hash=$(cat "$src/package-lock.json" "$src/package.json" | sha256sum | cut -c1-16)
  dir="$KEYPORT_CACHE/jsesdk/$hash"
  if [ ! -f "$dir/.installed" ]; then
    log "jsesdk: npm ci into $dir"
    tmp="$dir.tmp.$$"
    rm -rf "$tmp"
    mkdir -p "$tmp"
    cp "$src/package.json" "$src/package-lock.json" "$tmp/"
    (cd "$tmp" && npm ci --no-audit --no-fund --loglevel=error >&2)
    rm -rf "$dir"
    mv "$tmp" "$dir"
    touch "$dir/.installed"
  fi
  # The scripts are copied on every run (they are small), so edits take effect
  # without a reinstall; node resolves the packages from $dir/node_modules.
  cp "$src"/*.js "$dir/"
  export KEYPORT_JSESDK_DIR="$dir"
  log "jsesdk: KEYPORT_JSESDK_DIR=$dir"
}

COMPONENTS="${COMPONENTS:-} start_jsesdk"
