//! A database writer without the sealing keys cannot change a record to
//! their advantage: every column that decides an answer is covered by the
//! record's tag, so a row changed outside the library is refused as
//! `Corrupt` on its next load (audited by the System) and nothing is
//! accepted from it. Against a real PostgreSQL server, one tamper per
//! decision column, each the change an attacker would want.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::panic)]

mod store_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use otpguard::lifecycle::{CustomerId, Event, LifecycleConfig, LifecycleError, SuspendReason};
use otpguard::{Clock, FixedClock};
use store_support::{ctx, customer, operator, web, Phone, START, STEP};
use support::pg_lifecycle::{
    assert_corrupt_load, audit_rows, backend_on, migrated, pool_on, register, Pg,
};
use support::postgres_server::PostgresServer;

/// Where the customer's record stands before the tamper.
#[derive(Clone, Copy, Debug)]
enum Before {
    /// Active, login OTP on, one code accepted, two wrong codes counted
    /// and held back.
    Active,
    /// Locked out by wrong codes.
    Locked,
    /// Suspended by an operator as a lost device.
    Lost,
    /// Reissued: its token retired.
    Reissued,
}

/// One row of the table: the record it starts from, the column changed
/// and what the change would buy.
struct Tamper {
    before: Before,
    set: &'static str,
    buys: &'static str,
}

const TAMPERS: &[Tamper] = &[
    Tamper {
        before: Before::Locked,
        set: "state = 'Active', failures = 0",
        buys: "unlock a locked token",
    },
    Tamper {
        before: Before::Lost,
        set: "state = 'Active'",
        buys: "un-suspend a lost device",
    },
    Tamper {
        before: Before::Active,
        set: "failures = 0",
        buys: "reset the failure count",
    },
    Tamper {
        before: Before::Active,
        set: "throttled_until = 1",
        buys: "lift the hold-back",
    },
    Tamper {
        before: Before::Active,
        set: "token_last_step = token_last_step - 1",
        buys: "replay the last code",
    },
    Tamper {
        before: Before::Active,
        set: "token_signing_suite = 'OCRA-1:HOTP-SHA1-6:QN08-T30S', token_last_signature = 0",
        buys: "a suite and a last signature of one's choosing",
    },
    Tamper {
        before: Before::Active,
        set: "token_signing_suite = 'OCRA-1:HOTP-SHA1-6:QN08-T30S'",
        buys: "give the token a suite",
    },
    Tamper {
        before: Before::Active,
        set: "token_drift = 5",
        buys: "widen the drift",
    },
    Tamper {
        before: Before::Active,
        set: "token_drift_estimate = NULL",
        buys: "drop the drift estimate",
    },
    Tamper {
        before: Before::Active,
        set: "login_otp = false",
        buys: "turn the login OTP off",
    },
    Tamper {
        before: Before::Active,
        set: "version = version + 1",
        buys: "change the version",
    },
    Tamper {
        before: Before::Reissued,
        set: "retired_serials = '{}', retired_fingerprints = '{}'",
        buys: "revive a retired token",
    },
];

fn with_server(test: impl AsyncFnOnce(&PostgresServer)) {
    support::pg_lifecycle::with_server(test);
}

/// The customer's record brought to `before`; returns the phone, whose
/// next code is fresh.
async fn bring(lc: &Pg, clock: &FixedClock, c: &CustomerId, n: u8, before: Before) -> Phone {
    let phone = Phone::new(&format!("SN-{n}"), u32::from(n));
    register(lc, c, phone.register(clock.now())).await.unwrap();
    clock.advance(STEP);
    match before {
        Before::Active => {
            let on = Event::SetLoginOtp {
                on: true,
                code: phone.code(clock.now()).as_str().into(),
            };
            lc.submit(c, &web(), on, &ctx()).await.unwrap();
            clock.advance(STEP);
            for i in 0..2 {
                let wrong = phone.wrong_code(clock.now(), i);
                let answer = lc.verify_transaction(c, &web(), &wrong, &ctx()).await;
                assert!(
                    matches!(answer, Err(LifecycleError::WrongCode { .. })),
                    "{answer:?}"
                );
            }
        }
        Before::Locked => {
            for i in 0..LifecycleConfig::default().max_failures() {
                let wrong = phone.wrong_code(clock.now(), i as usize);
                let _ = lc.verify_transaction(c, &web(), &wrong, &ctx()).await;
            }
        }
        Before::Lost => {
            let lost = Event::Suspend {
                reason: SuspendReason::LostDevice,
            };
            lc.submit(c, &operator(), lost, &ctx()).await.unwrap();
        }
        Before::Reissued => {
            let reissue = Event::Reissue {
                reason: otpguard::lifecycle::ReissueReason::LostDevice,
            };
            lc.submit(c, &operator(), reissue, &ctx()).await.unwrap();
        }
    }
    phone
}

