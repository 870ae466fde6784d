//! `otpauth://` Key URIs: the provisioning format that authenticator apps
//! read from a QR code.
//!
//! The format (from Google Authenticator's "Key Uri Format", which every
//! common app follows) is
//!
//! ```text
//! otpauth://TYPE/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&algorithm=SHA1&digits=6&period=30
//! otpauth://hotp/ISSUER:ACCOUNT?secret=BASE32&issuer=ISSUER&counter=0
//! ```
//!
//! Parsing is strict where a lenient reading could change which key or
//! which codes an app ends up with (duplicate parameters, an issuer in the
//! label that disagrees with the `issuer` parameter, malformed numbers), and
//! lenient where it cannot (parameter names' case, unknown parameters such as
//! `image`, `+` kept as a literal `+` as RFC 3986 and most apps read it).
//! Names are percent-decoded before the label is split at its first `:`, so
//! `Bank%3Aalice` and `Bank:alice` mean the same; an account or issuer name
//! that itself contains a `:` is refused rather than guessed at.
//!
//! # The `ocrasuite` parameter
//!
//! A Key URI may also carry the OCRA suite the bank signs transactions
//! with, so that one QR code sets an app up for both codes and transaction
//! signatures:
//!
//! ```text
//! otpauth://totp/ISSUER:ACCOUNT?secret=BASE32&…&period=30&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08-T30S
//! ```
//!
//! The `ocrasuite` parameter is otpguard's own extension: Google
//! Authenticator's Key URI format has no parameter for OCRA. Apps that do
//! not know it ignore it, as they ignore any unknown parameter, and still
//! show TOTP (or HOTP) codes for the key. Its value is the suite text of
//! RFC 6287 §6 ([`Suite`]), percent-encoded like every other value here
//! (so its `:` are written `%3A`), under the same shared secret as the
//! codes. It is allowed on both types, since a suite does not depend on
//! how the app computes its one-time codes; the URI's `counter` is the HOTP
//! counter and says nothing about a suite's own counter (`C`). Parsing is
//! as strict as for the other parameters: a value that is not a suite in
//! the canonical spelling [`Suite::parse`] accepts, or a second
//! `ocrasuite`, is refused.

use core::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use zeroize::{ZeroizeOnDrop, Zeroizing};

use crate::key::Digits;
use crate::ocra::Suite;
use crate::{Algorithm, Hotp, ParamError, Secret, Totp, UriError};

mod builder;
mod parse;

pub use builder::KeyUriBuilder;

/// Everything except RFC 3986 unreserved characters and `@` is escaped. `@`
/// is legal unescaped in both path and query, and account names are mostly
/// e-mail addresses, which then stay readable in the QR code's text.
const ESCAPE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

const SCHEME: &str = "otpauth://";

/// The type of a key: time-based with its period, or counter-based with its
/// initial counter.
///
/// ```
/// use otpguard::{KeyUri, OtpKind, Secret};
///
/// let secret = Secret::from_bytes(&[7; 20])?;
/// let uri = KeyUri::builder(&secret, "alice").kind(OtpKind::Hotp { counter: 5 }).build()?;
/// assert_eq!(uri.kind(), OtpKind::Hotp { counter: 5 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OtpKind {
    /// TOTP (RFC 6238) with a time step of `period` seconds (at least 1).
    Totp {
        /// Seconds per time step.
        period: u64,
    },
    /// HOTP (RFC 4226) starting at `counter`.
    Hotp {
        /// The counter of the next code the token will show.
        counter: u64,
    },
}

impl Default for OtpKind {
    /// TOTP with a 30-second period, what authenticator apps assume.
    fn default() -> Self {
        Self::Totp { period: 30 }
    }
}

