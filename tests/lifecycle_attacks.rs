//! Attacks and audits against the atomic-commit lifecycle on the real
//! `MemoryStore`: shared serials, double submits, a restarted process,
//! reused and retired secrets and serials, the audit trail one record per
//! call, provisioning, and the lazy swap time-out.

#![allow(clippy::unwrap_used, clippy::panic, clippy::arithmetic_side_effects)]

mod store_support;

use std::sync::Arc;

use otpguard::lifecycle::{
    audit::AuditReason, audit::Outcome, rules::EventKind, Applied, Event, LifecycleConfig,
    LifecycleError, LoginCheck, MemoryStore, NewSecret, Principal, ReissueReason, State,
    SuspendReason, TokenSerial,
};
use otpguard::{Algorithm, KeyUri, Secret, TotpParams};
use store_support::{
    audit_of, customer, operator, request, snapshot, web, Bank, Phone, START, STEP,
};

fn serial(s: &str) -> TokenSerial {
    TokenSerial::new(s).unwrap()
}

#[test]
fn customers_sharing_a_serial_cannot_affect_each_other() {
    let bank = Bank::new(LifecycleConfig::default());
    let (alice, bob) = (customer("c-alice"), customer("c-bob"));
    let alice_phone = Phone::new("SN-SAME", 1);
    let bob_phone = Phone::new("SN-SAME", 2);
    bank.register(&alice, &alice_phone).unwrap();
    bank.register(&bob, &bob_phone).unwrap();
    let (a, b) = (snapshot(bank.store(), &alice), snapshot(bank.store(), &bob));
    assert_eq!(a.serial(), b.serial());
    assert_ne!(a.token_id(), b.token_id(), "one serial, two token ids");

    for _ in 0..6 {
        bank.tick();
        let now = bank.now();
        // Alice's code one step ahead takes Alice's next step ...
        let ahead = bank.verify(&alice, &alice_phone.code(now + STEP)).unwrap();
        assert_eq!(ahead.claimed().value(), alice_phone.step(now) + 1);
        assert_eq!(ahead.drift(), 1);
        assert_eq!(Some(ahead.token()), a.token_id());
        // ... and Bob's genuine code of this step is still his to use.
        let genuine = bank
            .verify(&bob, &bob_phone.code(now))
            .unwrap_or_else(|e| panic!("Bob's genuine code refused: {e:?}"));
        assert_eq!(genuine.claimed().value(), bob_phone.step(now));
        assert_eq!(Some(genuine.token()), b.token_id());
    }

    for who in [&alice, &bob] {
        assert_eq!(snapshot(bank.store(), who).failures(), 0);
        let audit = audit_of(bank.store(), who);
        assert_eq!(audit.len(), 7);
        assert!(audit.iter().all(|r| r.outcome == Outcome::Accepted));
    }
}

#[test]
fn a_code_is_accepted_once_and_older_codes_after_it_are_replays() {
    let bank = Bank::new(LifecycleConfig::default());
    let (alice, phone) = bank.alice_registered(1);

    // A double submit.
    let (code, step) = (phone.code(bank.now()), phone.step(bank.now()));
    let first = bank.verify(&alice, &code).unwrap();
    assert_eq!(first.claimed().value(), step);
    let version = snapshot(bank.store(), &alice).version();
    let second = bank.verify(&alice, &code);
    assert!(
        matches!(second, Err(LifecycleError::Replayed { step: s, last_accepted: l }) if s == step && l == step),
        "{second:?}"
    );
    let record = snapshot(bank.store(), &alice);
    assert_eq!((record.failures(), record.version()), (0, version));
    let last = bank.store().audit().records().pop().unwrap();
    assert_eq!(last.outcome, Outcome::Refused);
    assert_eq!(last.version, version);
    assert_eq!(
        last.reason,
        AuditReason::Replayed {
            step,
            last_accepted: step
        }
    );

    // An older code, never used, after a newer one.
    bank.tick();
    bank.tick();
    let now = bank.now();
    let (older, newer) = (phone.code(now - STEP), phone.code(now));
    assert_ne!(older, newer);
    assert_ne!(older, phone.code(now + STEP));
    assert_eq!(
        bank.verify(&alice, &newer).unwrap().claimed().value(),
        phone.step(now)
    );
    let late = bank.verify(&alice, &older);
    let expected = (phone.step(now) - 1, phone.step(now));
    assert!(
        matches!(late, Err(LifecycleError::Replayed { step, last_accepted }) if (step, last_accepted) == expected),
        "{late:?}"
    );
    // Audited apart from a replay of the very step accepted: an older
    // step is often a genuine code from a phone behind the last one.
    let last = bank.store().audit().records().pop().unwrap();
    assert_eq!(
        last.reason,
        AuditReason::BehindLastAccepted {
            step: expected.0,
            last_accepted: expected.1
        }
    );
    assert_eq!(snapshot(bank.store(), &alice).failures(), 0);
}

