//! The audit table is partitioned by month, and history leaves the
//! database only by detaching its oldest partition: every trail in it
//! verified first, trails it would end carried past it, each customer's
//! floor kept, and every trail still verifying, loading and committing
//! afterwards. Floors cannot be edited, rolled back or dropped unseen.
//! Against a real PostgreSQL server.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::panic,
    clippy::too_many_lines,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

mod store_support;
mod support;

use std::sync::Arc;

use otpguard::lifecycle::audit::{AuditContent, AuditQuery, AuditReader, BrokenLink};
use otpguard::lifecycle::postgres::{sqlx, DetachError, TrailError, DETACH_GRACE};
use otpguard::lifecycle::{CustomerId, LifecycleError};
use otpguard::{Clock, FixedClock};
use store_support::{ctx, customer, web, Phone, START, STEP};
use support::pg_lifecycle::{accept, as_owner, backend_on, broken, register, Pg};
use support::postgres_server::PostgresServer;

const DAY: u64 = 86_400;

/// What a verification must report after a tamper.
type Expected = fn(&BrokenLink) -> bool;

/// The events of `c`'s trail still in the database, in order.
async fn events(lc: &Pg, c: &CustomerId) -> Vec<String> {
    let page = lc
        .store()
        .read_audit(&AuditQuery::customer(c.clone()))
        .await
        .unwrap();
    page.entries
        .iter()
        .map(|e| match &e.content {
            AuditContent::Event(record) => record.event.to_string(),
            AuditContent::Store(row) => row.event.clone(),
            other => panic!("unreadable entry {other:?}"),
        })
        .collect()
}