/// A parsed or built `otpauth://` Key URI: the secret and the parameters an
/// authenticator app needs to show the right codes.
///
/// It owns a copy of the [`Secret`], so it is wiped on drop; `Debug` does
/// not show the secret; there is no `Display`, since the URI text carries the
/// secret. [`KeyUri::to_uri`] is the one way to get that text.
///
/// Provisioning a new token:
///
/// ```
/// use otpguard::{Algorithm, KeyUri, Secret};
///
/// let secret = Secret::generate(Algorithm::Sha1)?;
/// // Store `secret` (encrypted) with the customer's record, then show:
/// let uri = KeyUri::builder(&secret, "alice@example.com")
///     .issuer("Example Bank")
///     .build()?;
/// let text = uri.to_uri(); // put this in the QR code; wiped when dropped
/// assert!(text.starts_with("otpauth://totp/Example%20Bank:alice@example.com?secret="));
///
/// // The app's side of it, or a migration reading URIs back:
/// let parsed = KeyUri::parse(&text)?;
/// assert_eq!(parsed.issuer(), Some("Example Bank"));
/// let totp = parsed.to_totp()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, ZeroizeOnDrop)]
pub struct KeyUri {
    #[zeroize(skip)]
    kind: OtpKind,
    secret: Secret,
    issuer: Option<String>,
    account: String,
    #[zeroize(skip)]
    algorithm: Algorithm,
    #[zeroize(skip)]
    digits: Digits,
    #[zeroize(skip)]
    ocra_suite: Option<Suite>,
}

impl KeyUri {
    fn new(
        kind: OtpKind,
        secret: Secret,
        issuer: Option<String>,
        account: String,
        algorithm: Algorithm,
        digits: u32,
        ocra_suite: Option<Suite>,
    ) -> Result<Self, UriError> {
        let digits = Digits::new(digits)?;
        if kind == (OtpKind::Totp { period: 0 }) {
            return Err(ParamError::ZeroPeriod.into());
        }
        Ok(Self {
            kind,
            secret,
            issuer,
            account,
            algorithm,
            digits,
            ocra_suite,
        })
    }

    /// The URI text, for a QR code or a manual-entry link. It carries the
    /// secret, so it comes in a string that is wiped when dropped; do not
    /// log it.
    ///
    /// Every parameter is written, defaults included, so that an app that
    /// assumes other defaults still reads the same key; `ocrasuite` comes
    /// last, and only if the URI carries a suite.
    ///
    /// ```
    /// use otpguard::{KeyUri, Secret};
    ///
    /// let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let uri = KeyUri::builder(&secret, "alice@example.com").issuer("Bank & Co").build()?;
    /// assert_eq!(
    ///     uri.to_uri().as_str(),
    ///     "otpauth://totp/Bank%20%26%20Co:alice@example.com\
    ///      ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Bank%20%26%20Co\
    ///      &algorithm=SHA1&digits=6&period=30",
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn to_uri(&self) -> Zeroizing<String> {
        let account = utf8_percent_encode(&self.account, ESCAPE);
        let (type_name, kind_param) = match self.kind {
            OtpKind::Totp { period } => ("totp", format!("period={period}")),
            OtpKind::Hotp { counter } => ("hotp", format!("counter={counter}")),
        };
        let (label, issuer_param) = match &self.issuer {
            Some(issuer) => {
                let issuer = utf8_percent_encode(issuer, ESCAPE);
                (format!("{issuer}:{account}"), format!("&issuer={issuer}"))
            }
            None => (account.to_string(), String::new()),
        };
        let suite_param = match self.ocra_suite {
            Some(suite) => format!(
                "&ocrasuite={}",
                utf8_percent_encode(&suite.to_string(), ESCAPE)
            ),
            None => String::new(),
        };
        let head = format!("{SCHEME}{type_name}/{label}?secret=");
        let tail = format!(
            "{issuer_param}&algorithm={}&digits={}&{kind_param}{suite_param}",
            self.algorithm.uri_name(),
            self.digits.get()
        );
        let secret = self.secret.to_base32();
        // Sized up front so the secret-bearing buffer is never reallocated,
        // which would leave an unwiped copy behind.
        let mut uri = Zeroizing::new(String::with_capacity(
            head.len()
                .saturating_add(secret.len())
                .saturating_add(tail.len()),
        ));
        uri.push_str(&head);
        uri.push_str(&secret);
        uri.push_str(&tail);
        uri
    }

