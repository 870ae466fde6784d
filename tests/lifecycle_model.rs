//! Model-based property test: random sequences of events, with right,
//! wrong, replayed and retired codes at advancing times, run against the
//! lifecycle and against a small reference model written independently of
//! the transition table. After every step the record must equal the model,
//! and the invariants must hold.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::collapsible_match
)]

mod lifecycle_support;

use std::collections::HashMap;

use lifecycle_support::{Bank, Phone};
use otpguard::lifecycle::{
    Actor, Event, EventKind, LifecycleConfig, LifecycleError, Outcome, PendingSwap, ReissueReason,
    State, SuspendReason, TokenRecord,
};
use otpguard::{Secret, Totp};
use proptest::prelude::*;

const PHONES: usize = 4;
const TIMEOUT: u64 = 600;

fn phones() -> Vec<Phone> {
    (0..PHONES)
        .map(|i| Phone::new(&format!("P{i}"), 10 + u8::try_from(i).unwrap()))
        .collect()
}

#[derive(Clone, Copy, Debug)]
enum CodeSrc {
    /// The code the current token shows (phone 0 if there is none).
    Current,
    /// The code phone `i` shows (maybe current, retired or never registered).
    Phone(usize),
    /// A code no phone in the window shows for the current token.
    Wrong,
}

#[derive(Clone, Debug)]
enum Op {
    Tick(u64),
    Register { phone: usize, right: bool },
    SetLogin(bool),
    BeginSwap(CodeSrc),
    CompleteSwap { phone: usize, right: bool },
    CancelSwap,
    SwapTimeout,
    Stop(CodeSrc),
    Suspend(SuspendReason),
    Resume,
    Reissue,
    VerifyTransaction(CodeSrc),
    VerifyLogin(CodeSrc),
}

impl Op {
    fn kind(&self) -> Option<EventKind> {
        Some(match self {
            Op::Tick(_) => return None,
            Op::Register { .. } => EventKind::Register,
            Op::SetLogin(_) => EventKind::SetLoginOtp,
            Op::BeginSwap(_) => EventKind::BeginSwap,
            Op::CompleteSwap { .. } => EventKind::CompleteSwap,
            Op::CancelSwap => EventKind::CancelSwap,
            Op::SwapTimeout => EventKind::SwapTimeout,
            Op::Stop(_) => EventKind::Stop,
            Op::Suspend(r) => EventKind::Suspend(*r),
            Op::Resume => EventKind::Resume,
            Op::Reissue => EventKind::Reissue,
            Op::VerifyTransaction(_) => EventKind::VerifyTransaction,
            Op::VerifyLogin(_) => EventKind::VerifyLogin,
        })
    }

    /// The actor who normally causes this event.
    fn natural_actor(&self) -> Actor {
        match self {
            Op::Suspend(SuspendReason::TooManyFailures) | Op::SwapTimeout => Actor::System,
            Op::Suspend(_) | Op::Resume | Op::Reissue => Actor::Operator,
            _ => Actor::Customer,
        }
    }
}

fn code_src() -> impl Strategy<Value = CodeSrc> {
    prop_oneof![
        4 => Just(CodeSrc::Current),
        2 => (0..PHONES).prop_map(CodeSrc::Phone),
        2 => Just(CodeSrc::Wrong),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1u64..400).prop_map(Op::Tick),
        3 => (0..PHONES, proptest::bool::weighted(0.8)).prop_map(|(phone, right)| Op::Register { phone, right }),
        1 => any::<bool>().prop_map(Op::SetLogin),
        2 => code_src().prop_map(Op::BeginSwap),
        3 => (0..PHONES, proptest::bool::weighted(0.8)).prop_map(|(phone, right)| Op::CompleteSwap { phone, right }),
        1 => Just(Op::CancelSwap),
        1 => Just(Op::SwapTimeout),
        1 => code_src().prop_map(Op::Stop),
        1 => prop::sample::select(SuspendReason::ALL.to_vec()).prop_map(Op::Suspend),
        1 => Just(Op::Resume),
        1 => Just(Op::Reissue),
        5 => code_src().prop_map(Op::VerifyTransaction),
        2 => code_src().prop_map(Op::VerifyLogin),
    ]
}

