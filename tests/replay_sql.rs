//! The PostgreSQL recipe of `replay::sql`, run as written against a real
//! PostgreSQL server that this test starts (`tests/support/postgres_server.rs`):
//! the upsert claim, its atomicity under concurrent clients, the cleanup job
//! with its skew margin, and why the update-only variant must never be
//! cleaned up.

#![allow(clippy::unwrap_used)]

mod support;

use support::postgres_server::PostgresServer;

const TABLE: &str = "CREATE TABLE otp_replay (
    token     TEXT   PRIMARY KEY,
    last_step BIGINT NOT NULL
)";

/// The recipe's claim: one row affected means fresh.
fn claim_sql(token: &str, step: i64) -> String {
    format!(
        "INSERT INTO otp_replay (token, last_step) VALUES ('{token}', {step})
         ON CONFLICT (token) DO UPDATE SET last_step = EXCLUDED.last_step
             WHERE otp_replay.last_step < EXCLUDED.last_step"
    )
}

/// The recipe's cleanup with period 30 s, two steps behind the window and a
/// margin of one step.
const CLEANUP: &str = "DELETE FROM otp_replay
 WHERE last_step < floor(extract(epoch FROM now()) / 30)::bigint - 2 - 1";

fn current_step(pg: &PostgresServer) -> i64 {
    pg.psql("SELECT floor(extract(epoch FROM now()) / 30)::bigint")
        .parse()
        .unwrap()
}

#[test]
fn the_recipe_holds_on_a_real_server() {
    let pg = PostgresServer::start();
    pg.psql(TABLE);

    // Fresh, replayed, older, newer.
    assert_eq!(pg.affected(&claim_sql("t1", 10)), 1);
    assert_eq!(pg.affected(&claim_sql("t1", 10)), 0);
    assert_eq!(pg.affected(&claim_sql("t1", 9)), 0);
    assert_eq!(pg.affected(&claim_sql("t1", 11)), 1);
    assert_eq!(
        pg.psql("SELECT last_step FROM otp_replay WHERE token = 't1'"),
        "11"
    );

    // Concurrent clients claiming one step: exactly one wins, every trial.
    let trials = 25;
    let clients = 8;
    let mut wins_total = 0;
    for trial in 0..trials {
        let token = format!("race-{trial}");
        let wins: u64 = std::thread::scope(|s| {
            let handles: Vec<_> = (0..clients)
                .map(|_| s.spawn(|| pg.affected(&claim_sql(&token, 1_000))))
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(wins, 1, "trial {trial}: {wins} clients won one step");
        wins_total += wins;
    }
    println!("{trials} trials x {clients} concurrent psql clients: {wins_total} wins");

    // The cleanup deletes only rows no verifiable code can reach, and a
    // claim after it inserts the row again, above the deleted step.
    pg.psql("TRUNCATE otp_replay");
    let now = current_step(&pg);
    pg.psql(&claim_sql("idle", now - 10));
    pg.psql(&claim_sql("recent", now - 2));
    pg.psql(&claim_sql("current", now));
    assert_eq!(pg.affected(CLEANUP), 1, "only the idle token's row goes");
    assert_eq!(
        pg.psql("SELECT count(*) FROM otp_replay WHERE token = 'idle'"),
        "0"
    );
    assert_eq!(
        pg.affected(&claim_sql("recent", now - 2)),
        0,
        "kept rows still refuse replays"
    );
    assert_eq!(
        pg.affected(&claim_sql("idle", now - 1)),
        1,
        "a verifiable code after cleanup is fresh"
    );
    assert_eq!(
        pg.affected(&claim_sql("idle", now - 1)),
        0,
        "and single use again"
    );
}

#[test]
fn the_update_only_variant_must_never_be_cleaned_up() {
    let pg = PostgresServer::start();
    pg.psql(TABLE);
    let claim = |token: &str, step: i64| {
        pg.affected(&format!(
            "UPDATE otp_replay SET last_step = {step} WHERE token = '{token}' AND last_step < {step}"
        ))
    };
    // Registered with its row, the variant works ...
    pg.psql("INSERT INTO otp_replay (token, last_step) VALUES ('reg', -1)");
    assert_eq!(claim("reg", 5), 1);
    assert_eq!(claim("reg", 5), 0);
    // ... but once a cleanup deleted the row, every claim reads as a replay:
    // the reason the recipe cleans up only with the upsert.
    pg.psql("UPDATE otp_replay SET last_step = 0 WHERE token = 'reg'");
    assert_eq!(pg.affected(CLEANUP), 1);
    assert_eq!(claim("reg", current_step(&pg)), 0);
    // The upsert recovers the same token.
    assert_eq!(pg.affected(&claim_sql("reg", current_step(&pg))), 1);
}
