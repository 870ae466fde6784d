//! A reference web service for a bank's backend: axum routes over a
//! [`Lifecycle`] on the PostgreSQL token store, one handler per endpoint,
//! one lifecycle call each (the flows of `examples/bank_flow.rs`). Run with
//! `DATABASE_URL` and `OTPGUARD_SEAL_KEY` (64 hex digits) set, `--features postgres`.
//!
//! Customers: `POST /customers/{id}/...` (`provision`, `register`, `transfer`,
//! `transfer/sign`, `login`, `swap/begin`, `swap/complete`, `stop`), the customer in the path
//! already logged in by the bank's own authentication in front of this
//! service. Operators: `POST /operator/customers/{id}/...` (`suspend`,
//! `resume`, `reissue`) with `x-operator-id`, a header the staff gateway sets
//! once it authenticated the operator and strips from internet requests.
//! Customers get coarse refusals, operators the precise reason, the log the
//! full error; `otpguard_audit` holds every answer, committed with it.

use std::error::Error;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use otpguard::lifecycle::postgres::{sqlx, PostgresStore};
use otpguard::lifecycle::{
    error::UnknownName, CustomerAnswer, CustomerId, Event, Label, Lifecycle, LifecycleConfig,
    LifecycleError, LoginCheck, NewSecret, Principal, ReissueReason, RequestContext, SuspendReason,
    SwapTo, TokenSerial,
};
use otpguard::ocra::{Amount, Currency, PayeeAccount, Suite, Transaction};
use otpguard::seal::{KeyId, Keyring};
use otpguard::SystemClock;
use serde::Deserialize;
use serde_json::{json, Value};
use zeroize::Zeroizing;

/// The bank's lifecycle: records in PostgreSQL, the system's time.
pub type Service = Lifecycle<PostgresStore, SystemClock>;
type Bank = State<Arc<Service>>;
type Id = Path<String>;
/// A refusal: a status and `{"error": ...}`.
type Refusal = (StatusCode, Json<Value>);
type Reply = Result<Json<Value>, Refusal>;
type Caller = (CustomerId, Principal, RequestContext);
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

/// The routes, over one shared lifecycle.
pub fn app(lifecycle: Arc<Service>) -> Router {
    Router::new()
        .route("/customers/{id}/provision", post(provision))
        .route("/customers/{id}/register", post(register))
        .route("/customers/{id}/transfer", post(transfer))
        .route("/customers/{id}/transfer/sign", post(sign_transfer))
        .route("/customers/{id}/login", post(login))
        .route("/customers/{id}/swap/begin", post(begin_swap))
        .route("/customers/{id}/swap/complete", post(finish_swap))
        .route("/customers/{id}/stop", post(stop))
        .route("/operator/customers/{id}/suspend", post(suspend))
        .route("/operator/customers/{id}/resume", post(resume))
        .route("/operator/customers/{id}/reissue", post(reissue))
        .with_state(lifecycle)
}

#[derive(Deserialize)]
struct Account {
    account: String,
}

/// A code as typed; `register` and `swap/complete` add the new token's serial.
#[derive(Deserialize)]
struct Code {
    code: String,
    #[serde(default)]
    serial: String,
}

/// A transfer as the bank will execute it, and the response the customer's
/// app showed for it.
#[derive(Deserialize)]
struct SignedTransfer {
    /// In the currency's minor unit (yen, cents).
    amount: u64,
    currency: String,
    payee: String,
    response: String,
}

/// Login asks for a code only while the customer's login OTP is on.
#[derive(Deserialize)]
struct SwapStart {
    code: String,
    /// The name the new phone's app shows.
    account: String,
}

#[derive(Deserialize)]
struct LoginCode {
    code: Option<String>,
}

#[derive(Deserialize)]
struct Reason {
    reason: String,
}

