//! A `TokenStore` written outside the crate, as a bank on a database of
//! its own (MySQL, DynamoDB, a key-value store) writes one: each record
//! kept only as the bytes of `SealedRecord::to_bytes`, its version beside
//! them for the compare-and-swap, and the audit records appended in the
//! same critical section as the record. Nothing here uses a crate-private
//! item: the public contract suite (`otpguard::testing::store_contract`)
//! runs against it, then a bank's journey through `Lifecycle`, then the
//! suite against broken variants of the store, each of which it must
//! catch.

#![cfg(all(feature = "seal", feature = "testing"))]
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::{Arc, Mutex, MutexGuard};

use otpguard::lifecycle::{
    audit::AuditRecord, audit::Outcome, rules::Actor, rules::EventKind, store::Commit,
    store::CommitOutcome, store::SealedRecord, store::TokenRecord, store::TokenStore, CustomerId,
    Event, Label, Lifecycle, LifecycleConfig, LifecycleError, NewSecret, Principal, RequestContext,
    State, SuspendReason, TokenSerial,
};
use otpguard::seal::{KeyId, Keyring, Sealer};
use otpguard::testing::store_contract::{self, AuditEntry, Contract, ContractStore, Inline};
use otpguard::{Clock, FixedClock, Secret, StoreError, Totp, TotpParams};
use support::leaks::{contains, encodings};

// ---------------------------------------------------------------------------
// The store
// ---------------------------------------------------------------------------

/// A way to break the store, to check that the suite notices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    None,
    /// A first record overwrites one that exists (an upsert).
    Upsert,
    /// A refusal (a commit without a record) is written whatever the
    /// version.
    RefusalIgnoresVersion,
    /// The audit records of a commit that conflicts are written anyway.
    AuditOnConflict,
    /// The login OTP is not kept.
    ForgetsLoginOtp,
    /// The retired secrets' fingerprints and their key are not kept.
    ForgetsRetiredSecrets,
    /// The version is checked in one critical section and the record
    /// written in another: two commits decided on one version both pass.
    NotAtomic,
}

/// Per customer, the version and `SealedRecord::to_bytes`.
type Rows = HashMap<CustomerId, (u64, Vec<u8>)>;

/// Rows of bytes in memory, as a database would hold them.
struct BytesStore<K = Keyring> {
    keys: K,
    rows: Mutex<Rows>,
    audit: Mutex<Vec<AuditRecord>>,
    fault: Fault,
}

impl<K> BytesStore<K> {
    fn new(keys: K) -> Self {
        Self::with_fault(keys, Fault::None)
    }

    fn with_fault(keys: K, fault: Fault) -> Self {
        Self {
            keys,
            rows: Mutex::default(),
            audit: Mutex::default(),
            fault,
        }
    }

    fn rows(&self) -> Result<MutexGuard<'_, Rows>, StoreError> {
        self.rows
            .lock()
            .map_err(|_| StoreError::new("the rows' lock is poisoned"))
    }

    fn audit_log(&self) -> Result<MutexGuard<'_, Vec<AuditRecord>>, StoreError> {
        self.audit
            .lock()
            .map_err(|_| StoreError::new("the audit's lock is poisoned"))
    }

    /// The bytes kept for `c`, as a database dump would show them.
    fn bytes(&self, c: &CustomerId) -> Option<(u64, Vec<u8>)> {
        self.rows().unwrap().get(c).cloned()
    }
}

impl<K: Sealer + Sync> BytesStore<K> {
    fn load_now(&self, customer: &CustomerId) -> Result<Option<TokenRecord>, StoreError> {
        let Some((version, bytes)) = self.rows()?.get(customer).cloned() else {
            return Ok(None);
        };
        let sealed = SealedRecord::from_bytes(&bytes)?;
        if sealed.version != version {
            return Err(StoreError::corrupt(format!(
                "record of {customer}: version {} in a row of version {version}",
                sealed.version
            )));
        }
        sealed
            .open(customer, &self.keys)
            .map(Some)
            .map_err(|e| StoreError::corrupt(format!("record of {customer}: {e}")))
    }

