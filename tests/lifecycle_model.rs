//! Model-based property test: random sequences of events, with right,
//! wrong, replayed, malformed and retired codes, vendor and provisioned
//! secrets, at advancing times, by the natural or a random principal, run
//! against the lifecycle (through its store) and against a small reference
//! model written independently of the transition table and the engine.
//! After every event the answer, the committed record and the audit records
//! it added must be what the model says, and the invariants must hold.
//!
//! What the model knows of the design: single use lives in the record (a
//! step not newer than the token's last accepted step is a replay: refused,
//! audited, not counted); a wrong code is counted and the System suspends
//! at the maximum in the same commit; a pending swap past its deadline is
//! timed out by the System before the first event that touches the record
//! is decided; a provisioned secret waits until its deadline; no serial and
//! no secret comes back once retired.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::too_many_lines,
    clippy::cast_possible_truncation
)]

mod lifecycle_support;

use lifecycle_support::{principal, Bank};
use otpguard::lifecycle::{
    Actor, AuditReason, Event, EventKind, Label, LifecycleConfig, LifecycleError, LoginCheck,
    NewSecret, Notice, Outcome, PendingSwap, Principal, ReissueReason, RequestContext, State,
    SuspendReason, Throttle, TokenId, TokenSerial,
};
use otpguard::{KeyUri, Secret, Totp};
use proptest::prelude::*;

const SERIALS: usize = 4;
/// Secrets known from the start (vendor tokens); provisioned ones follow.
const FIXED: usize = 4;
const SWAP_TIMEOUT: u64 = 600;
const ENROLLMENT_TIMEOUT: u64 = 450;
const PERIOD: u64 = 30;
/// The drift bound and the resynchronisation window of the model's
/// configuration: small, so that random codes reach both.
const MAX_DRIFT: i64 = 3;
const RESYNC_WINDOW: i64 = 12;
/// The model's throttle: from the 2nd consecutive wrong code, 40 s
/// doubling up to 160 s.
const THROTTLE_AFTER: u32 = 2;
const THROTTLE_BASE: u64 = 40;
const THROTTLE_CAP: u64 = 160;

/// The delay after the `failures`-th consecutive wrong code, computed here
/// from the parameters (not by the library).
fn model_delay(failures: u32) -> u64 {
    if failures < THROTTLE_AFTER {
        return 0;
    }
    let mut delay = THROTTLE_BASE;
    for _ in THROTTLE_AFTER..failures {
        delay = (delay * 2).min(THROTTLE_CAP);
    }
    delay
}

fn fixed_secret(i: usize) -> Secret {
    Secret::from_bytes(&[10 + u8::try_from(i).unwrap(); 20]).unwrap()
}

fn code_at(secret: &Secret, t: u64) -> String {
    Totp::builder(secret)
        .build()
        .unwrap()
        .generate(t)
        .unwrap()
        .to_string()
}

/// A code `secret` does not show at `now`, nor one step either side.
fn wrong_for(secret: &Secret, now: u64) -> String {
    let near: Vec<String> = [now.saturating_sub(PERIOD), now, now + PERIOD]
        .iter()
        .map(|&t| code_at(secret, t))
        .collect();
    (0u32..)
        .map(|v| format!("{v:06}"))
        .find(|c| !near.contains(c))
        .unwrap()
}

/// Where a code for the current token comes from.
#[derive(Clone, Copy, Debug)]
enum CodeSrc {
    /// The code the current token shows now (secret 0 if there is none).
    Current,
    /// The current token's code of the previous step.
    Previous,
    /// The code any known secret shows now (current, retired, pending,
    /// never used), picked modulo the number known.
    Known(usize),
    /// A code the current token does not show in the window.
    Wrong,
    /// Not six digits.
    Malformed,
    /// The current token's code `k` steps from now (a phone whose clock is
    /// off).
    Offset(i64),
}

/// The two codes of a `Resync`: the current token's codes for the steps
/// `now + later - 1` and `now + later` (or `now + later - 2` if not
/// consecutive).
#[derive(Clone, Copy, Debug)]
struct PairSrc {
    later: i64,
    consecutive: bool,
}

/// Where a new token's secret comes from.
#[derive(Clone, Copy, Debug)]
enum SecretSrc {
    /// The pending provisioned secret (`NewSecret::Provisioned`).
    Provisioned,
    /// Any known secret, given with the event (`NewSecret::Given`).
    Known(usize),
}

#[derive(Clone, Debug)]
enum Op {
    Tick(u64),
    Provision,
    Register {
        serial: usize,
        secret: SecretSrc,
        right: bool,
    },
    SetLogin(bool),
    BeginSwap(CodeSrc),
    CompleteSwap {
        serial: usize,
        secret: SecretSrc,
        right: bool,
    },
    CancelSwap,
    SwapTimeout,
    Stop(CodeSrc),
    Suspend(SuspendReason),
    Resume,
    Reissue,
    VerifyTransaction(CodeSrc),
    VerifyLogin(CodeSrc),
    /// `Lifecycle::login`, with or without a code.
    Login(Option<CodeSrc>),
    Resync(PairSrc),
    ResetDrift,
}

impl Op {
    fn kind(&self) -> EventKind {
        match self {
            Op::Tick(_) => unreachable!(),
            Op::Provision => EventKind::Provision,
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
            Op::VerifyLogin(_) | Op::Login(_) => EventKind::VerifyLogin,
            Op::Resync(_) => EventKind::Resync,
            Op::ResetDrift => EventKind::ResetDrift,
        }
    }

    /// The actor who normally causes this event.
    fn natural_actor(&self) -> Actor {
        match self {
            Op::Suspend(SuspendReason::TooManyFailures) | Op::SwapTimeout => Actor::System,
            Op::Suspend(_) | Op::Resume | Op::Reissue | Op::ResetDrift => Actor::Operator,
            _ => Actor::Customer,
        }
    }

