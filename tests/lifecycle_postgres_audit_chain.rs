//! The audit trail is tamper-evident: every row is linked to the one
//! before it under the sealing keys, so the table's owner (who can disable
//! the append-only trigger) cannot delete, edit, re-order or insert a row
//! without `verify_audit` reporting the first broken link at its place. A
//! checkpoint kept outside the database shows a trail cut back or
//! restored. Against a real PostgreSQL server.

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used, clippy::panic, clippy::too_many_lines)]

mod store_support;
mod support;

use std::sync::Arc;
use std::time::Duration;

use otpguard::lifecycle::audit::{BrokenLink, Checkpoint};
use otpguard::lifecycle::{CustomerId, LifecycleConfig, LifecycleError};
use otpguard::{Clock, FixedClock};
use store_support::{ctx, customer, web, Phone, START, STEP};
use support::pg_lifecycle::{
    accept, as_owner, audit_rows, backend_on, broken, migrated, pool_on, race_tasks, register, Pg,
};
use support::postgres_server::PostgresServer;

/// Rows the journey leaves: a registration, three rounds of an accepted
/// code, a wrong code and a replay, and a last accepted code.
const JOURNEY_ROWS: u64 = 11;

/// The journey: positions 1 (Register), then 2/3/4, 5/6/7, 8/9/10
/// (accepted, wrong code, replay), then 11 (accepted). Returns the phone.
async fn journey(lc: &Pg, clock: &FixedClock, c: &CustomerId, seed: u32) -> Phone {
    let phone = Phone::new(&format!("SN-{seed}"), seed);
    register(lc, c, phone.register(clock.now())).await.unwrap();
    for round in 0..3 {
        clock.advance(STEP);
        let code = phone.code(clock.now());
        accept(lc, c, &code).await;
        let wrong = phone.wrong_code(clock.now(), round);
        let answer = lc.verify_transaction(c, &web(), &wrong, &ctx()).await;
        assert!(matches!(answer, Err(LifecycleError::WrongCode { .. })));
        let again = lc.verify_transaction(c, &web(), &code, &ctx()).await;
        assert!(matches!(again, Err(LifecycleError::Replayed { .. })));
    }
    clock.advance(STEP);
    accept(lc, c, &phone.code(clock.now())).await;
    phone
}

/// The columns of an audit row but its id, for copying one.
const COPY: &str = "customer_id, version, seq, at, recorded_at, actor, principal, source, \
    request_id, token_id, token_serial, new_serial, event, from_state, to_state, outcome, \
    reason, reason_code, drift_from, drift_to, notice, transaction_digest";

/// One tamper of a trail, and where the verification must report it.
struct Tamper {
    what: &'static str,
    /// The SQL, with `{c}` for the customer (and `{other}` for a second
    /// customer with the same journey).
    sql: &'static str,
    expected: fn(&BrokenLink) -> bool,
}

