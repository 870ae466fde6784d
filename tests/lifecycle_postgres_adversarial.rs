//! `PostgresStore` against what a hostile or unlucky deployment does, on a
//! real PostgreSQL server: races the contract must turn into conflicts
//! (two first registrations of one customer, a re-seal racing a commit,
//! concurrent migrations), the bank's default isolation level set to
//! repeatable read or serializable, and an application role that tries to
//! rewrite or forge the audit trail.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::arithmetic_side_effects)]

mod store_support;
mod support;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use otpguard::lifecycle::postgres::{PostgresStore, TrailError};
use otpguard::lifecycle::{
    store::TokenStore, CustomerId, Lifecycle, LifecycleConfig, LifecycleError,
};
use otpguard::seal::{KeyId, Keyring};
use otpguard::{Clock, FixedClock};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use store_support::{ctx, customer, web, Phone, START, STEP};
use support::pg_lifecycle::{keys, lifecycle, migrated, race_tasks, register, with_server};
use support::postgres_server::PostgresServer;

/// A pool on `pg` as `user`, with extra session settings (startup options).
async fn pool_as(pg: &PostgresServer, user: &str, settings: &[(&str, &str)]) -> PgPool {
    let url = format!("postgres://{user}@127.0.0.1:{}/postgres", pg.port());
    // sqlx does not escape the startup options: a space needs a backslash.
    let escaped: Vec<(&str, String)> = settings
        .iter()
        .map(|(k, v)| (*k, v.replace(' ', "\\ ")))
        .collect();
    let options = PgConnectOptions::from_str(&url)
        .unwrap()
        .options(escaped.iter().map(|(k, v)| (*k, v.as_str())));
    PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .unwrap()
}

/// The statement a concurrent commit of `customer`'s record would run: the
/// row moved on one version, tagged as the library tags it.
async fn moved_on(
    store: &PostgresStore,
    customer: &CustomerId,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    let mut row = store.load_sealed(customer).await.unwrap().unwrap();
    row.version += 1;
    let row = row.tagged(customer, &keys()).unwrap();
    sqlx::query(
        "UPDATE otpguard_token_records SET version = $2, record_tag = $3 WHERE customer_id = $1",
    )
    .bind(customer.as_str().to_owned())
    .bind(i64::try_from(row.version).unwrap())
    .bind(row.tag.unwrap().to_bytes().to_vec())
}

async fn pool(pg: &PostgresServer, settings: &[(&str, &str)]) -> PgPool {
    pool_as(pg, "postgres", settings).await
}

/// Waits until `n` sessions wait on `what` (`wait_event` name).
fn wait_for(pg: &PostgresServer, condition: &str, n: usize) {
    let sql = format!("SELECT count(*) FROM pg_stat_activity WHERE {condition}");
    for _ in 0..1000 {
        if pg.psql(&sql) == n.to_string() {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("never saw {n} sessions with {condition}");
}

// ---------------------------------------------------------------------------
// 1. Two first commits of the SAME customer racing (a double submit of
//    Register). ON CONFLICT (customer_id) DO NOTHING arbitrates the primary
//    key; the loser must answer a conflict, not a store error. The window
//    (between the ON CONFLICT pre-check and the index insertions) is
//    widened here with a pausing expression index evaluated before the
//    primary key (the primary key is re-created so it sorts after it);
//    nothing else in the schema changes.
// ---------------------------------------------------------------------------

#[test]
fn double_register_of_one_customer_is_a_conflict_not_a_store_error() {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let fast = migrated(&pool(pg, &[]).await, LifecycleConfig::default(), &clock).await;
        pg.psql(
            "CREATE FUNCTION test_pause(t text) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
             BEGIN
               PERFORM pg_sleep(coalesce(nullif(current_setting('test.pause', true), ''), '0')::float8);
               RETURN t;
             END $$;
             CREATE INDEX test_pause_idx ON otpguard_token_records (test_pause(customer_id));
             ALTER TABLE otpguard_token_records DROP CONSTRAINT otpguard_token_records_pkey,
                 ADD CONSTRAINT otpguard_token_records_pkey PRIMARY KEY (customer_id);",
        );
        let pause = [("test.pause", "2")];
        let slow = lifecycle(&pool(pg, &pause).await, LifecycleConfig::default(), &clock);
        let alice = customer("alice");
        let phone = Phone::new("SN-A", 1);
        let first = {
            let (slow, alice, phone, now) =
                (Arc::clone(&slow), alice.clone(), phone.clone(), clock.now());
            tokio::spawn(async move { register(&slow, &alice, phone.register(now)).await })
        };
        // The slow request has passed its ON CONFLICT pre-check and pauses.
        let sleeping = "wait_event = 'PgSleep'";
        tokio::task::block_in_place(|| wait_for(pg, sleeping, 1));
        // The same request again, through another process: it wins.
        register(&fast, &alice, phone.register(clock.now()))
            .await
            .unwrap();
        let second = first.await.unwrap();
        assert!(
            !matches!(second, Err(LifecycleError::Store(_))),
            "the loser of a same-customer race must be decided again (a conflict), got {second:?}"
        );
    });
}

