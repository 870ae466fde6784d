//! What a verification costs in CPU on PostgreSQL: the service process
//! (the library and the driver) and every server process, per request, for
//! accepted, replayed and wrong codes at 1 and 8 requests in flight;
//! beside the floor, the minimal statements of the same shape (read the
//! row by key; update it and insert one audit row in one statement, or for
//! a refusal insert the audit row on the condition of the version), issued
//! with the same driver (sqlx) and with tokio-postgres. Rounds of each are
//! interleaved, in one run, on one server the bench starts, with a bank's
//! settings (`synchronous_commit`, `fsync` and `full_page_writes` on).
//!
//! `cargo bench --features postgres --bench postgres_cpu`
//!
//! The library's own CPU is the service's CPU for ours less the service's
//! for the sqlx floor (the driver's share of the same round trips).
//!
//! The audit table has the partitions a bank keeping 13 months online
//! would have: the migration's, and months prepared 13 months ahead
//! (`OTPGUARD_BENCH_MONTHS` sets how many).
//!
//! Beside the CPU, each statement's execution time per call
//! (pg_stat_statements, counted afresh for each case): wall time in the
//! server, which at 8 in flight includes waiting for a core, and after a
//! durable commit a cold cache.

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_precision_loss,
    clippy::too_many_lines
)]

#[path = "../tests/support/postgres_server.rs"]
#[allow(dead_code)]
mod postgres_server;

use std::sync::Arc;
use std::time::Duration;

use otpguard::lifecycle::postgres::PostgresStore;
use otpguard::lifecycle::{
    CustomerId, Event, Label, Lifecycle, LifecycleConfig, LifecycleError, NewSecret, Principal,
    RequestContext, TokenSerial,
};
use otpguard::seal::{KeyId, Keyring};
use otpguard::{Clock, FixedClock, Secret, SystemClock, Totp, TotpParams};
use postgres_server::PostgresServer;
use sqlx::postgres::{PgPool, PgPoolOptions};
use tokio::runtime::Runtime;

const START: u64 = 1_700_000_010;
const IN_FLIGHT: [usize; 2] = [1, 8];
/// privacyIDEA 3.14, one successful validation on the same kind of
/// machine: 14.6 ms of client CPU and 5.5 ms of PostgreSQL's.
const PRIVACYIDEA: Duration = Duration::from_micros(20_100);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Case {
    Accepted,
    Replayed,
    Wrong,
}

const FLOOR_SCHEMA: &str = "
    CREATE TABLE floor_records (customer_id text PRIMARY KEY, version bigint NOT NULL,
        last_step bigint NOT NULL, failures integer NOT NULL, state text NOT NULL);
    CREATE TABLE floor_audit (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        customer_id text NOT NULL, version bigint NOT NULL, at bigint NOT NULL,
        event text NOT NULL, outcome text NOT NULL, reason text NOT NULL);
    CREATE INDEX floor_audit_by_customer ON floor_audit (customer_id, version);";
const FLOOR_LOAD: &str =
    "SELECT version, last_step, failures, state FROM floor_records WHERE customer_id = $1";
const FLOOR_UPDATE: &str = "WITH w AS (UPDATE floor_records SET version = $2::bigint, \
     last_step = $3::bigint, failures = $4::integer \
     WHERE customer_id = $1 AND version = $2::bigint - 1 RETURNING 1) \
     INSERT INTO floor_audit (customer_id, version, at, event, outcome, reason) \
     SELECT $1, $2, $3, 'VerifyTransaction', 'accepted', 'code accepted' \
     WHERE EXISTS (SELECT 1 FROM w)";
const FLOOR_REFUSE: &str = "WITH d AS (SELECT 1 FROM floor_records WHERE customer_id = $1 \
     AND version = $2 FOR SHARE) \
     INSERT INTO floor_audit (customer_id, version, at, event, outcome, reason) \
     SELECT $1, $2, $3, 'VerifyTransaction', 'refused', 'replayed' \
     WHERE EXISTS (SELECT 1 FROM d)";

