//! The atomic-commit contract under real concurrency, on the real
//! `MemoryStore`: 16 requests for one customer at once, through 16 threads
//! (the blocking API) and through 16 tokio tasks (the async API), each
//! property over hundreds of trials with a fresh store per trial; then the
//! store's faults (an error before or after the commit, a failing audit
//! sink, endless conflicts).
//!
//! Run with `--nocapture` to see the totals of each property.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss
)]

mod store_support;

use core::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use otpguard::lifecycle::{
    audit::AuditLog, audit::AuditReason, audit::AuditRecord, audit::AuditSink, audit::Outcome,
    rules::EventKind, store::Commit, store::CommitOutcome, store::TokenRecord, store::TokenStore,
    Authorized, CustomerId, Event, LifecycleConfig, LifecycleError, MemoryStore, Principal, State,
    SuspendReason, SwapTo,
};
use otpguard::StoreError;
use store_support::{customer, operator, race_tasks, race_threads, web, Bank, Phone};

/// Concurrent requests per trial.
const N: usize = 16;
/// Trials per property and per mode (threads, tasks).
const TRIALS: usize = 200;

type Answer = Result<Authorized, LifecycleError>;

// ---------------------------------------------------------------------------
// Running N requests at once
// ---------------------------------------------------------------------------

/// What a property saw over its trials, printed for the report.
#[derive(Default)]
struct Totals {
    trials: usize,
    accepted: usize,
    replayed: usize,
    /// Wrong codes counted (answered `WrongCode`).
    counted: usize,
    /// Answers that locked the token out (`WrongCode { locked_out: true }`).
    locked_out: usize,
    /// Answers refused because the token was already locked.
    refused_locked: usize,
    /// Sum over trials of the failure count left in the record.
    final_failures: u64,
    /// For a genuine code racing wrong ones: its place in the audit order,
    /// summed and extremes (0: committed first).
    genuine_rank_sum: usize,
    genuine_rank_min: Option<usize>,
    genuine_rank_max: usize,
}

impl Totals {
    fn print(&self, name: &str) {
        let mut line = format!(
            "{name}: trials={} accepted={} replayed={} failures_counted={} locked_out={} refused_as_locked={} final_failures_sum={}",
            self.trials,
            self.accepted,
            self.replayed,
            self.counted,
            self.locked_out,
            self.refused_locked,
            self.final_failures,
        );
        if let Some(min) = self.genuine_rank_min {
            line.push_str(&format!(
                " genuine_commit_rank(min/mean/max)={min}/{:.2}/{}",
                self.genuine_rank_sum as f64 / self.trials as f64,
                self.genuine_rank_max
            ));
        }
        println!("{line}");
    }
}

// ---------------------------------------------------------------------------
// a. N submissions of one valid code
// ---------------------------------------------------------------------------

/// A fresh store with one registered customer, moved to the next step: the
/// phone's code is fresh.
fn registered(config: LifecycleConfig, seed: u32) -> (Bank, CustomerId, Phone) {
    let bank = Bank::new(config);
    let alice = customer("c-1");
    let phone = Phone::new("SN-1", seed);
    let applied = bank.register(&alice, &phone).unwrap();
    assert_eq!(applied.version, 1);
    bank.tick();
    assert_eq!(bank.store().audit().take().len(), 1);
    (bank, alice, phone)
}

fn check_one_code(bank: &Bank, alice: &CustomerId, step: u64, answers: &[Answer], t: &mut Totals) {
    assert_eq!(answers.len(), N);
    let accepted: Vec<&Authorized> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
    assert_eq!(accepted.len(), 1, "exactly one acceptance: {answers:?}");
    assert_eq!(accepted[0].claimed().value(), step);
    assert_eq!(accepted[0].version(), 2);
    for a in answers.iter().filter_map(|a| a.as_ref().err()) {
        assert!(
            matches!(a, LifecycleError::Replayed { step: s, last_accepted: l } if *s == step && *l == step),
            "every other answer is a replay of the same step: {a:?}"
        );
    }

    let record = bank.store().snapshot(alice).unwrap();
    assert_eq!(record.failures(), 0);
    assert_eq!(record.last_step(), Some(step));
    assert_eq!(record.version(), 2, "replays change nothing");
    assert_eq!(record.state(), State::Active);

    let audit = bank.store().audit().take();
    assert_eq!(audit.len(), N, "one audit record per answer");
    // A replay can only be decided on the committed acceptance: it comes
    // first in the audit order.
    assert_eq!(audit[0].outcome, Outcome::Accepted);
    assert_eq!(audit[0].event, EventKind::VerifyTransaction);
    assert_eq!(audit[0].version, 2);
    for r in &audit[1..] {
        assert_eq!(r.outcome, Outcome::Refused);
        assert_eq!(
            r.reason,
            AuditReason::Replayed {
                step,
                last_accepted: step
            }
        );
        assert_eq!(r.version, 2);
        assert_eq!(r.principal, web());
    }

    t.trials += 1;
    t.accepted += accepted.len();
    t.replayed += answers.iter().filter(|a| a.is_err()).count();
    t.final_failures += u64::from(record.failures());
}