// ---------------------------------------------------------------------------
// 3. `migrate` from two processes at once, with the bank's default
//    isolation at read committed and at repeatable read (where a snapshot
//    taken before the lock is granted would hide the first one's ledger).
// ---------------------------------------------------------------------------

fn concurrent_migrate(isolation: &str) {
    with_server(async |pg| {
        let settings = [("default_transaction_isolation", isolation)];
        let a = PostgresStore::new(pool(pg, &settings).await, keys());
        let b = PostgresStore::new(pool(pg, &settings).await, keys());
        // Hold the migration lock so both processes queue behind it.
        let holder = pool(pg, &[]).await;
        let mut tx = holder.begin().await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(0x006f_7470_6775_6172_i64)
            .execute(&mut *tx)
            .await
            .unwrap();
        let watcher = pool(pg, &[]).await;
        let release = async {
            loop {
                let n: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'advisory'",
                )
                .fetch_one(&watcher)
                .await
                .unwrap();
                if n == 2 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            tx.commit().await.unwrap();
        };
        let (ra, rb, ()) = tokio::join!(a.migrate(), b.migrate(), release);
        assert!(
            ra.is_ok() && rb.is_ok(),
            "concurrent migrate under {isolation}: {ra:?} / {rb:?}"
        );
    });
}

/// `migrate()` can run in a spawned task (its future is `Send`).
#[test]
fn migrate_runs_in_a_spawned_task() {
    with_server(async |pg| {
        let store = Arc::new(PostgresStore::new(pool(pg, &[]).await, keys()));
        let task = tokio::spawn({
            let store = Arc::clone(&store);
            async move { store.migrate().await }
        });
        task.await.unwrap().unwrap();
    });
}

#[test]
fn concurrent_migrate_read_committed() {
    concurrent_migrate("read committed");
}

#[test]
fn concurrent_migrate_repeatable_read() {
    concurrent_migrate("repeatable read");
}

// ---------------------------------------------------------------------------
// 4. Refusals and updates decided on a version a concurrent commit replaces
//    while they wait: the FOR SHARE / UPDATE re-check must make them
//    conflict, and the retry must audit them on the newer version. Under
//    each default isolation a bank may set.
// ---------------------------------------------------------------------------

fn decided_on_a_version_replaced_meanwhile(isolation: &str) {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let settings = [("default_transaction_isolation", isolation)];
        let backend = pool(pg, &settings).await;
        let lc = migrated(&backend, LifecycleConfig::default(), &clock).await;
        let alice = customer("alice");
        let phone = Phone::new("SN-A", 1);
        register(&lc, &alice, phone.register(clock.now()))
            .await
            .unwrap();
        clock.advance(STEP);
        let code = phone.code(clock.now());
        let _proof = lc
            .verify_transaction(&alice, &web(), &code, &ctx())
            .await
            .unwrap(); // version 2

        // (a) a replay (refusal, no record) decided on 2, while another
        // session moves the row to 3; (b) a wrong code (an update) decided
        // on 3 while another session moves it to 4.
        for (attempt, expected_row_version) in
            [(code.clone(), 3_i64), (phone.wrong_code(clock.now(), 0), 4)]
        {
            let raw = pool(pg, &[]).await;
            let moved = moved_on(lc.store(), &alice).await;
            let mut tx = raw.begin().await.unwrap();
            moved.execute(&mut *tx).await.unwrap();
            let request = {
                let (lc, alice, attempt) = (Arc::clone(&lc), alice.clone(), attempt.clone());
                tokio::spawn(async move {
                    lc.verify_transaction(&alice, &web(), &attempt, &ctx())
                        .await
                })
            };
            tokio::task::block_in_place(|| wait_for(pg, "wait_event_type = 'Lock'", 1));
            tx.commit().await.unwrap();
            let answer = request.await.unwrap();
            assert!(
                matches!(
                    answer,
                    Err(LifecycleError::Replayed { .. } | LifecycleError::WrongCode { .. })
                ),
                "{isolation}: {answer:?}"
            );
            let last: (i64, String) = sqlx::query_as(
                "SELECT version, outcome FROM otpguard_audit WHERE customer_id = 'alice' ORDER BY id DESC LIMIT 1",
            )
            .fetch_one(lc.store().pool())
            .await
            .unwrap();
            let committed: i64 = sqlx::query_scalar(
                "SELECT version FROM otpguard_token_records WHERE customer_id = 'alice'",
            )
            .fetch_one(lc.store().pool())
            .await
            .unwrap();
            if matches!(answer, Err(LifecycleError::Replayed { .. })) {
                assert_eq!(
                    last.0, expected_row_version,
                    "{isolation}: replay audited on the committed version"
                );
                assert_eq!(committed, expected_row_version);
            } else {
                assert_eq!(
                    last.0,
                    expected_row_version + 1,
                    "{isolation}: wrong code audited on its new version"
                );
                assert_eq!(committed, expected_row_version + 1);
            }
            let rows: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM otpguard_audit WHERE customer_id = 'alice'",
            )
            .fetch_one(lc.store().pool())
            .await
            .unwrap();
            assert!(rows >= 3);
        }
    });
}

