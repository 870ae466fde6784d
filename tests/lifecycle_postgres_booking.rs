//! The bank's payment commits with the code that authorises it, in one
//! database transaction (`verify_transaction_with`): both or neither,
//! whatever fails and wherever the server dies. Against a real PostgreSQL
//! server, with the bank's own `payments` table beside the library's.
//!
//! The invariant every test checks: each accepted `VerifyTransaction` in
//! the audit trail has exactly one payment, and each payment one accepted
//! code.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::too_many_lines)]

mod store_support;
mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otpguard::lifecycle::postgres::{sqlx, BookingError, BookingFuture};
use otpguard::lifecycle::{CustomerId, LifecycleError, PendingProof};
use otpguard::{Clock, FixedClock};
use sqlx::PgConnection;
use store_support::{ctx, customer, web, Phone, START, STEP};
use support::pg_lifecycle::{audit_rows, backend_on, register, runtime, Pg};
use support::postgres_server::PostgresServer;

/// The bank's table. A payment of 777 makes its commit sleep (a deferred
/// trigger, run by COMMIT itself), so a test can kill the server while a
/// COMMIT is in flight.
const PAYMENTS: &str = "
    CREATE TABLE payments (
        id bigserial PRIMARY KEY,
        customer text NOT NULL,
        amount bigint NOT NULL CHECK (amount > 0),
        step bigint NOT NULL
    );
    CREATE FUNCTION payments_slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.amount = 777 THEN PERFORM pg_sleep(60); END IF;
        RETURN NULL;
    END $$;
    CREATE CONSTRAINT TRIGGER payments_at_commit AFTER INSERT ON payments
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION payments_slow_commit();";

/// A backend on `pg` (a fresh pool: after a restart the old one's
/// connections are gone).
async fn backend(pg: &PostgresServer, clock: &Arc<FixedClock>) -> Arc<Pg> {
    backend_on(pg, 4, clock).await
}

/// A server with the bank's `payments` table and then `schema`, a backend
/// on it, and Alice's token registered, the clock a step past it.
struct Bank {
    pg: PostgresServer,
    rt: tokio::runtime::Runtime,
    clock: Arc<FixedClock>,
    lc: Arc<Pg>,
    alice: CustomerId,
    phone: Phone,
}

fn bank(schema: &str) -> Bank {
    let pg = PostgresServer::start();
    pg.psql(PAYMENTS);
    if !schema.is_empty() {
        pg.psql(schema);
    }
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let lc = rt.block_on(backend(&pg, &clock));
    let alice = customer("alice");
    let phone = Phone::new("SN-A", 7);
    rt.block_on(register(&lc, &alice, phone.register(clock.now())))
        .unwrap();
    clock.advance(STEP);
    Bank {
        pg,
        rt,
        clock,
        lc,
        alice,
        phone,
    }
}

/// The bank's statement: the payment of `amount`, with the step the code
/// claimed. Returns the payment's id.
fn pay(
    customer: &CustomerId,
    amount: i64,
) -> impl for<'c> FnOnce(&'c mut PgConnection, &'c PendingProof) -> BookingFuture<'c, i64, sqlx::Error>
{
    let customer = customer.to_string();
    move |tx, proof| {
        let step = i64::try_from(proof.claimed().value()).unwrap();
        Box::pin(async move {
            sqlx::query_scalar(
                "INSERT INTO payments (customer, amount, step) VALUES ($1, $2, $3) RETURNING id",
            )
            .bind(customer)
            .bind(amount)
            .bind(step)
            .fetch_one(&mut *tx)
            .await
        })
    }
}

/// The bank's statements: `sql` alone, its outcome returned as it is.
fn statement(
    sql: &'static str,
) -> impl for<'c> FnOnce(&'c mut PgConnection, &'c PendingProof) -> BookingFuture<'c, (), sqlx::Error>
{
    move |tx, _proof| Box::pin(async move { sqlx::query(sql).execute(&mut *tx).await.map(|_| ()) })
}