    fn code_src(&self) -> Option<CodeSrc> {
        match self {
            Op::BeginSwap(src)
            | Op::Stop(src)
            | Op::VerifyTransaction(src)
            | Op::VerifyLogin(src)
            | Op::Login(Some(src)) => Some(*src),
            _ => None,
        }
    }
}

fn code_src() -> impl Strategy<Value = CodeSrc> {
    prop_oneof![
        5 => Just(CodeSrc::Current),
        1 => Just(CodeSrc::Previous),
        2 => any::<usize>().prop_map(CodeSrc::Known),
        2 => Just(CodeSrc::Wrong),
        1 => Just(CodeSrc::Malformed),
        3 => (-5i64..=5).prop_map(CodeSrc::Offset),
    ]
}

fn pair_src() -> impl Strategy<Value = PairSrc> {
    (
        prop_oneof![4 => -6i64..=6, 1 => -20i64..=20],
        proptest::bool::weighted(0.85),
    )
        .prop_map(|(later, consecutive)| PairSrc { later, consecutive })
}

fn secret_src() -> impl Strategy<Value = SecretSrc> {
    prop_oneof![
        2 => Just(SecretSrc::Provisioned),
        3 => any::<usize>().prop_map(SecretSrc::Known),
    ]
}

fn new_token() -> impl Strategy<Value = (usize, SecretSrc, bool)> {
    (0..SERIALS, secret_src(), proptest::bool::weighted(0.85))
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (1u64..=45).prop_map(Op::Tick),
        2 => (46u64..=700).prop_map(Op::Tick),
        2 => Just(Op::Provision),
        3 => new_token().prop_map(|(serial, secret, right)| Op::Register { serial, secret, right }),
        1 => any::<bool>().prop_map(Op::SetLogin),
        3 => code_src().prop_map(Op::BeginSwap),
        4 => new_token().prop_map(|(serial, secret, right)| Op::CompleteSwap { serial, secret, right }),
        1 => Just(Op::CancelSwap),
        1 => Just(Op::SwapTimeout),
        1 => code_src().prop_map(Op::Stop),
        1 => prop::sample::select(SuspendReason::ALL.to_vec()).prop_map(Op::Suspend),
        1 => Just(Op::Resume),
        1 => Just(Op::Reissue),
        4 => code_src().prop_map(Op::VerifyTransaction),
        1 => code_src().prop_map(Op::VerifyLogin),
        2 => prop::option::weighted(0.7, code_src()).prop_map(Op::Login),
        2 => pair_src().prop_map(Op::Resync),
        1 => Just(Op::ResetDrift),
    ]
}

/// `None`: the natural actor; otherwise one picked at random.
fn step() -> impl Strategy<Value = (Op, Option<Actor>)> {
    (
        op(),
        prop::option::weighted(0.15, prop::sample::select(Actor::ALL.to_vec())),
    )
}

/// A few events that make progress where random ones rarely do: a
/// registration, a swap (completed in time or late), a swap left to time
/// out before some other event, a run of wrong codes, a double submit.
fn flow() -> impl Strategy<Value = Vec<Op>> {
    let gap = 0u64..=700;
    prop_oneof![
        (0..SERIALS, secret_src()).prop_map(|(serial, secret)| {
            let mut ops = Vec::new();
            if matches!(secret, SecretSrc::Provisioned) {
                ops.push(Op::Provision);
            }
            ops.push(Op::Register {
                serial,
                secret,
                right: true,
            });
            ops
        }),
        (new_token(), gap).prop_map(|((serial, secret, right), gap)| {
            let mut ops = vec![Op::Tick(30), Op::BeginSwap(CodeSrc::Current)];
            if matches!(secret, SecretSrc::Provisioned) {
                ops.push(Op::Provision);
            }
            ops.extend([
                Op::Tick(gap),
                Op::CompleteSwap {
                    serial,
                    secret,
                    right,
                },
            ]);
            ops
        }),
        (SWAP_TIMEOUT - 60..SWAP_TIMEOUT + 300, op()).prop_map(|(gap, then)| vec![
            Op::Tick(30),
            Op::BeginSwap(CodeSrc::Current),
            Op::Tick(gap),
            then,
        ]),
        (1usize..=6).prop_map(|n| vec![Op::VerifyTransaction(CodeSrc::Wrong); n]),
        Just(vec![
            Op::Tick(30),
            Op::VerifyTransaction(CodeSrc::Current),
            Op::VerifyTransaction(CodeSrc::Current),
        ]),
        // A phone running ahead, re-centred step by step, then a resync.
        (1i64..=5, pair_src()).prop_map(|(k, pair)| vec![
            Op::Tick(30),
            Op::VerifyTransaction(CodeSrc::Offset(k)),
            Op::Tick(30),
            Op::VerifyTransaction(CodeSrc::Offset(k + 1)),
            Op::Tick(30),
            Op::Resync(pair),
            Op::VerifyTransaction(CodeSrc::Offset(pair.later)),
        ]),
    ]
}

/// Up to 80 events: single random ones mixed with flows.
fn steps() -> impl Strategy<Value = Vec<(Op, Option<Actor>)>> {
    prop::collection::vec(
        prop_oneof![
            3 => step().prop_map(|s| vec![s]),
            1 => flow().prop_map(|ops| ops.into_iter().map(|op| (op, None)).collect()),
        ],
        1..60,
    )
    .prop_map(|chunks| chunks.into_iter().flatten().take(80).collect())
}

/// What a call answered, as both the lifecycle and the model describe it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Answer {
    Accepted {
        from: State,
        to: State,
        /// Step and drift of the accepted code, for events checked by one.
        proof: Option<(u64, i64)>,
    },
    NotRequired,
    NotPermitted {
        state: State,
        event: EventKind,
        actor: Actor,
    },
    LoginOtpOff,
    CodeRequired,
    SwapExpired,
    SwapNotExpired,
    BelowMaxFailures,
    SerialRetired(usize),
    SecretReused,
    SameSerial,
    NoEnrollment,
    EnrollmentExpired,
    NewTokenCode,
    Replayed {
        step: u64,
        last_accepted: u64,
    },
    WrongCode {
        failures: u32,
        locked_out: bool,
    },
    DriftBeyondBound(i64),
    Throttled(u64),
    /// Anything else: never expected.
    Other(String),
}