    fn commit_now(&self, commit: Commit<'_>) -> Result<CommitOutcome, StoreError> {
        // Sealed before anything is written: a failure writes nothing.
        let row = match &commit.record {
            Some(record) => {
                let mut sealed = record
                    .seal(commit.customer, &self.keys)
                    .map_err(|e| StoreError::with_source("sealing failed", e))?;
                match self.fault {
                    Fault::ForgetsLoginOtp => sealed.login_otp = false,
                    Fault::ForgetsRetiredSecrets => {
                        sealed.retired_fingerprints.clear();
                        sealed.fingerprint_key = None;
                    }
                    _ => {}
                }
                Some((record.version(), sealed.to_bytes()))
            }
            None => None,
        };
        if self.fault == Fault::NotAtomic {
            let current = self.rows()?.get(commit.customer).map_or(0, |(v, _)| *v);
            if current != commit.expected_version {
                return Ok(CommitOutcome::Conflict);
            }
            std::thread::yield_now();
            self.audit_log()?.extend_from_slice(commit.audit);
            if let Some(row) = row {
                self.rows()?.insert(commit.customer.clone(), row);
            }
            return Ok(CommitOutcome::Committed);
        }
        // One critical section: the version check, the audit and the row.
        let mut rows = self.rows()?;
        let current = rows.get(commit.customer).map_or(0, |(v, _)| *v);
        let upsert = self.fault == Fault::Upsert && commit.expected_version == 0;
        let refusal_anyway = self.fault == Fault::RefusalIgnoresVersion && row.is_none();
        if current != commit.expected_version && !upsert && !refusal_anyway {
            if self.fault == Fault::AuditOnConflict {
                self.audit_log()?.extend_from_slice(commit.audit);
            }
            return Ok(CommitOutcome::Conflict);
        }
        self.audit_log()?.extend_from_slice(commit.audit);
        if let Some(row) = row {
            rows.insert(commit.customer.clone(), row);
        }
        Ok(CommitOutcome::Committed)
    }
}

impl<K: Sealer + Sync> TokenStore for BytesStore<K> {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        ready(self.load_now(customer))
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        ready(self.commit_now(commit))
    }
}

impl<K: Sealer + Send + Sync + 'static> ContractStore for BytesStore<K> {
    fn audit_of(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Vec<AuditEntry>, StoreError>> + Send {
        ready(self.audit_log().map(|log| {
            log.iter()
                .filter(|r| &r.customer == customer)
                .map(AuditEntry::from)
                .collect()
        }))
    }
}

fn keys() -> Keyring {
    Keyring::new(KeyId(1), &[0x11; 32]).unwrap()
}

/// A lifecycle with the default settings over `store`, on `clock`.
fn lifecycle(
    store: &Arc<BytesStore>,
    clock: &Arc<FixedClock>,
) -> Lifecycle<Arc<BytesStore>, Arc<FixedClock>> {
    Lifecycle::new(
        LifecycleConfig::default(),
        Arc::clone(store),
        Arc::clone(clock),
    )
}

/// A factory of handles on one store.
fn handles<S: Send + Sync + 'static>(
    store: &Arc<S>,
) -> impl Fn() -> std::future::Ready<Arc<S>> + '_ {
    move || ready(Arc::clone(store))
}

// ---------------------------------------------------------------------------
// The contract suite
// ---------------------------------------------------------------------------

