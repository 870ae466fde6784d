//! Throttling through the lifecycle: after consecutive wrong codes, codes
//! wait (growing delays or temporary blocks) and are refused unread as
//! `Throttled` until the wait is over.
//!
//! 1. A model test: any throttle, any lock-out maximum, any sequence of
//!    right, wrong and malformed codes (and operator resumes) at any times
//!    agree with a small model of the delay schedule written here.
//! 2. The `nist_800_63b()` preset against NIST SP 800-63B rev. 4 §3.2.2.
//! 3. The `psd2_rts()` preset against PSD2 RTS Art. 4(3)(b) and (d).
//! 4. Sixteen requests at once with throttling on, on a real `MemoryStore`.
//!
//! Run with `--nocapture` to see the figures.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod lifecycle_support;
mod store_support;

use core::cell::Cell;
use std::sync::Arc;

use lifecycle_support::{Bank, Phone};
use otpguard::lifecycle::{
    audit::AuditReason, audit::AuditRecord, audit::Notice, audit::Outcome, config::Throttle,
    error::ConfigError, rules::EventKind, Authorized, CustomerId, Event, LifecycleConfig,
    LifecycleError, Principal, State, SuspendReason,
};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;

type Answer = Result<Authorized, LifecycleError>;

const LOCKED: State = State::Suspended(SuspendReason::TooManyFailures);
const DAY: u64 = 86_400;
/// One step of the default TOTP profile.
const STEP: u64 = 30;

/// A wrong code the phone does not show now (nor one step either side).
fn wrong(bank: &Bank, phone: &Phone) -> Answer {
    bank.verify(&phone.wrong_code(bank.now()))
}

/// The code the phone shows now.
fn right(bank: &Bank, phone: &Phone) -> Answer {
    bank.verify(&phone.code(bank.now()))
}

/// `lock` is the System's lock-out: the token suspended for too many
/// failures, and the customer told.
fn assert_system_lock_out(lock: &AuditRecord) {
    assert_eq!(
        (lock.event, lock.outcome, lock.to, lock.notice),
        (
            EventKind::Suspend(SuspendReason::TooManyFailures),
            Outcome::Accepted,
            LOCKED,
            Some(Notice::LockedOut)
        )
    );
    assert_eq!(lock.principal, Principal::System);
}

/// `answer` is refused because the token is locked out.
fn assert_locked_out(answer: &Answer) {
    assert!(
        matches!(answer, Err(e @ LifecycleError::NotPermitted { .. }) if e.is_locked_out()),
        "{answer:?}"
    );
}

/// The code the phone shows now, which must be accepted: its step is the
/// record's last, and the record holds no failure and no wait.
fn accepted(bank: &Bank, phone: &Phone) {
    let proof =
        right(bank, phone).unwrap_or_else(|e| panic!("the right code at {}: {e}", bank.now()));
    let record = bank.record();
    assert_eq!(Some(proof.claimed().value()), record.last_step());
    assert_eq!((record.failures(), record.throttled_until()), (0, None));
}

fn is_throttled(answer: &Answer, retry_at: u64, now: u64) -> bool {
    matches!(answer, Err(LifecycleError::Throttled { retry_at: r, now: n }) if *r == retry_at && *n == now)
}

// ---------------------------------------------------------------------------
// 1. Any throttle, any attempts: the model
// ---------------------------------------------------------------------------

/// A throttle's parameters, for the model to compute the delays itself.
#[derive(Clone, Copy, Debug)]
enum Schedule {
    Growing { after: u32, base: u64, cap: u64 },
    Blocks { every: u32, length: u64 },
}

impl Schedule {
    fn throttle(self) -> Throttle {
        match self {
            Self::Growing { after, base, cap } => Throttle::growing(after, base, cap).unwrap(),
            Self::Blocks { every, length } => Throttle::blocks(every, length).unwrap(),
        }
    }

    /// The wait after the `n`-th consecutive wrong code (`n >= 1`): growing
    /// delays start at `base` on the `after`-th and double with each
    /// further one up to `cap`; blocks come on every `every`-th.
    fn delay(self, n: u32) -> u64 {
        match self {
            Self::Growing { after, base, cap } => {
                if n < after {
                    return 0;
                }
                let mut delay = base;
                for _ in after..n {
                    delay = (delay * 2).min(cap);
                }
                delay
            }
            Self::Blocks { every, length } => {
                if n % every == 0 {
                    length
                } else {
                    0
                }
            }
        }
    }

    /// Whether the `n`-th wrong code starts a temporary block after which
    /// no other temporary block comes before the lock-out at `max`.
    fn last_temporary_block(self, n: u32, max: u32) -> bool {
        matches!(self, Self::Blocks { .. })
            && n < max
            && self.delay(n) > 0
            && (n + 1..max).all(|later| self.delay(later) == 0)
    }
}

