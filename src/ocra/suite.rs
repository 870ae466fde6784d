//! The OCRA suite string (RFC 6287 §6): what goes into a response, and how.

use core::fmt;
use core::str::FromStr;

use crate::Algorithm;
use thiserror::Error;

/// An OCRA suite (RFC 6287 §6): `OCRA-1:HOTP-<hash>-<t>:<DataInput>`.
///
/// The suite says which hash the HMAC uses, how many digits the response
/// has, and which inputs go into it: an optional counter `C`, the
/// challenge question `Q` (mandatory), an optional hashed PIN `P`, optional
/// session information `S` and an optional time step `T`.
///
/// Parsing is strict: only the canonical spelling of RFC 6287 §6 is
/// accepted (upper case, every element written out in full, `C`, `Q`, `P`,
/// `S`, `T` in that order, two-digit question lengths, three-digit session
/// lengths, time steps without leading zeros). The suite's text is part of
/// what is MACed, so two spellings of "the same" suite give different
/// responses; accepting only one spelling keeps `parse` then `to_string` the
/// identity, and the text the server MACs the text the token MACs.
///
/// ```
/// use otpguard::ocra::{QuestionFormat, Suite, SuiteError};
/// use otpguard::Algorithm;
///
/// let suite = Suite::parse("OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1")?;
/// assert_eq!(suite.algorithm(), Algorithm::Sha256);
/// assert_eq!(suite.digits(), 8);
/// assert!(suite.has_counter());
/// assert_eq!(suite.question_format(), QuestionFormat::Numeric);
/// assert_eq!(suite.question_len(), 8);
/// assert_eq!(suite.pin(), Some(Algorithm::Sha1));
/// assert_eq!(suite.to_string(), "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1");
///
/// // A malformed suite says what is wrong with it.
/// assert!(matches!(
///     Suite::parse("OCRA-1:HOTP-SHA1-3:QN08"),
///     Err(SuiteError::Digits { .. })
/// ));
/// assert!(matches!(
///     Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T60M"),
///     Err(SuiteError::TimeStep { .. })
/// ));
/// # Ok::<(), SuiteError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Suite {
    algorithm: Algorithm,
    /// `None`: no truncation (`t` = 0).
    truncation: Option<ResponseDigits>,
    counter: bool,
    question: QuestionFormat,
    question_len: u8,
    pin: Option<Algorithm>,
    session_len: Option<u16>,
    time_step: Option<TimeStep>,
}

/// The decimal digits of a truncated response (the `t` of
/// `HOTP-<hash>-<t>`, 4 to 10): a type of its own, so that code working on
/// a response has a case for each length and none for a length the suite
/// cannot have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum ResponseDigits {
    Four,
    Five,
    Six,
    Seven,
    Eight,
    Nine,
    Ten,
}

impl ResponseDigits {
    /// The number of digits.
    pub(crate) const fn count(self) -> u8 {
        match self {
            Self::Four => 4,
            Self::Five => 5,
            Self::Six => 6,
            Self::Seven => 7,
            Self::Eight => 8,
            Self::Nine => 9,
            Self::Ten => 10,
        }
    }
}

/// The characters a challenge question is made of (the `F` of `QFxx`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuestionFormat {
    /// `A`: ASCII letters and digits, MACed as their ASCII bytes.
    Alphanumeric,
    /// `N`: decimal digits, MACed as the number they write, in binary
    /// (RFC 6287's reference implementation).
    Numeric,
    /// `H`: hexadecimal digits, MACed as the bytes they write.
    Hex,
}

impl QuestionFormat {
    /// The letter in the suite: `A`, `N` or `H`.
    #[must_use]
    pub const fn letter(self) -> char {
        match self {
            Self::Alphanumeric => 'A',
            Self::Numeric => 'N',
            Self::Hex => 'H',
        }
    }

    /// Whether `c` may appear in a question of this format.
    #[must_use]
    pub const fn allows(self, c: u8) -> bool {
        match self {
            Self::Alphanumeric => c.is_ascii_alphanumeric(),
            Self::Numeric => c.is_ascii_digit(),
            Self::Hex => c.is_ascii_hexdigit(),
        }
    }
}

impl fmt::Display for QuestionFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Alphanumeric => "alphanumeric",
            Self::Numeric => "numeric",
            Self::Hex => "hexadecimal",
        })
    }
}

