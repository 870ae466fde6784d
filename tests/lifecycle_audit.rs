//! Audit is the truth: every answer has exactly one audit record for its
//! event, committed with the change it describes and equal to it; records
//! name the principal and the request context; an attempt that was not
//! committed (a lost conflict, a failing store or sink) leaves nothing; and
//! no record, error or `Debug` output carries a secret or a code.

#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

mod lifecycle_support;
mod support;

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use lifecycle_support::{principal, Bank, Phone, START};
use otpguard::lifecycle::{
    audit::AuditReason, audit::Outcome, rules::Actor, rules::EventKind, store::Commit,
    store::CommitOutcome, store::TokenRecord, store::TokenStore, CustomerId, Event, Label,
    Lifecycle, LifecycleConfig, LifecycleError, MemoryStore, NewSecret, Principal, ReissueReason,
    RequestContext, State, SuspendReason, SwapTo,
};
use otpguard::{Algorithm, Clock, FixedClock, StoreError, Totp, TotpParams};
use support::audit_sink::SwitchSink;

/// Every string a log could get from a journey through every kind of
/// event, and the codes and secrets used on the way.
struct Journey {
    logs: Vec<String>,
    codes: Vec<String>,
    secrets: Vec<otpguard::Secret>,
}

impl Journey {
    fn log<T: std::fmt::Debug>(&mut self, bank: &Bank, r: Result<T, LifecycleError>) {
        match r {
            Ok(t) => self.logs.push(format!("{t:?} {t:#?}")),
            Err(e) => {
                self.logs.push(e.to_string());
                self.logs.push(format!("{e:?}"));
            }
        }
        let record = bank.record();
        self.logs.push(format!("{record:?} {:?}", record.summary()));
    }

    fn code(&mut self, phone: &Phone, now: u64) -> String {
        let code = phone.code(now);
        self.codes.push(code.clone());
        code
    }

    fn event(&mut self, bank: &Bank, by: &Principal, event: Event) {
        self.logs.push(format!("{event:?} {event:#?}"));
        let r = bank.submit(by, event);
        self.log(bank, r);
    }
}