#[test]
fn recheck_read_committed() {
    decided_on_a_version_replaced_meanwhile("read committed");
}

#[test]
fn recheck_repeatable_read() {
    decided_on_a_version_replaced_meanwhile("repeatable read");
}

#[test]
fn recheck_serializable() {
    decided_on_a_version_replaced_meanwhile("serializable");
}

// ---------------------------------------------------------------------------
// 5. The append-only audit table against a NON-superuser application role.
// ---------------------------------------------------------------------------

/// The documented setup: the owner migrates, the application role has only
/// the grants of the module docs. It cannot switch the trigger off, replace
/// its function, drop it, drop the table, or change rows.
#[test]
fn least_privilege_app_role_cannot_rewrite_the_audit() {
    with_server(async |pg| {
        let app = least_privilege(pg).await;
        let mut bypasses = Vec::new();
        for (name, sql) in [
            (
                "ALTER TABLE … DISABLE TRIGGER",
                "ALTER TABLE otpguard_audit DISABLE TRIGGER USER; \
                 DELETE FROM otpguard_audit",
            ),
            (
                "CREATE OR REPLACE FUNCTION",
                "CREATE OR REPLACE FUNCTION otpguard_audit_append_only() RETURNS trigger \
                 LANGUAGE plpgsql AS $$ BEGIN IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; \
                 RETURN NEW; END $$; \
                 UPDATE otpguard_audit SET outcome = 'refused'",
            ),
            ("DROP TRIGGER", "DROP TRIGGER otpguard_audit_no_update_or_delete ON otpguard_audit; DELETE FROM otpguard_audit"),
            ("DROP TABLE", "DROP TABLE otpguard_audit"),
            ("UPDATE", "UPDATE otpguard_audit SET outcome = 'refused'"),
            ("DELETE", "DELETE FROM otpguard_audit"),
            ("TRUNCATE", "TRUNCATE otpguard_audit"),
        ] {
            let mut tx = app.begin().await.unwrap();
            if sqlx::raw_sql(sql).execute(&mut *tx).await.is_ok() {
                bypasses.push(name);
            }
            tx.rollback().await.unwrap();
        }
        assert!(
            bypasses.is_empty(),
            "the application role rewrote the audit with: {bypasses:?}"
        );
        // And it runs the lifecycle.
        let clock = Arc::new(FixedClock::new(START + 30));
        let lc = lifecycle(&app, LifecycleConfig::default(), &clock);
        let _proof = lc
            .verify_transaction(
                &customer("alice"),
                &web(),
                &Phone::new("SN-A", 1).code(clock.now()),
                &ctx(),
            )
            .await
            .unwrap();
    });
}

