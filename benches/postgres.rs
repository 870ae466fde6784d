//! The lifecycle on `PostgresStore` against the floor: the same SQL
//! statements (`PostgresStore::sql()`), issued directly with the same
//! columns, without opening, deciding, sealing or auditing in Rust.
//!
//! Each request is one accepted `verify_transaction`: a load and a commit
//! (the record's new version and its audit row in one statement). 1, 8 and
//! 32 tasks, each on its own customer, over one pool of 32 connections to
//! a PostgreSQL server the bench starts (as the tests do). Criterion
//! reports the wall time per request (1 / commits per second); after it,
//! a table of commits/s and p50/p99 latency per request for both.
//! Target: ours within 1.15x of the floor.
//!
//! `cargo bench --features postgres --bench postgres`

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_precision_loss
)]

#[path = "../tests/support/postgres_server.rs"]
#[allow(dead_code)]
mod postgres_server;

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion};
use otpguard::lifecycle::postgres::PostgresStore;
use otpguard::lifecycle::{
    CustomerId, Event, Label, Lifecycle, LifecycleConfig, NewSecret, Principal, RequestContext,
    TokenSerial,
};
use otpguard::seal::{KeyId, Keyring};
use otpguard::{FixedClock, Secret, Totp, TotpParams};
use postgres_server::PostgresServer;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::Row;
use tokio::runtime::Runtime;

const TASKS: [usize; 3] = [1, 8, 32];
const START: u64 = 1_700_000_010;

type Store = Arc<PostgresStore>;

/// One task's customer: its own lifecycle and clock (so each request is a
/// fresh step), and its phone.
struct Lane {
    lc: Lifecycle<Store, Arc<FixedClock>>,
    clock: Arc<FixedClock>,
    customer: CustomerId,
    totp: Totp,
    /// The floor's customer (a row of its own, registered the same way).
    floor: CustomerId,
}

fn web() -> Principal {
    Principal::customer(Label::new("web").unwrap())
}

impl Lane {
    async fn new(store: &Store, n: usize) -> Self {
        let clock = Arc::new(FixedClock::new(START));
        let lc = Lifecycle::new(
            LifecycleConfig::default(),
            Arc::clone(store),
            Arc::clone(&clock),
        );
        let mut bytes = [0x5a_u8; 20];
        bytes[..8].copy_from_slice(&(n as u64).to_be_bytes());
        let secret = Secret::from_bytes(&bytes).unwrap();
        let totp = Totp::new(&secret, TotpParams::DEFAULT);
        let lane = Self {
            lc,
            clock,
            customer: CustomerId::new(&format!("bench-{n}")).unwrap(),
            totp,
            floor: CustomerId::new(&format!("floor-{n}")).unwrap(),
        };
        for (who, serial) in [(&lane.customer, "SN"), (&lane.floor, "FL")] {
            let code = lane.totp.generate(START).unwrap().to_string();
            let event = Event::Register {
                serial: TokenSerial::new(&format!("{serial}-{n}")).unwrap(),
                secret: NewSecret::Given(secret.clone()),
                code: code.as_str().into(),
            };
            lane.lc
                .submit(who, &web(), event, &RequestContext::new())
                .await
                .unwrap();
        }
        lane
    }

    /// The codes of the next `n` steps, made before the clock starts.
    fn codes(&self, n: usize) -> Vec<(u64, String)> {
        let now = self.clock_now();
        (1..=n as u64)
            .map(|k| {
                let t = now + 30 * k;
                (t, self.totp.generate(t).unwrap().to_string())
            })
            .collect()
    }

    fn clock_now(&self) -> u64 {
        otpguard::Clock::now(&*self.clock)
    }

    /// Ours: one accepted `verify_transaction`.
    async fn ours(&self, at: u64, code: &str) {
        self.clock.set(at);
        let proof = self
            .lc
            .verify_transaction(&self.customer, &web(), code, &RequestContext::new())
            .await
            .unwrap();
        let _ = std::hint::black_box(proof);
    }
}