async fn provision(State(bank): Bank, Path(id): Id, h: HeaderMap, Json(b): Json<Account>) -> Reply {
    let (customer, web, ctx) = customer_call(&id, &h)?;
    let uri = bank.provision(&customer, &web, &b.account, &ctx).await;
    let uri = uri.map_err(|e| for_customer(&customer, &ctx, e))?;
    // The QR code's text: it carries the secret; shown once, never logged.
    Ok(Json(json!({ "key_uri": uri.to_uri().as_str() })))
}

async fn register(State(bank): Bank, Path(id): Id, h: HeaderMap, Json(b): Json<Code>) -> Reply {
    let event = Event::Register {
        serial: serial(&b.serial)?,
        secret: NewSecret::Provisioned, // the secret `provision` created
        code: b.code.as_str().into(),
    };
    by_customer(&bank, &id, &h, event).await
}

async fn transfer(State(bank): Bank, Path(id): Id, h: HeaderMap, Json(b): Json<Code>) -> Reply {
    let (customer, web, ctx) = customer_call(&id, &h)?;
    let proof = bank
        .verify_transaction(&customer, &web, &b.code, &ctx)
        .await;
    let proof = proof.map_err(|e| for_customer(&customer, &ctx, e))?;
    // A real backend hands `proof` to the payment it authorises.
    Ok(Json(json!({ "authorized_step": proof.claimed().value() })))
}

async fn sign_transfer(
    State(bank): Bank,
    Path(id): Id,
    h: HeaderMap,
    Json(b): Json<SignedTransfer>,
) -> Reply {
    let (customer, web, ctx) = customer_call(&id, &h)?;
    let bad = |what: &str| refusal(StatusCode::BAD_REQUEST, &format!("invalid {what}"));
    let currency = Currency::new(&b.currency).map_err(|_| bad("currency"))?;
    let payee = PayeeAccount::new(&b.payee).map_err(|_| bad("payee account"))?;
    let amount = Amount {
        minor_units: b.amount,
        currency,
    };
    let transfer = Transaction::transfer(amount, payee);
    let proof = bank
        .sign_transaction(&customer, &web, &transfer, &b.response, &ctx)
        .await;
    let proof = proof.map_err(|e| for_customer(&customer, &ctx, e))?;
    // A real backend executes exactly the transaction whose digest the
    // proof carries (the audit row has the same digest).
    let digest = proof.transaction().ok_or_else(|| {
        eprintln!("customer {customer} [{ctx}]: a signature without its digest");
        refusal(StatusCode::INTERNAL_SERVER_ERROR, FAULT)
    })?;
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(Json(json!({ "signed": hex })))
}

async fn login(State(bank): Bank, Path(id): Id, h: HeaderMap, Json(b): Json<LoginCode>) -> Reply {
    let (customer, web, ctx) = customer_call(&id, &h)?;
    let check = bank.login(&customer, &web, b.code.as_deref(), &ctx).await;
    match check.map_err(|e| for_customer(&customer, &ctx, e))? {
        LoginCheck::NotRequired => Ok(Json(json!({ "otp": "not_required" }))),
        LoginCheck::Verified(proof) => Ok(Json(
            json!({ "otp": "verified", "step": proof.claimed().value() }),
        )),
        // An answer this service does not know: fail closed.
        other => {
            eprintln!("customer {customer} [{ctx}]: unknown login answer {other:?}");
            Err(refusal(StatusCode::INTERNAL_SERVER_ERROR, FAULT))
        }
    }
}

/// Begins a swap with the old phone's code; the answer carries the Key URI
/// of the new phone's secret, which the swap fixed (shown once, never logged).
async fn begin_swap(
    State(bank): Bank,
    Path(id): Id,
    h: HeaderMap,
    Json(b): Json<SwapStart>,
) -> Reply {
    let (customer, web, ctx) = customer_call(&id, &h)?;
    let to = SwapTo::Generated { account: b.account };
    let event = Event::BeginSwap {
        code: b.code.as_str().into(),
        to,
    };
    let applied = bank.submit(&customer, &web, event, &ctx).await;
    let applied = applied.map_err(|e| for_customer(&customer, &ctx, e))?;
    let uri = applied.key_uri.ok_or_else(|| {
        eprintln!("customer {customer} [{ctx}]: a swap begun without its Key URI");
        refusal(StatusCode::INTERNAL_SERVER_ERROR, FAULT)
    })?;
    let state = applied.to.to_string();
    Ok(Json(
        json!({ "state": state, "key_uri": uri.to_uri().as_str() }),
    ))
}

