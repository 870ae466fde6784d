//! The atomic-commit contract under real concurrency, on the real
//! `MemoryStore`: the public store contract suite
//! (`otpguard::testing::store_contract`), whose properties race 16
//! requests for one customer at once, through 16 threads (the blocking
//! API) and through 16 tokio tasks (the async API), each property over
//! hundreds of trials with a fresh customer per trial; then the store's
//! faults (an error before or after the commit, a failing audit sink,
//! endless conflicts).
//!
//! Run with `--nocapture` to see the totals of each property.

#![allow(clippy::panic, clippy::cast_possible_truncation)]

mod store_support;
mod support;

use core::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use otpguard::lifecycle::{
    audit::AuditReason, audit::Outcome, store::Commit, store::CommitOutcome, store::TokenRecord,
    store::TokenStore, CustomerId, Event, LifecycleConfig, LifecycleError, MemoryStore,
    SuspendReason, SwapTo,
};
use otpguard::StoreError;
use store_support::{customer, operator, race_threads, web, Bank, Phone};
use support::audit_sink::SwitchSink;

/// Concurrent requests per trial.
const N: usize = 16;

/// What the fault races saw over their trials, printed for the report.
#[derive(Default)]
struct Totals {
    trials: usize,
    accepted: usize,
    replayed: usize,
}

impl Totals {
    fn print(&self, name: &str) {
        println!(
            "{name}: trials={} accepted={} replayed={}",
            self.trials, self.accepted, self.replayed
        );
    }
}

// ---------------------------------------------------------------------------
// a–c. The concurrency properties, through the public contract suite
// ---------------------------------------------------------------------------

/// a–c. need the `testing` feature (the public suite).
#[cfg(feature = "testing")]
mod contract {
    use std::future::ready;
    use std::sync::Arc;

    use otpguard::lifecycle::MemoryStore;
    use otpguard::testing::store_contract::{self, Contract, Executor, Inline};

    use super::{store_support, N};

    /// Trials per property and per mode (threads, tasks).
    const TRIALS: usize = 200;

    /// Runs every check of the public store contract suite on one fresh
    /// `MemoryStore`, racing through `executor`, and checks the totals.
    fn memory_store_keeps_the_contract(executor: &impl Executor, mode: &str) {
        let store = Arc::new(MemoryStore::new());
        let contract = Contract::new().trials(TRIALS).racers(N);
        let report = store_contract::run(&contract, executor, || ready(Arc::clone(&store)))
            .unwrap_or_else(|violation| panic!("{violation}"));
        for (name, totals) in &report.properties {
            println!("{name} x{N} ({mode}): {totals}");
        }
        let [(_, one), (_, genuine), (_, lockout)] = report.properties.as_slice() else {
            panic!("three properties: {report}");
        };
        assert_eq!((one.accepted, one.replayed), (TRIALS, TRIALS * (N - 1)));
        assert_eq!(
            (genuine.accepted, genuine.counted),
            (TRIALS, TRIALS * (N - 1))
        );
        assert_eq!(
            (lockout.counted, lockout.locked_out, lockout.refused_locked),
            (TRIALS * 5, TRIALS, TRIALS * (N - 5))
        );
    }

    /// a–c. with every request on an OS thread of its own (the blocking API).
    #[test]
    fn the_memory_store_keeps_the_contract_threads() {
        memory_store_keeps_the_contract(&Inline, "threads");
    }

    /// a–c. with every request a task of a multi-threaded tokio runtime (the
    /// async API).
    #[test]
    fn the_memory_store_keeps_the_contract_tasks() {
        memory_store_keeps_the_contract(&store_support::executors::Tasks::new(), "tokio tasks");
    }
}

// ---------------------------------------------------------------------------
// d. Store faults
// ---------------------------------------------------------------------------

