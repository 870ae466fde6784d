//! The lifecycle on `PostgresStore`, against a real PostgreSQL server that
//! each test starts for itself (`tests/support/postgres_server.rs`): the
//! schema and its migrations, the append-only audit table, the public
//! store contract suite (`otpguard::testing::store_contract`: commits,
//! records, serials, and the atomic-commit properties under concurrency
//! across two pools, as two backend processes), faults (the server stopped mid-request,
//! a conflict storm, a sealed secret moved to another row), re-sealing
//! after a key rotation, and a dump of the database that holds no secret.
//!
//! Run with `--nocapture` to see the totals of each property.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::panic)]

mod store_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use otpguard::lifecycle::postgres::{BookingError, PostgresStore, Resealed, SCHEMA_VERSION};
use otpguard::lifecycle::store::{Commit, CommitOutcome, Loaded, TokenRecord, TokenStore};
use otpguard::lifecycle::{
    Authorized, CustomerId, Event, Lifecycle, LifecycleConfig, LifecycleError, ReissueReason,
    State, SuspendReason,
};
use otpguard::seal::{KeyId, Keyring};
use otpguard::StoreError;
use otpguard::{Clock, FixedClock};
use sqlx::postgres::{PgPool, PgPoolOptions};
use store_support::{ctx, customer, operator, web, Phone, START, STEP};
use support::leaks::{contains, encodings};
use support::pg_lifecycle::{
    assert_corrupt_load, audit_rows, keys, lifecycle, migrate, migrated, pool_on, register,
    runtime, with_server, Pg,
};
use support::postgres_server::PostgresServer;

async fn pool(pg: &PostgresServer, connections: u32) -> PgPool {
    pool_on(pg, "postgres", connections, Duration::from_secs(5)).await
}

/// A backend process: its own pool of `connections`, the shared clock.
async fn backend(
    pg: &PostgresServer,
    connections: u32,
    config: LifecycleConfig,
    clock: &Arc<FixedClock>,
) -> Arc<Pg> {
    migrated(&pool(pg, connections).await, config, clock).await
}

async fn verify(lc: &Pg, c: &CustomerId, code: &str) -> Result<Authorized, LifecycleError> {
    lc.verify_transaction(c, &web(), code, &ctx()).await
}

// ---------------------------------------------------------------------------
// Schema, migrations, append-only audit, serials
// ---------------------------------------------------------------------------

#[test]
fn schema_flow_and_guards() {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend(pg, 4, LifecycleConfig::default(), &clock).await;
        let store = lc.store();
        // Migrating again, and from two processes at once, changes nothing.
        let other = PostgresStore::new(pool(pg, 2).await, keys());
        let (a, b) = tokio::join!(store.migrate(), other.migrate());
        a.unwrap();
        b.unwrap();
        let ledger = pg.psql("SELECT string_agg(version::text, ',' ORDER BY version) FROM otpguard_schema_migrations");
        assert_eq!(ledger, "1,2,3,4,5,6,7,8,9,10,11,12,13,14");
        assert_eq!(SCHEMA_VERSION, 14);

        // The bank's journey: register, pay, replay refused, wrong code
        // counted.
        let alice = customer("alice");
        let phone = Phone::new("SN-A", 1);
        register(&lc, &alice, phone.register(clock.now()))
            .await
            .unwrap();
        clock.advance(STEP);
        let code = phone.code(clock.now());
        let proof = verify(&lc, &alice, &code).await.unwrap();
        assert_eq!(proof.version(), 2);
        let replay = verify(&lc, &alice, &code).await;
        assert!(
            matches!(replay, Err(LifecycleError::Replayed { .. })),
            "{replay:?}"
        );
        let wrong = verify(&lc, &alice, &phone.wrong_code(clock.now(), 0)).await;
        assert!(
            matches!(wrong, Err(LifecycleError::WrongCode { failures: 1, .. })),
            "{wrong:?}"
        );
        let record = store.load(&alice).await.unwrap().unwrap();
        assert_eq!(
            (record.version(), record.failures(), record.state()),
            (3, 1, State::Active)
        );
        let rows = audit_rows(store.pool(), &alice).await;
        let outcomes: Vec<(i64, &str, &str)> = rows
            .iter()
            .map(|r| (r.version, r.outcome.as_str(), r.event.as_str()))
            .collect();
        assert_eq!(
            outcomes,
            [
                (1, "accepted", "Register"),
                (2, "accepted", "VerifyTransaction"),
                (2, "refused", "VerifyTransaction"),
                (3, "refused", "VerifyTransaction"),
            ]
        );
        assert!(rows[2].reason.starts_with("replay"), "{}", rows[2].reason);

        // The audit table is append-only.
        for sql in [
            "UPDATE otpguard_audit SET outcome = 'accepted'",
            "DELETE FROM otpguard_audit",
            "TRUNCATE otpguard_audit",
        ] {
            let e = pg.psql_error(sql);
            assert!(e.contains("append-only"), "{sql}: {e}");
        }
        assert_eq!(audit_rows(store.pool(), &alice).await.len(), 4);

        // The ledger refuses a schema newer than the library, and an
        // applied migration that differs from the shipped one.
        pg.psql("INSERT INTO otpguard_schema_migrations (version, name, checksum) VALUES (99, 'future', '\\x00')");
        let newer = store.migrate().await.unwrap_err().to_string();
        assert!(newer.contains("newer than this library"), "{newer}");
        pg.psql("DELETE FROM otpguard_schema_migrations WHERE version = 99; UPDATE otpguard_schema_migrations SET checksum = '\\x00' WHERE version = 4");
        let edited = store.migrate().await.unwrap_err().to_string();
        assert!(edited.contains("differs"), "{edited}");
    });
}

