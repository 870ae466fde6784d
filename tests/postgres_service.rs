//! The reference web service (`examples/postgres_service.rs`) driven
//! through its two routers against a real PostgreSQL server: provision,
//! register with the Key URI's code, a transfer and its double submit, the
//! coarse answers customers get, the operator channel; and the attacks the
//! service must refuse: a session used for another customer, a spoofed
//! operator header, a customer's token on the operator channel. A request
//! during a database outage is answered within the pool's timeout.
//!
//! The lifecycle runs on the system clock, as in production. Each code is
//! generated for an explicit time step right before it is sent, and the
//! default window (one step either side) absorbs a step boundary crossed
//! in between.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

mod lifecycle_support;
#[path = "../examples/postgres_service.rs"]
#[allow(dead_code)]
mod service;
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use lifecycle_support::transfer_to;
use otpguard::lifecycle::postgres::{sqlx, PostgresStore};
use otpguard::lifecycle::Lifecycle;
use otpguard::ocra::{Input, Ocra};
use otpguard::seal::{KeyId, Keyring};
use otpguard::{Clock, KeyUri, SystemClock, Totp};
use serde_json::{json, Value};
use service::{OperatorKey, SessionKey, TokenKey};
use support::postgres_server::PostgresServer;
use tower::ServiceExt;

const CUSTOMER: &str = "cif-0001234";
const OTHER: &str = "cif-0009999";
const SESSION_KEY: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const OPERATOR_KEY: &str = "2222222222222222222222222222222222222222222222222222222222222222";

/// The service as its `main` wires it, on a throwaway server: one
/// lifecycle behind the customer and the operator routers.
struct Bank {
    pg: PostgresServer,
    pool: sqlx::PgPool,
    customers: Router,
    operators: Router,
}

async fn start() -> Bank {
    let pg = PostgresServer::start();
    let pool = service::pool_options().connect(&pg.url()).await.unwrap();
    let store = PostgresStore::new(
        pool.clone(),
        Keyring::from_hex(KeyId(1), &"42".repeat(32)).unwrap(),
    );
    store.migrate().await.unwrap();
    service::bank_schema(&pool).await.unwrap();
    let bank = Arc::new(Lifecycle::new(
        service::config().unwrap(),
        store,
        SystemClock,
    ));
    let customers = service::customer_app(bank.clone(), SessionKey(sessions()));
    let operators = service::operator_app(bank, OperatorKey(staff()));
    Bank {
        pg,
        pool,
        customers,
        operators,
    }
}

fn sessions() -> TokenKey {
    TokenKey::from_hex(service::SESSION, SESSION_KEY).unwrap()
}

fn staff() -> TokenKey {
    TokenKey::from_hex(service::OPERATOR, OPERATOR_KEY).unwrap()
}

fn in_ten_minutes() -> u64 {
    SystemClock.now() + 600
}

/// `Authorization` for a session of `customer`, as the bank's login issues it.
fn session(customer: &str) -> String {
    format!("Bearer {}", sessions().issue(customer, in_ten_minutes()))
}

/// `Authorization` for operator `id`, as the staff's sign-on issues it.
fn operator(id: &str) -> String {
    format!("Bearer {}", staff().issue(id, in_ten_minutes()))
}

/// POSTs `body` to `path` with `headers` (and `x-request-id: req-42`);
/// the status, the headers and the JSON answer (`Null` for an empty body).
async fn send<V: AsRef<str>>(
    app: &Router,
    path: &str,
    headers: &[(&str, V)],
    body: Value,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = Request::post(path)
        .header("content-type", "application/json")
        .header("x-request-id", "req-42");
    for (name, value) in headers {
        request = request.header(*name, value.as_ref());
    }
    let request = request.body(Body::from(body.to_string())).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap();
    if bytes.is_empty() {
        return (status, headers, Value::Null);
    }
    let answer = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{path}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, headers, answer)
}

/// POSTs `body` to `path`, authorised by `auth` (an `Authorization` value).
async fn post(app: &Router, path: &str, auth: &str, body: Value) -> (StatusCode, Value) {
    let (status, _, answer) = send(app, path, &[("authorization", auth)], body).await;
    (status, answer)
}

