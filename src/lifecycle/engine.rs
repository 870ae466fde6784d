//! The engine: applies the transition table to a record, checks guards,
//! counts wrong codes and writes audit records.

use std::borrow::Cow;

use super::audit::{AuditReason, AuditRecord, AuditSink, Outcome};
use super::record::{PendingSwap, Token, TokenRecord};
use super::table::{lookup, never_reason, Effect, Guard, Transition};
use super::TokenSerial;
use super::{Actor, Event, EventKind, LifecycleConfig, LifecycleError, State, SuspendReason};
use crate::replay::ReplayGuard;
use crate::{Accepted, Clock, Totp, VerifyError};

/// What an accepted event did.
///
/// ```
/// # use otpguard::lifecycle::*;
/// # use otpguard::{FixedClock, replay::MemoryGuard};
/// let lc = Lifecycle::new(LifecycleConfig::default(), MemoryGuard::default(), FixedClock::new(0), VecSink::default());
/// let mut record = TokenRecord::new();
/// // Nothing to cancel: refused, and nothing changed.
/// assert!(lc.apply(&mut record, Actor::Customer, Event::CancelSwap).is_err());
/// assert_eq!(record.version(), 0);
/// ```
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Applied {
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// The record's version after (one more than before).
    pub version: u64,
    /// The proof of the accepted code, for events checked by a code.
    pub accepted: Option<Accepted>,
}

/// The answer to a login.
///
/// ```
/// use otpguard::lifecycle::LoginCheck;
/// assert!(matches!(LoginCheck::NotRequired, LoginCheck::NotRequired));
/// ```
#[derive(Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoginCheck {
    /// The customer turned the login OTP off: no code is asked.
    NotRequired,
    /// The login OTP is on and the code was accepted.
    Verified(Accepted),
}

/// The token lifecycle: applies [`TABLE`](super::TABLE) to
/// [`TokenRecord`]s, checks codes through a replay guard, and sends an
/// [`AuditRecord`] per event to a sink.
///
/// It holds no per-customer state: the backend loads a record, calls one
/// method, and saves the record (compare-and-swap on its version) if the
/// call accepted the event or [`LifecycleError::record_changed`]. If that
/// save loses the compare-and-swap, reload and apply again: a code already
/// claimed in the replay guard is then refused as a replay, so a race fails
/// closed.
///
/// ```
/// use otpguard::lifecycle::{Actor, Event, Lifecycle, LifecycleConfig, State, TokenRecord, TokenSerial, VecSink};
/// use otpguard::replay::MemoryGuard;
/// use otpguard::{FixedClock, Secret, Totp};
///
/// let clock = FixedClock::new(1_700_000_000);
/// let lc = Lifecycle::new(LifecycleConfig::default(), MemoryGuard::default(), &clock, VecSink::default());
/// let mut record = TokenRecord::new();
///
/// // The phone and the bank share this secret; the phone shows codes.
/// let secret = Secret::from_bytes(&[42u8; 20])?;
/// let phone = Totp::builder(&secret).build()?;
/// let shown = phone.generate(1_700_000_000)?.to_string();
///
/// lc.apply(&mut record, Actor::Customer, Event::Register {
///     serial: TokenSerial::new("SN-1")?,
///     secret,
///     code: &shown,
/// })?;
/// assert_eq!(record.state(), State::Active);
///
/// clock.advance(30);
/// let next = phone.generate(1_700_000_030)?.to_string();
/// let accepted = lc.verify_transaction(&mut record, &next)?;
/// assert_eq!(accepted.offset(), 0);
/// assert_eq!(lc.audit_sink().take().len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Lifecycle<G, C, A> {
    config: LifecycleConfig,
    guard: G,
    clock: C,
    audit: A,
}

/// A refusal, before it is audited: a counted wrong code is audited before
/// the lock-out it may cause.
enum Refusal {
    Counted { failures: u32, source: VerifyError },
    Other(LifecycleError),
}

impl From<LifecycleError> for Refusal {
    fn from(e: LifecycleError) -> Self {
        Self::Other(e)
    }
}

/// The data an event carries, taken apart once its row is known.
struct Parts<'a> {
    code: Option<&'a str>,
    new_token: Option<Token>,
    login_otp: Option<bool>,
}

