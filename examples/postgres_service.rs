//! A reference web service for a bank's backend: axum routes over a
//! [`Lifecycle`] on the PostgreSQL token store, one lifecycle call per
//! request (the flows of `examples/bank_flow.rs`). Run with `DATABASE_URL`,
//! `OTPGUARD_SEAL_KEY`, `OTPGUARD_SESSION_KEY` and `OTPGUARD_OPERATOR_KEY`
//! (each key 64 hex digits, the last two different) and `--features postgres`.
//!
//! Threat model: two routers on two listeners.
//! - Customers (`OTPGUARD_CUSTOMER_ADDR`, on the internet behind the bank's
//!   gateway): `POST /me/...`. The customer is the one the request's signed
//!   session names ([`Sessions`]), never one the request chooses: no route
//!   carries a customer id, and a request without a valid session gets 401
//!   before the lifecycle sees it. Customers get coarse refusals.
//! - Operators (`OTPGUARD_OPERATOR_ADDR`, on the staff network only):
//!   `POST /customers/{id}/...` for any customer, each request carrying a
//!   token signed under the operator key ([`OperatorAuth`]), which names the
//!   operator the audit records. Operators get the precise refusal.
//!
//! No header but `Authorization` is trusted, and only once its tag verifies
//! under the router's own key: no other header names a customer or an
//! operator (`x-request-id` goes into the audit as a label, nothing more).
//! The session here is a stand-in for the bank's own: a real login
//! verifies the login OTP (`/me/login`) before it issues a full session
//! ([`TokenKey::issue`]). `otpguard_audit` holds every answer, committed
//! with it.

use std::error::Error;
use std::future::IntoFuture;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Path, Query};
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{request::Parts, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use hmac::{Hmac, KeyInit, Mac};
use otpguard::lifecycle::audit::{AuditContent, AuditCursor, AuditQuery, AuditReader};
use otpguard::lifecycle::postgres::sqlx::{self, postgres::PgPoolOptions, PgConnection, PgPool};
use otpguard::lifecycle::postgres::{BookingError, BookingFuture, PostgresStore};
use otpguard::lifecycle::{
    error::UnknownName, CustomerAnswer, CustomerId, ErrorCategory, Event, Label, Lifecycle,
    LifecycleConfig, LifecycleError, LoginCheck, NewSecret, PendingProof, Principal, ReissueReason,
    RequestContext, SuspendReason, SwapTo, TokenSerial,
};
use otpguard::ocra::{Amount, Currency, PayeeAccount, Suite, Transaction};
use otpguard::seal::{KeyId, Keyring};
use otpguard::{Clock, SystemClock};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The bank's lifecycle: records in PostgreSQL, the system's time.
pub type Service = Lifecycle<PostgresStore, SystemClock>;
/// A refusal: a status and `{"error": ...}`.
type Refusal = (StatusCode, Json<Value>);
type Reply = Result<Json<Value>, Refusal>;
const FAULT: &str = "service error, contact the bank";

/// The bank's settings: its name in the app, and transaction signing
/// (取引認証) with the payee's 8-digit account number, valid 5 minutes.
///
/// # Errors
/// If the settings do not hold (they do: a test builds them).
pub fn config() -> Result<LifecycleConfig, Box<dyn Error>> {
    Ok(LifecycleConfig::builder()
        .issuer("Example Bank")
        .signing(Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30S")?)
        .signature_validity(300)
        .build()?)
}

/// The pool's settings: during a database outage a request waits at most
/// two seconds for a connection, then answers 503; no ping at each
/// checkout, a round trip saved per request (the store reads again on the
/// next connection when the pool hands out one a restart broke).
pub fn pool_options() -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(2))
        .test_before_acquire(false)
}

