#!/usr/bin/env bash
# fail2ban for SSH: ban an address for an hour after 5 failed logins in 10 minutes.
# Usage: sudo bash docker/host/fail2ban.sh      (SSH_PORT=22; DRY_RUN=1 to preview)
source "$(dirname "$0")/lib.sh"
need_root

SSH_PORT="${SSH_PORT:-22}"

if ! command -v fail2ban-client >/dev/null; then
  run apt-get install -y fail2ban
fi
if install_file /etc/fail2ban/jail.d/acgs-sshd.local 0644 <<CONF; then
# Written by docker/host/fail2ban.sh (acgs-gateway).
[sshd]
enabled  = true
port     = ${SSH_PORT}
backend  = systemd
maxretry = 5
findtime = 10m
bantime  = 1h
CONF
  run systemctl enable --now fail2ban
  run systemctl reload fail2ban
fi