impl<'a> Parts<'a> {
    fn of(event: Event<'a>) -> Self {
        let mut parts = Parts {
            code: None,
            new_token: None,
            login_otp: None,
        };
        match event {
            Event::Register {
                serial,
                secret,
                code,
            }
            | Event::CompleteSwap {
                serial,
                secret,
                code,
            } => {
                parts.code = Some(code);
                parts.new_token = Some(Token::new(serial, secret));
            }
            Event::BeginSwap { code }
            | Event::Stop { code }
            | Event::VerifyTransaction { code }
            | Event::VerifyLogin { code } => parts.code = Some(code),
            Event::SetLoginOtp(on) => parts.login_otp = Some(on),
            Event::CancelSwap
            | Event::SwapTimeout
            | Event::Suspend { .. }
            | Event::Resume
            | Event::Reissue { .. } => {}
        }
        parts
    }
}

/// The suspension the system applies at the lock-out maximum.
const LOCKOUT: SuspendReason = SuspendReason::TooManyFailures;

const MISSING_DATA: LifecycleError =
    LifecycleError::Corrupt("the event lacks data its guard needs");
const NO_TOKEN: LifecycleError =
    LifecycleError::Corrupt("the state needs a token the record lacks");
const NOT_KEYED: LifecycleError = LifecycleError::Corrupt("the token was not keyed");
const NO_PENDING: LifecycleError = LifecycleError::Corrupt("Swapping without a pending swap");

impl<G: ReplayGuard, C: Clock, A: AuditSink> Lifecycle<G, C, A> {
    /// A lifecycle with its settings, replay guard, clock and audit sink.
    /// Pass references (`&guard`, `&clock`, `&sink`) to keep using them.
    ///
    /// ```
    /// use otpguard::lifecycle::{Lifecycle, LifecycleConfig, VecSink};
    /// use otpguard::{replay::MemoryGuard, SystemClock};
    /// let lc = Lifecycle::new(LifecycleConfig::default(), MemoryGuard::default(), SystemClock, VecSink::default());
    /// assert_eq!(lc.config().max_failures(), 5);
    /// ```
    pub const fn new(config: LifecycleConfig, guard: G, clock: C, audit: A) -> Self {
        Self {
            config,
            guard,
            clock,
            audit,
        }
    }

    /// The settings.
    ///
    /// ```
    /// # use otpguard::lifecycle::{Lifecycle, LifecycleConfig, VecSink};
    /// # use otpguard::{replay::MemoryGuard, SystemClock};
    /// # let lc = Lifecycle::new(LifecycleConfig::default(), MemoryGuard::default(), SystemClock, VecSink::default());
    /// assert_eq!(lc.config().swap_timeout(), 600);
    /// ```
    pub const fn config(&self) -> &LifecycleConfig {
        &self.config
    }

    /// The audit sink (to read a [`VecSink`](super::VecSink), say).
    ///
    /// ```
    /// # use otpguard::lifecycle::{Lifecycle, LifecycleConfig, VecSink};
    /// # use otpguard::{replay::MemoryGuard, SystemClock};
    /// # let lc = Lifecycle::new(LifecycleConfig::default(), MemoryGuard::default(), SystemClock, VecSink::default());
    /// assert!(lc.audit_sink().take().is_empty());
    /// ```
    pub const fn audit_sink(&self) -> &A {
        &self.audit
    }