fn answer_of_error(e: &LifecycleError, serials: &[TokenSerial]) -> Answer {
    match e {
        LifecycleError::NotPermitted {
            state,
            event,
            actor,
            ..
        } => Answer::NotPermitted {
            state: *state,
            event: *event,
            actor: *actor,
        },
        LifecycleError::LoginOtpOff => Answer::LoginOtpOff,
        LifecycleError::CodeRequired => Answer::CodeRequired,
        LifecycleError::SwapExpired { .. } => Answer::SwapExpired,
        LifecycleError::SwapNotExpired { .. } => Answer::SwapNotExpired,
        LifecycleError::BelowMaxFailures { .. } => Answer::BelowMaxFailures,
        LifecycleError::SerialRetired { serial } => {
            Answer::SerialRetired(serials.iter().position(|s| s == serial).unwrap())
        }
        LifecycleError::SecretReused => Answer::SecretReused,
        LifecycleError::SameSerial => Answer::SameSerial,
        LifecycleError::NoEnrollment => Answer::NoEnrollment,
        LifecycleError::EnrollmentExpired { .. } => Answer::EnrollmentExpired,
        LifecycleError::NewTokenCode { .. } => Answer::NewTokenCode,
        LifecycleError::Replayed {
            step,
            last_accepted,
        } => Answer::Replayed {
            step: *step,
            last_accepted: *last_accepted,
        },
        LifecycleError::WrongCode {
            failures,
            locked_out,
            ..
        } => Answer::WrongCode {
            failures: *failures,
            locked_out: *locked_out,
        },
        LifecycleError::Throttled { retry_at, .. } => Answer::Throttled(*retry_at),
        LifecycleError::DriftBeyondBound { drift, max } => {
            assert_eq!(i64::from(*max), MAX_DRIFT);
            Answer::DriftBeyondBound(*drift)
        }
        other => Answer::Other(format!("{other:?}")),
    }
}

/// The current token as the model sees it.
#[derive(Clone, Copy, Debug)]
struct ModelToken {
    serial: usize,
    secret: usize,
    last_step: u64,
    drift: i64,
}

/// The reference model: plain fields and a `match` per event.
#[derive(Clone, Debug)]
struct Model {
    state: State,
    token: Option<ModelToken>,
    pending: Option<PendingSwap>,
    /// The pending provisioned secret and its deadline.
    enrollment: Option<(usize, u64)>,
    failures: u32,
    throttled_until: Option<u64>,
    login: bool,
    version: u64,
    retired_serials: Vec<usize>,
    retired_secrets: Vec<usize>,
    max: u32,
}

/// What one call did besides its answer.
#[derive(Debug, Default)]
struct Effects {
    timed_out: bool,
    locked_out: bool,
    new_token: bool,
    provisioned: Option<usize>,
    /// The current token's drift moved by more than one step.
    drift_change: Option<(i64, i64)>,
}

/// What the model is told about a call: what was sent.
struct Sent<'a> {
    op: &'a Op,
    actor: Actor,
    now: u64,
    /// The serial of `Register` / `CompleteSwap`.
    serial: usize,
    /// The secret given with it (`None`: `NewSecret::Provisioned`).
    given: Option<usize>,
    code: Option<&'a str>,
    /// The second code of a `Resync`.
    second: Option<&'a str>,
}

impl Model {
    fn new(max: u32) -> Self {
        Self {
            state: State::Unregistered,
            token: None,
            pending: None,
            enrollment: None,
            failures: 0,
            throttled_until: None,
            login: false,
            version: 0,
            retired_serials: Vec::new(),
            retired_secrets: Vec::new(),
            max,
        }
    }

    /// The step at which `code` matches `secret` at `now`, and its
    /// distance from now: a window of one step each way centred on the
    /// token's `drift` (within the bound); the later step wins.
    fn matches(secret: &Secret, code: &str, now: u64, drift: i64) -> Option<(u64, i64)> {
        let center = now / PERIOD;
        let shift = drift.clamp(-MAX_DRIFT, MAX_DRIFT);
        let mut hit = None;
        for rel in shift - 1..=shift + 1 {
            let step = center.checked_add_signed(rel).unwrap();
            if code_at(secret, step * PERIOD) == code {
                hit = Some((step, rel));
            }
        }
        hit
    }

    /// The later step of two consecutive codes of `secret` within the
    /// resynchronisation window of `now`, and its distance from now.
    fn pair_matches(secret: &Secret, first: &str, second: &str, now: u64) -> Option<(u64, i64)> {
        let center = now / PERIOD;
        let mut hit = None;
        for rel in -RESYNC_WINDOW..=RESYNC_WINDOW {
            let step = center.checked_add_signed(rel).unwrap();
            if code_at(secret, (step - 1) * PERIOD) == first
                && code_at(secret, step * PERIOD) == second
            {
                hit = Some((step, rel));
            }
        }
        hit
    }

    /// Who may cause what, where, and where it leads.
    fn permitted(&self, kind: EventKind, actor: Actor) -> Option<State> {
        use Actor::{Customer, Operator, System};
        use State::*;
        use SuspendReason::{LostDevice, TooManyFailures};
        let s = self.state;
        match (s, kind, actor) {
            (Unregistered | Reissued | Swapping, EventKind::Provision, Customer) => Some(s),
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
            (Active | Swapping, EventKind::Resync, Customer | Operator) => Some(s),
            (Suspended(r), EventKind::ResetDrift, Operator) if r != LostDevice => Some(s),
            (Active | Swapping, EventKind::ResetDrift, Operator) => Some(s),
            _ => None,
        }
    }