#[test]
fn a_restarted_process_still_refuses_a_used_code() {
    let store = Arc::new(MemoryStore::new());
    let alice = customer("c-1");
    let phone = Phone::new("SN-1", 1);
    let (code, now) = {
        let first = Bank::with_store(LifecycleConfig::default(), Arc::clone(&store));
        first.register(&alice, &phone).unwrap();
        first.tick();
        let code = phone.code(first.now());
        assert_eq!(
            first.verify(&alice, &code).unwrap().claimed().value(),
            phone.step(first.now())
        );
        (code, first.now())
    };

    // A new process: a new lifecycle, nothing cached, the same store.
    let second = Bank::with_store(LifecycleConfig::default(), Arc::clone(&store));
    second.clock.set(now);
    let again = second.verify(&alice, &code);
    assert!(
        matches!(again, Err(LifecycleError::Replayed { step, .. }) if step == phone.step(now)),
        "{again:?}"
    );
    assert_eq!(store.snapshot(&alice).unwrap().failures(), 0);
    // The next code works in the new process.
    second.tick();
    assert!(second.verify(&alice, &phone.code(second.now())).is_ok());
}

#[test]
fn a_swap_to_the_current_secret_is_refused_and_its_code_not_reused() {
    let bank = Bank::new(LifecycleConfig::default());
    let (alice, phone) = bank.alice_registered(1);
    let (code, step) = (phone.code(bank.now()), phone.step(bank.now()));
    let before = snapshot(bank.store(), &alice).summary();

    // The "new" phone holds the current secret under a new serial: the
    // swap is refused before its code is checked, so the code is unspent.
    let copy = phone.reserialled("SN-2");
    let refused = bank.submit(&alice, &web(), phone.begin_swap(bank.now(), &copy));
    assert!(
        matches!(refused, Err(LifecycleError::SecretReused)),
        "{refused:?}"
    );
    assert_eq!(snapshot(bank.store(), &alice).summary(), before);

    // A phone with its own secret: the same code begins the swap ...
    let new = Phone::new("SN-2", 2);
    let begun = bank
        .submit(&alice, &web(), phone.begin_swap(bank.now(), &new))
        .unwrap();
    assert_eq!(begun.to, State::Swapping);
    // ... and is not accepted a second time.
    let again = bank.verify(&alice, &code);
    assert!(
        matches!(again, Err(LifecycleError::Replayed { step: s, .. }) if s == step),
        "{again:?}"
    );
    let record = snapshot(bank.store(), &alice);
    assert_eq!(record.state(), State::Swapping);
    assert_eq!(record.serial(), Some(&serial("SN-1")));
    assert_eq!((record.failures(), record.last_step()), (0, Some(step)));

    // The new phone completes the swap.
    let done = bank
        .submit(&alice, &web(), new.complete_swap(bank.now()))
        .unwrap();
    assert_eq!(done.to, State::Active);
}