    /// Applies `event`, caused by `actor`, to `record`, as the transition
    /// table says, and audits it.
    ///
    /// On success the record is in the row's target state with its version
    /// one higher. On refusal it is unchanged, except after a wrong code of
    /// the current token: that is counted (failures and version up), and at
    /// the configured maximum the system suspends the token
    /// (`Suspend(TooManyFailures)`, a row of the table, audited on its own).
    ///
    /// # Errors
    /// [`LifecycleError::NotPermitted`] if the table has no row for the
    /// record's state, the event's kind and `actor`; otherwise the
    /// [`LifecycleError`] of the guard that failed (see each variant).
    ///
    /// ```
    /// # use otpguard::lifecycle::*;
    /// # use otpguard::{FixedClock, replay::MemoryGuard};
    /// let lc = Lifecycle::new(LifecycleConfig::default(), MemoryGuard::default(), FixedClock::new(0), VecSink::default());
    /// let mut record = TokenRecord::new();
    /// let err = lc.apply(&mut record, Actor::Operator, Event::Resume).unwrap_err();
    /// assert!(matches!(err, LifecycleError::NotPermitted { state: State::Unregistered, .. }));
    /// ```
    pub fn apply(
        &self,
        record: &mut TokenRecord,
        actor: Actor,
        event: Event<'_>,
    ) -> Result<Applied, LifecycleError> {
        let now = self.clock.now();
        let kind = event.kind();
        let from = record.state;
        let serial = record.serial().cloned();
        let new_serial = event.new_serial().cloned();
        // Called once, on whichever path the event takes: it takes the
        // serials instead of cloning them again.
        let audit = move |record: &TokenRecord, outcome: Outcome, reason: AuditReason| {
            self.audit.record(&AuditRecord {
                time: now,
                serial,
                new_serial,
                actor,
                event: kind,
                from,
                to: record.state,
                outcome,
                reason,
                version: record.version,
            });
        };
        match self.run(record, actor, event, now) {
            Ok((row, applied)) => {
                let reason = AuditReason::Applied {
                    guard: row.guard,
                    effect: row.effect,
                };
                audit(record, Outcome::Accepted, reason);
                Ok(applied)
            }
            Err(Refusal::Other(e)) => {
                let reason = AuditReason::Refused(Cow::Owned(e.to_string()));
                audit(record, Outcome::Refused, reason);
                Err(e)
            }
            Err(Refusal::Counted { failures, source }) => {
                let max = self.config.max_failures();
                audit(
                    record,
                    Outcome::Refused,
                    AuditReason::WrongCode { failures, max },
                );
                let locked_out = failures >= max
                    && self
                        .apply(record, Actor::System, Event::Suspend { reason: LOCKOUT })
                        .is_ok();
                Err(LifecycleError::WrongCode {
                    failures,
                    max,
                    locked_out,
                    source,
                })
            }
        }
    }

    /// A code authorising a transaction: `VerifyTransaction` by the
    /// customer. Accepted only in `Active` and `Swapping` (the old token's
    /// code, until the new one is registered).
    ///
    /// # Errors
    /// As [`Lifecycle::apply`]: [`LifecycleError::NotPermitted`] naming the
    /// state in any other state; [`LifecycleError::WrongCode`] for a wrong
    /// code (counted); [`LifecycleError::Unverifiable`] if the replay store
    /// failed.
    ///
    /// ```
    /// # use otpguard::lifecycle::*;
    /// # use otpguard::{FixedClock, replay::MemoryGuard};
    /// let lc = Lifecycle::new(LifecycleConfig::default(), MemoryGuard::default(), FixedClock::new(0), VecSink::default());
    /// let err = lc.verify_transaction(&mut TokenRecord::new(), "123456").unwrap_err();
    /// assert!(matches!(err, LifecycleError::NotPermitted { state: State::Unregistered, .. }));
    /// ```
    pub fn verify_transaction(
        &self,
        record: &mut TokenRecord,
        code: &str,
    ) -> Result<Accepted, LifecycleError> {
        self.apply(record, Actor::Customer, Event::VerifyTransaction { code })?
            .accepted
            .ok_or(MISSING_DATA)
    }

    /// A login. If the customer turned the login OTP off, no code is asked
    /// and the answer is [`LoginCheck::NotRequired`] (audited, record
    /// unchanged); otherwise `code` is checked as `VerifyLogin` by the
    /// customer. Ask [`TokenRecord::login_otp`] first to know whether to
    /// show the code prompt.
    ///
    /// # Errors
    /// [`LifecycleError::CodeRequired`] if the login OTP is on and `code`
    /// is `None`; otherwise as [`Lifecycle::verify_transaction`].
    ///
    /// ```
    /// # use otpguard::lifecycle::*;
    /// # use otpguard::{FixedClock, replay::MemoryGuard};
    /// let lc = Lifecycle::new(LifecycleConfig::default(), MemoryGuard::default(), FixedClock::new(0), VecSink::default());
    /// assert_eq!(lc.login(&mut TokenRecord::new(), None)?, LoginCheck::NotRequired);
    /// # Ok::<(), LifecycleError>(())
    /// ```
    pub fn login(
        &self,
        record: &mut TokenRecord,
        code: Option<&str>,
    ) -> Result<LoginCheck, LifecycleError> {
        let answer = match (record.login_otp, code) {
            (false, _) => Ok(LoginCheck::NotRequired),
            (true, None) => Err(LifecycleError::CodeRequired),
            (true, Some(code)) => {
                return self
                    .apply(record, Actor::Customer, Event::VerifyLogin { code })?
                    .accepted
                    .map(LoginCheck::Verified)
                    .ok_or(MISSING_DATA);
            }
        };
        let (outcome, reason) = match &answer {
            Ok(_) => (Outcome::Accepted, AuditReason::LoginOtpOff),
            Err(e) => (
                Outcome::Refused,
                AuditReason::Refused(Cow::Owned(e.to_string())),
            ),
        };
        self.audit.record(&AuditRecord {
            time: self.clock.now(),
            serial: record.serial().cloned(),
            new_serial: None,
            actor: Actor::Customer,
            event: EventKind::VerifyLogin,
            from: record.state,
            to: record.state,
            outcome,
            reason,
            version: record.version,
        });
        answer
    }

