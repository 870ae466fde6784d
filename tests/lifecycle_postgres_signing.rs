//! Transaction signing (`SignTransaction`) on `PostgresStore`, against a
//! real PostgreSQL server each test starts for itself
//! (`tests/support/postgres_server.rs`): the signing suite and the last
//! signature round-trip through the columns of migration 0005 and are read
//! back by another process's pool; audit rows carry the transaction's
//! digest for signatures only and never the response; one signature is
//! accepted once among concurrent submissions through two pools, and wrong
//! ones race to exactly the lock-out; rows whose suite the lifecycle cannot
//! sign with are refused as corrupt; and a row written before migration
//! 0005 cannot sign.
//!
//! Run with `--nocapture` to see the totals of the races.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

mod lifecycle_support;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use lifecycle_support::{
    assert_replayed, principal, signing_suite, transfer_to, Phone, SIGNING, START,
};
use otpguard::lifecycle::postgres::PostgresStore;
use otpguard::lifecycle::{
    rules::Actor, rules::EventKind, store::TokenStore, Applied, Authorized, CustomerId, Event,
    LifecycleConfig, LifecycleError, NewSecret, RequestContext, State, SuspendReason,
};
use otpguard::ocra::{Amount, Currency, PayeeAccount, QuestionError, Suite, Transaction};
use otpguard::{Clock, FixedClock};
use sqlx::postgres::PgPool;
use support::pg_lifecycle::{
    self, assert_corrupt_load, audit_rows, keys, lifecycle, lockout, migrate, migrated, pool_on,
    race_tasks, race_threads, runtime, with_server, AuditRow, Pg,
};
use support::postgres_server::PostgresServer;

type Answer = Result<Authorized, LifecycleError>;

/// The time step of [`SIGNING`] (`T30S`).
const STEP: u64 = 30;

/// Another suite the lifecycle can sign with (a later deployment's).
const OTHER_SUITE: &str = "OCRA-1:HOTP-SHA256-8:QH64-T1M";

/// A suite with a counter, so that the last signature is a counter.
const COUNTER_SUITE: &str = "OCRA-1:HOTP-SHA1-8:C-QH40-T1M";

fn customer(id: &str) -> CustomerId {
    CustomerId::new(id).unwrap()
}

fn ctx() -> RequestContext {
    RequestContext::new()
}

fn suite(text: &str) -> Suite {
    Suite::parse(text).unwrap()
}

/// How long a pool waits for a connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

async fn pool(pg: &PostgresServer, connections: u32) -> PgPool {
    pool_on(pg, "postgres", connections, ACQUIRE_TIMEOUT).await
}

/// Settings signing with `signing` (if any), locking at `max_failures`.
fn config(signing: Option<&str>, max_failures: u32) -> LifecycleConfig {
    let builder = LifecycleConfig::builder().max_failures(max_failures);
    match signing {
        Some(text) => builder.signing(suite(text)),
        None => builder,
    }
    .build()
    .unwrap()
}

/// A clock at [`START`], a pool of 2 on `pg` with the schema up to date,
/// and a lifecycle over it signing with [`SIGNING`], locking at 5.
async fn signing_backend(pg: &PostgresServer) -> (Arc<FixedClock>, PgPool, Arc<Pg>) {
    let clock = Arc::new(FixedClock::new(START));
    let pool = pool(pg, 2).await;
    let lc = migrated(&pool, config(Some(SIGNING), 5), &clock).await;
    (clock, pool, lc)
}

async fn register(lc: &Pg, c: &CustomerId, phone: &Phone, now: u64) -> Applied {
    let event = Event::Register {
        serial: phone.serial.clone(),
        secret: phone.given(),
        code: phone.code(now).as_str().into(),
    };
    pg_lifecycle::register(lc, c, event)
        .await
        .unwrap_or_else(|e| panic!("registration of {c}: {e}"))
}

fn sign_event(transaction: &Transaction, response: &str) -> Event {
    Event::SignTransaction {
        transaction: transaction.clone(),
        response: response.into(),
    }
}

async fn sign(lc: &Pg, c: &CustomerId, transaction: &Transaction, response: &str) -> Answer {
    lc.submit(
        c,
        &principal(Actor::Customer),
        sign_event(transaction, response),
        &ctx(),
    )
    .await
    .map(|applied| applied.authorized.expect("a signature's proof"))
}

/// The customer's record as another process sees it: a new store on a new
/// pool of its own.
async fn load_fresh(
    pg: &PostgresServer,
    c: &CustomerId,
) -> otpguard::lifecycle::store::TokenRecord {
    let store = PostgresStore::new(pool(pg, 1).await, keys());
    store.load(c).await.unwrap().expect("a committed record")
}

/// `n` responses of `phone`'s length that it shows for `transaction` under
/// `suite` at no time step within 12 of `now` (wrong under any validity the
/// tests configure). They are spread over the range rather than counted up
/// from zero, so that none is a run of digits other columns hold (`000000`
/// is in every `at` of 2023).
fn wrong_responses(
    phone: &Phone,
    suite: &Suite,
    transaction: &Transaction,
    now: u64,
    n: usize,
) -> Vec<String> {
    let near: Vec<String> = (0..=24)
        .map(|k| phone.signature(suite, transaction, None, now - 12 * STEP + k * STEP))
        .collect();
    let digits = near[0].len();
    let modulus = 10u64.pow(digits as u32);
    (0u64..)
        .map(|k| (271_828 + k * 7_919) % modulus)
        .map(|v| format!("{v:0digits$}"))
        .filter(|s| !near.contains(s))
        .take(n)
        .collect()
}