#[test]
fn a_lost_phone_never_comes_back() {
    let bank = Bank::new(LifecycleConfig::default());
    let alice = customer("c-1");
    let lost = Phone::new("SN-LOST", 1);
    bank.register(&alice, &lost).unwrap();
    let suspended = bank
        .submit(
            &alice,
            &operator(),
            Event::Suspend {
                reason: SuspendReason::LostDevice,
            },
        )
        .unwrap();
    assert_eq!(suspended.to, State::Suspended(SuspendReason::LostDevice));
    let reissued = bank
        .submit(
            &alice,
            &operator(),
            Event::Reissue {
                reason: ReissueReason::LostDevice,
            },
        )
        .unwrap();
    assert_eq!(reissued.to, State::Reissued);
    assert_eq!(
        snapshot(bank.store(), &alice).retired_serials(),
        [serial("SN-LOST")]
    );
    bank.tick();

    // The lost phone's secret under a fresh serial.
    let copy = lost.reserialled("SN-FRESH");
    let answer = bank.register(&alice, &copy);
    assert!(
        matches!(answer, Err(LifecycleError::SecretReused)),
        "{answer:?}"
    );
    // The retired serial with a fresh secret.
    let answer = bank.register(&alice, &Phone::new("SN-LOST", 2));
    assert!(
        matches!(&answer, Err(LifecycleError::SerialRetired { serial: s }) if *s == serial("SN-LOST")),
        "{answer:?}"
    );
    // The lost phone's codes authorise nothing.
    let answer = bank.verify(&alice, &lost.code(bank.now()));
    assert!(
        matches!(
            answer,
            Err(LifecycleError::NotPermitted {
                state: State::Reissued,
                ..
            })
        ),
        "{answer:?}"
    );
    assert_eq!(snapshot(bank.store(), &alice).state(), State::Reissued);

    // A new phone registers; the lost secret cannot come back by a swap.
    let new = Phone::new("SN-NEW", 3);
    bank.register(&alice, &new).unwrap();
    bank.tick();
    let answer = bank.submit(
        &alice,
        &web(),
        new.begin_swap(bank.now(), &lost.reserialled("SN-OTHER")),
    );
    assert!(
        matches!(answer, Err(LifecycleError::SecretReused)),
        "{answer:?}"
    );
    assert_eq!(
        snapshot(bank.store(), &alice).serial(),
        Some(&serial("SN-NEW"))
    );
}

/// One audit record expected for a call, as its answer says it must be.
#[derive(Debug, PartialEq, Eq)]
struct Expected {
    request: String,
    principal: Principal,
    event: EventKind,
    outcome: Outcome,
    version: u64,
    states: Option<(State, State)>,
}

/// Runs a scripted journey, noting for each call the audit records its
/// answer implies.
struct Journal<'a> {
    bank: &'a Bank,
    customer: otpguard::lifecycle::CustomerId,
    /// Who caused each call, and what event.
    calls: Vec<(Principal, EventKind)>,
    expected: Vec<Expected>,
    /// The version the answers imply.
    version: u64,
    /// Changes accepted (the caller's and the System's).
    changes: u64,
    /// Wrong codes counted.
    counted: u64,
}

/// What a call answered: a committed change (its version and states), an
/// accepted event that changed nothing, or a refusal.
enum Answer<'e> {
    Changed(u64, Option<(State, State)>),
    Unchanged,
    Refused(&'e LifecycleError),
}

impl Journal<'_> {
    fn next_request(
        &mut self,
        by: &Principal,
        event: EventKind,
    ) -> (usize, otpguard::lifecycle::RequestContext) {
        self.calls.push((by.clone(), event));
        (self.calls.len(), request(self.calls.len()))
    }

    fn expect(&mut self, n: usize, principal: Principal, event: EventKind, outcome: Outcome) {
        self.expect_states(n, principal, event, outcome, None);
    }

    fn expect_states(
        &mut self,
        n: usize,
        principal: Principal,
        event: EventKind,
        outcome: Outcome,
        states: Option<(State, State)>,
    ) {
        self.expected.push(Expected {
            request: format!("req-{n}"),
            principal,
            event,
            outcome,
            version: self.version,
            states,
        });
    }

    /// Notes what `answer` implies for call `n`: a lazy swap time-out
    /// first if `timeout`, the caller's record, and the System's lock-out
    /// after a wrong code that locked.
    fn note(&mut self, n: usize, by: &Principal, event: EventKind, timeout: bool, answer: Answer) {
        if timeout {
            self.version += 1;
            self.changes += 1;
            self.expect_states(
                n,
                Principal::System,
                EventKind::SwapTimeout,
                Outcome::Accepted,
                Some((State::Swapping, State::Active)),
            );
        }
        match answer {
            Answer::Changed(version, states) => {
                assert_eq!(version, self.version + 1, "one version per change");
                self.version = version;
                self.changes += 1;
                self.expect_states(n, by.clone(), event, Outcome::Accepted, states);
            }
            Answer::Unchanged => self.expect(n, by.clone(), event, Outcome::Accepted),
            Answer::Refused(LifecycleError::WrongCode { locked_out, .. }) => {
                self.version += 1;
                self.counted += 1;
                self.expect(n, by.clone(), event, Outcome::Refused);
                if *locked_out {
                    self.version += 1;
                    self.changes += 1;
                    self.expect(
                        n,
                        Principal::System,
                        EventKind::Suspend(SuspendReason::TooManyFailures),
                        Outcome::Accepted,
                    );
                }
            }
            Answer::Refused(_) => self.expect(n, by.clone(), event, Outcome::Refused),
        }
    }

    fn submit(
        &mut self,
        by: &Principal,
        event: Event,
        timeout: bool,
    ) -> Result<Applied, LifecycleError> {
        let kind = event.kind();
        let (n, ctx) = self.next_request(by, kind);
        let result = self
            .bank
            .lc
            .blocking()
            .submit(&self.customer, by, event, &ctx);
        let answer = match &result {
            Ok(a) => Answer::Changed(a.version, Some((a.from, a.to))),
            Err(e) => Answer::Refused(e),
        };
        self.note(n, by, kind, timeout, answer);
        result
    }

    fn login(&mut self, code: Option<&str>) -> Result<LoginCheck, LifecycleError> {
        let (n, ctx) = self.next_request(&web(), EventKind::VerifyLogin);
        let result = self
            .bank
            .lc
            .blocking()
            .login(&self.customer, &web(), code, &ctx);
        let answer = match &result {
            Ok(LoginCheck::NotRequired) => Answer::Unchanged,
            Ok(LoginCheck::Verified(auth)) => Answer::Changed(auth.version(), None),
            Ok(other) => panic!("unknown login answer {other:?}"),
            Err(e) => Answer::Refused(e),
        };
        self.note(n, &web(), EventKind::VerifyLogin, false, answer);
        result
    }
}

