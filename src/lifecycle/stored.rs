//! Storage of a [`TokenRecord`] with serde, secrets included only on
//! explicit request.
//!
//! A `TokenRecord` implements neither `Serialize` nor `Deserialize`, so it
//! cannot end up in a log, a cache or a JSON response by accident. Storing
//! it takes the wrapper [`WithSecrets`], whose name says what it does and
//! which an auditor can grep for, like `expose_secret`. For a secret-free
//! view (dashboards, support tools) serialize
//! [`TokenRecord::summary`] instead.

use core::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use super::record::Token;
use super::{PendingSwap, State, TokenRecord, TokenSerial};
use crate::Secret;

/// Serializes a `&TokenRecord` **with its secret** (base32) and
/// deserializes a `TokenRecord` back, checking that the stored record is
/// consistent. Encrypt what it writes, as any stored key material.
///
/// ```
/// use otpguard::lifecycle::{TokenRecord, WithSecrets};
///
/// let record = TokenRecord::new();
/// let json = serde_json::to_string(&WithSecrets(&record))?;
/// let WithSecrets(back): WithSecrets<TokenRecord> = serde_json::from_str(&json)?;
/// assert_eq!(back.summary(), record.summary());
/// # Ok::<(), serde_json::Error>(())
/// ```
pub struct WithSecrets<R>(pub R);

impl<R> fmt::Debug for WithSecrets<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WithSecrets(..)")
    }
}

/// The stored layout. `format` lets a later version read older records.
#[derive(Serialize)]
struct StoredOut<'a> {
    format: u32,
    state: State,
    token: Option<TokenOut<'a>>,
    pending_swap: Option<PendingSwap>,
    failures: u32,
    login_otp: bool,
    last_drift: Option<i64>,
    version: u64,
    retired_serials: &'a [TokenSerial],
}

#[derive(Serialize)]
struct TokenOut<'a> {
    serial: &'a TokenSerial,
    secret_base32: SecretOut<'a>,
}

struct SecretOut<'a>(&'a Secret);

impl Serialize for SecretOut<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.to_base32())
    }
}

#[derive(Deserialize)]
struct StoredIn {
    format: u32,
    state: State,
    token: Option<TokenIn>,
    pending_swap: Option<PendingSwap>,
    failures: u32,
    login_otp: bool,
    last_drift: Option<i64>,
    version: u64,
    retired_serials: Vec<TokenSerial>,
}

#[derive(Deserialize)]
struct TokenIn {
    serial: TokenSerial,
    secret_base32: SecretIn,
}

struct SecretIn(Secret);

impl<'de> Deserialize<'de> for SecretIn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(deserializer)?);
        Secret::from_base32(&text)
            .map(SecretIn)
            .map_err(serde::de::Error::custom)
    }
}

const FORMAT: u32 = 1;

impl Serialize for WithSecrets<&TokenRecord> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        StoredOut {
            format: FORMAT,
            state: r.state,
            token: r.token.as_ref().map(|t| TokenOut {
                serial: &t.serial,
                secret_base32: SecretOut(&t.secret),
            }),
            pending_swap: r.pending,
            failures: r.failures,
            login_otp: r.login_otp,
            last_drift: r.last_drift,
            version: r.version,
            retired_serials: &r.retired,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for WithSecrets<TokenRecord> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = StoredIn::deserialize(deserializer)?;
        if s.format != FORMAT {
            return Err(serde::de::Error::custom("unknown token record format"));
        }
        if s.state.has_token() != s.token.is_some() {
            return Err(serde::de::Error::custom(
                "token record: the state and the presence of a token disagree",
            ));
        }
        if (s.state == State::Swapping) != s.pending_swap.is_some() {
            return Err(serde::de::Error::custom(
                "token record: a pending swap exists exactly while Swapping",
            ));
        }
        if s.login_otp && !s.state.has_token() {
            return Err(serde::de::Error::custom(
                "token record: login OTP on without a token",
            ));
        }
        Ok(Self(TokenRecord {
            state: s.state,
            // Not keyed here: the record does not know the lifecycle
            // parameters it will be verified with; the first code keys it.
            token: s.token.map(|t| Token::new(t.serial, t.secret_base32.0)),
            pending: s.pending_swap,
            failures: s.failures,
            login_otp: s.login_otp,
            last_drift: s.last_drift,
            version: s.version,
            retired: s.retired_serials,
        }))
    }
}