#[test]
fn months_are_prepared_and_the_oldest_leaves_with_every_trail_intact() {
    let pg = PostgresServer::start();
    support::pg_lifecycle::runtime().block_on(async {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(&pg, 4, &clock).await;
        let store = lc.store();

        // The migration made the history partition (everything before the
        // month after it ran) and three months after it.
        let parts = store.audit_partitions().await.unwrap();
        assert_eq!(parts[0].name, "otpguard_audit_history");
        assert_eq!(parts[0].from, None);
        assert!(parts.len() >= 4, "{parts:?}");
        for pair in parts.windows(2) {
            assert_eq!(pair[0].until, pair[1].from.unwrap(), "{parts:?}");
            assert!(pair[1].name.starts_with("otpguard_audit_20"));
        }
        let (b0, b1) = (parts[0].until, parts[1].until);
        let last = parts.last().unwrap().until;
        // Preparing through a month further creates exactly what is missing.
        let made = store.prepare_audit_partitions(last + 40 * DAY).await.unwrap();
        assert_eq!(made.len(), 2, "{made:?}");
        assert!(store.prepare_audit_partitions(last).await.unwrap().is_empty());
        // Milliseconds for seconds would make thousands of years of months.
        let millis = store.prepare_audit_partitions(last * 1_000).await;
        assert!(millis.is_err(), "{millis:?}");
        assert_eq!(store.audit_partitions().await.unwrap().len(), parts.len() + 2);

        // History: Alice, Bob and Carol register and each has a code
        // accepted. Bob's trail ends here.
        let names = ["alice", "bob", "carol"];
        let people: Vec<(CustomerId, Phone)> = names
            .iter()
            .zip(1..)
            .map(|(n, seed)| (customer(n), Phone::new(&format!("SN-{n}"), seed)))
            .collect();
        for (c, phone) in &people {
            register(&lc, c, phone.register(clock.now())).await.unwrap();
        }
        // Alice's head at her registration, kept outside.
        let at_registration = store.checkpoint(&people[0].0).await.unwrap().unwrap();
        clock.advance(STEP);
        for (c, phone) in &people {
            accept(&lc, c, &phone.code(clock.now())).await;
        }
        // Bob's record as it stood before his last commit, kept to restore.
        pg.psql("CREATE TABLE bob_before AS SELECT * FROM otpguard_token_records WHERE customer_id = 'bob'");
        clock.advance(STEP);
        accept(&lc, &people[1].0, &people[1].1.code(clock.now())).await;
        let (alice, carol) = (&people[0], &people[2]);
        // Dave has no record: his one refused request is his whole trail.
        let dave = customer("dave");
        let refused = lc.verify_transaction(&dave, &web(), "123456", &ctx()).await;
        assert!(matches!(refused, Err(LifecycleError::NotPermitted { .. })), "{refused:?}");
        // And her last head in the history.
        let before_detach = store.checkpoint(&alice.0).await.unwrap().unwrap();

        // The first month: Alice and Carol. Carol's trail ends here.
        clock.set(b0 + 10 * DAY);
        accept(&lc, &alice.0, &alice.1.code(clock.now())).await;
        accept(&lc, &carol.0, &carol.1.code(clock.now())).await;
        // The second month: Alice.
        clock.set(b1 + 10 * DAY);
        accept(&lc, &alice.0, &alice.1.code(clock.now())).await;
        let history_rows: u64 = pg.psql("SELECT count(*) FROM otpguard_audit_history").parse().unwrap();
        assert_eq!(history_rows, 3 + 3 + 1 + 1);
        let first_month = &parts[1].name;
        assert_eq!(pg.psql(&format!("SELECT count(*) FROM {first_month}")), "2");

        // Not before the grace after a partition's end.
        let early = FixedClock::new(b0 + DETACH_GRACE - 1);
        match store.detach_oldest_audit_partition(&early).await {
            Err(DetachError::NotYet { partition, .. }) => {
                assert_eq!(partition, "otpguard_audit_history");
            }
            other => panic!("detached too early: {other:?}"),
        }
        // Not while another detach holds its lock (the detach's advisory
        // lock key, "otpgdeta" in ASCII).
        let mut other = store.pool().begin().await.unwrap();
        sqlx::query("SELECT pg_advisory_xact_lock(x'6f74706764657461'::bigint)")
            .execute(&mut *other)
            .await
            .unwrap();
        match store.detach_oldest_audit_partition(&*clock).await {
            Err(DetachError::Changed { why, .. }) => assert!(why.contains("another detach"), "{why}"),
            other => panic!("detached beside another detach: {other:?}"),
        }
        other.rollback().await.unwrap();
        assert_eq!(store.audit_partitions().await.unwrap()[0].name, "otpguard_audit_history");

        // The history leaves: four trails verified, Bob's and Dave's
        // carried.
        let detached = store.detach_oldest_audit_partition(&*clock).await.unwrap();
        assert_eq!(detached.partition.name, "otpguard_audit_history");
        assert_eq!((detached.rows, detached.customers, detached.carried), (history_rows, 4, 2));
        assert_eq!(events(&lc, &dave).await, ["Carry"]);
        pg.psql("CREATE TABLE floors_then AS SELECT * FROM otpguard_audit_floors");
        let parts_now = store.audit_partitions().await.unwrap();
        assert_eq!(parts_now[0].name, *first_month);
        // A table of its own now, rows intact, for the bank to export.
        assert_eq!(pg.psql("SELECT count(*) FROM otpguard_audit_history"), history_rows.to_string());
        assert_eq!(
            pg.psql("SELECT count(*) FROM otpguard_audit WHERE at < (SELECT min(boundary) FROM otpguard_audit_floors)"),
            "0"
        );
        assert_eq!(events(&lc, &people[1].0).await, ["Carry"]);
        assert_eq!(events(&lc, &alice.0).await, ["VerifyTransaction", "VerifyTransaction"]);
        assert_eq!(pg.psql("SELECT count(*) FROM otpguard_audit_floors"), "4");
        // A checkpoint at the floor still verifies; one below it is in the
        // archive now.
        store.verify_audit(&alice.0, Some(&before_detach)).await.unwrap();
        assert!(matches!(
            store.verify_audit(&alice.0, Some(&at_registration)).await,
            Err(TrailError::Broken { link: BrokenLink::CheckpointArchived { checkpoint: 1, floor: 2 }, .. })
        ));

        // The first month leaves too: Carol's trail carried.
        let detached = store.detach_oldest_audit_partition(&*clock).await.unwrap();
        assert_eq!(detached.partition.name, *first_month);
        assert_eq!((detached.rows, detached.customers, detached.carried), (2, 2, 1));
        assert_eq!(events(&lc, &carol.0).await, ["Carry"]);
        assert_eq!(events(&lc, &alice.0).await, ["VerifyTransaction"]);
        // Alice's head now, exported as a bank exports checkpoints.
        let exported = store.checkpoint(&alice.0).await.unwrap().unwrap().to_bytes().unwrap();
        let exported_mac: String = exported[exported.len() - 37..]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        // The current month stays.
        assert!(matches!(
            store.detach_oldest_audit_partition(&*clock).await,
            Err(DetachError::NotYet { .. })
        ));

        // Every trail verifies from its floor, and every customer goes on.
        let report = store.verify_audits(10).await.unwrap();
        assert_eq!((report.customers, report.broken.len()), (4, 0), "{report:?}");
        clock.advance(STEP);
        for (c, phone) in &people {
            accept(&lc, c, &phone.code(clock.now())).await;
            let replay = lc.verify_transaction(c, &web(), &phone.code(clock.now()), &ctx()).await;
            assert!(matches!(replay, Err(LifecycleError::Replayed { .. })), "{replay:?}");
        }
        let report = store.verify_audits(10).await.unwrap();
        assert_eq!(report.broken.len(), 0, "{report:?}");

        // A floor moved back (to the first detach's), edited, re-MACed
        // without the key, moved forward over deleted rows (with its own MAC
        // or an exported checkpoint's) or dropped is reported where the
        // first remaining row links to it.
        pg.psql("CREATE TABLE floors_now AS SELECT * FROM otpguard_audit_floors");
        let put_back = "DELETE FROM otpguard_audit_floors WHERE customer_id = 'alice'; \
            INSERT INTO otpguard_audit_floors SELECT * FROM floors_now WHERE customer_id = 'alice'";
        let forward = "UPDATE otpguard_audit_floors f SET (link, chain) = (a.link, a.chain) \
             FROM otpguard_audit a WHERE f.customer_id = 'alice' AND a.customer_id = 'alice' \
             AND a.link = f.link + 1; \
             DELETE FROM otpguard_audit a USING otpguard_audit_floors f \
             WHERE a.customer_id = 'alice' AND f.customer_id = 'alice' AND a.link = f.link";
        let with_exported = format!(
            "{forward}; UPDATE otpguard_audit_floors SET mac = decode('{exported_mac}', 'hex') \
             WHERE customer_id = 'alice'"
        );
        let tampers: [(&str, Expected); 6] = [
            (
                "DELETE FROM otpguard_audit_floors WHERE customer_id = 'alice'; \
                 INSERT INTO otpguard_audit_floors SELECT * FROM floors_then WHERE customer_id = 'alice'",
                |b| matches!(b, BrokenLink::Missing { .. }),
            ),
            (
                "UPDATE otpguard_audit_floors SET chain = set_byte(chain, 36, get_byte(chain, 36) # 1) \
                 WHERE customer_id = 'alice'",
                |b| matches!(b, BrokenLink::Unauthentic { .. }),
            ),
            (
                "UPDATE otpguard_audit_floors SET mac = set_byte(mac, 36, get_byte(mac, 36) # 1) \
                 WHERE customer_id = 'alice'",
                |b| matches!(b, BrokenLink::Unauthentic { .. }),
            ),
            (forward, |b| matches!(b, BrokenLink::Unauthentic { .. })),
            (&with_exported, |b| matches!(b, BrokenLink::Unauthentic { .. })),
            (
                "DELETE FROM otpguard_audit_floors WHERE customer_id = 'alice'",
                |b| *b == BrokenLink::Missing { position: 1 },
            ),
        ];
        for (i, (tamper, expected)) in tampers.iter().enumerate() {
            if i == 3 {
                pg.psql("CREATE TABLE alice_rows AS SELECT * FROM otpguard_audit WHERE customer_id = 'alice'");
            }
            as_owner(&pg, tamper);
            let link = broken(store.verify_audit(&alice.0, None).await);
            assert!(expected(&link), "{tamper}: {link:?}");
            as_owner(&pg, put_back);
            if i == 3 || i == 4 {
                as_owner(&pg, "INSERT INTO otpguard_audit SELECT * FROM alice_rows r \
                    WHERE NOT EXISTS (SELECT 1 FROM otpguard_audit a WHERE a.id = r.id)");
            }
            store.verify_audit(&alice.0, None).await.unwrap();
        }

        // Bob's record restored to before his last commit, whose rows
        // left with the history: the Carry row still tells.
        pg.psql("DELETE FROM otpguard_token_records WHERE customer_id = 'bob'; INSERT INTO otpguard_token_records SELECT * FROM bob_before");
        clock.advance(STEP);
        let restored = lc
            .verify_transaction(&people[1].0, &web(), &people[1].1.code(clock.now()), &ctx())
            .await;
        // (Its refusal's own audit row, dated by the system's clock, has no
        // partition here: this test detached the months around today.)
        assert!(
            matches!(&restored, Err(LifecycleError::Corrupt(e))
                if e.to_string().contains("an older copy of the row was restored")),
            "{restored:?}"
        );

        // The partitions are append-only like the table.
        let month = &store.audit_partitions().await.unwrap()[0].name;
        for sql in [
            format!("DELETE FROM {month}"),
            format!("UPDATE {month} SET reason = 'x'"),
            format!("TRUNCATE {month}"),
        ] {
            let refused = pg.psql_error(&sql);
            assert!(refused.contains("append-only"), "{sql}: {refused}");
        }
    });
}

