//! Arbitrary sequences of lifecycle events for two customers of one
//! `MemoryStore`, by any principal, at any times (forward, backward, far
//! jumps), with right, stale and garbage codes of given and provisioned
//! secrets, through `Lifecycle::blocking`. After every call the invariants
//! of the lifecycle are checked against the committed record (the store's
//! snapshot) and the audit records the call committed:
//!
//! - no call ends in `LifecycleError::Internal` (nor, on one thread over a
//!   `MemoryStore`, in `Store` or `Contended`);
//! - a swap past its deadline is timed out first by the System; the call is
//!   then decided on the record as timed out (the "effective" record);
//! - an accepted event is a row of the transition table for the effective
//!   state and the principal's role, moves the record to that row's state
//!   and raises the version by exactly one; a code is proven exactly for
//!   the rows whose guard checks one;
//! - a refused event changes nothing, except a wrong code: of the current
//!   token, or the first code of a new one (`Register`, `CompleteSwap`),
//!   counted (up to the maximum) and held back by the throttle; at the
//!   maximum the System suspends the token in the same commit where there
//!   is one (a record without a token keeps counting); a replay is not
//!   counted, nor is a code held back evaluated;
//! - a customer's `CompleteSwap` that comes after the swap's deadline
//!   finds the swap timed out and answers `SwapExpired`;
//! - the steps that can weaken the customer's protection prove the current
//!   token (`SetLoginOtp`, `BeginSwap`, `CancelSwap`, `Stop`: a code is
//!   proven, failures reset); `BeginSwap` fixes the swap's new secret,
//!   pending exactly until the swap's deadline (a generated one answered
//!   as its Key URI), never one that is the current token's or was retired
//!   (refused, the code unspent); `CompleteSwap` binds exactly that secret;
//! - the record is coherent: a token exactly in the states that hold one, a
//!   pending swap exactly while swapping, login OTP only with a token,
//!   failures never above the maximum;
//! - single use: for one token id, an accepted step is greater than any
//!   accepted before, and `last_step` never decreases; a token id that left
//!   a record never comes back, and a new token always has a fresh id;
//! - codes against a model of each customer's current secret: an accepted
//!   or replayed step is one at which that token shows the code entered,
//!   and a code the token shows within the window is never counted wrong
//!   (nor a new token's first code, of the secret it binds); a secret is
//!   refused as reused exactly when it is the current token's or a retired
//!   one;
//! - a retired serial is never registered again, and stays retired;
//! - every call that did not fail with `Store`/`Contended` committed at
//!   least one audit record: exactly one for the call's own event, plus the
//!   System's swap time-out and lock-out when they happened; every accepted
//!   record is a row of the table; the call's own record names the new
//!   serial it brings, a wrong code with its count and a replay as such
//!   (or as behind the last accepted step); no audit record contains a
//!   secret;
//! - transaction signing (`SignTransaction`, with the deployment's OCRA
//!   suite if it has one): every token is bound with that suite; an
//!   accepted signature is the token's response to the question of the
//!   transaction sent, at the counter (or time step) and time offset its
//!   proof names, newer than the last accepted, which it becomes, leaving
//!   the TOTP step and drift as they were; its proof and its audit record
//!   carry the transaction's digest (and no other record does); a replay
//!   names the last accepted counter and changes nothing; the response the
//!   phone shows for its next counter at its own time (the window's
//!   centre: now moved by the token's drift) is never counted wrong; no suite
//!   and a transaction the suite cannot carry are refused uncounted; the
//!   last accepted signature of a token never goes back; with one
//!   deployment, no token's suite is ever guessable;
//! - without a counter, single use is per (time step, question): another
//!   question signs in the step of the last signature (at most 16 a step,
//!   kept in the record), the same one again is a replay; a response the
//!   token shows for the transaction only before the validity is expired,
//!   refused and not counted.

#![no_main]

use std::collections::{HashMap, HashSet};

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use otpguard::lifecycle::rules::{lookup, Effect, Guard};
use otpguard::lifecycle::{
    rules::Actor, audit::AuditReason, audit::AuditRecord, error::CodeError, error::ConfigError, CustomerId, store::DriftEstimate, Event,
    rules::EventKind, Label, Lifecycle, LifecycleConfig, LifecycleError, LoginCheck, MemoryStore,
    NewSecret, audit::Outcome, Principal, store::RecordSummary, ReissueReason, RequestContext, State,
    SuspendReason, SwapTo, config::Throttle, store::TokenId, store::TokenRecord, TokenSerial,
};
use otpguard::ocra::{
    Amount, Currency, Input as OcraInput, Ocra, PayeeAccount, Suite, Transaction,
};
use otpguard::{Clock, FixedClock, KeyUri, Secret, Totp, TotpParams};

const CUSTOMERS: usize = 2;
const GIVEN: usize = 3;
const SERIALS: usize = 4;
const START: u64 = 1_700_000_000;
const ISSUER: &str = "Fuzz Bank";
/// The signing suites a run may deploy: time only or with a counter, the
/// payee's account or the transaction's digest as the question.
const SUITES: [&str; 4] = [
    "OCRA-1:HOTP-SHA1-6:QN08-T30S",
    "OCRA-1:HOTP-SHA1-6:C-QN08-T30S",
    "OCRA-1:HOTP-SHA256-8:QH64-T1M",
    "OCRA-1:HOTP-SHA512-8:C-QH40-T1M",
];
/// Payee accounts: numeric ones (one a non-zero multiple of 16), an IBAN.
const PAYEES: [&str; 4] = ["12345671", "12345672", "12345680", "DE89370400440532013000"];

#[derive(Debug, Arbitrary)]
enum Who {
    Customer(bool),
    Operator(bool),
    System,
}