/// `None`: the natural actor; otherwise one picked at random.
fn step() -> impl Strategy<Value = (Op, Option<Actor>)> {
    (
        op(),
        prop::option::weighted(0.25, prop::sample::select(Actor::ALL.to_vec())),
    )
}

/// The reference model: plain fields and a `match` per event.
#[derive(Clone, Debug)]
struct Model {
    state: State,
    current: Option<usize>,
    pending: Option<PendingSwap>,
    failures: u32,
    login: bool,
    drift: Option<i64>,
    version: u64,
    retired: Vec<usize>,
    last_step: HashMap<usize, u64>,
    max: u32,
}

enum Expect {
    Accepted,
    Refused,
    Counted { locked: bool },
}

impl Model {
    fn new(max: u32) -> Self {
        Self {
            state: State::Unregistered,
            current: None,
            pending: None,
            failures: 0,
            login: false,
            drift: None,
            version: 0,
            retired: Vec::new(),
            last_step: HashMap::new(),
            max,
        }
    }

    /// The step and drift at which `code` matches phone `idx` at `now`
    /// (window of one step each way; the later step wins), if it is fresh.
    fn claim(&mut self, idx: usize, code: &str, now: u64) -> bool {
        let secret = Secret::from_bytes(&[10 + u8::try_from(idx).unwrap(); 20]).unwrap();
        let totp = Totp::builder(&secret).build().unwrap();
        let center = now / 30;
        let mut hit = None;
        for rel in -1i64..=1 {
            let step = center.checked_add_signed(rel).unwrap();
            if totp.generate_step(step).to_string() == code {
                hit = Some((step, rel));
            }
        }
        match hit {
            Some((step, rel)) if self.last_step.get(&idx).is_none_or(|&last| step > last) => {
                self.last_step.insert(idx, step);
                self.drift = Some(rel);
                true
            }
            _ => false,
        }
    }

    fn permitted(&self, kind: EventKind, actor: Actor) -> Option<State> {
        use Actor::{Customer, Operator, System};
        use State::*;
        use SuspendReason::{LostDevice, TooManyFailures};
        let s = self.state;
        match (s, kind, actor) {
            (Unregistered | Reissued, EventKind::Register, Customer) => Some(Active),
            (Active, EventKind::SetLoginOtp, Customer) => Some(Active),
            (
                Active | Swapping,
                EventKind::VerifyTransaction | EventKind::VerifyLogin,
                Customer,
            ) => Some(s),
            (Active, EventKind::BeginSwap, Customer) => Some(Swapping),
            (Swapping, EventKind::CompleteSwap | EventKind::CancelSwap, Customer) => Some(Active),
            (Swapping, EventKind::SwapTimeout, System) => Some(Active),
            (Active, EventKind::Stop, Customer) => Some(Unregistered),
            (Active | Swapping, EventKind::Suspend(TooManyFailures), System) => {
                Some(Suspended(TooManyFailures))
            }
            (Active | Swapping, EventKind::Suspend(r), Operator) if r != TooManyFailures => {
                Some(Suspended(r))
            }
            (Suspended(r), EventKind::Suspend(LostDevice), Operator) if r != LostDevice => {
                Some(Suspended(LostDevice))
            }
            (Suspended(r), EventKind::Resume, Operator) if r != LostDevice => Some(Active),
            (Active | Swapping | Suspended(_), EventKind::Reissue, Operator) => Some(Reissued),
            _ => None,
        }
    }

    fn retire(&mut self) {
        if let Some(c) = self.current.take() {
            self.retired.push(c);
        }
        self.pending = None;
    }

