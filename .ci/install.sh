#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine (Debian, as root).
# Safe to run again: it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
for script in .ci/install.d/*.sh; do
  [ -e "$script" ] || continue
  bash "$script"
done