fn schedule() -> impl Strategy<Value = Schedule> {
    prop_oneof![
        (1u32..=6, 1u64..=300, 0u64..=1_200).prop_map(|(after, base, extra)| {
            Schedule::Growing {
                after,
                base,
                cap: base + extra,
            }
        }),
        (1u32..=6, 1u64..=900).prop_map(|(every, length)| Schedule::Blocks { every, length }),
    ]
}

#[derive(Clone, Debug)]
enum Try {
    /// The code the phone shows (at a step after the last accepted one).
    Right,
    /// A well-formed code the phone does not show.
    Wrong,
    /// Not six digits: counted as wrong.
    Malformed(&'static str),
    /// An operator resumes the token.
    Resume,
}

fn attempt() -> impl Strategy<Value = Try> {
    prop_oneof![
        3 => Just(Try::Right),
        5 => Just(Try::Wrong),
        1 => prop::sample::select(vec!["12345", "1234567", "abcdef", "", "12 456"])
            .prop_map(Try::Malformed),
        1 => Just(Try::Resume),
    ]
}

/// What the model expects the record to hold.
#[derive(Debug)]
struct Model {
    failures: u32,
    throttled_until: Option<u64>,
    locked: bool,
    last_step: u64,
}

/// What the model test saw over all its cases.
#[derive(Debug, Default)]
struct Seen {
    cases: usize,
    attempts: usize,
    accepted: usize,
    counted: usize,
    throttled: usize,
    throttled_right: usize,
    locked_out: usize,
    resumed: usize,
    last_temporary_block: usize,
}

fn run_model(
    schedule: Schedule,
    max: u32,
    attempts: &[(u64, Try)],
    seen: &mut Seen,
) -> Result<(), TestCaseError> {
    let config = LifecycleConfig::builder()
        .throttle(schedule.throttle())
        .max_failures(max)
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let phone = Phone::new("SN-T", 11);
    bank.register(&phone).unwrap();
    let mut model = Model {
        failures: 0,
        throttled_until: None,
        locked: false,
        last_step: bank.now() / STEP,
    };
    seen.cases += 1;
    for (advance, what) in attempts {
        bank.clock.advance(*advance);
        if matches!(what, Try::Right) && bank.now() / STEP <= model.last_step {
            // A fresh step: the right code is never a replay.
            bank.clock.set((model.last_step + 1) * STEP);
        }
        let now = bank.now();
        let before = bank.summary();
        let audit_before = bank.audit_len();
        let held = model.throttled_until.filter(|&until| now < until);
        seen.attempts += 1;

        let answer = match what {
            Try::Resume => bank.operator(Event::Resume).map(|_| ()),
            Try::Right => right(&bank, &phone).map(|_| ()),
            Try::Wrong => wrong(&bank, &phone).map(|_| ()),
            Try::Malformed(code) => bank.verify(code).map(|_| ()),
        };
        let after = bank.summary();
        let audit = bank.audit_log();
        let new = &audit[audit_before..];

        match (what, model.locked, held) {
            (Try::Resume, true, _) => {
                prop_assert!(answer.is_ok(), "resume of a locked token: {answer:?}");
                model.failures = 0;
                model.throttled_until = None;
                model.locked = false;
                seen.resumed += 1;
            }
            (Try::Resume, false, _) => {
                prop_assert!(
                    matches!(answer, Err(LifecycleError::NotPermitted { .. })),
                    "resume of a token not locked: {answer:?}"
                );
                prop_assert_eq!(&after, &before);
            }
            (_, true, _) => {
                prop_assert!(
                    matches!(
                        answer,
                        Err(LifecycleError::NotPermitted { state: LOCKED, .. })
                    ),
                    "a code for a locked token: {answer:?}"
                );
                prop_assert_eq!(&after, &before);
            }
            (_, false, Some(retry_at)) => {
                // (a) Not evaluated: refused as throttled, nothing changed
                // (not even the version), a right code included.
                prop_assert!(
                    matches!(answer, Err(LifecycleError::Throttled { retry_at: r, now: n }) if r == retry_at && n == now),
                    "{what:?} at {now} while held back until {retry_at}: {answer:?}"
                );
                prop_assert_eq!(&after, &before);
                prop_assert_eq!(new.len(), 1);
                prop_assert_eq!(new[0].outcome, Outcome::Refused);
                prop_assert_eq!(new[0].reason.code(), "throttled");
                prop_assert_eq!(new[0].version, before.version);
                seen.throttled += 1;
                seen.throttled_right += usize::from(matches!(what, Try::Right));
            }
            (Try::Right, false, None) => {
                let step = now / STEP;
                prop_assert!(
                    matches!(answer, Ok(())),
                    "the right code at {now}, not held back: {answer:?}"
                );
                prop_assert_eq!(after.last_step, Some(step));
                model.failures = 0;
                model.throttled_until = None;
                model.last_step = step;
                seen.accepted += 1;
            }
            (Try::Wrong | Try::Malformed(_), false, None) => {
                let failures = model.failures + 1;
                let locked_out = failures >= max;
                prop_assert!(
                    matches!(&answer, Err(LifecycleError::WrongCode { failures: f, max: m, locked_out: l, .. })
                        if *f == failures && *m == max && *l == locked_out),
                    "{what:?} at {now}, expected failure {failures} of {max}: {answer:?}"
                );
                let delay = schedule.delay(failures);
                if delay > 0 {
                    let until = now + delay;
                    model.throttled_until =
                        Some(model.throttled_until.map_or(until, |t| t.max(until)));
                }
                model.failures = failures;
                model.locked = locked_out;
                seen.counted += 1;
                // The wrong code's audit record, and the System's lock-out
                // in the same commit.
                prop_assert_eq!(new.len(), if locked_out { 2 } else { 1 });
                prop_assert_eq!(&new[0].reason, &AuditReason::WrongCode { failures, max });
                let notice = schedule
                    .last_temporary_block(failures, max)
                    .then_some(Notice::LastTemporaryBlock);
                prop_assert_eq!(new[0].notice, notice);
                seen.last_temporary_block += usize::from(notice.is_some());
                if locked_out {
                    prop_assert_eq!(new[1].principal.clone(), Principal::System);
                    prop_assert_eq!(
                        new[1].event,
                        EventKind::Suspend(SuspendReason::TooManyFailures)
                    );
                    prop_assert_eq!(new[1].notice, Some(Notice::LockedOut));
                    seen.locked_out += 1;
                }
            }
        }

        // The record is the model's.
        prop_assert_eq!(after.failures, model.failures, "failures after {:?}", what);
        prop_assert_eq!(after.throttled_until, model.throttled_until);
        prop_assert_eq!(
            after.state,
            if model.locked { LOCKED } else { State::Active }
        );
        // (b) The hold back never moves earlier, until a success or a
        // resume clears it.
        let cleared = answer.is_ok();
        if !cleared {
            prop_assert!(
                after.throttled_until >= before.throttled_until,
                "moved earlier: {:?} -> {:?}",
                before.throttled_until,
                after.throttled_until
            );
        }
        // (c) Never more failures than the maximum.
        prop_assert!(after.failures <= max);
        // (d) A success clears both.
        if cleared {
            prop_assert_eq!((after.failures, after.throttled_until), (0, None));
        }
        // One audit record per attempt (two for a lock-out).
        let locked_out = matches!(
            answer,
            Err(LifecycleError::WrongCode {
                locked_out: true,
                ..
            })
        );
        prop_assert_eq!(new.len(), if locked_out { 2 } else { 1 });
    }
    Ok(())
}

#[test]
fn no_code_is_evaluated_while_held_back_and_the_schedule_is_the_models() {
    let mut runner = TestRunner::new(ProptestConfig {
        source_file: Some(file!()),
        ..ProptestConfig::default()
    });
    let seen = Cell::new(Seen::default());
    let strategy = (
        schedule(),
        1u32..=12,
        prop::collection::vec((0u64..=400, attempt()), 1..60),
    );
    runner
        .run(&strategy, |(schedule, max, attempts)| {
            let mut totals = seen.take();
            let result = run_model(schedule, max, &attempts, &mut totals);
            seen.set(totals);
            result
        })
        .unwrap();
    let seen = seen.take();
    println!("model: {seen:?}");
    // The cases exercised what they are about.
    assert!(seen.throttled_right > 0, "{seen:?}");
    assert!(seen.locked_out > 0 && seen.resumed > 0, "{seen:?}");
    assert!(seen.last_temporary_block > 0, "{seen:?}");
}

/// The model's own schedule, on the examples of the throttle's
/// documentation (so that a wrong model cannot agree with a wrong
/// library).
#[test]
fn the_models_schedule() {
    let growing = Schedule::Growing {
        after: 3,
        base: 30,
        cap: 3_600,
    };
    let delays: Vec<u64> = (1..=10).map(|n| growing.delay(n)).collect();
    assert_eq!(delays, [0, 0, 30, 60, 120, 240, 480, 960, 1_920, 3_600]);
    let blocks = Schedule::Blocks {
        every: 5,
        length: 900,
    };
    let delays: Vec<u64> = (1..=11).map(|n| blocks.delay(n)).collect();
    assert_eq!(delays, [0, 0, 0, 0, 900, 0, 0, 0, 0, 900, 0]);
    // Blocks every 5, lock-out at 15: the 10th starts the last temporary
    // block; at 12, also the 10th; at 10, the 5th.
    let last = |max| {
        (1..=max)
            .filter(|&n| blocks.last_temporary_block(n, max))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        (last(15), last(12), last(10), last(5)),
        (vec![10], vec![10], vec![5], vec![])
    );
}

// ---------------------------------------------------------------------------
// 2. NIST SP 800-63B rev. 4 §3.2.2
// ---------------------------------------------------------------------------

/// "no more than 100 consecutive failed authentication attempts".
const NIST_MAX: u32 = 100;
/// Delays "e.g., 30 seconds up to an hour".
const NIST_SHORTEST: u64 = 30;
const NIST_LONGEST: u64 = 3_600;

fn nist_bank() -> (Bank, Phone) {
    let bank = Bank::with_config(LifecycleConfig::nist_800_63b().build().unwrap());
    let phone = Phone::new("SN-NIST", 21);
    bank.register(&phone).unwrap();
    bank.tick();
    (bank, phone)
}

/// Sends wrong codes `from..=to` (the count the record holds before is
/// `from - 1`), each at the earliest time it is evaluated; a right code
/// one second before each delay ends is refused unread. Returns the delay
/// after each (0: none).
fn nist_failures(bank: &Bank, phone: &Phone, from: u32, to: u32) -> Vec<u64> {
    let mut delays = Vec::new();
    for n in from..=to {
        let now = bank.now();
        let answer = wrong(bank, phone);
        assert!(
            matches!(answer, Err(LifecycleError::WrongCode { failures, max: NIST_MAX, locked_out: false, .. }) if failures == n),
            "wrong code {n}: {answer:?}"
        );
        let record = bank.record();
        assert_eq!(record.failures(), n, "waiting did not reset the count");
        assert_eq!(
            record.state(),
            State::Active,
            "not locked before {NIST_MAX}"
        );
        let delay = record
            .throttled_until()
            .map_or(0, |t| t.saturating_sub(now));
        delays.push(delay);
        if delay > 0 {
            let retry_at = now + delay;
            bank.clock.set(retry_at - 1);
            let early = right(bank, phone);
            assert!(
                is_throttled(&early, retry_at, retry_at - 1),
                "the right code 1 s before the delay ends: {early:?}"
            );
            assert_eq!(bank.record().summary(), record.summary(), "not counted");
            bank.clock.set(retry_at);
        }
    }
    delays
}

#[test]
fn nist_at_most_100_failures_with_delays_from_30_s_to_an_hour() {
    let (bank, phone) = nist_bank();
    let mut delays = nist_failures(&bank, &phone, 1, 50);
    // A month later, the count is where it was.
    bank.clock.advance(30 * DAY);
    delays.extend(nist_failures(&bank, &phone, 51, NIST_MAX - 1));
    println!("NIST delays after wrong codes 1..=99: {delays:?}");

    let started = delays
        .iter()
        .position(|&d| d > 0)
        .expect("delays before the lock-out");
    assert!(
        delays[started..]
            .iter()
            .all(|d| (NIST_SHORTEST..=NIST_LONGEST).contains(d)),
        "once started, every delay is 30 s to an hour: {delays:?}"
    );
    assert!(
        delays.windows(2).all(|w| w[0] <= w[1]),
        "delays grow towards the maximum: {delays:?}"
    );
    assert_eq!(delays.iter().max(), Some(&NIST_LONGEST));

    // The 100th locks the token.
    let answer = wrong(&bank, &phone);
    assert!(
        matches!(
            answer,
            Err(LifecycleError::WrongCode {
                failures: NIST_MAX,
                max: NIST_MAX,
                locked_out: true,
                ..
            })
        ),
        "{answer:?}"
    );
    assert_eq!(bank.state(), LOCKED);
    let audit = bank.audit_log();
    let lock = audit.last().unwrap();
    assert_system_lock_out(lock);

    // Waiting does not unlock it, nor does the customer.
    bank.clock.advance(30 * DAY);
    assert_locked_out(&right(&bank, &phone));
    assert!(bank.customer_event(Event::Resume).is_err());
    assert_eq!((bank.state(), bank.record().failures()), (LOCKED, NIST_MAX));
    // An operator does.
    operator_resumes(&bank, &phone);
}

#[test]
fn nist_a_success_resets_the_count_and_the_delays() {
    let (bank, phone) = nist_bank();
    let first = nist_failures(&bank, &phone, 1, 12);
    assert!(first.iter().any(|&d| d > 0), "{first:?}");
    // At the end of the last delay, the right code is evaluated: accepted.
    accepted(&bank, &phone);
    let record = bank.record();
    assert_eq!((record.failures(), record.throttled_until()), (0, None));
    // The count and the delays start over.
    let again = nist_failures(&bank, &phone, 1, 12);
    assert_eq!(again, first);
    println!("NIST delays after wrong codes 1..=12, before and after a success: {first:?}");
}

#[test]
fn nist_preset_keeps_the_limit_of_100() {
    assert!(LifecycleConfig::nist_800_63b()
        .max_failures(NIST_MAX + 1)
        .build()
        .is_err());
}

// ---------------------------------------------------------------------------
// 3. PSD2 RTS Art. 4(3)(b), (d)
// ---------------------------------------------------------------------------

/// "the number of failed authentication attempts that can take place
/// consecutively ... shall not exceed five".
const PSD2_ATTEMPTS: u32 = 5;
const BLOCK: u64 = 1_800;

fn psd2_bank(temporary_blocks: u32) -> (Bank, Phone) {
    let config = LifecycleConfig::psd2_rts(BLOCK, temporary_blocks)
        .unwrap()
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let phone = Phone::new("SN-PSD2", 22);
    bank.register(&phone).unwrap();
    bank.tick();
    (bank, phone)
}

/// From no failure: `blocks` temporary blocks of five wrong codes each,
/// then five more lock the token. During each block every code, a right
/// one included, is refused unread until the block ends; the wrong code
/// that starts the last temporary block, and only it, carries the notice.
fn psd2_to_lockout(bank: &Bank, phone: &Phone, blocks: u32) {
    let lock_at = PSD2_ATTEMPTS * (blocks + 1);
    let last_block_at = PSD2_ATTEMPTS * blocks;
    assert_eq!(bank.record().failures(), 0);
    let audit_start = bank.audit_len();
    for n in 1..=lock_at {
        let now = bank.now();
        let answer = wrong(bank, phone);
        assert!(
            matches!(answer, Err(LifecycleError::WrongCode { failures, max, locked_out, .. })
                if failures == n && max == lock_at && locked_out == (n == lock_at)),
            "wrong code {n} of {lock_at}: {answer:?}"
        );
        if n == lock_at {
            break;
        }
        let record = bank.record();
        assert_eq!(record.state(), State::Active);
        if n % PSD2_ATTEMPTS == 0 {
            let end = now + BLOCK;
            assert_eq!(record.throttled_until(), Some(end), "block after {n}");
            let during = [
                (now, phone.code(now)),
                (now + BLOCK / 2, phone.wrong_code(now + BLOCK / 2)),
                (end - 1, phone.code(end - 1)),
            ];
            for (at, code) in during {
                bank.clock.set(at);
                let answer = bank.verify(&code);
                assert!(
                    is_throttled(&answer, end, at),
                    "at {at} during the block after {n}: {answer:?}"
                );
                assert_eq!(bank.record().summary(), record.summary());
            }
            bank.clock.set(end);
        } else {
            // No block: the next code is evaluated at once.
            assert!(
                record.throttled_until().is_none_or(|t| t <= now),
                "held back after {n}: {:?}",
                record.throttled_until()
            );
        }
    }

    // The notice: on the wrong code that starts the last temporary block,
    // on no other record.
    let audit = bank.audit_log();
    let cycle = &audit[audit_start..];
    let noticed: Vec<&AuditRecord> = cycle
        .iter()
        .filter(|r| r.notice == Some(Notice::LastTemporaryBlock))
        .collect();
    assert_eq!(noticed.len(), 1, "one LastTemporaryBlock notice");
    assert_eq!(
        noticed[0].reason,
        AuditReason::WrongCode {
            failures: last_block_at,
            max: lock_at
        }
    );

    // The lock-out: the wrong code, then the System's suspension.
    let [.., last_wrong, lock] = cycle else {
        panic!("too few records")
    };
    assert_eq!(
        last_wrong.reason,
        AuditReason::WrongCode {
            failures: lock_at,
            max: lock_at
        }
    );
    assert_system_lock_out(lock);
    assert_eq!(bank.state(), LOCKED);

    // Permanent: no wait, and no customer, unlocks it.
    for _ in 0..2 {
        bank.clock.advance(30 * DAY);
        assert_locked_out(&right(bank, phone));
    }
    assert!(bank.customer_event(Event::Resume).is_err());
    assert_eq!((bank.state(), bank.record().failures()), (LOCKED, lock_at));
}

/// Only an operator brings the token back, with nothing counted.
fn operator_resumes(bank: &Bank, phone: &Phone) {
    bank.operator(Event::Resume).unwrap();
    let record = bank.record();
    assert_eq!(
        (record.state(), record.failures(), record.throttled_until()),
        (State::Active, 0, None)
    );
    bank.tick();
    accepted(bank, phone);
    bank.tick();
}

fn notices(bank: &Bank) -> usize {
    bank.audit_log()
        .iter()
        .filter(|r| r.notice == Some(Notice::LastTemporaryBlock))
        .count()
}

#[test]
fn psd2_two_temporary_blocks_then_locked_until_an_operator_resumes() {
    let (bank, phone) = psd2_bank(2);
    psd2_to_lockout(&bank, &phone, 2);
    operator_resumes(&bank, &phone);
    // After the resume, the same again from the start.
    psd2_to_lockout(&bank, &phone, 2);
    operator_resumes(&bank, &phone);
    assert_eq!(notices(&bank), 2);
}

#[test]
fn psd2_a_success_before_the_lockout_resets_everything() {
    let (bank, phone) = psd2_bank(2);
    // Two blocks (the second the last temporary one), each waited out.
    for n in 1..=2 * PSD2_ATTEMPTS {
        assert!(matches!(
            wrong(&bank, &phone),
            Err(LifecycleError::WrongCode { failures, locked_out: false, .. }) if failures == n
        ));
        if let Some(end) = bank.record().throttled_until() {
            bank.clock.set(end);
        }
    }
    assert_eq!(notices(&bank), 1);
    // At the end of the block, the right code is evaluated and accepted.
    accepted(&bank, &phone);
    let record = bank.record();
    assert_eq!(
        (record.state(), record.failures(), record.throttled_until()),
        (State::Active, 0, None)
    );
    // The whole allowance again: two temporary blocks, then the lock-out.
    psd2_to_lockout(&bank, &phone, 2);
    assert_eq!(notices(&bank), 2);
}

#[test]
fn psd2_one_and_nineteen_temporary_blocks() {
    for blocks in [1, 19] {
        let (bank, phone) = psd2_bank(blocks);
        psd2_to_lockout(&bank, &phone, blocks);
        operator_resumes(&bank, &phone);
    }
}

#[test]
fn psd2_refuses_no_temporary_block_and_twenty() {
    for blocks in [0, 20] {
        let config = LifecycleConfig::psd2_rts(BLOCK, blocks);
        assert!(
            matches!(config, Err(ConfigError::Preset(_))),
            "{blocks} temporary blocks: {config:?}"
        );
    }
}

// ---------------------------------------------------------------------------
// 4. Sixteen requests at once, throttling on
// ---------------------------------------------------------------------------

/// Concurrent requests per trial.
const N: usize = 16;
/// Trials per property.
const TRIALS: usize = 200;
/// The race's throttle: a delay of `RACE_BASE` from the `RACE_AFTER`-th
/// consecutive wrong code.
const RACE_AFTER: u32 = 2;
const RACE_BASE: u64 = 60;
const RACE_CAP: u64 = 600;
const RACE_MAX: u32 = 5;

fn race_config() -> LifecycleConfig {
    LifecycleConfig::builder()
        .throttle(Throttle::growing(RACE_AFTER, RACE_BASE, RACE_CAP).unwrap())
        .max_failures(RACE_MAX)
        .build()
        .unwrap()
}

/// A fresh store with one registered customer, moved to the next step.
fn registered(seed: u32) -> (Arc<store_support::Bank>, CustomerId, store_support::Phone) {
    let bank = store_support::Bank::new(race_config());
    let (alice, phone) = bank.alice_registered(seed);
    assert_eq!(bank.store().audit().take().len(), 1);
    (Arc::new(bank), alice, phone)
}

/// `codes[i]` sent by task `i` with request id `req-{i}`.
async fn race(
    bank: &Arc<store_support::Bank>,
    alice: &CustomerId,
    codes: &[String],
) -> Vec<Answer> {
    store_support::race_tasks(N, |i| {
        let (bank, alice, code) = (Arc::clone(bank), alice.clone(), codes[i].clone());
        async move {
            bank.lc
                .verify_transaction(
                    &alice,
                    &store_support::web(),
                    &code,
                    &store_support::request(i),
                )
                .await
        }
    })
    .await
}

/// The request (task) each audit record answers; each exactly once.
fn requests(audit: &[AuditRecord]) -> Vec<usize> {
    let ids: Vec<usize> = audit
        .iter()
        .map(|r| {
            let id = r.context.request_id.as_ref().expect("a request id");
            id.as_str().strip_prefix("req-").unwrap().parse().unwrap()
        })
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        (0..N).collect::<Vec<_>>(),
        "one audit record per answer"
    );
    ids
}