fn verify(code: &str) -> Event {
    Event::VerifyTransaction { code: code.into() }
}

#[test]
fn the_audit_trail_has_one_record_per_call() {
    let config = LifecycleConfig::builder()
        .max_failures(3)
        .swap_timeout(120)
        .build()
        .unwrap();
    let bank = Bank::new(config);
    let mut j = Journal {
        bank: &bank,
        customer: customer("c-1"),
        calls: Vec::new(),
        expected: Vec::new(),
        version: 0,
        changes: 0,
        counted: 0,
    };
    let (web, op) = (web(), operator());

    let provisioned = j
        .submit(
            &web,
            Event::Provision {
                account: "alice".into(),
            },
            false,
        )
        .unwrap();
    let uri = provisioned.key_uri.unwrap();
    let phone = Phone::with_secret("SN-1", uri.secret().clone());
    let register = |code: String| Event::Register {
        serial: serial("SN-1"),
        secret: NewSecret::Provisioned,
        code: code.as_str().into(),
    };
    let now = bank.now();
    assert!(matches!(
        j.submit(&web, register(phone.wrong_code(now, 0)), false),
        Err(LifecycleError::WrongCode { failures: 1, .. })
    ));
    j.submit(&web, register(phone.code(now)), false).unwrap();
    assert_eq!(j.login(None).unwrap(), LoginCheck::NotRequired);
    bank.tick();
    let on = Event::SetLoginOtp {
        on: true,
        code: phone.code(bank.now()).as_str().into(),
    };
    j.submit(&web, on, false).unwrap();
    assert!(matches!(j.login(None), Err(LifecycleError::CodeRequired)));

    bank.tick();
    let code = phone.code(bank.now());
    assert!(matches!(j.login(Some(&code)), Ok(LoginCheck::Verified(_))));
    assert!(matches!(
        j.submit(&web, verify(&code), false),
        Err(LifecycleError::Replayed { .. })
    ));
    let wrong = phone.wrong_code(bank.now(), 0);
    assert!(matches!(
        j.submit(&web, verify(&wrong), false),
        Err(LifecycleError::WrongCode { failures: 1, .. })
    ));
    let cancel = Event::CancelSwap {
        code: phone.code(bank.now()).as_str().into(),
    };
    assert!(matches!(
        j.submit(&web, cancel, false),
        Err(LifecycleError::NotPermitted { .. })
    ));

    bank.tick();
    let begun = j
        .submit(
            &web,
            phone.begin_swap(bank.now(), &Phone::new("SN-2", 2)),
            false,
        )
        .unwrap();
    assert_eq!(begun.to, State::Swapping);
    bank.clock.advance(120);
    let after_timeout = j
        .submit(&web, verify(&phone.code(bank.now())), true)
        .unwrap();
    assert_eq!(
        (after_timeout.from, after_timeout.to),
        (State::Active, State::Active)
    );
    assert!(matches!(
        j.submit(&op, Event::Resume, false),
        Err(LifecycleError::NotPermitted { .. })
    ));

    for failures in 1..=3 {
        let wrong = phone.wrong_code(bank.now(), failures as usize);
        let answer = j.submit(&web, verify(&wrong), false);
        assert!(
            matches!(answer, Err(LifecycleError::WrongCode { failures: f, locked_out, .. }) if f == failures && locked_out == (failures == 3)),
            "{answer:?}"
        );
    }
    bank.tick();
    let answer = j.submit(&web, verify(&phone.code(bank.now())), false);
    assert!(
        answer.as_ref().is_err_and(LifecycleError::is_locked_out),
        "{answer:?}"
    );
    j.submit(&op, Event::Resume, false).unwrap();
    bank.tick();
    j.submit(&web, verify(&phone.code(bank.now())), false)
        .unwrap();
    assert!(matches!(
        j.submit(&Principal::System, Event::SwapTimeout, false),
        Err(LifecycleError::NotPermitted { .. })
    ));

    // The trail, record for record.
    let audit = bank.store().audit().records();
    let seen: Vec<Expected> = audit
        .iter()
        .zip(&j.expected)
        .map(|(r, e)| Expected {
            request: r.context.request_id.as_ref().unwrap().to_string(),
            principal: r.principal.clone(),
            event: r.event,
            outcome: r.outcome,
            version: r.version,
            states: e.states.map(|_| (r.from, r.to)),
        })
        .collect();
    assert_eq!(audit.len(), j.expected.len());
    for (i, (s, e)) in seen.iter().zip(&j.expected).enumerate() {
        assert_eq!(s, e, "audit record #{i}: {}", audit[i]);
    }
    // Exactly one record per call for the caller's event; any other
    // record of the call is the System's.
    for (i, (by, event)) in j.calls.iter().enumerate() {
        let id = format!("req-{}", i + 1);
        let of_call: Vec<_> = audit
            .iter()
            .filter(|r| r.context.request_id.as_ref().map(|l| l.as_str()) == Some(id.as_str()))
            .collect();
        let own = of_call
            .iter()
            .filter(|r| r.principal == *by && r.event == *event)
            .count();
        assert_eq!(own, 1, "call {id}");
        assert!(
            of_call
                .iter()
                .all(|r| (r.principal == *by && r.event == *event)
                    || r.principal == Principal::System)
        );
    }

    let record = snapshot(bank.store(), &j.customer);
    assert_eq!(record.version(), j.version);
    assert_eq!(record.version(), j.changes + j.counted);
    // The same from the trail alone.
    let applied = audit
        .iter()
        .filter(|r| matches!(r.reason, AuditReason::Applied { .. }))
        .count() as u64;
    let wrong = audit
        .iter()
        .filter(|r| matches!(r.reason, AuditReason::WrongCode { .. }))
        .count() as u64;
    assert_eq!((applied, wrong), (j.changes, j.counted));
    assert_eq!(record.state(), State::Active);
}

