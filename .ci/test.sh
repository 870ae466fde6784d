#!/usr/bin/env bash
# The test command: installs what the tests need, then runs every test
# (unit, integration, property and doc tests) with every feature on.
set -euo pipefail
cd "$(dirname "$0")/.."
bash .ci/install.sh
cargo test --all-features "$@"
