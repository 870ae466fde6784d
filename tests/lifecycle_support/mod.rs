//! Shared fixtures for the lifecycle tests: a bank (a lifecycle over a
//! `MemoryStore`, with a fixed clock) serving one customer, and phones that
//! show codes.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::sync::Arc;

use otpguard::lifecycle::{
    audit::AuditRecord, rules::Actor, store::RecordSummary, store::TokenRecord, Applied,
    Authorized, CustomerId, Event, Label, Lifecycle, LifecycleConfig, LifecycleError, LoginCheck,
    MemoryStore, NewSecret, Principal, ReissueReason, RequestContext, State, SuspendReason, SwapTo,
    TokenSerial,
};
use otpguard::ocra::{Amount, Currency, Input, Ocra, PayeeAccount, Suite, Transaction};
use otpguard::{Clock, FixedClock, KeyUri, Secret, Totp, TotpParams};

/// The signing suite of the Japanese mode: the customer types the payee's
/// 8-digit account number into the token, which signs it with the time.
pub const SIGNING: &str = "OCRA-1:HOTP-SHA1-6:QN08-T30S";

/// The signing suite of `SIGNING`.
pub fn signing_suite() -> Suite {
    Suite::parse(SIGNING).unwrap()
}

/// A transfer of `yen` JPY to the 8-digit account `payee`.
pub fn transfer_to(payee: &str, yen: u64) -> Transaction {
    Transaction::transfer(
        Amount {
            minor_units: yen,
            currency: Currency::new("JPY").unwrap(),
        },
        PayeeAccount::new(payee).unwrap(),
    )
}

/// 2023-11-14T22:13:20Z: any time well after T0.
pub const START: u64 = 1_700_000_000;

/// The principal the tests use for `actor`.
pub fn principal(actor: Actor) -> Principal {
    match actor {
        Actor::Customer => Principal::customer(Label::new("web").unwrap()),
        Actor::Operator => Principal::operator(Label::new("op-1").unwrap()),
        Actor::System => Principal::System,
        other => panic!("no test principal for {other}"),
    }
}

/// `answer` refuses a replay: a code (or signature) for `step` when the
/// token's last accepted step (or counter) is `last_accepted`.
pub fn assert_replayed<T: std::fmt::Debug>(
    answer: Result<T, LifecycleError>,
    step: u64,
    last_accepted: u64,
) {
    match answer {
        Err(LifecycleError::Replayed {
            step: s,
            last_accepted: l,
        }) => assert_eq!((s, l), (step, last_accepted)),
        other => panic!("a replay of {step} (last accepted {last_accepted}) expected: {other:?}"),
    }
}

/// A phone with a token: a serial, a secret and the profile of the app that
/// shows its codes.
#[derive(Clone)]
pub struct Phone {
    pub serial: TokenSerial,
    secret: Secret,
    params: TotpParams,
}

impl Phone {
    /// A phone whose secret is `[seed; 20]`, on the default profile.
    pub fn new(serial: &str, seed: u8) -> Self {
        Self::with_secret(serial, Secret::from_bytes(&[seed; 20]).unwrap())
    }

    /// A phone holding `secret`, on the default profile.
    pub fn with_secret(serial: &str, secret: Secret) -> Self {
        Self {
            serial: TokenSerial::new(serial).unwrap(),
            secret,
            params: TotpParams::default(),
        }
    }

    /// A phone that scanned a provisioned Key URI.
    pub fn scan(serial: &str, uri: &KeyUri) -> Self {
        let again = KeyUri::parse(&uri.to_uri()).unwrap();
        let params = again.to_totp().unwrap().params();
        Self {
            serial: TokenSerial::new(serial).unwrap(),
            secret: again.secret().clone(),
            params,
        }
    }

    fn totp(&self) -> Totp {
        Totp::new(&self.secret, self.params)
    }

    /// The code the app shows at `now`.
    pub fn code(&self, now: u64) -> String {
        self.totp().generate(now).unwrap().to_string()
    }

    /// A code the app does not show at `now` (nor one step either side).
    pub fn wrong_code(&self, now: u64) -> String {
        let totp = self.totp();
        let near: Vec<u32> = [now.saturating_sub(30), now, now + 30]
            .iter()
            .map(|&t| totp.generate(t).unwrap().value())
            .collect();
        let wrong = (0u32..).find(|v| !near.contains(v)).unwrap();
        format!("{wrong:0width$}", width = self.params.digits() as usize)
    }

    /// The response the token shows for `transaction` under `suite` at
    /// `now` (time step only; for a suite with a counter, `counter`).
    pub fn signature(
        &self,
        suite: &Suite,
        transaction: &Transaction,
        counter: Option<u64>,
        now: u64,
    ) -> String {
        let question = transaction.question_for(suite).unwrap();
        let mut input = Input::new(&question).time(now);
        if let Some(c) = counter {
            input = input.counter(c);
        }
        Ocra::new(&self.secret, *suite)
            .generate(&input)
            .unwrap()
            .to_string()
    }