/// A real `MemoryStore` behind faults switched on by the test: a commit
/// that fails before reaching the store (nothing written), a commit whose
/// reply is lost after the store committed (a timeout), or a store that
/// answers every commit with a conflict.
struct FaultyStore {
    inner: Arc<MemoryStore>,
    /// Commits still to fail before reaching the store.
    fail_before: AtomicU32,
    /// Replies still to lose, of commits that wrote a new record (so that
    /// in a race the lost reply is the acceptance's, not a replay's).
    lose_reply: AtomicU32,
    always_conflict: AtomicBool,
    /// Commits asked of this store.
    commits: AtomicU32,
}

impl FaultyStore {
    fn new(inner: Arc<MemoryStore>) -> Self {
        Self {
            inner,
            fail_before: AtomicU32::new(0),
            lose_reply: AtomicU32::new(0),
            always_conflict: AtomicBool::new(false),
            commits: AtomicU32::new(0),
        }
    }
}

/// Takes one from `n` if it is not 0.
fn take_one(n: &AtomicU32) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1))
        .is_ok()
}

impl TokenStore for FaultyStore {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        self.inner.load(customer)
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<CommitOutcome, StoreError> {
        self.commits.fetch_add(1, Ordering::SeqCst);
        if take_one(&self.fail_before) {
            return Err(StoreError::new("connection refused (before the commit)"));
        }
        if self.always_conflict.load(Ordering::SeqCst) {
            return Ok(CommitOutcome::Conflict);
        }
        let changes_record = commit.record.is_some();
        let outcome = self.inner.commit(commit).await?;
        if outcome == CommitOutcome::Committed && changes_record && take_one(&self.lose_reply) {
            return Err(StoreError::new("timed out (the commit happened)"));
        }
        Ok(outcome)
    }
}

/// A bank over a `FaultyStore` with one registered customer, moved to the
/// next step. No fault is on.
fn faulty(config: LifecycleConfig, seed: u32) -> (Bank<FaultyStore>, CustomerId, Phone) {
    let bank = Bank::with_store(config, FaultyStore::new(Arc::new(MemoryStore::new())));
    let (alice, phone) = bank.alice_registered(seed);
    (bank, alice, phone)
}

fn inner(bank: &Bank<FaultyStore>) -> &MemoryStore {
    &bank.lc.store().inner
}

#[test]
fn store_error_before_the_commit_changes_nothing_and_the_code_stays_usable() {
    let (bank, alice, phone) = faulty(LifecycleConfig::default(), 1);
    let (code, step) = (phone.code(bank.now()), phone.step(bank.now()));
    let record = inner(&bank).snapshot(&alice).unwrap().summary();
    let audit = inner(&bank).audit().records();

    bank.lc.store().fail_before.store(1, Ordering::SeqCst);
    let answer = bank.verify(&alice, &code);
    assert!(
        matches!(answer, Err(LifecycleError::Store(_))),
        "{answer:?}"
    );
    assert_eq!(inner(&bank).snapshot(&alice).unwrap().summary(), record);
    assert_eq!(inner(&bank).audit().records(), audit);

    // A wrong code lost the same way is not counted either.
    bank.lc.store().fail_before.store(1, Ordering::SeqCst);
    let answer = bank.verify(&alice, &phone.wrong_code(bank.now(), 0));
    assert!(
        matches!(answer, Err(LifecycleError::Store(_))),
        "{answer:?}"
    );
    assert_eq!(inner(&bank).snapshot(&alice).unwrap().summary(), record);
    assert_eq!(inner(&bank).audit().records(), audit);

    // Nothing was spent: the retry of the same code is accepted.
    let proof = bank.verify(&alice, &code).unwrap();
    assert_eq!(proof.claimed().value(), step);
    let after = inner(&bank).snapshot(&alice).unwrap();
    assert_eq!(after.last_step(), Some(step));
    assert_eq!(after.version(), record.version + 1);
    assert_eq!(inner(&bank).audit().len(), audit.len() + 1);
}

