//! The in-memory guard against a simple sequential model, for any
//! interleaving of claims on several tokens.
#![allow(clippy::arithmetic_side_effects)]

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier};

use otpguard::replay::{ClaimOutcome, MemoryGuard, ReplayGuard};
use proptest::prelude::*;

/// The rule, written as plainly as possible.
#[derive(Debug, Default)]
struct Model(BTreeMap<String, u64>);

impl Model {
    fn claim(&mut self, token: &str, step: u64) -> ClaimOutcome {
        match self.0.get(token) {
            Some(&last) if step <= last => ClaimOutcome::Replayed {
                last_accepted: last,
            },
            _ => {
                self.0.insert(token.to_owned(), step);
                ClaimOutcome::Fresh
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Claim { token: usize, step: u64 },
    Prune,
}

fn op(tokens: usize, steps: u64) -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (0..tokens, 0..steps).prop_map(|(token, step)| Op::Claim { token, step }),
        1 => Just(Op::Prune),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Without pruning the guard is the model, outcome for outcome, and the
    /// steps it accepts for each token strictly increase.
    #[test]
    fn unbounded_guard_is_the_model(ops in proptest::collection::vec(op(5, 40), 1..200)) {
        let guard = MemoryGuard::unbounded();
        let mut model = Model::default();
        let mut accepted: BTreeMap<usize, Vec<u64>> = BTreeMap::new();
        for op in ops {
            if let Op::Claim { token, step } = op {
                let name = format!("token-{token}");
                let got = guard.claim(&name, step).unwrap();
                prop_assert_eq!(got, model.claim(&name, step));
                if got == ClaimOutcome::Fresh {
                    accepted.entry(token).or_default().push(step);
                }
            } else {
                prop_assert_eq!(guard.prune(), 0);
            }
        }
        for steps in accepted.values() {
            prop_assert!(steps.windows(2).all(|w| w[0] < w[1]), "{:?}", steps);
        }
        prop_assert_eq!(guard.len(), model.0.len());
    }

    /// With pruning, the guard may refuse (fail closed) a claim whose step
    /// lies beyond the horizon behind the newest accepted step, but it never
    /// accepts what the model refuses, and within the horizon it is exactly
    /// the model.
    #[test]
    fn pruning_guard_never_accepts_what_the_model_refuses(
        horizon in 0u64..8,
        ops in proptest::collection::vec(op(6, 60), 1..300),
    ) {
        let guard = MemoryGuard::with_horizon(horizon);
        let mut model = Model::default();
        let mut mark: Option<u64> = None;
        for op in ops {
            let Op::Claim { token, step } = op else {
                guard.prune();
                continue;
            };
            let name = format!("token-{token}");
            let before = model.0.get(&name).copied();
            let expected = model.claim(&name, step);
            let got = guard.claim(&name, step);
            let beyond_horizon = mark.is_some_and(|m| step + horizon < m);
            match (&got, expected) {
                (Ok(outcome), expected) => prop_assert_eq!(*outcome, expected),
                (Err(_), _) => prop_assert!(beyond_horizon, "refused within the horizon"),
            }
            if got.is_err() && expected == ClaimOutcome::Fresh {
                // The guard refused, so nothing was accepted: the model goes
                // back to the last step really accepted.
                match before {
                    Some(last) => model.0.insert(name, last),
                    None => model.0.remove(&name),
                };
            }
            if matches!(got, Ok(ClaimOutcome::Fresh)) {
                mark = Some(mark.map_or(step, |m| m.max(step)));
            }
        }
    }
}

/// Each thread claims its own random list on shared tokens at once. Claims
/// are not ordered across threads, but the guard must still (1) accept each
/// (token, step) at most once, (2) show each thread strictly increasing
/// accepted steps per token, and (3) end with each token's largest claimed
/// step recorded.
#[test]
fn concurrent_interleavings_keep_the_rule() {
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig {
        // No source file to persist failures next to; a failure prints its input.
        failure_persistence: None,
        ..ProptestConfig::with_cases(64)
    });
    let lists =
        proptest::collection::vec(proptest::collection::vec((0usize..3, 0u64..30), 1..60), 4);
    runner
        .run(&lists, |lists| {
            let guard = Arc::new(MemoryGuard::unbounded());
            let start = Arc::new(Barrier::new(lists.len()));
            let threads: Vec<_> = lists
                .clone()
                .into_iter()
                .map(|list| {
                    let (guard, start) = (Arc::clone(&guard), Arc::clone(&start));
                    std::thread::spawn(move || {
                        start.wait();
                        list.into_iter()
                            .map(|(token, step)| {
                                (
                                    token,
                                    step,
                                    guard.claim(&format!("t{token}"), step).unwrap(),
                                )
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
            let mut accepted = BTreeMap::<(usize, u64), usize>::new();
            for thread in &results {
                let mut last_seen = BTreeMap::<usize, u64>::new();
                for &(token, step, outcome) in thread {
                    match outcome {
                        ClaimOutcome::Fresh => {
                            *accepted.entry((token, step)).or_default() += 1;
                            if let Some(&before) = last_seen.get(&token) {
                                prop_assert!(before < step);
                            }
                            last_seen.insert(token, step);
                        }
                        ClaimOutcome::Replayed { last_accepted } => {
                            prop_assert!(last_accepted >= step);
                            if let Some(&before) = last_seen.get(&token) {
                                prop_assert!(last_accepted >= before);
                            }
                            last_seen.insert(token, last_accepted);
                        }
                    }
                }
            }
            prop_assert!(accepted.values().all(|&n| n == 1), "{:?}", accepted);
            for token in 0..3 {
                let claimed = lists
                    .iter()
                    .flatten()
                    .filter(|(t, _)| *t == token)
                    .map(|(_, s)| *s)
                    .max();
                if let Some(max) = claimed {
                    prop_assert_eq!(accepted.get(&(token, max)), Some(&1));
                    prop_assert_eq!(
                        guard.claim(&format!("t{token}"), max).unwrap(),
                        ClaimOutcome::Replayed { last_accepted: max }
                    );
                }
            }
            Ok(())
        })
        .unwrap();
}
