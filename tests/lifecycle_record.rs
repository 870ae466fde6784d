//! The stored record: serde only through the explicit `WithPlaintextSecrets`
//! opt-in (format 2), checked on the way back in; a secret-free summary
//! otherwise. A store that keeps nothing but that JSON runs the whole
//! lifecycle.

#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

mod lifecycle_support;

use std::collections::HashMap;
use std::future::{ready, Future};
use std::sync::Mutex;

use lifecycle_support::{principal, Bank, Phone, START};
use otpguard::lifecycle::{
    audit::AuditLog, audit::AuditSink, audit::Outcome, rules::Actor, rules::EventKind,
    store::Commit, store::CommitOutcome, store::TokenRecord, store::TokenStore,
    store::WithPlaintextSecrets, CustomerId, Event, Lifecycle, LifecycleConfig, LifecycleError,
    NewSecret, RequestContext, State,
};
use otpguard::{Clock, FixedClock, StoreError};

/// A store that keeps each record only as `WithPlaintextSecrets` JSON, as a
/// database column would.
#[derive(Default)]
struct JsonStore {
    rows: Mutex<HashMap<CustomerId, (u64, String)>>,
    audit: AuditLog,
}

impl JsonStore {
    fn put(&self, customer: &CustomerId, json: String) {
        let WithPlaintextSecrets(record): WithPlaintextSecrets<TokenRecord> =
            serde_json::from_str(&json).unwrap();
        self.rows
            .lock()
            .unwrap()
            .insert(customer.clone(), (record.version(), json));
    }

    fn json(&self, customer: &CustomerId) -> String {
        self.rows.lock().unwrap()[customer].1.clone()
    }

    fn record(&self, customer: &CustomerId) -> TokenRecord {
        let WithPlaintextSecrets(record) = serde_json::from_str(&self.json(customer)).unwrap();
        record
    }
}

impl TokenStore for JsonStore {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        let row = self.rows.lock().unwrap().get(customer).cloned();
        ready(
            row.map(|(_, json)| {
                serde_json::from_str::<WithPlaintextSecrets<TokenRecord>>(&json)
                    .map(|WithPlaintextSecrets(r)| r)
                    .map_err(|e| StoreError::with_source("unreadable token record", e))
            })
            .transpose(),
        )
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        let mut rows = self.rows.lock().unwrap();
        let current = rows.get(commit.customer).map_or(0, |(v, _)| *v);
        if current != commit.expected_version {
            return ready(Ok(CommitOutcome::Conflict));
        }
        let json = commit
            .record
            .as_ref()
            .map(|r| serde_json::to_string(&WithPlaintextSecrets(r)))
            .transpose();
        ready(
            json.map_err(|e| StoreError::with_source("cannot store a token record", e))
                .and_then(|json| {
                    self.audit.write(commit.audit)?;
                    if let (Some(record), Some(json)) = (&commit.record, json) {
                        rows.insert(commit.customer.clone(), (record.version(), json));
                    }
                    Ok(CommitOutcome::Committed)
                }),
        )
    }
}

/// A customer with a swap in progress: the second token current, the first
/// retired, a third secret provisioned and pending. Returns the bank, the
/// three phones (the third as it scanned its Key URI).
fn rich_record() -> (Bank, [Phone; 3]) {
    let first = Phone::new("SN-1", 1);
    let bank = Bank::with_token(&first);
    let second = bank.begin_swap_generated(&first, "SN-2").unwrap();
    bank.complete_swap(&second).unwrap();
    bank.tick();
    bank.set_login_otp(&second, true).unwrap();
    bank.tick();
    let third = bank.begin_swap_generated(&second, "SN-3").unwrap();
    let record = bank.record();
    assert_eq!(record.state(), State::Swapping);
    assert!(record.enrollment_deadline().is_some());
    assert_eq!(
        record.retired_serials(),
        std::slice::from_ref(&first.serial)
    );
    (bank, [first, second, third])
}