/// The unit of a [`TimeStep`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeUnit {
    /// `S`: 1 to 59 seconds.
    Seconds,
    /// `M`: 1 to 59 minutes.
    Minutes,
    /// `H`: 1 to 48 hours.
    Hours,
}

/// The time step of a suite's `T` input (`T1S` … `T59S`, `T1M` … `T59M`,
/// `T1H` … `T48H`).
///
/// ```
/// use otpguard::ocra::{Suite, TimeUnit};
/// let step = Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30S")?.time_step().ok_or("no T")?;
/// assert_eq!((step.count(), step.unit(), step.seconds()), (30, TimeUnit::Seconds, 30));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimeStep {
    count: u8,
    unit: TimeUnit,
}

impl TimeStep {
    /// A time step of `count` units, if RFC 6287 allows it.
    ///
    /// RFC 6287 §6.3's table writes hours as `[0-48]H`; a zero step has no
    /// time step count, so it is refused here like `0S` and `0M`.
    #[must_use]
    pub const fn new(count: u8, unit: TimeUnit) -> Option<Self> {
        let max = match unit {
            TimeUnit::Seconds | TimeUnit::Minutes => 59,
            TimeUnit::Hours => 48,
        };
        if count == 0 || count > max {
            None
        } else {
            Some(Self { count, unit })
        }
    }

    /// The number of units.
    #[must_use]
    pub const fn count(self) -> u8 {
        self.count
    }

    /// The unit.
    #[must_use]
    pub const fn unit(self) -> TimeUnit {
        self.unit
    }

    /// The step's length in seconds (1 to 172,800; never zero).
    #[must_use]
    pub const fn seconds(self) -> u64 {
        let per_unit: u32 = match self.unit {
            TimeUnit::Seconds => 1,
            TimeUnit::Minutes => 60,
            TimeUnit::Hours => 3600,
        };
        // At most 59 * 3600: no overflow.
        (self.count as u64).saturating_mul(per_unit as u64)
    }

    const fn unit_letter(self) -> char {
        match self.unit {
            TimeUnit::Seconds => 'S',
            TimeUnit::Minutes => 'M',
            TimeUnit::Hours => 'H',
        }
    }
}

impl fmt::Display for TimeStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.count, self.unit_letter())
    }
}

impl Suite {
    /// The longest suite text accepted. The longest valid suite,
    /// `OCRA-1:HOTP-SHA512-10:C-QA64-PSHA512-S512-T59M`, has 46 characters.
    pub const MAX_LEN: usize = 64;

