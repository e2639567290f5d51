#!/usr/bin/env bash
# Nightly wrapper for cron: loads the secrets, takes a lock so that a slow night never overlaps
# the next one, runs the job for yesterday, and passes its exit code on.
set -euo pipefail
CONFIG="${FLEXITI_RECON_CONFIG:-/etc/flexiti-recon/config.toml}"
ENV_FILE="${FLEXITI_RECON_ENV:-/etc/flexiti-recon/env}"   # FLEXITI_CLIENT_SECRET_FILE=..., etc.
# One lock per config file: merchants with their own configs may run at once.
LOCK="${FLEXITI_RECON_LOCK:-/run/lock/flexiti-recon-$(basename "$CONFIG" .toml).lock}"
BIN="${FLEXITI_RECON_BIN:-/usr/local/bin/flexiti-recon}"

if [ -r "$ENV_FILE" ]; then
  set -a; . "$ENV_FILE"; set +a
fi
# flock -n: a second copy exits 75 at once (the job itself also refuses to overlap).
exec flock -n -E 75 "$LOCK" "$BIN" --log-format json run --config "$CONFIG" --trigger cron "$@"
