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

use core::fmt;
use core::str;

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use zeroize::Zeroizing;

use crate::key::Digits;
use crate::{Algorithm, Hotp, ParamError, Secret, Totp, UriError};

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
#[derive(Clone)]
pub struct KeyUri {
    kind: OtpKind,
    secret: Secret,
    issuer: Option<String>,
    account: String,
    algorithm: Algorithm,
    digits: Digits,
}

/// Builds a [`KeyUri`]. Defaults: TOTP with a 30-second period, SHA-1,
/// 6 digits, no issuer. Everything is checked by [`build`](Self::build).
///
/// ```
/// use otpguard::{Algorithm, KeyUri, OtpKind, Secret};
///
/// let secret = Secret::generate(Algorithm::Sha256)?;
/// let uri = KeyUri::builder(&secret, "alice")
///     .issuer("Example Bank")
///     .algorithm(Algorithm::Sha256)
///     .digits(8)
///     .kind(OtpKind::Totp { period: 60 })
///     .build()?;
/// assert_eq!((uri.digits(), uri.kind()), (8, OtpKind::Totp { period: 60 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "call .build() to get a KeyUri"]
pub struct KeyUriBuilder {
    secret: Secret,
    account: String,
    issuer: Option<String>,
    kind: OtpKind,
    algorithm: Algorithm,
    digits: u32,
}

impl KeyUriBuilder {
    /// The issuer (the bank's name as the app should show it). Written both
    /// as the label's prefix and as the `issuer` parameter, as the format
    /// recommends.
    ///
    /// ```
    /// # use otpguard::{KeyUri, Secret};
    /// # let secret = Secret::from_bytes(&[7; 20])?;
    /// let uri = KeyUri::builder(&secret, "alice").issuer("Example Bank").build()?;
    /// assert_eq!(uri.issuer(), Some("Example Bank"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn issuer(mut self, issuer: &str) -> Self {
        self.issuer = Some(issuer.to_owned());
        self
    }

    /// TOTP with its period, or HOTP with its initial counter (default: TOTP,
    /// 30 seconds).
    ///
    /// ```
    /// # use otpguard::{KeyUri, OtpKind, Secret};
    /// # let secret = Secret::from_bytes(&[7; 20])?;
    /// let uri = KeyUri::builder(&secret, "alice").kind(OtpKind::Hotp { counter: 0 }).build()?;
    /// assert!(uri.to_uri().starts_with("otpauth://hotp/"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(mut self, kind: OtpKind) -> Self {
        self.kind = kind;
        self
    }

    /// The hash function (default SHA-1).
    ///
    /// ```
    /// # use otpguard::{Algorithm, KeyUri, Secret};
    /// # let secret = Secret::from_bytes(&[7; 32])?;
    /// let uri = KeyUri::builder(&secret, "alice").algorithm(Algorithm::Sha256).build()?;
    /// assert!(uri.to_uri().contains("&algorithm=SHA256"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn algorithm(mut self, algorithm: Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// Digits per code: 6 (default), 7 or 8.
    ///
    /// ```
    /// # use otpguard::{KeyUri, ParamError, Secret, UriError};
    /// # let secret = Secret::from_bytes(&[7; 20])?;
    /// let err = KeyUri::builder(&secret, "alice").digits(9).build().err();
    /// assert_eq!(err, Some(UriError::Param(ParamError::Digits(9))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn digits(mut self, digits: u32) -> Self {
        self.digits = digits;
        self
    }

    /// Checks the parameters and returns the [`KeyUri`].
    ///
    /// # Errors
    /// [`UriError::Name`] if the account or issuer is empty, starts with
    /// whitespace, or contains `:` or a control character;
    /// [`UriError::Param`] for digits other than 6, 7 or 8 or a TOTP period
    /// of 0.
    ///
    /// ```
    /// # use otpguard::{KeyUri, Secret, UriError};
    /// # let secret = Secret::from_bytes(&[7; 20])?;
    /// assert!(KeyUri::builder(&secret, "alice").build().is_ok());
    /// assert_eq!(KeyUri::builder(&secret, "a:b").build().err(), Some(UriError::Name("account")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<KeyUri, UriError> {
        check_name(&self.account, "account")?;
        if let Some(issuer) = &self.issuer {
            check_name(issuer, "issuer")?;
        }
        KeyUri::new(
            self.kind,
            self.secret,
            self.issuer,
            self.account,
            self.algorithm,
            self.digits,
        )
    }
}