/// The least-privilege setup a DBA would insist on: the owner (here the
/// superuser) migrates; the application role gets SELECT, INSERT, UPDATE on
/// the records and SELECT, INSERT on the audit table only.
async fn least_privilege(pg: &PostgresServer) -> PgPool {
    let clock = Arc::new(FixedClock::new(START));
    let owner = migrated(&pool(pg, &[]).await, LifecycleConfig::default(), &clock).await;
    let phone = Phone::new("SN-A", 1);
    register(&owner, &customer("alice"), phone.register(clock.now()))
        .await
        .unwrap();
    pg.psql(
        "CREATE ROLE bankapp LOGIN NOSUPERUSER;
         GRANT SELECT, INSERT, UPDATE ON otpguard_token_records TO bankapp;
         GRANT SELECT, INSERT ON otpguard_audit TO bankapp;
         GRANT USAGE ON SEQUENCE otpguard_audit_id TO bankapp;
         GRANT SELECT ON otpguard_audit_floors, otpguard_audit_heads TO bankapp;
         GRANT SELECT ON otpguard_schema_migrations TO bankapp;",
    );
    pool_as(pg, "bankapp", &[]).await
}

/// A pool as the application's role whose search path puts its own
/// schema `evil` first, with the functions and operators `definitions`
/// creates there (run as that role).
async fn evil_first(pg: &PostgresServer, app: &PgPool, definitions: &str) -> PgPool {
    pg.psql("CREATE SCHEMA evil AUTHORIZATION bankapp");
    sqlx::raw_sql(definitions).execute(app).await.unwrap();
    pool_as(pg, "bankapp", &[("search_path", "evil,pg_catalog,public")]).await
}

