//! The audit trail read back from PostgreSQL (`AuditReader`): every record
//! the lifecycle committed comes back field for field; by customer, by
//! time range, and page after page from a cursor, where a row committed
//! late by a long transaction is never skipped. Against a real server.

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

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otpguard::lifecycle::audit::{AuditCursor, AuditQuery, AuditReader, AuditRecord, Outcome};
use otpguard::lifecycle::postgres::{sqlx, BookingFuture, PostgresStore};
use otpguard::lifecycle::store::{Commit, CommitOutcome, Loaded, TokenRecord, TokenStore};
use otpguard::lifecycle::{
    CustomerId, Event, Label, Lifecycle, LifecycleConfig, LifecycleError, PendingProof,
    RequestContext, State,
};
use otpguard::{Clock, FixedClock, StoreError};
use sqlx::PgConnection;
use store_support::{customer, operator, web, Phone, START, STEP};
use support::pg_lifecycle::{backend_on, keys, pool_on, runtime, Pg};
use support::postgres_server::PostgresServer;

/// A `PostgresStore` that keeps a copy of every audit record it committed,
/// as the lifecycle built it.
struct Capturing {
    inner: PostgresStore,
    committed: Mutex<Vec<AuditRecord>>,
}

impl TokenStore for Capturing {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl std::future::Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        self.inner.load(customer)
    }

    fn load_with_head(
        &self,
        customer: &CustomerId,
    ) -> impl std::future::Future<Output = Result<Loaded, StoreError>> + Send {
        self.inner.load_with_head(customer)
    }

    async fn commit(&self, commit: Commit<'_>) -> Result<CommitOutcome, StoreError> {
        let audit = commit.audit.to_vec();
        let outcome = self.inner.commit(commit).await?;
        if outcome == CommitOutcome::Committed {
            self.committed.lock().unwrap().extend(audit);
        }
        Ok(outcome)
    }
}

type Captured = Lifecycle<Capturing, Arc<FixedClock>>;

/// A journey that writes every kind of column: a registration (notice), an
/// accepted code, wrong codes up to the lock-out (the System's row and its
/// notice), a replay, an operator's resume with a request context, and a
/// code far ahead (drift moved).
async fn journey(lc: &Captured, clock: &FixedClock, c: &CustomerId, seed: u32) {
    let phone = Phone::new(&format!("SN-{seed}"), seed);
    let with_context = RequestContext::new()
        .source(Label::new("192.0.2.7").unwrap())
        .request_id(Label::new(&format!("req-{seed}")).unwrap());
    lc.submit(c, &web(), phone.register(clock.now()), &with_context)
        .await
        .unwrap();
    clock.advance(STEP);
    let code = phone.code(clock.now());
    let _proof = lc
        .verify_transaction(c, &web(), &code, &with_context)
        .await
        .unwrap();
    let again = lc.verify_transaction(c, &web(), &code, &with_context).await;
    assert!(matches!(again, Err(LifecycleError::Replayed { .. })));
    for n in 0..5 {
        let wrong = phone.wrong_code(clock.now(), n);
        let refused = lc
            .verify_transaction(c, &web(), &wrong, &with_context)
            .await;
        assert!(matches!(refused, Err(LifecycleError::WrongCode { .. })));
    }
    let resume = Event::Resume;
    lc.submit(c, &operator(), resume, &with_context)
        .await
        .unwrap();
    clock.advance(STEP);
    // A phone running one step fast: accepted within the window.
    let ahead = phone.code(clock.now() + STEP);
    let _proof = lc
        .verify_transaction(c, &web(), &ahead, &with_context)
        .await
        .unwrap();
}