/// The bank's own table beside otpguard's: the transfers it books, each in
/// the database transaction of the code or signature that authorised it
/// (created here for the example; a bank has its ledger already).
///
/// # Errors
/// If the table cannot be created.
pub async fn bank_schema(pool: &PgPool) -> Result<(), sqlx::Error> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS bank_transfers (
            id bigserial PRIMARY KEY,
            customer_id text NOT NULL,
            amount_minor bigint NOT NULL CHECK (amount_minor > 0),
            currency text NOT NULL,
            payee text NOT NULL,
            authorized_version bigint NOT NULL,
            transaction_digest bytea
        )",
    )
    .execute(pool)
    .await
    .map(|_| ())
}

/// A request the authentication refused (answered 401).
#[derive(Debug)]
pub struct Unauthenticated;

/// The bank's session layer: the customer a request's session belongs to.
pub trait Sessions: Send + Sync + 'static {
    /// The customer of the session the request carries.
    ///
    /// # Errors
    /// [`Unauthenticated`] without a valid, unexpired session.
    fn customer(&self, headers: &HeaderMap) -> Result<CustomerId, Unauthenticated>;
}

/// The staff's authentication: the operator who sent a request.
pub trait OperatorAuth: Send + Sync + 'static {
    /// The operator the request's credential names.
    ///
    /// # Errors
    /// [`Unauthenticated`] without a valid, unexpired credential.
    fn operator(&self, headers: &HeaderMap) -> Result<Label, Unauthenticated>;
}

/// Signs and checks `Authorization: Bearer <id>.<expiry>.<tag>`: `<tag>` is
/// the hex HMAC-SHA-256 of the key's purpose (`session` or `operator`), a
/// zero byte and `<id>.<expiry>` (Unix seconds), under this key: a token of
/// one purpose never verifies for the other, even under the same key.
#[derive(Clone)]
pub struct TokenKey(Hmac<Sha256>);

/// The purpose of customers' session tokens.
pub const SESSION: &str = "session";
/// The purpose of operators' tokens.
pub const OPERATOR: &str = "operator";

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(..)") // never the key
    }
}

impl TokenKey {
    /// The key for tokens of `purpose` ([`SESSION`] or [`OPERATOR`]) from
    /// 64 hex digits (the text is the caller's to wipe).
    ///
    /// # Errors
    /// If it is not 64 hex digits. The error never quotes it.
    pub fn from_hex(purpose: &str, text: &str) -> Result<Self, Box<dyn Error>> {
        let mut key = Zeroizing::new([0u8; 32]);
        hex::decode_to_slice(text.trim(), key.as_mut_slice())
            .map_err(|_| "a session or operator key is not 64 hex digits")?;
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_slice())?;
        mac.update(purpose.as_bytes());
        mac.update(&[0]);
        Ok(Self(mac))
    }

    /// A bearer token for `id`, valid until `expiry` (Unix seconds).
    pub fn issue(&self, id: &str, expiry: u64) -> String {
        let signed = format!("{id}.{expiry}");
        let tag = hex::encode(self.mac(&signed).finalize().into_bytes());
        format!("{signed}.{tag}")
    }

    fn mac(&self, signed: &str) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(signed.as_bytes());
        mac
    }

    /// The id of the request's bearer token, if its tag verifies and it has
    /// not expired.
    fn check<'h>(&self, headers: &'h HeaderMap) -> Result<&'h str, Unauthenticated> {
        let value = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
        let token = value
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Unauthenticated)?;
        let (signed, tag) = token.rsplit_once('.').ok_or(Unauthenticated)?;
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(tag, &mut bytes).map_err(|_| Unauthenticated)?;
        self.mac(signed)
            .verify_slice(&bytes)
            .map_err(|_| Unauthenticated)?;
        let (id, expiry) = signed.rsplit_once('.').ok_or(Unauthenticated)?;
        let expiry: u64 = expiry.parse().map_err(|_| Unauthenticated)?;
        (expiry > SystemClock.now())
            .then_some(id)
            .ok_or(Unauthenticated)
    }
}

/// Customer sessions: tokens signed under the session key.
#[derive(Debug)]
pub struct SessionKey(pub TokenKey);

impl Sessions for SessionKey {
    fn customer(&self, headers: &HeaderMap) -> Result<CustomerId, Unauthenticated> {
        CustomerId::new(self.0.check(headers)?).map_err(|_| Unauthenticated)
    }
}