impl KeyUri {
    /// Starts building a Key URI for `secret` (copied) and the account name
    /// the app should show (see [`KeyUriBuilder`]).
    ///
    /// ```
    /// # use otpguard::{KeyUri, Secret};
    /// # let secret = Secret::from_bytes(&[7; 20])?;
    /// let uri = KeyUri::builder(&secret, "alice@example.com").build()?;
    /// assert_eq!(uri.account(), "alice@example.com");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn builder(secret: &Secret, account: &str) -> KeyUriBuilder {
        KeyUriBuilder {
            secret: secret.clone(),
            account: account.to_owned(),
            issuer: None,
            kind: OtpKind::default(),
            algorithm: Algorithm::Sha1,
            digits: 6,
        }
    }

    fn new(
        kind: OtpKind,
        secret: Secret,
        issuer: Option<String>,
        account: String,
        algorithm: Algorithm,
        digits: u32,
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
        })
    }

    /// Parses an `otpauth://` URI.
    ///
    /// Absent parameters take the format's defaults (SHA1, 6 digits, 30
    /// seconds); `counter` is required for `hotp`. Parameters this library
    /// does not read (`image`, `color`, …) are ignored, as are `period` on
    /// an HOTP key and `counter` on a TOTP key. If only the label names an
    /// issuer, that is the issuer.
    ///
    /// # Errors
    /// [`UriError::Scheme`], [`UriError::Type`] and [`UriError::Label`] for a
    /// URI of the wrong shape; [`UriError::Encoding`] and [`UriError::Utf8`]
    /// for bad percent-escapes; [`UriError::Name`] for an unusable account
    /// or issuer name; [`UriError::Duplicate`] for a repeated parameter;
    /// [`UriError::Missing`] without a secret (or an HOTP counter);
    /// [`UriError::Invalid`], [`UriError::UnknownAlgorithm`] and
    /// [`UriError::Param`] for unusable values; [`UriError::IssuerMismatch`]
    /// when the label's issuer and the `issuer` parameter differ;
    /// [`UriError::Secret`] for a secret that is not valid base32 or has a
    /// refused length. No error repeats any part of the URI.
    ///
    /// ```
    /// use otpguard::{Algorithm, KeyUri, OtpKind, UriError};
    ///
    /// let uri = KeyUri::parse(
    ///     "otpauth://totp/Example%20Bank:alice@example.com\
    ///      ?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example%20Bank&digits=8",
    /// )?;
    /// assert_eq!(uri.account(), "alice@example.com");
    /// assert_eq!(uri.issuer(), Some("Example Bank"));
    /// assert_eq!((uri.algorithm(), uri.digits()), (Algorithm::Sha1, 8));
    /// assert_eq!(uri.kind(), OtpKind::Totp { period: 30 });
    /// assert_eq!(uri.to_totp()?.generate(59)?.to_string(), "94287082");
    ///
    /// let err = KeyUri::parse("otpauth://hotp/alice?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
    /// assert_eq!(err.err(), Some(UriError::Missing("counter")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(uri: &str) -> Result<Self, UriError> {
        let rest = uri
            .get(..SCHEME.len())
            .filter(|scheme| scheme.eq_ignore_ascii_case(SCHEME))
            .and_then(|_| uri.get(SCHEME.len()..))
            .ok_or(UriError::Scheme)?;
        // A fragment is never part of the key; drop it as URI parsers do.
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let (type_name, label) = path.split_once('/').unwrap_or((path, ""));
        let kind_is_totp = if type_name.eq_ignore_ascii_case("totp") {
            true
        } else if type_name.eq_ignore_ascii_case("hotp") {
            false
        } else {
            return Err(UriError::Type);
        };
        if label.is_empty() {
            return Err(UriError::Label);
        }
        let label = decode_text(label, "label")?;
        let (label_issuer, account) = match label.split_once(':') {
            Some((issuer, account)) => (Some(issuer), account),
            None => (None, label.as_str()),
        };
        // The format allows spaces between the issuer's colon and the account.
        let account = account.trim_start_matches(' ');
        check_name(account, "account")?;
        if let Some(issuer) = label_issuer {
            check_name(issuer, "issuer")?;
        }

        let params = Params::read(query)?;
        let secret = params.secret()?;
        let issuer = match params.issuer {
            Some(raw) => {
                let issuer = decode_text(raw, "issuer")?;
                check_name(&issuer, "issuer")?;
                Some(issuer)
            }
            None => None,
        };
        let issuer = match (label_issuer, issuer) {
            (Some(from_label), Some(param)) if from_label != param => {
                return Err(UriError::IssuerMismatch)
            }
            (from_label, param) => param.or_else(|| from_label.map(str::to_owned)),
        };
        let algorithm = match params.algorithm {
            Some(raw) => Algorithm::from_uri_name(&decode_text(raw, "algorithm")?)
                .ok_or(UriError::UnknownAlgorithm)?,
            None => Algorithm::Sha1,
        };
        let digits = match params.digits {
            Some(raw) => {
                u32::try_from(number(raw, "digits")?).map_err(|_| UriError::Invalid("digits"))?
            }
            None => 6,
        };
        let kind = if kind_is_totp {
            OtpKind::Totp {
                period: params.period.map_or(Ok(30), |raw| number(raw, "period"))?,
            }
        } else {
            let raw = params.counter.ok_or(UriError::Missing("counter"))?;
            OtpKind::Hotp {
                counter: number(raw, "counter")?,
            }
        };
        Self::new(kind, secret, issuer, account.to_owned(), algorithm, digits)
    }

    /// The URI text, for a QR code or a manual-entry link. It carries the
    /// secret, so it comes in a string that is wiped when dropped; do not
    /// log it.
    ///
    /// Every parameter is written, defaults included, so that an app that
    /// assumes other defaults still reads the same key.
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
        let head = format!("{SCHEME}{type_name}/{label}?secret=");
        let tail = format!(
            "{issuer_param}&algorithm={}&digits={}&{kind_param}",
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
}