const TAMPERS: &[Tamper] = &[
    Tamper {
        what: "delete row 5 (an accepted code)",
        sql: "DELETE FROM otpguard_audit WHERE customer_id = '{c}' AND link = 5",
        expected: |b| *b == BrokenLink::Missing { position: 5 },
    },
    Tamper {
        what: "edit row 3: a wrong code becomes accepted",
        sql: "UPDATE otpguard_audit SET outcome = 'accepted' WHERE customer_id = '{c}' AND link = 3",
        expected: |b| *b == BrokenLink::Unauthentic { position: 3 },
    },
    Tamper {
        what: "edit row 4: its time only",
        sql: "UPDATE otpguard_audit SET at = at - 3600 WHERE customer_id = '{c}' AND link = 4",
        expected: |b| *b == BrokenLink::Unauthentic { position: 4 },
    },
    Tamper {
        what: "re-order rows 6 and 7",
        sql: "UPDATE otpguard_audit SET link = 1000 WHERE customer_id = '{c}' AND link = 6; \
              UPDATE otpguard_audit SET link = 6 WHERE customer_id = '{c}' AND link = 7; \
              UPDATE otpguard_audit SET link = 7 WHERE customer_id = '{c}' AND link = 1000",
        expected: |b| *b == BrokenLink::Unauthentic { position: 6 },
    },
    Tamper {
        what: "insert a copy of row 5 after it, the rest moved up",
        sql: "UPDATE otpguard_audit SET link = link + 1000 WHERE customer_id = '{c}' AND link >= 6; \
              UPDATE otpguard_audit SET link = link - 999 WHERE customer_id = '{c}' AND link >= 1006; \
              INSERT INTO otpguard_audit (COPY, link, chain) SELECT COPY, 6, chain \
              FROM otpguard_audit WHERE customer_id = '{c}' AND link = 5",
        expected: |b| *b == BrokenLink::Unauthentic { position: 6 },
    },
    Tamper {
        what: "append a copy of the last row",
        sql: "INSERT INTO otpguard_audit (COPY, link, chain) SELECT COPY, 12, chain \
              FROM otpguard_audit WHERE customer_id = '{c}' AND link = 11",
        expected: |b| *b == BrokenLink::Unauthentic { position: 12 },
    },
    Tamper {
        what: "replace row 3 by another customer's row 3, link and all",
        sql: "DELETE FROM otpguard_audit WHERE customer_id = '{c}' AND link = 3; \
              INSERT INTO otpguard_audit (COPY, link, chain) \
              SELECT '{c}', version, seq, at, recorded_at, actor, principal, source, request_id, \
              token_id, token_serial, new_serial, event, from_state, to_state, outcome, reason, \
              reason_code, drift_from, drift_to, notice, transaction_digest, link, chain \
              FROM otpguard_audit WHERE customer_id = '{other}' AND link = 3",
        expected: |b| *b == BrokenLink::Unauthentic { position: 3 },
    },
    Tamper {
        what: "delete the last row (the commit of the record's version)",
        sql: "DELETE FROM otpguard_audit WHERE customer_id = '{c}' AND link = 11",
        expected: |b| matches!(b, BrokenLink::EndsBeforeRecord { trail_version, record_version }
            if trail_version < record_version),
    },
    Tamper {
        what: "insert a row without a link (its rules skipped)",
        sql: "INSERT INTO otpguard_audit (customer_id, version, seq, at, actor, event, \
              from_state, to_state, outcome, reason) VALUES ('{c}', 9, 0, 1, 'Operator', \
              'Resume', 'Suspended', 'Active', 'accepted', 'forged')",
        expected: |b| matches!(b, BrokenLink::Unchained { .. }),
    },
    Tamper {
        what: "strip the link of every row (its rules skipped)",
        sql: "UPDATE otpguard_audit SET link = NULL, chain = NULL WHERE customer_id = '{c}'",
        expected: |b| matches!(b, BrokenLink::Unchained { .. }),
    },
    Tamper {
        what: "cut the last row, and hide its version in a row at position -1",
        sql: "DELETE FROM otpguard_audit WHERE customer_id = '{c}' AND link = 11; \
              INSERT INTO otpguard_audit (COPY, link, chain) \
              SELECT customer_id, version + 1, seq, at, recorded_at, actor, principal, source, \
              request_id, token_id, token_serial, new_serial, event, from_state, to_state, \
              outcome, reason, reason_code, drift_from, drift_to, notice, transaction_digest, \
              -1, chain \
              FROM otpguard_audit WHERE customer_id = '{c}' AND link = 10; \
              DELETE FROM otpguard_audit WHERE link < 0 AND customer_id <> '{c}'",
        expected: |b| matches!(b, BrokenLink::Unreadable { .. }),
    },
];