/// Each audit record says what its request was answered.
fn audit_matches_answers(audit: &[AuditRecord], ids: &[usize], answers: &[Answer]) {
    for (r, &i) in audit.iter().zip(ids) {
        match (&answers[i], &r.reason) {
            (Ok(_), AuditReason::Applied { .. }) => assert_eq!(r.outcome, Outcome::Accepted),
            (
                Err(LifecycleError::WrongCode { failures, max, .. }),
                AuditReason::WrongCode {
                    failures: f,
                    max: m,
                },
            ) => assert_eq!((failures, max), (f, m)),
            (Err(LifecycleError::Replayed { step, .. }), AuditReason::Replayed { step: s, .. }) => {
                assert_eq!(step, s);
            }
            (Err(e @ LifecycleError::Throttled { .. }), reason @ AuditReason::Refused { .. }) => {
                assert_eq!(r.outcome, Outcome::Refused);
                assert_eq!(reason.code(), e.code());
            }
            (answer, reason) => panic!("request {i} answered {answer:?}, audited {reason:?}"),
        }
    }
}

#[derive(Default)]
struct Totals {
    trials: usize,
    accepted: usize,
    replayed: usize,
    counted: usize,
    throttled: usize,
    final_failures: u64,
    genuine_accepted: usize,
    genuine_throttled: usize,
    /// Wrong codes committed before the genuine one, in the audit order.
    wrong_before_sum: usize,
    wrong_before_max: usize,
}

