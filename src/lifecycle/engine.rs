//! The engine: one call per event. It loads the record, decides
//! (`decide.rs`), checks the code, applies the row (`effect.rs`), and
//! commits the new record with the event's audit records in one atomic
//! store operation, deciding again on a conflict.

use std::borrow::Cow;
use std::sync::Arc;

use super::answer::{Applied, Authorized, LoginCheck};
use super::audit::{AuditReason, AuditRecord, DriftChange, Notice, Outcome};
use super::decide::{decide, Check};
use super::effect::{apply, count_failure, Evidence, Proof};
use super::error::CodeError;
use super::event::{EnteredCode, SwapTo};
use super::record::{SignedInStep, Token, TokenKey};
use super::rules::{lookup, Transition};
use super::store::{Commit, CommitOutcome, TokenStore};
use super::{
    Actor, CustomerId, DriftEstimate, Event, EventKind, LifecycleConfig, LifecycleError, Principal,
    RequestContext, State, SuspendReason, TokenId, TokenRecord, TokenSerial,
};
use crate::ocra::{Input, Suite, Transaction, VerifyWindow};
use crate::{CheckError, Clock, KeyUri, Secret, SystemClock, TotpParams};

/// The token lifecycle of every customer in one [`TokenStore`].
///
/// The backend says "this principal caused this event for this customer";
/// the lifecycle loads the customer's record, decides by the
/// [transition table](super::rules::TABLE), checks the code, and commits
/// the new record together with the event's audit records in one atomic
/// store operation. On a conflict (another request committed first) it
/// loads and decides again, up to
/// [`LifecycleConfig::max_attempts`]. The backend writes no
/// compare-and-swap loop and never saves a record.
///
/// Async first; [`Lifecycle::blocking`] serves synchronous code with the
/// same lifecycle.
///
/// ```
/// use otpguard::lifecycle::{CustomerId, Event, Label, Lifecycle, LifecycleConfig, MemoryStore, NewSecret, Principal, RequestContext, State, TokenSerial};
/// use otpguard::{Clock, FixedClock, KeyUri};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let clock = FixedClock::new(1_700_000_000);
/// let lc = Lifecycle::new(LifecycleConfig::default(), MemoryStore::new(), &clock);
/// let alice = CustomerId::new("c-1001")?;
/// let web = Principal::customer(Label::new("web")?);
/// let ctx = RequestContext::new();
///
/// // The bank provisions a secret; the phone scans the Key URI.
/// let uri = lc.blocking().provision(&alice, &web, "alice", &ctx)?;
/// let phone = KeyUri::parse(&uri.to_uri())?.to_totp()?;
///
/// // Its first code registers the token.
/// let code = phone.generate(clock.now())?.to_string();
/// lc.blocking().submit(&alice, &web, Event::Register {
///     serial: TokenSerial::new("SN-1")?,
///     secret: NewSecret::Provisioned,
///     code: code.as_str().into(),
/// }, &ctx)?;
///
/// // A later code authorises a transfer, once.
/// clock.advance(30);
/// let code = phone.generate(clock.now())?.to_string();
/// let proof = lc.blocking().verify_transaction(&alice, &web, &code, &ctx)?;
/// assert_eq!(proof.drift(), 0);
/// assert!(lc.blocking().verify_transaction(&alice, &web, &code, &ctx).is_err());
/// assert_eq!(lc.store().snapshot(&alice).map(|r| r.state()), Some(State::Active));
/// assert_eq!(lc.store().audit().len(), 4);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Lifecycle<S, C = SystemClock> {
    config: LifecycleConfig,
    store: S,
    clock: C,
}

/// What an event asks of the engine: an event of the table, or a login
/// (which asks for no code while the login OTP is off).
enum Request {
    Event(Event),
    Login(Option<EnteredCode>),
}

impl Request {
    fn kind(&self) -> EventKind {
        match self {
            Self::Event(e) => e.kind(),
            Self::Login(_) => EventKind::VerifyLogin,
        }
    }
}

/// The answer an attempt will give if its commit succeeds.
enum Answer {
    Applied {
        from: State,
        to: State,
        proof: Option<Proof>,
        key_uri: Option<Box<KeyUri>>,
    },
    LoginNotRequired,
}

/// The audit records of one attempt. Nearly every event has exactly one,
/// kept inline; a swap time-out or a lock-out adds the System's.
#[derive(Default)]
enum Audits {
    #[default]
    None,
    One([AuditRecord; 1]),
    Many(Vec<AuditRecord>),
}

impl Audits {
    fn push(&mut self, record: AuditRecord) {
        if let Self::Many(all) = self {
            all.push(record);
            return;
        }
        *self = match core::mem::take(self) {
            Self::None => Self::One([record]),
            Self::One([first]) => Self::Many(vec![first, record]),
            Self::Many(mut all) => {
                all.push(record);
                Self::Many(all)
            }
        };
    }

    fn as_slice(&self) -> &[AuditRecord] {
        match self {
            Self::None => &[],
            Self::One(one) => one,
            Self::Many(all) => all,
        }
    }
}

/// One attempt: what to commit, and what to answer once committed.
struct Attempt {
    record: Option<TokenRecord>,
    audit: Audits,
    answer: Result<Answer, LifecycleError>,
}