/// (accepted `VerifyTransaction` rows, payments) for `c`: equal whenever
/// nothing is in flight.
fn accepted_and_paid(pg: &PostgresServer, c: &CustomerId) -> (u64, u64) {
    let count = |sql: String| pg.psql(&sql).parse::<u64>().unwrap();
    (
        count(format!(
            "SELECT count(*) FROM otpguard_audit WHERE customer_id = '{c}' \
             AND event = 'VerifyTransaction' AND outcome = 'accepted'"
        )),
        count(format!(
            "SELECT count(*) FROM payments WHERE customer = '{c}'"
        )),
    )
}

#[test]
fn the_payment_commits_with_the_code_and_a_refused_code_books_nothing() {
    let Bank {
        pg,
        rt,
        clock,
        lc,
        alice,
        phone,
    } = bank("");
    let code = phone.code(clock.now());

    // Spawned: the call's future is Send, as a web handler's must be.
    let booked = {
        let (lc, alice, code) = (Arc::clone(&lc), alice.clone(), code.clone());
        rt.block_on(async move {
            tokio::spawn(async move {
                lc.verify_transaction_with(&alice, &web(), &code, &ctx(), pay(&alice, 50_000))
                    .await
            })
            .await
            .unwrap()
        })
    };
    let (proof, payment) = booked.unwrap();
    assert!(payment > 0);
    assert_eq!(
        pg.psql(&format!("SELECT step FROM payments WHERE id = {payment}")),
        proof.claimed().value().to_string(),
        "the payment carries the step the code claimed"
    );
    assert_eq!(accepted_and_paid(&pg, &alice), (1, 1));

    // The same code again, and a wrong one: refused, and the bank's
    // statements never run.
    for (attempt, expect_wrong) in [
        (code.clone(), false),
        (phone.wrong_code(clock.now(), 0), true),
    ] {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let answer = rt.block_on(lc.verify_transaction_with(
            &alice,
            &web(),
            &attempt,
            &ctx(),
            move |_tx: &mut PgConnection,
                  _proof: &PendingProof|
                  -> BookingFuture<'_, (), sqlx::Error> {
                flag.store(true, Ordering::SeqCst);
                Box::pin(async { Ok(()) })
            },
        ));
        match answer {
            Err(BookingError::Lifecycle(LifecycleError::WrongCode { failures: 1, .. }))
                if expect_wrong => {}
            Err(BookingError::Lifecycle(LifecycleError::Replayed { .. })) if !expect_wrong => {}
            other => panic!("{other:?}"),
        }
        assert!(!ran.load(Ordering::SeqCst), "the bank's statements ran");
    }
    // The wrong code's count committed, in the transaction the refusal
    // left open.
    let record = rt
        .block_on(lc.store().load_sealed(&alice))
        .unwrap()
        .unwrap();
    assert_eq!(record.failures, 1);
    assert_eq!(accepted_and_paid(&pg, &alice), (1, 1));
    let rows = rt.block_on(audit_rows(lc.store().pool(), &alice));
    assert_eq!(rows.len(), 4, "register, accepted, replay, wrong code");
}