#[test]
fn a_detach_among_commits_loses_nothing_and_lets_no_code_twice() {
    let pg = PostgresServer::start();
    support::pg_lifecycle::runtime().block_on(async {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(&pg, 8, &clock).await;
        let b0 = lc.store().audit_partitions().await.unwrap()[0].until;
        let people: Vec<(CustomerId, Phone)> = (0..12_u32)
            .map(|n| {
                (
                    customer(&format!("c{n:02}")),
                    Phone::new(&format!("SN-{n}"), n + 10),
                )
            })
            .collect();
        for (c, phone) in &people {
            register(&lc, c, phone.register(clock.now())).await.unwrap();
        }
        // Every trail ends in the history; then, while the history is being
        // detached, every customer sends one code four times at once.
        clock.set(b0 + 2 * DAY);
        let mut tasks = Vec::new();
        for (c, phone) in &people {
            for _ in 0..4 {
                let (lc, c, code) = (Arc::clone(&lc), c.clone(), phone.code(clock.now()));
                tasks.push(tokio::spawn(async move {
                    lc.verify_transaction(&c, &web(), &code, &ctx()).await
                }));
            }
        }
        let mut attempts = 0;
        let detached = loop {
            attempts += 1;
            match lc.store().detach_oldest_audit_partition(&*clock).await {
                Ok(d) => break d,
                Err(DetachError::Changed { .. }) if attempts < 10 => {}
                Err(e) => panic!("detach failed: {e:?}"),
            }
        };
        let mut accepted = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(_) => accepted += 1,
                Err(LifecycleError::Replayed { .. }) => {}
                Err(e) => panic!("unexpected answer {e:?}"),
            }
        }
        assert_eq!(accepted, people.len(), "one acceptance per customer");
        assert_eq!(detached.customers, 12);
        let report = lc.store().verify_audits(5).await.unwrap();
        assert_eq!(
            (report.customers, report.broken.len()),
            (12, 0),
            "{report:?}"
        );
        // Each code again: refused, every trail still whole.
        for (c, phone) in &people {
            let again = lc
                .verify_transaction(c, &web(), &phone.code(clock.now()), &ctx())
                .await;
            assert!(
                matches!(again, Err(LifecycleError::Replayed { .. })),
                "{again:?}"
            );
        }
        assert_eq!(lc.store().verify_audits(5).await.unwrap().broken.len(), 0);
    });
}

