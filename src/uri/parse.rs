//! Reading a [`KeyUri`] from `otpauth://` text.

use core::str;

use percent_encoding::percent_decode_str;
use zeroize::Zeroizing;

use super::{check_name, KeyUri, OtpKind, SCHEME};
use crate::ocra::Suite;
use crate::{Algorithm, Secret, UriError};

impl KeyUri {
    /// Parses an `otpauth://` URI.
    ///
    /// Absent parameters take the format's defaults (SHA1, 6 digits, 30
    /// seconds); `counter` is required for `hotp`. Parameters this library
    /// does not read (`image`, `color`, …) are ignored, as are `period` on
    /// an HOTP key and `counter` on a TOTP key. If only the label names an
    /// issuer, that is the issuer. An `ocrasuite` parameter (otpguard's own
    /// extension) is read as an OCRA suite in the canonical spelling of
    /// RFC 6287 §6 (see [`KeyUri::ocra_suite`]).
    ///
    /// # Errors
    /// [`UriError::Scheme`], [`UriError::Type`] and [`UriError::Label`] for a
    /// URI of the wrong shape; [`UriError::Encoding`] and [`UriError::Utf8`]
    /// for bad percent-escapes; [`UriError::Name`] for an unusable account
    /// or issuer name; [`UriError::Duplicate`] for a repeated parameter;
    /// [`UriError::Missing`] without a secret (or an HOTP counter);
    /// [`UriError::Invalid`], [`UriError::UnknownAlgorithm`] and
    /// [`UriError::Param`] for unusable values (`Invalid("ocrasuite")` for
    /// an `ocrasuite`, empty included, that [`Suite::parse`] refuses);
    /// [`UriError::IssuerMismatch`] when the label's issuer and the `issuer`
    /// parameter differ;
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
        let ocra_suite = match params.ocrasuite {
            // The suite's own error quotes the text, and an error here
            // repeats no part of the URI, so only the parameter is named.
            Some(raw) => Some(
                Suite::parse(&decode_text(raw, "ocrasuite")?)
                    .map_err(|_| UriError::Invalid("ocrasuite"))?,
            ),
            None => None,
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
        Self::new(
            kind,
            secret,
            issuer,
            account.to_owned(),
            algorithm,
            digits,
            ocra_suite,
        )
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
    ocrasuite: Option<&'a str>,
}

impl<'a> Params<'a> {
    const NAMES: [&'static str; 7] = [
        "secret",
        "issuer",
        "algorithm",
        "digits",
        "period",
        "counter",
        "ocrasuite",
    ];

    fn read(query: &'a str) -> Result<Self, UriError> {
        let mut slots: [Option<&'a str>; 7] = [None; 7];
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (raw_key, value) = pair.split_once('=').unwrap_or((pair, ""));
            // Names are compared decoded, as URL libraries read them: a
            // `%73ecret` is a second `secret`, never a parameter of its own.
            check_escapes(raw_key, "parameter name")?;
            let key = percent_decode_str(raw_key)
                .decode_utf8()
                .map_err(|_| UriError::Utf8("parameter name"))?;
            for (name, slot) in Self::NAMES.iter().zip(slots.iter_mut()) {
                if name.eq_ignore_ascii_case(&key) && slot.replace(value).is_some() {
                    return Err(UriError::Duplicate(name));
                }
            }
        }
        let [secret, issuer, algorithm, digits, period, counter, ocrasuite] = slots;
        Ok(Self {
            secret,
            issuer,
            algorithm,
            digits,
            period,
            counter,
            ocrasuite,
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
