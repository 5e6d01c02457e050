#!/usr/bin/env bash
# Backups of the Redis volume (rollout state, weights) and the admin audit logs, kept for KEEP_DAYS.
#   sudo bash docker/host/backup.sh install   schedule it daily at 03:15 (/etc/cron.d/acgs-backup)
#   sudo bash docker/host/backup.sh run       take one backup now (what cron runs)
# BACKUP_DIR=/var/backups/acgs KEEP_DAYS=14 COMPOSE_PROJECT=docker; DRY_RUN=1 to preview.
source "$(dirname "$0")/lib.sh"
need_root

BACKUP_DIR="${BACKUP_DIR:-/var/backups/acgs}"
KEEP_DAYS="${KEEP_DAYS:-14}"
COMPOSE_PROJECT="${COMPOSE_PROJECT:-docker}"
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

case "${1:-}" in
  install)
    install_file /etc/cron.d/acgs-backup 0644 <<CONF || true
# Written by docker/host/backup.sh install (acgs-gateway).
SHELL=/bin/bash
15 3 * * * root BACKUP_DIR=${BACKUP_DIR} KEEP_DAYS=${KEEP_DAYS} COMPOSE_PROJECT=${COMPOSE_PROJECT} bash ${SELF} run >>/var/log/acgs-backup.log 2>&1
CONF
    ;;
  run)
    stamp=$(date -u +%Y%m%dT%H%M%SZ)
    run mkdir -p "$BACKUP_DIR"
    # A consistent Redis snapshot first, then a copy of the volume's files.
    redis=$(docker ps -q --filter "label=com.docker.compose.project=${COMPOSE_PROJECT}" --filter "label=com.docker.compose.service=redis" | head -n1)
    if [ -n "$redis" ]; then
      run docker exec "$redis" redis-cli SAVE
    fi
    for volume in $(docker volume ls -q --filter "label=com.docker.compose.project=${COMPOSE_PROJECT}"); do
      case "$volume" in
        *redis* | *audit*)
          run docker run --rm -v "${volume}:/data:ro" -v "${BACKUP_DIR}:/backup" busybox \
            tar czf "/backup/${volume}-${stamp}.tar.gz" -C /data .
          ;;
      esac
    done
    run find "$BACKUP_DIR" -name '*.tar.gz' -mtime "+${KEEP_DAYS}" -delete
    log "backup ${stamp} in ${BACKUP_DIR}"
    ;;
  *)
    echo "usage: $0 install|run" >&2
    exit 2
    ;;
esac