#[test]
fn every_record_comes_back_as_committed_by_customer_time_and_cursor() {
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let pool = rt.block_on(pool_on(&pg, "postgres", 4, Duration::from_secs(5)));
    let store = PostgresStore::new(pool, keys());
    rt.block_on(store.migrate()).unwrap();
    let lc: Captured = Lifecycle::new(
        LifecycleConfig::default(),
        Capturing {
            inner: store,
            committed: Mutex::new(Vec::new()),
        },
        Arc::clone(&clock),
    );
    let (alice, bob) = (customer("alice"), customer("bob"));
    rt.block_on(journey(&lc, &clock, &alice, 1));
    let middle = clock.now() + 1;
    clock.advance(STEP);
    rt.block_on(journey(&lc, &clock, &bob, 2));
    let committed = lc.store().committed.lock().unwrap().clone();
    assert_eq!(committed.len(), 2 * 11);
    let store = &lc.store().inner;

    // One customer's: exactly the records committed for it, in order, each
    // field as the lifecycle built it; the reason as its code and text.
    let page = rt
        .block_on(store.read_audit(&AuditQuery::customer(alice.clone())))
        .unwrap();
    let of_alice: Vec<&AuditRecord> = committed.iter().filter(|r| r.customer == alice).collect();
    assert_eq!(page.entries.len(), of_alice.len());
    for (entry, original) in page.entries.iter().zip(&of_alice) {
        let read = entry.record().unwrap();
        assert_eq!(read.reason.code(), original.reason.code());
        assert_eq!(read.reason.to_string(), original.reason.to_string());
        let mut same = read.clone();
        same.reason = original.reason.clone();
        assert_eq!(&same, *original);
        assert!(entry.recorded_at.is_some());
    }
    let codes: Vec<&str> = page
        .entries
        .iter()
        .map(|e| e.reason_code().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "applied",
            "applied",
            "replayed",
            "wrong_code",
            "wrong_code",
            "wrong_code",
            "wrong_code",
            "wrong_code",
            "applied",
            "applied",
            "applied",
        ]
    );
    let locked = page.entries[8].record().unwrap();
    assert_eq!(
        (locked.principal.actor().name(), locked.to),
        (
            "System",
            State::Suspended(otpguard::lifecycle::SuspendReason::TooManyFailures)
        )
    );
    assert!(page.entries.windows(2).all(|w| w[0].cursor < w[1].cursor));
    assert_eq!(page.next, page.entries.last().unwrap().cursor);

    // By time: only bob's journey lies after `middle`.
    let later = rt
        .block_on(store.read_audit(&AuditQuery::all().between(middle, u64::MAX >> 1)))
        .unwrap();
    assert_eq!(later.entries.len(), 11);
    assert!(later.entries.iter().all(|e| e.customer() == "bob"));
    let refused_in_time = rt
        .block_on(store.read_audit(&AuditQuery::customer(alice.clone()).between(START, middle)))
        .unwrap()
        .entries
        .iter()
        .filter(|e| e.record().unwrap().outcome == Outcome::Refused)
        .count();
    assert_eq!(refused_in_time, 6);

    // Everyone's, 4 at a time from the start: each record once, in commit
    // order, and the last page short.
    let mut cursor = AuditCursor::START;
    let mut streamed = Vec::new();
    let mut pages = 0;
    loop {
        let query = AuditQuery::all().after(cursor).limit(4);
        let page = rt.block_on(store.read_audit(&query)).unwrap();
        pages += 1;
        if page.entries.is_empty() {
            assert_eq!(page.next, cursor);
            break;
        }
        cursor = page.next;
        streamed.extend(page.entries);
    }
    assert_eq!(pages, 7, "22 rows in pages of 4, then an empty one");
    let read: Vec<AuditRecord> = streamed
        .iter()
        .map(|e| {
            let mut r = e.record().unwrap().clone();
            let original = committed
                .iter()
                .find(|o| {
                    o.customer == r.customer
                        && o.version == r.version
                        && o.event == r.event
                        && o.time == r.time
                        && o.outcome == r.outcome
                        && o.reason.to_string() == r.reason.to_string()
                })
                .unwrap();
            r.reason = original.reason.clone();
            r
        })
        .collect();
    assert_eq!(read, committed);
    // The cursor's text form resumes the same stream.
    let resumed: AuditCursor = streamed[9].cursor.to_string().parse().unwrap();
    let rest = rt
        .block_on(store.read_audit(&AuditQuery::all().after(resumed)))
        .unwrap();
    assert_eq!(rest.entries.len(), 12);
    assert_eq!(rest.entries[0].cursor, streamed[10].cursor);
}