    /// Parses a suite string (see the type's documentation for what is
    /// accepted).
    ///
    /// # Errors
    /// A [`SuiteError`] naming the first part that is wrong.
    ///
    /// ```
    /// use otpguard::ocra::{Suite, SuiteError};
    /// let s = Suite::parse("OCRA-1:HOTP-SHA512-8:QA10-T1M")?;
    /// assert_eq!(s.time_step().map(|t| t.seconds()), Some(60));
    /// assert!(matches!(Suite::parse("OCRA-1:HOTP-MD5-6:QN08"), Err(SuiteError::Hash { .. })));
    /// assert!(matches!(Suite::parse("OCRA-1:HOTP-SHA1-6:QX08"), Err(SuiteError::Question { .. })));
    /// assert!(matches!(Suite::parse("OCRA-1:HOTP-SHA1-6:QN65"), Err(SuiteError::QuestionLength { .. })));
    /// # Ok::<(), SuiteError>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self, SuiteError> {
        if text.len() > Self::MAX_LEN {
            return Err(SuiteError::TooLong {
                len: text.len(),
                max: Self::MAX_LEN,
            });
        }
        let mut parts = text.split(':');
        let (Some(version), Some(function), Some(data_input), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SuiteError::Shape);
        };
        if version != "OCRA-1" {
            return Err(SuiteError::Version {
                found: version.into(),
            });
        }
        let (algorithm, truncation) = parse_function(function)?;
        let mut elements = data_input.split('-').peekable();
        let counter = elements.next_if_eq(&"C").is_some();
        // After `C-`, the question may be missing altogether ("C").
        let (question, question_len) = match elements.next() {
            Some(question) => parse_question(question)?,
            None => {
                return Err(SuiteError::Question {
                    found: String::new(),
                })
            }
        };
        let pin = match elements.next_if(|e| e.starts_with('P')) {
            Some(e) => Some(parse_pin(e)?),
            None => None,
        };
        let session_len = match elements.next_if(|e| e.starts_with('S')) {
            Some(e) => Some(parse_session(e)?),
            None => None,
        };
        let time_step = match elements.next_if(|e| e.starts_with('T')) {
            Some(e) => Some(parse_time_step(e)?),
            None => None,
        };
        if let Some(extra) = elements.next() {
            return Err(SuiteError::Element {
                found: extra.into(),
            });
        }
        Ok(Self {
            algorithm,
            truncation,
            counter,
            question,
            question_len,
            pin,
            session_len,
            time_step,
        })
    }

    /// The hash function of the HMAC (`HOTP-SHA1`, `-SHA256`, `-SHA512`).
    #[must_use]
    pub const fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The number of decimal digits of a response: 4 to 10, or 0 when the
    /// suite asks for no truncation (then a response is the whole HMAC, see
    /// [`Response`](super::Response)).
    #[must_use]
    pub const fn digits(&self) -> u32 {
        match self.truncation {
            Some(digits) => digits.count() as u32,
            None => 0,
        }
    }

    /// The digits of a truncated response, or `None` for a suite without
    /// truncation (`t` = 0).
    pub(crate) const fn truncation(&self) -> Option<ResponseDigits> {
        self.truncation
    }

    /// Whether the suite has a counter input (`C`).
    #[must_use]
    pub const fn has_counter(&self) -> bool {
        self.counter
    }

    /// The format of the challenge question.
    #[must_use]
    pub const fn question_format(&self) -> QuestionFormat {
        self.question
    }

    /// The longest challenge question, in characters (4 to 64; the `xx` of
    /// `QFxx`). A mutual challenge-response question is two of these.
    #[must_use]
    pub const fn question_len(&self) -> usize {
        self.question_len as usize
    }

    /// The hash of the PIN input (`P`), if the suite has one.
    #[must_use]
    pub const fn pin(&self) -> Option<Algorithm> {
        self.pin
    }

    /// The length in bytes of the session information input (`S`), if the
    /// suite has one (1 to 999).
    #[must_use]
    pub const fn session_len(&self) -> Option<usize> {
        match self.session_len {
            Some(len) => Some(len as usize),
            None => None,
        }
    }

    /// The time step of the time input (`T`), if the suite has one.
    #[must_use]
    pub const fn time_step(&self) -> Option<TimeStep> {
        self.time_step
    }
}

impl FromStr for Suite {
    type Err = SuiteError;

    fn from_str(text: &str) -> Result<Self, SuiteError> {
        Self::parse(text)
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "OCRA-1:HOTP-{}-{}:",
            self.algorithm.uri_name(),
            self.digits()
        )?;
        if self.counter {
            f.write_str("C-")?;
        }
        write!(f, "Q{}{:02}", self.question.letter(), self.question_len)?;
        if let Some(pin) = self.pin {
            write!(f, "-P{}", pin.uri_name())?;
        }
        if let Some(len) = self.session_len {
            write!(f, "-S{len:03}")?;
        }
        if let Some(step) = self.time_step {
            write!(f, "-T{step}")?;
        }
        Ok(())
    }
}

/// `HOTP-<hash>-<t>`; `t` = 0 is no truncation.
fn parse_function(function: &str) -> Result<(Algorithm, Option<ResponseDigits>), SuiteError> {
    let shape = || SuiteError::CryptoFunction {
        found: function.into(),
    };
    let rest = function.strip_prefix("HOTP-").ok_or_else(shape)?;
    let (hash, digits) = rest.split_once('-').ok_or_else(shape)?;
    let algorithm = parse_hash(hash).ok_or_else(|| SuiteError::Hash { found: hash.into() })?;
    let truncation = match digits {
        "0" => None,
        "4" => Some(ResponseDigits::Four),
        "5" => Some(ResponseDigits::Five),
        "6" => Some(ResponseDigits::Six),
        "7" => Some(ResponseDigits::Seven),
        "8" => Some(ResponseDigits::Eight),
        "9" => Some(ResponseDigits::Nine),
        "10" => Some(ResponseDigits::Ten),
        _ => {
            return Err(SuiteError::Digits {
                found: digits.into(),
            })
        }
    };
    Ok((algorithm, truncation))
}

