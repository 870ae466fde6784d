//! A primary with a streaming standby, both real servers on loopback
//! (`pg_basebackup`), the backend reaching "the primary" through a switch
//! the way a bank's virtual address or proxy does. With synchronous
//! replication, the primary killed in a storm of concurrent requests, the
//! standby promoted and the switch turned: every acceptance acknowledged
//! before the kill is on the new primary, and no acknowledged code is
//! accepted again. With asynchronous replication an acknowledged
//! acceptance can be lost, and its code accepted again: shown, and what
//! `PostgresStore::require_durability` refuses to start on.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::too_many_lines,
    clippy::arithmetic_side_effects
)]

mod store_support;
mod support;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otpguard::lifecycle::postgres::{Durability, DurabilityPolicy};
use otpguard::lifecycle::{CustomerId, LifecycleConfig, LifecycleError, RequestContext};
use otpguard::{Clock, FixedClock};
use sqlx::postgres::PgPoolOptions;
use store_support::{customer, web, Phone, START, STEP};
use support::pg_lifecycle::{migrated, runtime, Pg};
use support::postgres_server::PostgresServer;
use tokio::net::{TcpListener, TcpStream};

/// A TCP switch on a loopback port, forwarding each new connection to the
/// server it points at now (a virtual address that moves on failover).
struct Switch {
    port: u16,
    target: Arc<AtomicU16>,
}

impl Switch {
    async fn to(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let target = Arc::new(AtomicU16::new(target));
        let to = Arc::clone(&target);
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let port = to.load(Ordering::SeqCst);
                tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(("127.0.0.1", port)).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Self { port, target }
    }

    fn point_at(&self, port: u16) {
        self.target.store(port, Ordering::SeqCst);
    }
}

/// The replication link between the primary and the standby: a TCP
/// forwarder that holds every chunk 50 ms each way (a link to another
/// site), and can be cut, dropping what it holds (the primary's site lost
/// with its network).
struct Link {
    port: u16,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Link {
    const DELAY: Duration = Duration::from_millis(50);

    async fn to(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
        let held = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                    continue;
                };
                let (client_in, client_out) = client.into_split();
                let (server_in, server_out) = server.into_split();
                let mut held = held.lock().unwrap();
                held.extend(Self::delayed(client_in, server_out));
                held.extend(Self::delayed(server_in, client_out));
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { port, tasks }
    }

    /// Forwards `from` to `to`, each chunk `DELAY` after it was read.
    fn delayed(
        mut from: tokio::net::tcp::OwnedReadHalf,
        mut to: tokio::net::tcp::OwnedWriteHalf,
    ) -> [tokio::task::JoinHandle<()>; 2] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (send, mut receive) = tokio::sync::mpsc::unbounded_channel();
        let read = tokio::spawn(async move {
            let mut buffer = vec![0_u8; 64 * 1024];
            while let Ok(n) = from.read(&mut buffer).await {
                if n == 0
                    || send
                        .send((
                            tokio::time::Instant::now(),
                            buffer.get(..n).unwrap_or_default().to_vec(),
                        ))
                        .is_err()
                {
                    break;
                }
            }
        });
        let write = tokio::spawn(async move {
            while let Some((read_at, chunk)) = receive.recv().await {
                tokio::time::sleep_until(read_at + Self::DELAY).await;
                if to.write_all(&chunk).await.is_err() {
                    break;
                }
            }
        });
        [read, write]
    }

    /// Cuts the link: what it holds is lost.
    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

const CUSTOMERS: u32 = 8;

/// The settings of a bank's server that the test servers turn off.
const DURABLE: &[&str] = &["fsync=on", "full_page_writes=on"];

fn phone(i: u32) -> Phone {
    Phone::new(&format!("SN-{i}"), i)
}

/// The backend: a pool through the switch that gives up on a connection
/// after 2 s (and checks each before use, so it drops the dead primary's).
async fn backend(switch: &Switch, clock: &Arc<FixedClock>) -> Arc<Pg> {
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(2))
        .connect(&format!(
            "postgres://postgres@127.0.0.1:{}/postgres",
            switch.port
        ))
        .await
        .unwrap();
    migrated(&pool, LifecycleConfig::default(), clock).await
}

/// How the primary behind `lc` commits, once one standby streams from it
/// (waiting up to 30 s for it).
async fn with_one_standby(lc: &Pg) -> Durability {
    let mut durability = lc.store().durability().await.unwrap();
    for _ in 0..600 {
        if durability.streaming_standbys == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        durability = lc.store().durability().await.unwrap();
    }
    assert_eq!(durability.streaming_standbys, 1, "{durability:?}");
    durability
}

