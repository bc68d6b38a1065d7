# SoftHSM2 for backends/pkcs11: Debian's softhsm2 package (a PKCS#11 library and
# softhsm2-util). Sourced by scripts/test.sh (after scripts/lib.sh); defines
# start_softhsm.
#
# Nothing runs and nothing is cached: the tests initialise a token of their own in
# a temporary directory (SOFTHSM2_CONF) with softhsm2-util --init-token. This only
# makes sure the package is installed (apt-get, as root, on a fresh Debian machine)
# and exports the library's path:
#   KEYPORT_SOFTHSM_MODULE  /usr/lib/softhsm/libsofthsm2.so
# opensc (pkcs11-tool) comes along, for looking at a token by hand.

SOFTHSM_MODULE=/usr/lib/softhsm/libsofthsm2.so

start_softhsm() {
  if [ ! -e "$SOFTHSM_MODULE" ] || ! command -v softhsm2-util >/dev/null 2>&1; then
    log "installing softhsm2 and opensc (apt-get)"
    if [ "$(id -u)" != 0 ]; then
      log "softhsm2 is missing and this is not root: install it with apt-get install softhsm2"
      return 1
    fi
    (export DEBIAN_FRONTEND=noninteractive
     apt-get update -qq && apt-get install -y -qq softhsm2 opensc) >"$KEYPORT_STATE/softhsm-apt.log" 2>&1 ||
      { log "apt-get install softhsm2 failed; see $KEYPORT_STATE/softhsm-apt.log"; return 1; }
  fi
  [ -e "$SOFTHSM_MODULE" ] || { log "softhsm2 is installed but $SOFTHSM_MODULE is missing"; return 1; }
  export KEYPORT_SOFTHSM_MODULE=$SOFTHSM_MODULE
  log "softhsm: $(softhsm2-util --version) at $SOFTHSM_MODULE"
}

COMPONENTS="${COMPONENTS:-} start_softhsm"