fn journey() -> Journey {
    let bank = Bank::new();
    let old = Phone::new("SN-OLD", 1);
    let mut j = Journey {
        logs: Vec::new(),
        codes: Vec::new(),
        secrets: vec![old.secret()],
    };
    let (web, op) = (bank.web.clone(), bank.op.clone());

    for round in 0..2 {
        // A vendor token the first time, a provisioned one the second.
        let first = if round == 0 {
            old.clone()
        } else {
            let uri = bank.provision("alice");
            j.logs.push(format!("{uri:?}"));
            let phone = Phone::scan("SN-PROV", &uri.unwrap());
            j.secrets.push(phone.secret());
            phone
        };
        let now = bank.now();
        let wrong = first.wrong_code(now);
        j.codes.push(wrong.clone());
        let code = j.code(&first, now);
        let secret = if round == 0 {
            first.given()
        } else {
            NewSecret::Provisioned
        };
        j.event(
            &bank,
            &web,
            Event::Register {
                serial: first.serial.clone(),
                secret: secret.clone(),
                code: wrong.as_str().into(),
            },
        );
        j.event(
            &bank,
            &web,
            Event::Register {
                serial: first.serial.clone(),
                secret,
                code: code.as_str().into(),
            },
        );
        bank.tick();
        let now = bank.now();
        let wrong = first.wrong_code(now);
        j.codes.push(wrong.clone());
        let right = j.code(&first, now);
        let r = bank.verify(&wrong);
        j.log(&bank, r);
        let r = bank.verify(&right);
        j.log(&bank, r);
        let r = bank.verify(&right); // a replay
        j.log(&bank, r);
        bank.tick();
        let right = j.code(&first, bank.now());
        j.event(
            &bank,
            &web,
            Event::SetLoginOtp {
                on: true,
                code: right.as_str().into(),
            },
        );
        bank.tick();
        let right = j.code(&first, bank.now());
        let r = bank.login(Some(&right));
        j.log(&bank, r);
        bank.tick();
        let right = j.code(&first, bank.now());
        let begin = Event::BeginSwap {
            code: right.as_str().into(),
            to: SwapTo::Generated {
                account: "alice".into(),
            },
        };
        j.logs.push(format!("{begin:?} {begin:#?}"));
        let applied = bank.submit(&web, begin);
        let uri = applied.as_ref().unwrap().key_uri.clone().unwrap();
        j.log(&bank, applied);
        let new = Phone::scan(&format!("SN-NEW-{round}"), &uri);
        j.secrets.push(new.secret());
        bank.tick();
        // The old phone's code does not complete it: counted, and named
        // without the code.
        let old_code = j.code(&first, bank.now());
        j.event(
            &bank,
            &web,
            Event::CompleteSwap {
                serial: new.serial.clone(),
                code: old_code.as_str().into(),
            },
        );
        let code = j.code(&new, bank.now());
        j.event(
            &bank,
            &web,
            Event::CompleteSwap {
                serial: new.serial.clone(),
                code: code.as_str().into(),
            },
        );
        j.event(
            &bank,
            &op,
            Event::Suspend {
                reason: SuspendReason::LostDevice,
            },
        );
        j.event(&bank, &op, Event::Resume);
        j.event(
            &bank,
            &op,
            Event::Reissue {
                reason: ReissueReason::LostDevice,
            },
        );
    }
    // The journey went where it was meant to: every kind of answer.
    let log = bank.audit_log();
    let accepted = |kind| {
        log.iter()
            .filter(|r| r.event == kind && r.outcome == Outcome::Accepted)
            .count()
    };
    for kind in [
        EventKind::Register,
        EventKind::VerifyTransaction,
        EventKind::VerifyLogin,
        EventKind::BeginSwap,
        EventKind::CompleteSwap,
        EventKind::Reissue,
    ] {
        assert_eq!(accepted(kind), 2, "{kind}");
    }
    assert_eq!(accepted(EventKind::Provision), 1);
    assert_eq!(log.len(), 2 * 13 + 1);
    for r in bank.audit_log() {
        j.logs.push(r.to_string());
        j.logs.push(format!("{r:?} {r:#?}"));
    }
    // Token ids are random hex, which may hold six digits in a row: masked.
    let ids: Vec<String> = log
        .iter()
        .filter_map(|r| r.token.map(|id| id.to_string()))
        .collect();
    assert!(ids.len() > 10);
    j.logs = j
        .logs
        .into_iter()
        .map(|line| {
            ids.iter()
                .fold(line, |line, id| line.replace(id, "<token id>"))
        })
        .collect();
    j
}