async fn finish_swap(State(bank): Bank, Path(id): Id, h: HeaderMap, Json(b): Json<Code>) -> Reply {
    // The secret is the one `swap/begin` fixed: nothing here can change it.
    let event = Event::CompleteSwap {
        serial: serial(&b.serial)?,
        code: b.code.as_str().into(),
    };
    by_customer(&bank, &id, &h, event).await
}

/// Stop using the token (利用中止), proven by its code: back to the transfer password.
async fn stop(State(bank): Bank, Path(id): Id, h: HeaderMap, Json(b): Json<Code>) -> Reply {
    let code = b.code.as_str().into();
    by_customer(&bank, &id, &h, Event::Stop { code }).await
}

/// `LostDevice` or `Operator` (`TooManyFailures` is the System's alone).
async fn suspend(State(bank): Bank, Path(id): Id, h: HeaderMap, Json(b): Json<Reason>) -> Reply {
    let reason = b.reason.parse::<SuspendReason>().map_err(unknown)?;
    by_operator(&bank, &id, &h, Event::Suspend { reason }).await
}

async fn resume(State(bank): Bank, Path(id): Id, h: HeaderMap) -> Reply {
    by_operator(&bank, &id, &h, Event::Resume).await
}

/// `LostDevice`, `AppRemoved` or `DeviceUnusable`.
async fn reissue(State(bank): Bank, Path(id): Id, h: HeaderMap, Json(b): Json<Reason>) -> Reply {
    let reason = b.reason.parse::<ReissueReason>().map_err(unknown)?;
    by_operator(&bank, &id, &h, Event::Reissue { reason }).await
}

/// Submits a customer's event; answers the token's new state.
async fn by_customer(bank: &Service, id: &str, h: &HeaderMap, event: Event) -> Reply {
    let (customer, web, ctx) = customer_call(id, h)?;
    let applied = bank.submit(&customer, &web, event, &ctx).await;
    let applied = applied.map_err(|e| for_customer(&customer, &ctx, e))?;
    Ok(Json(json!({ "state": applied.to.to_string() })))
}

/// Submits an operator's event; answers the new state, or the precise
/// refusal (operators need it to help the customer on the phone).
async fn by_operator(bank: &Service, id: &str, h: &HeaderMap, event: Event) -> Reply {
    use LifecycleError as E;
    let operator = header(h, "x-operator-id")?;
    let operator = operator.ok_or_else(|| refusal(StatusCode::FORBIDDEN, "operators only"))?;
    let (operator, (customer, ctx)) = (Principal::operator(operator), request(id, h)?);
    let applied = bank.submit(&customer, &operator, event, &ctx).await;
    let applied = applied.map_err(|e| {
        eprintln!("customer {customer} by {operator} [{ctx}]: refused: {e:?}");
        let status = match e {
            E::Store(_) | E::Contended { .. } => StatusCode::SERVICE_UNAVAILABLE,
            E::Corrupt(_) | E::Internal(_) | E::Randomness => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::CONFLICT,
        };
        refusal(status, &e.to_string())
    })?;
    Ok(Json(json!({ "state": applied.to.to_string() })))
}

/// A reason that names none.
fn unknown(e: UnknownName) -> Refusal {
    refusal(StatusCode::BAD_REQUEST, &e.to_string())
}

/// Who and where on the customer channel: the customer in the path (whom
/// the bank's login already authenticated), through the "web" channel.
fn customer_call(id: &str, h: &HeaderMap) -> Result<Caller, Refusal> {
    let web = Label::new("web").map_err(|_| refusal(StatusCode::INTERNAL_SERVER_ERROR, FAULT))?;
    let (customer, ctx) = request(id, h)?;
    Ok((customer, Principal::customer(web), ctx))
}