#[test]
fn provisioning_follows_the_config_and_expires() {
    let config = LifecycleConfig::builder()
        .totp(TotpParams::new(Algorithm::Sha256, 8, 30, 0).unwrap())
        .issuer("Example Bank")
        .enrollment_timeout(300)
        .build()
        .unwrap();
    let bank = Bank::new(config.clone());
    let (alice, carol) = (customer("c-alice"), customer("c-carol"));
    let provision = |who| {
        bank.lc
            .blocking()
            .provision(who, &web(), "alice@example", &store_support::ctx())
            .unwrap()
    };
    let register = |code: String| Event::Register {
        serial: serial("SN-1"),
        secret: NewSecret::Provisioned,
        code: code.as_str().into(),
    };

    let uri = provision(&alice);
    let parsed = KeyUri::parse(&uri.to_uri()).unwrap();
    let app = parsed.to_totp().unwrap();
    assert_eq!(app.params(), config.totp());
    assert_eq!(parsed.issuer(), Some("Example Bank"));
    assert_eq!(parsed.account(), "alice@example");
    let deadline = snapshot(bank.store(), &alice).enrollment_deadline();
    assert_eq!(deadline, Some(START + 300));

    // Within the deadline the app's code registers (another customer).
    let carol_app = KeyUri::parse(&provision(&carol).to_uri())
        .unwrap()
        .to_totp()
        .unwrap();
    let code = carol_app.generate(bank.now()).unwrap().to_string();
    assert_eq!(code.len(), 8);
    let registered = bank.submit(&carol, &web(), register(code)).unwrap();
    assert_eq!(registered.to, State::Active);

    // At the deadline the provisioned secret is gone.
    bank.clock.advance(300);
    let code = app.generate(bank.now()).unwrap().to_string();
    let answer = bank.submit(&alice, &web(), register(code));
    assert!(
        matches!(answer, Err(LifecycleError::EnrollmentExpired { deadline, now }) if deadline == START + 300 && now == START + 300),
        "{answer:?}"
    );
    assert_eq!(snapshot(bank.store(), &alice).state(), State::Unregistered);

    // Without a provision there is nothing to register.
    let bob = customer("c-bob");
    let code = app.generate(bank.now()).unwrap().to_string();
    let answer = bank.submit(&bob, &web(), register(code));
    assert!(
        matches!(answer, Err(LifecycleError::NoEnrollment)),
        "{answer:?}"
    );
    assert_eq!(audit_of(bank.store(), &bob).len(), 1);
}