/// Whether `needle` occurs in `line` not as part of a longer number (a
/// six-digit code can occur inside a Unix time by chance).
fn contains_token(line: &str, needle: &str) -> bool {
    line.match_indices(needle).any(|(at, _)| {
        let before = line[..at].chars().next_back();
        let after = line[at + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

#[test]
fn no_secret_or_code_in_audit_records_errors_or_debug() {
    let j = journey();
    assert!(j.logs.len() > 80, "{}", j.logs.len());
    assert_eq!(j.secrets.len(), 4);
    assert!(contains_token("code 123456 x", "123456"));
    assert!(!contains_token("t=1700123456", "123456"));
    let mut needles: Vec<String> = j.codes.clone();
    for s in &j.secrets {
        needles.push(s.to_base32().to_string());
        needles.push(format!("{:?}", s.expose_secret()));
        needles.push(
            s.expose_secret()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        );
    }
    for line in &j.logs {
        for needle in &needles {
            assert!(
                !contains_token(line, needle),
                "{line:?} contains {needle:?}"
            );
        }
    }
}

#[test]
fn every_event_yields_one_audit_record_with_who_when_where_from_to_why() {
    let mut bank = Bank::new();
    bank.ctx = RequestContext::new()
        .source(Label::new("192.0.2.7").unwrap())
        .request_id(Label::new("req-81f3").unwrap());
    let phone = Phone::new("SN-1", 1);
    bank.register(&phone).unwrap();
    bank.tick();
    assert!(bank.customer_event(Event::Resume).is_err());
    bank.operator(Event::Suspend {
        reason: SuspendReason::Operator,
    })
    .unwrap();

    let log = bank.audit_log();
    assert_eq!(log.len(), 3);
    for r in &log {
        assert_eq!((&r.customer, &r.context), (&bank.customer, &bank.ctx));
        assert!(
            r.to_string()
                .contains("customer=c-1 by=Customer(web) source=192.0.2.7 request=req-81f3")
                || r.to_string()
                    .contains("customer=c-1 by=Operator(op-1) source=192.0.2.7 request=req-81f3"),
            "{r}"
        );
    }
    let refused = &log[1];
    assert_eq!(refused.time, bank.now());
    assert_eq!(refused.serial.as_ref(), Some(&phone.serial));
    assert_eq!(refused.token, bank.record().token_id());
    assert_eq!(
        (&refused.principal, refused.event),
        (&bank.web, EventKind::Resume)
    );
    assert_eq!(
        (refused.from, refused.to, refused.outcome, refused.version),
        (State::Active, State::Active, Outcome::Refused, 1)
    );
    assert!(
        refused
            .reason
            .to_string()
            .contains("not permitted in state Active"),
        "{}",
        refused.reason
    );
    let accepted = &log[2];
    assert_eq!(accepted.principal, bank.op);
    assert_eq!(accepted.to, State::Suspended(SuspendReason::Operator));
    assert_eq!((accepted.outcome, accepted.version), (Outcome::Accepted, 2));
}

/// The committed record and the audit records a call added describe the
/// same thing: the event's record ends where the record now is.
#[test]
fn audit_records_equal_what_was_committed() {
    let bank = Bank::new();
    let old = Phone::new("SN-OLD", 1);
    let mut seen = 0;
    let mut check = |what: &str, by: &Principal, kind: EventKind| {
        let log = bank.audit_log();
        let added = &log[seen..];
        seen = log.len();
        assert_eq!(added.len(), 1, "{what}: {added:#?}");
        let r = &added[0];
        let record = bank.record();
        assert_eq!(
            (&r.principal, r.event, r.to, r.version),
            (by, kind, record.state(), record.version()),
            "{what}"
        );
        // The token named is the one the event found; while it stays, the
        // record still holds it.
        if r.to.has_token() && r.from.has_token() && r.new_serial.is_none() {
            assert_eq!(r.token, record.token_id(), "{what}");
            assert_eq!(r.serial.as_ref(), record.serial(), "{what}");
        }
        r.clone()
    };

    bank.register(&old).unwrap();
    let r = check("register", &bank.web, EventKind::Register);
    assert_eq!(
        (r.token, r.serial, r.new_serial),
        (None, None, Some(old.serial.clone()))
    );
    bank.tick();
    let proof = bank.transfer(&old).unwrap();
    let r = check("transfer", &bank.web, EventKind::VerifyTransaction);
    assert_eq!(r.version, proof.version());
    assert_eq!(r.token, Some(proof.token()));
    let _ = bank.transfer(&old);
    let r = check("replay", &bank.web, EventKind::VerifyTransaction);
    assert_eq!(
        r.reason,
        AuditReason::Replayed {
            step: proof.claimed().value(),
            last_accepted: proof.claimed().value()
        }
    );
    bank.tick();
    let new = bank.begin_swap_generated(&old, "SN-NEW").unwrap();
    let r = check("begin swap", &bank.web, EventKind::BeginSwap);
    assert_eq!((r.from, r.to), (State::Active, State::Swapping));
    bank.tick();
    let before = bank.record().token_id();
    bank.complete_swap(&new).unwrap();
    let r = check("complete swap", &bank.web, EventKind::CompleteSwap);
    assert_eq!(
        (r.token, r.serial.as_ref(), r.new_serial.as_ref()),
        (before, Some(&old.serial), Some(&new.serial))
    );
    assert_ne!(bank.record().token_id(), before);
    bank.operator(Event::Reissue {
        reason: ReissueReason::AppRemoved,
    })
    .unwrap();
    let r = check("reissue", &bank.op, EventKind::Reissue);
    assert_eq!(
        (r.to, r.serial.as_ref()),
        (State::Reissued, Some(&new.serial))
    );
    assert!(bank.system(Event::Resume).is_err());
    check("refused", &Principal::System, EventKind::Resume);
}

/// A store that can go down, answering an error for every commit.
struct Flaky {
    inner: MemoryStore,
    down: AtomicBool,
}

impl TokenStore for Flaky {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        self.inner.load(customer)
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        let down = self.down.load(Ordering::SeqCst);
        let committed = (!down).then(|| self.inner.commit(commit));
        async move {
            match committed {
                Some(f) => f.await,
                None => Err(StoreError::new("connection reset")),
            }
        }
    }
}

#[test]
fn a_failing_store_refuses_the_event_without_counting_or_spending_the_code() {
    let clock = FixedClock::new(START);
    let store = Flaky {
        inner: MemoryStore::new(),
        down: AtomicBool::new(false),
    };
    let lc = Lifecycle::new(LifecycleConfig::default(), &store, &clock);
    let alice = CustomerId::new("c-1").unwrap();
    let web = principal(Actor::Customer);
    let ctx = RequestContext::new();
    let phone = Phone::new("SN-1", 1);
    lc.blocking()
        .submit(
            &alice,
            &web,
            Event::Register {
                serial: phone.serial.clone(),
                secret: phone.given(),
                code: phone.code(START).as_str().into(),
            },
            &ctx,
        )
        .unwrap();
    clock.advance(30);

    store.down.store(true, Ordering::SeqCst);
    let before = store.inner.snapshot(&alice).unwrap().summary();
    let audit_before = store.inner.audit().len();
    let code = phone.code(START + 30);
    for wrong_or_right in [phone.wrong_code(START + 30), code.clone()] {
        for _ in 0..10 {
            let r = lc
                .blocking()
                .verify_transaction(&alice, &web, &wrong_or_right, &ctx);
            assert!(matches!(r, Err(LifecycleError::Store(_))), "{r:?}");
        }
    }
    assert_eq!(store.inner.snapshot(&alice).unwrap().summary(), before);
    assert_eq!(store.inner.audit().len(), audit_before, "nothing committed");

    // Back up: the code was never spent.
    store.down.store(false, Ordering::SeqCst);
    let proof = lc
        .blocking()
        .verify_transaction(&alice, &web, &code, &ctx)
        .unwrap();
    assert_eq!(proof.version(), before.version + 1);
    assert_eq!(store.inner.audit().len(), audit_before + 1);
}

#[test]
fn if_the_audit_cannot_be_written_nothing_is_committed() {
    let clock = FixedClock::new(START);
    let lc = Lifecycle::new(
        LifecycleConfig::default(),
        MemoryStore::with_sink(SwitchSink::default()),
        &clock,
    );
    let alice = CustomerId::new("c-1").unwrap();
    let web = principal(Actor::Customer);
    let ctx = RequestContext::new();
    let phone = Phone::new("SN-1", 1);
    let register = Event::Register {
        serial: phone.serial.clone(),
        secret: phone.given(),
        code: phone.code(START).as_str().into(),
    };

    lc.store().audit().failing.store(true, Ordering::SeqCst);
    let r = lc.blocking().submit(&alice, &web, register.clone(), &ctx);
    assert!(matches!(r, Err(LifecycleError::Store(_))), "{r:?}");
    assert!(lc.store().snapshot(&alice).is_none());
    assert!(lc.store().audit().log.is_empty());

    lc.store().audit().failing.store(false, Ordering::SeqCst);
    let applied = lc.blocking().submit(&alice, &web, register, &ctx).unwrap();
    assert_eq!((applied.to, applied.version), (State::Active, 1));
    let log = lc.store().audit().log.take();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].event, log[0].version), (EventKind::Register, 1));
}