#[test]
fn a_stored_record_round_trips_with_its_secrets_and_keeps_working() {
    let (bank, [first, second, third]) = rich_record();
    let record = bank.snapshot().unwrap();

    let json = serde_json::to_string(&WithPlaintextSecrets(&record)).unwrap();
    assert!(json.contains("\"format\":2"), "{json}");
    for kept in [&second, &third] {
        assert!(
            json.contains(kept.secret().to_base32().as_str()),
            "the opt-in includes the current and the pending secret"
        );
    }
    assert!(
        !json.contains(first.secret().to_base32().as_str()),
        "a retired secret is kept only as a fingerprint"
    );
    let WithPlaintextSecrets(back): WithPlaintextSecrets<TokenRecord> =
        serde_json::from_str(&json).unwrap();
    assert_eq!(back.summary(), record.summary());
    assert_eq!(
        serde_json::to_string(&WithPlaintextSecrets(&back)).unwrap(),
        json,
        "written again, the same"
    );

    // Restored into a store that keeps only this JSON, it keeps working:
    // its current secret, its retired serial and secret, its pending one.
    let clock = FixedClock::new(bank.now());
    let store = JsonStore::default();
    store.put(&bank.customer, json);
    let lc = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let (web, ctx) = (principal(Actor::Customer), RequestContext::new());
    let submit = |event| lc.blocking().submit(&bank.customer, &web, event, &ctx);
    clock.advance(30);
    let proof = lc
        .blocking()
        .verify_transaction(&bank.customer, &web, &second.code(clock.now()), &ctx)
        .unwrap();
    assert_eq!(Some(proof.token()), record.token_id());
    let code = third.code(clock.now());
    let r = submit(Event::CompleteSwap {
        serial: first.serial.clone(),
        code: code.as_str().into(),
    });
    assert!(
        matches!(r, Err(LifecycleError::SerialRetired { .. })),
        "{r:?}"
    );
    let applied = submit(Event::CompleteSwap {
        serial: third.serial.clone(),
        code: code.as_str().into(),
    })
    .unwrap();
    assert_eq!(applied.to, State::Active);

    let stored = store.record(&bank.customer);
    assert_eq!(stored.version(), record.version() + 2);
    assert_eq!(stored.serial(), Some(&third.serial));
    assert_eq!(
        stored.retired_serials(),
        [first.serial.clone(), second.serial.clone()]
    );
    assert!(stored.login_otp());
    clock.advance(30);
    let r = lc
        .blocking()
        .login(&bank.customer, &web, Some(&third.code(clock.now())), &ctx);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(store.audit.len(), 4);
}

#[test]
fn the_whole_lifecycle_runs_on_a_store_of_json_rows() {
    let clock = FixedClock::new(START);
    let store = JsonStore::default();
    let lc = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let alice = CustomerId::new("c-1").unwrap();
    let (web, op, ctx) = (
        principal(Actor::Customer),
        principal(Actor::Operator),
        RequestContext::new(),
    );
    let uri = lc
        .blocking()
        .provision(&alice, &web, "alice", &ctx)
        .unwrap();
    let phone = Phone::scan("SN-1", &uri);
    let register = |phone: &Phone| {
        lc.blocking().submit(
            &alice,
            &web,
            Event::Register {
                serial: phone.serial.clone(),
                secret: NewSecret::Provisioned,
                code: phone.code(clock.now()).as_str().into(),
            },
            &ctx,
        )
    };
    register(&phone).unwrap();
    clock.advance(30);
    let code = phone.code(clock.now());
    let _ = lc
        .blocking()
        .verify_transaction(&alice, &web, &code, &ctx)
        .unwrap();
    let r = lc.blocking().verify_transaction(&alice, &web, &code, &ctx);
    assert!(matches!(r, Err(LifecycleError::Replayed { .. })), "{r:?}");
    lc.blocking()
        .submit(
            &alice,
            &op,
            Event::Reissue {
                reason: otpguard::lifecycle::ReissueReason::AppRemoved,
            },
            &ctx,
        )
        .unwrap();
    let uri = lc
        .blocking()
        .provision(&alice, &web, "alice", &ctx)
        .unwrap();
    let again = Phone::scan("SN-2", &uri);
    register(&again).unwrap();

    let record = store.record(&alice);
    assert_eq!(
        (record.state(), record.serial(), record.version()),
        (State::Active, Some(&again.serial), 6)
    );
    let outcomes: Vec<_> = store
        .audit
        .records()
        .iter()
        .map(|r| (r.event, r.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (EventKind::Provision, Outcome::Accepted),
            (EventKind::Register, Outcome::Accepted),
            (EventKind::VerifyTransaction, Outcome::Accepted),
            (EventKind::VerifyTransaction, Outcome::Refused),
            (EventKind::Reissue, Outcome::Accepted),
            (EventKind::Provision, Outcome::Accepted),
            (EventKind::Register, Outcome::Accepted),
        ]
    );
}