/// `PSHA1`, `PSHA256` or `PSHA512`.
fn parse_pin(element: &str) -> Result<Algorithm, SuiteError> {
    element
        .strip_prefix('P')
        .and_then(parse_hash)
        .ok_or_else(|| SuiteError::Pin {
            found: element.into(),
        })
}

fn parse_hash(name: &str) -> Option<Algorithm> {
    match name {
        "SHA1" => Some(Algorithm::Sha1),
        "SHA256" => Some(Algorithm::Sha256),
        "SHA512" => Some(Algorithm::Sha512),
        _ => None,
    }
}

/// `QFxx`, `xx` from 04 to 64.
fn parse_question(element: &str) -> Result<(QuestionFormat, u8), SuiteError> {
    let found = || element.into();
    let mut chars = element.chars();
    let format = match (chars.next(), chars.next()) {
        (Some('Q'), Some('A')) => QuestionFormat::Alphanumeric,
        (Some('Q'), Some('N')) => QuestionFormat::Numeric,
        (Some('Q'), Some('H')) => QuestionFormat::Hex,
        _ => return Err(SuiteError::Question { found: found() }),
    };
    match chars.as_str().as_bytes() {
        [tens, ones] => match two_digits(*tens, *ones) {
            Some(len @ 4..=64) => Ok((format, len)),
            _ => Err(SuiteError::QuestionLength { found: found() }),
        },
        _ => Err(SuiteError::QuestionLength { found: found() }),
    }
}

/// `Snnn`, `nnn` from 001 to 999: the suite writes the length in bytes as
/// three digits (`S064`, `S128`, `S256`, `S512` are the usual ones), and
/// every length they can write is accepted, as other implementations (the
/// Python `oath` package) accept them.
fn parse_session(element: &str) -> Result<u16, SuiteError> {
    let length = match element.as_bytes() {
        [b'S', hundreds, tens, ones] => {
            digit(*hundreds)
                .zip(two_digits(*tens, *ones))
                .map(|(h, rest)| {
                    // At most 9 * 100 + 99 = 999: no overflow.
                    u16::from(h).wrapping_mul(100).wrapping_add(u16::from(rest))
                })
        }
        _ => None,
    };
    match length {
        Some(len @ 1..=999) => Ok(len),
        _ => Err(SuiteError::Session {
            found: element.into(),
        }),
    }
}

/// `T<n><unit>`, `n` without leading zeros.
fn parse_time_step(element: &str) -> Result<TimeStep, SuiteError> {
    let error = || SuiteError::TimeStep {
        found: element.into(),
    };
    let body = element.strip_prefix('T').ok_or_else(error)?;
    let (count, unit) = if let Some(n) = body.strip_suffix('S') {
        (n, TimeUnit::Seconds)
    } else if let Some(n) = body.strip_suffix('M') {
        (n, TimeUnit::Minutes)
    } else if let Some(n) = body.strip_suffix('H') {
        (n, TimeUnit::Hours)
    } else {
        return Err(error());
    };
    // One or two digits, without a leading zero.
    let count = match count.as_bytes() {
        [b'0', ..] => None,
        [ones] => digit(*ones),
        [tens, ones] => two_digits(*tens, *ones),
        _ => None,
    };
    count.and_then(|n| TimeStep::new(n, unit)).ok_or_else(error)
}

/// The value of an ASCII decimal digit.
const fn digit(b: u8) -> Option<u8> {
    if b.is_ascii_digit() {
        Some(b.wrapping_sub(b'0'))
    } else {
        None
    }
}

