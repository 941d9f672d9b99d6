#!/usr/bin/env bash
# Install the Debian packages Redline needs (only those missing): SpatiaLite, PostGIS, Chromium, exiftool,
# and Python's venv. Runs apt-get as root, or through sudo.
set -euo pipefail
# Pango (and the CJK font) print the case dossiers (WeasyPrint).
PKGS=(libsqlite3-mod-spatialite postgresql postgresql-postgis chromium fonts-wqy-zenhei libimage-exiftool-perl python3-venv
      libpango-1.0-0 libpangoft2-1.0-0)
[ "${1:-}" = "--demo" ] && PKGS=(libsqlite3-mod-spatialite python3-venv libpango-1.0-0 libpangoft2-1.0-0 fonts-wqy-zenhei)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
SUDO=""; [ "$(id -u)" = "0" ] || SUDO="sudo"
echo "installing system packages: ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
