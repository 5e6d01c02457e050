#!/bin/sh
# Entry point of the compose `alertmanager` service: puts the webhook URL from the environment into
# alertmanager.yml, refuses a missing or placeholder URL, then runs Alertmanager with the given flags.
# Variables other than ALERT_WEBHOOK_URL exist so test/deploy can run this very script outside the image.
set -eu
template=${ALERTMANAGER_TEMPLATE:-/etc/alertmanager/alertmanager.yml}
config=${ALERTMANAGER_CONFIG:-/alertmanager/alertmanager.yml}
url=${ALERT_WEBHOOK_URL:-}
case "$url" in
  '' | *CHANGE_ME*)
    echo "alertmanager: ALERT_WEBHOOK_URL is not set (or still CHANGE_ME); set it in the env file" >&2
    exit 64
    ;;
  http://* | https://*) ;;
  *)
    echo "alertmanager: ALERT_WEBHOOK_URL must be an http:// or https:// URL, got '$url'" >&2
    exit 64
    ;;
esac
case "$url" in
  *"'"* | *' '*)
    echo "alertmanager: ALERT_WEBHOOK_URL must not contain quotes or spaces" >&2
    exit 64
    ;;
esac
# sed replacement: escape the characters sed treats specially (\, & and the | delimiter).
escaped=$(printf '%s' "$url" | sed 's/[\\&|]/\\&/g')
sed "s|\${ALERT_WEBHOOK_URL}|$escaped|" "$template" >"$config"
exec "${ALERTMANAGER_BIN:-/bin/alertmanager}" --config.file="$config" "$@"