#[test]
fn a_pending_swap_past_its_deadline_is_timed_out_by_the_next_event() {
    let config = LifecycleConfig::builder()
        .swap_timeout(120)
        .build()
        .unwrap();
    let bank = Bank::new(config);
    let (alice, phone) = bank.alice_registered(1);
    let next = Phone::new("SN-2", 2);
    bank.submit(&alice, &web(), phone.begin_swap(bank.now(), &next))
        .unwrap();
    let deadline = snapshot(bank.store(), &alice)
        .pending_swap()
        .unwrap()
        .deadline;
    assert_eq!(deadline, bank.now() + 120);

    bank.clock.set(deadline);
    // No sweeper: the record still says Swapping until an event arrives.
    let before = snapshot(bank.store(), &alice);
    assert_eq!(before.state(), State::Swapping);
    let audited = bank.store().audit().len();

    let proof = bank.verify(&alice, &phone.code(bank.now())).unwrap();
    assert_eq!(proof.version(), before.version() + 2);
    let audit = bank.store().audit().records();
    let new = &audit[audited..];
    assert_eq!(new.len(), 2);
    assert_eq!(new[0].event, EventKind::SwapTimeout);
    assert_eq!(new[0].principal, Principal::System);
    assert_eq!(new[0].outcome, Outcome::Accepted);
    assert_eq!((new[0].from, new[0].to), (State::Swapping, State::Active));
    assert_eq!(new[0].version, before.version() + 1);
    assert_eq!(new[1].event, EventKind::VerifyTransaction);
    assert_eq!(new[1].principal, web());
    assert_eq!(new[1].outcome, Outcome::Accepted);
    assert_eq!((new[1].from, new[1].to), (State::Active, State::Active));
    assert_eq!(new[1].version, before.version() + 2);

    let record = snapshot(bank.store(), &alice);
    assert_eq!(record.state(), State::Active);
    assert!(record.pending_swap().is_none());
    // The new phone is too late.
    let late = bank.submit(&alice, &web(), next.complete_swap(bank.now()));
    assert!(
        matches!(
            late,
            Err(LifecycleError::NotPermitted {
                state: State::Active,
                ..
            })
        ),
        "{late:?}"
    );
}

/// Secrets that key the same HMAC as `secret` without being byte-equal:
/// with a zero byte appended (RFC 2104 zero-pads keys), and, for a key
/// longer than a block, its hash (RFC 2104 hashes such keys).
fn same_hmac_keys(secret: &[u8]) -> Vec<Secret> {
    let mut padded = secret.to_vec();
    padded.push(0);
    vec![Secret::from_bytes(&padded).unwrap()]
}