#[test]
fn every_tamper_of_the_trail_is_reported_where_it_happened() {
    support::pg_lifecycle::with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(pg, 4, &clock).await;
        let store = lc.store();

        let clean = customer("c-clean");
        journey(&lc, &clock, &clean, 100).await;
        let report = store.verify_audit(&clean, None).await.unwrap();
        assert_eq!(report.rows, JOURNEY_ROWS);
        assert_eq!(
            report.head.map(|h| h.position()),
            Some(JOURNEY_ROWS),
            "{report:?}"
        );
        assert_eq!(
            audit_rows(lc.store().pool(), &clean).await.len() as u64,
            JOURNEY_ROWS
        );

        let mut expected_broken = Vec::new();
        println!("tamper | reported");
        for (n, tamper) in TAMPERS.iter().enumerate() {
            let c = customer(&format!("c-{n}"));
            journey(&lc, &clock, &c, u32::try_from(n).unwrap()).await;
            assert_eq!(
                store.verify_audit(&c, None).await.unwrap().rows,
                JOURNEY_ROWS
            );
            let sql = tamper
                .sql
                .replace("COPY", COPY)
                .replace("{c}", c.as_str())
                .replace("{other}", clean.as_str());
            as_owner(pg, &sql);
            let link = broken(store.verify_audit(&c, None).await);
            assert!((tamper.expected)(&link), "{}: {link:?}", tamper.what);
            println!("{} | {link}", tamper.what);
            expected_broken.push((c.as_str().to_owned(), link));
        }

        // The pass over every customer finds the same, and only those.
        let all = store.verify_audits(3).await.unwrap();
        assert_eq!(all.customers, TAMPERS.len() as u64 + 1);
        let mut found = all.broken.clone();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        expected_broken.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(found, expected_broken);
        // The clean trail still verifies.
        assert_eq!(
            store.verify_audit(&clean, None).await.unwrap().rows,
            JOURNEY_ROWS
        );
    });
}

/// A whole-customer restore (the record, the end of its trail and its
/// chain's head, as a restored backup would leave them) is a shorter chain
/// that is still whole (restored without the head, the verification
/// reports the head elsewhere, and the next commit is refused): only a
/// checkpoint kept outside the database shows it, and shows the history
/// that grew from it afterwards as rewritten.
#[test]
fn a_checkpoint_shows_a_restore_the_chain_alone_cannot() {
    support::pg_lifecycle::with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(pg, 2, &clock).await;
        let store = lc.store();
        let c = customer("c-restore");
        let phone = Phone::new("SN-R", 9);
        register(&lc, &c, phone.register(clock.now()))
            .await
            .unwrap();
        clock.advance(STEP);
        accept(&lc, &c, &phone.code(clock.now())).await;
        // The backup: the record, with the trail at position 2.
        pg.psql(&format!(
            "CREATE TABLE backup AS SELECT * FROM otpguard_token_records WHERE customer_id = '{c}'; \
             CREATE TABLE backup_head AS SELECT * FROM otpguard_audit_heads WHERE customer_id = '{c}'"
        ));
        let mut used = Vec::new();
        for _ in 0..2 {
            clock.advance(STEP);
            let code = phone.code(clock.now());
            accept(&lc, &c, &code).await;
            used.push(code);
        }
        let checkpoint = store.checkpoint(&c).await.unwrap().unwrap();
        assert_eq!(checkpoint.head().position(), 4);
        // Kept outside, read back.
        let kept = Checkpoint::from_bytes(&checkpoint.to_bytes().unwrap()).unwrap();
        assert_eq!(kept, checkpoint);
        store.verify_audit(&c, Some(&kept)).await.unwrap();

        // The restore.
        as_owner(
            pg,
            &format!(
                "DELETE FROM otpguard_audit WHERE customer_id = '{c}' AND link > 2; \
                 DELETE FROM otpguard_token_records WHERE customer_id = '{c}'; \
                 INSERT INTO otpguard_token_records SELECT * FROM backup"
            ),
        );
        // The chain alone is whole, but the head of the chain still holds
        // the row at position 4, which the trail no longer has...
        assert_eq!(
            broken(store.verify_audit(&c, None).await),
            BrokenLink::DisagreesWithHead { trail: 2, head: 4 }
        );
        // ...and a restore of the record and the trail alone is refused
        // at the next commit.
        let cut = lc.verify_transaction(&c, &web(), &used[1], &ctx()).await;
        assert!(
            matches!(&cut, Err(LifecycleError::Corrupt(e))
                if e.to_string().contains("rows cut from the trail's end")),
            "{cut:?}"
        );
        as_owner(
            pg,
            &format!(
                "DELETE FROM otpguard_audit_heads WHERE customer_id = '{c}'; \
                 INSERT INTO otpguard_audit_heads SELECT * FROM backup_head"
            ),
        );
        // ...and the codes used after the backup are accepted again: what
        // a restore allows, and what the checkpoint must reveal.
        let replayed = lc.verify_transaction(&c, &web(), &used[1], &ctx()).await;
        assert!(replayed.is_ok(), "{replayed:?}");
        // Position 3 is taken again, by another row: the history diverges
        // from what the checkpoint saw before it even reaches position 4.
        let link = broken(store.verify_audit(&c, Some(&kept)).await);
        assert_eq!(
            link,
            BrokenLink::BehindCheckpoint {
                checkpoint: 4,
                head: 3
            }
        );
        clock.advance(STEP);
        accept(&lc, &c, &phone.code(clock.now())).await;
        let link = broken(store.verify_audit(&c, Some(&kept)).await);
        assert_eq!(link, BrokenLink::DivergesFromCheckpoint { position: 4 });
        println!("restore: without a checkpoint the chain verifies; through it: {link}");

        // A checkpoint changed outside, or another customer's, is refused.
        let mut bytes = kept.to_bytes().unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let forged = Checkpoint::from_bytes(&bytes).unwrap();
        assert!(matches!(
            broken(store.verify_audit(&c, Some(&forged)).await),
            BrokenLink::Unreadable { .. }
        ));
        let other = customer("c-other");
        register(&lc, &other, Phone::new("SN-O", 10).register(clock.now()))
            .await
            .unwrap();
        assert!(matches!(
            broken(store.verify_audit(&other, Some(&kept)).await),
            BrokenLink::Unreadable { .. }
        ));
        // Every head, exported in pages.
        let first = store.checkpoints(None, 1).await.unwrap();
        let rest = store
            .checkpoints(Some(first[0].customer()), 10)
            .await
            .unwrap();
        let mut customers: Vec<_> = first
            .iter()
            .chain(&rest)
            .map(|k| k.customer().clone())
            .collect();
        customers.sort();
        assert_eq!(customers, vec![other.clone(), c.clone()]);
    });
}