/// Operators: tokens signed under the operator key, naming the operator.
#[derive(Debug)]
pub struct OperatorKey(pub TokenKey);

impl OperatorAuth for OperatorKey {
    fn operator(&self, headers: &HeaderMap) -> Result<Label, Unauthenticated> {
        Label::new(self.0.check(headers)?).map_err(|_| Unauthenticated)
    }
}

/// A router's state: the lifecycle and the authentication in front of it.
struct Guarded<A: ?Sized> {
    bank: Arc<Service>,
    auth: A,
}

type Customers = Arc<Guarded<dyn Sessions>>;
type Operators = Arc<Guarded<dyn OperatorAuth>>;

/// The customer routes (internet-facing): the customer is the session's.
pub fn customer_app(bank: Arc<Service>, auth: impl Sessions) -> Router {
    let state: Customers = Arc::new(Guarded { bank, auth });
    Router::new()
        .route("/me/provision", post(provision))
        .route("/me/register", post(register))
        .route("/me/transfer", post(transfer))
        .route("/me/transfer/sign", post(sign_transfer))
        .route("/me/login", post(login))
        .route("/me/swap/begin", post(begin_swap))
        .route("/me/swap/complete", post(finish_swap))
        .route("/me/stop", post(stop))
        .with_state(state)
}

/// The operator routes (staff network only), for any customer.
pub fn operator_app(bank: Arc<Service>, auth: impl OperatorAuth) -> Router {
    let state: Operators = Arc::new(Guarded { bank, auth });
    Router::new()
        .route("/customers/{id}/suspend", post(suspend))
        .route("/customers/{id}/resume", post(resume))
        .route("/customers/{id}/reissue", post(reissue))
        .route("/customers/{id}", get(summary))
        .route("/customers/{id}/audit", get(audit))
        .with_state(state)
}

/// A customer's request: the customer its session names, through the "web"
/// channel, with the audit context. Extracted before the body is read.
struct Me {
    bank: Arc<Service>,
    customer: CustomerId,
    by: Principal,
    ctx: RequestContext,
}

impl FromRequestParts<Customers> for Me {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &Customers) -> Result<Self, Refusal> {
        let customer = state
            .auth
            .customer(&parts.headers)
            .map_err(unauthenticated)?;
        let web =
            Label::new("web").map_err(|_| refusal(StatusCode::INTERNAL_SERVER_ERROR, FAULT))?;
        let (bank, by, ctx) = (
            state.bank.clone(),
            Principal::customer(web),
            context(&parts.headers)?,
        );
        Ok(Self {
            bank,
            customer,
            by,
            ctx,
        })
    }
}

impl Me {
    /// Submits an event; answers the token's new state.
    async fn submit(&self, event: Event) -> Reply {
        let applied = self
            .bank
            .submit(&self.customer, &self.by, event, &self.ctx)
            .await;
        let applied = applied.map_err(|e| self.refused(&e))?;
        Ok(Json(json!({ "state": applied.to.to_string() })))
    }

    /// What the customer is told: the library's answer under the bank's
    /// policy (never whether a code was wrong or replayed, and by default
    /// nothing of a hold-back or lock-out). The log gets the stable code.
    fn refused(&self, e: &LifecycleError) -> Refusal {
        use CustomerAnswer as A;
        let (customer, ctx, category) = (&self.customer, &self.ctx, e.category().code());
        eprintln!(
            "customer {customer} [{ctx}]: refused: {} ({category}): {e}",
            e.code()
        );
        let answer = self.bank.customer_answer(e);
        let status = match answer {
            A::CodeNotAccepted => StatusCode::FORBIDDEN,
            A::TryAgainAt { .. } => StatusCode::TOO_MANY_REQUESTS,
            A::ContactBank => StatusCode::LOCKED,
            A::TryAgain => StatusCode::SERVICE_UNAVAILABLE,
            A::BankError => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::CONFLICT,
        };
        let body = match answer {
            A::TryAgainAt { retry_at } => {
                json!({ "error": answer.to_string(), "retry_at": retry_at })
            }
            _ => json!({ "error": answer.to_string() }),
        };
        (status, Json(body))
    }