    /// A [`Totp`] for this key (T0 = 0, as the format has no T0).
    ///
    /// # Errors
    /// [`UriError::WrongType`] if this is an HOTP key.
    ///
    /// ```
    /// # use otpguard::{KeyUri, Secret};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let totp = KeyUri::builder(&secret, "alice").build()?.to_totp()?;
    /// assert_eq!(totp.period(), 30);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_totp(&self) -> Result<Totp, UriError> {
        match self.kind {
            OtpKind::Totp { period } => Ok(Totp::builder(&self.secret)
                .algorithm(self.algorithm)
                .digits(self.digits.get())
                .period(period)
                .build()?),
            OtpKind::Hotp { .. } => Err(UriError::WrongType { expected: "totp" }),
        }
    }

    /// An [`Hotp`] for this key. Its starting counter is in
    /// [`kind`](Self::kind).
    ///
    /// # Errors
    /// [`UriError::WrongType`] if this is a TOTP key.
    ///
    /// ```
    /// # use otpguard::{KeyUri, OtpKind, Secret};
    /// # let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let uri = KeyUri::builder(&secret, "alice").kind(OtpKind::Hotp { counter: 0 }).build()?;
    /// assert_eq!(uri.to_hotp()?.generate(0).to_string(), "755224");
    /// assert!(uri.to_totp().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_hotp(&self) -> Result<Hotp, UriError> {
        match self.kind {
            OtpKind::Hotp { .. } => Ok(Hotp::new(&self.secret, self.algorithm, self.digits.get())?),
            OtpKind::Totp { .. } => Err(UriError::WrongType { expected: "hotp" }),
        }
    }

    /// TOTP with its period, or HOTP with its counter.
    ///
    /// ```
    /// # use otpguard::{KeyUri, OtpKind, Secret};
    /// # let secret = Secret::from_bytes(&[7; 20])?;
    /// assert_eq!(KeyUri::builder(&secret, "a").build()?.kind(), OtpKind::Totp { period: 30 });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn kind(&self) -> OtpKind {
        self.kind
    }

    /// The shared secret.
    ///
    /// ```
    /// # use otpguard::{KeyUri, Secret};
    /// let uri = KeyUri::parse("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
    /// assert_eq!(uri.secret().expose_secret(), b"12345678901234567890");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn secret(&self) -> &Secret {
        &self.secret
    }

    /// The issuer, if the URI names one.
    ///
    /// ```
    /// # use otpguard::KeyUri;
    /// let uri = KeyUri::parse("otpauth://totp/Bank:a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
    /// assert_eq!(uri.issuer(), Some("Bank"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The account name.
    ///
    /// ```
    /// # use otpguard::KeyUri;
    /// let uri = KeyUri::parse("otpauth://totp/Bank:%20alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
    /// assert_eq!(uri.account(), "alice");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn account(&self) -> &str {
        &self.account
    }

    /// The hash function.
    ///
    /// ```
    /// # use otpguard::{Algorithm, KeyUri};
    /// let uri = KeyUri::parse("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA512")?;
    /// assert_eq!(uri.algorithm(), Algorithm::Sha512);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// Digits per code.
    ///
    /// ```
    /// # use otpguard::KeyUri;
    /// let uri = KeyUri::parse("otpauth://totp/a?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=7")?;
    /// assert_eq!(uri.digits(), 7);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn digits(&self) -> u32 {
        self.digits.get()
    }

    /// The OCRA suite for transaction signing, if the URI carries one, keyed
    /// with the same [`secret`](Self::secret).
    ///
    /// It travels in the `ocrasuite` parameter, otpguard's own extension of
    /// the Key URI format (Google Authenticator's format has no parameter
    /// for OCRA): its value is the suite text of RFC 6287 §6,
    /// percent-encoded. Apps that do not know the parameter ignore it and
    /// still show their TOTP or HOTP codes.
    ///
    /// ```
    /// use otpguard::ocra::Suite;
    /// use otpguard::{KeyUri, Secret};
    ///
    /// let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30S")?;
    /// let uri = KeyUri::builder(&secret, "alice").ocra_suite(suite).build()?;
    /// assert_eq!(uri.ocra_suite(), Some(suite));
    ///
    /// let parsed = KeyUri::parse(&uri.to_uri())?;
    /// assert_eq!(parsed.ocra_suite(), Some(suite));
    /// let plain = KeyUri::parse("otpauth://totp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ")?;
    /// assert_eq!(plain.ocra_suite(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn ocra_suite(&self) -> Option<Suite> {
        self.ocra_suite
    }
}

pub(crate) fn check_name(name: &str, field: &'static str) -> Result<(), UriError> {
    let starts_with_space = name.chars().next().is_none_or(char::is_whitespace);
    if starts_with_space || name.chars().any(|c| c == ':' || c.is_control()) {
        return Err(UriError::Name(field));
    }
    Ok(())
}

impl fmt::Debug for KeyUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyUri")
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits.get())
            .field("ocra_suite", &self.ocra_suite)
            .field("secret", &self.secret)
            .finish()
    }
}