#[test]
fn the_summary_serializes_without_the_secret() {
    let (bank, [first, second, third]) = rich_record();
    let json = serde_json::to_string(&bank.summary()).unwrap();
    assert!(json.contains("SN-2") && json.contains("SN-1"), "{json}");
    for phone in [first, second, third] {
        assert!(!json.contains(phone.secret().to_base32().as_str()));
    }
    assert!(!json.to_lowercase().contains("secret"), "{json}");
    assert!(!json.contains("fingerprint"), "{json}");
}

#[test]
fn inconsistent_or_tampered_records_are_rejected() {
    let (bank, [_, second, _]) = rich_record();
    let json = serde_json::to_string(&WithPlaintextSecrets(&bank.snapshot().unwrap())).unwrap();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let edit = |f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = value.clone();
        f(&mut v);
        serde_json::to_string(&v).unwrap()
    };

    let tampered = [
        json.replace("\"state\":\"Swapping\"", "\"state\":\"Unregistered\""),
        json.replace("\"state\":\"Swapping\"", "\"state\":\"Active\""),
        json.replace("\"format\":2", "\"format\":1"),
        json.replace("\"format\":2", "\"format\":3"),
        json.replace("\"serial\":\"SN-2\"", "\"serial\":\"SN 2\""),
        json.replace(second.secret().to_base32().as_str(), "AAAA"),
        json.replace(second.secret().to_base32().as_str(), "not base32!"),
        edit(&|v| v["fingerprint_key"] = serde_json::Value::Null),
        edit(&|v| v["fingerprint_key"] = "AAAA".into()),
        edit(&|v| v["retired_fingerprints"][0] = "AAAA".into()),
        edit(&|v| v["token"]["id"] = "abcd".into()),
        edit(&|v| v["token"] = serde_json::Value::Null),
        edit(&|v| v["pending_swap"] = serde_json::Value::Null),
        // Active, with the swap's new secret left behind: an active record
        // holds no pending secret.
        edit(&|v| {
            v["state"] = "Active".into();
            v["pending_swap"] = serde_json::Value::Null;
        }),
        edit(&|v| {
            v["state"] = "Reissued".into();
            v["token"] = serde_json::Value::Null;
            v["pending_swap"] = serde_json::Value::Null;
        }),
    ];
    // The last one is consistent but for the login OTP, on without a token.
    for t in &tampered {
        assert_ne!(t, &json);
        assert!(
            serde_json::from_str::<WithPlaintextSecrets<TokenRecord>>(t).is_err(),
            "{t}"
        );
    }
    // With the login OTP off it is a valid record again: the check above
    // was the login OTP's.
    let valid = edit(&|v| {
        v["state"] = "Reissued".into();
        v["token"] = serde_json::Value::Null;
        v["pending_swap"] = serde_json::Value::Null;
        v["login_otp"] = false.into();
    });
    let WithPlaintextSecrets(r): WithPlaintextSecrets<TokenRecord> =
        serde_json::from_str(&valid).unwrap();
    assert_eq!(r.state(), State::Reissued);
    // Without the pending secret, the active record is valid: the check
    // above was the secret's.
    let active = edit(&|v| {
        v["state"] = "Active".into();
        v["pending_swap"] = serde_json::Value::Null;
        v["enrollment"] = serde_json::Value::Null;
    });
    let WithPlaintextSecrets(r): WithPlaintextSecrets<TokenRecord> =
        serde_json::from_str(&active).unwrap();
    assert_eq!((r.state(), r.enrollment_deadline()), (State::Active, None));
}

#[test]
fn a_record_at_the_last_version_refuses_every_change() {
    let bank = Bank::new();
    let phone = Phone::new("SN-1", 1);
    bank.register(&phone).unwrap();
    let json = serde_json::to_string(&WithPlaintextSecrets(&bank.snapshot().unwrap()))
        .unwrap()
        .replace("\"version\":1", &format!("\"version\":{}", u64::MAX));
    let store = JsonStore::default();
    store.put(&bank.customer, json.clone());
    let clock = FixedClock::new(bank.now() + 30);
    let lc = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let (web, ctx) = (principal(Actor::Customer), RequestContext::new());

    let on = Event::SetLoginOtp {
        on: true,
        code: phone.code(clock.now()).as_str().into(),
    };
    let r = lc.blocking().submit(&bank.customer, &web, on, &ctx);
    assert!(matches!(r, Err(LifecycleError::VersionExhausted)), "{r:?}");
    for code in [phone.wrong_code(clock.now()), phone.code(clock.now())] {
        let r = lc
            .blocking()
            .verify_transaction(&bank.customer, &web, &code, &ctx);
        assert!(matches!(r, Err(LifecycleError::VersionExhausted)), "{r:?}");
    }
    assert_eq!(store.json(&bank.customer), json, "nothing written");
    // Each refusal is audited, at the version the record is stuck at.
    let log = store.audit.take();
    assert_eq!(log.len(), 3);
    assert!(log
        .iter()
        .all(|r| r.outcome == Outcome::Refused && r.version == u64::MAX));
}