// ---------------------------------------------------------------------------
// The public store contract suite: commits, records, serials, and 16
// requests at once through two backends of 8 connections
// ---------------------------------------------------------------------------

/// The suite's checks on `PostgresStore` (they need the `testing` feature).
#[cfg(feature = "testing")]
mod contract {
    use otpguard::lifecycle::postgres::PostgresStore;
    use otpguard::testing::store_contract::{self, Contract, Executor, Totals};

    use super::pool;
    use super::store_support::executors::{Tasks, Threads};
    use super::support::pg_lifecycle::keys;
    use super::support::postgres_server::PostgresServer;

    /// Connections per backend's pool.
    const CONNECTIONS: u32 = 8;
    /// Concurrent requests per trial, half through each backend.
    const N: usize = 16;
    /// Trials per property (with tasks; a quarter with threads).
    const TRIALS: usize = 200;

    /// A backend process: a store on a pool of its own.
    async fn backend(pg: &PostgresServer) -> PostgresStore {
        PostgresStore::new(pool(pg, CONNECTIONS).await, keys())
    }

    /// A new server with the schema.
    fn migrated(executor: &impl Executor) -> PostgresServer {
        let pg = PostgresServer::start();
        executor.block_on(async { backend(&pg).await.migrate().await.unwrap() });
        pg
    }

    #[test]
    fn commits_records_and_serials() {
        let executor = Threads::new();
        let pg = migrated(&executor);
        let backends = || backend(&pg);
        store_contract::commits(&executor, backends)
            .and_then(|()| store_contract::records_round_trip(&executor, backends))
            .and_then(|()| store_contract::serials_belong_to_their_customer(&executor, backends))
            .unwrap_or_else(|violation| panic!("{violation}"));
    }

    #[derive(Clone, Copy, Debug)]
    enum Property {
        OneCode,
        Genuine,
        Lockout,
    }

    /// `property` over `trials` fresh customers on a new server, racing
    /// through `executor`.
    fn race(property: Property, executor: &impl Executor, trials: usize) -> Totals {
        let pg = migrated(executor);
        let backends = || backend(&pg);
        let contract = Contract::new().trials(trials).racers(N);
        let totals = match property {
            Property::OneCode => store_contract::one_code_many_times(&contract, executor, backends),
            Property::Genuine => {
                store_contract::genuine_code_racing_wrong_codes(&contract, executor, backends)
            }
            Property::Lockout => {
                store_contract::wrong_codes_against_the_lockout(&contract, executor, backends)
            }
        }
        .unwrap_or_else(|violation| panic!("{violation}"));
        println!("{property:?}, 2 pools x {CONNECTIONS}: {totals}");
        totals
    }