#[test]
fn a_failed_booking_spends_no_code_and_is_audited() {
    let Bank {
        pg,
        rt,
        clock,
        lc,
        alice,
        phone,
    } = bank("");
    let code = phone.code(clock.now());

    // The bank's own refusal after writing a row (insufficient funds
    // found late), then a statement the database refuses (amount 0
    // breaks the table's check): in each, nothing committed.
    #[derive(Debug)]
    struct InsufficientFunds;
    let declined = rt.block_on(lc.verify_transaction_with(
        &alice,
        &web(),
        &code,
        &ctx(),
        |tx: &mut PgConnection,
         _proof: &PendingProof|
         -> BookingFuture<'_, (), InsufficientFunds> {
            Box::pin(async move {
                sqlx::query("INSERT INTO payments (customer, amount, step) VALUES ('alice', 5, 0)")
                    .execute(&mut *tx)
                    .await
                    .map_err(|_| InsufficientFunds)?;
                Err(InsufficientFunds)
            })
        },
    ));
    assert!(
        matches!(
            declined,
            Err(BookingError::Booking {
                error: InsufficientFunds,
                audit: None
            })
        ),
        "{declined:?}"
    );
    let refused =
        rt.block_on(lc.verify_transaction_with(&alice, &web(), &code, &ctx(), pay(&alice, 0)));
    match refused {
        Err(BookingError::Booking {
            error: sqlx::Error::Database(db),
            audit: None,
        }) => assert_eq!(db.code().as_deref(), Some("23514"), "a check violation"),
        other => panic!("{other:?}"),
    }
    assert_eq!(accepted_and_paid(&pg, &alice), (0, 0));

    // Both refusals audited with their stable code, the record unchanged
    // (no failure counted: the code was right).
    let rows = rt.block_on(audit_rows(lc.store().pool(), &alice));
    assert_eq!(rows.len(), 3);
    for row in &rows[1..] {
        assert_eq!(
            (row.event.as_str(), row.outcome.as_str()),
            ("VerifyTransaction", "refused")
        );
        assert!(
            row.reason.contains("the code was not spent"),
            "{}",
            row.reason
        );
        assert_eq!(row.version, 1);
    }
    let codes = pg.psql(&format!(
        "SELECT string_agg(reason_code, ',' ORDER BY link) FROM otpguard_audit \
         WHERE customer_id = '{alice}' AND outcome = 'refused'"
    ));
    assert_eq!(codes, "booking_failed,booking_failed");
    let record = rt
        .block_on(lc.store().load_sealed(&alice))
        .unwrap()
        .unwrap();
    assert_eq!((record.version, record.failures), (1, 0));

    // The code was not spent: it books now.
    let (_proof, _id) = rt
        .block_on(lc.verify_transaction_with(&alice, &web(), &code, &ctx(), pay(&alice, 50_000)))
        .unwrap();
    assert_eq!(accepted_and_paid(&pg, &alice), (1, 1));
    assert!(rt.block_on(lc.store().verify_audit(&alice, None)).is_ok());
}

/// Where the server dies, counted from the acceptance's statement.
#[derive(Clone, Copy, Debug)]
enum KillPoint {
    /// Inside the transaction, before the bank's first statement.
    BeforeTheBanksStatements,
    /// Between the bank's two statements.
    BetweenTheBanksStatements,
    /// After the bank's statements, before COMMIT is sent.
    BeforeCommit,
    /// While COMMIT runs (its deferred trigger sleeps).
    DuringCommit,
    /// Once the call answered.
    AfterTheAnswer,
}

/// Stops the server at once (SIGQUIT): every session ends without
/// finishing what it was doing, and the next start recovers from the log.
fn kill(pg: &Mutex<PostgresServer>) {
    pg.lock().unwrap().stop_immediately();
}