/// INSERT with a chosen id (`OVERRIDING SYSTEM VALUE`) and date: the
/// database numbers and dates the row itself, so it sorts after every row
/// already there.
#[test]
fn least_privilege_app_role_cannot_backdate_audit_rows() {
    with_server(async |pg| {
        let app = least_privilege(pg).await;
        let before: i64 = sqlx::query_scalar("SELECT max(id) FROM otpguard_audit")
            .fetch_one(&app)
            .await
            .unwrap();
        let forge = |link: &str| {
            format!(
                "INSERT INTO otpguard_audit (id, customer_id, version, seq, at, recorded_at, \
                 actor, event, from_state, to_state, outcome, reason, reason_code, link, chain) \
                 SELECT -1, 'alice', 1, 0, 1, '2001-01-01', 'Operator', 'Register', \
                 'Unregistered', 'Active', 'accepted', 'forged', 'applied', {link}, \
                 decode(repeat('02', 37), 'hex')"
            )
        };
        // A row at a position that does not follow the customer's head is
        // refused.
        let skipped = sqlx::query(&forge("1000")).execute(&app).await;
        assert!(
            matches!(&skipped, Err(sqlx::Error::Database(e))
                if e.constraint() == Some("otpguard_audit_heads")),
            "{skipped:?}"
        );
        // The heads are the trigger's alone to write (the loads read them).
        for sql in [
            "UPDATE otpguard_audit_heads SET link = 1",
            "UPDATE otpguard_audit_heads SET version = 1",
            "DELETE FROM otpguard_audit_heads",
            "INSERT INTO otpguard_audit_heads (customer_id, link) VALUES ('mallory', 1)",
        ] {
            let denied = sqlx::query(sql).execute(&app).await;
            assert!(
                matches!(&denied, Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42501")),
                "{sql}: {denied:?}"
            );
        }
        sqlx::query(&forge(
            "(SELECT max(link) + 1 FROM otpguard_audit WHERE customer_id = 'alice')",
        ))
        .execute(&app)
        .await
        .unwrap();
        let (id, recent): (i64, bool) = sqlx::query_as(
            "SELECT id, recorded_at > now() - interval '1 minute' FROM otpguard_audit \
             WHERE reason = 'forged'",
        )
        .fetch_one(&app)
        .await
        .unwrap();
        assert!(
            id > before && recent,
            "the row kept its chosen id {id} or date"
        );
        // And the row does not pass for one the library wrote.
        let verified = PostgresStore::new(app, keys())
            .verify_audit(&customer("alice"), None)
            .await;
        assert!(
            matches!(verified, Err(TrailError::Broken { .. })),
            "{verified:?}"
        );
    });
}

/// The stamping trigger runs with its owner's rights, so it names every
/// operator with `pg_catalog`: an application role that puts an operator
/// of its own first on its search path changes nothing the trigger does
/// (unqualified, `NEW.link - 1` would be 0 here, and the head never move).
#[test]
fn the_stamping_trigger_ignores_operators_the_caller_puts_first() {
    with_server(async |pg| {
        let app = least_privilege(pg).await;
        let hijacked = evil_first(
            pg,
            &app,
            "CREATE FUNCTION evil.minus(bigint, integer) RETURNS bigint LANGUAGE sql \
             AS 'SELECT 0::bigint'; \
             CREATE OPERATOR evil.- (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = evil.minus)",
        )
        .await;
        let minus: i64 = sqlx::query_scalar("SELECT 5::bigint - 1")
            .fetch_one(&hijacked)
            .await
            .unwrap();
        assert_eq!(minus, 0, "the session's own operator is in effect");
        let clock = Arc::new(FixedClock::new(START + 30));
        let lc = lifecycle(&hijacked, LifecycleConfig::default(), &clock);
        let alice = customer("alice");
        let _proof = lc
            .verify_transaction(
                &alice,
                &web(),
                &Phone::new("SN-A", 1).code(clock.now()),
                &ctx(),
            )
            .await
            .unwrap();
        assert_eq!(
            pg.psql("SELECT link FROM otpguard_audit_heads WHERE customer_id = 'alice'"),
            pg.psql("SELECT max(link) FROM otpguard_audit WHERE customer_id = 'alice'")
        );
        PostgresStore::new(hijacked, keys())
            .verify_audit(&alice, None)
            .await
            .unwrap();
    });
}

/// `migrate()` at every start, as the least-privilege role: on a current
/// schema it only reads the ledger.
#[test]
fn migrate_at_start_works_for_a_least_privilege_app_role() {
    with_server(async |pg| {
        let app = least_privilege(pg).await;
        let migrated = PostgresStore::new(app, keys()).migrate().await;
        assert!(
            migrated.is_ok(),
            "migrate() on a current schema, as the app role: {migrated:?}"
        );
    });
}

/// The same-customer double Register race on the real schema, no
/// instrumentation: many trials, counting store errors.
/// Timing-dependent (may pass on a given run when the window is missed).
#[test]
fn double_register_race_uninstrumented() {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let a = migrated(&pool(pg, &[]).await, LifecycleConfig::default(), &clock).await;
        let b = lifecycle(&pool(pg, &[]).await, LifecycleConfig::default(), &clock);
        let mut wrong = Vec::new();
        for n in 0..400u32 {
            let c = customer(&format!("c-{n}"));
            let phone = Phone::new(&format!("SN-{n}"), n);
            // The first through `a`, the second through `b`.
            let answers = race_tasks(&a, &b, 2, |lc, _| {
                let (c, event) = (c.clone(), phone.register(clock.now()));
                async move { register(&lc, &c, event).await }
            })
            .await;
            for answer in answers {
                if matches!(answer, Err(LifecycleError::Store(_))) {
                    wrong.push((n, format!("{answer:?}")));
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of 400 same-customer races answered a store error: {:?}",
            wrong.len(),
            wrong.first()
        );
    });
}

// ---------------------------------------------------------------------------
// 6. The re-seal pass racing a commit: the row is counted
//    `changed_meanwhile`, whether the race shows as zero rows (read
//    committed) or as a serialization failure (repeatable read).
// ---------------------------------------------------------------------------

fn reseal_racing_a_commit(isolation: &str) {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = migrated(&pool(pg, &[]).await, LifecycleConfig::default(), &clock).await;
        for n in 0..3 {
            let (c, phone) = (
                customer(&format!("c-{n}")),
                Phone::new(&format!("SN-{n}"), n),
            );
            register(&lc, &c, phone.register(clock.now()))
                .await
                .unwrap();
        }
        let rotated = Keyring::new(KeyId(1), &[0x11; 32])
            .unwrap()
            .rotate_to(KeyId(2), &[0x22; 32])
            .unwrap();
        let settings = [("default_transaction_isolation", isolation)];
        let resealer = Arc::new(PostgresStore::new(pool(pg, &settings).await, rotated));
        let raw = pool(pg, &[]).await;
        let moved = moved_on(lc.store(), &customer("c-0")).await;
        let mut tx = raw.begin().await.unwrap();
        moved.execute(&mut *tx).await.unwrap();
        let pass = {
            let resealer = Arc::clone(&resealer);
            tokio::spawn(async move { resealer.reseal(KeyId(1), 10).await })
        };
        tokio::task::block_in_place(|| wait_for(pg, "wait_event_type = 'Lock'", 1));
        tx.commit().await.unwrap();
        let done = pass.await.unwrap();
        let done = done.unwrap_or_else(|e| panic!("{isolation}: the re-seal pass aborted: {e}"));
        assert_eq!(
            (done.resealed, done.changed_meanwhile),
            (2, 1),
            "{isolation}"
        );
    });
}

#[test]
fn reseal_racing_a_commit_read_committed() {
    reseal_racing_a_commit("read committed");
}