/// Two ASCII decimal digits as a number: at most 99, so a `u8` holds it
/// with no narrowing.
fn two_digits(tens: u8, ones: u8) -> Option<u8> {
    let (tens, ones) = (digit(tens)?, digit(ones)?);
    // At most 9 * 10 + 9 = 99: no overflow.
    Some(tens.wrapping_mul(10).wrapping_add(ones))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_suites_round_trip() {
        for text in [
            "OCRA-1:HOTP-SHA1-6:QN08",
            "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1",
            "OCRA-1:HOTP-SHA256-8:QN08-PSHA1",
            "OCRA-1:HOTP-SHA512-8:C-QN08",
            "OCRA-1:HOTP-SHA512-8:QN08-T1M",
            "OCRA-1:HOTP-SHA256-8:QA08",
            "OCRA-1:HOTP-SHA512-8:QA08-PSHA1",
            "OCRA-1:HOTP-SHA512-8:QA10-T1M",
            "OCRA-1:HOTP-SHA1-4:QH40-S512",
            "OCRA-1:HOTP-SHA512-10:C-QA64-PSHA512-S512-T59M",
            "OCRA-1:HOTP-SHA1-0:QH04-S001-T48H",
        ] {
            assert_eq!(Suite::parse(text).map(|s| s.to_string()), Ok(text.into()));
        }
    }

    #[test]
    fn errors_name_the_part() {
        let cases = [
            ("", "Shape"),
            ("OCRA-1:HOTP-SHA1-6", "Shape"),
            ("OCRA-1:HOTP-SHA1-6:QN08:X", "Shape"),
            ("OCRA-2:HOTP-SHA1-6:QN08", "Version"),
            ("OCRA-1:TOTP-SHA1-6:QN08", "CryptoFunction"),
            ("OCRA-1:HOTP-SHA384-6:QN08", "Hash"),
            ("OCRA-1:HOTP-SHA1-06:QN08", "Digits"),
            ("OCRA-1:HOTP-SHA1-11:QN08", "Digits"),
            ("OCRA-1:HOTP-SHA1-6:C", "Question"),
            ("OCRA-1:HOTP-SHA1-6:qn08", "Question"),
            ("OCRA-1:HOTP-SHA1-6:QN8", "QuestionLength"),
            ("OCRA-1:HOTP-SHA1-6:QN03", "QuestionLength"),
            ("OCRA-1:HOTP-SHA1-6:QN08-P", "Pin"),
            ("OCRA-1:HOTP-SHA1-6:QN08-S64", "Session"),
            ("OCRA-1:HOTP-SHA1-6:QN08-S1000", "Session"),
            ("OCRA-1:HOTP-SHA1-6:QN08-S000", "Session"),
            ("OCRA-1:HOTP-SHA1-6:QN08-T0S", "TimeStep"),
            ("OCRA-1:HOTP-SHA1-6:QN08-T01M", "TimeStep"),
            ("OCRA-1:HOTP-SHA1-6:QN08-T49H", "TimeStep"),
            ("OCRA-1:HOTP-SHA1-6:QN08-T", "TimeStep"),
            ("OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1", "Element"),
            ("OCRA-1:HOTP-SHA1-6:QN08-C", "Element"),
            ("OCRA-1:HOTP-SHA1-6:QN08-", "Element"),
            ("OCRA-1:HOTP-SHA1-6:C-QN08-PSHA1-PSHA1", "Element"),
        ];
        // Every length three digits can write, beyond the usual S512.
        for (text, len) in [("S513", 513), ("S999", 999), ("S001", 1)] {
            let suite = Suite::parse(&format!("OCRA-1:HOTP-SHA1-6:QN08-{text}"));
            assert_eq!(suite.map(|s| s.session_len()), Ok(Some(len)), "{text}");
        }
        for (text, variant) in cases {
            match Suite::parse(text) {
                Err(e) => assert!(format!("{e:?}").starts_with(variant), "{text}: {e:?}"),
                Ok(s) => panic!("{text} parsed as {s}"),
            }
        }
    }

    #[test]
    fn every_number_in_a_suite_is_read_exactly() {
        for t in 0..=12u32 {
            let parsed = Suite::parse(&format!("OCRA-1:HOTP-SHA1-{t}:QN08"));
            match parsed {
                Ok(suite) => {
                    assert!(t == 0 || (4..=10).contains(&t), "{t}");
                    assert_eq!(suite.digits(), t);
                }
                Err(e) => {
                    assert!(matches!(e, SuiteError::Digits { .. }), "{t}: {e:?}");
                    assert!((1..=3).contains(&t) || t > 10, "{t}");
                }
            }
        }
        for len in 0..=99usize {
            let parsed = Suite::parse(&format!("OCRA-1:HOTP-SHA1-6:QA{len:02}"));
            match parsed {
                Ok(suite) => {
                    assert!((4..=64).contains(&len), "{len}");
                    assert_eq!(suite.question_len(), len);
                }
                Err(e) => {
                    assert!(!(4..=64).contains(&len), "{len}");
                    assert!(matches!(e, SuiteError::QuestionLength { .. }), "{e:?}");
                }
            }
        }
        for (unit, letter, max, seconds) in [
            (TimeUnit::Seconds, 'S', 59, 1),
            (TimeUnit::Minutes, 'M', 59, 60),
            (TimeUnit::Hours, 'H', 48, 3_600),
        ] {
            for count in 0..=99u64 {
                let parsed = Suite::parse(&format!("OCRA-1:HOTP-SHA1-6:QN08-T{count}{letter}"));
                let step = parsed.ok().and_then(|s| s.time_step());
                if (1..=max).contains(&count) {
                    let step = step.unwrap();
                    assert_eq!((u64::from(step.count()), step.unit()), (count, unit));
                    assert_eq!(step.seconds(), count * seconds);
                } else {
                    assert_eq!(step, None, "T{count}{letter}");
                }
                let padded = Suite::parse(&format!("OCRA-1:HOTP-SHA1-6:QN08-T0{count}{letter}"));
                assert!(
                    matches!(padded, Err(SuiteError::TimeStep { .. })),
                    "T0{count}{letter}"
                );
            }
        }
    }

    #[test]
    fn time_steps() {
        assert_eq!(
            TimeStep::new(48, TimeUnit::Hours).map(TimeStep::seconds),
            Some(172_800)
        );
        assert_eq!(TimeStep::new(0, TimeUnit::Seconds), None);
        assert_eq!(TimeStep::new(60, TimeUnit::Minutes), None);
    }
}