/// A swap past its deadline is timed out by the next event; if that event
/// is then refused, the time-out's audit record and the record must still
/// agree. At the second-to-last version the time-out takes the last one,
/// and the wrong code that follows cannot be counted.
#[test]
fn a_lazy_time_out_is_committed_with_its_audit_record_even_when_the_event_cannot_be_counted() {
    let phone = Phone::new("SN-1", 1);
    let bank = Bank::with_token(&phone);
    bank.begin_swap(&phone, &Phone::new("SN-2", 2)).unwrap();
    let deadline = bank.record().pending_swap().unwrap().deadline;
    let version = bank.record().version();
    let json = serde_json::to_string(&WithPlaintextSecrets(&bank.snapshot().unwrap()))
        .unwrap()
        .replace(
            &format!("\"version\":{version}"),
            &format!("\"version\":{}", u64::MAX - 1),
        );
    let store = JsonStore::default();
    store.put(&bank.customer, json);
    let clock = FixedClock::new(deadline + 30);
    let lc = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let r = lc.blocking().verify_transaction(
        &bank.customer,
        &principal(Actor::Customer),
        &phone.wrong_code(clock.now()),
        &RequestContext::new(),
    );
    assert!(r.is_err());

    let log = store.audit.take();
    let stored = store.record(&bank.customer);
    // Whatever the answer, every audit record committed describes a change
    // that the committed record shows.
    for r in &log {
        if r.outcome == Outcome::Accepted {
            assert!(
                stored.version() >= r.version,
                "audited {r}, but the record is {:?}",
                stored.summary()
            );
        }
    }
    let timed_out = log
        .iter()
        .any(|r| r.event == EventKind::SwapTimeout && r.outcome == Outcome::Accepted);
    assert_eq!(timed_out, stored.state() == State::Active, "{log:#?}");
}

/// The questions a time-only suite answered in its last step are kept with
/// the record, and a record that claims them where they cannot be (no last
/// signature) is refused.
#[test]
fn questions_answered_in_a_step_round_trip_and_are_checked() {
    let config = LifecycleConfig::builder()
        .signing(lifecycle_support::signing_suite())
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let phone = bank.record_in(State::Active);
    let suite = lifecycle_support::signing_suite();
    for payee in ["12345671", "99999991"] {
        let t = lifecycle_support::transfer_to(payee, 5);
        let response = phone.signature(&suite, &t, None, bank.now());
        let proof = bank
            .lc
            .blocking()
            .sign_transaction(&bank.customer, &bank.web, &t, &response, &bank.ctx)
            .unwrap();
        assert_eq!(proof.transaction(), Some(t.digest()));
    }
    let record = bank.snapshot().unwrap();
    assert_eq!(record.signed_in_last_step().len(), 2);
    let json = serde_json::to_string(&WithPlaintextSecrets(&record)).unwrap();
    let WithPlaintextSecrets(back): WithPlaintextSecrets<TokenRecord> =
        serde_json::from_str(&json).unwrap();
    assert_eq!(back.summary(), record.summary());

    let last = format!("\"last_signature\":{}", record.last_signature().unwrap());
    assert!(json.contains(&last));
    let forged = json.replace(&last, "\"last_signature\":null");
    let refused = serde_json::from_str::<WithPlaintextSecrets<TokenRecord>>(&forged);
    assert!(refused.is_err());

    // A record written before the questions were kept (the field absent):
    // every question of the last signed step counts as answered, so the
    // signatures made then are not accepted again.
    let start = json.find(",\"signed_in_last_step\":[").unwrap();
    let end = start + json[start..].find(']').unwrap() + 1;
    let legacy = format!("{}{}", &json[..start], &json[end..]);
    assert!(!legacy.contains("signed_in_last_step"));
    let store = JsonStore::default();
    store.put(&bank.customer, legacy);
    let clock = FixedClock::new(bank.now() + 5);
    let config = LifecycleConfig::builder()
        .signing(lifecycle_support::signing_suite())
        .build()
        .unwrap();
    let lc = Lifecycle::new(config, &store, &clock);
    let first = lifecycle_support::transfer_to("12345671", 5);
    let response = phone.signature(&suite, &first, None, bank.now());
    let again =
        lc.blocking()
            .sign_transaction(&bank.customer, &bank.web, &first, &response, &bank.ctx);
    assert!(
        matches!(again, Err(LifecycleError::Replayed { .. })),
        "{again:?}"
    );
}

