#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod algorithm;
mod clock;
mod code;
mod error;
mod hotp;
mod key;
pub mod lifecycle;
/// OCRA (RFC 6287): challenge-response and transaction signatures over HOTP.
pub mod ocra;
mod params;
pub mod replay;
#[cfg(feature = "seal")]
#[cfg_attr(docsrs, doc(cfg(feature = "seal")))]
pub mod seal;
mod secret;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod threat_model;
mod totp;
mod uri;
pub mod verify;

pub use algorithm::Algorithm;
pub use clock::{Clock, FixedClock, SystemClock};
pub use code::Code;
pub use error::{
    CheckError, ClaimError, HotpCheckError, HotpVerifyError, PairError, ParamError, SecretError,
    StoreError, TimeError, UriError, VerifyError,
};
pub use hotp::Hotp;
pub use params::TotpParams;
pub use replay::Accepted;
pub use secret::Secret;
pub use totp::{Totp, TotpBuilder};
pub use uri::{KeyUri, KeyUriBuilder, OtpKind};
pub use verify::{Match, Window};
