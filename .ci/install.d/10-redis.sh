#!/usr/bin/env bash
# The Redis replay-guard tests (cargo feature `redis`) start their own
# redis-server on a free loopback port; this only makes the binary available.
# The packaged system service is never started: the tests own their servers.
set -euo pipefail
if command -v redis-server >/dev/null 2>&1; then
  exit 0
fi
source "$(dirname "$0")/../lib/apt.sh"
apt_install_without_services redis-server
command -v redis-server >/dev/null