#[test]
fn reseal_racing_a_commit_repeatable_read() {
    reseal_racing_a_commit("repeatable read");
}

// ---------------------------------------------------------------------------
// 7. A process still configured with the old primary (a rolling deploy, an
//    operator running the pass from an old config) cannot retire its own
//    primary: the rows stay under the new key.
// ---------------------------------------------------------------------------

#[test]
fn reseal_never_moves_rows_back_to_an_older_key() {
    with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let rotated = Keyring::new(KeyId(1), &[0x11; 32])
            .unwrap()
            .rotate_to(KeyId(2), &[0x22; 32])
            .unwrap();
        let store = PostgresStore::new(pool(pg, &[]).await, rotated);
        store.migrate().await.unwrap();
        let lc = Lifecycle::new(LifecycleConfig::default(), store, Arc::clone(&clock));
        let phone = Phone::new("SN-A", 1);
        register(&lc, &customer("alice"), phone.register(clock.now()))
            .await
            .unwrap();
        assert_eq!(
            pg.psql("SELECT sealed_with FROM otpguard_token_records"),
            "{2}"
        );
        let old_config = PostgresStore::new(
            lc.store().pool().clone(),
            Keyring::new(KeyId(1), &[0x11; 32])
                .unwrap()
                .with_key(KeyId(2), &[0x22; 32])
                .unwrap(),
        );
        let refused = old_config.reseal(KeyId(1), 10).await;
        assert!(refused.is_err(), "{refused:?}");
        assert_eq!(
            pg.psql("SELECT sealed_with FROM otpguard_token_records"),
            "{2}",
            "a pass with an older primary re-sealed rows back under the old key"
        );
        let _ = lc.store().load(&customer("alice")).await.unwrap();
    });
}