    #[test]
    fn one_code_sixteen_times_across_two_pools() {
        let t = race(Property::OneCode, &Tasks::new(), TRIALS);
        assert_eq!((t.accepted, t.replayed), (TRIALS, TRIALS * (N - 1)));
        let t = race(Property::OneCode, &Threads::new(), TRIALS / 4);
        assert_eq!(t.accepted, TRIALS / 4);
    }

    #[test]
    fn genuine_code_racing_wrong_codes_across_two_pools() {
        let t = race(Property::Genuine, &Tasks::new(), TRIALS);
        assert_eq!((t.accepted, t.counted), (TRIALS, TRIALS * (N - 1)));
        let t = race(Property::Genuine, &Threads::new(), TRIALS / 4);
        assert_eq!(t.accepted, TRIALS / 4);
    }

    #[test]
    fn wrong_codes_against_the_lockout_across_two_pools() {
        let t = race(Property::Lockout, &Tasks::new(), TRIALS);
        assert_eq!((t.counted, t.locked_out), (TRIALS * 5, TRIALS));
        let t = race(Property::Lockout, &Threads::new(), TRIALS / 4);
        assert_eq!(t.locked_out, TRIALS / 4);
    }
}

// ---------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------

/// The server stops while a request waits on its commit: the request gets a
/// store error, and after a restart nothing of it is there; the same code
/// is then accepted. A server that cannot be reached: a store error.
#[test]
fn server_stopped_mid_request() {
    let mut pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let lc = rt.block_on(backend(&pg, 2, LifecycleConfig::default(), &clock));
    let alice = customer("alice");
    let phone = Phone::new("SN-A", 7);
    rt.block_on(register(&lc, &alice, phone.register(clock.now())))
        .unwrap();
    clock.advance(STEP);

    for code in [phone.wrong_code(clock.now(), 0), phone.code(clock.now())] {
        // Another session holds the row: the request loads, decides and
        // waits in its commit.
        let blocker = rt.block_on(async {
            let mut tx = lc.store().pool().begin().await.unwrap();
            sqlx::query(
                "SELECT 1 FROM otpguard_token_records WHERE customer_id = 'alice' FOR UPDATE",
            )
            .execute(&mut *tx)
            .await
            .unwrap();
            tx
        });
        let request = {
            let (lc, alice, code) = (Arc::clone(&lc), alice.clone(), code.clone());
            rt.spawn(async move { verify(&lc, &alice, &code).await })
        };
        let waiting =
            || pg.psql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'");
        while waiting() != "1" {
            std::thread::sleep(Duration::from_millis(10));
        }
        // Immediate shutdown: every session ends at once, none commits on
        // the way out (a fast shutdown may let the waiting commit through
        // once the other session's lock goes).
        // (The test server commits asynchronously: a checkpoint first makes
        // what was committed before survive the crash.)
        pg.psql("CHECKPOINT");
        pg.stop_immediately();
        let answer = rt.block_on(request).unwrap();
        rt.block_on(async move { drop(blocker) });
        assert!(
            matches!(answer, Err(LifecycleError::Store(_))),
            "{answer:?}"
        );
        pg.restart();
        let record = rt.block_on(lc.store().load(&alice)).unwrap().unwrap();
        assert_eq!(
            (record.version(), record.failures()),
            (1, 0),
            "nothing counted"
        );
        assert_eq!(rt.block_on(audit_rows(lc.store().pool(), &alice)).len(), 1);
    }
    let code = phone.code(clock.now());
    let _proof = rt.block_on(verify(&lc, &alice, &code)).unwrap();

    // Nothing listens: a store error, not a hang.
    let port = pg.port();
    drop(pg);
    let unreachable = rt.block_on(async {
        let pool = PgPoolOptions::new()
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy(&format!("postgres://postgres@127.0.0.1:{port}/postgres"))
            .unwrap();
        let lc = lifecycle(&pool, LifecycleConfig::default(), &clock);
        verify(&lc, &alice, "123456").await
    });
    assert!(
        matches!(unreachable, Err(LifecycleError::Store(_))),
        "{unreachable:?}"
    );
}