#[test]
fn rows_out_of_order_across_a_month_end_keep_the_month() {
    let pg = PostgresServer::start();
    support::pg_lifecycle::runtime().block_on(async {
        let clock = Arc::new(FixedClock::new(START));
        let lc = backend_on(&pg, 2, &clock).await;
        let b0 = lc.store().audit_partitions().await.unwrap()[0].until;
        let erin = customer("erin");
        let phone = Phone::new("SN-E", 5);
        register(&lc, &erin, phone.register(clock.now()))
            .await
            .unwrap();
        // A node a minute ahead accepts a code just after the month's end;
        // one a minute behind then refuses a wrong code, dating its row
        // before the end: a later link in the earlier month.
        clock.set(b0 + 30);
        accept(&lc, &erin, &phone.code(clock.now())).await;
        clock.set(b0 - 30);
        let wrong = lc
            .verify_transaction(&erin, &web(), &phone.wrong_code(clock.now(), 0), &ctx())
            .await;
        assert!(
            matches!(wrong, Err(LifecycleError::WrongCode { .. })),
            "{wrong:?}"
        );
        clock.set(b0 + 2 * DAY);
        let rows = pg.psql("SELECT count(*) FROM otpguard_audit_history");
        match lc.store().detach_oldest_audit_partition(&*clock).await {
            Err(DetachError::OutOfOrder {
                partition,
                customer,
            }) => {
                assert_eq!(
                    (partition.as_str(), customer.as_str()),
                    ("otpguard_audit_history", "erin")
                );
            }
            other => panic!("detached across a trail out of order: {other:?}"),
        }
        // Nothing left, nothing carried, the trail whole.
        assert_eq!(pg.psql("SELECT count(*) FROM otpguard_audit_history"), rows);
        assert_eq!(
            lc.store().audit_partitions().await.unwrap()[0].name,
            "otpguard_audit_history"
        );
        assert_eq!(pg.psql("SELECT count(*) FROM otpguard_audit_floors"), "0");
        lc.store().verify_audit(&erin, None).await.unwrap();
    });
}