/// Every row rule of the record and audit tables (schema 14 checks them in
/// triggers, not CHECK constraints) still refuses a row that breaks it,
/// with the SQLSTATE and constraint name its constraint had, and leaves
/// the row as it was. Written by the application's role with a search path
/// that puts its own operators and functions first, each made to pass
/// every rule: the rules name pg_catalog's.
#[test]
fn every_row_rule_refuses_a_row_that_breaks_it() {
    with_server(async |pg| {
        let app = least_privilege(pg).await;
        let hijacked = evil_first(
            pg,
            &app,
            "CREATE FUNCTION evil.yes(bigint, integer) RETURNS boolean LANGUAGE sql \
             AS 'SELECT true'; \
             CREATE FUNCTION evil.yes_bool(boolean, boolean) RETURNS boolean LANGUAGE sql \
             AS 'SELECT true'; \
             CREATE FUNCTION evil.yes_text(text, text) RETURNS boolean LANGUAGE sql \
             AS 'SELECT true'; \
             CREATE FUNCTION evil.octet_length(bytea) RETURNS integer LANGUAGE sql \
             AS 'SELECT 37'; \
             CREATE OPERATOR evil.> (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = evil.yes); \
             CREATE OPERATOR evil.>= (LEFTARG = bigint, RIGHTARG = integer, FUNCTION = evil.yes); \
             CREATE OPERATOR evil.= (LEFTARG = boolean, RIGHTARG = boolean, FUNCTION = evil.yes_bool); \
             CREATE OPERATOR evil.~~ (LEFTARG = text, RIGHTARG = text, FUNCTION = evil.yes_text)",
        )
        .await;
        let passes: bool = sqlx::query_scalar("SELECT -1::bigint >= 0 AND true = false")
            .fetch_one(&hijacked)
            .await
            .unwrap();
        assert!(passes, "the session's own operators are in effect");

        let record = |set: &str| {
            format!("UPDATE otpguard_token_records SET {set} WHERE customer_id = 'alice'")
        };
        let token_cleared = "token_id = NULL, token_serial = NULL, token_secret = NULL, \
             token_algorithm = NULL, token_last_step = NULL, token_drift = NULL, \
             token_drift_estimate = '{0,0,0,0,0,0}'";
        let enrollment = "enrollment_secret = '\\x00', enrollment_deadline = 1";
        let signing = "'OCRA-1:HOTP-SHA1-6:QN08'";
        let records = [
            (
                "version = 0".to_owned(),
                "otpguard_token_records_version_check",
            ),
            ("token_serial = NULL".to_owned(), "otpguard_token_complete"),
            (
                "token_id = '\\x00'".to_owned(),
                "otpguard_token_records_token_id_check",
            ),
            (
                "token_algorithm = 'MD5'".to_owned(),
                "otpguard_token_records_token_algorithm_check",
            ),
            (
                "token_digits = 9".to_owned(),
                "otpguard_token_records_token_digits_check",
            ),
            (
                "token_period = 0".to_owned(),
                "otpguard_token_records_token_period_check",
            ),
            (
                "token_t0 = -1".to_owned(),
                "otpguard_token_records_token_t0_check",
            ),
            (
                "token_last_step = -1".to_owned(),
                "otpguard_token_records_token_last_step_check",
            ),
            (
                "token_drift_estimate = '{0,0,0}'".to_owned(),
                "otpguard_token_records_token_drift_estimate_check",
            ),
            (
                "token_drift_estimate = '{0,5,1,0,0,0}'".to_owned(),
                "otpguard_token_records_token_drift_estimate_check",
            ),
            (
                token_cleared.to_owned(),
                "otpguard_drift_estimate_with_token",
            ),
            ("swap_started_at = 1".to_owned(), "otpguard_swap_complete"),
            (
                "enrollment_secret = '\\x00'".to_owned(),
                "otpguard_enrollment_complete",
            ),
            (
                format!("{enrollment}, enrollment_algorithm = 'MD5'"),
                "otpguard_token_records_enrollment_algorithm_check",
            ),
            (
                "enrollment_digits = 5".to_owned(),
                "otpguard_token_records_enrollment_digits_check",
            ),
            (
                "enrollment_period = 0".to_owned(),
                "otpguard_token_records_enrollment_period_check",
            ),
            (
                "enrollment_t0 = -1".to_owned(),
                "otpguard_token_records_enrollment_t0_check",
            ),
            (
                "failures = -1".to_owned(),
                "otpguard_token_records_failures_check",
            ),
            (
                "throttled_until = -1".to_owned(),
                "otpguard_token_records_throttled_until_check",
            ),
            ("record_tag = NULL".to_owned(), "otpguard_record_tagged"),
            (
                "record_tag = '\\x00'".to_owned(),
                "otpguard_token_records_record_tag_check",
            ),
            (
                "token_signing_suite = 'HOTP-SHA1-6'".to_owned(),
                "otpguard_token_records_token_signing_suite_check",
            ),
            (
                "token_last_signature = -1".to_owned(),
                "otpguard_token_records_token_last_signature_check",
            ),
            (
                "enrollment_signing_suite = 'HOTP-SHA1-6'".to_owned(),
                "otpguard_token_records_enrollment_signing_suite_check",
            ),
            (
                "token_last_signature = 5".to_owned(),
                "otpguard_signing_with_token",
            ),
            (
                format!("enrollment_signing_suite = {signing}"),
                "otpguard_signing_with_enrollment",
            ),
            (
                "token_signed_in_step = '\\x00'".to_owned(),
                "otpguard_token_records_token_signed_in_step_check",
            ),
            (
                "token_signed_in_step = decode(repeat('00', 32), 'hex')".to_owned(),
                "otpguard_signed_in_step_with_signature",
            ),
        ];
        let row = || pg.psql("SELECT otpguard_token_records::text FROM otpguard_token_records");
        let before = row();
        for (set, rule) in &records {
            // As an update of alice's row, and as a new row (a copy of
            // hers under another id).
            for sql in [
                record(set),
                format!(
                    "CREATE TEMP TABLE copy AS SELECT * FROM otpguard_token_records \
                     WHERE customer_id = 'alice'; \
                     UPDATE copy SET customer_id = 'copy', {set}; \
                     INSERT INTO otpguard_token_records SELECT * FROM copy"
                ),
            ] {
                let refused = sqlx::raw_sql(&sql).execute(&hijacked).await;
                assert!(
                    matches!(&refused, Err(sqlx::Error::Database(e))
                        if e.code().as_deref() == Some("23514")
                            && e.constraint() == Some(*rule)
                            && e.message().contains("violates check constraint")),
                    "{sql}: {refused:?}"
                );
                // A temporary table lives as long as its connection.
                sqlx::raw_sql("DROP TABLE IF EXISTS copy")
                    .execute(&hijacked)
                    .await
                    .unwrap();
            }
        }
        assert_eq!(records.len(), 28, "every rule of the record table");
        assert_eq!(row(), before, "no rule let a row change or in");

        // An audit row that breaks no rule, then each rule broken.
        let audit_row = |overrides: &[(&str, &str)]| {
            let mut columns = vec![
                ("customer_id", "'forged'"),
                ("version", "1"),
                ("seq", "0"),
                ("at", "0"),
                ("actor", "'System'"),
                ("event", "'VerifyTransaction'"),
                ("from_state", "'Active'"),
                ("to_state", "'Active'"),
                ("outcome", "'refused'"),
                ("reason", "'forged'"),
                ("reason_code", "'forged'"),
                ("link", "1"),
                ("chain", "decode(repeat('02', 37), 'hex')"),
            ];
            for (column, value) in overrides {
                match columns.iter_mut().find(|(c, _)| c == column) {
                    Some(entry) => entry.1 = value,
                    None => columns.push((column, value)),
                }
            }
            let (names, values): (Vec<_>, Vec<_>) = columns.into_iter().unzip();
            format!(
                "INSERT INTO otpguard_audit ({}) VALUES ({})",
                names.join(", "),
                values.join(", ")
            )
        };
        let audit_rows = || pg.psql("SELECT count(*) FROM otpguard_audit");
        let rows_before = audit_rows();
        let digest = |n: usize| format!("decode(repeat('02', {n}), 'hex')");
        let (short_chain, short_digest, digest32) = (digest(36), digest(31), digest(32));
        for (overrides, rule) in [
            (vec![("reason_code", "NULL")], "otpguard_audit_linked"),
            (vec![("link", "NULL")], "otpguard_audit_linked"),
            (vec![("link", "0")], "otpguard_audit_link_check"),
            (
                vec![("chain", short_chain.as_str())],
                "otpguard_audit_chain_check",
            ),
            (vec![("drift_from", "1")], "otpguard_audit_drift_complete"),
            (vec![("outcome", "'maybe'")], "otpguard_audit_outcome_check"),
            (vec![("notice", "'Nope'")], "otpguard_audit_notice_check"),
            (
                vec![
                    ("event", "'SignTransaction'"),
                    ("transaction_digest", short_digest.as_str()),
                ],
                "otpguard_audit_transaction_digest_check",
            ),
            (
                vec![("transaction_digest", digest32.as_str())],
                "otpguard_digest_of_a_signature",
            ),
        ] {
            let sql = audit_row(&overrides);
            let refused = sqlx::query(&sql).execute(&hijacked).await;
            assert!(
                matches!(&refused, Err(sqlx::Error::Database(e))
                    if e.code().as_deref() == Some("23514")
                        && e.constraint() == Some(rule)
                        && e.message().contains("violates check constraint")),
                "{sql}: {refused:?}"
            );
        }
        assert_eq!(audit_rows(), rows_before, "no rule let a row in");
        // The same row breaking no rule is written.
        sqlx::query(&audit_row(&[]))
            .execute(&hijacked)
            .await
            .unwrap();
        assert_eq!(
            pg.psql("SELECT count(*) FROM otpguard_audit WHERE customer_id = 'forged'"),
            "1"
        );
    });
}

