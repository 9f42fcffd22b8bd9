#!/bin/sh
# Writes alertmanager.yml with the Telegram bot token filled in, then (with more arguments) runs
# Alertmanager on it:  render-config.sh <template> <output> [alertmanager and its flags...]
# The token comes from the file TELEGRAM_BOT_TOKEN_FILE names (a Docker secret) or from
# TELEGRAM_BOT_TOKEN. Without one, Telegram notifications fail (e-mail still works) and this says so.
set -eu
template="$1"
output="$2"
shift 2
token="${TELEGRAM_BOT_TOKEN:-}"
if [ -n "${TELEGRAM_BOT_TOKEN_FILE:-}" ] && [ -r "$TELEGRAM_BOT_TOKEN_FILE" ]; then
  token="$(tr -d ' \r\n' < "$TELEGRAM_BOT_TOKEN_FILE")"
fi
if [ -z "$token" ]; then
  echo "render-config: no Telegram bot token (TELEGRAM_BOT_TOKEN_FILE or TELEGRAM_BOT_TOKEN): Telegram notifications will fail" >&2
  token=TELEGRAM_BOT_TOKEN_PLACEHOLDER
fi
# a bot token is <digits>:<letters, digits, - and _>; anything else would corrupt the YAML
case "$token" in
  *[!0-9A-Za-z:_-]*)
    echo "render-config: the Telegram bot token has characters a bot token never has" >&2
    exit 1
    ;;
esac
umask 077
sed "s/TELEGRAM_BOT_TOKEN_PLACEHOLDER/$token/" "$template" > "$output"
if [ "$#" -gt 0 ]; then exec "$@"; fi