    /// Finds the row, checks every guard (the code last), then changes the
    /// record. Nothing is written to the record before all guards passed,
    /// except the designed count of a wrong code.
    fn run(
        &self,
        record: &mut TokenRecord,
        actor: Actor,
        event: Event<'_>,
        now: u64,
    ) -> Result<(&'static Transition, Applied), Refusal> {
        let kind = event.kind();
        let row = lookup(record.state, kind, actor).ok_or(LifecycleError::NotPermitted {
            state: record.state,
            event: kind,
            actor,
            rule: never_reason(record.state, kind),
        })?;
        let version = record
            .version
            .checked_add(1)
            .ok_or(LifecycleError::VersionExhausted)?;
        if row.from.has_token() && record.token.is_none() {
            return Err(NO_TOKEN.into());
        }
        let mut parts = Parts::of(event);

        match row.guard {
            Guard::None | Guard::CurrentCode => {}
            Guard::LoginCode => {
                if !record.login_otp {
                    return Err(LifecycleError::LoginOtpOff.into());
                }
            }
            Guard::NewTokenCode => {
                let new = parts.new_token.as_ref().ok_or(MISSING_DATA)?;
                if record.is_retired(&new.serial) {
                    return Err(retired(&new.serial).into());
                }
            }
            Guard::NewTokenCodeBeforeDeadline => {
                let pending = record.pending.ok_or(NO_PENDING)?;
                if now >= pending.deadline {
                    return Err(LifecycleError::SwapExpired {
                        deadline: pending.deadline,
                        now,
                    }
                    .into());
                }
                let new = parts.new_token.as_ref().ok_or(MISSING_DATA)?;
                if record.serial() == Some(&new.serial) {
                    return Err(LifecycleError::SameSerial.into());
                }
                if record.is_retired(&new.serial) {
                    return Err(retired(&new.serial).into());
                }
            }
            Guard::DeadlinePassed => {
                let pending = record.pending.ok_or(NO_PENDING)?;
                if now < pending.deadline {
                    return Err(LifecycleError::SwapNotExpired {
                        deadline: pending.deadline,
                        now,
                    }
                    .into());
                }
            }
            Guard::FailuresAtMax => {
                let max = self.config.max_failures();
                if record.failures < max {
                    return Err(LifecycleError::BelowMaxFailures {
                        failures: record.failures,
                        max,
                    }
                    .into());
                }
            }
        }

        // The code is checked last: a refusal for any other reason must not
        // spend it in the replay guard.
        let accepted = match row.guard {
            Guard::CurrentCode | Guard::LoginCode => {
                let code = parts.code.ok_or(MISSING_DATA)?;
                Some(self.check_current(record, code, now, version)?)
            }
            Guard::NewTokenCode | Guard::NewTokenCodeBeforeDeadline => {
                let code = parts.code.ok_or(MISSING_DATA)?;
                let new = parts.new_token.as_mut().ok_or(MISSING_DATA)?;
                Some(self.check_new(new, code, now)?)
            }
            Guard::None | Guard::DeadlinePassed | Guard::FailuresAtMax => None,
        };

        // Every guard passed. The effects that rest on a code take its proof,
        // an `Accepted` that only `Match::claim` can build, so no such effect
        // can run on an unchecked code; proof and new token are taken before
        // anything is written.
        match row.effect {
            Effect::InstallToken => {
                let proof = accepted.as_ref().ok_or(MISSING_DATA)?;
                let token = parts.new_token.ok_or(MISSING_DATA)?;
                install(record, token, proof);
            }
            Effect::SwapIn => {
                let proof = accepted.as_ref().ok_or(MISSING_DATA)?;
                let token = parts.new_token.ok_or(MISSING_DATA)?;
                retire(record);
                install(record, token, proof);
            }
            Effect::RecordUse => record_use(record, accepted.as_ref().ok_or(MISSING_DATA)?),
            Effect::StartSwap => {
                record_use(record, accepted.as_ref().ok_or(MISSING_DATA)?);
                record.pending = Some(PendingSwap {
                    started_at: now,
                    deadline: now.saturating_add(self.config.swap_timeout()),
                });
            }
            Effect::SetLoginOtp => {
                record.login_otp = parts.login_otp.ok_or(MISSING_DATA)?;
            }
            Effect::EndSwap | Effect::Suspend => record.pending = None,
            Effect::Resume => record.failures = 0,
            Effect::RetireToken => {
                retire(record);
                record.login_otp = false;
                record.failures = 0;
                record.last_drift = None;
            }
        }
        record.state = row.to;
        record.version = version;
        Ok((
            row,
            Applied {
                from: row.from,
                to: row.to,
                version,
                accepted,
            },
        ))
    }