    fn clear_failures(&mut self) {
        self.failures = 0;
        self.throttled_until = None;
    }

    fn retire_token(&mut self) {
        let t = self.token.take().unwrap();
        self.retired_serials.push(t.serial);
        self.retired_secrets.push(t.secret);
    }

    fn apply(&mut self, sent: &Sent<'_>, secrets: &[Secret]) -> (Answer, Effects) {
        let mut fx = Effects::default();
        let answer = self.decide(sent, secrets, &mut fx);
        (answer, fx)
    }

    fn decide(&mut self, sent: &Sent<'_>, secrets: &[Secret], fx: &mut Effects) -> Answer {
        let (op, actor, now) = (sent.op, sent.actor, sent.now);
        let kind = op.kind();

        // A swap past its deadline ends first, by the System, unless this
        // is the System's own time-out.
        let own_timeout = kind == EventKind::SwapTimeout && actor == Actor::System;
        if !own_timeout && self.pending.is_some_and(|p| now >= p.deadline) {
            self.state = State::Active;
            self.pending = None;
            self.enrollment = None;
            self.version += 1;
            fx.timed_out = true;
        }

        if let Op::Login(code) = op {
            // A login is the customer's alone, whether or not it asks for
            // a code.
            if actor != Actor::Customer {
                return Answer::NotPermitted {
                    state: self.state,
                    event: kind,
                    actor,
                };
            }
            if !self.login {
                return Answer::NotRequired;
            }
            if code.is_none() {
                return Answer::CodeRequired;
            }
        }

        let from = self.state;
        let Some(to) = self.permitted(kind, actor) else {
            return Answer::NotPermitted {
                state: from,
                event: kind,
                actor,
            };
        };

        // Guards other than the code.
        let mut new_secret = None;
        match op {
            Op::VerifyLogin(_) | Op::Login(_) if !self.login => return Answer::LoginOtpOff,
            Op::Register { .. } | Op::CompleteSwap { .. } => {
                if matches!(op, Op::CompleteSwap { .. })
                    && self.pending.is_some_and(|p| now >= p.deadline)
                {
                    return Answer::SwapExpired;
                }
                if self.retired_serials.contains(&sent.serial) {
                    return Answer::SerialRetired(sent.serial);
                }
                let secret = match sent.given {
                    Some(k) => k,
                    None => match self.enrollment {
                        None => return Answer::NoEnrollment,
                        Some((_, deadline)) if now >= deadline => return Answer::EnrollmentExpired,
                        Some((k, _)) => k,
                    },
                };
                if self.token.is_some_and(|t| t.secret == secret)
                    || self.retired_secrets.contains(&secret)
                {
                    return Answer::SecretReused;
                }
                if matches!(op, Op::CompleteSwap { .. })
                    && self.token.is_some_and(|t| t.serial == sent.serial)
                {
                    return Answer::SameSerial;
                }
                new_secret = Some(secret);
            }
            Op::SwapTimeout if now < self.pending.unwrap().deadline => {
                return Answer::SwapNotExpired
            }
            Op::Suspend(SuspendReason::TooManyFailures) if self.failures < self.max => {
                return Answer::BelowMaxFailures
            }
            _ => {}
        }

        // The code.
        let mut proof = None;
        if let Some(secret) = new_secret {
            let Some((step, rel)) = Self::matches(&secrets[secret], sent.code.unwrap(), now, 0)
            else {
                return Answer::NewTokenCode;
            };
            proof = Some((step, rel));
            let drift = rel.clamp(-MAX_DRIFT, MAX_DRIFT);
            self.token = match op {
                Op::CompleteSwap { .. } => {
                    self.retire_token();
                    Some(ModelToken {
                        serial: sent.serial,
                        secret,
                        last_step: step,
                        drift,
                    })
                }
                _ => Some(ModelToken {
                    serial: sent.serial,
                    secret,
                    last_step: step,
                    drift,
                }),
            };
            fx.new_token = true;
            self.clear_failures();
            self.enrollment = None;
            self.pending = None;
        } else if op.code_src().is_some() || matches!(op, Op::Resync(_)) {
            // Held back after wrong codes: not evaluated.
            if let Some(retry_at) = self.throttled_until.filter(|&t| now < t) {
                return Answer::Throttled(retry_at);
            }
            let token = self.token.as_mut().unwrap();
            let secret = &secrets[token.secret];
            let found = match (op, sent.code, sent.second) {
                (Op::Resync(_), Some(first), Some(second)) => {
                    Self::pair_matches(secret, first, second, now)
                }
                (_, Some(code), _) => Self::matches(secret, code, now, token.drift),
                _ => unreachable!(),
            };
            match found {
                Some((step, rel))
                    if step > token.last_step
                        && matches!(op, Op::Resync(_))
                        && rel.abs() > MAX_DRIFT =>
                {
                    return Answer::DriftBeyondBound(rel);
                }
                Some((step, rel)) if step > token.last_step => {
                    let drift = rel.clamp(-MAX_DRIFT, MAX_DRIFT);
                    if token.drift.abs_diff(drift) > 1 {
                        fx.drift_change = Some((token.drift, drift));
                    }
                    token.last_step = step;
                    token.drift = drift;
                    proof = Some((step, rel));
                    self.clear_failures();
                }
                Some((step, _)) => {
                    return Answer::Replayed {
                        step,
                        last_accepted: token.last_step,
                    }
                }
                None => {
                    self.failures = (self.failures + 1).min(self.max);
                    let delay = model_delay(self.failures);
                    if delay > 0 {
                        let until = now + delay;
                        self.throttled_until =
                            Some(self.throttled_until.map_or(until, |t| t.max(until)));
                    }
                    self.version += 1;
                    let locked_out = self.failures >= self.max;
                    if locked_out {
                        self.state = State::Suspended(SuspendReason::TooManyFailures);
                        self.pending = None;
                        self.enrollment = None;
                        self.version += 1;
                        fx.locked_out = true;
                    }
                    return Answer::WrongCode {
                        failures: self.failures,
                        locked_out,
                    };
                }
            }
        }

        // Effects.
        match op {
            Op::Provision => {
                let next = secrets.len();
                self.enrollment = Some((next, now + ENROLLMENT_TIMEOUT));
                fx.provisioned = Some(next);
            }
            Op::SetLogin(on) => self.login = *on,
            Op::BeginSwap(_) => {
                self.pending = Some(PendingSwap {
                    started_at: now,
                    deadline: now + SWAP_TIMEOUT,
                });
            }
            Op::CancelSwap | Op::SwapTimeout | Op::Suspend(_) => {
                self.pending = None;
                self.enrollment = None;
            }
            Op::Resume => self.clear_failures(),
            Op::ResetDrift => {
                let token = self.token.as_mut().unwrap();
                if token.drift.abs() > 1 {
                    fx.drift_change = Some((token.drift, 0));
                }
                token.drift = 0;
            }
            Op::Stop(_) | Op::Reissue => {
                self.retire_token();
                self.pending = None;
                self.enrollment = None;
                self.login = false;
                self.clear_failures();
            }
            _ => {}
        }
        self.state = to;
        self.version += 1;
        Answer::Accepted { from, to, proof }
    }