#[test]
fn one_code_many_times_threads() {
    let mut t = Totals::default();
    for trial in 0..TRIALS {
        let (bank, alice, phone) = registered(LifecycleConfig::default(), trial as u32);
        let (code, step) = (phone.code(bank.now()), phone.step(bank.now()));
        let answers = race_threads(N, |_| bank.verify(&alice, &code));
        check_one_code(&bank, &alice, step, &answers, &mut t);
    }
    t.print("a. one valid code x16 (threads)");
    assert_eq!((t.accepted, t.replayed), (TRIALS, TRIALS * (N - 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_many_times_tasks() {
    let mut t = Totals::default();
    for trial in 0..TRIALS {
        let (bank, alice, phone) = registered(LifecycleConfig::default(), trial as u32);
        let (code, step) = (phone.code(bank.now()), phone.step(bank.now()));
        let bank = Arc::new(bank);
        let answers = race_tasks(N, |_| {
            let (bank, alice, code) = (Arc::clone(&bank), alice.clone(), code.clone());
            async move {
                bank.lc
                    .verify_transaction(&alice, &web(), &code, &store_support::ctx())
                    .await
            }
        })
        .await;
        check_one_code(&bank, &alice, step, &answers, &mut t);
    }
    t.print("a. one valid code x16 (tasks)");
    assert_eq!((t.accepted, t.replayed), (TRIALS, TRIALS * (N - 1)));
}

// ---------------------------------------------------------------------------
// b. A genuine code racing wrong codes
// ---------------------------------------------------------------------------

fn generous() -> LifecycleConfig {
    LifecycleConfig::builder().max_failures(20).build().unwrap()
}

/// The codes of one trial: the genuine one at `genuine`, wrong ones
/// elsewhere.
fn mixed_codes(bank: &Bank, phone: &Phone, genuine: usize) -> Vec<String> {
    let now = bank.now();
    (0..N)
        .map(|i| {
            if i == genuine {
                phone.code(now)
            } else {
                phone.wrong_code(now, i)
            }
        })
        .collect()
}

fn wrong_count(r: &AuditRecord) -> Option<u32> {
    match r.reason {
        AuditReason::WrongCode { failures, max } => {
            assert_eq!(max, 20);
            Some(failures)
        }
        _ => None,
    }
}

fn check_genuine_wins(
    bank: &Bank,
    alice: &CustomerId,
    step: u64,
    genuine: usize,
    answers: &[Answer],
    t: &mut Totals,
) {
    assert_eq!(answers.len(), N);
    let proof = answers[genuine]
        .as_ref()
        .unwrap_or_else(|e| panic!("the genuine code was refused: {e:?}"));
    assert_eq!(proof.claimed().value(), step);
    let mut answered: Vec<u32> = Vec::new();
    for (i, a) in answers.iter().enumerate().filter(|(i, _)| *i != genuine) {
        match a {
            Err(LifecycleError::WrongCode {
                failures,
                max: 20,
                locked_out: false,
                ..
            }) => answered.push(*failures),
            other => panic!("wrong code #{i} answered {other:?}"),
        }
    }

    let audit = bank.store().audit().take();
    assert_eq!(audit.len(), N, "one audit record per answer");
    let accepted: Vec<usize> = audit
        .iter()
        .enumerate()
        .filter(|(_, r)| r.outcome == Outcome::Accepted)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(accepted.len(), 1);
    let rank = accepted[0];
    assert_eq!(audit[rank].event, EventKind::VerifyTransaction);
    // Before the acceptance the count runs 1, 2, ...; the acceptance
    // resets it; after it, it runs 1, 2, ... again.
    let before: Vec<u32> = audit[..rank]
        .iter()
        .map(|r| wrong_count(r).unwrap())
        .collect();
    let after: Vec<u32> = audit[rank + 1..]
        .iter()
        .map(|r| wrong_count(r).unwrap())
        .collect();
    assert_eq!(before, (1..=rank as u32).collect::<Vec<_>>());
    assert_eq!(after, (1..=after.len() as u32).collect::<Vec<_>>());
    // The answers given are the counts audited.
    let mut audited: Vec<u32> = before.iter().chain(&after).copied().collect();
    audited.sort_unstable();
    answered.sort_unstable();
    assert_eq!(answered, audited);
    // Versions follow the audit order one by one.
    for (i, r) in audit.iter().enumerate() {
        assert_eq!(r.version, 2 + i as u64);
    }

    let record = bank.store().snapshot(alice).unwrap();
    assert_eq!(
        u64::from(record.failures()),
        after.len() as u64,
        "failures left = wrong codes committed after the genuine one"
    );
    assert_eq!(record.last_step(), Some(step));
    assert_eq!(record.state(), State::Active);
    assert_eq!(record.version(), 1 + N as u64);

    t.trials += 1;
    t.accepted += 1;
    t.counted += answered.len();
    t.final_failures += u64::from(record.failures());
    t.genuine_rank_sum += rank;
    t.genuine_rank_min = Some(t.genuine_rank_min.map_or(rank, |m| m.min(rank)));
    t.genuine_rank_max = t.genuine_rank_max.max(rank);
}

#[test]
fn genuine_code_racing_wrong_codes_threads() {
    let mut t = Totals::default();
    for trial in 0..TRIALS {
        let (bank, alice, phone) = registered(generous(), trial as u32);
        let genuine = trial % N;
        let codes = mixed_codes(&bank, &phone, genuine);
        let step = phone.step(bank.now());
        let answers = race_threads(N, |i| bank.verify(&alice, &codes[i]));
        check_genuine_wins(&bank, &alice, step, genuine, &answers, &mut t);
    }
    t.print("b. genuine code vs 15 wrong codes (threads)");
    assert_eq!((t.accepted, t.counted), (TRIALS, TRIALS * (N - 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn genuine_code_racing_wrong_codes_tasks() {
    let mut t = Totals::default();
    for trial in 0..TRIALS {
        let (bank, alice, phone) = registered(generous(), trial as u32);
        let genuine = trial % N;
        let codes = mixed_codes(&bank, &phone, genuine);
        let step = phone.step(bank.now());
        let bank = Arc::new(bank);
        let answers = race_tasks(N, |i| {
            let (bank, alice, code) = (Arc::clone(&bank), alice.clone(), codes[i].clone());
            async move {
                bank.lc
                    .verify_transaction(&alice, &web(), &code, &store_support::ctx())
                    .await
            }
        })
        .await;
        check_genuine_wins(&bank, &alice, step, genuine, &answers, &mut t);
    }
    t.print("b. genuine code vs 15 wrong codes (tasks)");
    assert_eq!((t.accepted, t.counted), (TRIALS, TRIALS * (N - 1)));
}

// ---------------------------------------------------------------------------
// c. N wrong codes against the lock-out
// ---------------------------------------------------------------------------

const MAX_FAILURES: u32 = 5;

fn strict() -> LifecycleConfig {
    LifecycleConfig::builder()
        .max_failures(MAX_FAILURES)
        .build()
        .unwrap()
}

fn wrong_codes(bank: &Bank, phone: &Phone) -> Vec<String> {
    (0..N).map(|i| phone.wrong_code(bank.now(), i)).collect()
}

fn check_lockout(bank: &Bank, alice: &CustomerId, answers: &[Answer], t: &mut Totals) {
    const LOCKED: State = State::Suspended(SuspendReason::TooManyFailures);
    assert_eq!(answers.len(), N);
    assert!(answers.iter().all(Result::is_err), "no wrong code accepted");
    let mut counted = Vec::new();
    let mut locking = 0;
    let mut refused_locked = 0;
    for a in answers.iter().filter_map(|a| a.as_ref().err()) {
        match a {
            LifecycleError::WrongCode {
                failures,
                max,
                locked_out,
                ..
            } => {
                assert_eq!(*max, MAX_FAILURES);
                assert_eq!(*locked_out, *failures == MAX_FAILURES);
                assert_eq!(a.is_locked_out(), *locked_out);
                counted.push(*failures);
                locking += usize::from(*locked_out);
            }
            LifecycleError::NotPermitted {
                state,
                event: EventKind::VerifyTransaction,
                ..
            } => {
                assert_eq!(*state, LOCKED);
                assert!(a.is_locked_out());
                refused_locked += 1;
            }
            other => panic!("unexpected answer to a wrong code: {other:?}"),
        }
    }
    counted.sort_unstable();
    assert_eq!(counted, (1..=MAX_FAILURES).collect::<Vec<_>>());
    assert_eq!(locking, 1, "exactly one answer locks the token out");
    assert_eq!(refused_locked, N - MAX_FAILURES as usize);

    let record = bank.store().snapshot(alice).unwrap();
    assert_eq!(record.state(), LOCKED);
    assert_eq!(record.failures(), MAX_FAILURES);
    // Registration, five counted codes, the System's suspension.
    assert_eq!(record.version(), 1 + u64::from(MAX_FAILURES) + 1);

    // The audit order: five counted codes, the suspension in the same
    // commit as the fifth, then the refusals of a locked token.
    let audit = bank.store().audit().take();
    assert_eq!(audit.len(), N + 1);
    for (i, r) in audit[..MAX_FAILURES as usize].iter().enumerate() {
        assert_eq!(
            r.reason,
            AuditReason::WrongCode {
                failures: i as u32 + 1,
                max: MAX_FAILURES
            }
        );
        assert_eq!(r.principal, web());
    }
    let suspensions: Vec<&AuditRecord> = audit
        .iter()
        .filter(|r| matches!(r.event, EventKind::Suspend(_)))
        .collect();
    assert_eq!(suspensions.len(), 1, "exactly one suspension");
    let lock = &audit[MAX_FAILURES as usize];
    assert_eq!(
        lock.event,
        EventKind::Suspend(SuspendReason::TooManyFailures)
    );
    assert_eq!(lock.principal, Principal::System);
    assert_eq!(lock.outcome, Outcome::Accepted);
    assert_eq!((lock.from, lock.to), (State::Active, LOCKED));
    for r in &audit[MAX_FAILURES as usize + 1..] {
        assert_eq!(r.outcome, Outcome::Refused);
        assert_eq!(r.event, EventKind::VerifyTransaction);
        assert_eq!(r.from, LOCKED);
        assert!(matches!(r.reason, AuditReason::Refused(_)), "{r}");
        assert_eq!(r.version, record.version());
    }

    t.trials += 1;
    t.counted += counted.len();
    t.locked_out += locking;
    t.refused_locked += refused_locked;
    t.final_failures += u64::from(record.failures());
}

#[test]
fn wrong_codes_against_the_lockout_threads() {
    let mut t = Totals::default();
    for trial in 0..TRIALS {
        let (bank, alice, phone) = registered(strict(), trial as u32);
        let codes = wrong_codes(&bank, &phone);
        let answers = race_threads(N, |i| bank.verify(&alice, &codes[i]));
        check_lockout(&bank, &alice, &answers, &mut t);
    }
    t.print("c. 16 wrong codes, max_failures=5 (threads)");
    assert_eq!((t.counted, t.locked_out), (TRIALS * 5, TRIALS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrong_codes_against_the_lockout_tasks() {
    let mut t = Totals::default();
    for trial in 0..TRIALS {
        let (bank, alice, phone) = registered(strict(), trial as u32);
        let codes = wrong_codes(&bank, &phone);
        let bank = Arc::new(bank);
        let answers = race_tasks(N, |i| {
            let (bank, alice, code) = (Arc::clone(&bank), alice.clone(), codes[i].clone());
            async move {
                bank.lc
                    .verify_transaction(&alice, &web(), &code, &store_support::ctx())
                    .await
            }
        })
        .await;
        check_lockout(&bank, &alice, &answers, &mut t);
    }
    t.print("c. 16 wrong codes, max_failures=5 (tasks)");
    assert_eq!((t.counted, t.locked_out), (TRIALS * 5, TRIALS));
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
    let alice = customer("c-1");
    let phone = Phone::new("SN-1", seed);
    bank.register(&alice, &phone).unwrap();
    bank.tick();
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

/// An audit sink the test can make fail; otherwise an `AuditLog`.
#[derive(Default)]
struct SwitchSink {
    failing: AtomicBool,
    log: AuditLog,
}

impl AuditSink for SwitchSink {
    fn write(&self, records: &[AuditRecord]) -> Result<(), StoreError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(StoreError::new("audit log unavailable"));
        }
        self.log.write(records)
    }
}

#[test]
fn a_failing_audit_sink_fails_the_event_and_changes_nothing() {
    let bank = Bank::with_store(
        LifecycleConfig::default(),
        MemoryStore::with_sink(SwitchSink::default()),
    );
    let store = bank.lc.store();
    let alice = customer("c-1");
    let phone = Phone::new("SN-1", 3);
    bank.register(&alice, &phone).unwrap();
    bank.tick();
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
