#!/usr/bin/env bash
# Fuzz smoke run: every cargo-fuzz target for about 30 seconds, starting from
# the committed corpus. New inputs go to a scratch directory, so the run
# leaves the working tree clean; a crash fails CI and its input is kept in
# fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi

# cargo-fuzz needs nightly flags (sanitizers); this lets the stable
# toolchain accept them for this build only.
export RUSTC_BOOTSTRAP=1
seconds="${FUZZ_SECONDS:-30}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

cd fuzz
# The fuzz crate's lock file is committed; a build that would change it
# fails here instead of drifting silently (cargo-fuzz has no --locked).
cargo fetch --locked
cargo fuzz build
for target in $(cargo fuzz list); do
  echo "--- fuzz $target (${seconds}s)"
  mkdir -p "$scratch/$target" "corpus/$target"
  log="$scratch/$target.log"
  if ! cargo fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
    -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1; then
    tail -n 60 "$log"
    echo "fuzz target $target failed; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E '^(Done|stat::number_of_executed_units)' "$log"
done
