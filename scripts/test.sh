#!/usr/bin/env bash
# The whole test suite: lint, types, then pytest against SpatiaLite *and* PostGIS (a throwaway cluster on
# a loopback port) and headless Chromium. In CI (CI=true) a skipped PostGIS test is a failure.
set -euo pipefail
VENV="${VENV:-.venv}"
export PATH="$VENV/bin:$PATH"
export SPATIALITE_LIBRARY_PATH=mod_spatialite
if [ -z "${REDLINE_TEST_POSTGIS_URL:-}" ]; then
  REDLINE_TEST_POSTGIS_URL="$(scripts/postgis.sh start)"
  export REDLINE_TEST_POSTGIS_URL
  trap 'scripts/postgis.sh stop' EXIT
fi
if [ "${CI:-}" = "true" ] || [ "${REDLINE_REQUIRE_POSTGIS:-}" = "1" ]; then export REDLINE_REQUIRE_POSTGIS=1; fi
echo "== ruff"; ruff check .
echo "== mypy"; mypy
echo "== pytest"
pytest -n "${PYTEST_WORKERS:-2}" --dist loadgroup -p no:cacheprovider --durations=25 "$@"
