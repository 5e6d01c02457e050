#!/usr/bin/env bash
# Docker daemon log limits: json-file logs rotated at 50 MB, 5 files per container, so a chatty replica
# cannot fill the disk. Merges into an existing daemon.json (needs jq) rather than replacing it.
# Usage: sudo bash docker/host/docker-daemon.sh (DRY_RUN=1 to preview)
source "$(dirname "$0")/lib.sh"
need_root

FILE=/etc/docker/daemon.json
WANT='{"log-driver":"json-file","log-opts":{"max-size":"50m","max-file":"5"},"live-restore":true}'

if ! command -v jq >/dev/null; then
  run apt-get install -y jq
fi
current='{}'
[ -f "$FILE" ] && current=$(cat "$FILE")
if command -v jq >/dev/null; then
  merged=$(jq -S --argjson want "$WANT" '. * $want' <<<"$current")
else
  merged=$WANT
fi
if install_file "$FILE" 0644 <<<"$merged"; then
  log "restart Docker when convenient for new containers to use it: systemctl restart docker"
fi