    /// Checks a code of the record's current token and claims it in the
    /// replay guard under the token's serial. A wrong code is counted here:
    /// the one change a refused event makes.
    fn check_current(
        &self,
        record: &mut TokenRecord,
        code: &str,
        now: u64,
        version: u64,
    ) -> Result<Accepted, Refusal> {
        let token = record.token.as_mut().ok_or(NO_TOKEN)?;
        match self.verify(token, code, now)? {
            Ok(accepted) => Ok(accepted),
            Err(source) if source.is_wrong_code() => {
                let max = self.config.max_failures();
                let failures = record.failures.saturating_add(1).min(max);
                record.failures = failures;
                record.version = version;
                Err(Refusal::Counted { failures, source })
            }
            Err(source) => Err(LifecycleError::Unverifiable { source }.into()),
        }
    }

    /// Checks a new token's code and claims it under the new serial.
    fn check_new(&self, new: &mut Token, code: &str, now: u64) -> Result<Accepted, Refusal> {
        match self.verify(new, code, now)? {
            Ok(accepted) => Ok(accepted),
            Err(source) if source.is_wrong_code() => {
                Err(LifecycleError::NewTokenCode { source }.into())
            }
            Err(source) => Err(LifecycleError::Unverifiable { source }.into()),
        }
    }

    /// The one place a code is verified: window match, then the replay
    /// claim that alone makes an [`Accepted`].
    fn verify(
        &self,
        token: &mut Token,
        code: &str,
        now: u64,
    ) -> Result<Result<Accepted, VerifyError>, LifecycleError> {
        self.key(token)?;
        let totp = token.keyed.as_ref().ok_or(NOT_KEYED)?;
        Ok(totp
            .verify(code, now, self.config.window())
            .and_then(|m| m.claim(&self.guard, token.serial.as_str())))
    }

    /// The token's secret keyed with this lifecycle's TOTP parameters. The
    /// token keeps the keyed [`Totp`] it was last verified with; it is used
    /// only if its algorithm, digits, period and T0 are this lifecycle's
    /// (a record may be loaded by lifecycles with other settings, or come
    /// from storage without a key), and is rebuilt from the secret
    /// otherwise, so a code is never checked with other parameters.
    fn key(&self, token: &mut Token) -> Result<(), LifecycleError> {
        let c = &self.config;
        let fits = |t: &Totp| {
            t.algorithm() == c.algorithm()
                && t.digits() == c.digits()
                && t.period() == c.period()
                && t.t0() == c.t0()
        };
        if !token.keyed.as_ref().is_some_and(fits) {
            // Dropping the stale one wipes its keyed state.
            token.keyed = Some(
                Totp::builder(&token.secret)
                    .algorithm(c.algorithm())
                    .digits(c.digits())
                    .period(c.period())
                    .t0(c.t0())
                    .build()
                    .map_err(|_| LifecycleError::Corrupt("TOTP settings rejected"))?,
            );
        }
        Ok(())
    }
}

/// Makes `token` the current one; `proof` is its first accepted code.
fn install(record: &mut TokenRecord, token: Token, proof: &Accepted) {
    record.token = Some(token);
    record.pending = None;
    record_use(record, proof);
}

/// A code of the current token was accepted: the failure streak ends.
fn record_use(record: &mut TokenRecord, proof: &Accepted) {
    record.failures = 0;
    record.last_drift = Some(proof.offset());
}

fn retired(serial: &TokenSerial) -> LifecycleError {
    LifecycleError::SerialRetired {
        serial: serial.clone(),
    }
}

/// Drops the current token (its secret is wiped on drop) and remembers its
/// serial so that it can never be registered here again.
fn retire(record: &mut TokenRecord) {
    if let Some(old) = record.token.take() {
        record.retired.push(old.serial.clone());
    }
    record.pending = None;
}
