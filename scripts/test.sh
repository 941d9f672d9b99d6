#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest against SpatiaLite *and* PostGIS (a throwaway cluster on
# a loopback port) and headless Chromium. In CI (CI=true) a skipped PostGIS test is a failure.
set -euo pipefail
VENV="${VENV:-.venv}"
export PATH="$VENV/bin:$PATH"
export SPATIALITE_LIBRARY_PATH=mod_spatialite
if [ -z "${REDLINE_TEST_POSTGIS_URL:-}" ]; then
  # A cluster of this run's own, on a free loopback port in a fresh directory: never the one a developer's
  # `scripts/postgis.sh start` (port 54329) or another run of this script is using, which a run that ends
  # first would stop under the other one's tests.
  if [ -z "${REDLINE_PG_PORT:-}" ]; then
    REDLINE_PG_PORT="$(python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    REDLINE_PG_DIR="$(mktemp -d /tmp/redline-pg.XXXXXX)"
    own_pg_dir="$REDLINE_PG_DIR"
    export REDLINE_PG_PORT REDLINE_PG_DIR
  fi
  REDLINE_TEST_POSTGIS_URL="$(scripts/postgis.sh start)"
  export REDLINE_TEST_POSTGIS_URL
  trap 'scripts/postgis.sh stop; [ -z "${own_pg_dir:-}" ] || rm -rf "$own_pg_dir"' EXIT
fi
if [ "${CI:-}" = "true" ] || [ "${REDLINE_REQUIRE_POSTGIS:-}" = "1" ]; then export REDLINE_REQUIRE_POSTGIS=1; fi
echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== pytest"
pytest -n "${PYTEST_WORKERS:-2}" --dist loadgroup -p no:cacheprovider --durations=25 "$@"