/// The customer in the path, and the audit records' context: the
/// gateway's `x-request-id`, if any (add the client's address as `source`).
fn request(id: &str, h: &HeaderMap) -> Result<(CustomerId, RequestContext), Refusal> {
    let customer = CustomerId::new(id);
    let customer = customer.map_err(|_| refusal(StatusCode::BAD_REQUEST, "invalid customer id"))?;
    let mut ctx = RequestContext::new();
    ctx.request_id = header(h, "x-request-id")?;
    Ok((customer, ctx))
}

/// A header as a checked label (it goes into audit records): `None` if
/// absent, a refusal if it is not a label.
fn header(h: &HeaderMap, name: &str) -> Result<Option<Label>, Refusal> {
    let invalid = || refusal(StatusCode::BAD_REQUEST, &format!("invalid {name}"));
    let label = |value: &HeaderValue| value.to_str().ok().and_then(|text| Label::new(text).ok());
    h.get(name)
        .map(|value| label(value).ok_or_else(invalid))
        .transpose()
}

fn serial(text: &str) -> Result<TokenSerial, Refusal> {
    TokenSerial::new(text).map_err(|_| refusal(StatusCode::BAD_REQUEST, "invalid serial number"))
}

fn refusal(status: StatusCode, message: &str) -> Refusal {
    (status, Json(json!({ "error": message })))
}

/// What a customer is told: the library's coarse answer (never whether a
/// code was wrong or replayed, nor how many failures are counted), with an
/// HTTP status. The log gets it all.
fn for_customer(customer: &CustomerId, ctx: &RequestContext, e: LifecycleError) -> Refusal {
    use CustomerAnswer as A;
    eprintln!("customer {customer} [{ctx}]: refused: {e:?}");
    let answer = e.customer_answer(otpguard::lifecycle::AnswerPolicy::COARSE);
    let status = match answer {
        A::CodeNotAccepted => StatusCode::FORBIDDEN,
        A::TryAgainAt { .. } => StatusCode::TOO_MANY_REQUESTS,
        A::ContactBank => StatusCode::LOCKED,
        A::TryAgain => StatusCode::SERVICE_UNAVAILABLE,
        A::BankError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::CONFLICT,
    };
    let body = match answer {
        A::TryAgainAt { retry_at } => json!({ "error": answer.to_string(), "retry_at": retry_at }),
        _ => json!({ "error": answer.to_string() }),
    };
    (status, Json(body))
}

/// The sealing key from 64 hex characters. The error never quotes it.
fn seal_key(text: &str) -> Result<Zeroizing<[u8; 32]>, &'static str> {
    const BAD: &str = "OTPGUARD_SEAL_KEY must be exactly 64 hex characters (32 bytes)";
    if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(BAD);
    }
    let mut key = Zeroizing::new([0u8; 32]);
    for (byte, pair) in key.iter_mut().zip(text.as_bytes().chunks(2)) {
        let pair = std::str::from_utf8(pair).map_err(|_| BAD)?;
        *byte = u8::from_str_radix(pair, 16).map_err(|_| BAD)?;
    }
    Ok(key)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = Zeroizing::new(std::env::var("DATABASE_URL").map_err(|_| "set DATABASE_URL")?);
    let hex = std::env::var("OTPGUARD_SEAL_KEY").map_err(|_| "set OTPGUARD_SEAL_KEY")?;
    let key = seal_key(Zeroizing::new(hex).trim())?;
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let port: u16 = port.parse().map_err(|_| "PORT must be a port number")?;
    let pool = sqlx::PgPool::connect(&url).await?;
    let store = PostgresStore::new(pool, Keyring::new(KeyId(1), &key)?);
    store.migrate().await?; // creates or upgrades the schema; safe at every start
    let bank = Arc::new(Lifecycle::new(config()?, store, SystemClock));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("otpguard service listening on {}", listener.local_addr()?);
    axum::serve(listener, app(bank)).await?;
    Ok(())
}