/// The three signing columns of a customer's row, NULL as `-`.
fn signing_columns(pg: &PostgresServer, c: &str) -> String {
    pg.psql(&format!(
        "SELECT coalesce(token_signing_suite, '-') || '|' || \
         coalesce(token_last_signature::text, '-') || '|' || \
         coalesce(enrollment_signing_suite, '-') \
         FROM otpguard_token_records WHERE customer_id = '{c}'"
    ))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn eur_to_iban(cents: u64) -> Transaction {
    Transaction::transfer(
        Amount {
            minor_units: cents,
            currency: Currency::new("EUR").unwrap(),
        },
        PayeeAccount::new("DE89370400440532013000").unwrap(),
    )
}

// ---------------------------------------------------------------------------
// 1. Round trip through the columns and another process's pool
// ---------------------------------------------------------------------------

/// The suite and the last signature (a time step, and for a suite with `C`
/// a counter) are written to their columns and read back by a fresh store
/// with its own pool exactly as the process that committed them holds
/// them; that process's replay is refused there too. An enrollment
/// provisioned with a suite keeps it, and the token registered from it is
/// bound with it even by a lifecycle configured with another suite.
#[test]
fn signing_suite_and_last_signature_round_trip_through_postgres() {
    with_server(async |pg| {
        let (clock, pool_a, lc) = signing_backend(pg).await;

        // Time step: bound at registration, nothing signed yet.
        let alice = customer("alice");
        let phone = Phone::new("SN-A", 1);
        register(&lc, &alice, &phone, clock.now()).await;
        assert_eq!(signing_columns(pg, "alice"), format!("{SIGNING}|-|-"));
        let fresh = load_fresh(pg, &alice).await;
        assert_eq!(
            (fresh.signing_suite(), fresh.last_signature()),
            (Some(signing_suite()), None)
        );

        clock.advance(STEP);
        let transfer = transfer_to("12345671", 50_000);
        let response = phone.signature(&signing_suite(), &transfer, None, clock.now());
        let proof = sign(&lc, &alice, &transfer, &response).await.unwrap();
        assert_eq!(proof.event(), EventKind::SignTransaction);
        assert_eq!(proof.transaction(), Some(transfer.digest()));
        assert_eq!(proof.claimed().value(), clock.now() / STEP);
        let in_process = lc.store().load(&alice).await.unwrap().unwrap();
        let fresh = load_fresh(pg, &alice).await;
        assert_eq!(in_process.last_signature(), Some(proof.claimed().value()));
        assert_eq!(
            (fresh.signing_suite(), fresh.last_signature()),
            (in_process.signing_suite(), in_process.last_signature())
        );
        assert_eq!(fresh.summary(), in_process.summary());
        assert_eq!(fresh.version(), proof.version());
        assert_eq!(
            signing_columns(pg, "alice"),
            format!("{SIGNING}|{}|-", proof.claimed().value())
        );
        // Another process, its own pool: the same response is a replay.
        let other = lifecycle(&pool(pg, 1).await, config(Some(SIGNING), 5), &clock);
        let claimed = proof.claimed().value();
        assert_replayed(
            sign(&other, &alice, &transfer, &response).await,
            claimed,
            claimed,
        );
        assert_eq!(load_fresh(pg, &alice).await.summary(), fresh.summary());
        // Another event's commit (a TOTP code) rewrites the row: the last
        // signature stays, and the response stays spent.
        clock.advance(STEP);
        let _totp = lc
            .verify_transaction(
                &alice,
                &principal(Actor::Customer),
                &phone.code(clock.now()),
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(
            signing_columns(pg, "alice"),
            format!("{SIGNING}|{}|-", proof.claimed().value())
        );
        let answer = sign(&other, &alice, &transfer, &response).await;
        assert!(
            matches!(answer, Err(LifecycleError::Replayed { .. })),
            "{answer:?}"
        );

        // Counter: the column holds the counter, not the time step.
        let counting = lifecycle(&pool_a, config(Some(COUNTER_SUITE), 5), &clock);
        let erin = customer("erin");
        let phone_e = Phone::new("SN-E", 5);
        register(&counting, &erin, &phone_e, clock.now()).await;
        let counter_suite = suite(COUNTER_SUITE);
        let r = phone_e.signature(&counter_suite, &transfer, Some(3), clock.now());
        let proof = sign(&counting, &erin, &transfer, &r).await.unwrap();
        assert_eq!(proof.claimed().value(), 3);
        assert_eq!(signing_columns(pg, "erin"), format!("{COUNTER_SUITE}|3|-"));
        let fresh = load_fresh(pg, &erin).await;
        assert_eq!(
            (fresh.signing_suite(), fresh.last_signature()),
            (Some(counter_suite), Some(3))
        );

        // A provisioned enrollment keeps the suite configured when it was
        // provisioned ...
        let carol = customer("carol");
        let uri = lc
            .provision(&carol, &principal(Actor::Customer), "carol", &ctx())
            .await
            .unwrap();
        assert_eq!(signing_columns(pg, "carol"), format!("-|-|{SIGNING}"));
        // ... and a lifecycle configured with another suite, in another
        // process, registers the token with it.
        let later = lifecycle(&pool(pg, 1).await, config(Some(OTHER_SUITE), 5), &clock);
        let phone_c = Phone::scan("SN-C", &uri);
        let applied = later
            .submit(
                &carol,
                &principal(Actor::Customer),
                Event::Register {
                    serial: phone_c.serial.clone(),
                    secret: NewSecret::Provisioned,
                    code: phone_c.code(clock.now()).as_str().into(),
                },
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(applied.to, State::Active);
        assert_eq!(signing_columns(pg, "carol"), format!("{SIGNING}|-|-"));
        assert_eq!(
            load_fresh(pg, &carol).await.signing_suite(),
            Some(signing_suite())
        );
        let r = phone_c.signature(&signing_suite(), &transfer, None, clock.now());
        let proof = sign(&later, &carol, &transfer, &r).await.unwrap();
        assert_eq!(proof.transaction(), Some(transfer.digest()));
        // A token given to that lifecycle directly takes its own suite.
        let dave = customer("dave");
        register(&later, &dave, &Phone::new("SN-D", 4), clock.now()).await;
        assert_eq!(signing_columns(pg, "dave"), format!("{OTHER_SUITE}|-|-"));
    });
}

// ---------------------------------------------------------------------------
// 2. The audit: the digest of signatures only, never the response
// ---------------------------------------------------------------------------

/// Every SignTransaction row (wrong, accepted, replayed, unsignable, not
/// permitted) holds the 32-byte digest of the transaction it presented;
/// every other row (registration, a TOTP code, an operator's suspension)
/// holds NULL; no response appears anywhere in the audit table's text.
#[test]
fn audit_rows_hold_the_digest_of_signatures_only_and_never_the_response() {
    with_server(async |pg| {
        let (clock, pool, lc) = signing_backend(pg).await;
        let web = principal(Actor::Customer);
        let alice = customer("alice");
        let phone = Phone::new("SN-A", 1);
        register(&lc, &alice, &phone, clock.now()).await;
        clock.advance(STEP);
        let _totp = lc
            .verify_transaction(&alice, &web, &phone.code(clock.now()), &ctx())
            .await
            .unwrap();

        let suite = signing_suite();
        let transfer = transfer_to("12345671", 50_000);
        let diverted = transfer_to("12345672", 50_000);
        let iban = eur_to_iban(100);
        let response = phone.signature(&suite, &transfer, None, clock.now());
        let wrong = wrong_responses(&phone, &suite, &transfer, clock.now(), 1).remove(0);
        let mut responses = vec![response.clone(), wrong.clone()];
        let mut expected: Vec<[u8; 32]> = Vec::new();

        // The genuine response for another payee: wrong, counted.
        let answer = sign(&lc, &alice, &diverted, &response).await;
        assert!(
            matches!(answer, Err(LifecycleError::WrongCode { failures: 1, .. })),
            "{answer:?}"
        );
        expected.push(diverted.digest());
        // A wrong response for the transfer.
        let answer = sign(&lc, &alice, &transfer, &wrong).await;
        assert!(
            matches!(answer, Err(LifecycleError::WrongCode { failures: 2, .. })),
            "{answer:?}"
        );
        expected.push(transfer.digest());
        // Accepted, then replayed.
        let proof = sign(&lc, &alice, &transfer, &response).await.unwrap();
        assert_eq!(proof.transaction(), Some(transfer.digest()));
        expected.push(transfer.digest());
        let answer = sign(&lc, &alice, &transfer, &response).await;
        assert!(
            matches!(answer, Err(LifecycleError::Replayed { .. })),
            "{answer:?}"
        );
        expected.push(transfer.digest());
        // A transaction the suite cannot carry (an IBAN, numeric question).
        let answer = sign(&lc, &alice, &iban, &response).await;
        assert!(
            matches!(
                answer,
                Err(LifecycleError::Unsignable(QuestionError::NumericPayee))
            ),
            "{answer:?}"
        );
        expected.push(iban.digest());
        // Suspended by an operator: not permitted, still with the digest.
        lc.submit(
            &alice,
            &principal(Actor::Operator),
            Event::Suspend {
                reason: SuspendReason::LostDevice,
            },
            &ctx(),
        )
        .await
        .unwrap();
        clock.advance(STEP);
        let late = transfer_to("12345673", 7);
        let late_response = phone.signature(&suite, &late, None, clock.now());
        responses.push(late_response.clone());
        let answer = sign(&lc, &alice, &late, &late_response).await;
        assert!(
            matches!(answer, Err(LifecycleError::NotPermitted { .. })),
            "{answer:?}"
        );
        expected.push(late.digest());

        let rows = audit_rows(&pool, &alice).await;
        let signed: Vec<&AuditRow> = rows
            .iter()
            .filter(|r| r.event == "SignTransaction")
            .collect();
        assert_eq!(signed.len(), expected.len(), "{rows:?}");
        for (row, digest) in signed.iter().zip(&expected) {
            assert_eq!(row.digest.as_deref(), Some(&digest[..]), "{row:?}");
        }
        assert_eq!(
            signed
                .iter()
                .map(|r| r.outcome.as_str())
                .collect::<Vec<_>>(),
            ["refused", "refused", "accepted", "refused", "refused", "refused"]
        );
        let others: Vec<&AuditRow> = rows
            .iter()
            .filter(|r| r.event != "SignTransaction")
            .collect();
        assert_eq!(
            others.iter().map(|r| r.event.as_str()).collect::<Vec<_>>(),
            ["Register", "VerifyTransaction", "Suspend(LostDevice)"]
        );
        assert!(others.iter().all(|r| r.digest.is_none()), "{others:?}");
        // The same, counted by the database over the whole table.
        assert_eq!(
            pg.psql(
                "SELECT count(*) FILTER (WHERE event = 'SignTransaction' \
                 AND octet_length(transaction_digest) = 32) || '|' || \
                 count(*) FILTER (WHERE event <> 'SignTransaction' \
                 AND transaction_digest IS NULL) || '|' || count(*) FROM otpguard_audit"
            ),
            format!(
                "{}|{}|{}",
                expected.len(),
                others.len(),
                expected.len() + others.len()
            )
        );

        // The whole table as text: the digests are there, no response is.
        let table = pg.psql("SELECT a::text FROM otpguard_audit a ORDER BY id");
        assert_eq!(table.lines().count(), rows.len());
        for digest in &expected {
            assert!(table.contains(&hex(digest)), "the digest column is dumped");
        }
        for r in &responses {
            assert!(
                !table.contains(r.as_str()),
                "response {r} in the audit: {table}"
            );
        }
    });
}

// ---------------------------------------------------------------------------
// 3. Races across two pools
// ---------------------------------------------------------------------------

/// Concurrent submissions per trial, alternating between the two backends.
const N: usize = 8;
/// Connections per backend's pool: one per request it carries.
const CONNECTIONS: u32 = (N / 2) as u32;

/// The pools of two backends of [`CONNECTIONS`] each on `pg`, the schema
/// up to date.
fn two_pools(rt: &tokio::runtime::Runtime, pg: &PostgresServer) -> (PgPool, PgPool) {
    rt.block_on(async {
        let a = pool(pg, CONNECTIONS).await;
        migrate(&a).await;
        (a, pool(pg, CONNECTIONS).await)
    })
}

/// Submits `responses[i]` for `transaction` through `a` (even `i`) or `b`
/// (odd), all released together: tokio tasks, or (`threads`) OS threads on
/// the blocking API inside the runtime's context.
fn race(
    rt: &tokio::runtime::Runtime,
    threads: bool,
    (a, b): (&Arc<Pg>, &Arc<Pg>),
    c: &CustomerId,
    transaction: &Transaction,
    responses: &[String],
) -> Vec<Answer> {
    assert_eq!(responses.len(), N);
    if threads {
        return race_threads(rt, a, b, N, |lc, i| {
            lc.blocking()
                .submit(
                    c,
                    &principal(Actor::Customer),
                    sign_event(transaction, &responses[i]),
                    &ctx(),
                )
                .map(|applied| applied.authorized.expect("a signature's proof"))
        });
    }
    rt.block_on(race_tasks(a, b, N, |lc, i| {
        let (c, transaction, response) = (c.clone(), transaction.clone(), responses[i].clone());
        async move { sign(&lc, &c, &transaction, &response).await }
    }))
}

/// One signature submitted N times at once through two backends, each with
/// its own pool: exactly one acceptance, every other answer a replay of
/// its step (as the existing PostgreSQL race tests, no `Contended`: 64
/// attempts are never exhausted by N requests), nothing counted, and the
/// audit holds exactly one accepted SignTransaction row among N, each with
/// the digest. Every fourth trial through OS threads.
#[test]
fn one_signature_is_accepted_once_across_two_pools() {
    const TRIALS: usize = 100;
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let (pool_a, pool_b) = two_pools(&rt, &pg);
    let a = lifecycle(&pool_a, config(Some(SIGNING), 5), &clock);
    let b = lifecycle(&pool_b, config(Some(SIGNING), 5), &clock);
    let suite = signing_suite();
    let started = Instant::now();
    let (mut accepted, mut replayed, mut through_threads) = (0, 0, 0);
    for trial in 0..TRIALS {
        let c = customer(&format!("c-{trial}"));
        let phone = Phone::new(&format!("SN-{trial}"), trial as u8);
        rt.block_on(register(&a, &c, &phone, clock.now()));
        clock.advance(STEP);
        let transfer = transfer_to("12345671", 100 + trial as u64);
        let response = phone.signature(&suite, &transfer, None, clock.now());
        let threads = trial % 4 == 3;
        through_threads += usize::from(threads);
        let answers = race(&rt, threads, (&a, &b), &c, &transfer, &vec![response; N]);

        let proofs: Vec<&Authorized> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
        assert_eq!(proofs.len(), 1, "trial {trial}: {answers:?}");
        let proof = proofs[0];
        assert_eq!(
            (
                proof.claimed().value(),
                proof.version(),
                proof.transaction()
            ),
            (clock.now() / STEP, 2, Some(transfer.digest())),
            "trial {trial}"
        );
        for e in answers.iter().filter_map(|a| a.as_ref().err()) {
            assert!(
                matches!(e, LifecycleError::Replayed { step, last_accepted }
                    if *step == proof.claimed().value() && *last_accepted == proof.claimed().value()),
                "trial {trial}: {e:?}"
            );
        }
        let (record, rows) = rt.block_on(async {
            (
                a.store().load(&c).await.unwrap().unwrap(),
                audit_rows(&pool_b, &c).await,
            )
        });
        assert_eq!(
            (record.failures(), record.version(), record.last_signature()),
            (0, 2, Some(proof.claimed().value())),
            "trial {trial}"
        );
        let signed: Vec<&AuditRow> = rows
            .iter()
            .filter(|r| r.event == "SignTransaction")
            .collect();
        assert_eq!(signed.len(), N, "trial {trial}: one row per answer");
        assert_eq!(
            signed.iter().filter(|r| r.outcome == "accepted").count(),
            1,
            "trial {trial}: {signed:?}"
        );
        assert!(signed
            .iter()
            .filter(|r| r.outcome == "refused")
            .all(|r| r.reason.starts_with("replay")));
        assert!(signed
            .iter()
            .all(|r| r.digest.as_deref() == Some(&transfer.digest()[..])));
        assert_eq!(rows.len(), N + 1, "trial {trial}: registration + N");
        assert!(rows[0].event == "Register" && rows[0].digest.is_none());
        accepted += proofs.len();
        replayed += N - proofs.len();
    }
    println!(
        "one signature x{N}, 2 pools x {CONNECTIONS}, {TRIALS} trials \
         ({through_threads} through threads): {accepted} accepted, {replayed} replayed, {:?}",
        started.elapsed()
    );
    assert_eq!((accepted, replayed), (TRIALS, TRIALS * (N - 1)));
}

/// N different wrong signatures at once through two backends, against
/// maxima below, at and above N: exactly min(N, max) counted (each count
/// once), the token locked by exactly the one that reached the maximum and
/// the rest refused as not permitted; the record keeps min(N, max)
/// failures; every SignTransaction row holds the digest, the System's
/// lock-out row none.
#[test]
fn wrong_signatures_race_to_exactly_the_lock_out_across_two_pools() {
    const TRIALS: usize = 60;
    const MAXIMA: [u32; 4] = [3, 5, N as u32, 12];
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let (pool_a, pool_b) = two_pools(&rt, &pg);
    let backends: Vec<(Arc<Pg>, Arc<Pg>)> = MAXIMA
        .iter()
        .map(|&max| {
            (
                lifecycle(&pool_a, config(Some(SIGNING), max), &clock),
                lifecycle(&pool_b, config(Some(SIGNING), max), &clock),
            )
        })
        .collect();
    let suite = signing_suite();
    let started = Instant::now();
    let (mut counted, mut locked_out, mut not_permitted) = (0, 0, 0);
    for trial in 0..TRIALS {
        let which = trial % MAXIMA.len();
        let max = MAXIMA[which];
        let (a, b) = &backends[which];
        let c = customer(&format!("w-{trial}"));
        let phone = Phone::new(&format!("SN-W{trial}"), trial as u8);
        rt.block_on(register(a, &c, &phone, clock.now()));
        clock.advance(STEP);
        let transfer = transfer_to("12345671", 100 + trial as u64);
        let wrong = wrong_responses(&phone, &suite, &transfer, clock.now(), N);
        let answers = race(&rt, trial % 4 == 3, (a, b), &c, &transfer, &wrong);

        let expected = (N as u32).min(max);
        let locks = N as u32 >= max;
        let what = format!("trial {trial} (max {max}): a wrong signature");
        let seen = lockout(&answers, &what);
        assert_eq!(
            seen.failures,
            (1..=expected).collect::<Vec<_>>(),
            "trial {trial} (max {max})"
        );
        assert_eq!(
            seen.locked_at,
            if locks { vec![max] } else { vec![] },
            "trial {trial} (max {max}): locked exactly by the count reaching the maximum"
        );
        assert_eq!(
            seen.not_permitted,
            N - expected as usize,
            "trial {trial} (max {max})"
        );
        let (record, rows) = rt.block_on(async {
            (
                a.store().load(&c).await.unwrap().unwrap(),
                audit_rows(&pool_b, &c).await,
            )
        });
        assert_eq!(record.failures(), expected, "trial {trial} (max {max})");
        assert_eq!(
            record.state(),
            if locks {
                State::Suspended(SuspendReason::TooManyFailures)
            } else {
                State::Active
            },
            "trial {trial} (max {max})"
        );
        assert_eq!(record.last_signature(), None, "trial {trial}");
        let signed: Vec<&AuditRow> = rows
            .iter()
            .filter(|r| r.event == "SignTransaction")
            .collect();
        assert_eq!(signed.len(), N, "trial {trial}: one row per answer");
        assert!(
            signed
                .iter()
                .all(|r| r.outcome == "refused"
                    && r.digest.as_deref() == Some(&transfer.digest()[..]))
        );
        let system: Vec<&AuditRow> = rows.iter().filter(|r| r.actor == "System").collect();
        assert_eq!(system.len(), usize::from(locks), "trial {trial}: {rows:?}");
        assert!(system
            .iter()
            .all(|r| r.event == "Suspend(TooManyFailures)" && r.digest.is_none()));
        counted += seen.failures.len();
        locked_out += seen.locked_at.len();
        not_permitted += seen.not_permitted;
    }
    println!(
        "{N} wrong signatures, maxima {MAXIMA:?}, 2 pools x {CONNECTIONS}, {TRIALS} trials: \
         {counted} counted, {locked_out} lock-outs, {not_permitted} not permitted, {:?}",
        started.elapsed()
    );
    let per_max = TRIALS / MAXIMA.len();
    let expected_counted: usize = MAXIMA
        .iter()
        .map(|&m| per_max * (N as u32).min(m) as usize)
        .sum();
    assert_eq!(counted, expected_counted);
    assert_eq!(
        locked_out,
        per_max * MAXIMA.iter().filter(|&&m| N as u32 >= m).count()
    );
}

// ---------------------------------------------------------------------------
// 4. Corrupt rows and the CHECK constraints of migration 0005
// ---------------------------------------------------------------------------

/// The row's text, to compare before and after a refused request.
fn row_text(pg: &PostgresServer, c: &str) -> String {
    pg.psql(&format!(
        "SELECT r::text FROM otpguard_token_records r WHERE customer_id = '{c}'"
    ))
}

/// A row whose signing suite was changed behind the lifecycle's back to
/// one it cannot sign with (no time step) or to garbage that the column's
/// CHECK lets through is refused as corrupt, for any event, and nothing of
/// the request is committed (the refusal is audited once, as a `Load` by
/// the System); put back, the row signs again. Likewise an enrollment's
/// suite. The CHECK constraints refuse what the columns must never hold.
#[test]
fn rows_with_a_suite_the_lifecycle_cannot_use_are_refused_as_corrupt() {
    with_server(async |pg| {
        let (clock, pool, lc) = signing_backend(pg).await;
        let web = principal(Actor::Customer);
        let suite = signing_suite();
        let transfer = transfer_to("12345671", 900);

        for (id, bad) in [
            ("alice", "OCRA-1:HOTP-SHA1-6:C-QN08"),
            ("bob", "OCRA-1:HOTP-garbage"),
        ] {
            let c = customer(id);
            let phone = Phone::new(&format!("SN-{id}"), id.len() as u8);
            register(&lc, &c, &phone, clock.now()).await;
            assert_eq!(
                pg.affected(&format!(
                    "UPDATE otpguard_token_records SET token_signing_suite = '{bad}' \
                     WHERE customer_id = '{id}'"
                )),
                1
            );
            clock.advance(STEP);
            let before = row_text(pg, id);
            let rows_before = audit_rows(&pool, &c).await.len();
            let response = phone.signature(&suite, &transfer, None, clock.now());
            let answer = sign(&lc, &c, &transfer, &response).await;
            match &answer {
                Err(LifecycleError::Corrupt(e)) => assert!(e.is_corrupt(), "{id}: {e}"),
                other => panic!("{id} with suite {bad}: {other:?}"),
            }
            // Any event: the record cannot be read at all.
            let totp = lc
                .verify_transaction(&c, &web, &phone.code(clock.now()), &ctx())
                .await;
            assert!(
                matches!(totp, Err(LifecycleError::Corrupt(_))),
                "{id}: {totp:?}"
            );
            let fresh = PostgresStore::new(pool.clone(), keys()).load(&c).await;
            assert!(
                matches!(&fresh, Err(e) if e.is_corrupt()),
                "{id}: {fresh:?}"
            );
            assert_eq!(row_text(pg, id), before, "{id}: nothing committed");
            let rows = audit_rows(&pool, &c).await;
            assert_eq!(rows.len(), rows_before + 1, "{id}: {rows:?}");
            let last = rows.last().unwrap();
            assert_corrupt_load(last);
            assert!(last.digest.is_none());

            // Put back: the same signature is accepted, never having been
            // counted or marked.
            pg.psql(&format!(
                "UPDATE otpguard_token_records SET token_signing_suite = '{SIGNING}' \
                 WHERE customer_id = '{id}'"
            ));
            let proof = sign(&lc, &c, &transfer, &response).await.unwrap();
            assert_eq!(proof.version(), 2, "{id}");
        }

        // An enrollment whose suite cannot sign: its registration is refused.
        let carol = customer("carol");
        let uri = lc.provision(&carol, &web, "carol", &ctx()).await.unwrap();
        pg.psql(
            "UPDATE otpguard_token_records SET enrollment_signing_suite = \
             'OCRA-1:HOTP-SHA1-6:C-QN08' WHERE customer_id = 'carol'",
        );
        let before = row_text(pg, "carol");
        let phone_c = Phone::scan("SN-C", &uri);
        let answer = lc
            .submit(
                &carol,
                &web,
                Event::Register {
                    serial: phone_c.serial.clone(),
                    secret: NewSecret::Provisioned,
                    code: phone_c.code(clock.now()).as_str().into(),
                },
                &ctx(),
            )
            .await;
        assert!(
            matches!(answer, Err(LifecycleError::Corrupt(_))),
            "{answer:?}"
        );
        assert_eq!(row_text(pg, "carol"), before, "nothing committed");

        // The CHECK constraints of 0005.
        for (sql, constraint) in [
            (
                "UPDATE otpguard_token_records SET token_signing_suite = 'HOTP-SHA1-6' \
                 WHERE customer_id = 'alice'",
                "otpguard_token_records_token_signing_suite_check",
            ),
            (
                "UPDATE otpguard_token_records SET token_last_signature = -1 \
                 WHERE customer_id = 'alice'",
                "otpguard_token_records_token_last_signature_check",
            ),
            (
                // Carol has an enrollment and no token.
                &format!(
                    "UPDATE otpguard_token_records SET token_signing_suite = '{SIGNING}' \
                     WHERE customer_id = 'carol'"
                ),
                "otpguard_signing_with_token",
            ),
            (
                // Alice has a token and no enrollment.
                &format!(
                    "UPDATE otpguard_token_records SET enrollment_signing_suite = '{SIGNING}' \
                     WHERE customer_id = 'alice'"
                ),
                "otpguard_signing_with_enrollment",
            ),
        ] {
            let e = pg.psql_error(sql);
            assert!(
                e.contains("violates check constraint") && e.contains(constraint),
                "{sql}: {e}"
            );
        }
        let audit_insert = |event: &str, digest: &str| {
            format!(
                "INSERT INTO otpguard_audit (customer_id, version, seq, at, actor, event, \
                 from_state, to_state, outcome, reason, reason_code, transaction_digest, link, \
                 chain) VALUES ('forged', 1, 0, 0, 'System', '{event}', 'Active', 'Active', \
                 'refused', 'forged', 'forged', {digest}, (SELECT coalesce(max(link), 0) + 1 FROM otpguard_audit \
                 WHERE customer_id = 'forged'), decode(repeat('02', 37), 'hex'))"
            )
        };
        let of_length = |n: usize| format!("'\\x{}'::bytea", "ab".repeat(n));
        for (sql, constraint) in [
            (
                audit_insert("SignTransaction", &of_length(31)),
                "otpguard_audit_transaction_digest_check",
            ),
            (
                audit_insert("SignTransaction", &of_length(33)),
                "otpguard_audit_transaction_digest_check",
            ),
            (
                audit_insert("VerifyTransaction", &of_length(32)),
                "otpguard_digest_of_a_signature",
            ),
            (
                audit_insert("Load", &of_length(32)),
                "otpguard_digest_of_a_signature",
            ),
        ] {
            let e = pg.psql_error(&sql);
            assert!(
                e.contains("violates check constraint") && e.contains(constraint),
                "{sql}: {e}"
            );
        }
        // The same row with a 32-byte digest on a SignTransaction event, or
        // with none on another event, is one the table accepts.
        assert_eq!(
            pg.affected(&audit_insert("SignTransaction", &of_length(32))),
            1
        );
        assert_eq!(pg.affected(&audit_insert("VerifyTransaction", "NULL")), 1);
    });
}

// ---------------------------------------------------------------------------
// 5. A database migrated up to schema 4, with a row written then
// ---------------------------------------------------------------------------

/// Migration `file`, as shipped.
fn migration(file: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations/postgres")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The faithful path: the `postgres` database is brought to schema 4 by
/// hand (the SQL of 0001-0004 and their ledger rows, as
/// `src/lifecycle/postgres/migrate.rs` records them; the ledger's
/// `CREATE TABLE` is private there, so it is repeated here), and a row
/// written at schema 4 is put in it: the schema-4 columns of a row that a
/// store wrote in a scratch database (0005 changed neither those columns
/// nor how secrets are sealed). Then a current `PostgresStore` migrates it
/// (0005 only): the row loads as a token without a suite, whose
/// SignTransaction is `NoSigningSuite`, not counted, while its TOTP codes
/// still verify; a token registered afterwards is bound with the suite.
#[test]
fn a_row_written_at_schema_4_migrates_to_a_token_that_cannot_sign() {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let web = principal(Actor::Customer);
        let alice = customer("alice");
        let phone = Phone::new("SN-A", 1);

        // Schema 4, by hand.
        let pool = pool(pg, 2).await;
        sqlx::raw_sql(
            "CREATE TABLE otpguard_schema_migrations (
                 version    integer     PRIMARY KEY,
                 name       text        NOT NULL,
                 checksum   bytea       NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now())",
        )
        .execute(&pool)
        .await
        .unwrap();
        for (version, name, file) in [
            (1, "token_records", "0001_token_records.sql"),
            (2, "audit", "0002_audit.sql"),
            (3, "audit_drift", "0003_audit_drift.sql"),
            (4, "throttle_and_notices", "0004_throttle_and_notices.sql"),
        ] {
            let sql = migration(file);
            sqlx::raw_sql(&sql).execute(&pool).await.unwrap();
            sqlx::query(
                "INSERT INTO otpguard_schema_migrations (version, name, checksum) \
                 VALUES ($1, $2, sha256(convert_to($3, 'UTF8')))",
            )
            .bind(version)
            .bind(name)
            .bind(&sql)
            .execute(&pool)
            .await
            .unwrap();
        }
        assert_eq!(
            pg.psql(
                "SELECT count(*) FROM information_schema.columns WHERE column_name IN \
                 ('token_signing_suite', 'token_last_signature', 'enrollment_signing_suite', \
                 'transaction_digest')"
            ),
            "0",
            "schema 4 has no signing column"
        );

        // The row: registered and used in a scratch database by a store
        // without a suite, copied column by column (the schema-4 ones) with
        // its audit rows.
        pg.psql("CREATE DATABASE scratch");
        let scratch = pool_on(pg, "scratch", 1, ACQUIRE_TIMEOUT).await;
        migrate(&scratch).await;
        let old = lifecycle(&scratch, config(None, 5), &clock);
        register(&old, &alice, &phone, clock.now()).await;
        clock.advance(STEP);
        let _totp = old
            .verify_transaction(&alice, &web, &phone.code(clock.now()), &ctx())
            .await
            .unwrap();
        let written = old.store().load(&alice).await.unwrap().unwrap();
        let record: String = sqlx::query_scalar(
            "SELECT row_to_json(r)::text FROM otpguard_token_records r WHERE customer_id = 'alice'",
        )
        .fetch_one(&scratch)
        .await
        .unwrap();
        let audit: Vec<String> = sqlx::query_scalar(
            "SELECT row_to_json(a)::text FROM otpguard_audit a \
             WHERE customer_id = 'alice' ORDER BY id",
        )
        .fetch_all(&scratch)
        .await
        .unwrap();
        scratch.close().await;
        sqlx::query(
            "INSERT INTO otpguard_token_records \
             SELECT * FROM json_populate_record(NULL::otpguard_token_records, $1::json)",
        )
        .bind(&record)
        .execute(&pool)
        .await
        .unwrap();
        let audit_columns = "customer_id, version, seq, at, actor, principal, source, \
             request_id, token_id, token_serial, new_serial, event, from_state, to_state, \
             outcome, reason, drift_from, drift_to, notice";
        for row in &audit {
            sqlx::query(&format!(
                "INSERT INTO otpguard_audit ({audit_columns}) SELECT {audit_columns} \
                 FROM json_populate_record(NULL::otpguard_audit, $1::json)"
            ))
            .bind(row)
            .execute(&pool)
            .await
            .unwrap();
        }
        assert_eq!(audit.len(), 2);

        // A current process starts: migrate applies 0005 to 0011.
        let store = PostgresStore::new(pool.clone(), keys());
        store.migrate().await.unwrap();
        assert_eq!(
            pg.psql(
                "SELECT string_agg(version::text, ',' ORDER BY version) \
                 FROM otpguard_schema_migrations"
            ),
            "1,2,3,4,5,6,7,8,9,10,11,12,13,14"
        );
        // The rows written then read back typed, first (their writer reads
        // as 0), their reasons without a code.
        let old = otpguard::lifecycle::audit::AuditReader::read_audit(
            &store,
            &otpguard::lifecycle::audit::AuditQuery::all(),
        )
        .await
        .unwrap();
        assert_eq!(old.entries.len(), 2);
        assert!(old
            .entries
            .iter()
            .all(|e| e.cursor.writer() == 0 && e.reason_code() == Some("unrecorded")));
        // The row has no tag: it is tagged, once, as the database holds it.
        let tagged = store.tag_untagged(10).await.unwrap();
        assert_eq!((tagged.resealed, tagged.corrupt), (1, 0));
        assert_eq!(store.tag_untagged(10).await.unwrap().resealed, 0);
        assert_eq!(signing_columns(pg, "alice"), "-|-|-");
        // The two rows written then, and the System's audit of the tagging,
        // the first linked in the chain.
        assert_eq!(
            pg.psql("SELECT count(*) FROM otpguard_audit WHERE transaction_digest IS NULL"),
            "3"
        );
        assert_eq!(
            pg.psql(
                "SELECT event || '|' || actor || '|' || link FROM otpguard_audit \
                 WHERE link IS NOT NULL"
            ),
            "Reseal|System|1"
        );
        let loaded = store.load(&alice).await.unwrap().unwrap();
        // A row written before drift estimates keeps none: one is made from
        // its last step and drift (within one step of that drift).
        let estimate = loaded.drift_estimate().unwrap();
        assert_eq!((estimate.last().low(), estimate.last().high()), (-30, 30));
        let mut expected = written.summary();
        expected.drift_estimate = Some(estimate);
        assert_eq!(loaded.summary(), expected);
        assert_eq!(
            (loaded.signing_suite(), loaded.last_signature()),
            (None, None)
        );

        // The new deployment signs with a suite: this token cannot.
        let lc = lifecycle(&pool, config(Some(SIGNING), 5), &clock);
        let transfer = transfer_to("12345671", 10);
        let response = phone.signature(&signing_suite(), &transfer, None, clock.now());
        let before = row_text(pg, "alice");
        let answer = sign(&lc, &alice, &transfer, &response).await;
        assert!(
            matches!(answer, Err(LifecycleError::NoSigningSuite)),
            "{answer:?}"
        );
        assert_eq!(
            row_text(pg, "alice"),
            before,
            "not counted, nothing written"
        );
        let after = store.load(&alice).await.unwrap().unwrap();
        assert_eq!((after.failures(), after.version()), (0, loaded.version()));
        let rows = audit_rows(&pool, &alice).await;
        let last = rows.last().unwrap();
        assert_eq!(
            (last.event.as_str(), last.outcome.as_str()),
            ("SignTransaction", "refused"),
            "{rows:?}"
        );
        assert_eq!(last.digest.as_deref(), Some(&transfer.digest()[..]));
        // Its TOTP codes still verify.
        clock.advance(STEP);
        let _totp = lc
            .verify_transaction(&alice, &web, &phone.code(clock.now()), &ctx())
            .await
            .unwrap();
        // A token registered now is bound with the suite, and signs.
        let bob = customer("bob");
        let phone_b = Phone::new("SN-B", 2);
        register(&lc, &bob, &phone_b, clock.now()).await;
        assert_eq!(signing_columns(pg, "bob"), format!("{SIGNING}|-|-"));
        let r = phone_b.signature(&signing_suite(), &transfer, None, clock.now());
        let proof = sign(&lc, &bob, &transfer, &r).await.unwrap();
        assert_eq!(proof.transaction(), Some(transfer.digest()));
    });
}

/// Single use per (time step, question) through PostgreSQL: two payees
/// signed in one step are kept in the row, and another process refuses
/// either again while it signs a third in the same step; a row whose kept
/// questions are not whole digests cannot be written.
#[test]
fn questions_answered_in_one_step_round_trip_through_postgres() {
    with_server(async |pg| {
        let (clock, _pool, lc) = signing_backend(pg).await;
        let alice = customer("alice");
        let phone = Phone::new("SN-1", 1);
        register(&lc, &alice, &phone, clock.now()).await;
        clock.advance(30);
        let now = clock.now();
        let suite = signing_suite();
        let payees = ["12345671", "99999991", "12345673"].map(|p| transfer_to(p, 10));
        let responses = payees
            .iter()
            .map(|t| phone.signature(&suite, t, None, now))
            .collect::<Vec<_>>();
        for i in 0..2 {
            let proof = sign(&lc, &alice, &payees[i], &responses[i]).await.unwrap();
            assert_eq!(proof.transaction(), Some(payees[i].digest()));
        }
        assert_eq!(load_fresh(pg, &alice).await.signed_in_last_step().len(), 2);
        assert_eq!(
            pg.psql("SELECT octet_length(token_signed_in_step) FROM otpguard_token_records"),
            "64"
        );

        // Another process, on a pool of its own.
        let other = migrated(&pool(pg, 1).await, config(Some(SIGNING), 5), &clock).await;
        for i in 0..2 {
            assert!(matches!(
                sign(&other, &alice, &payees[i], &responses[i]).await,
                Err(LifecycleError::Replayed { .. })
            ));
        }
        let proof = sign(&other, &alice, &payees[2], &responses[2])
            .await
            .unwrap();
        assert_eq!(proof.transaction(), Some(payees[2].digest()));
        let record = load_fresh(pg, &alice).await;
        assert_eq!(record.signed_in_last_step().len(), 3);
        assert_eq!(record.failures(), 0);

        let e = pg
            .psql_error("UPDATE otpguard_token_records SET token_signed_in_step = '\\x00'::bytea");
        assert!(e.contains("check constraint"), "{e}");
    });
}

/// A signing token's row changed outside the library, the way an attacker
/// would: its last signature lowered (to sign the same step again) or its
/// suite dropped (to escape the suite's rules). The record's tag refuses
/// both: the same signature again, and a fresh TOTP code, are `Corrupt`,
/// and nothing is accepted.
#[test]
fn a_signing_token_changed_without_the_keys_is_refused() {
    with_server(async |pg| {
        let (clock, _pool, lc) = signing_backend(pg).await;
        let tampers = [
            (
                "lower the last signature",
                "token_last_signature = token_last_signature - 1",
            ),
            (
                "drop the suite",
                "token_signing_suite = NULL, token_last_signature = NULL, \
                 token_signed_in_step = NULL",
            ),
        ];
        for (n, (what, set)) in tampers.into_iter().enumerate() {
            let c = customer(&format!("signer-{n}"));
            let phone = Phone::new(&format!("SN-S{n}"), 40 + n as u8);
            register(&lc, &c, &phone, clock.now()).await;
            clock.advance(STEP);
            let transfer = transfer_to("12345671", 700 + n as u64);
            let response = phone.signature(&signing_suite(), &transfer, None, clock.now());
            let proof = sign(&lc, &c, &transfer, &response).await.unwrap();
            assert!(proof.version() > 0);
            let changed = pg.affected(&format!(
                "UPDATE otpguard_token_records SET {set} WHERE customer_id = '{c}'"
            ));
            assert_eq!(changed, 1, "{what}");
            let again = sign(&lc, &c, &transfer, &response).await;
            assert!(
                matches!(again, Err(LifecycleError::Corrupt(_))),
                "{what}: {again:?}"
            );
            clock.advance(STEP);
            let totp = lc
                .verify_transaction(
                    &c,
                    &principal(Actor::Customer),
                    &phone.code(clock.now()),
                    &ctx(),
                )
                .await;
            assert!(
                matches!(totp, Err(LifecycleError::Corrupt(_))),
                "{what}: {totp:?}"
            );
            let rows = audit_rows(lc.store().pool(), &c).await;
            assert_eq!(
                rows.iter().filter(|r| r.outcome == "accepted").count(),
                2,
                "{what}: only the registration and the first signature: {rows:?}"
            );
        }
    });
}
