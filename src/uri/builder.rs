//! Building a [`KeyUri`] for a new token.

use core::fmt;

use zeroize::ZeroizeOnDrop;

use super::{check_name, KeyUri, OtpKind};
use crate::ocra::Suite;
use crate::{Algorithm, Secret, TotpParams, UriError};

/// Builds a [`KeyUri`]. Defaults: TOTP with a 30-second period, SHA-1,
/// 6 digits, no issuer, no OCRA suite. Everything is checked by
/// [`build`](Self::build).
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
#[derive(ZeroizeOnDrop)]
pub struct KeyUriBuilder {
    secret: Secret,
    account: String,
    issuer: Option<String>,
    #[zeroize(skip)]
    kind: OtpKind,
    #[zeroize(skip)]
    algorithm: Algorithm,
    #[zeroize(skip)]
    digits: u32,
    #[zeroize(skip)]
    t0: u64,
    #[zeroize(skip)]
    ocra_suite: Option<Suite>,
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

    /// A TOTP key with every setting of a [`TotpParams`]: the way the
    /// lifecycle provisions, so the app is set up exactly as the bank
    /// verifies. An `otpauth://` URI has no T0, so a profile with T0 other
    /// than 0 is refused by [`build`](Self::build).
    ///
    /// ```
    /// # use otpguard::{Algorithm, KeyUri, OtpKind, Secret, TotpParams};
    /// # let secret = Secret::from_bytes(&[7; 20])?;
    /// let params = TotpParams::new(Algorithm::Sha1, 8, 60, 0)?;
    /// let uri = KeyUri::builder(&secret, "alice").totp(params).build()?;
    /// assert_eq!(uri.to_totp()?.params(), params);
    /// assert!(KeyUri::builder(&secret, "alice").totp(TotpParams::new(Algorithm::Sha1, 6, 30, 5)?).build().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn totp(mut self, params: TotpParams) -> Self {
        self.kind = OtpKind::Totp {
            period: params.period(),
        };
        self.algorithm = params.algorithm();
        self.digits = params.digits();
        self.t0 = params.t0();
        self
    }

    /// The OCRA suite (RFC 6287) the bank signs transactions with, under
    /// the same secret: the URI gets an `ocrasuite` parameter with the
    /// suite's text, percent-encoded (`ocrasuite=OCRA-1%3AHOTP-SHA1-6%3A…`).
    ///
    /// The parameter is otpguard's own extension of the Key URI format
    /// (Google Authenticator's format has none for OCRA); apps that do not
    /// know it ignore it and still show the key's codes. It is allowed on
    /// TOTP and HOTP keys alike, since a suite does not depend on how the
    /// app computes its one-time codes. The URI's HOTP `counter` is not an
    /// OCRA counter: a suite with `C` keeps its own.
    ///
    /// ```
    /// use otpguard::ocra::Suite;
    /// use otpguard::{KeyUri, Secret};
    ///
    /// let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30S")?;
    /// let uri = KeyUri::builder(&secret, "alice@example.com")
    ///     .issuer("Example Bank")
    ///     .ocra_suite(suite)
    ///     .build()?;
    /// assert!(uri.to_uri().ends_with("&period=30&ocrasuite=OCRA-1%3AHOTP-SHA1-6%3AQN08-T30S"));
    /// assert_eq!(KeyUri::parse(&uri.to_uri())?.ocra_suite(), Some(suite));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ocra_suite(mut self, suite: Suite) -> Self {
        self.ocra_suite = Some(suite);
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
    pub fn build(mut self) -> Result<KeyUri, UriError> {
        if self.t0 != 0 {
            return Err(UriError::T0(self.t0));
        }
        check_name(&self.account, "account")?;
        if let Some(issuer) = &self.issuer {
            check_name(issuer, "issuer")?;
        }
        // The builder wipes what it still holds when it drops: the secret
        // is copied out (the copy is the URI's), the names are taken.
        KeyUri::new(
            self.kind,
            self.secret.clone(),
            self.issuer.take(),
            core::mem::take(&mut self.account),
            self.algorithm,
            self.digits,
            self.ocra_suite,
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
            t0: 0,
            ocra_suite: None,
        }
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
            .field("ocra_suite", &self.ocra_suite)
            .field("secret", &self.secret)
            .finish()
    }
}