    fn check(&self, bank: &Bank, serials: &[TokenSerial], context: &str) {
        let snapshot = bank.snapshot();
        assert_eq!(snapshot.is_none(), self.version == 0, "{context}");
        let s = bank.summary();
        assert_eq!(s.state, self.state, "{context}");
        assert_eq!(
            s.serial.as_ref(),
            self.token.map(|t| &serials[t.serial]),
            "{context}"
        );
        assert_eq!(s.token_id.is_some(), self.token.is_some(), "{context}");
        assert_eq!(s.pending_swap, self.pending, "{context}");
        assert_eq!(
            s.enrollment_deadline,
            self.enrollment.map(|(_, d)| d),
            "{context}"
        );
        assert_eq!(s.failures, self.failures, "{context}");
        assert_eq!(s.throttled_until, self.throttled_until, "{context}");
        assert_eq!(s.login_otp, self.login, "{context}");
        assert_eq!(s.last_step, self.token.map(|t| t.last_step), "{context}");
        assert_eq!(s.last_drift, self.token.map(|t| t.drift), "{context}");
        assert_eq!(s.version, self.version, "{context}");
        let retired: Vec<_> = self
            .retired_serials
            .iter()
            .map(|&i| serials[i].clone())
            .collect();
        assert_eq!(s.retired_serials, retired, "{context}");

        // Invariants, whatever the model says.
        assert!(s.failures <= self.max, "{context}");
        assert_eq!(s.token_id.is_some(), s.state.has_token(), "{context}");
        assert_eq!(
            s.pending_swap.is_some(),
            s.state == State::Swapping,
            "{context}"
        );
        assert!(!s.login_otp || s.token_id.is_some(), "{context}");
        if s.enrollment_deadline.is_some() {
            assert!(
                matches!(
                    s.state,
                    State::Unregistered | State::Reissued | State::Swapping
                ),
                "{context}"
            );
        }
    }
}

/// What the harness knows from the answers alone (not from the model).
struct World {
    serials: Vec<TokenSerial>,
    secrets: Vec<Secret>,
    /// The secret of the current token, as the last accepted
    /// registration or swap sent it.
    current: Option<usize>,
    /// The last provisioned secret.
    provisioned: Option<usize>,
    /// Every token id seen, and the current one.
    ids: Vec<TokenId>,
    current_id: Option<TokenId>,
}

impl World {
    fn new() -> Self {
        Self {
            serials: (0..SERIALS)
                .map(|i| TokenSerial::new(&format!("P{i}")).unwrap())
                .collect(),
            secrets: (0..FIXED).map(fixed_secret).collect(),
            current: None,
            provisioned: None,
            ids: Vec::new(),
            current_id: None,
        }
    }

    fn code(&self, src: CodeSrc, now: u64) -> String {
        let current = &self.secrets[self.current.unwrap_or(0)];
        match src {
            CodeSrc::Current => code_at(current, now),
            CodeSrc::Previous => code_at(current, now - PERIOD),
            CodeSrc::Known(k) => code_at(&self.secrets[k % self.secrets.len()], now),
            CodeSrc::Wrong => wrong_for(current, now),
            CodeSrc::Malformed => "12345".to_owned(),
            CodeSrc::Offset(k) => code_at(current, now.checked_add_signed(k * 30).unwrap()),
        }
    }

    /// The two codes of a `Resync`.
    fn pair(&self, src: PairSrc, now: u64) -> (String, String) {
        let current = &self.secrets[self.current.unwrap_or(0)];
        let at = |k: i64| code_at(current, now.checked_add_signed(k * 30).unwrap());
        let gap = if src.consecutive { 1 } else { 2 };
        (at(src.later - gap), at(src.later))
    }

    /// The secret index a new token's code is made from, and the one given
    /// with the event (`None`: provisioned).
    fn new_secret(&self, src: SecretSrc) -> (usize, Option<usize>) {
        match src {
            SecretSrc::Provisioned => (self.provisioned.unwrap_or(0), None),
            SecretSrc::Known(k) => {
                let k = k % self.secrets.len();
                (k, Some(k))
            }
        }
    }
}