/// Every commit loses its race (a trigger skips every update of the row, as
/// a writer that always gets there first would): bounded retries, then
/// `Contended`, nothing counted or audited.
#[test]
fn conflict_storm_ends_in_contended() {
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let config = LifecycleConfig::builder().max_attempts(4).build().unwrap();
    let lc = rt.block_on(backend(&pg, 2, config, &clock));
    let alice = customer("alice");
    let phone = Phone::new("SN-A", 8);
    rt.block_on(register(&lc, &alice, phone.register(clock.now())))
        .unwrap();
    clock.advance(STEP);
    pg.psql(
        "CREATE TABLE attempts (n int);
         CREATE FUNCTION lose_every_race() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN INSERT INTO attempts VALUES (1); RETURN NULL; END $$;
         CREATE TRIGGER storm BEFORE UPDATE ON otpguard_token_records
             FOR EACH ROW EXECUTE FUNCTION lose_every_race();",
    );
    for code in [phone.code(clock.now()), phone.wrong_code(clock.now(), 1)] {
        let answer = rt.block_on(verify(&lc, &alice, &code));
        assert!(
            matches!(answer, Err(LifecycleError::Contended { attempts: 4 })),
            "{answer:?}"
        );
    }
    assert_eq!(
        pg.psql("SELECT count(*) FROM attempts"),
        "8",
        "4 attempts per request"
    );
    assert_eq!(rt.block_on(audit_rows(lc.store().pool(), &alice)).len(), 1);
    pg.psql("DROP TRIGGER storm ON otpguard_token_records");
    let record = rt.block_on(lc.store().load(&alice)).unwrap().unwrap();
    assert_eq!((record.version(), record.failures()), (1, 0));
    let _proof = rt
        .block_on(verify(&lc, &alice, &phone.code(clock.now())))
        .unwrap();
}

/// A sealed secret copied into another customer's row does not open there:
/// the lifecycle refuses the customer as corrupt, and the refusal is in the
/// audit table.
#[test]
fn moved_secret_is_refused_as_corrupt_and_audited() {
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let lc = rt.block_on(backend(&pg, 2, LifecycleConfig::default(), &clock));
    let (alice, bob) = (customer("alice"), customer("bob"));
    let (pa, pb) = (Phone::new("SN-A", 9), Phone::new("SN-B", 10));
    rt.block_on(register(&lc, &alice, pa.register(clock.now())))
        .unwrap();
    rt.block_on(register(&lc, &bob, pb.register(clock.now())))
        .unwrap();
    clock.advance(STEP);
    assert_eq!(
        pg.affected(
            "UPDATE otpguard_token_records SET token_secret = \
             (SELECT token_secret FROM otpguard_token_records WHERE customer_id = 'alice') \
             WHERE customer_id = 'bob'"
        ),
        1
    );
    // Even alice's genuine code, sent as bob, is refused.
    let answer = rt.block_on(verify(&lc, &bob, &pa.code(clock.now())));
    assert!(
        matches!(answer, Err(LifecycleError::Corrupt(_))),
        "{answer:?}"
    );
    let rows = rt.block_on(audit_rows(lc.store().pool(), &bob));
    assert_corrupt_load(rows.last().unwrap());
    // Alice is unaffected.
    let _proof = rt
        .block_on(verify(&lc, &alice, &pa.code(clock.now())))
        .unwrap();
}