    /// A transfer not booked: the code refused (the coarse answer), or the
    /// booking failed (nothing committed, the code not spent: a fault).
    fn not_booked(&self, e: BookingError<sqlx::Error>) -> Refusal {
        match e {
            BookingError::Lifecycle(e) => self.refused(&e),
            BookingError::Booking { error, audit } => {
                let unaudited = audit.map(|a| format!(" (refusal not audited: {a})"));
                self.fault(&format!(
                    "booking failed, code not spent: {error}{}",
                    unaudited.unwrap_or_default()
                ))
            }
            BookingError::RolledBack { error, .. } => {
                self.fault(&format!("booking rolled back, code not spent: {error}"))
            }
            // Booked or not: the customer must not simply send it again.
            BookingError::OutcomeUnknown(e) => {
                eprintln!(
                    "customer {} [{}]: outcome unknown: {e}",
                    self.customer, self.ctx
                );
                refusal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "we could not confirm this transfer: check your transfers before trying again",
                )
            }
            _ => self.fault("transfer not booked"),
        }
    }

    fn fault(&self, what: &str) -> Refusal {
        eprintln!("customer {} [{}]: {what}", self.customer, self.ctx);
        refusal(StatusCode::INTERNAL_SERVER_ERROR, FAULT)
    }
}

#[derive(Deserialize)]
struct Account {
    account: String,
}

/// A code as typed; `register` and `swap/complete` add the new token's
/// serial. Wiped when dropped (hyper's copy of the body is beyond reach).
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct Code {
    code: String,
    #[serde(default)]
    serial: String,
}

/// A transfer as the bank will execute it, and the code that confirms it.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct CodedTransfer {
    /// In the currency's minor unit (yen, cents).
    amount: u64,
    currency: String,
    payee: String,
    code: String,
}

/// A transfer as the bank will execute it, and the response the customer's
/// app showed for it.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct SignedTransfer {
    /// In the currency's minor unit (yen, cents).
    amount: u64,
    currency: String,
    payee: String,
    response: String,
}

/// The transfer a request describes, checked.
fn transfer_of(amount: u64, currency: &str, payee: &str) -> Result<Transaction, Refusal> {
    let bad = |what: &str| refusal(StatusCode::BAD_REQUEST, &format!("invalid {what}"));
    let currency = Currency::new(currency).map_err(|_| bad("currency"))?;
    let payee = PayeeAccount::new(payee).map_err(|_| bad("payee account"))?;
    // Within what the bank's ledger holds, checked before the code is.
    if amount == 0 || i64::try_from(amount).is_err() {
        return Err(bad("amount"));
    }
    let amount = Amount {
        minor_units: amount,
        currency,
    };
    Ok(Transaction::transfer(amount, payee))
}

impl CodedTransfer {
    fn transfer(&self) -> Result<Transaction, Refusal> {
        transfer_of(self.amount, &self.currency, &self.payee)
    }
}

impl SignedTransfer {
    fn transfer(&self) -> Result<Transaction, Refusal> {
        transfer_of(self.amount, &self.currency, &self.payee)
    }
}

/// The old phone's code, and the name the new phone's app shows.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct SwapStart {
    code: String,
    account: String,
}

/// Login asks for a code only while the customer's login OTP is on.
#[derive(Deserialize, Zeroize, ZeroizeOnDrop)]
struct LoginCode {
    code: Option<String>,
}

#[derive(Deserialize)]
struct Reason {
    reason: String,
}

async fn provision(me: Me, Json(b): Json<Account>) -> Result<Response, Refusal> {
    let uri = me
        .bank
        .provision(&me.customer, &me.by, &b.account, &me.ctx)
        .await;
    let uri = uri.map_err(|e| me.refused(&e))?;
    // The QR code's text: it carries the secret; shown once, never logged.
    key_uri_reply(&uri.to_uri(), None).map_err(|_| me.fault("unwritable Key URI"))
}