/// Runs `steps` against the lifecycle and the model; returns every answer.
fn run(max: u32, steps: &[(Op, Option<Actor>)]) -> Vec<Answer> {
    let config = LifecycleConfig::builder()
        .max_failures(max)
        .max_drift(MAX_DRIFT.unsigned_abs().try_into().unwrap())
        .throttle(Throttle::growing(THROTTLE_AFTER, THROTTLE_BASE, THROTTLE_CAP).unwrap())
        .resync_window(RESYNC_WINDOW.unsigned_abs().try_into().unwrap())
        .swap_timeout(SWAP_TIMEOUT)
        .enrollment_timeout(ENROLLMENT_TIMEOUT)
        .issuer("Model Bank")
        .build()
        .unwrap();
    let bank = Bank::with_config(config);
    let mut world = World::new();
    let mut model = Model::new(max);
    let mut answers = Vec::new();

    for (n, (op, actor)) in steps.iter().enumerate() {
        if let Op::Tick(secs) = op {
            bank.clock.advance(*secs);
            continue;
        }
        let now = bank.now();
        let actor = actor.unwrap_or_else(|| op.natural_actor());
        let by = principal(actor);
        let ctx = RequestContext::new().request_id(Label::new(&format!("req-{n}")).unwrap());

        // What is sent.
        let (serial, code_secret, given, right) = match op {
            Op::Register {
                serial,
                secret,
                right,
            }
            | Op::CompleteSwap {
                serial,
                secret,
                right,
            } => {
                let (code_secret, given) = world.new_secret(*secret);
                (*serial, code_secret, given, *right)
            }
            _ => (0, 0, None, true),
        };
        let code = match op {
            Op::Register { .. } | Op::CompleteSwap { .. } => {
                let secret = &world.secrets[code_secret];
                Some(if right {
                    code_at(secret, now)
                } else {
                    wrong_for(secret, now)
                })
            }
            Op::Resync(src) => Some(world.pair(*src, now).0),
            _ => op.code_src().map(|src| world.code(src, now)),
        };
        let second = match op {
            Op::Resync(src) => Some(world.pair(*src, now).1),
            _ => None,
        };
        let entered = || code.as_deref().unwrap().into();
        let new_secret = || match given {
            Some(k) => NewSecret::Given(world.secrets[k].clone()),
            None => NewSecret::Provisioned,
        };
        let event = match op {
            Op::Tick(_) | Op::Login(_) => None,
            Op::Provision => Some(Event::Provision {
                account: "alice".to_owned(),
            }),
            Op::Register { .. } => Some(Event::Register {
                serial: world.serials[serial].clone(),
                secret: new_secret(),
                code: entered(),
            }),
            Op::CompleteSwap { .. } => Some(Event::CompleteSwap {
                serial: world.serials[serial].clone(),
                secret: new_secret(),
                code: entered(),
            }),
            Op::SetLogin(on) => Some(Event::SetLoginOtp(*on)),
            Op::BeginSwap(_) => Some(Event::BeginSwap { code: entered() }),
            Op::CancelSwap => Some(Event::CancelSwap),
            Op::SwapTimeout => Some(Event::SwapTimeout),
            Op::Stop(_) => Some(Event::Stop { code: entered() }),
            Op::Suspend(reason) => Some(Event::Suspend { reason: *reason }),
            Op::Resume => Some(Event::Resume),
            Op::Reissue => Some(Event::Reissue {
                reason: ReissueReason::AppRemoved,
            }),
            Op::VerifyTransaction(_) => Some(Event::VerifyTransaction { code: entered() }),
            Op::VerifyLogin(_) => Some(Event::VerifyLogin { code: entered() }),
            Op::Resync(_) => Some(Event::Resync {
                first: entered(),
                second: second.as_deref().unwrap().into(),
            }),
            Op::ResetDrift => Some(Event::ResetDrift),
        };

        let before = bank.summary();
        let audit_before = bank.audit_len();
        let lc = bank.lc.blocking();
        let mut key_uri: Option<KeyUri> = None;
        let mut authorized = None;
        let result = match event {
            Some(event) => lc.submit(&bank.customer, &by, event, &ctx).map(|applied| {
                key_uri = applied.key_uri;
                let proof = applied.authorized.as_ref().map(|a| (a.step(), a.drift()));
                authorized = applied
                    .authorized
                    .map(|a| (a.token(), a.version(), a.event()));
                Answer::Accepted {
                    from: applied.from,
                    to: applied.to,
                    proof,
                }
            }),
            None => lc
                .login(&bank.customer, &by, code.as_deref(), &ctx)
                .map(|check| match check {
                    LoginCheck::NotRequired => Answer::NotRequired,
                    LoginCheck::Verified(a) => {
                        authorized = Some((a.token(), a.version(), a.event()));
                        // The state is read from the record below.
                        Answer::Accepted {
                            from: State::Active,
                            to: State::Active,
                            proof: Some((a.step(), a.drift())),
                        }
                    }
                    other => Answer::Other(format!("{other:?}")),
                }),
        };
        let after = bank.record();
        let got = match result {
            // A login's proof does not say the state: the record does.
            Ok(Answer::Accepted { proof, .. }) if matches!(op, Op::Login(_)) => Answer::Accepted {
                from: after.state(),
                to: after.state(),
                proof,
            },
            Ok(other) => other,
            Err(e) => answer_of_error(&e, &world.serials),
        };

        let (expected, fx) = model.apply(
            &Sent {
                op,
                actor,
                now,
                serial,
                given,
                code: code.as_deref(),
                second: second.as_deref(),
            },
            &world.secrets,
        );
        let context = format!(
            "step {n}: {op:?} by {actor} at {now} (code {code:?}) from {before:?}: got {got:?}, model {expected:?}"
        );
        assert_eq!(got, expected, "model and lifecycle disagree: {context}");

        // The proof names the token whose code it was, and the committed
        // version.
        if let Some((token, version, event)) = authorized {
            let expected_token = if fx.new_token {
                after.token_id()
            } else {
                world.current_id
            };
            assert_eq!(Some(token), expected_token, "{context}");
            assert_eq!(version, after.version(), "{context}");
            assert_eq!(event, op.kind(), "{context}");
        } else {
            assert!(
                !matches!(got, Answer::Accepted { proof: Some(_), .. }),
                "{context}"
            );
        }
        // A provisioning returns the Key URI of the secret it keeps.
        match (fx.provisioned, key_uri) {
            (Some(next), Some(uri)) => {
                assert_eq!(next, world.secrets.len(), "{context}");
                assert_eq!(uri.issuer(), Some("Model Bank"), "{context}");
                world.secrets.push(uri.secret().clone());
                world.provisioned = Some(next);
            }
            (None, None) => {}
            (p, uri) => panic!("{context}: provisioned {p:?}, Key URI {}", uri.is_some()),
        }
        // What the harness learns of the current token from the answers.
        if let Answer::Accepted { to, .. } = got {
            if matches!(op, Op::Register { .. } | Op::CompleteSwap { .. }) {
                world.current = Some(code_secret);
            } else if !to.has_token() {
                world.current = None;
            }
        }
        // Token identity: fresh for each new token, stable otherwise.
        match (fx.new_token, after.token_id()) {
            (true, Some(id)) => {
                assert!(!world.ids.contains(&id), "a token id came back: {context}");
                world.ids.push(id);
                world.current_id = Some(id);
            }
            (false, Some(id)) => assert_eq!(Some(id), world.current_id, "{context}"),
            (_, None) => world.current_id = None,
        }

        // The audit records this call added: a System time-out first if
        // one was due, the event's own, then a System lock-out if it
        // locked; all with the request's context and customer.
        let audit = bank.audit_log();
        let added = &audit[audit_before..];
        let expected_len = usize::from(fx.timed_out) + 1 + usize::from(fx.locked_out);
        assert_eq!(added.len(), expected_len, "{context}: {added:#?}");
        for r in added {
            assert_eq!(
                (&r.customer, &r.context),
                (&bank.customer, &ctx),
                "{context}"
            );
        }
        let mut records = added.iter();
        if fx.timed_out {
            let r = records.next().unwrap();
            assert_eq!(
                (&r.principal, r.event, r.from, r.to, r.outcome),
                (
                    &Principal::System,
                    EventKind::SwapTimeout,
                    State::Swapping,
                    State::Active,
                    Outcome::Accepted
                ),
                "{context}"
            );
        }
        let own = records.next().unwrap();
        assert_eq!((&own.principal, own.event), (&by, op.kind()), "{context}");
        assert_eq!(
            own.drift.map(|d| (d.from, d.to)),
            fx.drift_change,
            "{context}: the audit says when the drift moved"
        );
        let notice = match (&got, op) {
            (Answer::Accepted { .. }, Op::Register { .. }) => Some(Notice::TokenBound),
            (Answer::Accepted { .. }, Op::CompleteSwap { .. }) => Some(Notice::SwapCompleted),
            (Answer::Accepted { .. }, Op::Reissue) => Some(Notice::Reissued),
            (Answer::Accepted { .. }, Op::Suspend(SuspendReason::TooManyFailures)) => {
                Some(Notice::LockedOut)
            }
            _ => None,
        };
        assert_eq!(own.notice, notice, "{context}: the customer is told");
        let accepted = matches!(got, Answer::Accepted { .. } | Answer::NotRequired);
        assert_eq!(
            own.outcome,
            if accepted {
                Outcome::Accepted
            } else {
                Outcome::Refused
            },
            "{context}"
        );
        match (&got, &own.reason) {
            (Answer::Accepted { .. }, AuditReason::Applied { .. })
            | (Answer::NotRequired, AuditReason::LoginOtpOff) => {}
            (
                Answer::Replayed {
                    step,
                    last_accepted,
                },
                AuditReason::Replayed {
                    step: s,
                    last_accepted: l,
                },
            ) => assert_eq!((step, last_accepted), (s, l), "{context}"),
            (
                Answer::WrongCode { failures, .. },
                AuditReason::WrongCode {
                    failures: f,
                    max: m,
                },
            ) => {
                assert_eq!((failures, &max), (f, m), "{context}");
            }
            (_, AuditReason::Refused(why)) if !accepted => {
                assert!(!why.is_empty(), "{context}");
            }
            (got, reason) => panic!("{context}: answer {got:?} audited as {reason:?}"),
        }
        let own_version = model.version - u64::from(fx.locked_out);
        assert_eq!(own.version, own_version, "{context}");
        if fx.locked_out {
            let r = records.next().unwrap();
            assert_eq!(
                (&r.principal, r.event, r.to, r.version),
                (
                    &Principal::System,
                    EventKind::Suspend(SuspendReason::TooManyFailures),
                    State::Suspended(SuspendReason::TooManyFailures),
                    model.version
                ),
                "{context}"
            );
            assert_eq!(r.notice, Some(Notice::LockedOut), "{context}");
        }

        model.check(&bank, &world.serials, &context);
        answers.push(got);
    }
    answers
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn lifecycle_agrees_with_the_model(max in 1u32..=6, steps in steps()) {
        run(max, &steps);
    }
}