/// A request takes one connection from the pool for its load and its
/// commit (with sqlx each checkout and return costs a round trip), for
/// an acceptance and a refusal alike; and a pool of one connection serves
/// the rare paths too, which read and write through the pool again (a row
/// refused as corrupt and audited, then loaded behind that refusal): they
/// give the load's connection back first, or they would wait for it until
/// the pool's time-out and answer a store error.
#[test]
fn a_request_takes_one_connection_and_a_pool_of_one_serves_every_path() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let returned = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&returned);
    let pool = rt
        .block_on(
            PgPoolOptions::new()
                .max_connections(1)
                .acquire_timeout(Duration::from_secs(5))
                .after_release(move |_, _| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    Box::pin(async { Ok(true) })
                })
                .connect(&pg.url()),
        )
        .unwrap();
    let lc = rt.block_on(migrated(&pool, LifecycleConfig::default(), &clock));
    let (alice, bob) = (customer("alice"), customer("bob"));
    let (pa, pb) = (Phone::new("SN-A", 9), Phone::new("SN-B", 10));
    // Checkouts returned by one request (a connection goes back in a task
    // of sqlx's own: waited for, before and after).
    let settle = || {
        for _ in 0..2500 {
            if pool.num_idle() == 1 {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        panic!("the connection never went back to the pool");
    };
    let checkouts = |request: &dyn Fn()| {
        settle();
        let before = returned.load(Ordering::SeqCst);
        request();
        settle();
        returned.load(Ordering::SeqCst) - before
    };
    let registered = checkouts(&|| {
        rt.block_on(register(&lc, &alice, pa.register(clock.now())))
            .unwrap();
    });
    assert_eq!(registered, 1, "a registration");
    rt.block_on(register(&lc, &bob, pb.register(clock.now())))
        .unwrap();
    for _ in 0..5 {
        clock.advance(STEP);
        let code = pa.code(clock.now());
        let accepted = checkouts(&|| {
            let _proof = rt.block_on(verify(&lc, &alice, &code)).unwrap();
        });
        assert_eq!(accepted, 1, "an accepted code");
        let replayed = checkouts(&|| {
            let answer = rt.block_on(verify(&lc, &alice, &code));
            assert!(
                matches!(answer, Err(LifecycleError::Replayed { .. })),
                "{answer:?}"
            );
        });
        assert_eq!(replayed, 1, "a replayed code");
    }
    // A booking (the bank's statement in the transaction of the code)
    // takes the pool's one connection after the load gave it back; a
    // refused booking commits on the load's.
    for code in [pa.wrong_code(clock.now(), 0), {
        clock.advance(STEP);
        pa.code(clock.now())
    }] {
        let answer = rt.block_on(lc.verify_transaction_with(
            &alice,
            &web(),
            &code,
            &ctx(),
            |tx: &mut sqlx::PgConnection,
             _proof: &otpguard::lifecycle::PendingProof|
             -> otpguard::lifecycle::postgres::BookingFuture<'_, i32, sqlx::Error> {
                Box::pin(async move { sqlx::query_scalar("SELECT 1").fetch_one(tx).await })
            },
        ));
        if code == pa.code(clock.now()) {
            assert!(answer.is_ok(), "{answer:?}");
        } else {
            assert!(
                matches!(
                    answer,
                    Err(BookingError::Lifecycle(LifecycleError::WrongCode { .. }))
                ),
                "{answer:?}"
            );
        }
    }
    // A load's result carried out of the runtime and dropped on a plain
    // thread gives its connection back (on the runtime it was read on),
    // without a panic: the pool's one connection serves the next request.
    let loaded = rt.block_on(lc.store().load_with_head(&alice)).unwrap();
    std::thread::spawn(move || drop(loaded)).join().unwrap();
    clock.advance(STEP);
    let _proof = rt
        .block_on(verify(&lc, &alice, &pa.code(clock.now())))
        .unwrap();
    // Bob's row holds alice's secret: refused as corrupt and audited (the
    // refusal written through the pool), then refused again after a load
    // that walks back behind that refusal (read through the pool).
    pg.psql(
        "UPDATE otpguard_token_records SET token_secret = \
         (SELECT token_secret FROM otpguard_token_records WHERE customer_id = 'alice') \
         WHERE customer_id = 'bob'",
    );
    for _ in 0..2 {
        clock.advance(STEP);
        let answer = rt.block_on(verify(&lc, &bob, &pb.code(clock.now())));
        assert!(
            matches!(answer, Err(LifecycleError::Corrupt(_))),
            "{answer:?}"
        );
    }
    let rows = rt.block_on(audit_rows(lc.store().pool(), &bob));
    assert_corrupt_load(rows.last().unwrap());
    clock.advance(STEP);
    let _proof = rt
        .block_on(verify(&lc, &alice, &pa.code(clock.now())))
        .unwrap();
}