    /// A copy of the secret, as the bank or the vendor provisioned it.
    pub fn secret(&self) -> Secret {
        self.secret.clone()
    }

    /// The secret, given with a registration (a vendor's token).
    pub fn given(&self) -> NewSecret {
        NewSecret::Given(self.secret())
    }
}

pub type Engine = Lifecycle<Arc<MemoryStore>, Arc<FixedClock>>;

/// The bank's backend: one lifecycle over a `MemoryStore`, a clock the test
/// moves, and the customer the test plays.
pub struct Bank {
    pub clock: Arc<FixedClock>,
    pub store: Arc<MemoryStore>,
    pub lc: Arc<Engine>,
    pub customer: CustomerId,
    pub web: Principal,
    pub op: Principal,
    pub ctx: RequestContext,
}

impl Bank {
    pub fn new() -> Self {
        Self::with_config(LifecycleConfig::default())
    }

    pub fn with_config(config: LifecycleConfig) -> Self {
        let clock = Arc::new(FixedClock::new(START));
        let store = Arc::new(MemoryStore::new());
        let lc = Arc::new(Lifecycle::new(config, store.clone(), clock.clone()));
        Self {
            clock,
            store,
            lc,
            customer: CustomerId::new("c-1").unwrap(),
            web: principal(Actor::Customer),
            op: principal(Actor::Operator),
            ctx: RequestContext::new(),
        }
    }

    /// A bank with the default settings whose customer registered `phone`
    /// one step ago.
    pub fn with_token(phone: &Phone) -> Self {
        let bank = Self::new();
        bank.register(phone).unwrap();
        bank.tick();
        bank
    }

    /// The same bank (lifecycle, store, clock), serving another customer.
    pub fn other_customer(&self, id: &str) -> Self {
        Self {
            clock: self.clock.clone(),
            store: self.store.clone(),
            lc: self.lc.clone(),
            customer: CustomerId::new(id).unwrap(),
            web: self.web.clone(),
            op: self.op.clone(),
            ctx: self.ctx.clone(),
        }
    }