/// Another request, committing straight to the inner store.
type Rival = Box<dyn FnMut(&MemoryStore) + Send>;

/// A store where another request commits first, just before each of the
/// next `races` commits of this lifecycle.
struct Racing {
    inner: MemoryStore,
    rival: Mutex<Option<Rival>>,
    races: AtomicU32,
    commits: AtomicU32,
}

impl TokenStore for Racing {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        self.inner.load(customer)
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        self.commits.fetch_add(1, Ordering::SeqCst);
        let race = self
            .races
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if race {
            if let Some(rival) = self.rival.lock().unwrap().as_mut() {
                rival(&self.inner);
            }
        }
        self.inner.commit(commit)
    }
}

#[test]
fn an_attempt_that_lost_its_commit_leaves_no_audit_record() {
    let clock = Arc::new(FixedClock::new(START));
    let store = Racing {
        inner: MemoryStore::new(),
        rival: Mutex::new(None),
        races: AtomicU32::new(0),
        commits: AtomicU32::new(0),
    };
    let lc = Lifecycle::new(LifecycleConfig::default(), &store, clock.clone());
    let alice = CustomerId::new("c-1").unwrap();
    let web = principal(Actor::Customer);
    let phone = Phone::new("SN-1", 1);
    lc.blocking()
        .submit(
            &alice,
            &web,
            Event::Register {
                serial: phone.serial.clone(),
                secret: phone.given(),
                code: phone.code(START).as_str().into(),
            },
            &RequestContext::new(),
        )
        .unwrap();
    clock.advance(30);
    let code = phone.code(clock.now());

    // The same code, submitted twice at once (a double click): the rival
    // request commits first; ours, decided again, finds it a replay.
    *store.rival.lock().unwrap() = Some(Box::new({
        let (clock, alice, web, code) = (clock.clone(), alice.clone(), web.clone(), code.clone());
        move |inner: &MemoryStore| {
            let rival = Lifecycle::new(LifecycleConfig::default(), inner, clock.clone());
            let ctx = RequestContext::new().request_id(Label::new("rival").unwrap());
            let proof = rival
                .blocking()
                .verify_transaction(&alice, &web, &code, &ctx)
                .unwrap();
            assert_eq!(proof.event(), EventKind::VerifyTransaction);
        }
    }));
    store.races.store(1, Ordering::SeqCst);
    store.commits.store(0, Ordering::SeqCst);
    let audit_before = store.inner.audit().len();
    let ours = RequestContext::new().request_id(Label::new("ours").unwrap());
    let r = lc.blocking().verify_transaction(&alice, &web, &code, &ours);
    assert!(matches!(r, Err(LifecycleError::Replayed { .. })), "{r:?}");
    // Our first commit lost, the second one went in; the rival's own commit
    // went through the inner store directly.
    assert_eq!(store.commits.load(Ordering::SeqCst), 2);
    let log = store.inner.audit().records();
    let added: Vec<_> = log[audit_before..]
        .iter()
        .map(|r| (r.context.request_id.as_ref().map(Label::as_str), r.outcome))
        .collect();
    assert_eq!(
        added,
        [
            (Some("rival"), Outcome::Accepted),
            (Some("ours"), Outcome::Refused)
        ]
    );
    let record = store.inner.snapshot(&alice).unwrap();
    assert_eq!((record.version(), record.failures()), (2, 0));

    // A rival that wins every time: after the configured attempts the
    // event fails, and none of its attempts left anything.
    *store.rival.lock().unwrap() = Some(Box::new({
        let clock = clock.clone();
        let alice = alice.clone();
        move |inner: &MemoryStore| {
            let rival = Lifecycle::new(LifecycleConfig::default(), inner, clock.clone());
            rival
                .blocking()
                .submit(
                    &alice,
                    &principal(Actor::Operator),
                    Event::ResetDrift,
                    &RequestContext::new(),
                )
                .unwrap();
        }
    }));
    let attempts = 4;
    let lc = Lifecycle::new(
        LifecycleConfig::builder()
            .max_attempts(attempts)
            .build()
            .unwrap(),
        &store,
        clock.clone(),
    );
    store.races.store(u32::MAX, Ordering::SeqCst);
    clock.advance(30);
    let audit_before = store.inner.audit().len();
    let r = lc
        .blocking()
        .verify_transaction(&alice, &web, &phone.code(clock.now()), &ours);
    assert!(
        matches!(r, Err(LifecycleError::Contended { attempts: a }) if a == attempts),
        "{r:?}"
    );
    let log = store.inner.audit().records();
    let added = &log[audit_before..];
    assert_eq!(added.len(), attempts as usize, "only the rival's commits");
    assert!(added
        .iter()
        .all(|r| r.event == EventKind::ResetDrift && r.context.request_id.is_none()));
}