#[test]
fn store_error_after_the_commit_never_accepts_the_code_twice() {
    let (bank, alice, phone) = faulty(LifecycleConfig::default(), 2);
    let (code, step) = (phone.code(bank.now()), phone.step(bank.now()));
    let before = inner(&bank).snapshot(&alice).unwrap();
    let audit = inner(&bank).audit().records();

    bank.lc.store().lose_reply.store(1, Ordering::SeqCst);
    let answer = bank.verify(&alice, &code);
    assert!(
        matches!(answer, Err(LifecycleError::Store(_))),
        "no Authorized for a commit whose reply was lost: {answer:?}"
    );
    // The commit did happen: the step is spent, and audited as accepted.
    let after = inner(&bank).snapshot(&alice).unwrap();
    assert_eq!(after.last_step(), Some(step));
    assert_eq!(after.version(), before.version() + 1);
    let written = inner(&bank).audit().records();
    assert_eq!(written.len(), audit.len() + 1);
    assert_eq!(written.last().unwrap().outcome, Outcome::Accepted);

    // The retry is a replay, not a second acceptance.
    let retry = bank.verify(&alice, &code);
    assert!(
        matches!(retry, Err(LifecycleError::Replayed { step: s, last_accepted: l }) if s == step && l == step),
        "{retry:?}"
    );
    let last = inner(&bank).snapshot(&alice).unwrap();
    assert_eq!(last.summary(), after.summary());
    assert_eq!(last.failures(), 0);
    let written = inner(&bank).audit().records();
    assert_eq!(
        written.last().unwrap().reason,
        AuditReason::Replayed {
            step,
            last_accepted: step
        }
    );
}

/// Sixteen threads submit one code while the store fails one commit: never
/// two acceptances, and never an `Authorized` for a commit in doubt.
#[test]
fn store_faults_during_a_race() {
    const FAULT_TRIALS: usize = 100;
    let (mut lost_reply, mut refused_before) = (Totals::default(), Totals::default());
    for trial in 0..FAULT_TRIALS {
        for lose in [true, false] {
            let (bank, alice, phone) = faulty(LifecycleConfig::default(), trial as u32);
            let (code, step) = (phone.code(bank.now()), phone.step(bank.now()));
            let audit_before = inner(&bank).audit().len();
            let fault = if lose {
                &bank.lc.store().lose_reply
            } else {
                &bank.lc.store().fail_before
            };
            fault.store(1, Ordering::SeqCst);
            let answers = race_threads(N, |_| bank.verify(&alice, &code));
            let count = |k: &str| {
                answers
                    .iter()
                    .filter(|a| a.as_ref().err().map(store_support::kind_of) == Some(k))
                    .count()
            };
            let ok = answers.iter().filter(|a| a.is_ok()).count();
            let (stored, replayed) = (count("Store"), count("Replayed"));
            assert_eq!(stored, 1, "{answers:?}");
            if lose {
                // The lost commit was the acceptance: nobody else gets one.
                assert_eq!((ok, replayed), (0, N - 1), "{answers:?}");
            } else {
                // Nothing was written by the failed commit: one acceptance.
                assert_eq!((ok, replayed), (1, N - 2), "{answers:?}");
            }
            let record = inner(&bank).snapshot(&alice).unwrap();
            assert_eq!(record.last_step(), Some(step));
            assert_eq!((record.failures(), record.version()), (0, 2));
            let audit = inner(&bank).audit().records();
            let new = &audit[audit_before..];
            assert_eq!(new.len(), if lose { N } else { N - 1 });
            assert_eq!(
                new.iter()
                    .filter(|r| r.outcome == Outcome::Accepted)
                    .count(),
                1
            );
            let t = if lose {
                &mut lost_reply
            } else {
                &mut refused_before
            };
            t.trials += 1;
            t.accepted += ok;
            t.replayed += replayed;
        }
    }
    lost_reply.print("d. one code x16, one committed reply lost (threads)");
    refused_before.print("d. one code x16, one commit refused before the store (threads)");
    assert_eq!(lost_reply.accepted, 0);
    assert_eq!(refused_before.accepted, FAULT_TRIALS);
}