/// A pool that does not ping a connection at each checkout (a round trip
/// saved per request) still answers the first requests after the server
/// restarted: the load finds each idle connection broken, closes it and
/// reads again, on a new connection at the latest.
#[test]
fn a_pool_without_checkout_pings_answers_after_a_restart() {
    let mut pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let pool = rt
        .block_on(
            PgPoolOptions::new()
                .max_connections(3)
                .min_connections(3)
                .test_before_acquire(false)
                .acquire_timeout(Duration::from_secs(5))
                .connect(&pg.url()),
        )
        .unwrap();
    let lc = rt.block_on(migrated(&pool, LifecycleConfig::default(), &clock));
    let alice = customer("alice");
    let phone = Phone::new("SN-A", 11);
    rt.block_on(register(&lc, &alice, phone.register(clock.now())))
        .unwrap();
    for _ in 0..500 {
        if pool.num_idle() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(pool.num_idle(), 3, "the pool holds its connections");
    pg.restart();
    for _ in 0..3 {
        clock.advance(STEP);
        let answer = rt.block_on(verify(&lc, &alice, &phone.code(clock.now())));
        assert!(answer.is_ok(), "{answer:?}");
    }
    let record = rt.block_on(lc.store().load(&alice)).unwrap().unwrap();
    assert_eq!(record.version(), 4);
    // A booking whose load finds a live connection and whose transaction
    // is handed broken ones (their sessions ended by the server) starts
    // the transaction again on the next. The pool hands out its idle
    // connections in the order they came back: the load's first.
    let pids: Vec<i32> = rt.block_on(async {
        let mut held = Vec::new();
        for _ in 0..3 {
            held.push(pool.acquire().await.unwrap());
        }
        let mut pids = Vec::new();
        for connection in &mut held {
            pids.push(
                sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(&mut **connection)
                    .await
                    .unwrap(),
            );
        }
        // (Each goes back in a task of sqlx's own: one at a time.)
        for connection in held {
            drop(connection);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        pids
    });
    for _ in 0..500 {
        if pool.num_idle() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    for pid in &pids[1..] {
        assert_eq!(pg.psql(&format!("SELECT pg_terminate_backend({pid})")), "t");
    }
    clock.advance(STEP);
    let answer = rt.block_on(lc.verify_transaction_with(
        &alice,
        &web(),
        &phone.code(clock.now()),
        &ctx(),
        |tx: &mut sqlx::PgConnection,
         _proof: &otpguard::lifecycle::PendingProof|
         -> otpguard::lifecycle::postgres::BookingFuture<'_, i32, sqlx::Error> {
            Box::pin(async move {
                sqlx::query_scalar("SELECT pg_backend_pid()")
                    .fetch_one(tx)
                    .await
            })
        },
    ));
    let (_proof, booked_on) = answer.unwrap();
    assert!(booked_on > 0);
}

/// Loads through one store and commits through another, as a store moving
/// customers between clusters might.
struct Crossed {
    from: PostgresStore,
    to: PostgresStore,
}

impl TokenStore for Crossed {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl std::future::Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        self.from.load(customer)
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl std::future::Future<Output = Result<CommitOutcome, StoreError>> + Send {
        self.to.commit(commit)
    }

    fn load_with_head(
        &self,
        customer: &CustomerId,
    ) -> impl std::future::Future<Output = Result<Loaded, StoreError>> + Send {
        self.from.load_with_head(customer)
    }
}

/// The connection a load kept commits only through the store whose pool
/// it came from: a store that commits what another loaded takes its own.
#[test]
fn a_commit_through_another_store_takes_its_own_connection() {
    let pg = PostgresServer::start();
    let rt = runtime();
    pg.psql("CREATE DATABASE other");
    let clock = Arc::new(FixedClock::new(START));
    let (here, there) = rt.block_on(async {
        let here = pool_on(&pg, "postgres", 2, Duration::from_secs(5)).await;
        let there = pool_on(&pg, "other", 2, Duration::from_secs(5)).await;
        migrate(&here).await;
        migrate(&there).await;
        (here, there)
    });
    let lc = Lifecycle::new(
        LifecycleConfig::default(),
        Crossed {
            from: PostgresStore::new(here.clone(), keys()),
            to: PostgresStore::new(there.clone(), keys()),
        },
        Arc::clone(&clock),
    );
    let alice = customer("alice");
    let phone = Phone::new("SN-A", 12);
    rt.block_on(lc.submit(&alice, &web(), phone.register(clock.now()), &ctx()))
        .unwrap();
    let rows = |pool: &PgPool| {
        rt.block_on(
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM otpguard_token_records")
                .fetch_one(pool),
        )
        .unwrap()
    };
    assert_eq!((rows(&here), rows(&there)), (0, 1));
}

// ---------------------------------------------------------------------------
// Rotation and what a dump holds
// ---------------------------------------------------------------------------

/// A rotation re-seals every row (by the next commit or by the re-seal
/// pass); afterwards a dump of the database holds none of the secrets in
/// any encoding, and no row still names the old key.
#[test]
fn rotation_reseals_and_the_dump_holds_no_secret() {
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let lc = rt.block_on(backend(&pg, 4, LifecycleConfig::default(), &clock));
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for n in 0..20u32 {
        let c = customer(&format!("c-{n}"));
        let phone = Phone::new(&format!("SN-{n}"), 100 + n);
        let mut bytes = [0x5a_u8; 20];
        bytes[..4].copy_from_slice(&(100 + n).to_be_bytes());
        secrets.push(bytes.to_vec());
        rt.block_on(register(&lc, &c, phone.register(clock.now())))
            .unwrap();
    }
    // One customer loses the phone: suspended, reissued, provisioned anew
    // (a CSPRNG secret, pending), so every slot is filled somewhere.
    let lost = customer("c-0");
    for event in [
        Event::Suspend {
            reason: SuspendReason::LostDevice,
        },
        Event::Reissue {
            reason: ReissueReason::LostDevice,
        },
    ] {
        rt.block_on(lc.submit(&lost, &operator(), event, &ctx()))
            .unwrap();
    }
    let uri = rt
        .block_on(lc.provision(&lost, &web(), "c-0", &ctx()))
        .unwrap();
    secrets.push(uri.secret().expose_secret().to_vec());
    assert_eq!(
        pg.psql("SELECT count(*) FROM otpguard_token_records WHERE sealed_with = '{1}'"),
        "20"
    );

    // Rotate: a second backend with key 2 primary. One commit re-seals its
    // row; the pass does the rest.
    let rotated = Keyring::new(KeyId(1), &[0x11; 32])
        .unwrap()
        .rotate_to(KeyId(2), &[0x22; 32])
        .unwrap();
    let store2 = PostgresStore::new(lc.store().pool().clone(), rotated);
    let lc2 = Lifecycle::new(LifecycleConfig::default(), store2, Arc::clone(&clock));
    clock.advance(STEP);
    let phone1 = Phone::new("SN-1", 101);
    let _proof = rt
        .block_on(lc2.verify_transaction(
            &customer("c-1"),
            &web(),
            &phone1.code(clock.now()),
            &ctx(),
        ))
        .unwrap();
    assert_eq!(
        pg.psql("SELECT sealed_with FROM otpguard_token_records WHERE customer_id = 'c-1'"),
        "{2}"
    );
    // The primary cannot be retired; retiring the old key re-seals the rest.
    assert!(rt.block_on(lc2.store().reseal(KeyId(2), 7)).is_err());
    let done = rt.block_on(lc2.store().reseal(KeyId(1), 7)).unwrap();
    assert_eq!(
        (done.resealed, done.changed_meanwhile, done.corrupt),
        (19, 0, 0)
    );
    assert_eq!(
        pg.psql("SELECT count(*) FROM otpguard_token_records WHERE sealed_with <> '{2}'"),
        "0"
    );
    assert_eq!(
        rt.block_on(lc2.store().reseal(KeyId(1), 7)).unwrap(),
        Resealed::default()
    );
    // Every record still opens and works under the new ring alone.
    let only_new = PostgresStore::new(
        lc.store().pool().clone(),
        Keyring::new(KeyId(2), &[0x22; 32]).unwrap(),
    );
    for n in 0..20u32 {
        let record = rt
            .block_on(only_new.load(&customer(&format!("c-{n}"))))
            .unwrap()
            .unwrap();
        assert!(record.version() >= 1);
    }

    let dump = pg.dump();
    assert!(
        contains(&dump, b"otpguard_token_records"),
        "the dump holds the table"
    );
    for secret in &secrets {
        for form in encodings(secret) {
            assert!(
                !contains(&dump, &form),
                "a secret in the dump: {:?}",
                String::from_utf8_lossy(&form)
            );
        }
    }
}

/// Throttling and notices through the database: the hold-back time is a
/// column of the record, and the notices are in the audit rows the
/// notifier reads.
#[test]
fn throttle_and_notices_persist() {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        // PSD2: 5 wrong codes, a 600 s block; the next block is permanent.
        let config = LifecycleConfig::psd2_rts(600, 1).unwrap().build().unwrap();
        let lc = backend(pg, 2, config, &clock).await;
        let alice = customer("alice");
        let phone = Phone::new("SN-A", 11);
        register(&lc, &alice, phone.register(clock.now()))
            .await
            .unwrap();
        clock.advance(STEP);
        for n in 0..5 {
            let wrong = verify(&lc, &alice, &phone.wrong_code(clock.now(), n)).await;
            assert!(
                matches!(wrong, Err(LifecycleError::WrongCode { .. })),
                "{wrong:?}"
            );
        }
        let record = lc.store().load(&alice).await.unwrap().unwrap();
        assert_eq!(record.throttled_until(), Some(clock.now() + 600));
        let held = verify(&lc, &alice, &phone.code(clock.now())).await;
        assert!(
            matches!(held, Err(LifecycleError::Throttled { retry_at, .. }) if retry_at == clock.now() + 600),
            "{held:?}"
        );
        clock.advance(600);
        for n in 0..5 {
            let _ = verify(&lc, &alice, &phone.wrong_code(clock.now(), n)).await;
        }
        let notices = pg.psql(
            "SELECT string_agg(event || ':' || notice, ',' ORDER BY link NULLS FIRST, id) \
             FROM otpguard_audit WHERE customer_id = 'alice' AND notice IS NOT NULL",
        );
        assert_eq!(
            notices,
            "Register:TokenBound,VerifyTransaction:LastTemporaryBlock,Suspend(TooManyFailures):LockedOut"
        );
        assert_eq!(
            pg.psql(
                "SELECT state, failures FROM otpguard_token_records WHERE customer_id = 'alice'"
            ),
            "Suspended(TooManyFailures)|10"
        );
    });
}