/// One request slot: a customer of ours with its clock and phone, and the
/// floor's customer.
struct Lane {
    lc: Lifecycle<Arc<PostgresStore>, Arc<FixedClock>>,
    clock: Arc<FixedClock>,
    customer: CustomerId,
    totp: Totp,
    floor: String,
    pg: tokio_postgres::Client,
}

fn web() -> Principal {
    Principal::customer(Label::new("web").unwrap())
}

impl Lane {
    async fn new(store: &Arc<PostgresStore>, pool: &PgPool, url: &str, n: usize) -> Self {
        let clock = Arc::new(FixedClock::new(START));
        let config = LifecycleConfig::builder()
            .max_failures(100)
            .build()
            .unwrap();
        let lc = Lifecycle::new(config, Arc::clone(store), Arc::clone(&clock));
        let mut bytes = [0x5a_u8; 20];
        bytes[..8].copy_from_slice(&(n as u64).to_be_bytes());
        let secret = Secret::from_bytes(&bytes).unwrap();
        let totp = Totp::new(&secret, TotpParams::DEFAULT);
        let customer = CustomerId::new(&format!("cpu-{n}")).unwrap();
        let code = totp.generate(START).unwrap().to_string();
        let event = Event::Register {
            serial: TokenSerial::new(&format!("SN-{n}")).unwrap(),
            secret: NewSecret::Given(secret),
            code: code.as_str().into(),
        };
        lc.submit(&customer, &web(), event, &RequestContext::new())
            .await
            .unwrap();
        let floor = format!("floor-{n}");
        sqlx::query("INSERT INTO floor_records VALUES ($1, 1, 0, 0, 'Active')")
            .bind(&floor)
            .execute(pool)
            .await
            .unwrap();
        let (pg, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        Self {
            lc,
            clock,
            customer,
            totp,
            floor,
            pg,
        }
    }

    /// Ours: one request of `case`.
    async fn ours(&self, case: Case, wrong: &str) {
        let now = otpguard::Clock::now(&*self.clock);
        let answer = match case {
            Case::Accepted => {
                self.clock.set(now + 30);
                let code = self.totp.generate(now + 30).unwrap().to_string();
                self.lc
                    .verify_transaction(&self.customer, &web(), &code, &RequestContext::new())
                    .await
                    .map(|_| ())
            }
            Case::Replayed => {
                let code = self.totp.generate(now).unwrap().to_string();
                self.lc
                    .verify_transaction(&self.customer, &web(), &code, &RequestContext::new())
                    .await
                    .map(|_| ())
            }
            Case::Wrong => self
                .lc
                .verify_transaction(&self.customer, &web(), wrong, &RequestContext::new())
                .await
                .map(|_| ()),
        };
        match (case, answer) {
            (Case::Accepted, Ok(()))
            | (Case::Replayed, Err(LifecycleError::Replayed { .. }))
            | (Case::Wrong, Err(LifecycleError::WrongCode { .. })) => {}
            (case, other) => panic!("{case:?}: {other:?}"),
        }
    }

    /// A wrong code for now: one the phone shows at no step near it.
    fn wrong_code(&self) -> String {
        let now = otpguard::Clock::now(&*self.clock);
        let near: Vec<String> = (0..5)
            .map(|k| self.totp.generate(now + k * 30 - 60).unwrap().to_string())
            .collect();
        ["000000", "111111", "222222", "333333"]
            .into_iter()
            .find(|c| !near.iter().any(|n| n == c))
            .unwrap()
            .to_owned()
    }

    /// After wrong codes: an accepted one, so the count starts again.
    async fn reset(&self) {
        self.ours(Case::Accepted, "").await;
    }

    /// The floor through sqlx: one connection from the pool for both
    /// statements, as the store takes.
    async fn floor_sqlx(&self, pool: &PgPool, case: Case) {
        let mut connection = pool.acquire().await.unwrap();
        let (version, last_step, failures, _state): (i64, i64, i32, String) =
            sqlx::query_as(FLOOR_LOAD)
                .bind(&self.floor)
                .fetch_one(&mut *connection)
                .await
                .unwrap();
        let done = match case {
            Case::Accepted | Case::Wrong => sqlx::query(FLOOR_UPDATE)
                .bind(&self.floor)
                .bind(version + 1)
                .bind(last_step + 1)
                .bind(failures)
                .execute(&mut *connection)
                .await
                .unwrap(),
            Case::Replayed => sqlx::query(FLOOR_REFUSE)
                .bind(&self.floor)
                .bind(version)
                .bind(last_step)
                .execute(&mut *connection)
                .await
                .unwrap(),
        };
        assert_eq!(done.rows_affected(), 1);
    }

    /// The floor through tokio-postgres (its own connection per lane;
    /// statements prepared once per connection, as sqlx does).
    async fn floor_tokio_postgres(&self, statements: &Prepared, case: Case) {
        let row = self
            .pg
            .query_one(&statements.load, &[&self.floor])
            .await
            .unwrap();
        let (version, last_step, failures): (i64, i64, i32) = (row.get(0), row.get(1), row.get(2));
        let _state: String = row.get(3);
        let n = match case {
            Case::Accepted | Case::Wrong => self
                .pg
                .execute(
                    &statements.update,
                    &[&self.floor, &(version + 1), &(last_step + 1), &failures],
                )
                .await
                .unwrap(),
            Case::Replayed => self
                .pg
                .execute(&statements.refuse, &[&self.floor, &version, &last_step])
                .await
                .unwrap(),
        };
        assert_eq!(n, 1);
    }
}

struct Prepared {
    load: tokio_postgres::Statement,
    update: tokio_postgres::Statement,
    refuse: tokio_postgres::Statement,
}

struct Bench {
    rt: Runtime,
    pool: PgPool,
    lanes: Vec<Arc<Lane>>,
    prepared: Vec<Arc<Prepared>>,
    server: PostgresServer,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Ours,
    FloorSqlx,
    FloorTokioPostgres,
}

impl Bench {
    fn new() -> Self {
        // Commits as a bank's must: durable, full-page images in the WAL
        // (the test servers' defaults are not).
        let server = PostgresServer::start_with(&[
            "synchronous_commit=on",
            "fsync=on",
            "full_page_writes=on",
            "shared_preload_libraries=pg_stat_statements",
            "pg_stat_statements.track=all",
            "pg_stat_statements.track_planning=on",
        ]);
        server.psql("CREATE EXTENSION pg_stat_statements");
        server.psql(FLOOR_SCHEMA);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let url = server.url();
        let (pool, lanes, prepared) = rt.block_on(async {
            // As the store's documentation recommends: no ping at each
            // checkout (for ours and the floor alike).
            let pool = PgPoolOptions::new()
                .max_connections(8)
                .min_connections(8)
                .test_before_acquire(false)
                .connect(&url)
                .await
                .unwrap();
            let store = Arc::new(PostgresStore::new(
                pool.clone(),
                Keyring::new(KeyId(1), &[0x42; 32]).unwrap(),
            ));
            store.migrate().await.unwrap();
            let months: u64 = std::env::var("OTPGUARD_BENCH_MONTHS")
                .ok()
                .and_then(|m| m.parse().ok())
                .unwrap_or(13);
            store
                .prepare_audit_partitions(SystemClock.now() + months * 31 * 86_400)
                .await
                .unwrap();
            let partitions = store.audit_partitions().await.unwrap().len();
            println!("audit partitions: {partitions}");
            let mut lanes = Vec::new();
            let mut prepared = Vec::new();
            for n in 0..8 {
                let lane = Lane::new(&store, &pool, &url, n).await;
                prepared.push(Arc::new(Prepared {
                    load: lane.pg.prepare(FLOOR_LOAD).await.unwrap(),
                    update: lane.pg.prepare(FLOOR_UPDATE).await.unwrap(),
                    refuse: lane.pg.prepare(FLOOR_REFUSE).await.unwrap(),
                }));
                lanes.push(Arc::new(lane));
            }
            (pool, lanes, prepared)
        });
        Self {
            rt,
            pool,
            lanes,
            prepared,
            server,
        }
    }