/// Requests racing for one customer through two pools never fork the
/// chain: each links after the head it loaded, and the one that loses the
/// position decides again.
#[test]
fn racing_requests_keep_one_chain() {
    const TRIALS: u32 = 20;
    const N: usize = 16;
    support::pg_lifecycle::with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let a = migrated(
            &pool_on(pg, "postgres", 8, Duration::from_secs(10)).await,
            LifecycleConfig::default(),
            &clock,
        )
        .await;
        let b = migrated(
            &pool_on(pg, "postgres", 8, Duration::from_secs(10)).await,
            LifecycleConfig::default(),
            &clock,
        )
        .await;
        for trial in 0..TRIALS {
            let c = customer(&format!("c-race-{trial}"));
            let phone = Phone::new(&format!("SN-{trial}"), trial);
            register(&a, &c, phone.register(clock.now())).await.unwrap();
            clock.advance(STEP);
            let now = clock.now();
            // Half the genuine code, half wrong codes.
            let answers = race_tasks(&a, &b, N, |lc, i| {
                let c = c.clone();
                let code = if i % 2 == 0 {
                    phone.code(now)
                } else {
                    phone.wrong_code(now, i)
                };
                async move { lc.verify_transaction(&c, &web(), &code, &ctx()).await }
            })
            .await;
            assert!(
                answers.iter().all(|a| !matches!(
                    a,
                    Err(LifecycleError::Contended { .. } | LifecycleError::Store(_))
                )),
                "trial {trial}: {answers:?}"
            );
            let rows = audit_rows(a.store().pool(), &c).await.len() as u64;
            let report = a.store().verify_audit(&c, None).await.unwrap();
            assert_eq!(report.rows, rows, "trial {trial}");
            // One row per answer, and the System's lock-out if there was one.
            assert!(rows > N as u64, "trial {trial}: {rows} rows");
        }
    });
}