#[test]
fn the_server_killed_at_each_point_leaves_both_or_neither() {
    let pg = Arc::new(Mutex::new(PostgresServer::start()));
    let (web, ctx) = (web(), ctx());
    // The test server commits asynchronously (fast, and an acknowledged
    // commit may be lost in a crash); this database commits as a bank's
    // must, so that what was acknowledged survives the kills.
    pg.lock()
        .unwrap()
        .psql("ALTER DATABASE postgres SET synchronous_commit = on");
    pg.lock().unwrap().psql(PAYMENTS);
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let alice = customer("alice");
    let phone = Phone::new("SN-A", 7);
    let mut lc = rt.block_on(backend(&pg.lock().unwrap(), &clock));
    rt.block_on(register(&lc, &alice, phone.register(clock.now())))
        .unwrap();
    let mut results = Vec::new();
    for point in [
        KillPoint::BeforeTheBanksStatements,
        KillPoint::BetweenTheBanksStatements,
        KillPoint::BeforeCommit,
        KillPoint::DuringCommit,
        KillPoint::AfterTheAnswer,
    ] {
        clock.advance(STEP);
        let code = phone.code(clock.now());
        let call = |amount: i64| {
            let customer = alice.to_string();
            let server = Arc::clone(&pg);
            lc.verify_transaction_with(
                &alice,
                &web,
                &code,
                &ctx,
                move |tx: &mut PgConnection,
                      _proof: &PendingProof|
                      -> BookingFuture<'_, (), sqlx::Error> {
                    let kill = move || kill(&server);
                    if matches!(point, KillPoint::BeforeTheBanksStatements) {
                        kill();
                    }
                    Box::pin(async move {
                        sqlx::query(
                            "INSERT INTO payments (customer, amount, step) VALUES ($1, $2, 0)",
                        )
                        .bind(&customer)
                        .bind(amount)
                        .execute(&mut *tx)
                        .await?;
                        if matches!(point, KillPoint::BetweenTheBanksStatements) {
                            kill();
                        }
                        sqlx::query(
                            "UPDATE payments SET step = 1 WHERE customer = $1 AND step = 0",
                        )
                        .bind(&customer)
                        .execute(&mut *tx)
                        .await?;
                        if matches!(point, KillPoint::BeforeCommit) {
                            kill();
                        }
                        Ok(())
                    })
                },
            )
        };
        let answer = if matches!(point, KillPoint::DuringCommit) {
            std::thread::scope(|s| {
                s.spawn(|| {
                    // Kill once COMMIT sleeps in the payments trigger.
                    loop {
                        let sleeping = pg.lock().unwrap().psql(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'",
                        );
                        if sleeping == "1" {
                            break;
                        }
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    kill(&pg);
                });
                rt.block_on(call(777))
            })
        } else {
            rt.block_on(call(100))
        };
        let acknowledged = answer.is_ok();
        match (point, &answer) {
            (KillPoint::AfterTheAnswer, Ok(_)) => kill(&pg),
            (
                KillPoint::BeforeTheBanksStatements | KillPoint::BetweenTheBanksStatements,
                Err(BookingError::Booking {
                    audit: Some(LifecycleError::Store(_)),
                    ..
                }),
            ) => {}
            // COMMIT was never sent: rolled back for certain.
            (
                KillPoint::BeforeCommit,
                Err(BookingError::RolledBack {
                    audit: Some(LifecycleError::Store(_)),
                    ..
                }),
            ) => {}
            // COMMIT was under way: both or neither, not known which.
            (KillPoint::DuringCommit, Err(BookingError::OutcomeUnknown(_))) => {}
            _ => panic!("{point:?}: {answer:?}"),
        }
        drop(answer);
        pg.lock().unwrap().restart();
        lc = rt.block_on(backend(&pg.lock().unwrap(), &clock));
        let (accepted, paid) = accepted_and_paid(&pg.lock().unwrap(), &alice);
        assert_eq!(accepted, paid, "{point:?}: acceptances and payments");
        // The code: spent if and only if the answer acknowledged it.
        let again =
            rt.block_on(lc.verify_transaction_with(&alice, &web, &code, &ctx, pay(&alice, 100)));
        match (&again, acknowledged) {
            (Err(BookingError::Lifecycle(LifecycleError::Replayed { .. })), true)
            | (Ok(_), false) => {}
            _ => panic!("{point:?}: the code sent again: {again:?}"),
        }
        let (accepted, paid) = accepted_and_paid(&pg.lock().unwrap(), &alice);
        assert_eq!(accepted, paid, "{point:?}: after the code was sent again");
        assert!(rt.block_on(lc.store().verify_audit(&alice, None)).is_ok());
        results.push(format!(
            "{point:?}: acknowledged {acknowledged}, accepted {accepted}, paid {paid}"
        ));
    }
    println!("{}", results.join("\n"));
    // One payment per kill point: the four lost ones booked when the code
    // was sent again, the acknowledged one once.
    assert_eq!(accepted_and_paid(&pg.lock().unwrap(), &alice), (5, 5));
}

