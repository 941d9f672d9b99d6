#!/usr/bin/env bash
# Start (or stop) a throwaway PostGIS cluster on a loopback port for the test suite.
# Usage: scripts/postgis.sh start|stop|url   (env: REDLINE_PG_PORT, default 54329; REDLINE_PG_DIR)
set -euo pipefail
PORT="${REDLINE_PG_PORT:-54329}"
DIR="${REDLINE_PG_DIR:-/tmp/redline-pg-$PORT}"
BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
URL="postgresql+psycopg://redline:redline@127.0.0.1:$PORT/redline_test"

as_pg() {
  if [ "$(id -u)" = "0" ]; then (cd / && su postgres -s /bin/bash -c "$*"); else bash -c "$*"; fi
}

case "${1:-start}" in
  start)
    if as_pg "'$BIN/pg_ctl' -D '$DIR' status" >/dev/null 2>&1; then echo "$URL"; exit 0; fi
    rm -rf "$DIR"; mkdir -p "$DIR"
    [ "$(id -u)" = "0" ] && chown postgres:postgres "$DIR"
    as_pg "'$BIN/initdb' -D '$DIR' -U postgres --auth=trust -E UTF8 --locale=C.UTF-8" >/dev/null
    as_pg "'$BIN/pg_ctl' -D '$DIR' -l '$DIR/server.log' -w -o \"-p $PORT -k '$DIR' -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off\" start" >/dev/null
    as_pg "'$BIN/psql' -h 127.0.0.1 -p $PORT -U postgres -q -c \"CREATE ROLE redline LOGIN SUPERUSER PASSWORD 'redline'\" -c 'CREATE DATABASE redline_test OWNER redline'" >/dev/null
    as_pg "'$BIN/psql' -h 127.0.0.1 -p $PORT -U postgres -d redline_test -q -c 'CREATE EXTENSION IF NOT EXISTS postgis'" >/dev/null
    echo "$URL"
    ;;
  stop)
    as_pg "'$BIN/pg_ctl' -D '$DIR' -m fast stop" >/dev/null 2>&1 || true
    ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 start|stop|url" >&2; exit 2 ;;
esac