    /// `per_lane` requests of `case` by `who` on each of `in_flight` lanes
    /// at once.
    fn run(&self, who: Who, case: Case, in_flight: usize, per_lane: usize) {
        self.rt.block_on(async {
            let handles: Vec<_> = (0..in_flight)
                .map(|i| {
                    let (lane, prepared, pool) = (
                        Arc::clone(&self.lanes[i]),
                        Arc::clone(&self.prepared[i]),
                        self.pool.clone(),
                    );
                    tokio::spawn(async move {
                        let wrong = lane.wrong_code();
                        for _ in 0..per_lane {
                            match who {
                                Who::Ours => lane.ours(case, &wrong).await,
                                Who::FloorSqlx => lane.floor_sqlx(&pool, case).await,
                                Who::FloorTokioPostgres => {
                                    lane.floor_tokio_postgres(&prepared, case).await;
                                }
                            }
                        }
                        if who == Who::Ours && case == Case::Wrong {
                            lane.reset().await;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        });
    }
}

/// The mean execution time (µs) of our load, our commit or refusal, the
/// floor's load and the floor's commit or refusal, since the last reset of
/// pg_stat_statements.
fn statement_times(server: &PostgresServer) -> [String; 4] {
    let mean = |pattern: &str| {
        server.psql(&format!(
            "SELECT coalesce(round((sum(total_exec_time) * 1000 / nullif(sum(calls), 0))::numeric, 1)::text, '-') \
             FROM pg_stat_statements WHERE toplevel AND query LIKE '{pattern}'"
        ))
    };
    [
        mean("SELECT r.state, r.version%"),
        mean("WITH written AS (UPDATE otpguard_token_records%' OR toplevel AND query LIKE 'WITH decided_on AS (SELECT%"),
        mean("SELECT version, last_step, failures, state FROM floor_records%"),
        mean("WITH w AS (UPDATE floor_records%' OR toplevel AND query LIKE 'WITH d AS (SELECT%"),
    ]
}

/// CPU the server's processes have used so far: every process of the
/// server (its postmaster's children), from `/proc/<pid>/stat`, in clock
/// ticks of 10 ms (Linux's `USER_HZ`).
fn server_cpu(server: &PostgresServer) -> Duration {
    let postmaster = server.pid();
    let mut ticks = 0_u64;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After the command: state, ppid, ..., utime (12th), stime (13th).
        let parent = fields.get(1).and_then(|p| p.parse::<u32>().ok());
        if pid != postmaster && parent != Some(postmaster) {
            continue;
        }
        let time = |i: usize| {
            fields
                .get(i)
                .and_then(|t| t.parse::<u64>().ok())
                .unwrap_or(0)
        };
        ticks += time(11) + time(12);
    }
    Duration::from_millis(ticks * 10)
}

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    let bench = Bench::new();
    let (rounds, per_lane_total) = if test_mode { (1, 16) } else { (5, 800) };
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("\n| case | in flight | who | service µs | server µs | total µs | WAL bytes |");
    println!("|---|---|---|---|---|---|---|");
    let mut totals = Vec::new();
    let mut statements = Vec::new();
    for case in [Case::Accepted, Case::Replayed, Case::Wrong] {
        for in_flight in IN_FLIGHT {
            // The same number of requests in all, split over the lanes;
            // wrong codes in batches below the lock-out.
            let per_lane = (per_lane_total / in_flight).max(4);
            let batch = if case == Case::Wrong {
                per_lane.min(90)
            } else {
                per_lane
            };
            let mut cpu = [(Duration::ZERO, Duration::ZERO); 3];
            let mut wal = [0_f64; 3];
            bench.server.psql("SELECT pg_stat_statements_reset()");
            let mut requests = 0_u32;
            for _ in 0..rounds {
                let mut done = 0;
                while done < per_lane {
                    let n = batch.min(per_lane - done);
                    for (k, who) in [Who::Ours, Who::FloorSqlx, Who::FloorTokioPostgres]
                        .into_iter()
                        .enumerate()
                    {
                        let lsn = bench.server.psql("SELECT pg_current_wal_lsn()");
                        let client = cpu_time::ProcessTime::now();
                        let server = server_cpu(&bench.server);
                        bench.run(who, case, in_flight, n);
                        cpu[k].0 += client.elapsed();
                        cpu[k].1 += server_cpu(&bench.server).saturating_sub(server);
                        wal[k] += bench
                            .server
                            .psql(&format!(
                                "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '{lsn}')"
                            ))
                            .parse::<f64>()
                            .unwrap();
                    }
                    done += n;
                    requests += (n * in_flight) as u32;
                }
            }
            for (k, who) in ["otpguard", "floor, sqlx", "floor, tokio-postgres"]
                .into_iter()
                .enumerate()
            {
                let (c, s) = (cpu[k].0 / requests, cpu[k].1 / requests);
                println!(
                    "| {case:?} | {in_flight} | {who} | {:.0} | {:.0} | {:.0} | {:.0} |",
                    us(c),
                    us(s),
                    us(c + s),
                    wal[k] / f64::from(requests)
                );
            }
            totals.push((
                case,
                in_flight,
                cpu.map(|(c, s)| (c / requests, s / requests)),
            ));
            statements.push((case, in_flight, statement_times(&bench.server)));
        }
    }
    // What a year of audit weighs: bytes per audit row, with its indexes.
    // (The audit table is partitioned: its partitions hold the rows.)
    const PARTITIONS: &str = "FROM pg_partition_tree('otpguard_audit') WHERE isleaf";
    let rows = bench.server.psql("SELECT count(*) FROM otpguard_audit");
    println!(
        "\naudit rows: {} bytes each with their indexes ({} in the table alone)",
        bench.server.psql(&format!(
            "SELECT sum(pg_total_relation_size(relid)) / {rows} {PARTITIONS}"
        )),
        bench.server.psql(&format!(
            "SELECT sum(pg_relation_size(relid)) / {rows} {PARTITIONS}"
        )),
    );
    // Where the server's time goes: each statement's execution time per
    // call (pg_stat_statements, wall time in the server, counted afresh
    // for each case; at 8 in flight it includes waiting for a core).
    println!(
        "\n| case | in flight | our load µs | our commit or refusal µs | floor load µs | floor commit or refusal µs |"
    );
    println!("|---|---|---|---|---|---|");
    for (case, in_flight, [ours_load, ours_commit, floor_load, floor_commit]) in statements {
        println!(
            "| {case:?} | {in_flight} | {ours_load} | {ours_commit} | {floor_load} | {floor_commit} |"
        );
    }
    println!("\n| case | in flight | server vs floor | library's own µs | privacyIDEA / ours |");
    println!("|---|---|---|---|---|");
    for (case, in_flight, [ours, sqlx, _]) in totals {
        println!(
            "| {case:?} | {in_flight} | {:.2}x | {:.0} | {:.0}x |",
            ours.1.as_secs_f64() / sqlx.1.as_secs_f64().max(1e-9),
            us(ours.0.saturating_sub(sqlx.0)),
            PRIVACYIDEA.as_secs_f64() / (ours.0 + ours.1).as_secs_f64().max(1e-9),
        );
    }
}