#[test]
fn time_before_t0_is_unverifiable_not_a_wrong_code() {
    let clock = FixedClock::new(5);
    let params = TotpParams::new(Algorithm::Sha1, 6, 30, 1_000).unwrap();
    let config = LifecycleConfig::builder().totp(params).build().unwrap();
    let lc = Lifecycle::new(config, MemoryStore::new(), &clock);
    let alice = CustomerId::new("c-1").unwrap();
    let web = principal(Actor::Customer);
    let phone = Phone::new("SN-1", 1);
    let r = lc.blocking().submit(
        &alice,
        &web,
        Event::Register {
            serial: phone.serial.clone(),
            secret: phone.given(),
            code: "123456".into(),
        },
        &RequestContext::new(),
    );
    assert!(
        matches!(r, Err(LifecycleError::Unverifiable { .. })),
        "{r:?}"
    );
    assert!(lc.store().snapshot(&alice).is_none());
    let log = lc.store().audit().take();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].outcome, log[0].version), (Outcome::Refused, 0));
}

/// Before the token's T0 no code is verifiable: an input too long to keep
/// is refused as unverifiable and not counted, as a code of the right
/// length is; after T0 the same input is a wrong code, counted.
#[test]
fn an_input_too_long_to_keep_is_not_counted_before_t0() {
    let clock = FixedClock::new(2_000);
    let params = TotpParams::new(Algorithm::Sha1, 6, 30, 1_000).unwrap();
    let config = LifecycleConfig::builder().totp(params).build().unwrap();
    let lc = Lifecycle::new(config, MemoryStore::new(), &clock);
    let alice = CustomerId::new("c-1").unwrap();
    let web = principal(Actor::Customer);
    let ctx = RequestContext::new();
    let phone = Phone::new("SN-1", 1);
    let code = Totp::new(&phone.secret(), params)
        .generate(clock.now())
        .unwrap()
        .to_string();
    let register = Event::Register {
        serial: phone.serial.clone(),
        secret: phone.given(),
        code: code.as_str().into(),
    };
    lc.blocking().submit(&alice, &web, register, &ctx).unwrap();
    let too_long = "12345678901234567890";
    clock.set(5);
    for input in [too_long, "123456"] {
        let r = lc.blocking().verify_transaction(&alice, &web, input, &ctx);
        assert!(
            matches!(r, Err(LifecycleError::Unverifiable { .. })),
            "{input}: {r:?}"
        );
    }
    assert_eq!(lc.store().snapshot(&alice).unwrap().failures(), 0);
    clock.set(2_060);
    let r = lc
        .blocking()
        .verify_transaction(&alice, &web, too_long, &ctx);
    assert!(
        matches!(r, Err(LifecycleError::WrongCode { failures: 1, .. })),
        "{r:?}"
    );
}