async fn register(me: Me, Json(b): Json<Code>) -> Reply {
    let serial = serial(&b.serial)?;
    let code = b.code.as_str().into();
    let secret = NewSecret::Provisioned; // the secret `provision` created
    me.submit(Event::Register {
        serial,
        secret,
        code,
    })
    .await
}

/// A transfer the customer confirms with a code: booked in the database
/// transaction that spends the code, so both commit or neither does.
async fn transfer(me: Me, Json(b): Json<CodedTransfer>) -> Reply {
    let transfer = b.transfer()?;
    let booked = me
        .bank
        .verify_transaction_with(&me.customer, &me.by, &b.code, &me.ctx, book(&me, transfer))
        .await;
    let (proof, id) = booked.map_err(|e| me.not_booked(e))?;
    Ok(Json(
        json!({ "transfer": id, "authorized_step": proof.claimed().value() }),
    ))
}

/// A transfer signed by the response the customer's app computed for its
/// payee: booked in the transaction that accepts the signature, with the
/// digest the proof carries (the audit row has the same).
async fn sign_transfer(me: Me, Json(b): Json<SignedTransfer>) -> Reply {
    let (transfer, booking) = (b.transfer()?, b.transfer()?);
    let booked = me
        .bank
        .sign_transaction_with(
            &me.customer,
            &me.by,
            &transfer,
            &b.response,
            &me.ctx,
            book(&me, booking),
        )
        .await;
    let (proof, id) = booked.map_err(|e| me.not_booked(e))?;
    let digest = proof
        .transaction()
        .ok_or_else(|| me.fault("a signature without its digest"))?;
    Ok(Json(
        json!({ "transfer": id, "signed": hex::encode(digest) }),
    ))
}

/// Books `transfer` on the open transaction of the accepted code, against
/// its proof; answers the booking's id.
fn book(
    me: &Me,
    transfer: Transaction,
) -> impl for<'c> FnOnce(&'c mut PgConnection, &'c PendingProof) -> BookingFuture<'c, i64, sqlx::Error>
{
    let customer = me.customer.to_string();
    move |tx, proof| {
        let version = i64::try_from(proof.version());
        let digest = proof.transaction().map(|d| d.to_vec());
        let amount = transfer.total();
        let payees: Vec<String> = transfer
            .payments()
            .iter()
            .map(|p| p.payee.to_string())
            .collect();
        Box::pin(async move {
            let too_large = |e| sqlx::Error::Encode(Box::new(e));
            let version = version.map_err(too_large)?;
            let minor_units = i64::try_from(amount.minor_units).map_err(too_large)?;
            sqlx::query_scalar(
                "INSERT INTO bank_transfers (customer_id, amount_minor, currency, payee, \
                 authorized_version, transaction_digest) VALUES ($1, $2, $3, $4, $5, $6) \
                 RETURNING id",
            )
            .bind(customer)
            .bind(minor_units)
            .bind(amount.currency.to_string())
            .bind(payees.join(","))
            .bind(version)
            .bind(digest)
            .fetch_one(&mut *tx)
            .await
        })
    }
}

async fn login(me: Me, Json(b): Json<LoginCode>) -> Reply {
    let check = me
        .bank
        .login(&me.customer, &me.by, b.code.as_deref(), &me.ctx)
        .await;
    match check.map_err(|e| me.refused(&e))? {
        LoginCheck::NotRequired => Ok(Json(json!({ "otp": "not_required" }))),
        LoginCheck::Verified(proof) => Ok(Json(
            json!({ "otp": "verified", "step": proof.claimed().value() }),
        )),
        // An answer this service does not know: fail closed.
        _ => Err(me.fault("unknown login answer")),
    }
}