/// A type of its own in the session's temporary schema (searched first
/// for types) does not reach the triggers: the stamping trigger runs with
/// its owner's rights, so a type it took from the caller's `pg_temp`
/// would run the caller's code with them. (The caller's own statements
/// may take it: the domain's check lets the caller's own rights pass.)
#[test]
fn a_temporary_type_does_not_reach_the_triggers() {
    with_server(async |pg| {
        let _app = least_privilege(pg).await;
        let clock = Arc::new(FixedClock::new(START + 30));
        // One connection: the temporary schema is the session's.
        let fresh = PgPoolOptions::new()
            .max_connections(1)
            .connect(&format!(
                "postgres://bankapp@127.0.0.1:{}/postgres",
                pg.port()
            ))
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE FUNCTION pg_temp.hijacked(pg_catalog.text) RETURNS boolean \
             LANGUAGE plpgsql AS 'BEGIN \
             IF current_user OPERATOR(pg_catalog.<>) ''bankapp'' THEN \
             RAISE EXCEPTION ''hijacked: running as %'', current_user; END IF; \
             RETURN true; END'; \
             CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.hijacked(VALUE))",
        )
        .execute(&fresh)
        .await
        .unwrap();
        let lc = lifecycle(&fresh, LifecycleConfig::default(), &clock);
        let alice = customer("alice");
        let answer = lc
            .verify_transaction(
                &alice,
                &web(),
                &Phone::new("SN-A", 1).code(clock.now()),
                &ctx(),
            )
            .await;
        assert!(answer.is_ok(), "{answer:?}");
        PostgresStore::new(fresh, keys())
            .verify_audit(&alice, None)
            .await
            .unwrap();
    });
}