#[test]
fn refusals_for_other_reasons_do_not_spend_the_code() {
    let old = Phone::new("SN-OLD", 1);
    let bank = Bank::with_token(&old);
    bank.begin_swap(&old, &Phone::new("SN-NEW", 5)).unwrap();
    bank.tick();
    // Completing with the current serial is refused before any code check ...
    let code = old.code(bank.now());
    let r = bank.customer_event(Event::CompleteSwap {
        serial: old.serial.clone(),
        code: code.as_str().into(),
    });
    assert!(matches!(r, Err(LifecycleError::SameSerial)), "{r:?}");
    // ... so the same code still authorises a transfer.
    bank.transfer_ok(&old);
}

#[test]
fn lockout_maximum_is_configurable_within_bounds() {
    for bad in [0, 101, u32::MAX] {
        assert!(
            LifecycleConfig::builder()
                .max_failures(bad)
                .build()
                .is_err(),
            "{bad}"
        );
    }
    for good in [1, 5, 100] {
        assert_eq!(
            LifecycleConfig::builder()
                .max_failures(good)
                .build()
                .unwrap()
                .max_failures(),
            good
        );
    }
    let bank = Bank::with_config(LifecycleConfig::builder().max_failures(1).build().unwrap());
    let phone = Phone::new("SN-1", 1);
    bank.register(&phone).unwrap();
    let r = bank.verify(&phone.wrong_code(bank.now()));
    assert!(matches!(
        r,
        Err(LifecycleError::WrongCode {
            failures: 1,
            max: 1,
            locked_out: true,
            ..
        })
    ));
    assert_eq!(
        bank.state(),
        State::Suspended(SuspendReason::TooManyFailures)
    );
    let log = bank.audit_log();
    let principals: Vec<_> = log[log.len() - 2..]
        .iter()
        .map(|r| r.principal.clone())
        .collect();
    assert_eq!(principals, [bank.web.clone(), Principal::System]);
}