/// How a decided event ended, before it is audited.
enum Ending {
    Accepted {
        next: TokenRecord,
        row: &'static Transition,
        proof: Option<Proof>,
        key_uri: Option<Box<KeyUri>>,
    },
    /// A wrong code of the current token: counted.
    WrongCode(CodeError),
    /// A code for a step already accepted: audited, not counted.
    Replayed {
        step: u64,
        last_accepted: u64,
    },
    Refused(LifecycleError),
}

/// Why a code of the current token was not accepted.
enum CodeRefusal {
    Wrong(CodeError),
    Replayed { step: u64, last_accepted: u64 },
    Other(LifecycleError),
}

/// Who, for whom, and where: what every audit record of a request shares.
struct Scene<'a> {
    customer: &'a CustomerId,
    by: &'a Principal,
    ctx: &'a RequestContext,
    now: u64,
    /// The digest of the transaction a `SignTransaction` signs.
    transaction: Option<[u8; 32]>,
}

impl Scene<'_> {
    #[allow(clippy::too_many_arguments)]
    fn record(
        &self,
        by: &Principal,
        before: &TokenRecord,
        event: EventKind,
        new_serial: Option<&TokenSerial>,
        after: &TokenRecord,
        outcome: Outcome,
        reason: AuditReason,
    ) -> AuditRecord {
        AuditRecord {
            time: self.now,
            customer: self.customer.clone(),
            principal: by.clone(),
            context: self.ctx.clone(),
            token: before.token_id(),
            serial: before.serial().cloned(),
            new_serial: new_serial.cloned(),
            event,
            from: before.state(),
            to: after.state(),
            outcome,
            reason,
            version: after.version,
            drift: DriftChange::between(before, after),
            transaction: match event {
                EventKind::SignTransaction => self.transaction,
                _ => None,
            },
            notice: match outcome {
                Outcome::Accepted => Notice::of_accepted(event),
                Outcome::Refused => None,
            },
        }
    }

    fn refused(
        &self,
        record: &TokenRecord,
        event: EventKind,
        new_serial: Option<&TokenSerial>,
        reason: AuditReason,
    ) -> AuditRecord {
        self.record(
            self.by,
            record,
            event,
            new_serial,
            record,
            Outcome::Refused,
            reason,
        )
    }
}

impl<S: TokenStore, C: Clock> Lifecycle<S, C> {
    /// A lifecycle over `store`, reading the time from `clock` (pass
    /// `&clock` to keep using it).
    pub const fn new(config: LifecycleConfig, store: S, clock: C) -> Self {
        Self {
            config,
            store,
            clock,
        }
    }

    /// The settings.
    pub const fn config(&self) -> &LifecycleConfig {
        &self.config
    }

    /// The store (to read a [`MemoryStore`](super::MemoryStore)'s records
    /// or audit log, say).
    pub const fn store(&self) -> &S {
        &self.store
    }

    /// Submits `event`, caused by `by`, for `customer`, and returns once it
    /// is committed with its audit records.
    ///
    /// A refusal is committed too (its audit record, and for a wrong code
    /// the count), then returned as the error.
    ///
    /// # Errors
    /// [`LifecycleError::NotPermitted`] if the table has no row for the
    /// record's state, the event and `by`'s role; the error of the guard
    /// that failed (see each variant); [`LifecycleError::Store`] if the
    /// store failed (nothing is known to be committed);
    /// [`LifecycleError::Contended`] if every attempt lost its commit.
    pub async fn submit(
        &self,
        customer: &CustomerId,
        by: &Principal,
        event: Event,
        ctx: &RequestContext,
    ) -> Result<Applied, LifecycleError> {
        let kind = event.kind();
        let (answer, version, transaction) =
            self.run(customer, by, &Request::Event(event), ctx).await?;
        match answer {
            Answer::Applied {
                from,
                to,
                proof,
                key_uri,
            } => Ok(Applied {
                from,
                to,
                version,
                authorized: proof.map(|p| authorize(p, kind, version, transaction)),
                key_uri: key_uri.map(|uri| *uri),
            }),
            Answer::LoginNotRequired => Err(LifecycleError::Internal(
                "a login answer for an event of the table",
            )),
        }
    }

