//! Clock drift and resynchronisation through the lifecycle: a phone whose
//! clock runs slow keeps working with a ±1 window when the window follows
//! the token's drift (RFC 6238 §6), and is refused without it; two
//! consecutive codes re-centre a token far off (RFC 4226 §7.4), and
//! nothing else does.
//!
//! Run with `--nocapture` to see the simulation's figures.

#![allow(clippy::unwrap_used, clippy::panic, clippy::arithmetic_side_effects)]

mod lifecycle_support;

use lifecycle_support::{principal, Bank, Phone};
use otpguard::lifecycle::{
    audit::AuditReason, audit::Outcome, rules::Actor, rules::EventKind, Event, LifecycleConfig,
    LifecycleError,
};
use otpguard::{Totp, TotpParams};
use proptest::prelude::*;

const DAY: u64 = 86_400;
/// The phone's clock loses 2 seconds a day.
const LOSS_PER_DAY: u64 = 2;

/// What two years of use looked like.
#[derive(Debug, Default)]
struct Run {
    uses: usize,
    accepted: usize,
    /// The first day a genuine code was refused, if one was.
    first_refusal_day: Option<u64>,
    /// The largest drift recorded, in steps.
    max_drift: i64,
    replays_refused: usize,
}

/// Two years of a phone whose clock loses 2 s a day, used every 1 to 7
/// days (a pattern fixed by `gaps`), each code then sent a second time.
fn two_years(config: LifecycleConfig, gaps: &[u64]) -> Run {
    let bound = i64::from(config.max_drift());
    let bank = Bank::with_config(config);
    let phone = Phone::new("SN-DRIFT", 7);
    let start = bank.now();
    bank.register(&phone).unwrap();
    let mut run = Run::default();
    let mut day = 0;
    let mut accepted_steps = Vec::new();
    for gap in gaps.iter().cycle() {
        day += gap;
        if day > 2 * 365 {
            break;
        }
        bank.clock.set(start + day * DAY + 3_600);
        let behind = day * LOSS_PER_DAY;
        let code = phone.code(bank.now() - behind);
        run.uses += 1;
        match bank.verify(&code) {
            Ok(proof) => {
                run.accepted += 1;
                assert!(
                    !accepted_steps.contains(&proof.claimed().value()),
                    "a step accepted twice"
                );
                accepted_steps.push(proof.claimed().value());
                let drift = bank.record().last_drift().unwrap();
                assert!(drift.abs() <= bound, "drift {drift} beyond {bound}");
                run.max_drift = run.max_drift.max(drift.abs());
                // The same code again: a replay, whatever the drift.
                assert!(matches!(
                    bank.verify(&code),
                    Err(LifecycleError::Replayed { .. })
                ));
                run.replays_refused += 1;
            }
            Err(LifecycleError::WrongCode { .. }) => {
                run.first_refusal_day.get_or_insert(day);
                // Locked after a few: an operator resumes, as a bank would.
                if bank.state().accepts_codes() {
                    continue;
                }
                bank.operator(Event::Resume).unwrap();
            }
            Err(e) => panic!("day {day}: {e}"),
        }
    }
    run
}

const GAPS: [u64; 9] = [1, 3, 7, 2, 5, 1, 6, 4, 7];

#[test]
fn a_phone_losing_two_seconds_a_day_keeps_working_for_two_years() {
    // Two years lose 1,460 s: 49 steps. The bound must allow that much.
    let config = LifecycleConfig::builder().max_drift(60).build().unwrap();
    let run = two_years(config, &GAPS);
    println!("re-centred (max drift 60): {run:?}");
    assert_eq!(run.accepted, run.uses, "every genuine code accepted");
    assert_eq!(run.first_refusal_day, None);
    assert!(run.max_drift >= 45, "the drift followed the phone: {run:?}");
    assert_eq!(run.replays_refused, run.accepted);
}

#[test]
fn without_re_centring_the_same_phone_is_refused_within_weeks() {
    let config = LifecycleConfig::builder().max_drift(0).build().unwrap();
    let run = two_years(config, &GAPS);
    println!("not re-centred (max drift 0): {run:?}");
    // One step and a half of loss (45 s) at 2 s a day: from about day 23
    // the code is outside a ±1 window around now (day 29 with these gaps).
    let day = run.first_refusal_day.expect("refused at some point");
    assert!((15..=30).contains(&day), "first refused on day {day}");
    assert!(run.accepted < run.uses / 10, "{run:?}");
}

#[test]
fn the_drift_stops_at_its_bound() {
    // A bound of 10 steps (the default) follows the phone for 150 days
    // (300 s), then the phone falls outside.
    let run = two_years(LifecycleConfig::default(), &GAPS);
    println!("default bound (10): {run:?}");
    let day = run
        .first_refusal_day
        .expect("refused once beyond the bound");
    assert!((150..=190).contains(&day), "first refused on day {day}");
    assert_eq!(run.max_drift, 10);
}