/// The lifecycle on a plain `PostgresStore` over `pg`.
async fn backend(pg: &PostgresServer, clock: &Arc<FixedClock>) -> Arc<Pg> {
    backend_on(pg, 8, clock).await
}

#[test]
fn a_stream_never_skips_a_row_committed_late() {
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let lc = rt.block_on(backend(&pg, &clock));
    let (alice, bob) = (customer("alice"), customer("bob"));
    let (pa, pb) = (Phone::new("SN-A", 1), Phone::new("SN-B", 2));
    for (c, p) in [(&alice, &pa), (&bob, &pb)] {
        rt.block_on(lc.submit(c, &web(), p.register(clock.now()), &RequestContext::new()))
            .unwrap();
    }
    clock.advance(STEP);
    let start = rt
        .block_on(lc.store().read_audit(&AuditQuery::all()))
        .unwrap();
    assert_eq!(start.entries.len(), 2);

    let mut seen = HashSet::new();
    let mut cursor = start.next;
    for trial in 0..5 {
        // Alice's payment holds its transaction open, its audit row written
        // (a smaller id) ...
        let (release, hold) = tokio::sync::oneshot::channel::<()>();
        let (written_tx, written) = tokio::sync::oneshot::channel::<()>();
        let code_a = pa.code(clock.now());
        let slow = {
            let (lc, alice) = (Arc::clone(&lc), alice.clone());
            rt.spawn(async move {
                lc.verify_transaction_with(
                    &alice,
                    &web(),
                    &code_a,
                    &RequestContext::new(),
                    move |_tx: &mut PgConnection, _p: &PendingProof| -> BookingFuture<'_, (), ()> {
                        Box::pin(async move {
                            written_tx.send(()).unwrap();
                            hold.await.unwrap();
                            Ok(())
                        })
                    },
                )
                .await
            })
        };
        rt.block_on(written).unwrap();
        // ... while Bob's commits at once (a larger id).
        let code_b = pb.code(clock.now());
        let _proof = rt
            .block_on(lc.verify_transaction(&bob, &web(), &code_b, &RequestContext::new()))
            .unwrap();
        // Bob's row is held back while Alice's transaction is in flight:
        // had it been returned, the cursor would pass Alice's row.
        let during = rt
            .block_on(lc.store().read_audit(&AuditQuery::all().after(cursor)))
            .unwrap();
        assert!(
            during.entries.is_empty(),
            "trial {trial}: {:?}",
            during.entries
        );
        release.send(()).unwrap();
        let (_proof, ()) = rt.block_on(slow).unwrap().unwrap();
        // Both now, Alice's included.
        let after = rt
            .block_on(lc.store().read_audit(&AuditQuery::all().after(cursor)))
            .unwrap();
        let customers: Vec<String> = after
            .entries
            .iter()
            .map(|e| e.customer().to_owned())
            .collect();
        assert_eq!(customers, ["alice", "bob"], "trial {trial}");
        for e in &after.entries {
            assert!(
                seen.insert(e.cursor),
                "trial {trial}: {:?} read twice",
                e.cursor
            );
        }
        cursor = after.next;
        clock.advance(STEP);
    }
    // Every accepted row read exactly once.
    let all = rt
        .block_on(lc.store().read_audit(&AuditQuery::all()))
        .unwrap();
    assert_eq!(all.entries.len(), 2 + 10);
    assert_eq!(seen.len(), 10);
}