/// Registers every customer.
async fn enrol(lc: &Pg, clock: &FixedClock) {
    for i in 0..CUSTOMERS {
        let c = customer(&format!("c-{i}"));
        lc.submit(
            &c,
            &web(),
            phone(i).register(clock.now()),
            &RequestContext::new(),
        )
        .await
        .unwrap();
    }
}

/// What was acknowledged: each customer's accepted steps.
type Acknowledged = Arc<Mutex<HashMap<u32, Vec<u64>>>>;

/// A storm under way: what it acknowledged, and its tasks.
struct Storm {
    acknowledged: Acknowledged,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Storm {
    /// Stops it, waits until every request in flight has its answer, and
    /// returns what was acknowledged.
    async fn stop(self, stop: &AtomicBool) -> HashMap<u32, Vec<u64>> {
        stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            let ended = tokio::time::timeout(Duration::from_secs(30), task).await;
            assert!(
                matches!(ended, Ok(Ok(()))),
                "a storm task did not end: {ended:?}"
            );
        }
        let acknowledged = self.acknowledged.lock().unwrap().clone();
        acknowledged
    }
}

/// 16 tasks sending the current code of a customer each, while the clock
/// moves a step every 100 ms, until `stop`; every acceptance recorded.
fn storm(lc: &Arc<Pg>, clock: &Arc<FixedClock>, stop: &Arc<AtomicBool>) -> Storm {
    let acknowledged: Acknowledged = Arc::default();
    let mut tasks = Vec::new();
    {
        let (clock, stop) = (Arc::clone(clock), Arc::clone(stop));
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(100)).await;
                clock.advance(STEP);
            }
        }));
    }
    for task in 0..16_u32 {
        let (lc, clock, stop, acknowledged) = (
            Arc::clone(lc),
            Arc::clone(clock),
            Arc::clone(stop),
            Arc::clone(&acknowledged),
        );
        tasks.push(tokio::spawn(async move {
            let i = task % CUSTOMERS;
            let (c, phone) = (customer(&format!("c-{i}")), phone(i));
            while !stop.load(Ordering::SeqCst) {
                let now = clock.now();
                let code = phone.code(now);
                let answer = tokio::time::timeout(
                    Duration::from_secs(5),
                    lc.verify_transaction(&c, &web(), &code, &RequestContext::new()),
                )
                .await;
                match answer {
                    Ok(Ok(proof)) => acknowledged
                        .lock()
                        .unwrap()
                        .entry(i)
                        .or_default()
                        .push(proof.claimed().value()),
                    _ => tokio::time::sleep(Duration::from_millis(5)).await,
                }
            }
        }));
    }
    Storm {
        acknowledged,
        tasks,
    }
}

/// For each customer: whether the new primary holds every acknowledged
/// step (its last step at or past the highest), and each acknowledged
/// code sent again: (acceptances kept, acceptances lost, codes accepted
/// twice).
async fn check(
    lc: &Pg,
    clock: &FixedClock,
    acknowledged: &HashMap<u32, Vec<u64>>,
) -> (usize, usize, usize) {
    let (mut kept, mut lost, mut twice) = (0, 0, 0);
    let now = clock.now();
    for (i, steps) in acknowledged {
        let mut steps = steps.clone();
        steps.sort_unstable();
        let c: CustomerId = customer(&format!("c-{i}"));
        let last = lc
            .store()
            .summary(&c)
            .await
            .unwrap()
            .unwrap()
            .last_step
            .unwrap();
        for step in &steps {
            if *step <= last {
                kept += 1;
            } else {
                lost += 1;
            }
            // The acknowledged code, sent again at its own time.
            clock.set(step * STEP);
            let again = lc
                .verify_transaction(
                    &c,
                    &web(),
                    &phone(*i).code(step * STEP),
                    &RequestContext::new(),
                )
                .await;
            match again {
                Ok(_) => twice += 1,
                Err(LifecycleError::Replayed { .. }) => {}
                Err(e) => panic!("customer {i} step {step}: {e}"),
            }
        }
    }
    clock.set(now);
    (kept, lost, twice)
}