// ---------------------------------------------------------------------------
// Resync
// ---------------------------------------------------------------------------

/// A bank whose token `phone` was registered, configured with a drift
/// bound of 60 (default resynchronisation window: 100).
fn resync_bank() -> (Bank, Phone) {
    let bank = Bank::with_config(LifecycleConfig::builder().max_drift(60).build().unwrap());
    let phone = Phone::new("SN-R", 3);
    bank.register(&phone).unwrap();
    (bank, phone)
}

fn resync(bank: &Bank, by: Actor, first: &str, second: &str) -> Result<i64, LifecycleError> {
    bank.submit(
        &principal(by),
        Event::Resync {
            first: first.into(),
            second: second.into(),
        },
    )
    .map(|applied| applied.authorized.unwrap().drift())
}

/// The code `phone` shows `steps` steps from now.
fn at(bank: &Bank, phone: &Phone, steps: i64) -> String {
    phone.code(bank.now().checked_add_signed(steps * 30).unwrap())
}

#[test]
fn two_consecutive_codes_sixty_steps_off_re_centre_the_token() {
    for (by, off) in [(Actor::Customer, -60), (Actor::Operator, 60)] {
        let (bank, phone) = resync_bank();
        // A day later (a phone behind can only show steps after the one
        // its registration claimed).
        bank.clock.advance(DAY);
        // Far outside the ±1 window: wrong.
        assert!(matches!(
            bank.verify(&at(&bank, &phone, off)),
            Err(LifecycleError::WrongCode { failures: 1, .. })
        ));
        let drift = resync(
            &bank,
            by,
            &at(&bank, &phone, off - 1),
            &at(&bank, &phone, off),
        );
        assert_eq!(drift.unwrap(), off);
        let record = bank.record();
        assert_eq!(
            (record.last_drift(), record.failures()),
            (Some(off), 0),
            "re-centred, failures reset"
        );
        // The audit says so.
        let last = bank.audit_log().pop().unwrap();
        assert_eq!(
            (last.event, last.outcome),
            (EventKind::Resync, Outcome::Accepted)
        );
        assert_eq!(last.drift.map(|d| (d.from, d.to)), Some((0, off)));
        // The next code of the drifted phone is accepted, the resynced pair
        // never again.
        bank.clock.advance(30);
        let _proof = bank.verify(&at(&bank, &phone, off)).unwrap();
        assert!(resync(
            &bank,
            by,
            &at(&bank, &phone, off - 2),
            &at(&bank, &phone, off - 1)
        )
        .is_err());
    }
}

#[test]
fn what_does_not_re_centre() {
    let (bank, phone) = resync_bank();
    bank.clock.advance(DAY);
    let other = Phone::new("SN-OTHER", 4);
    let cases = [
        (
            "non-consecutive",
            at(&bank, &phone, 38),
            at(&bank, &phone, 40),
        ),
        ("reversed", at(&bank, &phone, 40), at(&bank, &phone, 39)),
        (
            "another token's",
            at(&bank, &other, 39),
            at(&bank, &other, 40),
        ),
        (
            "outside the window",
            at(&bank, &phone, 150),
            at(&bank, &phone, 151),
        ),
    ];
    for (n, (what, first, second)) in cases.iter().enumerate() {
        let answer = resync(&bank, Actor::Customer, first, second);
        match answer {
            Err(LifecycleError::WrongCode { failures, .. }) => {
                assert_eq!(failures as usize, n + 1, "{what}: counted");
            }
            other => panic!("{what}: {other:?}"),
        }
        assert_eq!(bank.record().last_drift(), Some(0), "{what}");
    }
    // A pair further off than the bound: found, refused, not counted.
    let far = resync(
        &bank,
        Actor::Customer,
        &at(&bank, &phone, -80),
        &at(&bank, &phone, -79),
    );
    assert!(
        matches!(
            far,
            Err(LifecycleError::DriftBeyondBound {
                drift: -79,
                max: 60
            })
        ),
        "{far:?}"
    );
    assert_eq!(bank.record().failures(), 4);
    // A replayed pair: its later step was already accepted.
    let good = (at(&bank, &phone, 9), at(&bank, &phone, 10));
    assert_eq!(
        resync(&bank, Actor::Customer, &good.0, &good.1).unwrap(),
        10
    );
    let again = resync(&bank, Actor::Customer, &good.0, &good.1);
    assert!(
        matches!(again, Err(LifecycleError::Replayed { .. })),
        "{again:?}"
    );
    assert_eq!(bank.record().last_drift(), Some(10));
    let audit = bank.audit_log();
    let last = audit.last().unwrap();
    assert!(matches!(last.reason, AuditReason::Replayed { .. }));
    // A locked token is not resynchronised.
    for n in 0..5 {
        let _ = resync(&bank, Actor::Customer, &format!("{n:06}"), "999999");
    }
    assert!(matches!(
        resync(&bank, Actor::Customer, &good.0, &good.1),
        Err(LifecycleError::NotPermitted { .. })
    ));
}