    /// Another lifecycle over this bank's store and clock, with other
    /// settings (a configuration change between deployments).
    pub fn reconfigured(&self, config: LifecycleConfig) -> Engine {
        Lifecycle::new(config, self.store.clone(), self.clock.clone())
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Moves to the next 30-second step, so the phone shows a fresh code.
    pub fn tick(&self) {
        self.clock.advance(30);
    }

    /// Every audit record committed so far (all customers).
    pub fn audit_log(&self) -> Vec<AuditRecord> {
        self.store.audit().records()
    }

    pub fn audit_len(&self) -> usize {
        self.store.audit().len()
    }

    /// The customer's committed record, if any.
    pub fn snapshot(&self) -> Option<TokenRecord> {
        self.store.snapshot(&self.customer)
    }

    /// The customer's committed record, or the record a new customer starts
    /// from.
    pub fn record(&self) -> TokenRecord {
        self.snapshot().unwrap_or_default()
    }

    pub fn summary(&self) -> RecordSummary {
        self.record().summary()
    }

    pub fn state(&self) -> State {
        self.record().state()
    }

    pub fn submit(&self, by: &Principal, event: Event) -> Result<Applied, LifecycleError> {
        self.lc
            .blocking()
            .submit(&self.customer, by, event, &self.ctx)
    }

    /// An event the customer causes through internet banking.
    pub fn customer_event(&self, event: Event) -> Result<Applied, LifecycleError> {
        self.submit(&self.web, event)
    }

    /// An event a bank operator causes.
    pub fn operator(&self, event: Event) -> Result<Applied, LifecycleError> {
        self.submit(&self.op, event)
    }

    /// An event the backend's own jobs cause.
    pub fn system(&self, event: Event) -> Result<Applied, LifecycleError> {
        self.submit(&Principal::System, event)
    }

    pub fn provision(&self, account: &str) -> Result<KeyUri, LifecycleError> {
        self.lc
            .blocking()
            .provision(&self.customer, &self.web, account, &self.ctx)
    }

    /// Registers `phone` with its own (vendor-provisioned) secret.
    pub fn register(&self, phone: &Phone) -> Result<Applied, LifecycleError> {
        self.customer_event(Event::Register {
            serial: phone.serial.clone(),
            secret: phone.given(),
            code: phone.code(self.now()).as_str().into(),
        })
    }

    /// Registers `phone`, which scanned the pending provisioned secret.
    pub fn register_provisioned(&self, phone: &Phone) -> Result<Applied, LifecycleError> {
        self.customer_event(Event::Register {
            serial: phone.serial.clone(),
            secret: NewSecret::Provisioned,
            code: phone.code(self.now()).as_str().into(),
        })
    }

    pub fn verify(&self, code: &str) -> Result<Authorized, LifecycleError> {
        self.lc
            .blocking()
            .verify_transaction(&self.customer, &self.web, code, &self.ctx)
    }

    /// A transfer authorised with the code `phone` shows now.
    pub fn transfer(&self, phone: &Phone) -> Result<Authorized, LifecycleError> {
        self.verify(&phone.code(self.now()))
    }

    /// A transfer that must be accepted: its proof names the committed
    /// record's token, step and version.
    pub fn transfer_ok(&self, phone: &Phone) {
        let proof = self
            .transfer(phone)
            .unwrap_or_else(|e| panic!("transfer with {}: {e}", phone.serial));
        let record = self.record();
        assert_eq!(Some(proof.token()), record.token_id());
        assert_eq!(Some(proof.claimed().value()), record.last_step());
        assert_eq!(Some(proof.drift()), record.last_drift());
        assert_eq!(proof.version(), record.version());
    }

    pub fn login(&self, code: Option<&str>) -> Result<LoginCheck, LifecycleError> {
        self.lc
            .blocking()
            .login(&self.customer, &self.web, code, &self.ctx)
    }

    /// Begins a swap from `old` to `new`, whose own secret the swap fixes.
    pub fn begin_swap(&self, old: &Phone, new: &Phone) -> Result<Applied, LifecycleError> {
        self.customer_event(Event::BeginSwap {
            code: old.code(self.now()).as_str().into(),
            to: SwapTo::Given(new.secret.clone()),
        })
    }

    /// Begins a swap from `old` to a secret the lifecycle generates; the
    /// new phone with serial `serial` scans its Key URI.
    pub fn begin_swap_generated(&self, old: &Phone, serial: &str) -> Result<Phone, LifecycleError> {
        let applied = self.customer_event(Event::BeginSwap {
            code: old.code(self.now()).as_str().into(),
            to: SwapTo::Generated {
                account: "alice".into(),
            },
        })?;
        let uri = applied
            .key_uri
            .as_ref()
            .expect("a generated swap's Key URI");
        Ok(Phone::scan(serial, uri))
    }

    /// Completes the pending swap with `phone`'s serial and code.
    pub fn complete_swap(&self, phone: &Phone) -> Result<Applied, LifecycleError> {
        self.customer_event(Event::CompleteSwap {
            serial: phone.serial.clone(),
            code: phone.code(self.now()).as_str().into(),
        })
    }

    /// Turns the login OTP on or off with `phone`'s code.
    pub fn set_login_otp(&self, phone: &Phone, on: bool) -> Result<Applied, LifecycleError> {
        self.customer_event(Event::SetLoginOtp {
            on,
            code: phone.code(self.now()).as_str().into(),
        })
    }

    /// Cancels the pending swap with `phone`'s code.
    pub fn cancel_swap(&self, phone: &Phone) -> Result<Applied, LifecycleError> {
        self.customer_event(Event::CancelSwap {
            code: phone.code(self.now()).as_str().into(),
        })
    }

    pub fn stop(&self, phone: &Phone) -> Result<Applied, LifecycleError> {
        self.customer_event(Event::Stop {
            code: phone.code(self.now()).as_str().into(),
        })
    }

    /// Brings the customer to `state` through the lifecycle itself, with the
    /// login OTP turned on while a token is registered, and moves on one
    /// step. Returns the current phone (the registered one, or the one last
    /// retired).
    pub fn record_in(&self, state: State) -> Phone {
        let phone = Phone::new("SN-OLD", 1);
        if state == State::Unregistered {
            return phone;
        }
        self.register(&phone).unwrap();
        self.tick();
        self.set_login_otp(&phone, true).unwrap();
        self.tick();
        match state {
            State::Unregistered | State::Active => {}
            State::Swapping => {
                self.begin_swap(&phone, &Phone::new("SN-NEXT", 2)).unwrap();
            }
            State::Suspended(SuspendReason::TooManyFailures) => {
                for _ in 0..self.lc.config().max_failures() {
                    let wrong = phone.wrong_code(self.now());
                    assert!(self.verify(&wrong).is_err());
                }
            }
            State::Suspended(reason) => {
                self.operator(Event::Suspend { reason }).unwrap();
            }
            State::Reissued => {
                self.operator(Event::Reissue {
                    reason: ReissueReason::LostDevice,
                })
                .unwrap();
            }
            other => panic!("no way to bring a record to {other}"),
        }
        assert_eq!(self.state(), state);
        self.tick();
        phone
    }
}