#[test]
fn every_decision_column_changed_without_the_keys_is_refused() {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let pool = pool_on(pg, "postgres", 4, Duration::from_secs(5)).await;
        // The hold-back after two wrong codes is what one tamper lifts.
        let config = LifecycleConfig::default();
        let lc = migrated(&pool, config, &clock).await;
        let mut table = Vec::new();
        for (n, tamper) in TAMPERS.iter().enumerate() {
            let n = u8::try_from(n).unwrap();
            let c = customer(&format!("c-{n}"));
            let phone = bring(&lc, &clock, &c, n, tamper.before).await;
            let audit_before = audit_rows(lc.store().pool(), &c).await.len();
            let changed = pg.affected(&format!(
                "UPDATE otpguard_token_records SET {} WHERE customer_id = '{c}'",
                tamper.set
            ));
            assert_eq!(changed, 1, "{}", tamper.buys);

            // What the attacker wanted next: a code of the token (fresh,
            // and the last one again), a re-registration of a retired
            // token, a login without a code.
            clock.advance(STEP);
            let fresh = lc
                .verify_transaction(&c, &web(), &phone.code(clock.now()), &ctx())
                .await;
            let again = lc
                .submit(&c, &web(), phone.register(clock.now()), &ctx())
                .await;
            let login = lc.login(&c, &web(), None, &ctx()).await;
            for (what, corrupt) in [
                ("a code", matches!(fresh, Err(LifecycleError::Corrupt(_)))),
                (
                    "a registration",
                    matches!(again, Err(LifecycleError::Corrupt(_))),
                ),
                ("a login", matches!(login, Err(LifecycleError::Corrupt(_)))),
            ] {
                assert!(
                    corrupt,
                    "{}: {what} was not refused as corrupt",
                    tamper.buys
                );
            }
            // Nothing accepted since: only the System's refusal of the row,
            // audited once for its version.
            let rows = audit_rows(lc.store().pool(), &c).await;
            let added = &rows[audit_before..];
            assert_eq!(added.len(), 1, "{}: {added:?}", tamper.buys);
            assert_corrupt_load(&added[0]);
            assert!(added.iter().all(|r| r.outcome != "accepted"));
            table.push(format!("{:<55} {:<45} Corrupt", tamper.set, tamper.buys));
        }
        println!("column changed | what it would buy | answer");
        for line in &table {
            println!("{line}");
        }
    });
}

/// A tag cannot be stripped to pass a changed row off as one written
/// before tags: the database refuses to write a row without one, while
/// the rows written before stay readable for `tag_untagged`.
#[test]
fn no_row_is_written_without_a_tag() {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(pg, 2, &clock).await;
        let c = customer("c-strip");
        let phone = bring(&lc, &clock, &c, 40, Before::Active).await;
        let refused = pg.psql_error(&format!(
            "UPDATE otpguard_token_records SET record_tag = NULL, failures = 0 \
             WHERE customer_id = '{c}'"
        ));
        assert!(refused.contains("otpguard_record_tagged"), "{refused}");
        // A copy of the row without its tag, under another customer.
        let refused = pg.psql_error(&format!(
            "CREATE TEMP TABLE copy AS SELECT * FROM otpguard_token_records \
             WHERE customer_id = '{c}'; \
             UPDATE copy SET customer_id = 'c-new', record_tag = NULL; \
             INSERT INTO otpguard_token_records SELECT * FROM copy"
        ));
        assert!(refused.contains("otpguard_record_tagged"), "{refused}");
        // The row is as the library wrote it: its next code is accepted.
        clock.advance(STEP);
        let proof = lc
            .verify_transaction(&c, &web(), &phone.code(clock.now()), &ctx())
            .await
            .unwrap();
        assert_eq!(proof.version(), 5);
    });
}