/// A clean trail of 10,000 events verifies, read a page at a time.
#[test]
fn a_clean_trail_of_ten_thousand_events_verifies() {
    const EVENTS: u64 = 10_000;
    support::pg_lifecycle::with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(pg, 2, &clock).await;
        let c = customer("c-long");
        let phone = Phone::new("SN-L", 11);
        register(&lc, &c, phone.register(clock.now()))
            .await
            .unwrap();
        for _ in 1..EVENTS {
            clock.advance(STEP);
            accept(&lc, &c, &phone.code(clock.now())).await;
        }
        let started = std::time::Instant::now();
        let report = lc.store().verify_audit(&c, None).await.unwrap();
        assert_eq!(report.rows, EVENTS);
        assert_eq!(report.head.map(|h| h.position()), Some(EVENTS));
        println!(
            "{EVENTS} events verified in {:?} (debug build)",
            started.elapsed()
        );
    });
}

/// A record restored from an older copy is refused on load even when the
/// trail was made to agree with it: the load reads the version committed
/// from the copy of the trail's last row that the stamping trigger keeps
/// with the customer's head, and checks that copy's link, so lowering it
/// too is refused as well. A record whose whole trail was deleted is
/// refused, and the pass over every customer finds it.
#[test]
fn the_load_checks_the_head_of_the_chain() {
    support::pg_lifecycle::with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(pg, 2, &clock).await;
        let store = lc.store();

        // Versions lowered in the trail (the head's copy kept, or lowered
        // with them), or the whole trail deleted (with its head, or
        // without); then an older row restored.
        for (id, trail_sql, why) in [
            (
                "c-lowered",
                "UPDATE otpguard_audit SET version = 1 WHERE customer_id = '{c}'",
                "an older copy of the row was restored",
            ),
            (
                "c-lowered-head",
                "UPDATE otpguard_audit SET version = 1 WHERE customer_id = '{c}'; \
                 UPDATE otpguard_audit_heads SET version = 1 WHERE customer_id = '{c}'",
                "head of its audit chain",
            ),
            (
                "c-trail-erased",
                "DELETE FROM otpguard_audit WHERE customer_id = '{c}'",
                "an older copy of the row was restored",
            ),
            (
                "c-erased",
                "DELETE FROM otpguard_audit WHERE customer_id = '{c}'; \
                 DELETE FROM otpguard_audit_heads WHERE customer_id = '{c}'",
                "trail was deleted",
            ),
        ] {
            let (c, used) = restored_after_a_code(pg, &lc, &clock, id, trail_sql).await;
            let replay = lc.verify_transaction(&c, &web(), &used, &ctx()).await;
            assert!(
                matches!(&replay, Err(LifecycleError::Corrupt(e)) if e.to_string().contains(why)),
                "{id}: {replay:?}"
            );
        }
        // Restored first: the load refuses it, and the System's refusal
        // becomes the head of the chain. Then the version of the last row
        // before that refusal is lowered: the load does not take it on
        // trust, and still refuses the restored row.
        let (c, used) = restored_after_a_code(pg, &lc, &clock, "c-behind-load", "SELECT 1").await;
        let first = lc.verify_transaction(&c, &web(), &used, &ctx()).await;
        assert!(
            matches!(&first, Err(LifecycleError::Corrupt(_))),
            "{first:?}"
        );
        as_owner(
            pg,
            &format!(
                "UPDATE otpguard_audit SET version = 1 WHERE customer_id = '{c}' \
                 AND event <> 'Load'"
            ),
        );
        let replay = lc.verify_transaction(&c, &web(), &used, &ctx()).await;
        assert!(
            matches!(&replay, Err(LifecycleError::Corrupt(e)) if e.to_string().contains("does not verify")),
            "{replay:?}"
        );
        let d = customer("c-erased");
        // Its refusal is the one row of its new trail; the pass over every
        // customer reports that it ends before the record.
        let all = store.verify_audits(10).await.unwrap();
        let erased: Vec<_> = all
            .broken
            .iter()
            .filter(|(id, _)| id == d.as_str())
            .collect();
        assert!(
            matches!(
                erased.as_slice(),
                [(_, BrokenLink::EndsBeforeRecord { .. })]
            ),
            "{all:?}"
        );
    });
}