/// The blocking API from a plain thread, outside any Tokio runtime: a
/// store error that says what to do, nothing committed or audited; the
/// same call with a multi-threaded runtime entered on the thread is
/// accepted.
#[test]
fn blocking_calls_from_a_plain_thread_are_refused_clearly() {
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let lc = rt.block_on(backend(&pg, 2, LifecycleConfig::default(), &clock));
    let alice = customer("alice");
    let phone = Phone::new("SN-A", 9);
    rt.block_on(register(&lc, &alice, phone.register(clock.now())))
        .unwrap();
    clock.advance(STEP);
    let code = phone.code(clock.now());
    let rows_before = rt.block_on(audit_rows(lc.store().pool(), &alice)).len();

    let outside = std::thread::scope(|s| {
        s.spawn(|| {
            lc.blocking()
                .verify_transaction(&alice, &web(), &code, &ctx())
        })
        .join()
        .unwrap()
    });
    assert!(
        matches!(&outside, Err(LifecycleError::Store(e)) if e.to_string().contains("Tokio runtime")),
        "{outside:?}"
    );
    assert_eq!(
        rt.block_on(audit_rows(lc.store().pool(), &alice)).len(),
        rows_before
    );

    let inside = std::thread::scope(|s| {
        s.spawn(|| {
            let _guard = rt.enter();
            lc.blocking()
                .verify_transaction(&alice, &web(), &code, &ctx())
        })
        .join()
        .unwrap()
    });
    assert_eq!(inside.unwrap().claimed().value(), clock.now() / STEP);
}