/// The tagged plaintext form: every field that decides an answer, edited
/// by hand in the JSON, is refused when the record is opened; so is the
/// record without its tag or under another customer. A rotated keyring
/// still opens it.
#[cfg(feature = "seal")]
#[test]
fn a_tagged_plaintext_record_edited_by_hand_is_refused() {
    use otpguard::lifecycle::store::TaggedWithPlaintextSecrets;
    use otpguard::seal::{KeyId, Keyring, SealError};
    use serde_json::{json, Value};

    let (bank, _) = rich_record();
    bank.tick();
    let record = bank.record();
    let keys = Keyring::new(KeyId(1), &[0x33; 32]).unwrap();
    let json = serde_json::to_value(
        TaggedWithPlaintextSecrets::new(&record, &bank.customer, &keys).unwrap(),
    )
    .unwrap();
    let open = |value: &Value, customer: &CustomerId, keys: &Keyring| {
        let read: TaggedWithPlaintextSecrets<TokenRecord> =
            serde_json::from_value(value.clone()).unwrap();
        read.open(customer, keys)
    };
    assert_eq!(
        open(&json, &bank.customer, &keys).unwrap().summary(),
        record.summary()
    );
    // Rotated: the old key still opens what it tagged.
    let rotated = Keyring::new(KeyId(1), &[0x33; 32])
        .unwrap()
        .rotate_to(KeyId(2), &[0x44; 32])
        .unwrap();
    assert!(open(&json, &bank.customer, &rotated).is_ok());

    type Edit = (&'static str, fn(&mut Value));
    let edits: [Edit; 10] = [
        ("state", |v| v["state"] = json!("Active")),
        ("failures", |v| v["failures"] = json!(2)),
        ("hold-back", |v| v["throttled_until"] = json!(1_700_000_000)),
        ("login OTP", |v| v["login_otp"] = json!(false)),
        ("version", |v| v["version"] = json!(1)),
        ("last step", |v| {
            v["token"]["last_step"] = json!(0);
        }),
        ("drift", |v| v["token"]["drift"] = json!(5)),
        ("retired serials", |v| v["retired_serials"] = json!([])),
        ("pending swap", |v| {
            v["pending_swap"]["deadline"] = json!(1_800_000_000)
        }),
        ("secret", |v| {
            v["token"]["secret_base32"] = json!("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP");
        }),
    ];
    let mut tag_refused = 0;
    for (what, edit) in edits {
        let mut edited = json.clone();
        edit(&mut edited);
        assert_ne!(edited, json, "{what}: the edit changed nothing");
        // Either the record no longer holds together, or it does and its
        // tag refuses it.
        let read: Result<TaggedWithPlaintextSecrets<TokenRecord>, _> =
            serde_json::from_value(edited);
        if let Ok(read) = read {
            assert_eq!(
                read.open(&bank.customer, &keys).unwrap_err(),
                SealError::Unauthentic,
                "{what}"
            );
            tag_refused += 1;
        }
    }
    // Only the state changed alone breaks the record's consistency first.
    assert_eq!(tag_refused, edits.len() - 1);
    let mut untagged = json.clone();
    untagged.as_object_mut().unwrap().remove("tag");
    assert_eq!(
        open(&untagged, &bank.customer, &keys).unwrap_err(),
        SealError::Untagged
    );
    let other = CustomerId::new("someone-else").unwrap();
    assert_eq!(
        open(&json, &other, &keys).unwrap_err(),
        SealError::Unauthentic
    );
    let stranger = Keyring::new(KeyId(1), &[0x55; 32]).unwrap();
    assert_eq!(
        open(&json, &bank.customer, &stranger).unwrap_err(),
        SealError::Unauthentic
    );
    // The plain form carries no tag.
    let plain = serde_json::to_value(WithPlaintextSecrets(&record)).unwrap();
    assert!(plain.get("tag").is_none());
}
