#!/usr/bin/env bash
# Firewall: deny incoming by default, allow only the published ports (nginx) and SSH.
# Usage: sudo bash docker/host/firewall.sh      (PORTS="80 443" SSH_PORT=22; DRY_RUN=1 to preview)
# Note: Docker publishes ports through its own iptables chain, around ufw; the compose file therefore
# publishes only nginx, and everything else stays on internal networks.
source "$(dirname "$0")/lib.sh"
need_root

PORTS="${PORTS:-80 443}"
SSH_PORT="${SSH_PORT:-22}"

if ! command -v ufw >/dev/null; then
  run apt-get install -y ufw
fi
run ufw default deny incoming
run ufw default allow outgoing
# ufw skips rules that already exist, so re-running adds nothing.
run ufw limit "${SSH_PORT}/tcp" comment 'ssh (rate limited)'
for port in $PORTS; do
  run ufw allow "${port}/tcp" comment 'acgs-gateway nginx'
done
run ufw --force enable
run ufw status verbose