    fn apply(&mut self, op: &Op, actor: Actor, code: &str, now: u64) -> Expect {
        let kind = op.kind().unwrap();
        let Some(to) = self.permitted(kind, actor) else {
            return Expect::Refused;
        };
        // Guards other than the code, in the engine's order.
        match op {
            Op::VerifyLogin(_) if !self.login => return Expect::Refused,
            Op::Register { phone, .. } if self.retired.contains(phone) => return Expect::Refused,
            Op::CompleteSwap { phone, .. } => {
                if now >= self.pending.unwrap().deadline
                    || self.current == Some(*phone)
                    || self.retired.contains(phone)
                {
                    return Expect::Refused;
                }
            }
            Op::SwapTimeout if now < self.pending.unwrap().deadline => return Expect::Refused,
            Op::Suspend(SuspendReason::TooManyFailures) if self.failures < self.max => {
                return Expect::Refused
            }
            _ => {}
        }
        // The code.
        let drift_before = self.drift;
        match op {
            Op::Register { phone, .. } | Op::CompleteSwap { phone, .. } => {
                if !self.claim(*phone, code, now) {
                    self.drift = drift_before;
                    return Expect::Refused;
                }
            }
            Op::BeginSwap(_) | Op::Stop(_) | Op::VerifyTransaction(_) | Op::VerifyLogin(_) => {
                if !self.claim(self.current.unwrap(), code, now) {
                    self.drift = drift_before;
                    self.failures = (self.failures + 1).min(self.max);
                    self.version += 1;
                    let locked = self.failures >= self.max;
                    if locked {
                        self.state = State::Suspended(SuspendReason::TooManyFailures);
                        self.pending = None;
                        self.version += 1;
                    }
                    return Expect::Counted { locked };
                }
            }
            _ => {}
        }
        // Effects.
        match op {
            Op::Register { phone, .. } => {
                self.current = Some(*phone);
                self.failures = 0;
            }
            Op::SetLogin(on) => self.login = *on,
            Op::VerifyTransaction(_) | Op::VerifyLogin(_) => self.failures = 0,
            Op::BeginSwap(_) => {
                self.failures = 0;
                self.pending = Some(PendingSwap {
                    started_at: now,
                    deadline: now + TIMEOUT,
                });
            }
            Op::CompleteSwap { phone, .. } => {
                self.retire();
                self.current = Some(*phone);
                self.failures = 0;
            }
            Op::CancelSwap | Op::SwapTimeout | Op::Suspend(_) => self.pending = None,
            Op::Resume => self.failures = 0,
            Op::Stop(_) | Op::Reissue => {
                self.retire();
                self.login = false;
                self.failures = 0;
                self.drift = None;
            }
            Op::Tick(_) => unreachable!(),
        }
        self.state = to;
        self.version += 1;
        Expect::Accepted
    }

    fn check(&self, record: &TokenRecord, phones: &[Phone]) {
        let s = record.summary();
        assert_eq!(s.state, self.state);
        assert_eq!(s.serial.as_ref(), self.current.map(|i| &phones[i].serial));
        assert_eq!(s.pending_swap, self.pending);
        assert_eq!(s.failures, self.failures);
        assert_eq!(s.login_otp, self.login);
        assert_eq!(s.last_drift, self.drift);
        assert_eq!(s.version, self.version);
        let retired: Vec<_> = self
            .retired
            .iter()
            .map(|&i| phones[i].serial.clone())
            .collect();
        assert_eq!(s.retired_serials, retired);
    }
}

