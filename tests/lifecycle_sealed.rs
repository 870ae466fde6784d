//! The lifecycle over a store that keeps only sealed records (the shape a
//! database store takes): every secret sealed on commit and opened on load,
//! bound to its customer, token and slot; and sealed records as bytes
//! (`SealedRecord::to_bytes`, `from_bytes`): real records round trip and
//! hold no secret, inconsistent ones are refused when opened, and no byte
//! string makes the reader panic.

#![cfg(feature = "seal")]
#![allow(clippy::unwrap_used)]

mod support;

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
use support::leaks::{contains, encodings};

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
    let store = SealedStore::new(Keyring::new(KeyId(1), &[0x11; 32]).unwrap());
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
    let old = Keyring::new(KeyId(1), &[0x41; 32]).unwrap();
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
            .unwrap()
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

/// Every slot filled: a token, a pending swap's secret, retired serials
/// with their fingerprints and key, the login OTP on, a counted failure.
#[test]
fn records_as_bytes_round_trip_and_hold_only_sealed_secrets() {
    let store = SealedStore::new(Keyring::new(KeyId(1), &[0x11; 32]).unwrap());
    let clock = FixedClock::new(START);
    let lc = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let alice = CustomerId::new("alice").unwrap();
    let first = Secret::from_bytes(&[0x21; 20]).unwrap();
    let second = Secret::from_bytes(&[0x22; 20]).unwrap();
    let third = Secret::from_bytes(&[0x23; 20]).unwrap();
    let (web, ctx) = (web(), RequestContext::new());
    register(&lc, &alice, "SN-1", &first, clock.now()).unwrap();
    let mut rows = vec![store.row(&alice).unwrap()];
    clock.set(START + 30);
    let on = Event::SetLoginOtp {
        on: true,
        code: code(&first, clock.now()).as_str().into(),
    };
    lc.blocking().submit(&alice, &web, on, &ctx).unwrap();
    clock.set(START + 60);
    let swap = Event::BeginSwap {
        code: code(&first, clock.now()).as_str().into(),
        to: otpguard::lifecycle::SwapTo::Given(second.clone()),
    };
    lc.blocking().submit(&alice, &web, swap, &ctx).unwrap();
    rows.push(store.row(&alice).unwrap());
    let complete = Event::CompleteSwap {
        serial: TokenSerial::new("SN-2").unwrap(),
        code: code(&second, clock.now()).as_str().into(),
    };
    lc.blocking().submit(&alice, &web, complete, &ctx).unwrap();
    clock.set(START + 90);
    let swap = Event::BeginSwap {
        code: code(&second, clock.now()).as_str().into(),
        to: otpguard::lifecycle::SwapTo::Given(third.clone()),
    };
    lc.blocking().submit(&alice, &web, swap, &ctx).unwrap();
    let wrong = lc
        .blocking()
        .verify_transaction(&alice, &web, "000000", &ctx);
    assert!(
        matches!(wrong, Err(LifecycleError::WrongCode { .. })),
        "{wrong:?}"
    );
    let last = store.row(&alice).unwrap();
    assert_eq!(last.state, State::Swapping);
    assert!(last.enrollment.is_some() && last.fingerprint_key.is_some());
    assert_eq!(last.retired_serials.len(), 1);
    assert_eq!(last.failures, 1);
    assert!(last.login_otp);
    rows.push(last);

    for row in &rows {
        let bytes = row.to_bytes();
        assert_eq!(&bytes[..5], b"OGSR\x02");
        let back = SealedRecord::from_bytes(&bytes).unwrap();
        assert_eq!(&back, row);
        assert_eq!(back.to_bytes(), bytes);
        assert_eq!(
            back.open(&alice, &store.keys).unwrap().summary(),
            row.open(&alice, &store.keys).unwrap().summary()
        );
        for secret in [&first, &second, &third] {
            for form in encodings(secret.expose_secret()) {
                assert!(!contains(&bytes, &form), "a secret in the bytes");
            }
        }
        // Under another customer, the bytes do not open.
        let bob = CustomerId::new("bob").unwrap();
        assert_eq!(
            back.open(&bob, &store.keys).err(),
            Some(SealError::Unauthentic)
        );
    }
}

/// Fields that do not make a record together are refused when the record
/// is opened, whichever way it was stored: the state without its token,
/// the login OTP without a token.
#[test]
fn inconsistent_bytes_are_refused_when_opened() {
    let store = SealedStore::new(Keyring::new(KeyId(1), &[0x11; 32]).unwrap());
    let clock = FixedClock::new(START);
    let lc = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let alice = CustomerId::new("alice").unwrap();
    register(
        &lc,
        &alice,
        "SN-1",
        &Secret::from_bytes(&[0x21; 20]).unwrap(),
        clock.now(),
    )
    .unwrap();
    let row = store.row(&alice).unwrap();
    // A record without its tag does not open, whatever else it holds.
    let mut untagged = row.clone();
    untagged.tag = None;
    assert_eq!(
        untagged.open(&alice, &store.keys).err(),
        Some(SealError::Untagged)
    );
    let mut no_token = row.clone();
    no_token.token = None;
    let mut login_alone = row.clone();
    login_alone.token = None;
    login_alone.state = State::Reissued;
    login_alone.login_otp = true;
    for (forged, why) in [
        (
            no_token,
            "the state and its token, pending swap or pending secret disagree",
        ),
        (login_alone, "login OTP on without a token"),
    ] {
        let read = SealedRecord::from_bytes(&forged.to_bytes()).unwrap();
        // Changed without the keys, the record does not open at all.
        assert_eq!(
            read.open(&alice, &store.keys).err(),
            Some(SealError::Unauthentic)
        );
        // Tagged again by a holder of the keys, its fields still do not
        // make a record.
        let retagged = read.tagged(&alice, &store.keys).unwrap();
        assert_eq!(
            retagged.open(&alice, &store.keys).err(),
            Some(SealError::Inconsistent(why))
        );
    }
}

proptest::proptest! {
    /// Arbitrary bytes, and a real record's bytes with bytes changed, are
    /// refused as corrupt or read as a record that writes them back
    /// exactly; nothing panics.
    #[test]
    fn bytes_never_panic(
        junk in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600),
        edits in proptest::collection::vec((proptest::prelude::any::<proptest::sample::Index>(), proptest::prelude::any::<u8>()), 1..4),
    ) {
        for bytes in [junk.clone(), [b"OGSR\x02".as_slice(), &junk].concat()] {
            match SealedRecord::from_bytes(&bytes) {
                Ok(read) => proptest::prop_assert_eq!(read.to_bytes(), bytes),
                Err(e) => proptest::prop_assert!(e.is_corrupt()),
            }
        }
        let keys = Keyring::new(KeyId(1), &[0x11; 32]).unwrap();
        let alice = CustomerId::new("alice").unwrap();
        let store = SealedStore::new(Keyring::new(KeyId(1), &[0x11; 32]).unwrap());
        let clock = FixedClock::new(START);
        let lc = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
        register(&lc, &alice, "SN-1", &Secret::from_bytes(&[0x21; 20]).unwrap(), clock.now()).unwrap();
        let mut bytes = store.row(&alice).unwrap().to_bytes();
        for (at, value) in &edits {
            let i = at.index(bytes.len());
            bytes[i] = *value;
        }
        match SealedRecord::from_bytes(&bytes) {
            Ok(read) => {
                proptest::prop_assert_eq!(read.to_bytes(), bytes);
                // Opening may refuse it, never panic.
                let _ = read.open(&alice, &keys);
            }
            Err(e) => proptest::prop_assert!(e.is_corrupt()),
        }
    }
}
