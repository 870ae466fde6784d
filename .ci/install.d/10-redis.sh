#!/usr/bin/env bash
# The Redis replay-guard tests (cargo feature `redis`) start their own
# redis-server on a free loopback port; this only makes the binary available.
# The packaged system service is never started: the tests own their servers.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d exit code 101 tells invoke-rc.d not to start services, so the
# package's post-install script leaves the system redis-server stopped.
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
apt-get install -y --no-install-recommends redis-server
command -v redis-server >/dev/null