/// A suite string is not one RFC 6287 §6 allows. Each variant names the part
/// that is wrong and quotes it (a suite is configuration, not a secret).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SuiteError {
    /// The text is longer than any valid suite.
    #[error("an OCRA suite has at most {max} characters, not {len}")]
    TooLong {
        /// Length given, in bytes.
        len: usize,
        /// [`Suite::MAX_LEN`](super::Suite::MAX_LEN).
        max: usize,
    },
    /// Not three `:`-separated parts (`OCRA-1:CryptoFunction:DataInput`).
    #[error("an OCRA suite is OCRA-1:CryptoFunction:DataInput (three parts separated by ':')")]
    Shape,
    /// The first part is not `OCRA-1`.
    #[error("unknown OCRA version `{found}` (expected OCRA-1)")]
    Version {
        /// The first part.
        found: String,
    },
    /// The CryptoFunction is not `HOTP-<hash>-<digits>`.
    #[error("the crypto function `{found}` is not HOTP-<hash>-<digits>")]
    CryptoFunction {
        /// The second part.
        found: String,
    },
    /// The CryptoFunction's hash is not SHA1, SHA256 or SHA512.
    #[error("unknown hash `{found}` in the crypto function (expected SHA1, SHA256 or SHA512)")]
    Hash {
        /// The hash name given.
        found: String,
    },
    /// The truncation length is not 0 or 4 to 10 (without leading zeros).
    #[error("truncation `{found}` is not 0 or 4 to 10 digits")]
    Digits {
        /// The truncation given.
        found: String,
    },
    /// The DataInput's first element is neither `C` nor a question `QA`,
    /// `QN` or `QH` (the question is mandatory, and comes first or after
    /// `C`).
    #[error(
        "expected the challenge question QAxx, QNxx or QHxx (optionally after C-), found `{found}`"
    )]
    Question {
        /// The element found where the question should be.
        found: String,
    },
    /// The question's length is not two digits from 04 to 64.
    #[error("the question length in `{found}` is not two digits from 04 to 64")]
    QuestionLength {
        /// The question element.
        found: String,
    },
    /// The PIN element is not `PSHA1`, `PSHA256` or `PSHA512`.
    #[error("the PIN element `{found}` is not PSHA1, PSHA256 or PSHA512")]
    Pin {
        /// The PIN element.
        found: String,
    },
    /// The session element is not `S` and three digits from 001 to 999.
    #[error("the session element `{found}` is not S followed by three digits from 001 to 999")]
    Session {
        /// The session element.
        found: String,
    },
    /// The time element is not `T` and 1-59 `S`, 1-59 `M` or 1-48 `H`
    /// (without leading zeros).
    #[error("the time step `{found}` is not T followed by 1-59S, 1-59M or 1-48H")]
    TimeStep {
        /// The time element.
        found: String,
    },
    /// An element after the question that is unknown, repeated, empty or
    /// out of order (the order is `C`, `Q`, `P`, `S`, `T`).
    #[error("unexpected DataInput element `{found}` (the order is [C-]QFxx[-PH][-Snnn][-TG])")]
    Element {
        /// The element.
        found: String,
    },
}