/// A customer `id` registered, its row copied, a code accepted; then, as
/// the table's owner, `trail_sql` (with `{c}` for the customer) run and
/// the copy restored. Returns the customer and the code used after the
/// copy.
async fn restored_after_a_code(
    pg: &PostgresServer,
    lc: &Pg,
    clock: &FixedClock,
    id: &str,
    trail_sql: &str,
) -> (CustomerId, String) {
    let c = customer(id);
    let phone = Phone::new(&format!("SN-{id}"), u32::try_from(id.len()).unwrap());
    register(lc, &c, phone.register(clock.now())).await.unwrap();
    let backup = format!("backup_{}", id.replace('-', "_"));
    pg.psql(&format!(
        "CREATE TABLE {backup} AS SELECT * FROM otpguard_token_records WHERE customer_id = '{c}'"
    ));
    clock.advance(STEP);
    let used = phone.code(clock.now());
    accept(lc, &c, &used).await;
    as_owner(
        pg,
        &format!(
            "{}; DELETE FROM otpguard_token_records WHERE customer_id = '{c}'; \
             INSERT INTO otpguard_token_records SELECT * FROM {backup}",
            trail_sql.replace("{c}", c.as_str())
        ),
    );
    (c, used)
}

/// A store that wraps `PostgresStore` but forwards only `load` and
/// `commit`: the chain's head never reaches the commit.
struct Forgetful(otpguard::lifecycle::postgres::PostgresStore);

impl otpguard::lifecycle::store::TokenStore for Forgetful {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl std::future::Future<
        Output = Result<Option<otpguard::lifecycle::store::TokenRecord>, otpguard::StoreError>,
    > + Send {
        self.0.load(customer)
    }

    fn commit(
        &self,
        commit: otpguard::lifecycle::store::Commit<'_>,
    ) -> impl std::future::Future<
        Output = Result<otpguard::lifecycle::store::CommitOutcome, otpguard::StoreError>,
    > + Send {
        self.0.commit(commit)
    }
}

/// Such a wrapper gets a clear store error on its first commit, never an
/// endless conflict.
#[test]
fn a_wrapper_that_drops_the_head_is_refused_clearly() {
    support::pg_lifecycle::with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let migrated = backend_on(pg, 2, &clock).await;
        let lc = otpguard::lifecycle::Lifecycle::new(
            LifecycleConfig::default(),
            Forgetful(otpguard::lifecycle::postgres::PostgresStore::new(
                migrated.store().pool().clone(),
                support::pg_lifecycle::keys(),
            )),
            Arc::clone(&clock),
        );
        let c = customer("c-wrapped");
        let answer = lc
            .submit(
                &c,
                &web(),
                Phone::new("SN-W", 23).register(clock.now()),
                &ctx(),
            )
            .await;
        assert!(
            matches!(&answer, Err(LifecycleError::Store(e)) if e.to_string().contains("load_with_head")),
            "{answer:?}"
        );
    });
}

