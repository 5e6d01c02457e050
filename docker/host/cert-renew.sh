#!/usr/bin/env bash
# Certificate renewal with certbot (webroot through the running nginx), then an nginx reload; a daily
# systemd timer runs it, and certbot renews only within 30 days of expiry.
#   sudo DOMAINS="api.example.org" EMAIL=ops@example.org bash docker/host/cert-renew.sh install
#   sudo bash docker/host/cert-renew.sh renew
# CERT_DIR is the folder nginx reads (docker/nginx/certs); DRY_RUN=1 to preview.
source "$(dirname "$0")/lib.sh"
need_root

REPO="$(cd "$(dirname "$0")/../.." && pwd)"
CERT_DIR="${CERT_DIR:-${REPO}/docker/nginx/certs}"
WEBROOT="${WEBROOT:-/var/www/acme}"
SELF="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"

copy_and_reload() {
  local live=/etc/letsencrypt/live/$1
  run install -m 0644 "${live}/fullchain.pem" "${CERT_DIR}/fullchain.pem"
  run install -m 0600 "${live}/privkey.pem" "${CERT_DIR}/privkey.pem"
  run docker compose -f "${REPO}/docker/docker-compose.prod.yml" exec -T nginx nginx -s reload
}

case "${1:-}" in
  install)
    : "${DOMAINS:?set DOMAINS, e.g. DOMAINS=\"api.example.org\"}"
    : "${EMAIL:?set EMAIL for the CA account}"
    command -v certbot >/dev/null || run apt-get install -y certbot
    run mkdir -p "$WEBROOT"
    args=()
    for d in $DOMAINS; do args+=(-d "$d"); done
    run certbot certonly --webroot -w "$WEBROOT" --non-interactive --agree-tos -m "$EMAIL" --keep-until-expiring "${args[@]}"
    install_file /etc/systemd/system/acgs-cert-renew.service 0644 <<CONF || true
[Unit]
Description=Renew the acgs-gateway TLS certificate
[Service]
Type=oneshot
Environment=CERT_DIR=${CERT_DIR} PRIMARY=${DOMAINS%% *}
ExecStart=/bin/bash ${SELF} renew
CONF
    install_file /etc/systemd/system/acgs-cert-renew.timer 0644 <<CONF || true
[Unit]
Description=Daily acgs-gateway certificate renewal
[Timer]
OnCalendar=daily
RandomizedDelaySec=1h
Persistent=true
[Install]
WantedBy=timers.target
CONF
    run systemctl daemon-reload
    run systemctl enable --now acgs-cert-renew.timer
    copy_and_reload "${DOMAINS%% *}"
    ;;
  renew)
    run certbot renew --quiet
    copy_and_reload "${PRIMARY:?set PRIMARY to the certificate name}"
    ;;
  *)
    echo "usage: $0 install|renew" >&2
    exit 2
    ;;
esac
