#!/usr/bin/env python3
"""Prints the performance targets as ratios from the last criterion run.

Reads target/criterion/<group>/<bench>/new/estimates.json (criterion's own
output; its headline figure: the slope estimate, or the mean where there is
no slope) and prints one Markdown table. Run after the benches:

    cargo bench --bench generate --bench verify --bench stateful --bench throughput \
        -- --measurement-time 3 --warm-up-time 1
    python3 benches/ratios.py
"""

import json
import pathlib
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def ns(full_id):
    """Criterion's headline time for one benchmark, in ns per iteration."""
    for bench in ROOT.glob("**/new/benchmark.json"):
        if json.loads(bench.read_text())["full_id"] == full_id:
            est = json.loads((bench.parent / "estimates.json").read_text())
            return (est.get("slope") or est["mean"])["point_estimate"]
    return None


def fmt(v):
    if v is None:
        return "—"
    if v >= 1e6:
        return f"{v / 1e6:.2f} ms"
    if v >= 1e3:
        return f"{v / 1e3:.2f} µs"
    return f"{v:.0f} ns"


rows = []


def info(target, ours_id, ref_id):
    """A ratio reported without a target (ours / reference)."""
    ours, ref = ns(ours_id), ns(ref_id)
    ratio = f"{ours / ref:.3f}x" if ours and ref else "—"
    rows.append((target, fmt(ours), fmt(ref), ratio, "info (no target)"))


def row(target, ours_id, ref_id, want, higher_is_better=True):
    """`want` is the bound on ref/ours (speed-up) or on ours/ref (slow-down)."""
    ours, ref = ns(ours_id), ns(ref_id)
    if ours is None or ref is None:
        rows.append((target, fmt(ours), fmt(ref), "—", "not measured"))
        return
    if higher_is_better:
        r = ref / ours
        ok = r >= want
        rows.append((target, fmt(ours), fmt(ref), f"{r:.2f}x", f"{'met' if ok else 'MISSED'} (≥ {want}x)"))
    else:
        r = ours / ref
        ok = r <= want
        rows.append((target, fmt(ours), fmt(ref), f"{r:.3f}x", f"{'met' if ok else 'MISSED'} (≤ {want}x)"))


row("verify ±1, wrong code, vs totp-rs", "verify_pm1/otpguard/wrong", "verify_pm1/totp-rs/wrong", 1.5)
row("verify ±1, wrong code, vs raw-compression floor", "verify_pm1/otpguard/wrong", "verify_pm1/floor/wrong", 1.10, False)
row("generation SHA-1 vs totp-rs", "generate/otpguard/SHA1", "generate/totp-rs/SHA1", 1.5)
row("generation SHA-256 vs totp-rs (info)", "generate/otpguard/SHA256", "generate/totp-rs/SHA256", 1.5)
row("generation SHA-512 vs totp-rs (info)", "generate/otpguard/SHA512", "generate/totp-rs/SHA512", 1.5)
row("generation SHA-1 vs floor (info)", "generate/otpguard/SHA1", "generate/floor/SHA1", 1.10, False)
# The full lifecycle call on the in-memory store: load, decide, verify,
# single use, the next record, its audit record, the atomic commit.
row("lifecycle verify_transaction (load, decide, verify, commit, audit) vs stateless verify ±1", "stateful_pm1/lifecycle/verify_transaction", "stateful_pm1/stateless/verify", 1.5, False)
row("lifecycle verify_transaction vs stateless verify_once on the in-memory replay guard (info)", "stateful_pm1/lifecycle/verify_transaction", "stateful_pm1/stateless/verify+claim", 1.5, False)
row("lifecycle sign_transaction (question, digest, load, decide, OCRA ±1, commit, audit) vs Ocra::verify ±1 (info)", "sign_pm1/lifecycle/sign_transaction", "sign_pm1/ocra/verify", 1.5, False)
row("resync ±100 (pair, constant time: 202 codes) vs floor computing the ±100 window once (201 codes) (info)", "resync_pm100/otpguard/pair_wrong", "resync_pm100/floor/window_pm100", 1.20, False)
# The lifecycle on PostgresStore against the same SQL issued directly
# (`cargo bench --features postgres --bench postgres`).
for tasks in (1, 8, 32):
    row(f"PostgreSQL verify_transaction, {tasks} task(s): lifecycle vs the same SQL issued directly", f"postgres_verify/lifecycle/{tasks}", f"postgres_verify/direct_sql/{tasks}", 1.15, False)
# OCRA (`cargo bench --bench ocra`): one verification against the same
# HMACs over a DataInput of the same length, done directly.
info("OCRA verify, SHA-1, time window ±1 (3 HMACs) vs HMAC floor", "ocra/verify_t1m_pm1/otpguard", "ocra/verify_t1m_pm1/floor")
info("OCRA verify, SHA-256, counter look-ahead 4 (5 HMACs) vs HMAC floor", "ocra/verify_c_ahead4/otpguard", "ocra/verify_c_ahead4/floor")
row("throughput, 2 threads vs 1 (100,000 tokens, wall clock)", "throughput_100k_tokens/threads/2", "throughput_100k_tokens/threads/1", 1.8)
row("CPU time per 100,000 tokens, 2 threads vs 1 (info: 1.0 = no contention)", "throughput_100k_tokens_cpu/threads/2", "throughput_100k_tokens_cpu/threads/1", 1.1, False)

cpu1, cpu2 = ns("throughput_100k_tokens_cpu/threads/1"), ns("throughput_100k_tokens_cpu/threads/2")
if cpu1 and cpu2:
    rows.append((
        "2 threads vs 1 on two free cores, implied by the CPU time (info)",
        "", "", f"{2 * cpu1 / cpu2:.2f}x", "",
    ))

print("| target | ours | reference | ratio | verdict |")
print("|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r) + " |")

print()
print("| window | correct at each offset, and wrong | spread (max/min − 1) | vs totp-rs wrong | vs floor wrong |")
print("|---|---|---|---|---|")
for skew in (0, 1, 2, 5):
    g = f"verify_pm{skew}"
    ids = [f"{g}/otpguard/correct_at_{k:+}" for k in range(-skew, skew + 1)] + [f"{g}/otpguard/wrong"]
    vals = [ns(i) for i in ids]
    if any(v is None for v in vals):
        print(f"| ±{skew} | not measured | | | |")
        continue
    wrong = vals[-1]
    spread = max(vals) / min(vals) - 1
    rs, floor = ns(f"{g}/totp-rs/wrong"), ns(f"{g}/floor/wrong")
    cells = " / ".join(fmt(v) for v in vals)
    verdict = "met" if spread <= 0.03 else "MISSED"
    print(
        f"| ±{skew} | {cells} | {spread * 100:.1f}% ({verdict}, ≤ 3%) "
        f"| {rs / wrong:.2f}x faster | {wrong / floor:.3f}x |"
    )