#[test]
fn a_secret_that_keys_the_same_hmac_is_refused_as_reused() {
    use sha1::Digest;

    // The current token's key with a zero byte appended, for a swap.
    let bank = Bank::new(LifecycleConfig::default());
    let alice = customer("c-1");
    let raw = [0x5a_u8; 20];
    let phone = Phone::with_secret("SN-1", Secret::from_bytes(&raw).unwrap());
    bank.register(&alice, &phone).unwrap();
    bank.tick();
    let code = phone.code(bank.now());
    for twin in same_hmac_keys(&raw) {
        let copy = Phone::with_secret("SN-2", twin);
        // The twin shows the very code that would begin the swap.
        assert_eq!(copy.code(bank.now()), code);
        let refused = bank.submit(&alice, &web(), phone.begin_swap(bank.now(), &copy));
        assert!(
            matches!(refused, Err(LifecycleError::SecretReused)),
            "{refused:?}"
        );
    }

    // A lost phone's long key, and its SHA-1 hash, after a reissue.
    let bob = customer("c-2");
    let long = [0x33_u8; 100];
    let lost = Phone::with_secret("SN-L", Secret::from_bytes(&long).unwrap());
    bank.register(&bob, &lost).unwrap();
    let reason = SuspendReason::LostDevice;
    bank.submit(&bob, &operator(), Event::Suspend { reason })
        .unwrap();
    bank.submit(
        &bob,
        &operator(),
        Event::Reissue {
            reason: ReissueReason::LostDevice,
        },
    )
    .unwrap();
    bank.tick();
    // A key longer than a block keys the HMAC through its hash: the hash,
    // and the hash with a zero byte appended, are the same key.
    let hashed = sha1::Sha1::digest(long);
    let mut twins = same_hmac_keys(&hashed);
    twins.push(Secret::from_bytes(&hashed).unwrap());
    for (n, twin) in twins.into_iter().enumerate() {
        let copy = Phone::with_secret(&format!("SN-F{n}"), twin);
        assert_eq!(
            copy.code(bank.now()),
            lost.code(bank.now()),
            "twin {n} is no twin"
        );
        let refused = bank.register(&bob, &copy);
        assert!(
            matches!(refused, Err(LifecycleError::SecretReused)),
            "twin {n}: {refused:?}"
        );
    }
    // A genuinely new key registers.
    assert!(bank.register(&bob, &Phone::new("SN-NEW", 9)).is_ok());
}

/// A customer who knows another's serial cannot block their registration
/// with it: the rule every store follows (the PostgreSQL tests run the same
/// check on their store).
#[tokio::test]
async fn a_known_serial_blocks_no_other_customer() {
    let bank = Bank::new(LifecycleConfig::default());
    let (_, bob) = store_support::serials_belong_to_their_customer(&bank.lc, &bank.clock).await;
    let audit = audit_of(bank.store(), &bob);
    assert_eq!(
        audit.iter().map(|r| r.outcome).collect::<Vec<_>>(),
        [Outcome::Accepted, Outcome::Refused, Outcome::Accepted]
    );
}

/// What an attacker holding the customer's web session, but neither of the
/// customer's phones, can send during the customer's swap: every event a
/// customer may send, with codes of a phone of their own, or of a secret
/// the session let them learn (a Key URI in an answer).
#[derive(Clone, Copy, Debug)]
enum Move {
    Provision,
    RegisterOwn,
    RegisterLearnt,
    BeginSwapToOwn,
    BeginSwapGenerated,
    CompleteSwapOwn,
    CompleteSwapLearnt,
    CancelSwap,
    LoginOtpOff,
    Stop,
    Transfer,
    Resync,
    SwapTimeout,
    Login,
}

const MOVES: [Move; 14] = [
    Move::Provision,
    Move::RegisterOwn,
    Move::RegisterLearnt,
    Move::BeginSwapToOwn,
    Move::BeginSwapGenerated,
    Move::CompleteSwapOwn,
    Move::CompleteSwapLearnt,
    Move::CancelSwap,
    Move::LoginOtpOff,
    Move::Stop,
    Move::Transfer,
    Move::Resync,
    Move::SwapTimeout,
    Move::Login,
];

/// The event of `m` at `now`: the attacker's own phone `evil`, and the
/// last secret they learnt, if any.
fn attack(m: Move, evil: &Phone, learnt: Option<&Phone>, now: u64) -> Event {
    let own = || evil.code(now).as_str().into();
    let learnt_code = || learnt.unwrap_or(evil).code(now).as_str().into();
    match m {
        Move::Provision => Event::Provision {
            account: "mallory".into(),
        },
        Move::RegisterOwn => evil.register(now),
        Move::RegisterLearnt => Event::Register {
            serial: evil.serial.clone(),
            secret: NewSecret::Provisioned,
            code: learnt_code(),
        },
        Move::BeginSwapToOwn => evil.begin_swap(now, evil),
        Move::BeginSwapGenerated => Event::BeginSwap {
            code: own(),
            to: otpguard::lifecycle::SwapTo::Generated {
                account: "mallory".into(),
            },
        },
        Move::CompleteSwapOwn => evil.complete_swap(now),
        Move::CompleteSwapLearnt => Event::CompleteSwap {
            serial: evil.serial.clone(),
            code: learnt_code(),
        },
        Move::CancelSwap => Event::CancelSwap { code: own() },
        Move::LoginOtpOff => Event::SetLoginOtp {
            on: false,
            code: own(),
        },
        Move::Stop => Event::Stop { code: own() },
        Move::Transfer => Event::VerifyTransaction { code: own() },
        Move::Resync => Event::Resync {
            first: own(),
            second: evil.code(now + STEP).as_str().into(),
        },
        Move::SwapTimeout => Event::SwapTimeout,
        Move::Login => Event::VerifyLogin { code: own() },
    }
}