/// Begins a swap with the old phone's code; the answer carries the Key URI
/// of the new phone's secret, which the swap fixed (shown once, never logged).
async fn begin_swap(me: Me, Json(b): Json<SwapStart>) -> Result<Response, Refusal> {
    let to = SwapTo::Generated {
        account: b.account.clone(),
    };
    let event = Event::BeginSwap {
        code: b.code.as_str().into(),
        to,
    };
    let applied = me.bank.submit(&me.customer, &me.by, event, &me.ctx).await;
    let applied = applied.map_err(|e| me.refused(&e))?;
    let uri = applied
        .key_uri
        .ok_or_else(|| me.fault("a swap begun without its Key URI"))?;
    let state = applied.to.to_string();
    key_uri_reply(&uri.to_uri(), Some(&state)).map_err(|_| me.fault("unwritable Key URI"))
}

async fn finish_swap(me: Me, Json(b): Json<Code>) -> Reply {
    // The secret is the one `swap/begin` fixed: nothing here can change it.
    let (serial, code) = (serial(&b.serial)?, b.code.as_str().into());
    me.submit(Event::CompleteSwap { serial, code }).await
}

/// Stop using the token (利用中止), proven by its code: back to the transfer password.
async fn stop(me: Me, Json(b): Json<Code>) -> Reply {
    me.submit(Event::Stop {
        code: b.code.as_str().into(),
    })
    .await
}

/// `{"key_uri": ..}` (and `"state"`), JSON-escaped into a buffer wiped when
/// the response body is dropped: the Key URI carries the secret.
///
/// # Errors
/// If serde_json fails to write it (writing into a `Vec` does not fail).
pub fn key_uri_json(key_uri: &str, state: Option<&str>) -> serde_json::Result<Zeroizing<Vec<u8>>> {
    #[derive(Serialize)]
    struct Answer<'a> {
        #[serde(skip_serializing_if = "Option::is_none")]
        state: Option<&'a str>,
        key_uri: &'a str,
    }
    // Room for the worst case (each byte escaped as `\u00XX`): the buffer
    // never grows, so no unwiped copy is left behind by a reallocation.
    let text = key_uri.len().saturating_add(state.map_or(0, str::len));
    let mut json = Zeroizing::new(Vec::with_capacity(
        text.saturating_mul(6).saturating_add(64),
    ));
    serde_json::to_writer(&mut *json, &Answer { state, key_uri })?;
    Ok(json)
}

/// The answer carrying a Key URI, never cached. Its bytes are wiped once
/// hyper drops the body; what hyper's and TLS's write buffers (and the
/// client) keep of it is beyond this service's reach.
fn key_uri_reply(key_uri: &str, state: Option<&str>) -> serde_json::Result<Response> {
    let body = Body::from(Bytes::from_owner(key_uri_json(key_uri, state)?));
    let headers = [
        (CONTENT_TYPE, "application/json"),
        (CACHE_CONTROL, "no-store"),
    ];
    Ok((headers, body).into_response())
}

/// An operator's request: the operator the credential names (in the audit
/// as `Principal::operator`), with the audit context.
struct Staff {
    bank: Arc<Service>,
    by: Principal,
    ctx: RequestContext,
}

impl FromRequestParts<Operators> for Staff {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, state: &Operators) -> Result<Self, Refusal> {
        let operator = state
            .auth
            .operator(&parts.headers)
            .map_err(unauthenticated)?;
        let (bank, ctx) = (state.bank.clone(), context(&parts.headers)?);
        Ok(Self {
            bank,
            by: Principal::operator(operator),
            ctx,
        })
    }
}

impl Staff {
    fn customer(&self, id: &str) -> Result<CustomerId, Refusal> {
        CustomerId::new(id).map_err(|_| refusal(StatusCode::BAD_REQUEST, "invalid customer id"))
    }

