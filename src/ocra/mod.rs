//!
//! The OATH challenge-response algorithm: responses to a bank's challenge,
//! mutual authentication and transaction signatures, computed as HOTP over
//! a richer input.
//!
//! A response is `HOTP-H-t(K, DataInput)`: the HMAC (SHA-1, SHA-256 or
//! SHA-512) of the DataInput under the token's secret, truncated as HOTP
//! does to `t` digits. The [`Suite`] says which hash, how many digits and
//! which inputs the DataInput holds (RFC 6287 §5.1):
//!
//! ```text
//! suite text | 0x00 | C counter | Q question (128 bytes) | P PIN hash | S session | T time step
//! ```
//!
//! # What is here
//!
//! - [`Suite`]: parses and prints the suite strings of RFC 6287 §6,
//!   strictly, with a [`SuiteError`] naming the part that is wrong.
//! - [`Input`]: the question(s), and the counter, [`Pin`], session
//!   information and time a suite asks for; checked against the suite on
//!   use ([`InputError`]).
//! - [`Ocra`]: keyed once from a [`Secret`](crate::Secret) and a suite;
//!   [`Ocra::generate`] computes a [`Response`], [`Ocra::verify`] checks
//!   one over a [`VerifyWindow`] of counters and time steps in constant time
//!   and reports the [`ResponseMatch`].
//!
//! - [`Transaction`]: a transfer or a batch, its canonical encoding and
//!   digest, and the signature question that binds a code to it
//!   ([`Transaction::question_for`]: the digest for a hex question, the
//!   payee's account number for a numeric one), PSD2 RTS Art. 5's dynamic
//!   linking.
//!
//! # In the lifecycle
//!
//! A token can be bound with a signing suite
//! ([`LifecycleConfig::signing`](crate::lifecycle::LifecycleConfig::signing),
//! carried to the app by the Key URI's `ocrasuite` parameter); then
//! [`Lifecycle::sign_transaction`](crate::lifecycle::Lifecycle::sign_transaction)
//! checks a response against a [`Transaction`] with single use through the
//! token's record, the lock-out and throttling of every code, and an audit
//! record carrying the transaction's digest. Used on its own, this module
//! has no replay protection: a [`ResponseMatch`] reports the counter or time step
//! that matched, and the caller must record it and refuse it next time.
//!
//! Generating challenges for the one-way and mutual modes is left to the
//! caller (any unpredictable question of the suite's format will do).
//!
//! A numeric question is MACed as a number written in hexadecimal and
//! padded on the right, so `n` and `16·n` give the same response (see
//! [`Input::new`]); hex questions carry a digest and have no such
//! ambiguity.
//!
//! # Scenarios
//!
//! One-way challenge-response with a PIN (RFC 6287 Appendix C.1): the bank
//! sends a numeric challenge, the customer types it into the token with
//! the PIN, and types back the response.
//!
//! ```
//! use otpguard::ocra::{Input, Ocra, Pin, Suite, VerifyWindow};
//! use otpguard::Secret;
//!
//! let secret = Secret::from_bytes(b"12345678901234567890123456789012")?;
//! let ocra = Ocra::new(&secret, Suite::parse("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1")?);
//! // The bank keeps only the PIN's hash (SHA-1 of "1234").
//! let pin_hash = Pin::from_hash(&[
//!     0x71, 0x10, 0xed, 0xa4, 0xd0, 0x9e, 0x06, 0x2a, 0xa5, 0xe4,
//!     0xa3, 0x90, 0xb0, 0xa5, 0x72, 0xac, 0x0d, 0x2c, 0x02, 0x20,
//! ])?;
//! // Expecting counter 0; the token's counter is at 2.
//! let input = Input::new("12345678").counter(0).pin(&pin_hash);
//! let m = ocra.verify("78192410", &input, VerifyWindow::counter(10)?)?;
//! assert_eq!(m.counter(), Some(2)); // store 3 as the next counter
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Mutual challenge-response (Appendix C.2): the server answers the
//! client's question and its own; the client checks that, then answers
//! both in the other order.
//!
//! ```
//! use otpguard::ocra::{Input, Ocra, Suite, VerifyWindow};
//! use otpguard::Secret;
//!
//! let secret = Secret::from_bytes(b"12345678901234567890123456789012")?;
//! let ocra = Ocra::new(&secret, Suite::parse("OCRA-1:HOTP-SHA256-8:QA08")?);
//! let server = ocra.generate(&Input::mutual("CLI22220", "SRV11110"))?;
//! assert_eq!(server.to_string(), "28247970");
//! let client = ocra.generate(&Input::mutual("SRV11110", "CLI22220"))?;
//! let ok = ocra.verify(&client.to_string(), &Input::mutual("SRV11110", "CLI22220"), VerifyWindow::EXACT);
//! assert!(ok.is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Suite`]: crate::ocra::Suite
//! [`SuiteError`]: crate::ocra::SuiteError
//! [`Input`]: crate::ocra::Input
//! [`Pin`]: crate::ocra::Pin
//! [`InputError`]: crate::ocra::InputError
//! [`Ocra`]: crate::ocra::Ocra
//! [`Ocra::generate`]: crate::ocra::Ocra::generate
//! [`Ocra::verify`]: crate::ocra::Ocra::verify
//! [`Response`]: crate::ocra::Response
//! [`VerifyWindow`]: crate::ocra::VerifyWindow
//! [`ResponseMatch`]: crate::ocra::ResponseMatch
//! [`Transaction`]: crate::ocra::Transaction
//! [`Transaction::question_for`]: crate::ocra::Transaction::question_for
//! [`Input::new`]: crate::ocra::Input::new

mod compute;
mod error;
mod input;
mod response;
mod suite;
mod transaction;
mod verify;

pub use compute::Ocra;
pub use error::{Field, InputError, ResponseError, WindowError};
pub use input::{Input, Pin};
pub use response::Response;
pub use suite::{QuestionFormat, Suite, SuiteError, TimeStep, TimeUnit};
pub use transaction::{
    Amount, BatchError, Currency, CurrencyError, PayeeAccount, PayeeError, Payment, QuestionError,
    Transaction,
};
pub use verify::{ResponseMatch, VerifyWindow};