/// The head of the chain put back to an older row, alone or with the
/// record (as a restore of both from an older copy would leave them), is
/// refused at the next commit, so no spent code is accepted again; a head
/// deleted with the record cannot start the trail again. `verify_audit`
/// reports each before any commit.
#[test]
fn a_head_put_back_or_deleted_is_refused_at_the_next_commit() {
    support::pg_lifecycle::with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(pg, 2, &clock).await;
        let store = lc.store();
        let c = customer("c-head-back");
        let phone = Phone::new("SN-HB", 12);
        register(&lc, &c, phone.register(clock.now()))
            .await
            .unwrap();
        pg.psql(&format!(
            "CREATE TABLE backup_r AS SELECT * FROM otpguard_token_records WHERE customer_id = '{c}'; \
             CREATE TABLE backup_h AS SELECT * FROM otpguard_audit_heads WHERE customer_id = '{c}'"
        ));
        clock.advance(STEP);
        let used = phone.code(clock.now());
        accept(&lc, &c, &used).await;
        let accepted = || {
            pg.psql(&format!(
                "SELECT count(*) FROM otpguard_audit WHERE customer_id = '{c}' \
                 AND outcome = 'accepted'"
            ))
        };
        let before = accepted();
        let put_back = format!(
            "DELETE FROM otpguard_audit_heads WHERE customer_id = '{c}'; \
             INSERT INTO otpguard_audit_heads SELECT * FROM backup_h"
        );
        let went_back = |answer: &Result<_, LifecycleError>| matches!(answer, Err(LifecycleError::Corrupt(e)) if e.to_string().contains("the head went back"));

        // The head alone.
        as_owner(pg, &put_back);
        assert_eq!(
            broken(store.verify_audit(&c, None).await),
            BrokenLink::DisagreesWithHead { trail: 2, head: 1 }
        );
        clock.advance(STEP);
        let next = lc
            .verify_transaction(&c, &web(), &phone.code(clock.now()), &ctx())
            .await;
        assert!(went_back(&next), "{next:?}");

        // The head and the record: the spent code is not accepted again.
        as_owner(
            pg,
            &format!(
                "DELETE FROM otpguard_token_records WHERE customer_id = '{c}'; \
                 INSERT INTO otpguard_token_records SELECT * FROM backup_r; {put_back}"
            ),
        );
        assert!(matches!(
            broken(store.verify_audit(&c, None).await),
            BrokenLink::RecordBehindTrail {
                trail_version,
                record_version
            } if record_version < trail_version
        ));
        let replay = lc.verify_transaction(&c, &web(), &used, &ctx()).await;
        assert!(went_back(&replay), "{replay:?}");
        assert_eq!(accepted(), before, "nothing accepted since");

        // The head and the record deleted: the customer cannot register
        // again over its trail.
        as_owner(
            pg,
            &format!(
                "DELETE FROM otpguard_token_records WHERE customer_id = '{c}'; \
                 DELETE FROM otpguard_audit_heads WHERE customer_id = '{c}'"
            ),
        );
        assert!(matches!(
            broken(store.verify_audit(&c, None).await),
            BrokenLink::DisagreesWithHead { trail: 2, head: 0 }
        ));
        let again = register(&lc, &c, phone.register(clock.now())).await;
        assert!(
            matches!(&again, Err(LifecycleError::Corrupt(_))),
            "{again:?}"
        );
        assert_eq!(accepted(), before, "nothing accepted since");
    });
}

/// A verification while the customer commits sees one state of the
/// trail, the record and the head (one snapshot): however the commits
/// fall between its reads, it never reports a break that is not there.
#[test]
fn verifying_while_the_customer_commits_reports_no_false_break() {
    const CODES: u64 = 150;
    support::pg_lifecycle::with_server(async |pg| {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(pg, 4, &clock).await;
        let c = customer("c-busy");
        let phone = Phone::new("SN-BUSY", 13);
        register(&lc, &c, phone.register(clock.now()))
            .await
            .unwrap();
        let writer = {
            let (lc, c, clock) = (Arc::clone(&lc), c.clone(), Arc::clone(&clock));
            tokio::spawn(async move {
                for _ in 0..CODES {
                    clock.advance(STEP);
                    accept(&lc, &c, &phone.code(clock.now())).await;
                }
            })
        };
        let mut verified = 0_u32;
        while !writer.is_finished() {
            let report = lc.store().verify_audit(&c, None).await;
            assert!(report.is_ok(), "after {verified} verifications: {report:?}");
            verified += 1;
        }
        writer.await.unwrap();
        let report = lc.store().verify_audit(&c, None).await.unwrap();
        assert_eq!(report.rows, CODES + 1);
        assert!(verified > 10, "only {verified} verifications ran meanwhile");
        println!("{verified} verifications while {CODES} codes were accepted");
    });
}
