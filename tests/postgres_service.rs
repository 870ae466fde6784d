//! The reference web service (`examples/postgres_service.rs`) driven
//! through its router against a real PostgreSQL server: provision, register
//! with the Key URI's code, a transfer and its double submit, the coarse
//! answers customers get, the operator channel, and a customer kept out of
//! it.
//!
//! The lifecycle runs on the system clock, as in production. Each code is
//! generated for an explicit time step right before it is sent, and the
//! default window (one step either side) absorbs a step boundary crossed
//! in between.

#![cfg(feature = "postgres")]
#![allow(
    clippy::unwrap_used,
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

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use lifecycle_support::transfer_to;
use otpguard::lifecycle::postgres::{sqlx, PostgresStore};
use otpguard::lifecycle::Lifecycle;
use otpguard::ocra::{Input, Ocra};
use otpguard::seal::{KeyId, Keyring};
use otpguard::{Clock, KeyUri, SystemClock, Totp};
use serde_json::{json, Value};
use support::postgres_server::PostgresServer;
use tower::ServiceExt;

const CUSTOMER: &str = "cif-0001234";

/// POSTs `body` to `path` (as the operator `operator`, if given) and
/// returns the status and the JSON answer.
async fn post(
    app: &Router,
    path: &str,
    operator: Option<&str>,
    body: Value,
) -> (StatusCode, Value) {
    let mut request = Request::post(path)
        .header("content-type", "application/json")
        .header("x-request-id", "req-42");
    if let Some(id) = operator {
        request = request.header("x-operator-id", id);
    }
    let request = request.body(Body::from(body.to_string())).unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 64 * 1024)
        .await
        .unwrap();
    let answer = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("{path}: not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, answer)
}