#[test]
fn the_store_keeps_the_contract() {
    let store = Arc::new(BytesStore::new(keys()));
    let contract = Contract::new().trials(50);
    let report = store_contract::run(&contract, &Inline, handles(&store))
        .unwrap_or_else(|violation| panic!("{violation}"));
    println!("{report}");
    for (name, totals) in &report.properties {
        assert_eq!(totals.trials, 50, "{name}");
    }
    let [(_, one), (_, genuine), (_, lockout)] = report.properties.as_slice() else {
        panic!("three properties: {report}");
    };
    assert_eq!((one.accepted, one.replayed), (50, 50 * 15));
    assert_eq!((genuine.accepted, genuine.counted), (50, 50 * 15));
    assert_eq!(
        (lockout.counted, lockout.locked_out, lockout.refused_locked),
        (50 * 5, 50, 50 * 11)
    );
    // Everything the suite committed is bytes that read back.
    for (c, (version, bytes)) in store.rows.lock().unwrap().iter() {
        let sealed = SealedRecord::from_bytes(bytes).unwrap();
        assert_eq!(sealed.version, *version, "{c}");
        assert_eq!(sealed.to_bytes(), *bytes);
    }
}

/// Every broken variant fails the check that covers what it breaks.
#[test]
fn the_suite_catches_a_broken_store() {
    let cases = [
        (Fault::Upsert, "commits"),
        (Fault::RefusalIgnoresVersion, "commits"),
        (Fault::AuditOnConflict, "commits"),
        (Fault::ForgetsLoginOtp, "records round trip"),
        (Fault::ForgetsRetiredSecrets, "records round trip"),
    ];
    for (fault, check) in cases {
        let store = Arc::new(BytesStore::with_fault(keys(), fault));
        let violation = store_contract::run(&Contract::new().trials(1), &Inline, handles(&store))
            .expect_err(&format!("{fault:?} went unnoticed"));
        println!("{fault:?}: {violation}");
        assert_eq!(violation.check(), check, "{fault:?}: {violation}");
    }
    // A commit that is not one atomic operation lets a code through twice
    // when submissions race.
    let store = Arc::new(BytesStore::with_fault(keys(), Fault::NotAtomic));
    let violation =
        store_contract::one_code_many_times(&Contract::new().trials(50), &Inline, handles(&store))
            .expect_err("a commit in two critical sections went unnoticed");
    println!("NotAtomic: {violation}");
    assert_eq!(violation.check(), "one code many times");
}

// ---------------------------------------------------------------------------
// A bank's journey
// ---------------------------------------------------------------------------

const START: u64 = 1_700_000_010;

fn web() -> Principal {
    Principal::customer(Label::new("web").unwrap())
}

fn operator() -> Principal {
    Principal::operator(Label::new("op-1").unwrap())
}

fn code(secret: &Secret, now: u64) -> String {
    Totp::new(secret, TotpParams::DEFAULT)
        .generate(now)
        .unwrap()
        .to_string()
}

