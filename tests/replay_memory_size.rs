//! Heap bytes per token tracked by the in-memory guard, measured with a
//! counting global allocator, and proof that pruning gives the memory back.
//!
//! `cargo test --all-features --test replay_memory_size -- --nocapture`
//! prints the figures. Counted are the bytes the guard asked the allocator
//! for; the allocator's own per-block bookkeeping comes on top.

use otpguard::replay::{ClaimOutcome, MemoryGuard};

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const TOKENS: usize = 50_000;

fn heap() -> usize {
    dhat::HeapStats::get().curr_bytes
}

/// A token id as a backend might use: a UUID in its 36-character text form.
fn uuid_like(i: usize) -> String {
    format!(
        "{:08x}-0000-4000-8000-{:012x}",
        i,
        i.wrapping_mul(2_654_435_761)
    )
}

/// One test only: the profiler is global to the process.
#[test]
fn bytes_per_tracked_token_and_pruning_returns_them() {
    let _profiler = dhat::Profiler::builder().testing().build();

    let mut figures = Vec::new();
    for (label, id) in [
        (
            "16-char ids",
            (|i| format!("tok-{i:012}")) as fn(usize) -> String,
        ),
        ("36-char UUID ids", uuid_like),
    ] {
        let ids: Vec<String> = (0..TOKENS).map(id).collect();
        let guard = MemoryGuard::default();
        let empty = heap();
        for id in &ids {
            assert_eq!(guard.claim(id, 1_000).unwrap(), ClaimOutcome::Fresh);
        }
        let full = heap();
        let per_token = (full - empty) as f64 / TOKENS as f64;
        figures.push((label, per_token));
        // The entry is a boxed id, a u64 and the map's slot: an id plus
        // well under 100 bytes. More means the layout regressed.
        let id_len = ids[0].len() as f64;
        assert!(
            per_token < id_len + 100.0,
            "{label}: {per_token:.1} bytes per token"
        );

        // A horizon later, a different set of tokens is active: claims sweep
        // the old records, and the guard stays at one population's size.
        let later = 1_000 + MemoryGuard::DEFAULT_HORIZON + 1;
        for id in &ids {
            guard.claim(&format!("{id}-b"), later).unwrap();
        }
        assert_eq!(guard.len(), TOKENS);
        let replaced = heap();
        assert!(
            (replaced - empty) as f64 <= (full - empty) as f64 * 1.5,
            "{label}: {} bytes after turnover vs {} before",
            replaced - empty,
            full - empty
        );

        // Traffic moves on to one token: a sweep gives nearly everything back.
        guard
            .claim("last", later + MemoryGuard::DEFAULT_HORIZON + 1)
            .unwrap();
        guard.prune();
        assert_eq!(guard.len(), 1);
        let pruned = heap();
        assert!(
            pruned - empty < 64 * 1_024,
            "{label}: {} bytes left",
            pruned - empty
        );
        // A pruned token's old code stays refused.
        assert!(guard.claim(&ids[0], 1_000).is_err());
    }
    for (label, per_token) in figures {
        println!(
            "MemoryGuard, {TOKENS} tokens, {label}: {per_token:.1} heap bytes per tracked token"
        );
    }
}