/// The floor: the store's own load and update statements, issued directly
/// with the row's columns (version and last step moved on) and one audit
/// row.
async fn floor(pool: &PgPool, customer: &CustomerId) {
    let sql = PostgresStore::<Keyring>::sql();
    let row = sqlx::query(sql.load())
        .bind(customer.as_str())
        .fetch_one(pool)
        .await
        .unwrap();
    let version: i64 = row.get("version");
    let head: Option<i64> = row.get("head_link");
    let query = bind_audit(
        sqlx::query(sql.one_row().update()).bind(customer.as_str()),
        version + 1,
        head.unwrap_or(0) + 1,
    );
    let done = bind_record(query, &row, version + 1)
        .bind(version)
        .execute(pool)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

fn bind_audit(q: PgQuery<'_>, version: i64, link: i64) -> PgQuery<'_> {
    q.bind(version)
        .bind(0_i32)
        .bind(START as i64)
        .bind("Customer")
        .bind(Some("web"))
        .bind(None::<String>)
        .bind(None::<String>)
        .bind(Some(vec![7_u8; 16]))
        .bind(Some("SN-0"))
        .bind(None::<String>)
        .bind("VerifyTransaction")
        .bind("Active")
        .bind("Active")
        .bind("accepted")
        .bind("code accepted; single use recorded")
        .bind("applied")
        .bind(None::<i64>)
        .bind(None::<i64>)
        .bind(None::<String>)
        .bind(None::<Vec<u8>>)
        // The chain's position and as many bytes as a link's MAC.
        .bind(link)
        .bind(vec![2_u8; 37])
}

fn bind_record<'q>(q: PgQuery<'q>, row: &PgRow, version: i64) -> PgQuery<'q> {
    let last_step: Option<i64> = row.get("token_last_step");
    q.bind(row.get::<String, _>("state"))
        .bind(version)
        .bind(row.get::<Option<Vec<u8>>, _>("token_id"))
        .bind(row.get::<Option<String>, _>("token_serial"))
        .bind(row.get::<Option<String>, _>("token_algorithm"))
        .bind(row.get::<Option<i16>, _>("token_digits"))
        .bind(row.get::<Option<i64>, _>("token_period"))
        .bind(row.get::<Option<i64>, _>("token_t0"))
        .bind(row.get::<Option<Vec<u8>>, _>("token_secret"))
        .bind(last_step.map(|s| s + 1))
        .bind(row.get::<Option<i64>, _>("token_drift"))
        .bind(row.get::<Option<i64>, _>("swap_started_at"))
        .bind(row.get::<Option<i64>, _>("swap_deadline"))
        .bind(row.get::<Option<Vec<u8>>, _>("enrollment_secret"))
        .bind(row.get::<Option<i64>, _>("enrollment_deadline"))
        .bind(row.get::<Option<String>, _>("enrollment_algorithm"))
        .bind(row.get::<Option<i16>, _>("enrollment_digits"))
        .bind(row.get::<Option<i64>, _>("enrollment_period"))
        .bind(row.get::<Option<i64>, _>("enrollment_t0"))
        .bind(row.get::<i64, _>("failures"))
        .bind(row.get::<Option<i64>, _>("throttled_until"))
        .bind(row.get::<bool, _>("login_otp"))
        .bind(row.get::<Vec<String>, _>("retired_serials"))
        .bind(row.get::<Vec<Vec<u8>>, _>("retired_fingerprints"))
        .bind(row.get::<Option<Vec<u8>>, _>("fingerprint_key"))
        .bind(row.get::<Vec<i64>, _>("sealed_with"))
        .bind(row.get::<Option<String>, _>("token_signing_suite"))
        .bind(row.get::<Option<i64>, _>("token_last_signature"))
        .bind(row.get::<Option<String>, _>("enrollment_signing_suite"))
        .bind(row.get::<Option<Vec<u8>>, _>("token_signed_in_step"))
        .bind(row.get::<Option<Vec<i64>>, _>("token_drift_estimate"))
        // As many bytes as the store writes (the tag no longer covers the
        // fields moved on: this row is the floor's alone, never loaded).
        .bind(row.get::<Option<Vec<u8>>, _>("record_tag"))
}

struct Bench {
    rt: Runtime,
    pool: PgPool,
    lanes: Vec<Arc<Lane>>,
    _server: PostgresServer,
}

impl Bench {
    fn new() -> Self {
        let server = PostgresServer::start();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (pool, lanes) = rt.block_on(async {
            let pool = PgPoolOptions::new()
                .max_connections(32)
                .min_connections(32)
                .connect(&server.url())
                .await
                .unwrap();
            let store = Arc::new(PostgresStore::new(
                pool.clone(),
                Keyring::new(KeyId(1), &[0x42; 32]).unwrap(),
            ));
            store.migrate().await.unwrap();
            let mut lanes = Vec::new();
            for n in 0..32 {
                lanes.push(Arc::new(Lane::new(&store, n).await));
            }
            (pool, lanes)
        });
        Self {
            rt,
            pool,
            lanes,
            _server: server,
        }
    }

    /// Runs `total` requests split over `tasks` tasks; the wall time and
    /// each request's latency.
    fn run(&self, tasks: usize, total: u64, ours: bool) -> (Duration, Vec<Duration>) {
        let per_task = |i: usize| {
            (total / tasks as u64 + u64::from((i as u64) < total % tasks as u64)) as usize
        };
        self.rt.block_on(async {
            let work: Vec<_> = (0..tasks)
                .map(|i| (Arc::clone(&self.lanes[i]), self.lanes[i].codes(per_task(i))))
                .collect();
            let start = Instant::now();
            let handles: Vec<_> = work
                .into_iter()
                .map(|(lane, codes)| {
                    let pool = self.pool.clone();
                    tokio::spawn(async move {
                        let mut latencies = Vec::with_capacity(codes.len());
                        for (at, code) in &codes {
                            let t = Instant::now();
                            if ours {
                                lane.ours(*at, code).await;
                            } else {
                                floor(&pool, &lane.floor).await;
                            }
                            latencies.push(t.elapsed());
                        }
                        if let Some((at, _)) = codes.last() {
                            lane.clock.set(*at);
                        }
                        latencies
                    })
                })
                .collect();
            let mut latencies = Vec::new();
            for h in handles {
                latencies.extend(h.await.unwrap());
            }
            (start.elapsed(), latencies)
        })
    }
}