#[test]
fn a_bank_journey_on_bytes() {
    let store = Arc::new(BytesStore::new(keys()));
    let clock = Arc::new(FixedClock::new(START));
    let lc = lifecycle(&store, &clock);
    let bank = lc.blocking();
    let (web, ctx) = (web(), RequestContext::new());
    let alice = CustomerId::new("alice").unwrap();

    // Provision: the secret is created by the lifecycle and shown once as
    // a Key URI; the store keeps it sealed, pending.
    let uri = bank.provision(&alice, &web, "alice", &ctx).unwrap();
    let secret = uri.secret().clone();
    let (version, bytes) = store.bytes(&alice).unwrap();
    assert_eq!(version, 1);
    let pending = SealedRecord::from_bytes(&bytes).unwrap();
    assert_eq!(pending.state, State::Unregistered);
    assert!(pending.enrollment.is_some() && pending.token.is_none());

    // Register with the first code the app shows.
    let register = Event::Register {
        serial: TokenSerial::new("SN-0001").unwrap(),
        secret: NewSecret::Provisioned,
        code: code(&secret, clock.now()).as_str().into(),
    };
    let applied = bank.submit(&alice, &web, register, &ctx).unwrap();
    assert_eq!((applied.to, applied.version), (State::Active, 2));

    // A transfer: the code is accepted once; the same code again is a
    // replay, refused and not counted.
    clock.advance(30);
    let transfer = code(&secret, clock.now());
    let proof = bank
        .verify_transaction(&alice, &web, &transfer, &ctx)
        .unwrap();
    assert_eq!(proof.version(), 3);
    let replay = bank.verify_transaction(&alice, &web, &transfer, &ctx);
    assert!(
        matches!(replay, Err(LifecycleError::Replayed { step, .. }) if step == proof.claimed().value()),
        "{replay:?}"
    );
    let record = store.load_now(&alice).unwrap().unwrap();
    assert_eq!(
        (record.version(), record.failures(), record.last_step()),
        (3, 0, Some(proof.claimed().value()))
    );

    // Wrong codes: counted one by one, the fifth locks the token out; then
    // even the genuine code is refused.
    clock.advance(30);
    let genuine = code(&secret, clock.now());
    let wrong: Vec<String> = (0..1_000_000u32)
        .map(|v| format!("{v:06}"))
        .filter(|c| {
            *c != genuine
                && *c != code(&secret, clock.now() - 30)
                && *c != code(&secret, clock.now() + 30)
        })
        .take(5)
        .collect();
    for (n, w) in (1u32..).zip(&wrong) {
        let answer = bank.verify_transaction(&alice, &web, w, &ctx);
        match answer {
            Err(LifecycleError::WrongCode {
                failures,
                locked_out,
                ..
            }) => assert_eq!((failures, locked_out), (n, n == 5)),
            other => panic!("wrong code #{n}: {other:?}"),
        }
    }
    let locked = State::Suspended(SuspendReason::TooManyFailures);
    let refused = bank.verify_transaction(&alice, &web, &genuine, &ctx);
    assert!(
        matches!(&refused, Err(e @ LifecycleError::NotPermitted { state, .. }) if *state == locked && e.is_locked_out()),
        "{refused:?}"
    );
    let record = store.load_now(&alice).unwrap().unwrap();
    assert_eq!((record.state(), record.failures()), (locked, 5));

    // The operator resumes; the customer's code works again.
    bank.submit(&alice, &operator(), Event::Resume, &ctx)
        .unwrap();
    clock.advance(30);
    let _proof = bank
        .verify_transaction(&alice, &web, &code(&secret, clock.now()), &ctx)
        .unwrap();

    // The audit trail, in commit order.
    let trail: Vec<(EventKind, Outcome, Actor)> = store
        .audit
        .lock()
        .unwrap()
        .iter()
        .map(|r| (r.event, r.outcome, r.principal.actor()))
        .collect();
    let mut expected = vec![
        (EventKind::Provision, Outcome::Accepted, Actor::Customer),
        (EventKind::Register, Outcome::Accepted, Actor::Customer),
        (
            EventKind::VerifyTransaction,
            Outcome::Accepted,
            Actor::Customer,
        ),
        (
            EventKind::VerifyTransaction,
            Outcome::Refused,
            Actor::Customer,
        ),
    ];
    expected.extend(
        [(
            EventKind::VerifyTransaction,
            Outcome::Refused,
            Actor::Customer,
        ); 5],
    );
    expected.extend([
        (
            EventKind::Suspend(SuspendReason::TooManyFailures),
            Outcome::Accepted,
            Actor::System,
        ),
        (
            EventKind::VerifyTransaction,
            Outcome::Refused,
            Actor::Customer,
        ),
        (EventKind::Resume, Outcome::Accepted, Actor::Operator),
        (
            EventKind::VerifyTransaction,
            Outcome::Accepted,
            Actor::Customer,
        ),
    ]);
    assert_eq!(trail, expected);

    // What the store holds is ciphertext only: the secret is in none of
    // its encodings, and the audit names no secret or code either.
    let (_, bytes) = store.bytes(&alice).unwrap();
    let forms = encodings(secret.expose_secret());
    assert!(forms.contains(&secret.to_base32().as_bytes().to_vec()));
    for form in forms {
        assert!(!contains(&bytes, &form), "a secret in the stored bytes");
    }
    let audit_text: String = store
        .audit
        .lock()
        .unwrap()
        .iter()
        .map(|r| format!("{r}\n"))
        .collect();
    assert!(!audit_text.contains(&genuine) && !audit_text.contains(&transfer));
}

