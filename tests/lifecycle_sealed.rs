//! The lifecycle over a store that keeps only sealed records (the shape a
//! database store takes): every secret sealed on commit and opened on load,
//! bound to its customer, token and slot.

#![cfg(feature = "seal")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::Mutex;

use otpguard::lifecycle::{
    audit::AuditRecord, store::Commit, store::CommitOutcome, store::SealedRecord,
    store::TokenRecord, store::TokenStore, CustomerId, Event, Label, Lifecycle, LifecycleConfig,
    LifecycleError, NewSecret, Principal, ReissueReason, RequestContext, State, SuspendReason,
    TokenSerial,
};
use otpguard::seal::{KeyId, Keyring, SealError};
use otpguard::{Clock, FixedClock, Secret, StoreError, Totp, TotpParams};

/// Sealed rows in memory, as a database would hold them.
struct SealedStore {
    keys: Keyring,
    rows: Mutex<HashMap<CustomerId, SealedRecord>>,
    audit: Mutex<Vec<AuditRecord>>,
}

impl SealedStore {
    fn new(keys: Keyring) -> Self {
        Self {
            keys,
            rows: Mutex::default(),
            audit: Mutex::default(),
        }
    }

    fn row(&self, c: &CustomerId) -> Option<SealedRecord> {
        self.rows.lock().unwrap().get(c).cloned()
    }
}

impl TokenStore for SealedStore {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        let loaded = self
            .row(customer)
            .map(|row| row.open(customer, &self.keys))
            .transpose()
            .map_err(|e| StoreError::corrupt(format!("record of {customer}: {e}")));
        ready(loaded)
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        let mut rows = self.rows.lock().unwrap();
        let current = rows.get(commit.customer).map_or(0, |r| r.version);
        if current != commit.expected_version {
            return ready(Ok(CommitOutcome::Conflict));
        }
        let sealed = match &commit.record {
            Some(record) => match record.seal(commit.customer, &self.keys) {
                Ok(sealed) => Some(sealed),
                Err(e) => return ready(Err(StoreError::with_source("sealing failed", e))),
            },
            None => None,
        };
        self.audit.lock().unwrap().extend_from_slice(commit.audit);
        if let Some(sealed) = sealed {
            rows.insert(commit.customer.clone(), sealed);
        }
        ready(Ok(CommitOutcome::Committed))
    }
}

const START: u64 = 1_700_000_000;

fn web() -> Principal {
    Principal::customer(Label::new("web").unwrap())
}

fn operator() -> Principal {
    Principal::operator(Label::new("op-1").unwrap())
}

fn code(secret: &Secret, now: u64) -> String {
    Totp::new(secret, TotpParams::default())
        .generate(now)
        .unwrap()
        .to_string()
}

/// Registers a token with `secret` for `c`, with the code it shows at `now`.
fn register(
    lc: &Lifecycle<&SealedStore, &FixedClock>,
    c: &CustomerId,
    serial: &str,
    secret: &Secret,
    now: u64,
) -> Result<(), LifecycleError> {
    let event = Event::Register {
        serial: TokenSerial::new(serial).unwrap(),
        secret: NewSecret::Given(secret.clone()),
        code: code(secret, now).as_str().into(),
    };
    lc.blocking()
        .submit(c, &web(), event, &RequestContext::new())
        .map(|_| ())
}