#[derive(Debug, Arbitrary)]
enum CodeInput {
    /// The code the customer's current token shows `drift % 3` periods
    /// from now; with `drift` at 120 or more either way, the code of the
    /// step it last accepted, sent again (a replay, inside the window or
    /// past it).
    Current { drift: i8 },
    /// The code given secret `secret` shows `drift % 3` periods from now.
    Given { secret: u8, drift: i8 },
    /// The code of a secret provisioned for this customer (`back` counts
    /// from the latest), `drift % 3` periods from now.
    Provisioned { back: u8, drift: i8 },
    /// Anything at all.
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum TxInput {
    /// A transfer of `yen` to one of `PAYEES`.
    Known { payee: u8, yen: u32 },
    /// A transfer to any account (if it is one).
    Raw { account: String, cents: u64 },
}

#[derive(Debug, Arbitrary)]
enum SigInput {
    /// The response the customer's current token shows for the
    /// transaction sent (or `other`), with the token's suite, `step % 5`
    /// time steps from now and `counter % 8` counters from its next one.
    Phone {
        other: Option<TxInput>,
        step: i8,
        counter: i8,
    },
    /// Anything at all.
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum SecretInput {
    Provisioned,
    Given(u8),
}

/// The new secret a `BeginSwap` fixes.
#[derive(Debug, Arbitrary)]
enum SwapInput {
    /// Generated, its Key URI made out to this account ("alice" if none).
    Generated(Option<String>),
    /// Given secret `i`.
    Given(u8),
    /// The current token's own secret, given.
    Current,
}

#[derive(Debug, Arbitrary)]
enum Step {
    Wait(u16),
    Rewind(u16),
    Jump(u64),
    Provision(Option<String>),
    Register {
        serial: u8,
        secret: SecretInput,
        code: CodeInput,
    },
    SetLoginOtp {
        on: bool,
        code: CodeInput,
    },
    BeginSwap {
        code: CodeInput,
        to: SwapInput,
    },
    /// The new phone's code: of the secret `BeginSwap` fixed, if the input
    /// is that secret's (a `Provisioned` code for a generated one, a
    /// `Given` one for a given one).
    CompleteSwap {
        serial: u8,
        code: CodeInput,
    },
    CancelSwap(CodeInput),
    SwapTimeout,
    Stop(CodeInput),
    Suspend(u8),
    Resume,
    Reissue(u8),
    VerifyTransaction(CodeInput),
    VerifyLogin(CodeInput),
    Login(Option<CodeInput>),
    SignTransaction {
        tx: TxInput,
        response: SigInput,
    },
}

#[derive(Debug, Arbitrary)]
struct Input {
    /// The lock-out maximum (1 + its value mod 10) and the throttle (its
    /// value / 10 mod 3: none, growing delays, blocks).
    max_failures: u8,
    swap_timeout: u16,
    enrollment_timeout: u16,
    /// The deployment's signing suite (of `SUITES`), its validity and
    /// look-ahead.
    signing: Option<(u8, u16, u8)>,
    steps: Vec<(u8, Who, Step)>,
}

/// What an accepted call answered, whichever method made it.
struct Done {
    from: State,
    to: State,
    version: u64,
    /// The accepted code's token, step and drift.
    proof: Option<(TokenId, u64, i64)>,
    key_uri: Option<KeyUri>,
}

enum Answer {
    Done(Done),
    LoginNotRequired,
}

/// Where a token's secret came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    Given(usize),
    /// The customer's `n`-th provisioned secret.
    Provisioned(usize),
}

/// What the test knows across calls.
struct World {
    given: Vec<(Secret, Totp)>,
    /// Per customer, every secret provisioned for it, oldest first.
    provisioned: Vec<Vec<(Secret, Totp)>>,
    /// Per customer, where the current token's secret came from.
    current: Vec<Option<Source>>,
    /// Per customer, where the secret last fixed as pending came from (by
    /// `Provision` or `BeginSwap`).
    pending: Vec<Option<Source>>,
    /// Per customer, where the secrets of its retired tokens came from.
    retired: Vec<Vec<Source>>,
    /// Text forms of every secret, which no audit record may contain.
    traces: Vec<String>,
    /// The highest step each token id was seen at.
    last_steps: HashMap<TokenId, u64>,
    /// Every token id seen in a record.
    seen: HashSet<TokenId>,
    /// Token ids that left their record.
    gone: HashSet<TokenId>,
    /// The last accepted signature of each token id.
    last_signatures: HashMap<TokenId, u64>,
    /// For each token id bound without a counter, the questions it signed
    /// in the time step of its last signature.
    signed_in_step: HashMap<TokenId, Vec<String>>,
}

impl World {
    fn new() -> Self {
        let mut traces = Vec::new();
        let given = (0..GIVEN)
            .map(|i| {
                let bytes: Vec<u8> = (0..20u8)
                    .map(|k| {
                        k.wrapping_mul(37)
                            .wrapping_add((i as u8).wrapping_mul(101).wrapping_add(7))
                    })
                    .collect();
                let secret = Secret::from_bytes(&bytes).expect("20 bytes");
                let totp = Totp::new(&secret, TotpParams::DEFAULT);
                traces.extend(secret_traces(&secret));
                (secret, totp)
            })
            .collect();
        Self {
            given,
            provisioned: vec![Vec::new(); CUSTOMERS],
            current: vec![None; CUSTOMERS],
            pending: vec![None; CUSTOMERS],
            retired: vec![Vec::new(); CUSTOMERS],
            traces,
            last_steps: HashMap::new(),
            seen: HashSet::new(),
            gone: HashSet::new(),
            last_signatures: HashMap::new(),
            signed_in_step: HashMap::new(),
        }
    }

    fn key(&self, customer: usize, source: Source) -> &Secret {
        match source {
            Source::Given(i) => &self.given[i].0,
            Source::Provisioned(n) => &self.provisioned[customer][n].0,
        }
    }

    fn totp(&self, customer: usize, source: Source) -> &Totp {
        match source {
            Source::Given(i) => &self.given[i].1,
            Source::Provisioned(n) => &self.provisioned[customer][n].1,
        }
    }

    /// The codes of the ±1 window around now: where a new token's first
    /// code is checked.
    ///
    /// Counted in steps, not in times: near the end of `u64` time a window
    /// holds steps no time reaches, and times that saturate would fold
    /// them onto now's step.
    fn window(&self, customer: usize, source: Source, now: u64) -> Vec<String> {
        let totp = self.totp(customer, source);
        let Ok(step) = totp.step_at(now) else {
            return Vec::new();
        };
        let center = i128::from(step);
        (center - 1..=center + 1)
            .filter_map(|s| u64::try_from(s).ok())
            .map(|s| totp.generate_step(s).to_string())
            .collect()
    }

    /// The code `input` says, for a customer whose current token last
    /// accepted step `last_step`.
    fn code(&self, customer: usize, input: &CodeInput, now: u64, last_step: Option<u64>) -> String {
        // -2 to 2 periods: the window's edges and just beyond.
        let at = |drift: i8| now.saturating_add_signed(i64::from(drift % 3) * 30);
        let shown = |totp: &Totp, drift: i8| {
            totp.generate(at(drift))
                .map(|c| c.to_string())
                .unwrap_or_default()
        };
        match input {
            CodeInput::Current { drift } => match (self.current[customer], last_step) {
                (Some(source), Some(step)) if drift.unsigned_abs() >= 120 => {
                    self.totp(customer, source).generate_step(step).to_string()
                }
                (Some(source), _) => shown(self.totp(customer, source), *drift),
                (None, _) => String::new(),
            },
            CodeInput::Given { secret, drift } => {
                shown(&self.given[usize::from(*secret) % GIVEN].1, *drift)
            }
            CodeInput::Provisioned { back, drift } => {
                let list = &self.provisioned[customer];
                if list.is_empty() {
                    return String::new();
                }
                let back = usize::from(*back) % list.len();
                shown(&list[list.len() - 1 - back].1, *drift)
            }
            CodeInput::Raw(s) => s.clone(),
        }
    }

    fn secret(&self, input: &SecretInput) -> NewSecret {
        match input {
            SecretInput::Provisioned => NewSecret::Provisioned,
            SecretInput::Given(i) => {
                NewSecret::Given(self.given[usize::from(*i) % GIVEN].0.clone())
            }
        }
    }

