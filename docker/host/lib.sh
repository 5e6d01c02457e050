#!/usr/bin/env bash
# Shared helpers of the host scripts: root check, dry-run, and "write a file only when it changed".
# Sourced, never run. Every script is idempotent: running it twice changes nothing the second time.

set -euo pipefail

# DRY_RUN=1 prints what would change and changes nothing.
DRY_RUN="${DRY_RUN:-0}"

log() { printf '[%s] %s\n' "$(basename "$0")" "$*"; }

need_root() {
  if [ "$DRY_RUN" != 1 ] && [ "$(id -u)" -ne 0 ]; then
    echo "$(basename "$0"): run as root (sudo), or DRY_RUN=1 to see what it would do" >&2
    exit 1
  fi
}

# install_file PATH MODE < content: replaces PATH only when the content differs; returns 0 if it changed.
install_file() {
  local path=$1 mode=$2 tmp
  tmp=$(mktemp)
  cat >"$tmp"
  if [ -f "$path" ] && cmp -s "$tmp" "$path"; then
    rm -f "$tmp"
    log "unchanged: $path"
    return 1
  fi
  if [ "$DRY_RUN" = 1 ]; then
    log "would write $path:"
    sed 's/^/    /' "$tmp"
    rm -f "$tmp"
    return 1
  fi
  install -D -m "$mode" "$tmp" "$path"
  rm -f "$tmp"
  log "wrote $path"
  return 0
}

run() {
  if [ "$DRY_RUN" = 1 ]; then
    log "would run: $*"
  else
    "$@"
  fi
}