/// The current time step of the phone's clock, plus `ahead`.
fn step(phone: &Totp, ahead: u64) -> u64 {
    phone.step_at(SystemClock.now()).unwrap() + ahead
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

/// The customer's audit rows, in commit order.
async fn audit(pool: &sqlx::PgPool) -> Vec<Row> {
    sqlx::query_as(
        "SELECT event, outcome, reason, principal, request_id FROM otpguard_audit \
         WHERE customer_id = $1 ORDER BY link NULLS FIRST, id",
    )
    .bind(CUSTOMER)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// A server, a pool on it, and the service's router, wired as its `main`
/// wires them.
async fn start() -> (PostgresServer, sqlx::PgPool, Router) {
    let pg = PostgresServer::start();
    let pool = sqlx::PgPool::connect(&pg.url()).await.unwrap();
    let store = PostgresStore::new(pool.clone(), Keyring::new(KeyId(1), &[0x42; 32]).unwrap());
    store.migrate().await.unwrap();
    let config = service::config().unwrap();
    let app = service::app(Arc::new(Lifecycle::new(config, store, SystemClock)));
    (pg, pool, app)
}

/// Provisions a token for `account` and returns its Key URI.
async fn key_uri(app: &Router, path: &str, account: &str) -> KeyUri {
    let (status, answer) = post(app, path, None, json!({ "account": account })).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let uri = answer["key_uri"].as_str().unwrap();
    let prefix = format!("otpauth://totp/Example%20Bank:{account}?");
    assert!(uri.starts_with(&prefix), "{uri}");
    KeyUri::parse(uri).unwrap()
}

/// Provisions a token for `account` and returns the phone that scanned
/// its Key URI.
async fn provision(app: &Router, path: &str, account: &str) -> Totp {
    key_uri(app, path, account).await.to_totp().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_replay_and_the_operator_channel() {
    let (_pg, pool, app) = start().await;
    let customer = |what: &str| format!("/customers/{CUSTOMER}/{what}");
    let operator = |what: &str| format!("/operator/customers/{CUSTOMER}/{what}");

    // Provision: the answer is the Key URI the phone scans.
    let phone = provision(&app, &customer("provision"), "alice@example.com").await;

    // Register with the code the phone shows now.
    let code = phone.generate_step(step(&phone, 0)).to_string();
    let body = json!({ "serial": "SN-1001", "code": code });
    let (status, answer) = post(&app, &customer("register"), None, body).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, json!({ "state": "Active" }))
    );

    // A transfer with the next step's code (the registration spent this
    // one): accepted, and the answer names the step.
    let next = step(&phone, 1);
    let code = phone.generate_step(next).to_string();
    let (status, answer) = post(&app, &customer("transfer"), None, json!({ "code": code })).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, json!({ "authorized_step": next }))
    );

    // The double submit is refused, coarsely, exactly as a wrong code is:
    // the customer cannot tell a replay (a right code) from a wrong one.
    let coarse = (
        StatusCode::FORBIDDEN,
        json!({ "error": "the code was not accepted" }),
    );
    assert_eq!(
        post(&app, &customer("transfer"), None, json!({ "code": code })).await,
        coarse
    );
    let wrong = json!({ "code": wrong_code(&phone) });
    assert_eq!(post(&app, &customer("transfer"), None, wrong).await, coarse);
    let rows = audit(&pool).await;
    let outcomes: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(
        outcomes,
        ["accepted", "accepted", "accepted", "refused", "refused"]
    );
    assert!(
        rows[3].2.contains("replay") && rows[4].2.contains("wrong"),
        "{rows:?}"
    );
    let web = (Some("web"), Some("req-42"));
    assert!(
        rows.iter().all(|r| (r.3.as_deref(), r.4.as_deref()) == web),
        "{rows:?}"
    );

    // The operator channel: suspend, and the customer is told to call.
    let suspend = json!({ "reason": "Operator" });
    let (status, answer) = post(&app, &operator("suspend"), Some("op-417"), suspend).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, json!({ "state": "Suspended(Operator)" }))
    );
    let code = phone.generate_step(step(&phone, 1)).to_string();
    let locked = (
        StatusCode::LOCKED,
        json!({ "error": "your token is locked: please contact the bank" }),
    );
    assert_eq!(
        post(&app, &customer("transfer"), None, json!({ "code": code })).await,
        locked
    );

    // A customer call to an operator route is refused before the lifecycle
    // sees it (no audit row), and so is an operator id that is not a label.
    let before = audit(&pool).await.len();
    let (status, answer) = post(&app, &operator("resume"), None, json!({})).await;
    assert_eq!(
        (status, answer),
        (StatusCode::FORBIDDEN, json!({ "error": "operators only" }))
    );
    let (status, _) = post(&app, &operator("resume"), Some("op 417"), json!({})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(audit(&pool).await.len(), before);

    // Resume: the token is active again (so the refused calls did not
    // resume it), and the operator gets the precise refusal of a second one.
    let (status, answer) = post(&app, &operator("resume"), Some("op-417"), json!({})).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, json!({ "state": "Active" }))
    );
    let (status, answer) = post(&app, &operator("resume"), Some("op-417"), json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let text = answer["error"].as_str().unwrap();
    assert!(
        text.contains("Resume by Operator is not permitted in state Active"),
        "{text}"
    );

    // Reissue for a lost phone: the customer's codes are refused, coarsely.
    let reissue = json!({ "reason": "LostDevice" });
    let (status, answer) = post(&app, &operator("reissue"), Some("op-417"), reissue).await;
    assert_eq!(
        (status, answer),
        (StatusCode::OK, json!({ "state": "Reissued" }))
    );
    let code = phone.generate_step(step(&phone, 1)).to_string();
    let (status, answer) = post(&app, &customer("transfer"), None, json!({ "code": code })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(
        answer,
        json!({ "error": "this is not possible for your token now" })
    );

    // The operator's events name the operator in the audit trail.
    let rows = audit(&pool).await;
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

    // Nor can a customer suspend through the operator routes.
    let (status, _) = post(
        &app,
        &operator("suspend"),
        None,
        json!({ "reason": "LostDevice" }),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(audit(&pool).await.len(), rows.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_swap_to_a_new_phone_and_stop() {
    let (_pg, pool, app) = start().await;
    let customer = |what: &str| format!("/customers/{CUSTOMER}/{what}");
    let state = |name: &str| (StatusCode::OK, json!({ "state": name }));

    let old = provision(&app, &customer("provision"), "bob").await;
    let code = old.generate_step(step(&old, 0)).to_string();
    let body = json!({ "serial": "SN-2001", "code": code });
    assert_eq!(
        post(&app, &customer("register"), None, body).await,
        state("Active")
    );

    // The login OTP is off: no code is asked.
    let answer = post(&app, &customer("login"), None, json!({})).await;
    assert_eq!(answer, (StatusCode::OK, json!({ "otp": "not_required" })));

    // Swap: the old phone's code begins it and fixes the new phone's
    // secret, whose Key URI the answer carries; nothing provisions another
    // while swapping; the new phone's serial and code complete it.
    let code = old.generate_step(step(&old, 1)).to_string();
    let body = json!({ "code": code, "account": "bob" });
    let (status, answer) = post(&app, &customer("swap/begin"), None, body).await;
    assert_eq!(
        (status, &answer["state"]),
        (StatusCode::OK, &json!("Swapping"))
    );
    let new = KeyUri::parse(answer["key_uri"].as_str().unwrap())
        .unwrap()
        .to_totp()
        .unwrap();
    let (status, _) = post(
        &app,
        &customer("provision"),
        None,
        json!({ "account": "eve" }),
    )
    .await;
    assert_ne!(status, StatusCode::OK);
    let code = new.generate_step(step(&new, 0)).to_string();
    let body = json!({ "serial": "SN-2002", "code": code });
    assert_eq!(
        post(&app, &customer("swap/complete"), None, body).await,
        state("Active")
    );

    // The old phone is retired: its codes are refused, coarsely.
    let code = old.generate_step(step(&old, 1)).to_string();
    let refused = (
        StatusCode::FORBIDDEN,
        json!({ "error": "the code was not accepted" }),
    );
    assert_eq!(
        post(&app, &customer("stop"), None, json!({ "code": code })).await,
        refused
    );

    // Stop (利用中止) with the new phone's code: back to the transfer password.
    let code = new.generate_step(step(&new, 1)).to_string();
    let answer = post(&app, &customer("stop"), None, json!({ "code": code })).await;
    assert_eq!(answer, state("Unregistered"));

    let events: Vec<String> = audit(&pool)
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
    let (_pg, pool, app) = start().await;
    let customer = |action: &str| format!("/customers/{CUSTOMER}/{action}");
    let uri = key_uri(&app, &customer("provision"), "alice").await;
    let suite = uri
        .ocra_suite()
        .expect("the Key URI carries the signing suite");
    let (phone, app_signs) = (uri.to_totp().unwrap(), Ocra::new(uri.secret(), suite));
    let code = phone.generate_step(step(&phone, 0)).to_string();
    let (status, answer) = post(
        &app,
        &customer("register"),
        None,
        json!({ "code": code, "serial": "SN-1" }),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    let response = app_signs
        .generate(&Input::new("12345671").time(SystemClock.now()))
        .unwrap()
        .to_string();
    let body = |payee: &str| json!({ "amount": 120_000, "currency": "JPY", "payee": payee, "response": response });
    let (status, refused) = post(&app, &customer("transfer/sign"), None, body("87654321")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");
    let (status, signed) = post(&app, &customer("transfer/sign"), None, body("12345671")).await;
    assert_eq!(status, StatusCode::OK, "{signed}");
    let transfer = transfer_to("12345671", 120_000);
    let hex: String = transfer
        .digest()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(signed["signed"], json!(hex));
    // The replay answers exactly as the changed payee did.
    assert_eq!(
        post(&app, &customer("transfer/sign"), None, body("12345671")).await,
        (StatusCode::FORBIDDEN, refused)
    );
    // A malformed request changes nothing and is not audited.
    let (status, _) = post(
        &app,
        &customer("transfer/sign"),
        None,
        json!({ "amount": 1, "currency": "yen", "payee": "1", "response": "1" }),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let rows: Vec<(String, String, Option<Vec<u8>>)> = sqlx::query_as(
        "SELECT event, outcome, transaction_digest FROM otpguard_audit \
         WHERE customer_id = $1 AND event = 'SignTransaction' ORDER BY link NULLS FIRST, id",
    )
    .bind(CUSTOMER)
    .fetch_all(&pool)
    .await
    .unwrap();
    let diverted = transfer_to("87654321", 120_000);
    let expected = vec![
        (
            "SignTransaction".to_owned(),
            "refused".to_owned(),
            Some(diverted.digest().to_vec()),
        ),
        (
            "SignTransaction".to_owned(),
            "accepted".to_owned(),
            Some(transfer.digest().to_vec()),
        ),
        (
            "SignTransaction".to_owned(),
            "refused".to_owned(),
            Some(transfer.digest().to_vec()),
        ),
    ];
    assert_eq!(rows, expected);
}