/// The raw (still percent-encoded) values of the parameters this library
/// reads.
struct Params<'a> {
    secret: Option<&'a str>,
    issuer: Option<&'a str>,
    algorithm: Option<&'a str>,
    digits: Option<&'a str>,
    period: Option<&'a str>,
    counter: Option<&'a str>,
}

impl<'a> Params<'a> {
    const NAMES: [&'static str; 6] = [
        "secret",
        "issuer",
        "algorithm",
        "digits",
        "period",
        "counter",
    ];

    fn read(query: &'a str) -> Result<Self, UriError> {
        let mut slots: [Option<&'a str>; 6] = [None; 6];
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            for (name, slot) in Self::NAMES.iter().zip(slots.iter_mut()) {
                if name.eq_ignore_ascii_case(key) && slot.replace(value).is_some() {
                    return Err(UriError::Duplicate(name));
                }
            }
        }
        let [secret, issuer, algorithm, digits, period, counter] = slots;
        Ok(Self {
            secret,
            issuer,
            algorithm,
            digits,
            period,
            counter,
        })
    }

    /// Decodes the secret without leaving an unwiped copy of it anywhere.
    fn secret(&self) -> Result<Secret, UriError> {
        let raw = self
            .secret
            .filter(|raw| !raw.is_empty())
            .ok_or(UriError::Missing("secret"))?;
        check_escapes(raw, "secret")?;
        // Decoding never lengthens, so this buffer is never reallocated.
        let mut bytes = Zeroizing::new(Vec::with_capacity(raw.len()));
        bytes.extend(percent_decode_str(raw));
        let text = str::from_utf8(&bytes).map_err(|_| UriError::Utf8("secret"))?;
        Ok(Secret::from_base32(text)?)
    }
}

/// `percent_decode` passes a malformed escape through unchanged; here it is
/// an error, so that a mangled URI is refused rather than read differently
/// from the way an app would read it.
fn check_escapes(raw: &str, field: &'static str) -> Result<(), UriError> {
    let mut bytes = raw.bytes();
    while let Some(b) = bytes.next() {
        if b == b'%' {
            let hex_pair = bytes.next().is_some_and(|h| h.is_ascii_hexdigit())
                && bytes.next().is_some_and(|l| l.is_ascii_hexdigit());
            if !hex_pair {
                return Err(UriError::Encoding(field));
            }
        }
    }
    Ok(())
}

fn decode_text(raw: &str, field: &'static str) -> Result<String, UriError> {
    check_escapes(raw, field)?;
    percent_decode_str(raw)
        .decode_utf8()
        .map(|text| text.into_owned())
        .map_err(|_| UriError::Utf8(field))
}

/// A plain decimal number: ASCII digits only (no sign, space or escape).
fn number(raw: &str, field: &'static str) -> Result<u64, UriError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UriError::Invalid(field));
    }
    raw.parse().map_err(|_| UriError::Invalid(field))
}

fn check_name(name: &str, field: &'static str) -> Result<(), UriError> {
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
            .field("secret", &self.secret)
            .finish()
    }
}

impl fmt::Debug for KeyUriBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyUriBuilder")
            .field("kind", &self.kind)
            .field("issuer", &self.issuer)
            .field("account", &self.account)
            .field("algorithm", &self.algorithm)
            .field("digits", &self.digits)
            .field("secret", &self.secret)
            .finish()
    }
}