impl Totals {
    fn print(&self, name: &str) {
        let mut line = format!(
            "{name}: trials={} accepted={} replayed={} failures_counted={} throttled={} final_failures_sum={}",
            self.trials,
            self.accepted,
            self.replayed,
            self.counted,
            self.throttled,
            self.final_failures,
        );
        if self.genuine_accepted + self.genuine_throttled > 0 {
            line.push_str(&format!(
                " genuine_accepted={} genuine_throttled={} wrong_before_genuine(mean/max)={:.2}/{}",
                self.genuine_accepted,
                self.genuine_throttled,
                self.wrong_before_sum as f64 / self.trials as f64,
                self.wrong_before_max
            ));
        }
        println!("{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_one_valid_code_sixteen_times() {
    let mut t = Totals::default();
    for trial in 0..TRIALS {
        let (bank, alice, phone) = registered(trial as u32);
        let (code, step) = (phone.code(bank.now()), phone.step(bank.now()));
        let answers = race(&bank, &alice, &vec![code; N]).await;

        let accepted: Vec<&Authorized> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
        assert_eq!(accepted.len(), 1, "exactly one acceptance: {answers:?}");
        assert_eq!(accepted[0].claimed().value(), step);
        for a in answers.iter().filter_map(|a| a.as_ref().err()) {
            assert!(
                matches!(a, LifecycleError::Replayed { step: s, last_accepted: l } if *s == step && *l == step),
                "{a:?}"
            );
        }
        let audit = bank.store().audit().take();
        let ids = requests(&audit);
        audit_matches_answers(&audit, &ids, &answers);
        assert_eq!(audit[0].outcome, Outcome::Accepted);
        let record = bank.store().snapshot(&alice).unwrap();
        assert_eq!(
            (
                record.failures(),
                record.throttled_until(),
                record.last_step()
            ),
            (0, None, Some(step))
        );
        assert_eq!(record.version(), 2, "replays change nothing");

        t.trials += 1;
        t.accepted += accepted.len();
        t.replayed += N - accepted.len();
        t.final_failures += u64::from(record.failures());
    }
    t.print("a. one valid code x16, throttle on (tasks)");
    assert_eq!((t.accepted, t.replayed), (TRIALS, TRIALS * (N - 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_sixteen_wrong_codes_the_delay_holds_back_the_rest() {
    let mut t = Totals::default();
    for trial in 0..TRIALS {
        let (bank, alice, phone) = registered(trial as u32);
        let now = bank.now();
        let retry_at = now + RACE_BASE;
        let codes: Vec<String> = (0..N).map(|i| phone.wrong_code(now, i)).collect();
        let answers = race(&bank, &alice, &codes).await;

        let mut counted = Vec::new();
        let mut throttled = 0;
        for a in &answers {
            match a {
                Err(LifecycleError::WrongCode {
                    failures,
                    max: RACE_MAX,
                    locked_out: false,
                    ..
                }) => counted.push(*failures),
                a if is_throttled(a, retry_at, now) => throttled += 1,
                other => panic!("a wrong code answered {other:?}"),
            }
        }
        counted.sort_unstable();
        assert_eq!(
            counted,
            (1..=RACE_AFTER).collect::<Vec<_>>(),
            "counted until the first delay: {answers:?}"
        );
        assert_eq!(throttled, N - RACE_AFTER as usize);

        let record = bank.store().snapshot(&alice).unwrap();
        assert_eq!(
            (record.state(), record.failures(), record.throttled_until()),
            (State::Active, RACE_AFTER, Some(retry_at))
        );
        assert_eq!(record.version(), 1 + u64::from(RACE_AFTER));

        let audit = bank.store().audit().take();
        let ids = requests(&audit);
        audit_matches_answers(&audit, &ids, &answers);
        // The counted ones first (a refusal as throttled is decided on the
        // record they committed), in order.
        for (n, r) in audit[..RACE_AFTER as usize].iter().enumerate() {
            assert_eq!(
                r.reason,
                AuditReason::WrongCode {
                    failures: n as u32 + 1,
                    max: RACE_MAX
                }
            );
        }
        for r in &audit[RACE_AFTER as usize..] {
            assert!(matches!(r.reason, AuditReason::Refused { .. }), "{r}");
            assert_eq!(r.version, record.version());
        }

        t.trials += 1;
        t.counted += counted.len();
        t.throttled += throttled;
        t.final_failures += u64::from(record.failures());
    }
    t.print("b. 16 wrong codes, delay from the 2nd (tasks)");
    assert_eq!(
        (t.counted, t.throttled),
        (
            TRIALS * RACE_AFTER as usize,
            TRIALS * (N - RACE_AFTER as usize)
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn race_a_genuine_code_against_fifteen_wrong_ones() {
    let mut t = Totals::default();
    for trial in 0..TRIALS {
        let (bank, alice, phone) = registered(trial as u32);
        let now = bank.now();
        let retry_at = now + RACE_BASE;
        let step = phone.step(now);
        let registered_step = step - 1;
        let genuine = trial % N;
        let codes: Vec<String> = (0..N)
            .map(|i| {
                if i == genuine {
                    phone.code(now)
                } else {
                    phone.wrong_code(now, i)
                }
            })
            .collect();
        let answers = race(&bank, &alice, &codes).await;

        let audit = bank.store().audit().take();
        let ids = requests(&audit);
        audit_matches_answers(&audit, &ids, &answers);
        let rank = ids.iter().position(|&i| i == genuine).unwrap();
        let wrong_before = audit[..rank]
            .iter()
            .filter(|r| matches!(r.reason, AuditReason::WrongCode { .. }))
            .count();
        match &answers[genuine] {
            Ok(proof) => {
                assert_eq!(proof.claimed().value(), step);
                assert!(
                    wrong_before < RACE_AFTER as usize,
                    "accepted after {wrong_before} wrong codes had set a delay"
                );
                t.genuine_accepted += 1;
            }
            a if is_throttled(a, retry_at, now) => {
                assert!(
                    wrong_before >= RACE_AFTER as usize,
                    "held back after only {wrong_before} wrong codes"
                );
                t.genuine_throttled += 1;
            }
            other => panic!("the genuine code answered {other:?}"),
        }
        for (i, a) in answers.iter().enumerate().filter(|(i, _)| *i != genuine) {
            assert!(
                matches!(
                    a,
                    Err(LifecycleError::WrongCode {
                        locked_out: false,
                        ..
                    })
                ) || is_throttled(a, retry_at, now),
                "wrong code #{i} answered {a:?}"
            );
        }

        // The count runs 1, 2, ... up to the delay, from the start or from
        // the acceptance; the record keeps the count since.
        let accepted_at = audit.iter().position(|r| r.outcome == Outcome::Accepted);
        let counts = |records: &[AuditRecord]| -> Vec<u32> {
            records
                .iter()
                .filter_map(|r| match r.reason {
                    AuditReason::WrongCode { failures, .. } => Some(failures),
                    _ => None,
                })
                .collect()
        };
        let since = accepted_at.map_or(0, |a| a + 1);
        assert_eq!(
            counts(&audit[since..]),
            (1..=RACE_AFTER).collect::<Vec<_>>()
        );
        if let Some(a) = accepted_at {
            assert_eq!(
                counts(&audit[..a]),
                (1..=wrong_before as u32).collect::<Vec<_>>()
            );
        }
        let record = bank.store().snapshot(&alice).unwrap();
        assert_eq!(
            (record.state(), record.failures(), record.throttled_until()),
            (State::Active, RACE_AFTER, Some(retry_at))
        );
        let expected_step = if accepted_at.is_some() {
            step
        } else {
            registered_step
        };
        assert_eq!(record.last_step(), Some(expected_step));

        t.trials += 1;
        t.accepted += usize::from(accepted_at.is_some());
        t.counted += answers
            .iter()
            .filter(|a| matches!(a, Err(LifecycleError::WrongCode { .. })))
            .count();
        t.throttled += answers
            .iter()
            .filter(|a| is_throttled(a, retry_at, now))
            .count();
        t.final_failures += u64::from(record.failures());
        t.wrong_before_sum += wrong_before;
        t.wrong_before_max = t.wrong_before_max.max(wrong_before);
    }
    t.print("c. genuine code vs 15 wrong codes, delay from the 2nd (tasks)");
    assert_eq!(t.genuine_accepted + t.genuine_throttled, TRIALS);
    assert_eq!(t.accepted, t.genuine_accepted);
}