    /// A read that failed: the precise error to the log, 503 or 500.
    fn store_fault(&self, customer: &CustomerId, e: &otpguard::StoreError) -> Refusal {
        eprintln!(
            "customer {customer} by {} [{}]: read failed: {e}",
            self.by, self.ctx
        );
        if e.is_corrupt() {
            refusal(StatusCode::INTERNAL_SERVER_ERROR, "the record is corrupt")
        } else {
            refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store could not be read",
            )
        }
    }

    /// Submits an event for customer `id`; answers the new state, or the
    /// precise refusal (operators need it to help the customer on the phone).
    async fn submit(&self, id: &str, event: Event) -> Reply {
        let customer = self.customer(id)?;
        let applied = self
            .bank
            .submit(&customer, &self.by, event, &self.ctx)
            .await;
        let applied = applied.map_err(|e| {
            let (by, ctx, category) = (&self.by, &self.ctx, e.category());
            eprintln!(
                "customer {customer} by {by} [{ctx}]: refused: {} ({}): {e}",
                e.code(),
                category.code()
            );
            let status = match category {
                ErrorCategory::Retry => StatusCode::SERVICE_UNAVAILABLE,
                ErrorCategory::Bank => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::CONFLICT,
            };
            (
                status,
                Json(json!({ "error": e.to_string(), "code": e.code() })),
            )
        })?;
        Ok(Json(json!({ "state": applied.to.to_string() })))
    }
}

/// `LostDevice` or `Operator` (`TooManyFailures` is the System's alone).
async fn suspend(staff: Staff, Path(id): Path<String>, Json(b): Json<Reason>) -> Reply {
    let reason = b.reason.parse::<SuspendReason>().map_err(unknown)?;
    staff.submit(&id, Event::Suspend { reason }).await
}

async fn resume(staff: Staff, Path(id): Path<String>) -> Reply {
    staff.submit(&id, Event::Resume).await
}

/// `LostDevice`, `AppRemoved` or `DeviceUnusable`.
async fn reissue(staff: Staff, Path(id): Path<String>, Json(b): Json<Reason>) -> Reply {
    let reason = b.reason.parse::<ReissueReason>().map_err(unknown)?;
    staff.submit(&id, Event::Reissue { reason }).await
}

/// The customer's token as an operator's screen shows it: its state,
/// serial, failures, hold-back, pending swap; no secret.
async fn summary(staff: Staff, Path(id): Path<String>) -> Reply {
    let customer = staff.customer(&id)?;
    let summary = staff.bank.store().summary(&customer).await;
    match summary.map_err(|e| staff.store_fault(&customer, &e))? {
        None => Err(refusal(StatusCode::NOT_FOUND, "no token record")),
        Some(s) => Ok(Json(json!({
            "state": s.state.to_string(),
            "serial": s.serial.map(|serial| serial.to_string()),
            "failures": s.failures,
            "throttled_until": s.throttled_until,
            "login_otp": s.login_otp,
            "swap_deadline": s.pending_swap.map(|p| p.deadline),
        }))),
    }
}

/// Paging through a customer's trail: `?after=<cursor>&limit=<n>`.
#[derive(Deserialize)]
struct Page {
    after: Option<String>,
    limit: Option<u32>,
}

/// The customer's audit trail, a page at a time, typed: the operator (and
/// the SIEM export, with `AuditQuery::all()`) never writes SQL against
/// otpguard's tables.
async fn audit(staff: Staff, Path(id): Path<String>, Query(page): Query<Page>) -> Reply {
    let customer = staff.customer(&id)?;
    let after = match page.after.as_deref() {
        Some(text) => text
            .parse::<AuditCursor>()
            .map_err(|e| refusal(StatusCode::BAD_REQUEST, &e.to_string()))?,
        None => AuditCursor::START,
    };
    let query = AuditQuery::customer(customer.clone())
        .after(after)
        .limit(page.limit.unwrap_or(100));
    let read = staff.bank.store().read_audit(&query).await;
    let read = read.map_err(|e| staff.store_fault(&customer, &e))?;
    let entries: Vec<Value> = read
        .entries
        .iter()
        .map(|e| match &e.content {
            AuditContent::Event(r) => json!({
                "cursor": e.cursor.to_string(),
                "position": e.position,
                "time": r.time,
                "by": r.principal.to_string(),
                "event": r.event.to_string(),
                "outcome": r.outcome.to_string(),
                "code": r.reason.code(),
                "reason": r.reason.to_string(),
                "to": r.to.to_string(),
            }),
            AuditContent::Store(r) => json!({
                "cursor": e.cursor.to_string(),
                "position": e.position,
                "time": r.time,
                "by": "System",
                "event": r.event,
                "outcome": r.outcome.to_string(),
                "code": r.reason.code(),
                "reason": r.reason.to_string(),
            }),
            // A row that does not decode: shown as such, never skipped.
            _ => json!({
                "cursor": e.cursor.to_string(),
                "position": e.position,
                "unreadable": true,
            }),
        })
        .collect();
    Ok(Json(
        json!({ "entries": entries, "next": read.next.to_string() }),
    ))
}