#[test]
fn an_operator_resets_the_drift() {
    let (bank, phone) = resync_bank();
    bank.clock.advance(DAY);
    resync(
        &bank,
        Actor::Customer,
        &at(&bank, &phone, 19),
        &at(&bank, &phone, 20),
    )
    .unwrap();
    assert!(bank
        .submit(&principal(Actor::Customer), Event::ResetDrift)
        .is_err());
    bank.operator(Event::ResetDrift).unwrap();
    assert_eq!(bank.record().last_drift(), Some(0));
    let last = bank.audit_log().pop().unwrap();
    assert_eq!(last.drift.map(|d| (d.from, d.to)), Some((20, 0)));
    // The phone, still 20 steps ahead, is now outside the window.
    bank.clock.advance(30);
    assert!(bank.verify(&at(&bank, &phone, 20)).is_err());
}

proptest! {
    /// Whatever the drift and the window, a code is accepted only for a
    /// step after the last accepted one, and the recorded drift stays
    /// within its bound. The first code, on time one step after the
    /// registration, is always accepted, so every case checks an accepted
    /// code; a refused one is refused as a code, never as a fault.
    #[test]
    fn single_use_and_the_bound_hold_whatever_the_drift(
        bound in 0u32..=12,
        offsets in prop::collection::vec((-14i64..=14, 0u64..=3), 1..40),
    ) {
        let bank = Bank::with_config(LifecycleConfig::builder().max_drift(bound).build().unwrap());
        let phone = Phone::new("SN-P", 5);
        bank.register(&phone).unwrap();
        let totp = Totp::new(&phone.secret(), TotpParams::default());
        let mut last = bank.record().last_step().unwrap();
        let mut accepted = 0usize;
        for (offset, ticks) in [(0, 1)].into_iter().chain(offsets) {
            bank.clock.advance(ticks * 30);
            match bank.verify(&at(&bank, &phone, offset)) {
                Ok(proof) => {
                    prop_assert!(proof.claimed().value() > last);
                    let now_step = totp.step_at(bank.now()).unwrap();
                    prop_assert_eq!(proof.drift(), proof.claimed().value() as i64 - now_step as i64);
                    last = proof.claimed().value();
                    accepted += 1;
                }
                Err(e) => prop_assert!(
                    matches!(
                        e,
                        LifecycleError::WrongCode { .. }
                            | LifecycleError::Replayed { .. }
                            | LifecycleError::Throttled { .. }
                            | LifecycleError::NotPermitted { .. }
                    ),
                    "offset {} refused as {:?}",
                    offset,
                    e
                ),
            }
            if accepted == 0 {
                return Err(TestCaseError::fail("the code on time was refused"));
            }
            let drift = bank.record().last_drift().unwrap();
            prop_assert!(drift.unsigned_abs() <= u64::from(bound));
        }
    }
}

/// A replay is never counted, whatever the drift. A phone losing 1 s a day
/// under the default settings, used daily; each accepted code is sent again
/// one step later. Once the phone is further behind than the drift bound,
/// a code is accepted at the window's edge while the drift is held at the
/// bound, and one step later that code lies outside the window: it must
/// still be refused as a replay, not counted as a wrong code.
#[test]
fn a_code_sent_again_a_step_later_is_a_replay_even_at_the_drift_bound() {
    let bank = Bank::new();
    let bound = i64::from(bank.lc.config().max_drift());
    let phone = Phone::new("SN-SLOW", 9);
    let start = bank.now();
    bank.register(&phone).unwrap();
    let (mut resent, mut beyond_the_window) = (0, 0);
    for day in 1..=2 * 365 {
        bank.clock.set(start + day * DAY + 3_600);
        let code = phone.code(bank.now() - day);
        let Ok(proof) = bank.verify(&code) else {
            // Further behind than the bound allows: the genuine code is
            // refused from here on (a resynchronisation would re-centre).
            assert!(day > 300, "refused on day {day}");
            break;
        };
        bank.tick();
        let again = bank.verify(&code);
        assert!(
            matches!(again, Err(LifecycleError::Replayed { step, .. }) if step == proof.claimed().value()),
            "day {day}: {again:?}"
        );
        assert_eq!(bank.record().failures(), 0, "day {day}");
        resent += 1;
        let centre = bank.record().last_drift().unwrap();
        if proof.drift().abs() > bound && centre.abs() == bound {
            beyond_the_window += 1;
        }
    }
    assert!(resent > 300);
    assert!(beyond_the_window > 0, "the bound was never reached");
}
