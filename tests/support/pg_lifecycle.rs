//! The lifecycle on `PostgresStore` for the tests that run it against a
//! [`PostgresServer`]: the server and its runtime, the sealing keys, a
//! backend's pool and a lifecycle over it, a registration, requests raced
//! through two backends and what wrong codes raced against the lock-out
//! were answered, and a customer's audit rows.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use otpguard::lifecycle::audit::{BrokenLink, ChainReport};
use otpguard::lifecycle::postgres::{PostgresStore, TrailError};
use otpguard::lifecycle::{
    Applied, Authorized, CustomerId, Event, Label, Lifecycle, LifecycleConfig, LifecycleError,
    Principal, RequestContext,
};
use otpguard::seal::{KeyId, Keyring};
use otpguard::FixedClock;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;

use super::postgres_server::PostgresServer;

/// A lifecycle over a `PostgresStore`, on a clock the test moves.
pub type Pg = Lifecycle<PostgresStore, Arc<FixedClock>>;

/// A multi-threaded runtime with 4 workers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

/// Starts a server and runs `test` against it on a new [`runtime`].
pub fn with_server(test: impl AsyncFnOnce(&PostgresServer)) {
    let pg = PostgresServer::start();
    let rt = runtime();
    rt.block_on(test(&pg));
}

/// The sealing keys: key 1 alone.
pub fn keys() -> Keyring {
    Keyring::new(KeyId(1), &[0x11; 32]).unwrap()
}

/// A pool of `connections` on database `db` of `pg`, as user `postgres`,
/// waiting at most `acquire_timeout` for a connection: what one backend
/// process holds.
pub async fn pool_on(
    pg: &PostgresServer,
    db: &str,
    connections: u32,
    acquire_timeout: Duration,
) -> PgPool {
    PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(acquire_timeout)
        .connect(&format!("postgres://postgres@127.0.0.1:{}/{db}", pg.port()))
        .await
        .unwrap()
}

/// Brings the schema on `pool` up to date.
pub async fn migrate(pool: &PgPool) {
    PostgresStore::new(pool.clone(), keys())
        .migrate()
        .await
        .unwrap();
}

/// A lifecycle with `config` over a new `PostgresStore` on `pool`.
pub fn lifecycle(pool: &PgPool, config: LifecycleConfig, clock: &Arc<FixedClock>) -> Arc<Pg> {
    Arc::new(Lifecycle::new(
        config,
        PostgresStore::new(pool.clone(), keys()),
        Arc::clone(clock),
    ))
}

/// The same, once its store has brought the schema up to date.
pub async fn migrated(pool: &PgPool, config: LifecycleConfig, clock: &Arc<FixedClock>) -> Arc<Pg> {
    let lc = lifecycle(pool, config, clock);
    lc.store().migrate().await.unwrap();
    lc
}

/// A backend with the default settings on a pool of `connections` to
/// `pg` (waiting at most 5 s for one), the schema up to date.
pub async fn backend_on(pg: &PostgresServer, connections: u32, clock: &Arc<FixedClock>) -> Arc<Pg> {
    let pool = pool_on(pg, "postgres", connections, Duration::from_secs(5)).await;
    migrated(&pool, LifecycleConfig::default(), clock).await
}

/// `code` verified for a transfer of `c`'s, as the customer through the
/// web channel, which must be accepted.
pub async fn accept(lc: &Pg, c: &CustomerId, code: &str) {
    let web = Principal::customer(Label::new("web").unwrap());
    let proof = lc
        .verify_transaction(c, &web, code, &RequestContext::new())
        .await
        .unwrap();
    assert!(proof.version() > 0);
}

/// `sql` run as the table's owner with the triggers off (the
/// append-only rule and the stamping), as someone who can write the
/// database but has no key would.
pub fn as_owner(pg: &PostgresServer, sql: &str) {
    pg.psql(&format!(
        "SET session_replication_role = replica; {sql}; SET session_replication_role = origin"
    ));
}

/// The first break `verify_audit` reported; panics if it reported none.
pub fn broken(result: Result<ChainReport, TrailError>) -> BrokenLink {
    match result {
        Err(TrailError::Broken { link, .. }) => link,
        other => panic!("not a broken trail: {other:?}"),
    }
}