fn run(max: u32, steps: &[(Op, Option<Actor>)]) {
    let config = LifecycleConfig::builder()
        .max_failures(max)
        .swap_timeout(TIMEOUT)
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let phones = phones();
    let mut record = TokenRecord::new();
    let mut model = Model::new(max);

    for (op, actor) in steps {
        if let Op::Tick(secs) = op {
            bank.clock.advance(*secs);
            continue;
        }
        let now = bank.now();
        let actor = actor.unwrap_or_else(|| op.natural_actor());
        let current = record
            .serial()
            .and_then(|s| phones.iter().position(|p| &p.serial == s))
            .unwrap_or(0);
        let code_phone = |src: &CodeSrc| match src {
            CodeSrc::Current => Some(current),
            CodeSrc::Phone(i) => Some(*i),
            CodeSrc::Wrong => None,
        };
        let code = match op {
            Op::Register { phone, right } | Op::CompleteSwap { phone, right } => {
                if *right {
                    phones[*phone].code(now)
                } else {
                    phones[*phone].wrong_code(now)
                }
            }
            Op::BeginSwap(src)
            | Op::Stop(src)
            | Op::VerifyTransaction(src)
            | Op::VerifyLogin(src) => match code_phone(src) {
                Some(i) => phones[i].code(now),
                None => phones[current].wrong_code(now),
            },
            _ => String::new(),
        };
        let from_phone = match op {
            Op::BeginSwap(src)
            | Op::Stop(src)
            | Op::VerifyTransaction(src)
            | Op::VerifyLogin(src) => code_phone(src),
            _ => None,
        };
        let event = match op {
            Op::Register { phone, .. } => Event::Register {
                serial: phones[*phone].serial.clone(),
                secret: phones[*phone].secret(),
                code: &code,
            },
            Op::CompleteSwap { phone, .. } => Event::CompleteSwap {
                serial: phones[*phone].serial.clone(),
                secret: phones[*phone].secret(),
                code: &code,
            },
            Op::SetLogin(on) => Event::SetLoginOtp(*on),
            Op::BeginSwap(_) => Event::BeginSwap { code: &code },
            Op::CancelSwap => Event::CancelSwap,
            Op::SwapTimeout => Event::SwapTimeout,
            Op::Stop(_) => Event::Stop { code: &code },
            Op::Suspend(reason) => Event::Suspend { reason: *reason },
            Op::Resume => Event::Resume,
            Op::Reissue => Event::Reissue {
                reason: ReissueReason::AppRemoved,
            },
            Op::VerifyTransaction(_) => Event::VerifyTransaction { code: &code },
            Op::VerifyLogin(_) => Event::VerifyLogin { code: &code },
            Op::Tick(_) => unreachable!(),
        };

        let before = record.summary();
        let audit_before = bank.audit_log().len();
        let result = bank.lc.apply(&mut record, actor, event);
        let expect = model.apply(op, actor, &code, now);
        let context = format!("{op:?} by {actor} at {now} from {before:?}: {result:?}");

        match (&expect, &result) {
            (Expect::Accepted, Ok(applied)) => {
                // The version strictly increases on every accepted change.
                assert!(record.version() > before.version, "{context}");
                // Only Active and Swapping accept a code of the current token.
                if applied.accepted.is_some()
                    && !matches!(op, Op::Register { .. } | Op::CompleteSwap { .. })
                {
                    assert!(before.state.accepts_codes(), "{context}");
                    // A retired token's code is never accepted again.
                    if let Some(i) = from_phone {
                        assert!(
                            !before.retired_serials.contains(&phones[i].serial),
                            "{context}"
                        );
                    }
                }
            }
            (Expect::Refused, Err(e)) => {
                assert!(!e.record_changed(), "{context}");
                assert_eq!(
                    record.summary(),
                    before,
                    "a refused event changes nothing: {context}"
                );
            }
            (
                Expect::Counted { locked },
                Err(LifecycleError::WrongCode {
                    failures,
                    max: m,
                    locked_out,
                    ..
                }),
            ) => {
                assert_eq!(locked, locked_out, "{context}");
                assert_eq!(*failures, record.failures(), "{context}");
                assert_eq!(*m, max);
                assert!(record.version() > before.version, "{context}");
            }
            _ => panic!("model and lifecycle disagree: {context}"),
        }
        assert!(record.failures() <= max, "{context}");
        let audit = bank.audit_log();
        let new_records = &audit[audit_before..];
        assert!(!new_records.is_empty(), "every event is audited: {context}");
        let outcome = if result.is_ok() {
            Outcome::Accepted
        } else {
            Outcome::Refused
        };
        assert_eq!(new_records[0].outcome, outcome, "{context}");
        model.check(&record, &phones);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lifecycle_agrees_with_the_model(max in 1u32..=6, steps in prop::collection::vec(step(), 1..80)) {
        run(max, &steps);
    }
}

#[test]
fn a_hand_written_journey_agrees_with_the_model() {
    use CodeSrc::*;
    let steps = [
        (
            Op::Register {
                phone: 0,
                right: true,
            },
            None,
        ),
        (Op::Tick(30), None),
        (Op::VerifyTransaction(Current), None),
        (Op::VerifyTransaction(Current), None), // replay: counted
        (Op::Tick(30), None),
        (Op::BeginSwap(Current), None),
        (Op::Tick(30), None),
        (
            Op::CompleteSwap {
                phone: 1,
                right: true,
            },
            None,
        ),
        (Op::Tick(30), None),
        (Op::VerifyTransaction(Phone(0)), None), // retired: wrong
        (Op::Reissue, None),
        (
            Op::Register {
                phone: 0,
                right: true,
            },
            None,
        ), // retired serial
        (
            Op::Register {
                phone: 2,
                right: true,
            },
            None,
        ),
    ];
    run(3, &steps);
}