/// A storm of requests through the switch; the primary's site lost (the
/// replication link cut with what it held, the server killed); the
/// standby promoted and the switch turned. Answers (acceptances
/// acknowledged before the kill, kept on the new primary, lost, codes
/// accepted again there).
fn failover_in_a_storm(synchronous: bool) -> (usize, usize, usize, usize) {
    let rt = runtime();
    // Durable, as a bank's servers are (the test servers' default is not).
    let mut primary = PostgresServer::start_with(DURABLE);
    // Commits as a bank's must: durable (the test servers' default is not).
    primary.psql("ALTER DATABASE postgres SET synchronous_commit = on");
    let clock = Arc::new(FixedClock::new(START));
    rt.block_on(async {
        let link = Link::to(primary.port()).await;
        let upstream = format!(
            "primary_conninfo=host=127.0.0.1 port={} user=postgres application_name=standby",
            link.port
        );
        let standby = tokio::task::block_in_place(|| {
            let mut settings = vec![upstream.as_str()];
            settings.extend_from_slice(DURABLE);
            primary.standby(&settings)
        });
        if synchronous {
            primary.psql("ALTER SYSTEM SET synchronous_standby_names = 'standby'");
            primary.psql("SELECT pg_reload_conf()");
        }
        let switch = Switch::to(primary.port()).await;
        let lc = backend(&switch, &clock).await;
        let durability = with_one_standby(&lc).await;
        // The store knows which it is, and refuses the second unless the
        // bank accepts the risk.
        assert_eq!(
            durability.failover_can_lose_commits(),
            !synchronous,
            "{durability:?}"
        );
        let strict = lc
            .store()
            .require_durability(DurabilityPolicy::Strict)
            .await;
        assert_eq!(strict.is_ok(), synchronous, "{strict:?}");
        lc.store()
            .require_durability(DurabilityPolicy::AcceptAsyncReplication)
            .await
            .unwrap();
        enrol(&lc, &clock).await;

        let stop = Arc::new(AtomicBool::new(false));
        let storm = storm(&lc, &clock, &stop);
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        // The moment an acceptance is acknowledged (so that the last ones
        // are still on their way to the standby)...
        let count = || {
            storm
                .acknowledged
                .lock()
                .unwrap()
                .values()
                .map(Vec::len)
                .sum::<usize>()
        };
        let seen = count();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while count() == seen {
            assert!(tokio::time::Instant::now() < deadline, "the storm stalled");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // ... the site is lost: its link first (what it holds never arrives),
        // then the server. Every request in flight fails; the storm stops.
        link.cut();
        tokio::task::block_in_place(|| primary.stop_immediately());
        let acknowledged = storm.stop(&stop).await;
        let before_kill: usize = acknowledged.values().map(Vec::len).sum();
        tokio::task::block_in_place(|| standby.promote());
        switch.point_at(standby.port());
        // The backend's pool finds the new primary: each acknowledged code
        // sent again, each customer's record checked.
        let (kept, lost, twice) = check(&lc, &clock, &acknowledged).await;
        // And it serves: a fresh code of each customer is accepted.
        clock.advance(10 * STEP);
        for i in 0..CUSTOMERS {
            let c = customer(&format!("c-{i}"));
            let code = phone(i).code(clock.now());
            let proof = lc
                .verify_transaction(&c, &web(), &code, &RequestContext::new())
                .await;
            assert!(proof.is_ok(), "after the failover: {proof:?}");
        }
        (before_kill, kept, lost, twice)
    })
}

#[test]
fn synchronous_replication_keeps_every_acknowledged_acceptance_through_a_failover() {
    for trial in 1..=3 {
        let (before_kill, kept, lost, twice) = failover_in_a_storm(true);
        println!(
            "synchronous, trial {trial}: {before_kill} acceptances acknowledged before the \
             kill; {kept} kept, {lost} lost, {twice} codes accepted twice"
        );
        assert!(before_kill >= 8, "too little acknowledged: {before_kill}");
        assert_eq!((kept, lost, twice), (before_kill, 0, 0), "trial {trial}");
    }
}

#[test]
fn asynchronous_replication_loses_the_acceptances_in_flight() {
    // What the link held when it was cut was acknowledged and is gone,
    // and the codes are accepted again. (On a machine slow enough that
    // nothing was in flight at the cut, the trial is run again.)
    for trial in 1..=3 {
        let (before_kill, kept, lost, twice) = failover_in_a_storm(false);
        println!(
            "asynchronous, trial {trial}: {before_kill} acceptances acknowledged before the \
             kill; {kept} kept, {lost} lost, {twice} codes accepted twice"
        );
        assert_eq!(kept + lost, before_kill);
        // A lost acceptance whose later step survived is refused as
        // behind it; the last ones lost are accepted again.
        assert!(twice <= lost, "{twice} > {lost}");
        if lost > 0 {
            assert!(twice > 0, "lost acceptances, none accepted again");
            return;
        }
    }
    panic!("nothing was in flight in three trials");
}

#[test]
fn asynchronous_replication_can_lose_an_acknowledged_acceptance_and_accept_its_code_again() {
    let rt = runtime();
    let primary = PostgresServer::start_with(DURABLE);
    primary.psql("ALTER DATABASE postgres SET synchronous_commit = on");
    let mut standby = primary.standby(DURABLE);
    let mut primary = primary;
    let clock = Arc::new(FixedClock::new(START));
    let (refused, lost, twice) = rt.block_on(async {
        let switch = Switch::to(primary.port()).await;
        let lc = backend(&switch, &clock).await;
        let durability = with_one_standby(&lc).await;
        assert!(durability.failover_can_lose_commits(), "{durability:?}");
        // The store refuses to start on it unless the bank accepts the risk.
        let refused = lc
            .store()
            .require_durability(DurabilityPolicy::Strict)
            .await
            .unwrap_err()
            .to_string();
        lc.store()
            .require_durability(DurabilityPolicy::AcceptAsyncReplication)
            .await
            .unwrap();
        enrol(&lc, &clock).await;
        // Let the standby catch up with the registrations, then lose it
        // for a moment: the primary goes on acknowledging without it.
        // (Caught up: it has replayed the primary's log up to where it is
        // now.)
        let now = tokio::task::block_in_place(|| primary.psql("SELECT pg_current_wal_lsn()"));
        let caught_up = format!("SELECT pg_last_wal_replay_lsn() >= '{now}'::pg_lsn");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::task::block_in_place(|| standby.psql(&caught_up)) != "t" {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the standby never caught up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::task::block_in_place(|| standby.stop());
        clock.advance(STEP);
        let mut acknowledged = HashMap::new();
        for i in 0..CUSTOMERS {
            let c = customer(&format!("c-{i}"));
            let proof = lc
                .verify_transaction(
                    &c,
                    &web(),
                    &phone(i).code(clock.now()),
                    &RequestContext::new(),
                )
                .await
                .unwrap();
            acknowledged.insert(i, vec![proof.claimed().value()]);
        }
        // The primary dies; the standby comes back and is promoted.
        tokio::task::block_in_place(|| {
            primary.stop_immediately();
            standby.restart();
            standby.promote();
        });
        switch.point_at(standby.port());
        let (_kept, lost, twice) = check(&lc, &clock, &acknowledged).await;
        (refused, lost, twice)
    });
    println!(
        "asynchronous: {} acceptances acknowledged while the standby lagged, {lost} lost, \
         {twice} codes accepted twice",
        CUSTOMERS
    );
    assert!(refused.contains("AcceptAsyncReplication"), "{refused}");
    assert_eq!((lost, twice), (CUSTOMERS as usize, CUSTOMERS as usize));
}

/// A server that can lose acknowledged commits in a crash is refused,
/// whatever the policy: the test servers' own settings (fsync off), and a
/// durable server whose database commits asynchronously.
#[test]
fn a_database_that_can_lose_commits_in_a_crash_is_refused() {
    let rt = runtime();
    for (settings, database, at_fault) in [
        (&[][..], "on", "fsync off"),
        (DURABLE, "off", "synchronous_commit is off"),
    ] {
        let pg = PostgresServer::start_with(settings);
        pg.psql(&format!(
            "ALTER DATABASE postgres SET synchronous_commit = {database}"
        ));
        let clock = Arc::new(FixedClock::new(START));
        let refusals = rt.block_on(async {
            let switch = Switch::to(pg.port()).await;
            let lc = backend(&switch, &clock).await;
            let durability = lc.store().durability().await.unwrap();
            assert!(!durability.survives_a_crash(), "{durability:?}");
            let mut refusals = Vec::new();
            for policy in [
                DurabilityPolicy::Strict,
                DurabilityPolicy::AcceptAsyncReplication,
            ] {
                refusals.push(
                    lc.store()
                        .require_durability(policy)
                        .await
                        .unwrap_err()
                        .to_string(),
                );
            }
            refusals
        });
        for refusal in refusals {
            assert!(refusal.contains(at_fault), "{refusal}");
        }
    }
}