/// CPU time the server's processes have used so far: the sum of user and
/// system time of every process `pg_stat_activity` lists (backends and
/// background workers), from `/proc/<pid>/stat`, in clock ticks of 10 ms
/// (Linux's `USER_HZ`).
fn server_cpu(bench: &Bench) -> Duration {
    let pids: Vec<i32> = bench.rt.block_on(async {
        sqlx::query_scalar("SELECT pid FROM pg_stat_activity")
            .fetch_all(&bench.pool)
            .await
            .unwrap()
    });
    let ticks: u64 = pids
        .iter()
        .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok())
        .filter_map(|stat| {
            // Fields after the command's closing parenthesis: utime and
            // stime are the 12th and 13th.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    Duration::from_millis(ticks * 10)
}

/// CPU per request, of this process (the service: the library and the
/// driver) and of the server, for `ours` or the floor: `rounds` rounds of
/// `per_round` requests at 1 task, interleaved by the caller.
fn cpu_per_request(bench: &Bench, ours: bool, per_round: u64) -> (Duration, Duration) {
    let client = cpu_time::ProcessTime::now();
    let server = server_cpu(bench);
    let _ = bench.run(1, per_round, ours);
    let client = client.elapsed();
    let server = server_cpu(bench).saturating_sub(server);
    let n = per_round as u32;
    (client / n, server / n)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn main() {
    let test_mode = std::env::args().any(|a| a == "--test");
    let bench = Bench::new();
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    let mut group = c.benchmark_group("postgres_verify");
    for tasks in TASKS {
        for (name, ours) in [("lifecycle", true), ("direct_sql", false)] {
            group.bench_function(BenchmarkId::new(name, tasks), |b| {
                b.iter_custom(|iters| bench.run(tasks, iters, ours).0);
            });
        }
    }
    group.finish();
    c.final_summary();

    // Latency percentiles and commits/s, interleaved rounds of both.
    let rounds = if test_mode { 1 } else { 5 };
    let per_round = if test_mode { 64 } else { 2_000 };
    println!("\n| tasks | lifecycle commits/s | direct SQL commits/s | ratio (time) | lifecycle p50 / p99 | direct SQL p50 / p99 |");
    println!("|---|---|---|---|---|---|");
    for tasks in TASKS {
        let mut wall = [Duration::ZERO; 2];
        let mut lat: [Vec<Duration>; 2] = [Vec::new(), Vec::new()];
        for _ in 0..rounds {
            for (k, ours) in [(0, true), (1, false)] {
                let (w, l) = bench.run(tasks, per_round, ours);
                wall[k] += w;
                lat[k].extend(l);
            }
        }
        let n = (rounds * per_round) as f64;
        let rate = |w: Duration| n / w.as_secs_f64();
        for l in &mut lat {
            l.sort_unstable();
        }
        let us = |d: Duration| d.as_secs_f64() * 1e6;
        println!(
            "| {tasks} | {:.0} | {:.0} | {:.3}x | {:.0} / {:.0} µs | {:.0} / {:.0} µs |",
            rate(wall[0]),
            rate(wall[1]),
            wall[0].as_secs_f64() / wall[1].as_secs_f64(),
            us(percentile(&lat[0], 0.5)),
            us(percentile(&lat[0], 0.99)),
            us(percentile(&lat[1], 0.5)),
            us(percentile(&lat[1], 0.99)),
        );
    }

    // CPU per accepted request at 1 task, interleaved rounds of both.
    let (rounds, per_round) = if test_mode { (1, 64) } else { (5, 2_000) };
    let mut cpu = [(Duration::ZERO, Duration::ZERO); 2];
    for _ in 0..rounds {
        for (k, ours) in [(0, true), (1, false)] {
            let (c, s) = cpu_per_request(&bench, ours, per_round);
            cpu[k].0 += c / rounds;
            cpu[k].1 += s / rounds;
        }
    }
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!("\n| CPU per accepted request, 1 task | service | server | total |");
    println!("|---|---|---|---|");
    for (name, (c, s)) in [("lifecycle", cpu[0]), ("direct SQL", cpu[1])] {
        println!(
            "| {name} | {:.0} µs | {:.0} µs | {:.0} µs |",
            us(c),
            us(s),
            us(c + s)
        );
    }
}
