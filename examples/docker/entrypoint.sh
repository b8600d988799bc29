#!/bin/sh
# Runs archiver as the NAS user PUID:PGID, never as root; /config (catalog, tokens, config) belongs to that user.
set -eu
PUID="${PUID:-1000}"
PGID="${PGID:-1000}"
getent group "$PGID" >/dev/null || groupadd -g "$PGID" archiver
getent passwd "$PUID" >/dev/null || useradd -u "$PUID" -g "$PGID" -M -d /config -s /usr/sbin/nologin archiver
chown "$PUID:$PGID" /config
chmod 700 /config
exec gosu "$PUID:$PGID" archiver "$@"