#[test]
fn an_operator_s_summary_of_a_sealed_record() {
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let lc = rt.block_on(backend(&pg, &clock));
    let alice = customer("alice");
    assert_eq!(rt.block_on(lc.store().summary(&alice)).unwrap(), None);
    let phone = Phone::new("SN-A", 1);
    rt.block_on(lc.submit(
        &alice,
        &web(),
        phone.register(clock.now()),
        &RequestContext::new(),
    ))
    .unwrap();
    let wrong = phone.wrong_code(clock.now(), 0);
    let _ = rt.block_on(lc.verify_transaction(&alice, &web(), &wrong, &RequestContext::new()));
    let summary = rt.block_on(lc.store().summary(&alice)).unwrap().unwrap();
    assert_eq!(summary.state, State::Active);
    assert_eq!(summary.failures, 1);
    assert_eq!(summary.serial.as_ref().map(|s| s.as_str()), Some("SN-A"));
    // A row changed without the keys is refused, not summarised.
    pg.psql("UPDATE otpguard_token_records SET failures = 0 WHERE customer_id = 'alice'");
    let refused = rt.block_on(lc.store().summary(&alice));
    assert!(
        refused.as_ref().is_err_and(StoreError::is_corrupt),
        "{refused:?}"
    );
}

/// The store's own rows (a re-seal, a record refused as corrupt) read back
/// as such, and a row that decodes as nothing is returned as unreadable:
/// a stream's cursor moves past every row, and none fails the page.
#[test]
fn the_store_s_own_rows_and_unreadable_ones_never_stop_a_stream() {
    use otpguard::lifecycle::audit::AuditContent;
    use otpguard::seal::KeyId;
    let pg = PostgresServer::start();
    let rt = runtime();
    let clock = Arc::new(FixedClock::new(START));
    let lc = rt.block_on(backend(&pg, &clock));
    let (alice, bob) = (customer("alice"), customer("bob"));
    for (c, seed) in [(&alice, 1), (&bob, 2)] {
        let phone = Phone::new(&format!("SN-{seed}"), seed);
        rt.block_on(lc.submit(
            c,
            &web(),
            phone.register(clock.now()),
            &RequestContext::new(),
        ))
        .unwrap();
    }
    // Key rotation: every row sealed again, by the System, audited.
    let rotated = PostgresStore::new(
        lc.store().pool().clone(),
        keys().rotate_to(KeyId(2), &[0x22; 32]).unwrap(),
    );
    let resealed = rt.block_on(rotated.reseal(KeyId(1), 10)).unwrap();
    assert_eq!(resealed.resealed, 2);
    // Bob's row changed outside the library: refused on load, audited.
    pg.psql("UPDATE otpguard_token_records SET failures = 3 WHERE customer_id = 'bob'");
    assert!(rt.block_on(rotated.summary(&bob)).is_err());
    // A row written by something else entirely.
    pg.psql(
        "INSERT INTO otpguard_audit (customer_id, version, seq, at, actor, principal, event, \
         from_state, to_state, outcome, reason, reason_code, link, chain) VALUES ('carol', 1, 0, \
         1, 'Customer', 'web', 'Teleport', 'Active', 'Active', 'accepted', 'forged', 'applied', 1, \
         decode(repeat('02', 37), 'hex'))",
    );

    let mut cursor = AuditCursor::START;
    let mut kinds = Vec::new();
    loop {
        let page = rt
            .block_on(rotated.read_audit(&AuditQuery::all().after(cursor).limit(2)))
            .unwrap();
        if page.entries.is_empty() {
            break;
        }
        for e in &page.entries {
            kinds.push(match &e.content {
                AuditContent::Event(r) => format!("{}:{}", r.customer, r.event),
                AuditContent::Store(s) => format!("{}:{}:{}", s.customer, s.event, s.reason.code()),
                AuditContent::Unreadable { customer, why } => {
                    assert!(why.contains("event"), "{why}");
                    format!("{customer}:unreadable")
                }
                other => panic!("{other:?}"),
            });
        }
        cursor = page.next;
    }
    assert_eq!(
        kinds,
        [
            "alice:Register",
            "bob:Register",
            "alice:Reseal:resealed",
            "bob:Reseal:resealed",
            "bob:Load:corrupt",
            "carol:unreadable",
        ]
    );
    // Bob's trail read alone, positions without gaps.
    let trail = rt
        .block_on(rotated.read_audit(&AuditQuery::customer(bob.clone())))
        .unwrap();
    let positions: Vec<Option<u64>> = trail.entries.iter().map(|e| e.position).collect();
    assert_eq!(positions, [Some(1), Some(2), Some(3)]);
}