#[test]
fn the_lifecycle_runs_on_sealed_records_and_a_moved_secret_does_not_open() {
    let store = SealedStore::new(Keyring::new(KeyId(1), &[0x11; 32]));
    let clock = FixedClock::new(START);
    let lc = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let alice = CustomerId::new("alice").unwrap();
    let bob = CustomerId::new("bob").unwrap();
    let lost = Secret::from_bytes(&[0x21; 20]).unwrap();
    register(&lc, &alice, "SN-A", &lost, clock.now()).unwrap();
    clock.set(START + 30);
    let _proof = lc
        .blocking()
        .verify_transaction(
            &alice,
            &web(),
            &code(&lost, clock.now()),
            &RequestContext::new(),
        )
        .unwrap();

    // Lost phone: suspended, reissued; the retired secret stays refused
    // across sealing and opening.
    for event in [
        Event::Suspend {
            reason: SuspendReason::LostDevice,
        },
        Event::Reissue {
            reason: ReissueReason::LostDevice,
        },
    ] {
        lc.blocking()
            .submit(&alice, &operator(), event, &RequestContext::new())
            .unwrap();
    }
    lc.blocking()
        .provision(&alice, &web(), "alice", &RequestContext::new())
        .unwrap();
    clock.set(START + 60);
    let again = register(&lc, &alice, "SN-A2", &lost, clock.now());
    assert!(
        matches!(again, Err(LifecycleError::SecretReused)),
        "{again:?}"
    );

    // What the store holds: no secret, no key; opened, the same record.
    let row = store.row(&alice).unwrap();
    assert_eq!(row.state, State::Reissued);
    assert!(row.fingerprint_key.is_some() && row.enrollment.is_some());
    let debug = format!("{row:?}");
    assert!(!debug.contains("33, 33, 33"), "{debug}");
    let opened = row.open(&alice, &store.keys).unwrap();
    assert_eq!(
        opened
            .seal(&alice, &store.keys)
            .unwrap()
            .open(&alice, &store.keys)
            .unwrap()
            .summary(),
        opened.summary()
    );

    // Bob registers; then alice's sealed enrollment is copied into bob's
    // row: it does not open there, and the lifecycle refuses bob as corrupt.
    register(
        &lc,
        &bob,
        "SN-B",
        &Secret::from_bytes(&[0x31; 20]).unwrap(),
        clock.now(),
    )
    .unwrap();
    let mut moved = store.row(&bob).unwrap();
    let mut bob_token = moved.token.clone().unwrap();
    bob_token.secret = row.enrollment.clone().unwrap().secret;
    moved.token = Some(bob_token);
    assert_eq!(
        moved.open(&bob, &store.keys).err(),
        Some(SealError::Unauthentic)
    );
    store.rows.lock().unwrap().insert(bob.clone(), moved);
    clock.set(START + 90);
    let refused = lc
        .blocking()
        .verify_transaction(&bob, &web(), "123456", &RequestContext::new());
    assert!(
        matches!(refused, Err(LifecycleError::Corrupt(_))),
        "{refused:?}"
    );

    // A slot swap inside one row (enrollment into the token slot) fails too.
    let mut swapped = store.row(&alice).unwrap();
    swapped.fingerprint_key = swapped.enrollment.clone().map(|e| e.secret);
    assert_eq!(
        swapped.open(&alice, &store.keys).err(),
        Some(SealError::Unauthentic)
    );
}

#[test]
fn rotation_reseals_on_the_next_commit() {
    let old = Keyring::new(KeyId(1), &[0x41; 32]);
    let store = SealedStore::new(old);
    let clock = FixedClock::new(START);
    let lc = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let c = CustomerId::new("carol").unwrap();
    let secret = Secret::from_bytes(&[0x51; 20]).unwrap();
    register(&lc, &c, "SN-C", &secret, clock.now()).unwrap();
    let row = store.row(&c).unwrap();
    assert!(!row.needs_reseal(KeyId(1)));

    // The same rows under a rotated keyring: old secrets open, the next
    // commit seals under the new primary.
    let rotated = SealedStore {
        keys: Keyring::new(KeyId(1), &[0x41; 32])
            .rotate_to(KeyId(2), &[0x42; 32])
            .unwrap(),
        rows: Mutex::new(store.rows.lock().unwrap().clone()),
        audit: Mutex::default(),
    };
    assert!(rotated.row(&c).unwrap().needs_reseal(KeyId(2)));
    let lc2 = Lifecycle::new(LifecycleConfig::default(), &rotated, &clock);
    clock.set(START + 30);
    let _proof = lc2
        .blocking()
        .verify_transaction(
            &c,
            &web(),
            &code(&secret, clock.now()),
            &RequestContext::new(),
        )
        .unwrap();
    let resealed = rotated.row(&c).unwrap();
    assert!(!resealed.needs_reseal(KeyId(2)));
    assert_eq!(resealed.token.unwrap().secret.key(), KeyId(2));
}