/// The model's expectations pinned by hand on one journey, so that the
/// model itself cannot drift from the design unnoticed.
#[test]
fn a_hand_written_journey_agrees_with_the_model_and_the_design() {
    use CodeSrc::{Current, Previous, Wrong};
    let customer = |op: Op| (op, None);
    let steps = [
        customer(Op::Register {
            serial: 0,
            secret: SecretSrc::Known(0),
            right: true,
        }),
        customer(Op::Tick(30)),
        customer(Op::VerifyTransaction(Current)),
        customer(Op::VerifyTransaction(Current)), // replay: not counted
        customer(Op::VerifyTransaction(Previous)), // older step: a replay too
        customer(Op::VerifyTransaction(Wrong)),   // counted
        customer(Op::Tick(30)),
        customer(Op::BeginSwap(Current)),
        customer(Op::Provision),
        customer(Op::Tick(30)),
        customer(Op::CompleteSwap {
            serial: 1,
            secret: SecretSrc::Known(0), // the current secret
            right: true,
        }),
        customer(Op::CompleteSwap {
            serial: 1,
            secret: SecretSrc::Provisioned,
            right: true,
        }),
        customer(Op::Tick(30)),
        customer(Op::VerifyTransaction(CodeSrc::Known(0))), // retired: wrong
        customer(Op::Reissue),
        customer(Op::Register {
            serial: 0, // retired serial
            secret: SecretSrc::Known(2),
            right: true,
        }),
        customer(Op::Register {
            serial: 2,
            secret: SecretSrc::Known(4), // the retired provisioned secret
            right: true,
        }),
        customer(Op::Register {
            serial: 2,
            secret: SecretSrc::Provisioned, // consumed by the swap
            right: true,
        }),
        customer(Op::Register {
            serial: 2,
            secret: SecretSrc::Known(2),
            right: true,
        }),
        customer(Op::Tick(30)),
        customer(Op::BeginSwap(Current)),
        customer(Op::Tick(SWAP_TIMEOUT)),
        customer(Op::VerifyTransaction(Current)), // times the swap out first
        customer(Op::Login(None)),
    ];
    let answers = run(3, &steps);
    let summary: Vec<&str> = answers
        .iter()
        .map(|a| match a {
            Answer::Accepted { .. } => "accepted",
            Answer::Replayed { .. } => "replayed",
            Answer::WrongCode { .. } => "wrong",
            Answer::SecretReused => "secret reused",
            Answer::SerialRetired(_) => "serial retired",
            Answer::NoEnrollment => "no enrollment",
            Answer::NotRequired => "not required",
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "accepted",
            "accepted",
            "replayed",
            "replayed",
            "wrong",
            "accepted",
            "accepted",
            "secret reused",
            "accepted",
            "wrong",
            "accepted",
            "serial retired",
            "secret reused",
            "no enrollment",
            "accepted",
            "accepted",
            "accepted",
            "not required",
        ]
    );
    assert_eq!(
        answers[4],
        Answer::WrongCode {
            failures: 1,
            locked_out: false
        }
    );
}

