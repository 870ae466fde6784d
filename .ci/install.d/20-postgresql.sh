#!/usr/bin/env bash
# The PostgreSQL tests start their own server (initdb into a temporary
# directory, a free loopback port) and run SQL through psql; this only makes
# the binaries available. The packaged system cluster is never started: the
# tests own their servers.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && command -v psql >/dev/null 2>&1; then
  exit 0
fi
source "$(dirname "$0")/../lib/apt.sh"
apt_install_without_services postgresql postgresql-client
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
command -v psql >/dev/null
