# Component: the AWS CLI v2 from Debian (package awscli), which the tests of
# keyport's KMS API server drive through a scripted session. start_awscli
# installs the pinned package when /usr/bin/aws is missing or another version,
# and exports KEYPORT_AWSCLI=/usr/bin/aws: the tests call it by that path, since
# another `aws` (a pip-installed v1) may come first on PATH. Nothing keeps
# running. Sourced by scripts/test.sh (needs scripts/lib.sh).

AWSCLI_VERSION=2.9.19-1

start_awscli() {
  if [ "$(dpkg-query -W -f='${Version}' awscli 2>/dev/null)" != "$AWSCLI_VERSION" ] || [ ! -x /usr/bin/aws ]; then
    log "awscli: apt-get install awscli=$AWSCLI_VERSION"
    if ! command -v apt-get >/dev/null; then log "awscli: no apt-get on this machine"; return 1; fi
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq >&2 || { log "awscli: apt-get update failed"; return 1; }
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "awscli=$AWSCLI_VERSION" >&2 ||
      { log "awscli: apt-get install awscli=$AWSCLI_VERSION failed"; return 1; }
  fi
  export KEYPORT_AWSCLI=/usr/bin/aws
  log "awscli: KEYPORT_AWSCLI=$KEYPORT_AWSCLI ($(/usr/bin/aws --version 2>&1 | head -1))"
}

COMPONENTS="${COMPONENTS:-} start_awscli"