/// GETs `path` as `auth`: the status and the JSON answer.
async fn get(app: &Router, path: &str, auth: &str) -> (StatusCode, Value) {
    let request = Request::get(path)
        .header("authorization", auth)
        .body(Body::empty())
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 256 * 1024)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// The current time step of the phone's clock, plus `ahead`.
fn step(phone: &Totp, ahead: u64) -> u64 {
    phone.step_at(SystemClock.now()).unwrap() + ahead
}

/// The code the phone shows `ahead` steps from now.
fn code(phone: &Totp, ahead: u64) -> String {
    phone.generate_step(step(phone, ahead)).to_string()
}

/// A six-digit code the phone does not show anywhere near now.
fn wrong_code(phone: &Totp) -> String {
    let now = step(phone, 0);
    let near: Vec<String> = (now - 2..=now + 2)
        .map(|s| phone.generate_step(s).to_string())
        .collect();
    ["000000", "111111", "222222", "333333", "444444"]
        .into_iter()
        .find(|c| !near.iter().any(|n| n == c))
        .unwrap()
        .to_owned()
}

/// One audit row: event, outcome, reason, principal, request id.
type Row = (String, String, String, Option<String>, Option<String>);

/// `customer`'s audit rows, in commit order.
async fn audit(pool: &sqlx::PgPool, customer: &str) -> Vec<Row> {
    sqlx::query_as(
        "SELECT event, outcome, reason, principal, request_id FROM otpguard_audit \
         WHERE customer_id = $1 ORDER BY link NULLS FIRST, id",
    )
    .bind(customer)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// `customer`'s record row, every column, as text.
async fn record(pool: &sqlx::PgPool, customer: &str) -> Option<String> {
    sqlx::query_scalar("SELECT r::text FROM otpguard_token_records r WHERE customer_id = $1")
        .bind(customer)
        .fetch_optional(pool)
        .await
        .unwrap()
}

/// Provisions a token for `account` as `customer` and returns its Key URI;
/// the answer is JSON that no cache keeps.
async fn key_uri(app: &Router, customer: &str, account: &str) -> KeyUri {
    let auth = [("authorization", session(customer))];
    let auth: Vec<(&str, &str)> = auth.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let body = json!({ "account": account });
    let (status, headers, answer) = send(app, "/me/provision", &auth, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["cache-control"], "no-store");
    let uri = answer["key_uri"].as_str().unwrap();
    let prefix = format!("otpauth://totp/Example%20Bank:{account}?");
    assert!(uri.starts_with(&prefix), "{uri}");
    KeyUri::parse(uri).unwrap()
}

/// Provisions and registers a token for `customer` with serial `serial`;
/// returns the phone.
async fn enrolled(app: &Router, customer: &str, serial: &str) -> Totp {
    let phone = key_uri(app, customer, "someone").await.to_totp().unwrap();
    let body = json!({ "serial": serial, "code": code(&phone, 0) });
    let answer = post(app, "/me/register", &session(customer), body).await;
    assert_eq!(answer, (StatusCode::OK, json!({ "state": "Active" })));
    phone
}

fn customer_paths() -> [&'static str; 8] {
    [
        "/me/provision",
        "/me/register",
        "/me/transfer",
        "/me/transfer/sign",
        "/me/login",
        "/me/swap/begin",
        "/me/swap/complete",
        "/me/stop",
    ]
}

/// A transfer of JPY 50,000 to account 12345671, confirmed by `code`.
fn transfer(code: &str) -> Value {
    json!({ "code": code, "amount": 50_000, "currency": "JPY", "payee": "12345671" })
}

/// The transfers the bank booked for `customer`: (amount, version of the
/// acceptance that authorised it).
async fn booked(pool: &sqlx::PgPool, customer: &str) -> Vec<(i64, i64)> {
    sqlx::query_as(
        "SELECT amount_minor, authorized_version FROM bank_transfers \
         WHERE customer_id = $1 ORDER BY id",
    )
    .bind(customer)
    .fetch_all(pool)
    .await
    .unwrap()
}

fn coarse() -> (StatusCode, Value) {
    (
        StatusCode::FORBIDDEN,
        json!({ "error": "the code was not accepted" }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_replay_and_the_operator_channel() {
    let bank = start().await;
    let (app, me) = (&bank.customers, session(CUSTOMER));
    let ops = |what: &str| format!("/customers/{CUSTOMER}/{what}");

    // Provision and register with the code the phone shows now.
    let phone = enrolled(app, CUSTOMER, "SN-1001").await;

    // A transfer with the next step's code (the registration spent this
    // one): accepted, and the answer names the step.
    let next = step(&phone, 1);
    let body = transfer(&phone.generate_step(next).to_string());
    // An amount the bank's ledger cannot hold is refused before the code
    // is looked at (nothing audited).
    let mut too_large = body.clone();
    too_large["amount"] = json!(u64::MAX);
    let (status, _) = post(app, "/me/transfer", &me, too_large).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // A booking the bank's database refuses (its own limit): nothing
    // committed, and the code not spent.
    bank.pg.psql(
        "ALTER TABLE bank_transfers ADD CONSTRAINT under_a_million CHECK (amount_minor < 1000000)",
    );
    let mut over_limit = body.clone();
    over_limit["amount"] = json!(2_000_000);
    let (status, _) = post(app, "/me/transfer", &me, over_limit).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(booked(&bank.pool, CUSTOMER).await.is_empty());
    let (status, answer) = post(app, "/me/transfer", &me, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["authorized_step"], json!(next));
    assert!(
        answer["transfer"].as_i64().is_some_and(|id| id > 0),
        "{answer}"
    );
    // Booked once, in the transaction of the acceptance (version 3:
    // provisioned, registered, accepted).
    assert_eq!(booked(&bank.pool, CUSTOMER).await, [(50_000, 3)]);

    // The double submit is refused, coarsely, exactly as a wrong code is:
    // the customer cannot tell a replay (a right code) from a wrong one.
    assert_eq!(post(app, "/me/transfer", &me, body).await, coarse());
    let wrong = transfer(&wrong_code(&phone));
    assert_eq!(post(app, "/me/transfer", &me, wrong).await, coarse());
    assert_eq!(booked(&bank.pool, CUSTOMER).await.len(), 1);
    let rows = audit(&bank.pool, CUSTOMER).await;
    let outcomes: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        outcomes,
        ["accepted", "accepted", "refused", "accepted", "refused", "refused"]
    );
    assert!(
        rows[2].2.contains("not spent")
            && rows[4].2.contains("replay")
            && rows[5].2.contains("wrong"),
        "{rows:?}"
    );
    let web = (Some("web"), Some("req-42"));
    assert!(
        rows.iter().all(|r| (r.3.as_deref(), r.4.as_deref()) == web),
        "{rows:?}"
    );

    // The operator channel: suspend; the customer's code is then refused
    // with the same coarse answer (the default policy tells no lock-out).
    let op = operator("op-417");
    let suspend = json!({ "reason": "Operator" });
    let answer = post(&bank.operators, &ops("suspend"), &op, suspend).await;
    assert_eq!(
        answer,
        (StatusCode::OK, json!({ "state": "Suspended(Operator)" }))
    );
    let body = transfer(&code(&phone, 1));
    assert_eq!(post(app, "/me/transfer", &me, body).await, coarse());

    // The operator's screen: the token's summary, and its trail read back
    // typed, a page at a time, each entry with its stable code.
    let (status, summary) = get(&bank.operators, &format!("/customers/{CUSTOMER}"), &op).await;
    assert_eq!(status, StatusCode::OK, "{summary}");
    assert_eq!(
        (&summary["state"], &summary["serial"], &summary["failures"]),
        (&json!("Suspended(Operator)"), &json!("SN-1001"), &json!(1))
    );
    let trail = |after: &str| format!("/customers/{CUSTOMER}/audit?limit=5{after}");
    let (status, first) = get(&bank.operators, &trail(""), &op).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    let next = first["next"].as_str().unwrap().to_owned();
    let (_, second) = get(&bank.operators, &trail(&format!("&after={next}")), &op).await;
    let codes: Vec<&str> = first["entries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["entries"].as_array().unwrap())
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "applied",
            "applied",
            "booking_failed",
            "applied",
            "replayed",
            "wrong_code",
            "applied",
            "not_permitted"
        ]
    );
    // Operators' reads are the operator router's alone.
    let (status, _) = get(app, &format!("/customers/{CUSTOMER}/audit"), &me).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = get(&bank.operators, &trail(""), &me).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Resume, then the operator gets the precise refusal of a second one.
    let answer = post(&bank.operators, &ops("resume"), &op, json!({})).await;
    assert_eq!(answer, (StatusCode::OK, json!({ "state": "Active" })));
    let (status, answer) = post(&bank.operators, &ops("resume"), &op, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(answer["code"], "not_permitted");
    let text = answer["error"].as_str().unwrap();
    assert!(
        text.contains("Resume by Operator is not permitted in state Active"),
        "{text}"
    );

    // Reissue for a lost phone: the customer's codes are refused, coarsely.
    let reissue = json!({ "reason": "LostDevice" });
    let answer = post(&bank.operators, &ops("reissue"), &op, reissue).await;
    assert_eq!(answer, (StatusCode::OK, json!({ "state": "Reissued" })));
    // (The customer hears of the reissue out of band, from its notice.)
    let body = transfer(&code(&phone, 1));
    assert_eq!(post(app, "/me/transfer", &me, body).await, coarse());

    // The operator's events name the operator in the audit trail.
    let rows = audit(&bank.pool, CUSTOMER).await;
    let by_operator: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r.3.as_deref() == Some("op-417"))
        .map(|r| (r.0.as_str(), r.1.as_str()))
        .collect();
    assert_eq!(
        by_operator,
        [
            ("Suspend(Operator)", "accepted"),
            ("Resume", "accepted"),
            ("Resume", "refused"),
            ("Reissue", "accepted")
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_swap_to_a_new_phone_and_stop() {
    let bank = start().await;
    let (app, me) = (&bank.customers, session(CUSTOMER));
    let state = |name: &str| (StatusCode::OK, json!({ "state": name }));

    let old = enrolled(app, CUSTOMER, "SN-2001").await;

    // The login OTP is off: no code is asked.
    let answer = post(app, "/me/login", &me, json!({})).await;
    assert_eq!(answer, (StatusCode::OK, json!({ "otp": "not_required" })));

    // Swap: the old phone's code begins it and fixes the new phone's
    // secret, whose Key URI the answer carries; nothing provisions another
    // while swapping; the new phone's serial and code complete it.
    let body = json!({ "code": code(&old, 1), "account": "bob" });
    let (status, answer) = post(app, "/me/swap/begin", &me, body).await;
    assert_eq!(
        (status, &answer["state"]),
        (StatusCode::OK, &json!("Swapping"))
    );
    let new = KeyUri::parse(answer["key_uri"].as_str().unwrap())
        .unwrap()
        .to_totp()
        .unwrap();
    let (status, _) = post(app, "/me/provision", &me, json!({ "account": "eve" })).await;
    assert_ne!(status, StatusCode::OK);
    let body = json!({ "serial": "SN-2002", "code": code(&new, 0) });
    assert_eq!(
        post(app, "/me/swap/complete", &me, body).await,
        state("Active")
    );

    // The old phone is retired: its codes are refused, coarsely.
    let body = json!({ "code": code(&old, 1) });
    assert_eq!(post(app, "/me/stop", &me, body).await, coarse());

    // Stop (利用中止) with the new phone's code: back to the transfer password.
    let body = json!({ "code": code(&new, 1) });
    assert_eq!(
        post(app, "/me/stop", &me, body).await,
        state("Unregistered")
    );

    let events: Vec<String> = audit(&bank.pool, CUSTOMER)
        .await
        .into_iter()
        .map(|r| format!("{} {}", r.0, r.1))
        .collect();
    assert_eq!(
        events,
        [
            "Provision accepted",
            "Register accepted",
            "VerifyLogin accepted",
            "BeginSwap accepted",
            "Provision refused",
            "CompleteSwap accepted",
            "Stop refused",
            "Stop accepted"
        ]
    );
}

/// Transaction authentication through the service: the app signs the
/// payee's account number; the service refuses the response for a changed
/// payee and a replay with the same coarse answer, and the audit rows hold
/// the digest of each transfer presented.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_signed_with_the_payee_account_number() {
    let bank = start().await;
    let (app, me) = (&bank.customers, session(CUSTOMER));
    let uri = key_uri(app, CUSTOMER, "alice").await;
    let suite = uri
        .ocra_suite()
        .expect("the Key URI carries the signing suite");
    let (phone, app_signs) = (uri.to_totp().unwrap(), Ocra::new(uri.secret(), suite));
    let body = json!({ "code": code(&phone, 0), "serial": "SN-1" });
    let (status, answer) = post(app, "/me/register", &me, body).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let response = app_signs
        .generate(&Input::new("12345671").time(SystemClock.now()))
        .unwrap()
        .to_string();
    let body = |payee: &str| json!({ "amount": 120_000, "currency": "JPY", "payee": payee, "response": response });
    let (status, refused) = post(app, "/me/transfer/sign", &me, body("87654321")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, signed) = post(app, "/me/transfer/sign", &me, body("12345671")).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let transfer = transfer_to("12345671", 120_000);
    let hex: String = transfer
        .digest()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(signed["signed"], json!(hex));
    let digests: Vec<Option<Vec<u8>>> =
        sqlx::query_scalar("SELECT transaction_digest FROM bank_transfers WHERE customer_id = $1")
            .bind(CUSTOMER)
            .fetch_all(&bank.pool)
            .await
            .unwrap();
    assert_eq!(
        digests,
        [Some(transfer.digest().to_vec())],
        "booked once, with its digest"
    );
    // The replay answers exactly as the changed payee did.
    assert_eq!(
        post(app, "/me/transfer/sign", &me, body("12345671")).await,
        (StatusCode::FORBIDDEN, refused)
    );
    // A malformed request changes nothing and is not audited.
    let malformed = json!({ "amount": 1, "currency": "yen", "payee": "1", "response": "1" });
    let (status, _) = post(app, "/me/transfer/sign", &me, malformed).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let rows: Vec<(String, String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT event, outcome, transaction_digest FROM otpguard_audit \
         WHERE customer_id = $1 AND event = 'SignTransaction' ORDER BY link NULLS FIRST, id",
    )
    .bind(CUSTOMER)
    .fetch_all(&bank.pool)
    .await
    .unwrap();
    let diverted = transfer_to("87654321", 120_000);
    let row = |outcome: &str, digest: [u8; 32]| {
        (
            "SignTransaction".to_owned(),
            outcome.to_owned(),
            Some(digest.to_vec()),
        )
    };
    assert_eq!(
        rows,
        [
            row("refused", diverted.digest()),
            row("accepted", transfer.digest()),
            row("refused", transfer.digest())
        ]
    );
}

/// A customer's session acts on that customer only: no route takes a
/// customer id, and a token edited to name another customer, an expired
/// one, one signed under another key, or none at all gets 401 on every
/// route, before the lifecycle sees it. The other customer's record and
/// audit trail are untouched, even by requests carrying that customer's
/// own valid codes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_cannot_act_on_another_customer() {
    let bank = start().await;
    let app = &bank.customers;
    let _mine = enrolled(app, CUSTOMER, "SN-A").await;
    let theirs = enrolled(app, OTHER, "SN-B").await;
    let (trail, row) = (
        audit(&bank.pool, OTHER).await,
        record(&bank.pool, OTHER).await,
    );
    assert_eq!(trail.len(), 2);
    assert!(row.is_some());

    // The attacker holds a valid session for CUSTOMER; each forgery names
    // OTHER. Their bodies carry OTHER's current codes, which would be
    // accepted on OTHER's token.
    let own = sessions().issue(CUSTOMER, in_ten_minutes());
    let (_, tail) = own.split_once('.').unwrap();
    let forgeries = [
        // A's signature, B's id.
        format!("Bearer {OTHER}.{tail}"),
        // B's id and a valid tag, expired a second ago.
        format!("Bearer {}", sessions().issue(OTHER, SystemClock.now() - 1)),
        // B's id signed under the operator key.
        format!("Bearer {}", staff().issue(OTHER, in_ten_minutes())),
        // A's token with a later expiry, A's tag.
        own.rsplit_once('.')
            .map(|(signed, tag)| {
                let (id, _) = signed.rsplit_once('.').unwrap();
                format!("Bearer {id}.{}.{tag}", in_ten_minutes() + 3600)
            })
            .unwrap(),
        // B's id alone, a tag of the wrong length, another scheme, nothing.
        format!("Bearer {OTHER}"),
        format!("Bearer {OTHER}.{}.00", in_ten_minutes()),
        format!("Basic {}", sessions().issue(OTHER, in_ten_minutes())),
        String::new(),
    ];
    for auth in &forgeries {
        for path in customer_paths() {
            let body = json!({
                "code": code(&theirs, 1), "serial": "SN-X", "account": "mallory",
                "amount": 1, "currency": "JPY", "payee": "12345671", "response": code(&theirs, 1),
            });
            let headers: &[(&str, &str)] = if auth.is_empty() {
                &[]
            } else {
                &[("authorization", auth)]
            };
            let (status, _, answer) = send(app, path, headers, body).await;
            assert_eq!(
                (status, answer),
                (
                    StatusCode::UNAUTHORIZED,
                    json!({ "error": "not authenticated" })
                ),
                "{path} with {auth:?}"
            );
        }
    }
    // Nor does a path naming OTHER reach anything on the customer router.
    let (status, _) = post(
        app,
        &format!("/customers/{OTHER}/stop"),
        &session(CUSTOMER),
        json!({ "code": code(&theirs, 1) }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // CUSTOMER's own session with OTHER's valid code acts on CUSTOMER's
    // token: refused there as a wrong code, and OTHER is not touched.
    let body = json!({ "code": code(&theirs, 1) });
    assert_eq!(
        post(app, "/me/stop", &session(CUSTOMER), body).await,
        coarse()
    );
    let mine = audit(&bank.pool, CUSTOMER).await;
    assert_eq!(
        (mine.len(), mine[2].0.as_str(), mine[2].1.as_str()),
        (3, "Stop", "refused")
    );

    assert_eq!(audit(&bank.pool, OTHER).await, trail);
    assert_eq!(record(&bank.pool, OTHER).await, row);
}

/// The operator channel is a router of its own, with its own credential:
/// the customer router serves no operator route, whatever headers a
/// request carries; the operator router refuses a request without an
/// operator token (an `x-operator-id` header is no credential), with a
/// customer's session, or with an edited or expired operator token. A
/// valid token acts, and the audit row names its operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operator_routes_need_an_operator_token() {
    let bank = start().await;
    let _phone = enrolled(&bank.customers, OTHER, "SN-B").await;
    let (trail, row) = (
        audit(&bank.pool, OTHER).await,
        record(&bank.pool, OTHER).await,
    );
    let suspend = json!({ "reason": "LostDevice" });
    let spoofed = ("x-operator-id", "ops-1");

    // The customer router: no operator route, with or without a session.
    let own = session(CUSTOMER);
    for path in [
        format!("/customers/{OTHER}/suspend"),
        format!("/operator/customers/{OTHER}/suspend"),
        format!("/customers/{OTHER}/reissue"),
    ] {
        for headers in [
            vec![spoofed],
            vec![spoofed, ("authorization", own.as_str())],
        ] {
            let (status, _, _) = send(&bank.customers, &path, &headers, suspend.clone()).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path} {headers:?}");
        }
    }

    // The operator router: 401 without an operator's valid token.
    let signed = staff().issue("ops-1", in_ten_minutes());
    let (id_expiry, tag) = signed.rsplit_once('.').unwrap();
    let (_, expiry) = id_expiry.split_once('.').unwrap();
    let bearer = |token: String| ("authorization", format!("Bearer {token}"));
    let spoofed = ("x-operator-id", "ops-1".to_owned());
    let refused = [
        // The header a gateway was once trusted to set, alone or beside a
        // customer's session.
        vec![spoofed.clone()],
        vec![spoofed, ("authorization", own.clone())],
        // A customer's session, even one whose id reads as an operator's.
        vec![("authorization", session("ops-1"))],
        // An operator token that expired, or edited to name another.
        vec![bearer(staff().issue("ops-1", SystemClock.now() - 1))],
        vec![bearer(format!("ops-2.{expiry}.{tag}"))],
    ];
    let path = format!("/customers/{OTHER}/suspend");
    for headers in &refused {
        let (status, _, answer) = send(&bank.operators, &path, headers, suspend.clone()).await;
        assert_eq!(
            (status, answer),
            (
                StatusCode::UNAUTHORIZED,
                json!({ "error": "not authenticated" })
            ),
            "{headers:?}"
        );
    }
    // Nor does the operator router serve the customer routes.
    let (status, _) = post(
        &bank.operators,
        "/me/stop",
        &own,
        json!({ "code": "123456" }),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(audit(&bank.pool, OTHER).await, trail);
    assert_eq!(record(&bank.pool, OTHER).await, row);
    assert!(audit(&bank.pool, CUSTOMER).await.is_empty());

    // A valid operator token suspends, and the audit row names ops-1.
    let answer = post(&bank.operators, &path, &operator("ops-1"), suspend).await;
    assert_eq!(
        answer,
        (StatusCode::OK, json!({ "state": "Suspended(LostDevice)" }))
    );
    let rows = audit(&bank.pool, OTHER).await;
    let last = rows.last().unwrap();
    assert_eq!(
        (
            last.0.as_str(),
            last.1.as_str(),
            last.3.as_deref(),
            last.4.as_deref()
        ),
        (
            "Suspend(LostDevice)",
            "accepted",
            Some("ops-1"),
            Some("req-42")
        )
    );
    assert_eq!(rows.len(), trail.len() + 1);
}

/// A database outage is answered with the coarse "try again" within the
/// pool's acquire timeout (two seconds), not after sqlx's default 30 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_is_answered_within_the_acquire_timeout() {
    let mut bank = start().await;
    let timeout = bank.pool.options().get_acquire_timeout();
    assert_eq!(timeout, Duration::from_secs(2));
    let me = session(CUSTOMER);
    let phone = enrolled(&bank.customers, CUSTOMER, "SN-1").await;
    let answer = post(&bank.customers, "/me/login", &me, json!({})).await;
    assert_eq!(answer, (StatusCode::OK, json!({ "otp": "not_required" })));

    bank.pg.stop();
    for path in ["/me/login", "/me/transfer"] {
        let started = Instant::now();
        let body = transfer(&code(&phone, 1));
        let answer = post(&bank.customers, path, &me, body).await;
        let elapsed = started.elapsed();
        assert_eq!(
            answer,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "please try again in a moment" })
            ),
            "{path}"
        );
        assert!(
            elapsed < timeout + Duration::from_secs(3),
            "{path}: {elapsed:?}"
        );
    }
}

/// The Key URI answer is JSON with the URI escaped as JSON requires
/// (here with a quote, a backslash and a control character in it), with
/// the state only when given.
#[test]
fn the_key_uri_answer_is_escaped_json() {
    let uri = "otpauth://totp/Bank:a\"b\\c\u{1}?secret=JBSWY3DPEHPK3PXP";
    let json = service::key_uri_json(uri, Some("Swap\"ping")).unwrap();
    let text = std::str::from_utf8(&json).unwrap();
    assert!(text.contains(r#"a\"b\\c\u0001"#), "{text}");
    let parsed: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(parsed, json!({ "state": "Swap\"ping", "key_uri": uri }));
    let parsed: Value = serde_json::from_slice(&service::key_uri_json(uri, None).unwrap()).unwrap();
    assert_eq!(parsed, json!({ "key_uri": uri }));
}