#[test]
fn a_failing_audit_sink_fails_the_event_and_changes_nothing() {
    let bank = Bank::with_store(
        LifecycleConfig::default(),
        MemoryStore::with_sink(SwitchSink::default()),
    );
    let store = bank.lc.store();
    let (alice, phone) = bank.alice_registered(3);
    let (code, step) = (phone.code(bank.now()), phone.step(bank.now()));
    let record = store.snapshot(&alice).unwrap().summary();
    let audit = store.audit().log.records();

    store.audit().failing.store(true, Ordering::SeqCst);
    let events = [
        Event::VerifyTransaction {
            code: code.as_str().into(),
        },
        Event::VerifyTransaction {
            code: phone.wrong_code(bank.now(), 0).as_str().into(),
        },
        Event::BeginSwap {
            code: code.as_str().into(),
            to: SwapTo::Generated {
                account: "alice".into(),
            },
        },
    ];
    for event in events {
        let answer = bank.submit(&alice, &web(), event);
        assert!(
            matches!(answer, Err(LifecycleError::Store(_))),
            "{answer:?}"
        );
    }
    let answer = bank.submit(
        &alice,
        &operator(),
        Event::Suspend {
            reason: SuspendReason::Operator,
        },
    );
    assert!(
        matches!(answer, Err(LifecycleError::Store(_))),
        "{answer:?}"
    );
    assert_eq!(store.snapshot(&alice).unwrap().summary(), record);
    assert_eq!(store.audit().log.records(), audit);

    // Once the sink works again, the same code is accepted: nothing was
    // spent nor counted.
    store.audit().failing.store(false, Ordering::SeqCst);
    let proof = bank.verify(&alice, &code).unwrap();
    assert_eq!(proof.claimed().value(), step);
    let after = store.snapshot(&alice).unwrap();
    assert_eq!((after.failures(), after.version()), (0, record.version + 1));
    assert_eq!(store.audit().log.len(), audit.len() + 1);
}

#[test]
fn endless_conflicts_end_as_contended_with_nothing_committed() {
    const ATTEMPTS: u32 = 7;
    let config = LifecycleConfig::builder()
        .max_attempts(ATTEMPTS)
        .build()
        .unwrap();
    let (bank, alice, phone) = faulty(config, 4);
    let record = inner(&bank).snapshot(&alice).unwrap().summary();
    let audit = inner(&bank).audit().records();
    let store = bank.lc.store();
    store.always_conflict.store(true, Ordering::SeqCst);

    let commits = store.commits.load(Ordering::SeqCst);
    let answer = bank.verify(&alice, &phone.code(bank.now()));
    assert!(
        matches!(
            answer,
            Err(LifecycleError::Contended { attempts: ATTEMPTS })
        ),
        "{answer:?}"
    );
    assert_eq!(store.commits.load(Ordering::SeqCst) - commits, ATTEMPTS);
    assert_eq!(inner(&bank).snapshot(&alice).unwrap().summary(), record);
    assert_eq!(inner(&bank).audit().records(), audit);

    // A customer without a record: nothing is created either.
    let bob = customer("c-2");
    let answer = bank.register(&bob, &Phone::new("SN-2", 5));
    assert!(
        matches!(
            answer,
            Err(LifecycleError::Contended { attempts: ATTEMPTS })
        ),
        "{answer:?}"
    );
    assert!(inner(&bank).snapshot(&bob).is_none());
    assert_eq!(inner(&bank).audit().records(), audit);

    // Once the conflicts stop, the same code is accepted.
    store.always_conflict.store(false, Ordering::SeqCst);
    assert!(bank.verify(&alice, &phone.code(bank.now())).is_ok());
}