    /// A code authorising a transaction (`VerifyTransaction`). Accepted in
    /// `Active` and `Swapping` (the old token's code, until the new one is
    /// registered).
    ///
    /// # Errors
    /// As [`Lifecycle::submit`]; notably [`LifecycleError::WrongCode`]
    /// (counted), [`LifecycleError::Replayed`] (not counted) and
    /// [`LifecycleError::NotPermitted`] in a state that accepts no code.
    pub async fn verify_transaction(
        &self,
        customer: &CustomerId,
        by: &Principal,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Authorized, LifecycleError> {
        let request = Request::Event(Event::VerifyTransaction {
            code: EnteredCode::new(code),
        });
        match self.run(customer, by, &request, ctx).await? {
            (
                Answer::Applied {
                    proof: Some(proof), ..
                },
                version,
                _,
            ) => Ok(authorize(
                proof,
                EventKind::VerifyTransaction,
                version,
                None,
            )),
            _ => Err(LifecycleError::Internal(
                "an accepted code without its proof",
            )),
        }
    }

    /// An OCRA response signing `transaction` (`SignTransaction`): the
    /// response the customer's token computed over the question derived
    /// from the transaction with the token's signing suite
    /// ([`Transaction::question_for`]: the payee's account number the
    /// customer typed into the token, or the transaction's digest).
    /// Accepted in `Active` and `Swapping`, only for this transaction,
    /// within [`LifecycleConfig::signature_validity`], once. The proof's
    /// [`Authorized::transaction`] is the transaction's digest, as in the
    /// audit record: execute exactly the transaction whose digest it
    /// carries.
    ///
    /// ```
    /// use otpguard::lifecycle::{CustomerId, Event, Label, Lifecycle, LifecycleConfig, LifecycleError, MemoryStore, NewSecret, Principal, RequestContext, TokenSerial};
    /// use otpguard::ocra::{Amount, Currency, Input, Ocra, PayeeAccount, Suite, Transaction};
    /// use otpguard::{Clock, FixedClock, KeyUri};
    ///
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30S")?;
    /// let config = LifecycleConfig::builder().signing(suite).build()?;
    /// let clock = FixedClock::new(1_700_000_000);
    /// let lc = Lifecycle::new(config, MemoryStore::new(), &clock);
    /// let (alice, web, ctx) = (CustomerId::new("c-1")?, Principal::customer(Label::new("web")?), RequestContext::new());
    /// let uri = lc.blocking().provision(&alice, &web, "alice", &ctx)?;
    /// let secret = KeyUri::parse(&uri.to_uri())?.secret().clone();
    /// let code = KeyUri::parse(&uri.to_uri())?.to_totp()?.generate(clock.now())?.to_string();
    /// lc.blocking().submit(&alice, &web, Event::Register {
    ///     serial: TokenSerial::new("SN-1")?, secret: NewSecret::Provisioned, code: code.as_str().into(),
    /// }, &ctx)?;
    ///
    /// // JPY 50,000 to account 12345671: the customer types the account
    /// // number into the token, which shows the response.
    /// let yen = Currency::new("JPY")?;
    /// let transfer = Transaction::transfer(Amount { minor_units: 50_000, currency: yen }, PayeeAccount::new("12345671")?);
    /// let question = transfer.question_for(&suite)?;
    /// let response = Ocra::new(&secret, suite).generate(&Input::new(&question).time(clock.now()))?.to_string();
    ///
    /// // Malware changed the payee: the response does not sign that.
    /// let diverted = Transaction::transfer(Amount { minor_units: 50_000, currency: yen }, PayeeAccount::new("99999991")?);
    /// assert!(matches!(
    ///     lc.blocking().sign_transaction(&alice, &web, &diverted, &response, &ctx),
    ///     Err(LifecycleError::WrongCode { .. })
    /// ));
    /// let proof = lc.blocking().sign_transaction(&alice, &web, &transfer, &response, &ctx)?;
    /// assert_eq!(proof.transaction(), Some(transfer.digest()));
    /// // Once only.
    /// assert!(lc.blocking().sign_transaction(&alice, &web, &transfer, &response, &ctx).is_err());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// As [`Lifecycle::submit`]; notably [`LifecycleError::WrongCode`]
    /// (counted) for a response that does not sign this transaction now,
    /// [`LifecycleError::Replayed`] (not counted),
    /// [`LifecycleError::NoSigningSuite`] for a token bound without a
    /// suite, [`LifecycleError::Unsignable`] for a transaction the suite's
    /// question cannot carry.
    pub async fn sign_transaction(
        &self,
        customer: &CustomerId,
        by: &Principal,
        transaction: &Transaction,
        response: &str,
        ctx: &RequestContext,
    ) -> Result<Authorized, LifecycleError> {
        let event = Event::SignTransaction {
            transaction: transaction.clone(),
            response: EnteredCode::new(response),
        };
        self.submit(customer, by, event, ctx)
            .await?
            .authorized
            .ok_or(LifecycleError::Internal(
                "an accepted signature without its proof",
            ))
    }

    /// A login. While the customer's login OTP is off no code is asked and
    /// the answer is [`LoginCheck::NotRequired`]; otherwise `code` is
    /// checked as `VerifyLogin`. Audited either way.
    ///
    /// # Errors
    /// [`LifecycleError::CodeRequired`] if the login OTP is on and `code`
    /// is `None`; otherwise as [`Lifecycle::verify_transaction`].
    pub async fn login(
        &self,
        customer: &CustomerId,
        by: &Principal,
        code: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<LoginCheck, LifecycleError> {
        let request = Request::Login(code.map(EnteredCode::new));
        let (answer, version, _) = self.run(customer, by, &request, ctx).await?;
        match answer {
            Answer::LoginNotRequired => Ok(LoginCheck::NotRequired),
            Answer::Applied {
                proof: Some(proof), ..
            } => Ok(LoginCheck::Verified(authorize(
                proof,
                EventKind::VerifyLogin,
                version,
                None,
            ))),
            Answer::Applied { proof: None, .. } => Err(LifecycleError::Internal(
                "an accepted login code without its proof",
            )),
        }
    }

    /// Creates a new secret for the customer's next token (`Provision`):
    /// pending until its first code registers it (`Register` or
    /// `CompleteSwap` with [`NewSecret::Provisioned`](super::NewSecret::Provisioned))
    /// or its deadline passes. Returns its Key URI, built from this
    /// lifecycle's own TOTP profile, issuer and signing suite (the
    /// `ocrasuite` parameter, see [`KeyUri::ocra_suite`]), with `account`
    /// as the name the app shows.
    ///
    /// # Errors
    /// As [`Lifecycle::submit`]; [`LifecycleError::Provisioning`] if
    /// `account` cannot be written into a Key URI or the profile's T0 is not
    /// 0.
    pub async fn provision(
        &self,
        customer: &CustomerId,
        by: &Principal,
        account: &str,
        ctx: &RequestContext,
    ) -> Result<KeyUri, LifecycleError> {
        let event = Event::Provision {
            account: account.to_owned(),
        };
        self.submit(customer, by, event, ctx)
            .await?
            .key_uri
            .ok_or(LifecycleError::Internal(
                "a provisioning without its Key URI",
            ))
    }

    /// Load, decide, commit; again on a conflict. Answers with the
    /// committed version and the digest of the transaction signed, if any.
    async fn run(
        &self,
        customer: &CustomerId,
        by: &Principal,
        request: &Request,
        ctx: &RequestContext,
    ) -> Result<(Answer, u64, Option<[u8; 32]>), LifecycleError> {
        let transaction = match request {
            Request::Event(event) => event.transaction_digest(),
            Request::Login(_) => None,
        };
        let attempts = self.config.max_attempts();
        // One time for the whole request: a code decided again after a lost
        // conflict is judged at the moment it arrived, not pushed out of
        // its window by the retries.
        let now = self.clock.now();
        for _ in 0..attempts {
            let loaded = self
                .store
                .load(customer)
                .await
                .map_err(|e| {
                    if e.is_corrupt() {
                        LifecycleError::Corrupt(e)
                    } else {
                        LifecycleError::Store(e)
                    }
                })?
                .unwrap_or_default();
            let scene = Scene {
                customer,
                by,
                ctx,
                now,
                transaction,
            };
            let expected = loaded.version;
            let Attempt {
                record,
                audit,
                answer,
            } = self.attempt(&scene, request, loaded);
            let version = record.as_ref().map_or(expected, |r| r.version);
            let commit = Commit {
                customer,
                expected_version: expected,
                record,
                audit: audit.as_slice(),
            };
            let outcome = self
                .store
                .commit(commit)
                .await
                .map_err(LifecycleError::Store)?;
            match outcome {
                CommitOutcome::Committed => {
                    return answer.map(|answer| (answer, version, transaction))
                }
                CommitOutcome::Conflict => {}
            }
        }
        Err(LifecycleError::Contended { attempts })
    }

    /// Decides one attempt on the record as loaded: a swap past its
    /// deadline times out first (the System's event, audited), then the
    /// request.
    fn attempt(&self, scene: &Scene<'_>, request: &Request, loaded: TokenRecord) -> Attempt {
        let mut audit = Audits::None;
        let mut record = loaded;
        let mut changed = false;
        let sent_timeout = matches!(request, Request::Event(Event::SwapTimeout))
            && scene.by.actor() == Actor::System;
        let expired = record
            .pending_swap()
            .map(|p| p.deadline)
            .filter(|deadline| scene.now >= *deadline);
        if !sent_timeout && expired.is_some() {
            match self.decided(&record, Actor::System, &Event::SwapTimeout, scene.now) {
                Ending::Accepted { next, row, .. } => {
                    audit.push(self.accepted(
                        scene,
                        &Principal::System,
                        &record,
                        &Event::SwapTimeout,
                        &next,
                        row,
                    ));
                    record = next;
                    changed = true;
                }
                Ending::Refused(e) => {
                    return self.refusal(scene, request, record, audit, changed, e)
                }
                Ending::WrongCode(_) | Ending::Replayed { .. } => {
                    let e = LifecycleError::Internal("a code outcome for an event without a code");
                    return self.refusal(scene, request, record, audit, changed, e);
                }
            }
        }
        // The swap a `CompleteSwap` would complete has just timed out: say
        // so, rather than that an active record takes no `CompleteSwap`.
        if let (Request::Event(Event::CompleteSwap { .. }), Some(deadline), true, Actor::Customer) =
            (request, expired, changed, scene.by.actor())
        {
            let e = LifecycleError::SwapExpired {
                deadline,
                now: scene.now,
            };
            return self.refusal(scene, request, record, audit, changed, e);
        }
        let event = match request {
            Request::Event(event) => Cow::Borrowed(event),
            // A login is the customer's, whether or not it asks for a code.
            Request::Login(_) if scene.by.actor() != Actor::Customer => {
                let e = LifecycleError::NotPermitted {
                    state: record.state(),
                    event: EventKind::VerifyLogin,
                    actor: scene.by.actor(),
                    rule: None,
                };
                return self.refusal(scene, request, record, audit, changed, e);
            }
            Request::Login(_) if !record.login_otp => {
                audit.push(self.record_of(
                    scene,
                    &record,
                    Outcome::Accepted,
                    AuditReason::LoginOtpOff,
                ));
                return Attempt {
                    record: changed.then_some(record),
                    audit,
                    answer: Ok(Answer::LoginNotRequired),
                };
            }
            Request::Login(None) => {
                return self.refusal(
                    scene,
                    request,
                    record,
                    audit,
                    changed,
                    LifecycleError::CodeRequired,
                )
            }
            Request::Login(Some(code)) => Cow::Owned(Event::VerifyLogin { code: code.clone() }),
        };
        match self.decided(&record, scene.by.actor(), &event, scene.now) {
            Ending::Accepted {
                next,
                row,
                proof,
                key_uri,
            } => {
                audit.push(self.accepted(scene, scene.by, &record, &event, &next, row));
                let answer = Answer::Applied {
                    from: record.state(),
                    to: next.state(),
                    proof,
                    key_uri,
                };
                Attempt {
                    record: Some(next),
                    audit,
                    answer: Ok(answer),
                }
            }
            Ending::Replayed {
                step,
                last_accepted,
            } => {
                let reason = if step < last_accepted {
                    AuditReason::BehindLastAccepted {
                        step,
                        last_accepted,
                    }
                } else {
                    AuditReason::Replayed {
                        step,
                        last_accepted,
                    }
                };
                audit.push(scene.refused(&record, event.kind(), event.new_serial(), reason));
                Attempt {
                    record: changed.then_some(record),
                    audit,
                    answer: Err(LifecycleError::Replayed {
                        step,
                        last_accepted,
                    }),
                }
            }
            Ending::WrongCode(source) => {
                self.wrong_code(scene, &event, record, audit, changed, source)
            }
            Ending::Refused(e) => self.refusal(scene, request, record, audit, changed, e),
        }
    }

    /// Counts a wrong code of the current token and, at the maximum, lets
    /// the System suspend the token in the same commit.
    fn wrong_code(
        &self,
        scene: &Scene<'_>,
        event: &Event,
        record: TokenRecord,
        mut audit: Audits,
        changed: bool,
        source: CodeError,
    ) -> Attempt {
        let mut counted = match count_failure(&record, &self.config, scene.now) {
            Ok(counted) => counted,
            // The record as this attempt left it (a swap time-out included)
            // is committed with the refusal.
            Err(e) => {
                return self.refusal(
                    scene,
                    &Request::Event(event.clone()),
                    record,
                    audit,
                    changed,
                    e,
                )
            }
        };
        let max = self.config.max_failures();
        let failures = counted.failures;
        let lock = Event::Suspend {
            reason: SuspendReason::TooManyFailures,
        };
        // At the maximum the System suspends the token in the same commit.
        // If it cannot (a bug, or an exhausted version), nothing of the
        // wrong code is committed either: the attempt is refused loudly.
        // A record without a token (a wrong first code of `Register`) has
        // nothing to suspend: it keeps counting and holding back.
        let lockable = lookup(record.state(), lock.kind(), Actor::System).is_some();
        // A record without a token drops its pending secret instead: a
        // guesser gets at most the maximum of tries at one secret, and the
        // customer provisions again.
        if failures >= max && !lockable {
            counted.enrollment = None;
        }
        let locked = if failures >= max && lockable {
            match self.decided(&counted, Actor::System, &lock, scene.now) {
                Ending::Accepted {
                    next: locked, row, ..
                } => Some((locked, row)),
                Ending::Refused(e) => {
                    let request = Request::Event(event.clone());
                    return self.refusal(scene, &request, record, audit, changed, e);
                }
                Ending::WrongCode(_) | Ending::Replayed { .. } => {
                    let e = LifecycleError::Internal(
                        "a code outcome for a lock-out, which checks no code",
                    );
                    let request = Request::Event(event.clone());
                    return self.refusal(scene, &request, record, audit, changed, e);
                }
            }
        } else {
            None
        };
        let mut refused = scene.record(
            scene.by,
            &record,
            event.kind(),
            event.new_serial(),
            &counted,
            Outcome::Refused,
            AuditReason::WrongCode { failures, max },
        );
        // The notice promises a permanent block next: only where a token
        // can be locked.
        if lockable && starts_last_temporary_block(&self.config, failures) {
            refused.notice = Some(Notice::LastTemporaryBlock);
        }
        audit.push(refused);
        let (next, locked_out) = match locked {
            Some((locked, row)) => {
                audit.push(self.accepted(scene, &Principal::System, &counted, &lock, &locked, row));
                (locked, true)
            }
            None => (counted, false),
        };
        Attempt {
            record: Some(next),
            audit,
            answer: Err(LifecycleError::WrongCode {
                failures,
                max,
                locked_out,
                source,
            }),
        }
    }

    /// A refusal: audited, and the record committed as it is (with any
    /// change this attempt already made, such as a swap time-out).
    fn refusal(
        &self,
        scene: &Scene<'_>,
        request: &Request,
        record: TokenRecord,
        mut audit: Audits,
        changed: bool,
        error: LifecycleError,
    ) -> Attempt {
        let new_serial = match request {
            Request::Event(e) => e.new_serial(),
            Request::Login(_) => None,
        };
        let reason = AuditReason::Refused(Cow::Owned(error.to_string()));
        audit.push(scene.refused(&record, request.kind(), new_serial, reason));
        Attempt {
            record: changed.then_some(record),
            audit,
            answer: Err(error),
        }
    }

    fn record_of(
        &self,
        scene: &Scene<'_>,
        record: &TokenRecord,
        outcome: Outcome,
        reason: AuditReason,
    ) -> AuditRecord {
        scene.record(
            scene.by,
            record,
            EventKind::VerifyLogin,
            None,
            record,
            outcome,
            reason,
        )
    }

    fn accepted(
        &self,
        scene: &Scene<'_>,
        by: &Principal,
        before: &TokenRecord,
        event: &Event,
        after: &TokenRecord,
        row: &Transition,
    ) -> AuditRecord {
        let reason = AuditReason::Applied {
            guard: row.guard,
            effect: row.effect,
        };
        scene.record(
            by,
            before,
            event.kind(),
            event.new_serial(),
            after,
            Outcome::Accepted,
            reason,
        )
    }

    /// Decides `event`, checks its code, applies its row.
    fn decided(&self, record: &TokenRecord, actor: Actor, event: &Event, now: u64) -> Ending {
        let plan = match decide(record, actor, event, now, &self.config) {
            Ok(plan) => plan,
            Err(e) => return Ending::Refused(e),
        };
        let evidence = match plan.check {
            Check::Nothing => Ok(Evidence::Nothing),
            Check::Current(code) => {
                code_evidence(self.check_current(record, code, now), Evidence::Current)
            }
            Check::Pair(first, second) => code_evidence(
                self.check_pair(record, first, second, now),
                Evidence::Current,
            ),
            Check::Signature {
                question,
                digest,
                response,
                window,
            } => self
                .check_signature(record, &question, &digest, response, window, now)
                .map(|proof| Evidence::Signature(proof, digest))
                .map_err(ending_of),
            Check::New {
                serial,
                secret,
                code,
                params,
                signing,
            } => match self.check_new(serial, secret, code, params, signing, now) {
                Ok((token, proof)) => Ok(Evidence::New(token, proof)),
                Err(refusal) => Err(ending_of(refusal)),
            },
        };
        let evidence = match evidence {
            Ok(evidence) => evidence,
            Err(ending) => return ending,
        };
        let proof = match &evidence {
            Evidence::Current(p) | Evidence::New(_, p) | Evidence::Signature(p, _) => Some(*p),
            Evidence::Nothing => None,
        };
        let next = match apply(record, plan.row, evidence, event, now, &self.config) {
            Ok(next) => next,
            Err(e) => return Ending::Refused(e),
        };
        let key_uri = match event {
            Event::Provision { account }
            | Event::BeginSwap {
                to: SwapTo::Generated { account },
                ..
            } => match self.key_uri(&next, account) {
                Ok(uri) => Some(Box::new(uri)),
                Err(e) => return Ending::Refused(e),
            },
            _ => None,
        };
        Ending::Accepted {
            next,
            row: plan.row,
            proof,
            key_uri,
        }
    }

    /// The Key URI of the record's pending secret, from this lifecycle's
    /// profile and issuer.
    fn key_uri(&self, record: &TokenRecord, account: &str) -> Result<KeyUri, LifecycleError> {
        let enrollment = record.enrollment.as_ref().ok_or(LifecycleError::Internal(
            "a provisioned record without its pending secret",
        ))?;
        let mut builder = KeyUri::builder(&enrollment.secret, account).totp(enrollment.params);
        if let Some(issuer) = self.config.issuer() {
            builder = builder.issuer(issuer);
        }
        if let Some(suite) = enrollment.signing {
            builder = builder.ocra_suite(suite);
        }
        builder.build().map_err(LifecycleError::Provisioning)
    }

    /// Checks a code of the record's current token: a match over the steps
    /// the token's drift estimate allows (RFC 6238 §6: the window follows
    /// the phone's clock, within the drift bound), then single use against
    /// the step the record last accepted.
    fn check_current(
        &self,
        record: &TokenRecord,
        code: &EnteredCode,
        now: u64,
    ) -> Result<Proof, CodeRefusal> {
        let token = current_token(record)?;
        // The window is centred on the token's drift (RFC 6238 §6), kept
        // within the bound.
        let found = match token.estimate.steps(now, token.key.params, &self.config) {
            Some(steps) => code
                .as_input()
                .ok_or(CheckError::Malformed {
                    expected: token.key.params.digits(),
                })
                .and_then(|input| token.key.totp().verify_steps(input, now, steps)),
            // A time before T0 is unverifiable; otherwise the drift bound
            // leaves no step where the estimate puts the phone, and no code
            // can match.
            None => match token.key.totp().step_at(now) {
                Ok(_) => Err(CheckError::Mismatch),
                Err(e) => Err(e.into()),
            },
        };
        // The step last accepted can lie outside the window: a code matched
        // at the window's edge while the drift was held at its bound, and
        // the window moved on. Re-sending that code is still a replay, not
        // a wrong code to count (one more code computed, on a miss only).
        if let (Err(CheckError::Mismatch), Some(input)) = (&found, code.as_input()) {
            if token.key.totp().is_code_of_step(input, token.last_step) {
                return Err(CodeRefusal::Replayed {
                    step: token.last_step,
                    last_accepted: token.last_step,
                });
            }
        }
        Self::fresh(token, found)
    }

    /// Checks a `Resync` pair of the record's current token: found next to
    /// each other within the resynchronisation window (constant time), the
    /// later step newer than any accepted and within the drift bound.
    fn check_pair(
        &self,
        record: &TokenRecord,
        first: &EnteredCode,
        second: &EnteredCode,
        now: u64,
    ) -> Result<Proof, CodeRefusal> {
        let token = current_token(record)?;
        let malformed = CheckError::Malformed {
            expected: token.key.params.digits(),
        };
        let found = match (first.as_input(), second.as_input()) {
            (Some(a), Some(b)) => {
                token
                    .key
                    .totp()
                    .verify_pair(a, b, now, self.config.resync_window())
            }
            _ => Err(malformed),
        };
        let proof = Self::fresh(token, found)?;
        let max = self.config.max_drift();
        if proof.drift.unsigned_abs() > u64::from(max) {
            return Err(CodeRefusal::Other(LifecycleError::DriftBeyondBound {
                drift: proof.drift,
                max,
            }));
        }
        Ok(proof)
    }

    /// A match of `token`'s code as a proof if its step is newer than any
    /// accepted for the token; otherwise a replay; a failed match as wrong
    /// or unverifiable.
    fn fresh(token: &Token, found: Result<crate::Match, CheckError>) -> Result<Proof, CodeRefusal> {
        match found {
            Ok(m) if m.step() > token.last_step => Ok(Proof {
                token: token.key.id,
                step: m.step(),
                drift: m.offset(),
            }),
            Ok(m) => Err(CodeRefusal::Replayed {
                step: m.step(),
                last_accepted: token.last_step,
            }),
            Err(source) if source.is_wrong_code() => Err(CodeRefusal::Wrong(source.into())),
            Err(source) => Err(CodeRefusal::Other(LifecycleError::Unverifiable {
                source: source.into(),
            })),
        }
    }

    /// Checks the current token's OCRA response to a transaction's question,
    /// in constant time over `window`: the counters from the last accepted
    /// one on (so that the response just accepted is recognised as a replay,
    /// not counted as wrong), and the validity's time steps. The signature's
    /// counter (or, for a suite without one, time step) must be newer than the
    /// last accepted. The time window is centred where the phone's clock is:
    /// the token's drift (in its TOTP steps, within the bound), as seconds.
    #[allow(clippy::too_many_arguments)]
    fn check_signature(
        &self,
        record: &TokenRecord,
        question: &str,
        digest: &[u8; 32],
        response: &EnteredCode,
        window: VerifyWindow,
        now: u64,
    ) -> Result<Proof, CodeRefusal> {
        const NO_MARK: LifecycleError =
            LifecycleError::Internal("a signature match without its counter or time step");
        const FAR: LifecycleError =
            LifecycleError::Internal("a signature's time step beyond any offset from now");
        let token = current_token(record)?;
        let ocra = token
            .key
            .signing()
            .ok_or(CodeRefusal::Other(LifecycleError::NoSigningSuite))?;
        let suite = ocra.suite();
        let step_seconds = suite
            .time_step()
            .ok_or(CodeRefusal::Other(NO_MARK))?
            .seconds();
        let period =
            i64::try_from(token.key.params.period()).map_err(|_| CodeRefusal::Other(FAR))?;
        let shift = bounded_drift(token.drift, &self.config).saturating_mul(period);
        let last = token.last_signature;
        let centre = now.saturating_add_signed(shift);
        let first_counter = last.unwrap_or(0);
        let input_at = |time: u64| {
            let input = Input::new(question).time(time);
            if suite.has_counter() {
                input.counter(first_counter)
            } else {
                input
            }
        };
        let input = input_at(centre);
        let mut window = window;
        if suite.has_counter() {
            // One more counter when the search starts at the last accepted.
            let extra = u32::from(last.is_some());
            window = VerifyWindow::new(
                window.counter_ahead().saturating_add(extra),
                window.time_window(),
            )
            .map_err(|_| {
                CodeRefusal::Other(LifecycleError::Internal(
                    "a signing look-ahead past the cap the settings enforce",
                ))
            })?;
        }
        // An input too long to keep is malformed, as the empty one is:
        // verify refuses either as such before computing anything.
        let text = response.as_input().unwrap_or("");
        let m = match ocra.verify(text, &input, window) {
            Ok(m) => m,
            Err(source) if source.is_wrong_code() => {
                // A miss is checked once more against as many time steps
                // again before the validity: a response the token computed
                // for this transaction, only too late, is expired (refused,
                // not counted), not wrong.
                let behind = window.time_window().behind();
                let earlier = u64::from(behind)
                    .saturating_add(1)
                    .saturating_mul(step_seconds);
                let before = VerifyWindow::new(
                    window.counter_ahead(),
                    crate::Window::new(behind, 0).map_err(|_| CodeRefusal::Other(FAR))?,
                )
                .map_err(|_| CodeRefusal::Other(FAR))?;
                let late = input_at(centre.saturating_sub(earlier));
                if let Ok(expired) = ocra.verify(text, &late, before) {
                    let step = expired.time_step().ok_or(CodeRefusal::Other(NO_MARK))?;
                    return Err(CodeRefusal::Other(LifecycleError::SignatureExpired {
                        step,
                    }));
                }
                return Err(CodeRefusal::Wrong(source.into()));
            }
            Err(source) => {
                return Err(CodeRefusal::Other(LifecycleError::Unverifiable {
                    source: source.into(),
                }))
            }
        };
        let step = m.time_step().ok_or(CodeRefusal::Other(NO_MARK))?;
        let mark = if suite.has_counter() {
            m.counter().ok_or(CodeRefusal::Other(NO_MARK))?
        } else {
            step
        };
        // The drift reported is from the server's own step, not the centre.
        let server_step = now
            .checked_div(step_seconds)
            .ok_or(CodeRefusal::Other(FAR))?;
        let drift = i128::from(step)
            .checked_sub(i128::from(server_step))
            .and_then(|d| i64::try_from(d).ok())
            .ok_or(CodeRefusal::Other(FAR))?;
        // Single use: a newer counter (or time step); for a suite without a
        // counter, also the same time step for a transaction not yet signed
        // in it.
        let same_step = last == Some(mark) && !suite.has_counter();
        let signed = &token.signed_in_step;
        match last {
            Some(last_accepted)
                if mark == last_accepted && same_step && !signed.contains(digest) =>
            {
                if signed.digests().len() >= SignedInStep::MAX {
                    return Err(CodeRefusal::Other(
                        LifecycleError::TooManySignaturesInStep {
                            step: mark,
                            max: SignedInStep::MAX,
                        },
                    ));
                }
                Ok(Proof {
                    token: token.key.id,
                    step: mark,
                    drift,
                })
            }
            Some(last_accepted) if mark <= last_accepted => Err(CodeRefusal::Replayed {
                step: mark,
                last_accepted,
            }),
            _ => Ok(Proof {
                token: token.key.id,
                step: mark,
                drift,
            }),
        }
    }

    /// Checks the first code of a new token and binds it under a fresh id.
    fn check_new(
        &self,
        serial: &TokenSerial,
        secret: &Secret,
        code: &EnteredCode,
        params: TotpParams,
        signing: Option<Suite>,
        now: u64,
    ) -> Result<(Token, Proof), CodeRefusal> {
        let id = TokenId::generate().map_err(|_| CodeRefusal::Other(LifecycleError::Randomness))?;
        let key = TokenKey::new(id, serial.clone(), secret.clone(), params, signing);
        match self.verify(&key, code, now, 0) {
            Ok(m) => {
                let proof = Proof {
                    token: id,
                    step: m.step(),
                    drift: m.offset(),
                };
                let estimate =
                    DriftEstimate::from_code(now, m.step(), params).ok_or(CodeRefusal::Other(
                        LifecycleError::Internal("a first code's time beyond any drift estimate"),
                    ))?;
                let token = Token {
                    key: Arc::new(key),
                    last_step: m.step(),
                    drift: bounded_drift(m.offset(), &self.config),
                    estimate,
                    last_signature: None,
                    signed_in_step: SignedInStep::default(),
                };
                Ok((token, proof))
            }
            Err(source) if source.is_wrong_code() => {
                Err(CodeRefusal::Wrong(CodeError::NewToken(source)))
            }
            Err(source) => Err(CodeRefusal::Other(LifecycleError::Unverifiable {
                source: source.into(),
            })),
        }
    }

    /// The one place a single code is matched: constant time over the
    /// window centred `shift` steps from now (the token's drift; 0 for a
    /// new token), with the token's own profile.
    fn verify(
        &self,
        key: &TokenKey,
        code: &EnteredCode,
        now: u64,
        shift: i64,
    ) -> Result<crate::Match, CheckError> {
        let input = code.as_input().ok_or(CheckError::Malformed {
            expected: key.params.digits(),
        })?;
        key.totp()
            .verify_shifted(input, now, shift, self.config.window())
    }
}

/// The record's current token, whose code a row checks.
fn current_token(record: &TokenRecord) -> Result<&Token, CodeRefusal> {
    record
        .stage
        .token()
        .ok_or(CodeRefusal::Other(LifecycleError::Internal(
            "a check of the current token's code on a record without a token",
        )))
}

/// A checked code of the current token as the row's evidence, or how the
/// attempt ends. The `Err` is an [`Ending`], as large as `decided`'s own
/// answer and returned by value the same way: boxing it would allocate on
/// the verify path, which allocates nothing.
#[allow(clippy::result_large_err)]
fn code_evidence(
    checked: Result<Proof, CodeRefusal>,
    evidence: fn(Proof) -> Evidence,
) -> Result<Evidence, Ending> {
    checked.map(evidence).map_err(ending_of)
}

/// How an attempt ends when its code was not accepted.
fn ending_of(refusal: CodeRefusal) -> Ending {
    match refusal {
        CodeRefusal::Wrong(source) => Ending::WrongCode(source),
        CodeRefusal::Replayed {
            step,
            last_accepted,
        } => Ending::Replayed {
            step,
            last_accepted,
        },
        CodeRefusal::Other(e) => Ending::Refused(e),
    }
}

/// Whether the `failures`-th consecutive wrong code starts a temporary
/// block (a [`Throttle::blocks`](super::Throttle::blocks) throttle) after
/// which the next block is the lock-out.
fn starts_last_temporary_block(config: &LifecycleConfig, failures: u32) -> bool {
    let max = config.max_failures();
    match config.throttle().block_every() {
        Some(every) => {
            failures < max
                && config.throttle().delay_after(failures) > 0
                && failures.saturating_add(every) >= max
        }
        None => false,
    }
}

/// `drift` within the configured bound.
pub(crate) fn bounded_drift(drift: i64, config: &LifecycleConfig) -> i64 {
    let bound = i64::from(config.max_drift());
    drift.clamp(bound.saturating_neg(), bound)
}

fn authorize(
    proof: Proof,
    event: EventKind,
    version: u64,
    transaction: Option<[u8; 32]>,
) -> Authorized {
    Authorized {
        event,
        token: proof.token,
        step: proof.step,
        drift: proof.drift,
        version,
        transaction,
    }
}