/// A row replaced by an older genuine copy of itself (its tag valid, its
/// version behind) is refused: the append-only audit trail has seen a
/// later version committed. Every version a journey wrote is restored in
/// turn; none is accepted, nor any code used after it.
#[test]
fn a_row_restored_from_an_older_copy_is_refused() {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(pg, 2, &clock).await;
        let c = customer("c-roll");
        let phone = Phone::new("SN-R", 7);
        let mut saved = 0;
        let save = |n: usize| {
            pg.psql(&format!(
                "CREATE TABLE saved_{n} AS SELECT * FROM otpguard_token_records \
                 WHERE customer_id = '{c}'"
            ));
        };
        let mut used = Vec::new();

        register(&lc, &c, phone.register(clock.now()))
            .await
            .unwrap();
        used.push(phone.code(clock.now()));
        save(saved);
        saved += 1;
        for round in 0..2 {
            clock.advance(STEP);
            let code = phone.code(clock.now());
            let proof = lc
                .verify_transaction(&c, &web(), &code, &ctx())
                .await
                .unwrap();
            assert_eq!(proof.drift(), 0);
            used.push(code);
            save(saved);
            saved += 1;
            let wrong = phone.wrong_code(clock.now(), round);
            let _ = lc.verify_transaction(&c, &web(), &wrong, &ctx()).await;
            save(saved);
            saved += 1;
        }
        // Locked out, then reissued, then a new token registered.
        for i in 0..LifecycleConfig::default().max_failures() {
            let wrong = phone.wrong_code(clock.now(), 10 + i as usize);
            let _ = lc.verify_transaction(&c, &web(), &wrong, &ctx()).await;
        }
        save(saved);
        saved += 1;
        let reissue = Event::Reissue {
            reason: otpguard::lifecycle::ReissueReason::LostDevice,
        };
        lc.submit(&c, &operator(), reissue, &ctx()).await.unwrap();
        save(saved);
        saved += 1;
        let next = Phone::new("SN-R2", 8);
        clock.advance(STEP);
        register(&lc, &c, next.register(clock.now())).await.unwrap();
        save(saved);
        let latest = saved;

        for n in 0..latest {
            pg.psql(&format!(
                "DELETE FROM otpguard_token_records WHERE customer_id = '{c}'; \
                 INSERT INTO otpguard_token_records SELECT * FROM saved_{n}"
            ));
            clock.advance(STEP);
            let answers = [
                lc.verify_transaction(&c, &web(), &phone.code(clock.now()), &ctx())
                    .await,
                lc.verify_transaction(&c, &web(), &next.code(clock.now()), &ctx())
                    .await,
            ];
            for code in &used {
                let replay = lc.verify_transaction(&c, &web(), code, &ctx()).await;
                assert!(
                    matches!(replay, Err(LifecycleError::Corrupt(_))),
                    "version {n}: {replay:?}"
                );
            }
            for answer in answers {
                assert!(
                    matches!(answer, Err(LifecycleError::Corrupt(ref e)) if e.to_string().contains("older copy")),
                    "version {n}: {answer:?}"
                );
            }
        }
        // The latest copy is the record itself: it is served again.
        pg.psql(&format!(
            "DELETE FROM otpguard_token_records WHERE customer_id = '{c}'; \
             INSERT INTO otpguard_token_records SELECT * FROM saved_{latest}"
        ));
        clock.advance(STEP);
        let proof = lc
            .verify_transaction(&c, &web(), &next.code(clock.now()), &ctx())
            .await
            .unwrap();
        assert_eq!(
            proof.event(),
            otpguard::lifecycle::rules::EventKind::VerifyTransaction
        );
    });
}

/// A deleted row is refused, not read as a customer without a token: its
/// audit trail has a version committed. A customer never committed is
/// served as before.
#[test]
fn a_deleted_row_is_refused() {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(pg, 2, &clock).await;
        let c = customer("c-gone");
        let phone = bring(&lc, &clock, &c, 50, Before::Reissued).await;
        assert_eq!(
            pg.affected(&format!(
                "DELETE FROM otpguard_token_records WHERE customer_id = '{c}'"
            )),
            1
        );
        clock.advance(STEP);
        // The retired token, registered again: what the deletion would buy.
        let again = register(&lc, &c, phone.register(clock.now())).await;
        assert!(
            matches!(again, Err(LifecycleError::Corrupt(ref e)) if e.to_string().contains("deleted")),
            "{again:?}"
        );
        // Audited by the System (at version 0: there is no row to read one
        // from).
        let rows = audit_rows(lc.store().pool(), &c).await;
        assert_corrupt_load(rows.iter().find(|r| r.event == "Load").unwrap());
        // Someone never seen registers as always.
        let fresh = customer("c-new");
        let newcomer = Phone::new("SN-N", 51);
        register(&lc, &fresh, newcomer.register(clock.now()))
            .await
            .unwrap();
    });
}