/// Every sequence of up to three events an attacker with the session alone
/// can send while the customer's swap is pending, for a swap to a phone
/// with its own secret and for one to a secret the swap generated: the
/// attacker's secret never becomes the customer's token, nothing the
/// attacker sends is accepted, and the customer's own swap still
/// completes.
#[test]
fn a_session_without_the_phones_cannot_take_over_a_swap() {
    let config = || LifecycleConfig::builder().max_failures(20).build().unwrap();
    let mut sequences = vec![Vec::new()];
    for len in 1..=3 {
        let shorter: Vec<Vec<Move>> = sequences
            .iter()
            .filter(|s| s.len() == len - 1)
            .cloned()
            .collect();
        for s in shorter {
            for m in MOVES {
                let mut longer = s.clone();
                longer.push(m);
                sequences.push(longer);
            }
        }
    }
    assert_eq!(sequences.len(), 1 + 14 + 14 * 14 + 14 * 14 * 14);
    let mut tried = 0;
    for generated in [false, true] {
        for sequence in &sequences {
            let evil = Phone::new("SN-EVIL", 666);
            // A generated secret is random: one whose codes happen to equal
            // the attacker's near the times used (a 1-in-10^6 guess that
            // would come true) is drawn again, so the run is the same each
            // time.
            let (bank, alice, new) = loop {
                let bank = Bank::new(config());
                let alice = customer("c-1");
                let old = Phone::new("SN-OLD", 1);
                bank.register(&alice, &old).unwrap();
                bank.tick();
                let new = if generated {
                    let begin = Event::BeginSwap {
                        code: old.code(bank.now()).as_str().into(),
                        to: otpguard::lifecycle::SwapTo::Generated {
                            account: "alice".into(),
                        },
                    };
                    let applied = bank.submit(&alice, &web(), begin).unwrap();
                    Phone::with_secret("SN-NEW", applied.key_uri.unwrap().secret().clone())
                } else {
                    let new = Phone::new("SN-NEW", 2);
                    bank.submit(&alice, &web(), old.begin_swap(bank.now(), &new))
                        .unwrap();
                    new
                };
                let begun = bank.now();
                let collides = (1..=6).any(|k| {
                    let at = begun + k * STEP;
                    (0..=16).any(|o| new.code(at + o * STEP - 8 * STEP) == evil.code(at))
                });
                if !collides {
                    break (bank, alice, new);
                }
            };
            let mut learnt: Option<Phone> = None;
            for m in sequence {
                bank.tick();
                let answer = bank.submit(
                    &alice,
                    &web(),
                    attack(*m, &evil, learnt.as_ref(), bank.now()),
                );
                if let Ok(Applied {
                    key_uri: Some(uri), ..
                }) = &answer
                {
                    learnt = Some(Phone::with_secret("SN-EVIL", uri.secret().clone()));
                }
                assert!(answer.is_err(), "{sequence:?}: {m:?} accepted: {answer:?}");
            }
            let record = snapshot(bank.store(), &alice);
            assert_eq!(record.state(), State::Swapping, "{sequence:?}");
            assert_eq!(record.serial(), Some(&serial("SN-OLD")), "{sequence:?}");

            // The customer's own swap completes, and the attacker's phone
            // opens nothing.
            bank.tick();
            let done = bank.submit(&alice, &web(), new.complete_swap(bank.now()));
            assert_eq!(done.map(|a| a.to).ok(), Some(State::Active), "{sequence:?}");
            bank.tick();
            assert!(bank.verify(&alice, &evil.code(bank.now())).is_err());
            let proof = bank.verify(&alice, &new.code(bank.now())).unwrap();
            assert_eq!(proof.claimed().value(), new.step(bank.now()));
            tried += 1;
        }
    }
    assert_eq!(tried, 2 * sequences.len());
}
