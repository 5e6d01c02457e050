#!/usr/bin/env bash
# Kernel and limits a proxy host needs (what `pipeline` step production_infrastructure checks):
# a deep accept queue, a wide ephemeral port range for upstream connections, enough file handles.
# Usage: sudo bash docker/host/sysctl.sh        (DRY_RUN=1 to preview; NOFILE=65536 to change the limit)
source "$(dirname "$0")/lib.sh"
need_root

NOFILE="${NOFILE:-65536}"

if install_file /etc/sysctl.d/60-acgs-gateway.conf 0644 <<CONF; then
# Written by docker/host/sysctl.sh (acgs-gateway). Edit there, not here.
net.core.somaxconn = 4096
net.ipv4.tcp_max_syn_backlog = 8192
net.ipv4.ip_local_port_range = 1024 65535
net.ipv4.tcp_tw_reuse = 1
net.ipv4.tcp_fin_timeout = 15
fs.file-max = 1048576
vm.overcommit_memory = 1
CONF
  run sysctl --system >/dev/null
fi

install_file /etc/security/limits.d/60-acgs-gateway.conf 0644 <<CONF || true
# Written by docker/host/sysctl.sh (acgs-gateway).
*    soft nofile ${NOFILE}
*    hard nofile ${NOFILE}
root soft nofile ${NOFILE}
root hard nofile ${NOFILE}
CONF

# Containers inherit dockerd's limit.
if install_file /etc/systemd/system/docker.service.d/60-acgs-nofile.conf 0644 <<CONF; then
[Service]
LimitNOFILE=${NOFILE}
CONF
  run systemctl daemon-reload
  log "restart Docker when convenient for the new limit: systemctl restart docker"
fi