/// Bytes changed in the database, or copied under another customer, are
/// refused as corrupt, never opened as someone else's record.
#[test]
fn tampered_or_moved_bytes_are_refused_as_corrupt() {
    let store = Arc::new(BytesStore::new(keys()));
    let clock = Arc::new(FixedClock::new(START));
    let lc = lifecycle(&store, &clock);
    let (web, ctx) = (web(), RequestContext::new());
    let (alice, bob) = (
        CustomerId::new("alice").unwrap(),
        CustomerId::new("bob").unwrap(),
    );
    let secret = Secret::from_bytes(&[0x42; 20]).unwrap();
    let register = Event::Register {
        serial: TokenSerial::new("SN-A").unwrap(),
        secret: NewSecret::Given(secret.clone()),
        code: code(&secret, clock.now()).as_str().into(),
    };
    lc.blocking().submit(&alice, &web, register, &ctx).unwrap();
    clock.advance(30);
    let (version, bytes) = store.bytes(&alice).unwrap();

    // Alice's row copied under bob: it does not open for him.
    store
        .rows
        .lock()
        .unwrap()
        .insert(bob.clone(), (version, bytes.clone()));
    let answer = lc
        .blocking()
        .verify_transaction(&bob, &web, &code(&secret, clock.now()), &ctx);
    assert!(
        matches!(answer, Err(LifecycleError::Corrupt(_))),
        "{answer:?}"
    );

    // A byte of alice's row changed: refused, whichever byte it is.
    for at in [0, 4, 5, bytes.len() / 2, bytes.len() - 1] {
        let mut changed = bytes.clone();
        changed[at] ^= 0x01;
        store
            .rows
            .lock()
            .unwrap()
            .insert(alice.clone(), (version, changed));
        let answer =
            lc.blocking()
                .verify_transaction(&alice, &web, &code(&secret, clock.now()), &ctx);
        assert!(
            matches!(answer, Err(LifecycleError::Corrupt(_))),
            "byte {at}: {answer:?}"
        );
    }

    // Restored, the record works again.
    store
        .rows
        .lock()
        .unwrap()
        .insert(alice.clone(), (version, bytes));
    let _proof = lc
        .blocking()
        .verify_transaction(&alice, &web, &code(&secret, clock.now()), &ctx)
        .unwrap();
}

/// After a key rotation, old bytes still open and the next commit seals
/// the record again under the new primary key.
#[test]
fn a_key_rotation_reseals_on_the_next_commit() {
    let old = Arc::new(BytesStore::new(keys()));
    let clock = Arc::new(FixedClock::new(START));
    let alice = CustomerId::new("alice").unwrap();
    let secret = Secret::from_bytes(&[0x43; 20]).unwrap();
    let lc = lifecycle(&old, &clock);
    let register = Event::Register {
        serial: TokenSerial::new("SN-A").unwrap(),
        secret: NewSecret::Given(secret.clone()),
        code: code(&secret, clock.now()).as_str().into(),
    };
    lc.blocking()
        .submit(&alice, &web(), register, &RequestContext::new())
        .unwrap();

    let rotated = keys().rotate_to(KeyId(2), &[0x22; 32]).unwrap();
    let store = Arc::new(BytesStore::new(rotated));
    *store.rows.lock().unwrap() = old.rows.lock().unwrap().clone();
    let before = SealedRecord::from_bytes(&store.bytes(&alice).unwrap().1).unwrap();
    assert!(before.needs_reseal(KeyId(2)));
    let lc = lifecycle(&store, &clock);
    clock.advance(30);
    let _proof = lc
        .blocking()
        .verify_transaction(
            &alice,
            &web(),
            &code(&secret, clock.now()),
            &RequestContext::new(),
        )
        .unwrap();
    let after = SealedRecord::from_bytes(&store.bytes(&alice).unwrap().1).unwrap();
    assert!(!after.needs_reseal(KeyId(2)));
    assert_eq!(after.token.unwrap().secret.key(), KeyId(2));
}