/// Submits the registration `event` for `c`, as the customer through the
/// web channel.
pub async fn register(lc: &Pg, c: &CustomerId, event: Event) -> Result<Applied, LifecycleError> {
    let web = Principal::customer(Label::new("web").unwrap());
    lc.submit(c, &web, event, &RequestContext::new()).await
}

/// Runs `request(lc, i)` for `i` in `0..n` as tokio tasks released
/// together, even ones through backend `a`, odd ones through `b`; the
/// answers in the order of `i`.
pub async fn race_tasks<T, F, Fut>(a: &Arc<Pg>, b: &Arc<Pg>, n: usize, request: F) -> Vec<T>
where
    F: Fn(Arc<Pg>, usize) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let request = request(Arc::clone(if i % 2 == 0 { a } else { b }), i);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                request.await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(n);
    for h in handles {
        answers.push(h.await.unwrap());
    }
    answers
}

/// The same through OS threads calling the blocking API (each inside the
/// runtime's context, which sqlx needs for its sockets).
pub fn race_threads<T, F>(
    rt: &tokio::runtime::Runtime,
    a: &Arc<Pg>,
    b: &Arc<Pg>,
    n: usize,
    request: F,
) -> Vec<T>
where
    F: Fn(&Pg, usize) -> T + Sync,
    T: Send,
{
    let barrier = std::sync::Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let lc = if i % 2 == 0 { a } else { b };
                let (barrier, request, handle) = (&barrier, &request, rt.handle());
                s.spawn(move || {
                    let _context = handle.enter();
                    barrier.wait();
                    request(lc, i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// What wrong codes raced against the lock-out were answered.
#[derive(Debug)]
pub struct Lockout {
    /// The failure counts they were given, sorted.
    pub failures: Vec<u32>,
    /// The counts among them that locked the token, in answer order.
    pub locked_at: Vec<u32>,
    /// How many were refused as not permitted (the token already locked).
    pub not_permitted: usize,
}

/// Sorts `answers` into a [`Lockout`]; panics, naming them `what`, on any
/// other answer.
pub fn lockout(answers: &[Result<Authorized, LifecycleError>], what: &str) -> Lockout {
    let mut seen = Lockout {
        failures: Vec::new(),
        locked_at: Vec::new(),
        not_permitted: 0,
    };
    for answer in answers {
        match answer {
            Err(LifecycleError::WrongCode {
                failures,
                locked_out,
                ..
            }) => {
                seen.failures.push(*failures);
                if *locked_out {
                    seen.locked_at.push(*failures);
                }
            }
            Err(LifecycleError::NotPermitted { .. }) => seen.not_permitted += 1,
            other => panic!("{what} answered {other:?}"),
        }
    }
    seen.failures.sort_unstable();
    seen
}

/// One audit row, as the columns hold it.
#[derive(Debug)]
pub struct AuditRow {
    /// The record's version the row was written at.
    pub version: i64,
    /// The event's name.
    pub event: String,
    /// `accepted` or `refused`.
    pub outcome: String,
    /// Who submitted the event.
    pub actor: String,
    /// Why, in words.
    pub reason: String,
    /// The digest of the transaction a signature presented.
    pub digest: Option<Vec<u8>>,
}

/// One customer's audit rows in commit order (the order of their chain).
pub async fn audit_rows(pool: &PgPool, c: &CustomerId) -> Vec<AuditRow> {
    sqlx::query(
        "SELECT version, event, outcome, actor, reason, transaction_digest FROM otpguard_audit \
         WHERE customer_id = $1 ORDER BY link NULLS FIRST, id",
    )
    .bind(c.as_str())
    .fetch_all(pool)
    .await
    .unwrap()
    .iter()
    .map(|r| AuditRow {
        version: r.get("version"),
        event: r.get("event"),
        outcome: r.get("outcome"),
        actor: r.get("actor"),
        reason: r.get("reason"),
        digest: r.get("transaction_digest"),
    })
    .collect()
}

/// Asserts that `row` is the System's refusal of a record found corrupt
/// when it was loaded.
pub fn assert_corrupt_load(row: &AuditRow) {
    assert_eq!(
        (row.event.as_str(), row.actor.as_str(), row.outcome.as_str()),
        ("Load", "System", "refused")
    );
    assert!(row.reason.contains("corrupt"), "{}", row.reason);
}
