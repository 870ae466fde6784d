//! Shared fixtures for the lifecycle tests: a bank (lifecycle on in-memory
//! defaults with a fixed clock) and phones that show codes.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects
)]

use std::sync::Arc;

use otpguard::lifecycle::{
    Actor, Applied, AuditRecord, Event, Lifecycle, LifecycleConfig, LifecycleError, State,
    SuspendReason, TokenRecord, TokenSerial, VecSink,
};
use otpguard::replay::MemoryGuard;
use otpguard::{Clock, FixedClock, Secret, Totp};

/// 2023-11-14T22:13:20Z: any time well after T0.
pub const START: u64 = 1_700_000_000;

/// A phone with the bank's app: a serial and a secret, and the codes it
/// shows.
#[derive(Clone)]
pub struct Phone {
    pub serial: TokenSerial,
    secret: Secret,
}

impl Phone {
    pub fn new(serial: &str, seed: u8) -> Self {
        Self {
            serial: TokenSerial::new(serial).unwrap(),
            secret: Secret::from_bytes(&[seed; 20]).unwrap(),
        }
    }

    /// The code the app shows at `now`.
    pub fn code(&self, now: u64) -> String {
        Totp::builder(&self.secret)
            .build()
            .unwrap()
            .generate(now)
            .unwrap()
            .to_string()
    }

    /// A code the app does not show at `now` (nor one step either side).
    pub fn wrong_code(&self, now: u64) -> String {
        let totp = Totp::builder(&self.secret).build().unwrap();
        let near: Vec<u32> = [now.saturating_sub(30), now, now + 30]
            .iter()
            .map(|&t| totp.generate(t).unwrap().value())
            .collect();
        let wrong = (0u32..).find(|v| !near.contains(v)).unwrap();
        format!("{wrong:06}")
    }

    /// A copy of the secret, as the bank provisioned it.
    pub fn secret(&self) -> Secret {
        self.secret.clone()
    }
}

pub type Engine = Lifecycle<Arc<MemoryGuard>, Arc<FixedClock>, Arc<VecSink>>;

/// The bank's backend: one lifecycle on in-memory defaults and a clock the
/// test moves.
pub struct Bank {
    pub clock: Arc<FixedClock>,
    pub guard: Arc<MemoryGuard>,
    pub audit: Arc<VecSink>,
    pub lc: Engine,
}

impl Bank {
    pub fn new() -> Self {
        Self::with_config(LifecycleConfig::default())
    }

    pub fn with_config(config: LifecycleConfig) -> Self {
        let clock = Arc::new(FixedClock::new(START));
        let guard = Arc::new(MemoryGuard::default());
        let audit = Arc::new(VecSink::default());
        let lc = Lifecycle::new(config, guard.clone(), clock.clone(), audit.clone());
        Self {
            clock,
            guard,
            audit,
            lc,
        }
    }

    /// Another lifecycle sharing this bank's guard, clock and audit log but
    /// with other settings (a configuration change between deployments).
    pub fn reconfigured(&self, config: LifecycleConfig) -> Engine {
        Lifecycle::new(
            config,
            self.guard.clone(),
            self.clock.clone(),
            self.audit.clone(),
        )
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Moves to the next 30-second step, so the phone shows a fresh code.
    pub fn tick(&self) {
        self.clock.advance(30);
    }

    pub fn audit_log(&self) -> Vec<AuditRecord> {
        self.audit.records()
    }

    pub fn register(
        &self,
        record: &mut TokenRecord,
        phone: &Phone,
    ) -> Result<Applied, LifecycleError> {
        let code = phone.code(self.now());
        self.lc.apply(
            record,
            Actor::Customer,
            Event::Register {
                serial: phone.serial.clone(),
                secret: phone.secret(),
                code: &code,
            },
        )
    }

    pub fn complete_swap(
        &self,
        record: &mut TokenRecord,
        phone: &Phone,
    ) -> Result<Applied, LifecycleError> {
        let code = phone.code(self.now());
        self.lc.apply(
            record,
            Actor::Customer,
            Event::CompleteSwap {
                serial: phone.serial.clone(),
                secret: phone.secret(),
                code: &code,
            },
        )
    }

    pub fn transfer(&self, record: &mut TokenRecord, phone: &Phone) -> Result<(), LifecycleError> {
        self.lc
            .verify_transaction(record, &phone.code(self.now()))
            .map(drop)
    }

    pub fn begin_swap(
        &self,
        record: &mut TokenRecord,
        phone: &Phone,
    ) -> Result<Applied, LifecycleError> {
        let code = phone.code(self.now());
        self.lc
            .apply(record, Actor::Customer, Event::BeginSwap { code: &code })
    }

    pub fn stop(&self, record: &mut TokenRecord, phone: &Phone) -> Result<Applied, LifecycleError> {
        let code = phone.code(self.now());
        self.lc
            .apply(record, Actor::Customer, Event::Stop { code: &code })
    }

    pub fn operator(
        &self,
        record: &mut TokenRecord,
        event: Event<'_>,
    ) -> Result<Applied, LifecycleError> {
        self.lc.apply(record, Actor::Operator, event)
    }

    /// A record brought to `state` by the lifecycle itself, with the login
    /// OTP turned on while a token is registered. Returns the current phone
    /// (the registered one, or the one last retired).
    pub fn record_in(&self, state: State) -> (TokenRecord, Phone) {
        let phone = Phone::new("SN-OLD", 1);
        let mut record = TokenRecord::new();
        if state == State::Unregistered {
            return (record, phone);
        }
        self.register(&mut record, &phone).unwrap();
        self.lc
            .apply(&mut record, Actor::Customer, Event::SetLoginOtp(true))
            .unwrap();
        self.tick();
        match state {
            State::Unregistered | State::Active => {}
            State::Swapping => {
                self.begin_swap(&mut record, &phone).unwrap();
            }
            State::Suspended(SuspendReason::TooManyFailures) => {
                for _ in 0..self.lc.config().max_failures() {
                    let wrong = phone.wrong_code(self.now());
                    let _ = self.lc.verify_transaction(&mut record, &wrong);
                }
            }
            State::Suspended(reason) => {
                self.operator(&mut record, Event::Suspend { reason })
                    .unwrap();
            }
            State::Reissued => {
                self.operator(
                    &mut record,
                    Event::Reissue {
                        reason: otpguard::lifecycle::ReissueReason::LostDevice,
                    },
                )
                .unwrap();
            }
        }
        assert_eq!(record.state(), state);
        self.tick();
        (record, phone)
    }
}
