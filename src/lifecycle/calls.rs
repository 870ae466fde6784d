//! What a backend's handlers call: one method per request, each a thin
//! wrapper that runs the request through the engine (`engine.rs`) and
//! shapes its committed answer.

use super::answer::{Applied, Authorized, LoginCheck};
use super::attempt::{Answer, Request};
use super::check::Proof;
use super::event::EnteredCode;
use super::store::TokenStore;
use super::{CustomerId, Event, EventKind, Lifecycle, LifecycleError, Principal, RequestContext};
use crate::ocra::Transaction;
use crate::{Clock, KeyUri};

impl<S: TokenStore, C: Clock> Lifecycle<S, C> {
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
    /// within [`LifecycleConfig::signature_validity`](super::LifecycleConfig::signature_validity), once. The proof's
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
}

pub(super) fn authorize(
    proof: Proof,
    event: EventKind,
    version: u64,
    transaction: Option<[u8; 32]>,
) -> Authorized {
    Authorized {
        event,
        token: proof.token(),
        claimed: proof.claimed(),
        drift: proof.drift(),
        version,
        transaction,
    }
}