/// What the bank's statements must not do, done: swallow a failed
/// statement's error and answer `Ok` (the database rolled the transaction
/// back, and COMMIT would answer ROLLBACK without an error), send COMMIT
/// themselves, or leave a deferred constraint that fails at COMMIT. None
/// is taken for a booking: the first and last roll back and are audited
/// (the code not spent), the second is reported as not known.
#[test]
fn statements_that_break_the_transaction_are_never_taken_for_a_booking() {
    // Durable commits, as a bank's database has them (the test servers'
    // default is not).
    let Bank {
        pg,
        rt,
        clock,
        lc,
        alice,
        phone,
    } = bank(
        "CREATE TABLE ledger_limits (customer text PRIMARY KEY, total bigint NOT NULL); \
         ALTER TABLE payments ADD CONSTRAINT payments_of_known_customers \
         FOREIGN KEY (customer) REFERENCES ledger_limits (customer) DEFERRABLE INITIALLY DEFERRED; \
         ALTER DATABASE postgres SET synchronous_commit = on",
    );
    pg.psql("INSERT INTO ledger_limits VALUES ('alice', 0)");
    let code = phone.code(clock.now());

    // A failed statement whose error is swallowed.
    let swallowed = rt.block_on(lc.verify_transaction_with(
        &alice,
        &web(),
        &code,
        &ctx(),
        |tx: &mut PgConnection, _p: &PendingProof| -> BookingFuture<'_, (), sqlx::Error> {
            Box::pin(async move {
                let _ignored = sqlx::query("INSERT INTO no_such_table VALUES (1)")
                    .execute(&mut *tx)
                    .await;
                Ok(())
            })
        },
    ));
    assert!(
        matches!(swallowed, Err(BookingError::RolledBack { audit: None, .. })),
        "{swallowed:?}"
    );
    // A deferred foreign key that fails at COMMIT (a customer the ledger
    // does not know).
    let deferred = rt.block_on(lc.verify_transaction_with(
        &alice,
        &web(),
        &code,
        &ctx(),
        statement("INSERT INTO payments (customer, amount, step) VALUES ('mallory', 1, 0)"),
    ));
    assert!(
        matches!(deferred, Err(BookingError::RolledBack { audit: None, .. })),
        "{deferred:?}"
    );
    // The acceptance's commit made asynchronous (it could be lost in a
    // crash, and the code used again).
    let asynchronous = rt.block_on(lc.verify_transaction_with(
        &alice,
        &web(),
        &code,
        &ctx(),
        statement("SET LOCAL synchronous_commit = off"),
    ));
    assert!(
        matches!(&asynchronous, Err(BookingError::RolledBack { error, audit: None })
            if error.to_string().contains("synchronous_commit")),
        "{asynchronous:?}"
    );
    assert_eq!(accepted_and_paid(&pg, &alice), (0, 0));
    assert_eq!(pg.psql("SELECT count(*) FROM payments"), "0");
    let codes = pg.psql(&format!(
        "SELECT string_agg(reason_code, ',' ORDER BY link) FROM otpguard_audit \
         WHERE customer_id = '{alice}' AND outcome = 'refused'"
    ));
    assert_eq!(codes, "booking_failed,booking_failed,booking_failed");

    // COMMIT sent by the bank's statements: the acceptance committed
    // before the booking could be checked; the call cannot say it booked.
    let committed =
        rt.block_on(lc.verify_transaction_with(&alice, &web(), &code, &ctx(), statement("COMMIT")));
    assert!(
        matches!(committed, Err(BookingError::OutcomeUnknown(_))),
        "{committed:?}"
    );
    // (And the code was spent by that COMMIT: not accepted again.)
    let again = rt.block_on(lc.verify_transaction(&alice, &web(), &code, &ctx()));
    assert!(
        matches!(again, Err(LifecycleError::Replayed { .. })),
        "{again:?}"
    );
}

/// The same code sent by several requests at once, each booking: one
/// payment, the others refused as replays, in every trial.
#[test]
fn one_code_sent_at_once_books_one_payment() {
    let Bank {
        pg,
        rt,
        clock,
        lc,
        alice,
        phone,
    } = bank("");
    for trial in 1..=20_u64 {
        clock.advance(STEP);
        let code = phone.code(clock.now());
        let answers = rt.block_on(async {
            let tasks: Vec<_> = (0..4)
                .map(|_| {
                    let (lc, alice, code) = (Arc::clone(&lc), alice.clone(), code.clone());
                    tokio::spawn(async move {
                        lc.verify_transaction_with(&alice, &web(), &code, &ctx(), pay(&alice, 10))
                            .await
                    })
                })
                .collect();
            let mut answers = Vec::new();
            for task in tasks {
                answers.push(task.await.unwrap());
            }
            answers
        });
        let booked = answers.iter().filter(|a| a.is_ok()).count();
        let replays = answers
            .iter()
            .filter(|a| {
                matches!(
                    a,
                    Err(BookingError::Lifecycle(LifecycleError::Replayed { .. }))
                )
            })
            .count();
        assert_eq!((booked, replays), (1, 3), "trial {trial}: {answers:?}");
        assert_eq!(accepted_and_paid(&pg, &alice), (trial, trial));
    }
}