/// A reason that names none.
fn unknown(e: UnknownName) -> Refusal {
    refusal(StatusCode::BAD_REQUEST, &e.to_string())
}

fn unauthenticated(_: Unauthenticated) -> Refusal {
    refusal(StatusCode::UNAUTHORIZED, "not authenticated")
}

/// The audit records' context: the gateway's `x-request-id`, if any, as a
/// checked label (add the client's address as `source`).
fn context(h: &HeaderMap) -> Result<RequestContext, Refusal> {
    let mut ctx = RequestContext::new();
    if let Some(value) = h.get("x-request-id") {
        let label = value.to_str().ok().and_then(|text| Label::new(text).ok());
        let invalid = || refusal(StatusCode::BAD_REQUEST, "invalid x-request-id");
        ctx.request_id = Some(label.ok_or_else(invalid)?);
    }
    Ok(ctx)
}

fn serial(text: &str) -> Result<TokenSerial, Refusal> {
    TokenSerial::new(text).map_err(|_| refusal(StatusCode::BAD_REQUEST, "invalid serial number"))
}

fn refusal(status: StatusCode, message: &str) -> Refusal {
    (status, Json(json!({ "error": message })))
}

/// An environment variable, read into a buffer wiped on drop.
fn secret_env(name: &str) -> Result<Zeroizing<String>, String> {
    std::env::var(name)
        .map(Zeroizing::new)
        .map_err(|_| format!("set {name}"))
}

fn addr_env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = secret_env("DATABASE_URL")?;
    let keyring = Keyring::from_hex(KeyId(1), &secret_env("OTPGUARD_SEAL_KEY")?)
        .map_err(|_| "OTPGUARD_SEAL_KEY must be 64 hex digits")?;
    let session = secret_env("OTPGUARD_SESSION_KEY")?;
    let operator = secret_env("OTPGUARD_OPERATOR_KEY")?;
    if session.trim().eq_ignore_ascii_case(operator.trim()) {
        return Err("OTPGUARD_SESSION_KEY and OTPGUARD_OPERATOR_KEY must differ".into());
    }
    let (sessions, operators) = (
        TokenKey::from_hex(SESSION, &session)?,
        TokenKey::from_hex(OPERATOR, &operator)?,
    );
    let store = PostgresStore::new(pool_options().connect(&url).await?, keyring);
    store.migrate().await?; // creates or upgrades the schema; safe at every start
    bank_schema(store.pool()).await?;
    let bank = Arc::new(Lifecycle::new(config()?, store, SystemClock));
    let customers =
        tokio::net::TcpListener::bind(addr_env("OTPGUARD_CUSTOMER_ADDR", "127.0.0.1:8080")).await?;
    let staff =
        tokio::net::TcpListener::bind(addr_env("OTPGUARD_OPERATOR_ADDR", "127.0.0.1:8081")).await?;
    eprintln!(
        "customers on {}, operators on {}",
        customers.local_addr()?,
        staff.local_addr()?
    );
    tokio::try_join!(
        axum::serve(customers, customer_app(bank.clone(), SessionKey(sessions))).into_future(),
        axum::serve(staff, operator_app(bank, OperatorKey(operators))).into_future(),
    )?;
    Ok(())
}