    /// Whether `source` is the customer's current token's or a retired
    /// one's.
    fn used(&self, customer: usize, source: Source) -> bool {
        self.current[customer] == Some(source) || self.retired[customer].contains(&source)
    }
}

fn transaction(input: &TxInput) -> Transaction {
    let jpy = Currency::new("JPY").expect("a currency");
    match input {
        TxInput::Known { payee, yen } => Transaction::transfer(
            Amount {
                minor_units: u64::from(*yen),
                currency: jpy,
            },
            PayeeAccount::new(PAYEES[usize::from(*payee) % PAYEES.len()]).expect("an account"),
        ),
        TxInput::Raw { account, cents } => Transaction::transfer(
            Amount {
                minor_units: *cents,
                currency: Currency::new("EUR").expect("a currency"),
            },
            PayeeAccount::new(account)
                .unwrap_or_else(|_| PayeeAccount::new(PAYEES[0]).expect("an account")),
        ),
    }
}

/// The response of `secret` under `suite` to `transaction`'s question, for
/// `counter` (if the suite has one) at time step `step`; `None` if the
/// suite cannot carry the transaction.
fn response(
    secret: &Secret,
    suite: &Suite,
    transaction: &Transaction,
    counter: u64,
    step: u64,
) -> Option<String> {
    let question = transaction.question_for(suite).ok()?;
    let mut input = OcraInput::new(&question).time_step(step);
    if suite.has_counter() {
        input = input.counter(counter);
    }
    Ocra::new(secret, *suite)
        .generate(&input)
        .ok()
        .map(|r| r.to_string())
}

/// The phone's time as the lifecycle centres a signature's window on it:
/// `now` moved by the token's recorded drift, within the default bound of
/// 10 steps of 30 s.
fn phone_time(now: u64, drift: Option<i64>) -> u64 {
    now.saturating_add_signed(drift.unwrap_or(0).clamp(-10, 10) * 30)
}

/// The steps a code of a token whose phone clock the record puts at
/// `estimate` is checked against at `now`, as the design says under the
/// default settings (one step each way, a drift bound of 10 steps, clocks
/// drifting at most 5 s a day, widened by at most 4 steps): one step each
/// way around the step where the estimate centres the phone's clock,
/// widened to every step the clock can show at a rate the codes allow, but
/// to at most 4 more steps (then centred), within the drift bound (and the
/// window) of the server's step. `None` where the arithmetic would
/// saturate (far from the times a clock reads): not checked there.
fn estimate_steps(estimate: &DriftEstimate, now: u64) -> Option<Vec<u64>> {
    const DAY: i128 = 86_400;
    const RATE: i128 = 5;
    const PERIOD: i128 = 30;
    const SANE: i128 = 1 << 40;
    let (anchor, last) = (estimate.anchor(), estimate.last());
    let at = i128::from(now);
    let values = [at, i128::from(anchor.at()), i128::from(last.at())];
    let offsets = [anchor.low(), anchor.high(), last.low(), last.high()];
    if values.iter().any(|v| *v > SANE) || offsets.iter().any(|o| i128::from(*o).abs() > SANE) {
        return None;
    }
    // Where the phone's clock can be: the latest offsets moved at any rate
    // within the maximum and within what the span since the anchor allows
    // (unless the two disagree: the clock was set).
    let elapsed = (at - i128::from(last.at())).max(0);
    let mut slowest = (-RATE * elapsed).div_euclid(DAY);
    let mut fastest = (RATE * elapsed + DAY - 1).div_euclid(DAY);
    let span = i128::from(last.at()) - i128::from(anchor.at());
    if span > 0 {
        let low = ((i128::from(last.low()) - i128::from(anchor.high())) * elapsed).div_euclid(span);
        let high =
            -((-(i128::from(last.high()) - i128::from(anchor.low())) * elapsed).div_euclid(span));
        if low.max(slowest) <= high.min(fastest) {
            slowest = low.max(slowest);
            fastest = high.min(fastest);
        }
    }
    // A code arriving now was shown up to half a step ago.
    let low = i128::from(last.low()) + slowest - PERIOD / 2;
    let high = i128::from(last.high()) + fastest;
    if at + low < 0 {
        return None;
    }
    let step_of = |offset: i128| (at + offset).div_euclid(PERIOD);
    let server = at / PERIOD;
    let centre = step_of(low + (high - low) / 2);
    let mut first = (centre - 1).min(step_of(low));
    let mut last = (centre + 1).max(step_of(high));
    if last - first > 6 {
        first = centre - 3;
        last = first + 6;
    }
    first = first.max(server - 11);
    last = last.min(server + 11);
    Some(
        (first..=last)
            .filter_map(|s| u64::try_from(s).ok())
            .collect(),
    )
}

/// The seconds of `suite`'s time step (every signing suite has one).
fn step_seconds(suite: &Suite) -> u64 {
    suite
        .time_step()
        .map(|s| s.seconds())
        .expect("a signing suite with a time step")
}

fn secret_traces(secret: &Secret) -> [String; 2] {
    let hex: String = secret
        .expose_secret()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    [secret.to_base32().to_ascii_lowercase(), hex]
}

fn serial(i: u8) -> TokenSerial {
    TokenSerial::new(&format!("tok-{}", usize::from(i) % SERIALS)).expect("valid serial")
}

fn principal(who: &Who) -> Principal {
    let label = |s: &str| Label::new(s).expect("valid label");
    match who {
        Who::Customer(app) => Principal::customer(label(if *app { "app" } else { "web" })),
        Who::Operator(second) => Principal::operator(label(if *second { "op-2" } else { "op-1" })),
        Who::System => Principal::System,
    }
}

fn summary(lc: &Lifecycle<MemoryStore, &FixedClock>, customer: &CustomerId) -> RecordSummary {
    lc.store()
        .snapshot(customer)
        .unwrap_or_else(TokenRecord::new)
        .summary()
}

fuzz_target!(|x: Input| {
    let throttle = match (x.max_failures / 10) % 3 {
        0 => Throttle::OFF,
        1 => Throttle::growing(1, 30, 120).expect("a throttle"),
        _ => Throttle::blocks(2, 60).expect("a throttle"),
    };
    let mut builder = LifecycleConfig::builder()
        .max_failures(1 + u32::from(x.max_failures % 10))
        .throttle(throttle)
        .swap_timeout(1 + u64::from(x.swap_timeout))
        .enrollment_timeout(1 + u64::from(x.enrollment_timeout))
        .issuer(ISSUER);
    if let Some((suite, validity, ahead)) = x.signing {
        // At most 10 steps of the shortest suite (30 s); a look-ahead kept
        // small so that a verification stays quick.
        builder = builder
            .signing(
                Suite::parse(SUITES[usize::from(suite) % SUITES.len()]).expect("a valid suite"),
            )
            .signature_validity(1 + u64::from(validity) % 300)
            .signing_counter_ahead(u32::from(ahead % 16));
    }
    let config = match builder.build() {
        Ok(config) => config,
        // Settings under which signatures could be guessed are refused by
        // design; nothing to run.
        Err(ConfigError::SignatureGuessable { .. }) => return,
        Err(e) => panic!("settings in range refused: {e}"),
    };
    let signing = config.signing();
    let max = config.max_failures();
    let validity = config.signature_validity();
    let enrollment_timeout = config.enrollment_timeout();
    let swap_timeout = config.swap_timeout();
    let clock = FixedClock::new(START);
    let lc = Lifecycle::new(config, MemoryStore::new(), &clock);
    let customers: Vec<CustomerId> = (0..CUSTOMERS)
        .map(|i| CustomerId::new(&format!("c-{i}")).expect("valid id"))
        .collect();
    let ctx = RequestContext::new().source(Label::new("192.0.2.1").expect("valid label"));
    let mut world = World::new();

    for (c, who, step) in x.steps.iter().take(64) {
        let ci = usize::from(*c) % CUSTOMERS;
        let customer = &customers[ci];
        let by = principal(who);
        let now = clock.now();
        // The code the call carries, and where a new token's secret is from
        // (for a swap, the secret its BeginSwap fixed).
        let (entered, new_source) = match step {
            Step::Register { code, secret, .. } => {
                let source = match secret {
                    SecretInput::Given(i) => Some(Source::Given(usize::from(*i) % GIVEN)),
                    SecretInput::Provisioned => world.pending[ci],
                };
                (Some(code), source)
            }
            Step::CompleteSwap { code, .. } => (Some(code), world.pending[ci]),
            Step::SetLoginOtp { code: c, .. }
            | Step::BeginSwap { code: c, .. }
            | Step::CancelSwap(c)
            | Step::Stop(c)
            | Step::VerifyTransaction(c)
            | Step::VerifyLogin(c) => (Some(c), None),
            Step::Login(c) => (c.as_ref(), None),
            _ => (None, None),
        };
        // The secret a swap is begun to, when given.
        let swap_source = match step {
            Step::BeginSwap {
                to: SwapInput::Given(i),
                ..
            } => Some(Source::Given(usize::from(*i) % GIVEN)),
            Step::BeginSwap {
                to: SwapInput::Current,
                ..
            } => Some(world.current[ci].unwrap_or(Source::Given(0))),
            _ => None,
        };
        // A transaction signed, and the response sent with it: the phone
        // signs with the suite its token was bound with.
        let signed = match step {
            Step::SignTransaction { tx, response: r } => {
                let sent = transaction(tx);
                let record = summary(&lc, customer);
                let text = match r {
                    SigInput::Raw(text) => text.clone(),
                    SigInput::Phone {
                        other,
                        step,
                        counter,
                    } => match (record.signing_suite, world.current[ci]) {
                        (Some(suite), Some(source)) => {
                            let shown = other.as_ref().map_or_else(|| sent.clone(), transaction);
                            let next = record.last_signature.map_or(0, |l| l.saturating_add(1));
                            let at = (now / step_seconds(&suite))
                                .saturating_add_signed(i64::from(*step % 5));
                            let counter = next.saturating_add_signed(i64::from(*counter % 8));
                            response(world.key(ci, source), &suite, &shown, counter, at)
                                .unwrap_or_default()
                        }
                        _ => String::new(),
                    },
                };
                Some((sent, text))
            }
            _ => None,
        };
        let digest = signed.as_ref().map(|(t, _)| t.digest());
        let submitted: Option<String> = match &signed {
            Some((_, text)) => Some(text.clone()),
            None => {
                let last_step = summary(&lc, customer).last_step;
                entered.map(|c| world.code(ci, c, now, last_step))
            }
        };
        let code = || submitted.as_deref().unwrap_or_default().into();
        let event = match step {
            Step::Wait(s) => {
                clock.advance(u64::from(*s));
                continue;
            }
            Step::Rewind(s) => {
                clock.set(now.saturating_sub(u64::from(*s)));
                continue;
            }
            Step::Jump(t) => {
                clock.set(*t);
                continue;
            }
            Step::Provision(account) => Some(Event::Provision {
                account: account.clone().unwrap_or_else(|| "alice".to_owned()),
            }),
            Step::Register {
                serial: s, secret, ..
            } => Some(Event::Register {
                serial: serial(*s),
                secret: world.secret(secret),
                code: code(),
            }),
            Step::SetLoginOtp { on, .. } => Some(Event::SetLoginOtp {
                on: *on,
                code: code(),
            }),
            Step::BeginSwap { to, .. } => Some(Event::BeginSwap {
                code: code(),
                to: match (to, swap_source) {
                    (SwapInput::Generated(account), _) => SwapTo::Generated {
                        account: account.clone().unwrap_or_else(|| "alice".to_owned()),
                    },
                    (_, Some(source)) => SwapTo::Given(world.key(ci, source).clone()),
                    (_, None) => unreachable!("a given swap without its secret"),
                },
            }),
            Step::CompleteSwap { serial: s, .. } => Some(Event::CompleteSwap {
                serial: serial(*s),
                code: code(),
            }),
            Step::CancelSwap(_) => Some(Event::CancelSwap { code: code() }),
            Step::SwapTimeout => Some(Event::SwapTimeout),
            Step::Stop(_) => Some(Event::Stop { code: code() }),
            Step::Suspend(r) => Some(Event::Suspend {
                reason: SuspendReason::ALL[usize::from(*r) % SuspendReason::ALL.len()],
            }),
            Step::Resume => Some(Event::Resume),
            Step::Reissue(r) => Some(Event::Reissue {
                reason: [
                    ReissueReason::LostDevice,
                    ReissueReason::AppRemoved,
                    ReissueReason::DeviceUnusable,
                ][usize::from(*r % 3)],
            }),
            Step::VerifyLogin(_) => Some(Event::VerifyLogin { code: code() }),
            Step::SignTransaction { .. } => signed.as_ref().map(|(t, _)| Event::SignTransaction {
                transaction: t.clone(),
                response: code(),
            }),
            // Through their own methods, below.
            Step::VerifyTransaction(_) | Step::Login(_) => None,
        };
        let kind = match (&event, step) {
            (Some(e), _) => e.kind(),
            (None, Step::VerifyTransaction(_)) => EventKind::VerifyTransaction,
            (None, _) => EventKind::VerifyLogin,
        };
        let new_serial = match step {
            Step::Register { serial: s, .. } | Step::CompleteSwap { serial: s, .. } => {
                Some(serial(*s))
            }
            _ => None,
        };
        // The account name a Key URI is made out to.
        let account = match &event {
            Some(
                Event::Provision { account }
                | Event::BeginSwap {
                    to: SwapTo::Generated { account },
                    ..
                },
            ) => Some(account.clone()),
            _ => None,
        };

        let before = summary(&lc, customer);
        // The record the call is decided on: a swap past its deadline is
        // timed out first, unless the System itself sends the time-out.
        let timed_out = before.pending_swap.is_some_and(|p| now >= p.deadline)
            && !(kind == EventKind::SwapTimeout && by == Principal::System);
        let mut effective = before.clone();
        if timed_out {
            effective.state = State::Active;
            effective.pending_swap = None;
            effective.enrollment_deadline = None;
            effective.version += 1;
        }
        // Codes held back after wrong ones are not evaluated.
        let held = effective.throttled_until.is_some_and(|t| now < t);

        let b = lc.blocking();
        let result: Result<Answer, LifecycleError> = match (event, step) {
            (Some(event), _) => b.submit(customer, &by, event, &ctx).map(|applied| {
                let proof = applied.authorized.map(|a| {
                    assert_eq!(a.event(), kind);
                    assert_eq!(a.version(), applied.version);
                    assert_eq!(
                        a.transaction(),
                        digest,
                        "the proof names another transaction"
                    );
                    (a.token(), a.claimed().value(), a.drift())
                });
                Answer::Done(Done {
                    from: applied.from,
                    to: applied.to,
                    version: applied.version,
                    proof,
                    key_uri: applied.key_uri,
                })
            }),
            (None, Step::VerifyTransaction(_)) => b
                .verify_transaction(
                    customer,
                    &by,
                    submitted.as_deref().unwrap_or_default(),
                    &ctx,
                )
                .map(|a| {
                    assert_eq!(a.event(), EventKind::VerifyTransaction);
                    assert_eq!(a.transaction(), None);
                    Answer::Done(Done {
                        from: effective.state,
                        to: summary(&lc, customer).state,
                        version: a.version(),
                        proof: Some((a.token(), a.claimed().value(), a.drift())),
                        key_uri: None,
                    })
                }),
            (None, Step::Login(_)) => {
                b.login(customer, &by, submitted.as_deref(), &ctx)
                    .map(|check| match check {
                        LoginCheck::NotRequired => Answer::LoginNotRequired,
                        LoginCheck::Verified(a) => {
                            assert_eq!(a.event(), EventKind::VerifyLogin);
                            assert_eq!(a.transaction(), None);
                            Answer::Done(Done {
                                from: effective.state,
                                to: summary(&lc, customer).state,
                                version: a.version(),
                                proof: Some((a.token(), a.claimed().value(), a.drift())),
                                key_uri: None,
                            })
                        }
                        other => panic!("unknown login answer {other:?}"),
                    })
            }
            (None, _) => unreachable!("every other step carries an event"),
        };
        let after = summary(&lc, customer);
        let audit = lc.store().audit().take();

        // Never a bug, and nothing a single thread over memory can cause.
        if let Err(e) = &result {
            assert!(
                !matches!(e, LifecycleError::Internal(_)),
                "internal error: {e}"
            );
            assert!(
                !matches!(
                    e,
                    LifecycleError::Store(_)
                        | LifecycleError::Contended { .. }
                        | LifecycleError::Corrupt(_)
                ),
                "{e} on one thread over a MemoryStore"
            );
        }

        // A swap past its deadline is gone: the swap a customer's
        // `CompleteSwap` would complete has expired.
        if timed_out && kind == EventKind::CompleteSwap && by.actor() == Actor::Customer {
            let deadline = before.pending_swap.map(|p| p.deadline);
            assert!(
                matches!(
                    &result,
                    Err(LifecycleError::SwapExpired { deadline: d, now: n })
                        if Some(*d) == deadline && *n == now
                ),
                "a CompleteSwap after the deadline answered {:?}",
                result.as_ref().err()
            );
        }

        let mut locked_out = false;
        match &result {
            Ok(Answer::Done(done)) => {
                let row = lookup(done.from, kind, by.actor()).unwrap_or_else(|| {
                    panic!(
                        "accepted without a row: {} {kind} {}",
                        done.from,
                        by.actor()
                    )
                });
                assert_eq!(done.from, effective.state, "decided on another state");
                assert_eq!(row.to, done.to);
                assert_eq!(
                    after.state, done.to,
                    "committed state differs from the row's"
                );
                assert_eq!(after.version, effective.version + 1);
                assert_eq!(done.version, after.version);
                assert_eq!(
                    done.proof.is_some(),
                    row.guard.needs_code(),
                    "a code proven for a row without a code guard, or missing"
                );
                if row.guard.needs_code() {
                    assert!(!held, "a code evaluated while codes are held back");
                }
                if let (Some((token, step, drift)), Some((sent, text))) = (done.proof, &signed) {
                    // A signature of the current token: its response to the
                    // question of the transaction sent, at the counter (or
                    // time step) and time offset the proof names.
                    assert_eq!(row.guard, Guard::SignedTransaction);
                    assert_eq!(effective.token_id, Some(token), "proof for another token");
                    assert_eq!(after.token_id, Some(token));
                    let suite = effective.signing_suite.expect("signed without a suite");
                    let now_step = now / step_seconds(&suite);
                    let at = now_step
                        .checked_add_signed(drift)
                        .expect("a time step in range");
                    let (counter, expected_mark) = if suite.has_counter() {
                        (step, step)
                    } else {
                        (0, at)
                    };
                    assert_eq!(
                        step, expected_mark,
                        "a time-only signature's step is its time step"
                    );
                    let source =
                        world.current[ci].expect("a signature of a token the test does not know");
                    assert_eq!(
                        response(world.key(ci, source), &suite, sent, counter, at).as_deref(),
                        Some(text.as_str()),
                        "accepted a response the token does not show for this transaction"
                    );
                    // The window is centred on the phone's time: now moved
                    // by the token's drift (within the bound of 10 steps).
                    let centre = phone_time(now, effective.last_drift) / step_seconds(&suite);
                    let centre_offset =
                        i64::try_from(centre).unwrap() - i64::try_from(now_step).unwrap();
                    assert!(
                        drift <= centre_offset + 1,
                        "a signature from more than one step ahead of the phone's time"
                    );
                    // Single use: a newer counter (or time step), or without
                    // a counter, in the step of the last signature, a
                    // question not signed in it yet.
                    let question = sent.question_for(&suite).expect("a signed question");
                    let per_step = !suite.has_counter();
                    let signed = world.signed_in_step.entry(token).or_default();
                    match effective.last_signature {
                        Some(last) if per_step && step == last => {
                            assert!(
                                !signed.contains(&question),
                                "a question signed twice in a step"
                            );
                            assert!(signed.len() < 16, "a 17th question in a step");
                        }
                        Some(last) => {
                            assert!(step > last, "signature {step} accepted after {last}");
                            signed.clear();
                        }
                        None => signed.clear(),
                    }
                    if per_step {
                        signed.push(question);
                        assert_eq!(after.signed_in_last_step.len(), signed.len());
                        assert!(after
                            .signed_in_last_step
                            .starts_with(&effective.signed_in_last_step[..signed.len() - 1]));
                    } else {
                        assert!(after.signed_in_last_step.is_empty());
                    }
                    assert_eq!(after.last_signature, Some(step));
                    assert_eq!(
                        (after.last_step, after.last_drift),
                        (effective.last_step, effective.last_drift),
                        "a signature moved the TOTP step or drift"
                    );
                } else if let Some((token, step, _)) = done.proof {
                    let new_token = matches!(
                        row.guard,
                        Guard::NewTokenCode | Guard::NewTokenCodeBeforeDeadline
                    );
                    let source = if new_token {
                        new_source.expect("a new token from no known secret")
                    } else {
                        world.current[ci].expect("a code of a token the test does not know")
                    };
                    assert_eq!(
                        world.totp(ci, source).generate_step(step).to_string(),
                        submitted.as_deref().unwrap_or_default(),
                        "accepted at a step whose code is not the one entered"
                    );
                    if new_token {
                        // The new token's first code: it is the token now,
                        // of a secret never used here.
                        assert_eq!(after.token_id, Some(token), "proof for another token");
                        assert_ne!(effective.token_id, Some(token), "a new token, not new");
                        assert!(!world.used(ci, source), "a used secret bound again");
                    } else {
                        // The current token's code, at a step of the window
                        // its estimate sets; it stays current unless the row
                        // retires it (Stop).
                        assert_eq!(effective.token_id, Some(token), "proof for another token");
                        assert!(after.token_id == Some(token) || !after.state.has_token());
                        let estimate = effective
                            .drift_estimate
                            .expect("a token without its estimate");
                        if let Some(steps) = estimate_steps(&estimate, now) {
                            assert!(steps.contains(&step), "accepted outside the window");
                        }
                    }
                    if after.token_id == Some(token) {
                        assert_eq!(after.last_step, Some(step));
                    }
                    if let Some(last) = world.last_steps.get(&token) {
                        assert!(step > *last, "step {step} accepted after step {last}");
                    }
                    if effective.token_id == Some(token) {
                        let last = effective.last_step.expect("a token without its step");
                        assert!(step > last, "step {step} accepted after step {last}");
                    }
                }
                if let Some(serial) = &new_serial {
                    assert!(
                        !effective.retired_serials.contains(serial),
                        "retired serial {serial} registered again"
                    );
                    assert_eq!(after.serial.as_ref(), Some(serial));
                    assert_ne!(after.token_id, effective.token_id);
                    assert_eq!(after.enrollment_deadline, None);
                }
                // Failures (and the hold-back) reset where a code was proven,
                // by an operator's Resume, and for a new secret provisioned
                // (fresh tries); left alone otherwise.
                let cleared = match row.effect {
                    Effect::InstallToken
                    | Effect::SwapIn
                    | Effect::RecordUse
                    | Effect::StartSwap
                    | Effect::SetLoginOtp
                    | Effect::Resume
                    | Effect::RecordSignature
                    | Effect::RetireToken
                    | Effect::Provision => true,
                    Effect::EndSwap => row.guard == Guard::CurrentCode,
                    _ => false,
                };
                if cleared {
                    assert_eq!((after.failures, after.throttled_until), (0, None));
                } else {
                    assert_eq!(
                        (after.failures, after.throttled_until),
                        (effective.failures, effective.throttled_until)
                    );
                }
                match step {
                    Step::SetLoginOtp { on, .. } => assert_eq!(after.login_otp, *on),
                    // The swap's new secret is pending exactly until the
                    // swap's deadline.
                    Step::BeginSwap { .. } => {
                        let deadline = now.saturating_add(swap_timeout);
                        assert_eq!(after.pending_swap.map(|p| p.deadline), Some(deadline));
                        assert_eq!(after.pending_swap.map(|p| p.started_at), Some(now));
                        assert_eq!(after.enrollment_deadline, Some(deadline));
                        if let Some(source) = swap_source {
                            assert!(!world.used(ci, source), "a swap to a used secret");
                            world.pending[ci] = Some(source);
                        }
                    }
                    Step::CancelSwap(_) => {
                        assert_eq!(after.pending_swap, None);
                        assert_eq!(after.enrollment_deadline, None);
                    }
                    _ => {}
                }
                match (&done.key_uri, &account) {
                    (Some(uri), Some(account)) => {
                        let timeout = match row.effect {
                            Effect::Provision => enrollment_timeout,
                            Effect::StartSwap => swap_timeout,
                            other => panic!("a Key URI from {other:?}"),
                        };
                        assert_eq!(uri.account(), account);
                        assert_eq!(uri.issuer(), Some(ISSUER));
                        assert_eq!(uri.ocra_suite(), signing);
                        assert_eq!(after.enrollment_deadline, Some(now.saturating_add(timeout)));
                        let totp = uri.to_totp().expect("a provisioned TOTP key");
                        assert_eq!(totp.params(), TotpParams::DEFAULT);
                        world.traces.extend(secret_traces(uri.secret()));
                        world.pending[ci] = Some(Source::Provisioned(world.provisioned[ci].len()));
                        world.provisioned[ci].push((uri.secret().clone(), totp));
                    }
                    (None, None) => {}
                    _ => panic!(
                        "a Key URI exactly for an accepted Provision or swap to a generated secret"
                    ),
                }
            }
            Ok(Answer::LoginNotRequired) => {
                assert_eq!(kind, EventKind::VerifyLogin);
                assert!(
                    !effective.login_otp,
                    "no code asked while the login OTP is on"
                );
                assert_eq!(after, effective);
            }
            Err(LifecycleError::WrongCode {
                failures,
                max: reported,
                locked_out: locked,
                source: why,
            }) => {
                locked_out = *locked;
                assert!(!held, "a code evaluated while codes are held back");
                let entered = submitted.as_deref().unwrap_or_default();
                let first = matches!(kind, EventKind::Register | EventKind::CompleteSwap);
                assert_eq!(
                    matches!(why, CodeError::NewToken(_)),
                    first,
                    "a wrong code of another token than the event's: {why:?}"
                );
                if first {
                    // The first code of a new token: never one the secret it
                    // binds shows in the window.
                    if let Some(source) = new_source {
                        assert!(
                            !world.window(ci, source, now).iter().any(|c| c == entered),
                            "the new token's code was counted as wrong"
                        );
                    }
                } else if let Some((sent, _)) = &signed {
                    assert!(effective.state.accepts_codes());
                    let source = world.current[ci].expect("a token the test does not know");
                    // The response the phone shows for its next counter at
                    // the centre of the window (its own time).
                    let suite = effective
                        .signing_suite
                        .expect("a wrong signature without a suite");
                    let next = effective.last_signature.map_or(0, |l| l.saturating_add(1));
                    let right = response(
                        world.key(ci, source),
                        &suite,
                        sent,
                        next,
                        phone_time(now, effective.last_drift) / step_seconds(&suite),
                    );
                    assert_ne!(
                        right.as_deref(),
                        Some(entered),
                        "the response the token shows now was counted as wrong"
                    );
                } else {
                    assert!(effective.state.accepts_codes());
                    let source = world.current[ci].expect("a token the test does not know");
                    // Never a code the token shows at a step of the window
                    // its estimate sets.
                    let estimate = effective
                        .drift_estimate
                        .expect("a token without its estimate");
                    for step in estimate_steps(&estimate, now).unwrap_or_default() {
                        assert_ne!(
                            world.totp(ci, source).generate_step(step).to_string(),
                            entered,
                            "a code the current token shows in its window was counted as wrong"
                        );
                    }
                }
                assert_eq!(*reported, max);
                assert_eq!(*failures, (effective.failures + 1).min(max));
                // Only a token is locked: a record without one (a
                // registration's first code) keeps counting.
                assert_eq!(
                    locked_out,
                    *failures >= max && effective.state.has_token(),
                    "lock-out not exactly at the maximum of a token"
                );
                let mut expected = effective.clone();
                expected.failures = *failures;
                // A record without a token drops its pending secret at the
                // maximum instead: at most the maximum of tries at a secret.
                if *failures >= max && !effective.state.has_token() {
                    expected.enrollment_deadline = None;
                }
                let delay = throttle.delay_after(*failures);
                if delay > 0 {
                    let until = now.saturating_add(delay);
                    expected.throttled_until =
                        Some(effective.throttled_until.map_or(until, |t| t.max(until)));
                }
                expected.version += 1;
                if locked_out {
                    expected.state = State::Suspended(SuspendReason::TooManyFailures);
                    expected.pending_swap = None;
                    expected.enrollment_deadline = None;
                    expected.version += 1;
                }
                assert_eq!(after, expected);
            }
            Err(LifecycleError::Replayed {
                step,
                last_accepted,
            }) => {
                assert!(effective.state.accepts_codes());
                assert!(!held, "a code evaluated while codes are held back");
                let source = world.current[ci].expect("a token the test does not know");
                if let Some((sent, _)) = &signed {
                    assert_eq!(effective.last_signature, Some(*last_accepted));
                    // Without a counter, in the step of the last signature,
                    // only a question signed in it is a replay.
                    let suite = effective.signing_suite.expect("a replay without a suite");
                    if !suite.has_counter() && step == last_accepted {
                        let question = sent.question_for(&suite).expect("a signed question");
                        let token = effective.token_id.expect("a replay without a token");
                        assert!(
                            world
                                .signed_in_step
                                .get(&token)
                                .is_some_and(|q| q.contains(&question)),
                            "a question not signed in the step refused as a replay"
                        );
                    }
                } else {
                    // A code the token showed at a step not newer than the
                    // last accepted: in the window, or the last accepted
                    // step's own code outside it.
                    assert_eq!(
                        world.totp(ci, source).generate_step(*step).to_string(),
                        submitted.as_deref().unwrap_or_default(),
                        "a replay of a code the token never showed"
                    );
                    assert_eq!(effective.last_step, Some(*last_accepted));
                }
                assert!(step <= last_accepted);
                assert_eq!(after, effective, "a replay changed the record");
            }
            Err(e) => {
                match (e, &signed) {
                    (LifecycleError::NoSigningSuite, Some(_)) => {
                        assert_eq!(effective.signing_suite, None);
                    }
                    (LifecycleError::Unsignable(_), Some((sent, _))) => {
                        let suite = effective.signing_suite.expect("unsignable without a suite");
                        assert!(sent.question_for(&suite).is_err());
                    }
                    (LifecycleError::NoSigningSuite | LifecycleError::Unsignable(_), None) => {
                        panic!("{e} for an event that signs nothing")
                    }
                    // One deployment: every token is bound with its suite,
                    // which the settings hold to the guess bound.
                    (LifecycleError::SigningSuiteGuessable { .. }, _) => {
                        panic!("{e} under the settings that bound the token")
                    }
                    _ => {}
                }
                match e {
                    LifecycleError::NotPermitted {
                        state,
                        event,
                        actor,
                        ..
                    } => {
                        assert_eq!(
                            (*state, *event, *actor),
                            (effective.state, kind, by.actor())
                        );
                        assert!(lookup(*state, *event, *actor).is_none());
                    }
                    // A response the token shows for the transaction, at a
                    // step before the validity (by as many steps again).
                    LifecycleError::SignatureExpired { step } => {
                        let (sent, text) = signed.as_ref().expect("expired without a signature");
                        let suite = effective.signing_suite.expect("expired without a suite");
                        let seconds = step_seconds(&suite);
                        let behind = validity.div_ceil(seconds).min(10);
                        let centre = phone_time(now, effective.last_drift) / seconds;
                        assert!(
                            step.saturating_add(behind) < centre
                                && step.saturating_add(2 * behind + 1) >= centre,
                            "expired at step {step}, the window's centre {centre}"
                        );
                        if !suite.has_counter() {
                            let source = world.current[ci].expect("a token the test does not know");
                            assert_eq!(
                                response(world.key(ci, source), &suite, sent, 0, *step).as_deref(),
                                Some(text.as_str()),
                                "expired: a response the token never showed"
                            );
                        }
                    }
                    LifecycleError::TooManySignaturesInStep { step, max: most } => {
                        assert_eq!(*most, 16);
                        assert_eq!(effective.last_signature, Some(*step));
                        assert_eq!(effective.signed_in_last_step.len(), 16);
                    }
                    LifecycleError::Throttled { retry_at, now: n } => {
                        assert_eq!((effective.throttled_until, *n), (Some(*retry_at), now));
                        assert!(held, "held back past the throttle's time");
                    }
                    // Exactly a secret that is the current token's or a
                    // retired one.
                    LifecycleError::SecretReused => {
                        let source = match kind {
                            EventKind::BeginSwap => swap_source,
                            EventKind::Register | EventKind::CompleteSwap => new_source,
                            _ => panic!("{e} for {kind}"),
                        };
                        let source = source.expect("a secret reused from no known secret");
                        assert!(
                            world.used(ci, source),
                            "a secret never used refused as reused"
                        );
                    }
                    // Exactly an account name a Key URI cannot carry.
                    LifecycleError::Provisioning(_) => {
                        let account = account.as_deref().expect("Provisioning without an account");
                        assert!(
                            KeyUri::builder(&world.given[0].0, account).build().is_err(),
                            "{account:?} refused"
                        );
                    }
                    _ => {}
                }
                assert_eq!(
                    after, effective,
                    "refused with {e:?} but the record changed"
                );
            }
        }

        // The call's own audit record names the new serial it brings, and
        // says why a code was refused.
        if let Some(own) = audit.iter().find(|a| a.principal == by && a.event == kind) {
            assert_eq!(
                own.new_serial, new_serial,
                "audited with another new serial"
            );
            match (&result, &own.reason) {
                (
                    Err(LifecycleError::Replayed {
                        step,
                        last_accepted,
                    }),
                    reason,
                ) => {
                    let expected = if step < last_accepted {
                        AuditReason::BehindLastAccepted {
                            step: *step,
                            last_accepted: *last_accepted,
                        }
                    } else {
                        AuditReason::Replayed {
                            step: *step,
                            last_accepted: *last_accepted,
                        }
                    };
                    assert_eq!(*reason, expected);
                }
                (Err(LifecycleError::WrongCode { failures, max, .. }), reason) => assert_eq!(
                    *reason,
                    AuditReason::WrongCode {
                        failures: *failures,
                        max: *max
                    }
                ),
                _ => {}
            }
        }

        // The test's model of the current secret follows the record: a
        // token that left it is retired.
        if before.token_id.is_some() && after.token_id != before.token_id {
            let old = world.current[ci].expect("a token the test does not know");
            world.retired[ci].push(old);
        }
        if !after.state.has_token() {
            world.current[ci] = None;
        } else if after.token_id != before.token_id {
            world.current[ci] = Some(new_source.expect("a new token from no known secret"));
        }

        coherent(&before, &after, max, signing);
        tokens(&mut world, &before, &after);
        audited(
            &audit,
            customer,
            &by,
            kind,
            now,
            timed_out,
            locked_out,
            &effective,
            &after,
            result.is_ok(),
            digest,
            &world.traces,
        );
    }
});

/// The committed record holds together on its own and with the one before.
fn coherent(before: &RecordSummary, after: &RecordSummary, max: u32, signing: Option<Suite>) {
    assert!(after.version >= before.version);
    assert!(
        after.failures <= max,
        "{} failures above {max}",
        after.failures
    );
    let has = after.state.has_token();
    assert_eq!(has, after.serial.is_some());
    assert_eq!(has, after.token_id.is_some());
    assert_eq!(has, after.last_step.is_some());
    assert_eq!(has, after.drift_estimate.is_some());
    // One deployment: every token is bound with its suite.
    assert_eq!(after.signing_suite, if has { signing } else { None });
    assert!(has || after.last_signature.is_none());
    // Questions signed in the last signature's step: only without a
    // counter, at most 16, each once.
    let per_step = after.signing_suite.is_some_and(|s| !s.has_counter());
    assert!(per_step || after.signed_in_last_step.is_empty());
    assert!(after.last_signature.is_some() || after.signed_in_last_step.is_empty());
    assert!(after.signed_in_last_step.len() <= 16);
    for (i, d) in after.signed_in_last_step.iter().enumerate() {
        assert!(
            !after.signed_in_last_step[..i].contains(d),
            "a question kept twice"
        );
    }
    assert_eq!(after.pending_swap.is_some(), after.state == State::Swapping);
    // A swap holds the new secret BeginSwap fixed, until its deadline.
    if let Some(p) = after.pending_swap {
        assert_eq!(after.enrollment_deadline, Some(p.deadline));
    }
    // A token that takes codes is locked at the maximum.
    if after.state.accepts_codes() {
        assert!(
            after.failures < max,
            "{} failures, not locked",
            after.failures
        );
    }
    assert!(!after.login_otp || has, "login OTP on without a token");
    if let Some(serial) = &after.serial {
        assert!(!after.retired_serials.contains(serial));
    }
    assert!(
        after.retired_serials.starts_with(&before.retired_serials),
        "a retired serial came back"
    );
}

/// Single use per token id, and token ids that never come back.
fn tokens(world: &mut World, before: &RecordSummary, after: &RecordSummary) {
    if let Some(old) = before.token_id {
        if after.token_id != Some(old) {
            world.gone.insert(old);
        }
    }
    if let Some(id) = after.token_id {
        assert!(!world.gone.contains(&id), "token {id} came back");
        if let Some(mark) = after.last_signature {
            if let Some(last) = world.last_signatures.insert(id, mark) {
                assert!(
                    mark >= last,
                    "last signature of {id} went back from {last} to {mark}"
                );
            }
        } else {
            assert!(
                !world.last_signatures.contains_key(&id),
                "last signature of {id} forgotten"
            );
        }
        if before.token_id != Some(id) {
            assert!(world.seen.insert(id), "token id {id} reused");
        }
        let step = after.last_step.expect("a token without its step");
        if let Some(last) = world.last_steps.insert(id, step) {
            assert!(
                step >= last,
                "last step of {id} went back from {last} to {step}"
            );
        }
    }
}

/// The audit records one call committed.
#[allow(clippy::too_many_arguments)]
fn audited(
    audit: &[AuditRecord],
    customer: &CustomerId,
    by: &Principal,
    kind: EventKind,
    now: u64,
    timed_out: bool,
    locked_out: bool,
    effective: &RecordSummary,
    after: &RecordSummary,
    accepted: bool,
    digest: Option<[u8; 32]>,
    traces: &[String],
) {
    assert!(!audit.is_empty(), "a call left no audit record");
    let expected = 1 + usize::from(timed_out) + usize::from(locked_out);
    assert_eq!(audit.len(), expected, "audit records: {audit:#?}");
    let own: Vec<&AuditRecord> = audit
        .iter()
        .filter(|a| a.principal == *by && a.event == kind)
        .collect();
    assert_eq!(
        own.len(),
        1,
        "not exactly one record for the call: {audit:#?}"
    );
    let mine = own[0];
    assert_eq!(mine.from, effective.state);
    assert_eq!(mine.token, effective.token_id);
    assert_eq!(mine.serial, effective.serial);
    assert_eq!(mine.outcome == Outcome::Accepted, accepted);
    assert_eq!(mine.transaction, digest, "audited with another transaction");
    assert!(
        audit
            .iter()
            .filter(|a| !std::ptr::eq(*a, mine))
            .all(|a| a.transaction.is_none()),
        "a transaction's digest on another event's record"
    );
    if timed_out {
        let first = &audit[0];
        assert_eq!(
            (first.principal.clone(), first.event, first.from, first.to),
            (
                Principal::System,
                EventKind::SwapTimeout,
                State::Swapping,
                State::Active
            )
        );
    }
    if locked_out {
        let last = &audit[audit.len() - 1];
        assert_eq!(
            (last.principal.clone(), last.event, last.outcome),
            (
                Principal::System,
                EventKind::Suspend(SuspendReason::TooManyFailures),
                Outcome::Accepted
            )
        );
    }
    assert_eq!(audit[audit.len() - 1].version, after.version);
    for a in audit {
        assert_eq!(&a.customer, customer);
        assert_eq!(a.time, now);
        match (&a.outcome, &a.reason) {
            (Outcome::Accepted, AuditReason::Applied { guard, effect }) => {
                let row = lookup(a.from, a.event, a.principal.actor())
                    .unwrap_or_else(|| panic!("audited as accepted without a row: {a}"));
                assert_eq!((row.to, row.guard, row.effect), (a.to, *guard, *effect));
            }
            (Outcome::Accepted, AuditReason::LoginOtpOff) => {
                assert_eq!((a.event, a.from), (EventKind::VerifyLogin, a.to));
            }
            (Outcome::Refused, _) => assert_eq!(a.from, a.to, "a refusal moved: {a}"),
            _ => panic!("an accepted record with a refusal's reason: {a}"),
        }
        let text = format!("{a} {a:?}").to_ascii_lowercase();
        for trace in traces {
            assert!(
                !text.contains(trace.as_str()),
                "audit record contains a secret"
            );
        }
    }
}
