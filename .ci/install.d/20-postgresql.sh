#!/usr/bin/env bash
# The PostgreSQL tests start their own server (initdb into a temporary
# directory, a free loopback port) and run SQL through psql; this only makes
# the binaries available. The packaged system cluster is never started: the
# tests own their servers.
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null && command -v psql >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d exit code 101 tells invoke-rc.d not to start services, so the
# package's post-install script leaves the system cluster stopped.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  created_policy=1
fi
cleanup() { if [ "$created_policy" = 1 ]; then rm -f "$policy"; fi; }
trap cleanup EXIT
apt-get update
apt-get install -y --no-install-recommends postgresql postgresql-client
compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null
command -v psql >/dev/null