/// The in-memory store reads its log back as the PostgreSQL store reads its
/// table: by customer, by time, page after page from a cursor, and a cursor
/// keeps its place once records were taken.
#[test]
fn the_memory_store_reads_its_audit_back_by_customer_time_and_cursor() {
    use otpguard::lifecycle::audit::{AuditCursor, AuditQuery, AuditReader};
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let alice = Bank::with_token(&Phone::new("SN-A", 1));
    let bob = alice.other_customer("c-bob");
    bob.register(&Phone::new("SN-B", 2)).unwrap();
    let middle = alice.now();
    alice.tick();
    let phone = Phone::new("SN-A", 1);
    let _proof = alice.verify(&phone.code(alice.now())).unwrap();
    assert!(alice.verify(&phone.code(alice.now())).is_err());
    let log = alice.audit_log();
    assert_eq!(log.len(), 4);

    let store = &*alice.store;
    let read = |q: AuditQuery| rt.block_on(store.read_audit(&q)).unwrap();
    let page = read(AuditQuery::customer(alice.customer.clone()));
    let records: Vec<_> = page
        .entries
        .iter()
        .map(|e| e.record().unwrap().clone())
        .collect();
    let expected: Vec<_> = log
        .iter()
        .filter(|r| r.customer == alice.customer)
        .cloned()
        .collect();
    assert_eq!(records, expected);
    assert_eq!(records.len(), 3);
    let later = read(AuditQuery::all().between(middle + 1, u64::MAX));
    assert_eq!(later.entries.len(), 2);

    // Two at a time: every record once, in order.
    let first = read(AuditQuery::all().limit(2));
    assert!(first.is_full(&AuditQuery::all().limit(2)));
    let second = read(AuditQuery::all().after(first.next).limit(2));
    let third = read(AuditQuery::all().after(second.next).limit(2));
    assert!(third.entries.is_empty());
    assert_eq!(third.next, second.next);
    let streamed: Vec<_> = first
        .entries
        .iter()
        .chain(&second.entries)
        .map(|e| e.record().unwrap().clone())
        .collect();
    assert_eq!(streamed, log);

    // Taken from the log: the numbers go on.
    let kept = second.next;
    assert_eq!(store.audit().take().len(), 4);
    assert!(read(AuditQuery::all().after(kept)).entries.is_empty());
    alice.tick();
    let _proof = alice.verify(&phone.code(alice.now())).unwrap();
    let next = read(AuditQuery::all().after(kept));
    assert_eq!(next.entries.len(), 1);
    assert_eq!(next.entries[0].cursor, AuditCursor::new(0, 5));
}