/// Drift and resynchronisation pinned by hand: a phone running ahead is
/// followed step by step, never beyond the bound; a pair further off than
/// the bound, a non-consecutive pair and a replayed pair do not re-centre;
/// single use holds whatever the drift.
#[test]
fn a_drifting_phone_agrees_with_the_model_and_the_design() {
    use CodeSrc::Offset;
    let customer = |op: Op| (op, None);
    let pair = |later, consecutive| Op::Resync(PairSrc { later, consecutive });
    let steps = [
        customer(Op::Register {
            serial: 0,
            secret: SecretSrc::Known(0),
            right: true,
        }),
        customer(Op::Tick(30)),
        customer(Op::VerifyTransaction(Offset(1))), // drift 1
        customer(Op::Tick(30)),
        customer(Op::VerifyTransaction(Offset(2))), // window re-centred on 1
        customer(Op::Tick(30)),
        customer(Op::VerifyTransaction(Offset(4))), // beyond the window
        customer(pair(5, true)),                    // beyond the bound of 3
        customer(pair(3, false)),                   // not consecutive: wrong
        customer(Op::Tick(60)),                     // past the 40 s throttle delay
        customer(pair(3, true)),                    // re-centres on 3
        customer(pair(3, true)),                    // the same pair again
        customer(Op::ResetDrift),                   // drift 3 -> 0, audited
        customer(Op::Tick(30)),
        customer(Op::VerifyTransaction(Offset(3))), // not around 0
        customer(Op::VerifyTransaction(Offset(1))), // a step already claimed
        customer(Op::Tick(90)),
        customer(Op::VerifyTransaction(Offset(1))),
    ];
    let answers = run(3, &steps);
    let summary: Vec<String> = answers
        .iter()
        .map(|a| match a {
            Answer::Accepted {
                proof: Some((_, drift)),
                ..
            } => format!("accepted {drift}"),
            Answer::Accepted { .. } => "accepted".to_owned(),
            Answer::Replayed { .. } => "replayed".to_owned(),
            Answer::WrongCode { failures, .. } => format!("wrong {failures}"),
            Answer::DriftBeyondBound(d) => format!("beyond {d}"),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        [
            "accepted 0",
            "accepted 1",
            "accepted 2",
            "wrong 1",
            "beyond 5",
            "wrong 2",
            "accepted 3",
            "replayed",
            "accepted",
            "wrong 1",
            "replayed",
            "accepted 1",
        ]
    );
}

/// The random sequences reach what the model is about: throttled codes,
/// resynchronisations accepted and refused beyond the bound, drift
/// re-centred, replays, lock-outs. (A generator that never produced them
/// would make the property above vacuous.)
#[test]
fn random_sequences_reach_every_outcome() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let mut seen = std::collections::BTreeSet::new();
    for n in 0..200u32 {
        let max = 1 + n % 6;
        let steps = steps().new_tree(&mut runner).unwrap().current();
        for (answer, (op, _)) in run(max, &steps)
            .iter()
            .zip(steps.iter().filter(|(op, _)| !matches!(op, Op::Tick(_))))
        {
            let what = match (answer, op) {
                (Answer::Throttled(_), _) => "throttled",
                (Answer::DriftBeyondBound(_), _) => "beyond bound",
                (Answer::Accepted { .. }, Op::Resync(_)) => "resync accepted",
                (
                    Answer::Accepted {
                        proof: Some((_, d)),
                        ..
                    },
                    _,
                ) if d.abs() > 1 => "re-centred",
                (Answer::Replayed { .. }, _) => "replayed",
                (
                    Answer::WrongCode {
                        locked_out: true, ..
                    },
                    _,
                ) => "locked out",
                (Answer::Accepted { .. }, Op::ResetDrift) => "drift reset",
                _ => continue,
            };
            seen.insert(what);
        }
    }
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            "beyond bound",
            "drift reset",
            "locked out",
            "re-centred",
            "replayed",
            "resync accepted",
            "throttled"
        ]
    );
}
