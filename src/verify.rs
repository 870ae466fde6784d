//! Constant-time verification of a submitted code over a window of steps.
//!
//! Every candidate step in the window is computed and compared, whatever the
//! input and wherever (or whether) it matches; the comparison and the
//! bookkeeping of which step matched use `subtle`'s constant-time primitives,
//! with no early exit. So the time taken does not reveal whether the code was
//! right, nor at which offset it matched. What is *not* hidden: the length and
//! well-formedness of the input (checked first, in variable time, since the
//! attacker chose it) and the window's size (public configuration).

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use crate::key::{Digits, OtpKey};
use crate::{CheckError, HotpCheckError, ParamError};

/// How many steps before and after the expected one a code may come from.
///
/// For TOTP the steps are time steps (network delay and clock drift); for HOTP
/// they are counter values (codes generated on the token but never used).
/// RFC 6238 §5.2 recommends at most one step of look-behind. Each side is
/// capped at [`Window::MAX`].
///
/// ```
/// use otpguard::Window;
///
/// let w = Window::new(1, 2)?;
/// assert_eq!((w.behind(), w.ahead()), (1, 2));
/// assert_eq!(Window::default(), Window::new(1, 1)?);
/// assert!(Window::new(11, 0).is_err());
/// # Ok::<(), otpguard::ParamError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "WindowFields"))]
pub struct Window {
    behind: u32,
    ahead: u32,
}

/// What a [`Window`] is deserialized from. Going through [`Window::new`]
/// keeps a stored or received configuration from lifting the cap: a window of
/// billions of steps would make every verification compute billions of codes.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
struct WindowFields {
    behind: u32,
    ahead: u32,
}

#[cfg(feature = "serde")]
impl TryFrom<WindowFields> for Window {
    type Error = ParamError;

    fn try_from(fields: WindowFields) -> Result<Self, ParamError> {
        Self::new(fields.behind, fields.ahead)
    }
}

impl Window {
    /// The largest look-behind or look-ahead accepted, in steps.
    pub const MAX: u32 = 10;

    /// Accept only the expected step.
    pub const EXACT: Self = Self {
        behind: 0,
        ahead: 0,
    };

    /// A window of `behind` steps into the past and `ahead` steps into the
    /// future.
    ///
    /// # Errors
    /// [`ParamError::WindowTooLarge`] if either side exceeds [`Window::MAX`].
    ///
    /// ```
    /// let w = otpguard::Window::new(2, 0)?;
    /// assert_eq!(w.behind(), 2);
    /// # Ok::<(), otpguard::ParamError>(())
    /// ```
    pub const fn new(behind: u32, ahead: u32) -> Result<Self, ParamError> {
        if behind > Self::MAX || ahead > Self::MAX {
            return Err(ParamError::WindowTooLarge {
                behind,
                ahead,
                max: Self::MAX,
            });
        }
        Ok(Self { behind, ahead })
    }

    /// Steps looked at before the expected one.
    ///
    /// ```
    /// assert_eq!(otpguard::Window::default().behind(), 1);
    /// ```
    #[must_use]
    pub const fn behind(self) -> u32 {
        self.behind
    }

    /// Steps looked at after the expected one.
    ///
    /// ```
    /// assert_eq!(otpguard::Window::EXACT.ahead(), 0);
    /// ```
    #[must_use]
    pub const fn ahead(self) -> u32 {
        self.ahead
    }
}

impl Window {
    /// One step behind and one ahead: what RFC 6238 §5.2 recommends, and
    /// `Window::default()`.
    pub const DEFAULT: Self = Self {
        behind: 1,
        ahead: 1,
    };
}

impl Default for Window {
    /// One step behind and one ahead.
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A code that matched a step in the window, before any replay check.
///
/// A `Match` says the code was right; it does not say the code may be
/// accepted, since it may have been used before. Turn it into an
/// [`Accepted`](crate::Accepted) with [`Match::claim`] or
/// [`Match::claim_async`] against a [replay guard](crate::replay).
///
/// ```
/// use otpguard::{Secret, Totp, Window};
///
/// let secret = Secret::from_bytes(b"12345678901234567890")?;
/// let totp = Totp::builder(&secret).digits(8).build()?;
/// // The code of step 1 (time 59), submitted at time 89 (step 2): one step late.
/// let m = totp.verify("94287082", 89, Window::default())?;
/// assert_eq!(m.step(), 1);
/// assert_eq!(m.offset(), -1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a Match must be claimed against a replay guard before the code is accepted"]
pub struct Match {
    pub(crate) step: u64,
    pub(crate) offset: i64,
}

impl Match {
    /// The step (TOTP time step or HOTP counter) whose code matched.
    ///
    /// ```
    /// # let secret = otpguard::Secret::from_bytes(b"12345678901234567890")?;
    /// # let totp = otpguard::Totp::builder(&secret).digits(8).build()?;
    /// assert_eq!(totp.verify("94287082", 59, otpguard::Window::EXACT)?.step(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn step(&self) -> u64 {
        self.step
    }

    /// Drift in steps: matched step minus expected step. Negative means the
    /// code came from the past (a slow user or a token clock behind ours).
    ///
    /// ```
    /// # let secret = otpguard::Secret::from_bytes(b"12345678901234567890")?;
    /// # let totp = otpguard::Totp::builder(&secret).digits(8).build()?;
    /// // Step 1's code, checked at time 0 (step 0): one step ahead.
    /// assert_eq!(totp.verify("94287082", 0, otpguard::Window::default())?.offset(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub const fn offset(&self) -> i64 {
        self.offset
    }
}

/// Parses the submitted code: exactly `digits` ASCII digits, else
/// [`HotpCheckError::Malformed`]. Length and content are public here.
pub(crate) fn parse_input(input: &str, digits: Digits) -> Result<u32, HotpCheckError> {
    let malformed = HotpCheckError::Malformed {
        expected: digits.get(),
    };
    let bytes = input.as_bytes();
    if bytes.len() != digits.len() || !bytes.iter().all(u8::is_ascii_digit) {
        return Err(malformed);
    }
    Ok(bytes.iter().fold(0u32, |acc, &b| {
        acc.wrapping_mul(10)
            .wrapping_add(u32::from(b.wrapping_sub(b'0')))
    }))
}

/// Compares `input` against every step from `center - behind` to
/// `center + ahead` in constant time. Steps that would fall outside `u64`
/// (public: they depend on the time, not on any secret) are computed on a
/// placeholder counter and can never match, so the work is the same.
///
/// If two steps produce the same code (a 1 in 10^digits coincidence), the
/// later step is reported.
pub(crate) fn scan(
    key: &OtpKey,
    digits: Digits,
    input: &str,
    center: u64,
    window: Window,
) -> Result<Match, HotpCheckError> {
    let wanted = parse_input(input, digits)?;
    let mut found = Choice::from(0);
    let mut step = 0u64;
    let mut offset = 0i64;
    for rel in 0i64.saturating_sub(i64::from(window.behind))..=i64::from(window.ahead) {
        // An out-of-range step is compared against a value no code can take
        // (codes are below 10^8 < 2^31), rather than masked with a second
        // `Choice`: one constant-time comparison per step, nothing more.
        let (candidate, target) = match center.checked_add_signed(rel) {
            Some(c) => (c, wanted),
            None => (center, u32::MAX),
        };
        let hit = key.hotp(candidate, digits).ct_eq(&target);
        step.conditional_assign(&candidate, hit);
        offset.conditional_assign(&rel, hit);
        found |= hit;
    }
    if bool::from(found) {
        Ok(Match { step, offset })
    } else {
        Err(HotpCheckError::Mismatch)
    }
}

/// Compares `input` against every step from `first` to `last` in constant
/// time (the range is public: it depends on the time and the token's
/// record, not on any secret), reporting the match's offset from `now`. If
/// two steps produce the same code, the later step is reported.
pub(crate) fn scan_steps(
    key: &OtpKey,
    digits: Digits,
    input: &str,
    (first, last): (u64, u64),
    now: u64,
) -> Result<Match, CheckError> {
    let wanted = parse_input(input, digits)?;
    let mut found = Choice::from(0);
    let mut step = 0u64;
    for candidate in first..=last {
        let hit = key.hotp(candidate, digits).ct_eq(&wanted);
        step.conditional_assign(&candidate, hit);
        found |= hit;
    }
    if !bool::from(found) {
        return Err(CheckError::Mismatch);
    }
    // Steps and `now` are below 2^64: their difference fits an i128; one
    // beyond i64 cannot come from a range the lifecycle bounds, and is
    // refused as out of range rather than narrowed.
    let offset = i128::from(step)
        .checked_sub(i128::from(now))
        .and_then(|d| i64::try_from(d).ok())
        .ok_or(CheckError::Time(crate::TimeError::DriftOutOfRange {
            step: now,
            shift: 0,
        }))?;
    Ok(Match { step, offset })
}

/// Finds two consecutive codes: `first` for some step `s - 1` and `second`
/// for step `s`, with `s` from `center - radius` to `center + radius`, in
/// constant time: every step's code is computed once and compared with
/// both inputs whatever matched before (2·radius + 2 codes). Reports `s`
/// (the later step) and its offset from `center`. Steps outside `u64` are
/// computed on a placeholder and can never match.
pub(crate) fn scan_pair(
    key: &OtpKey,
    digits: Digits,
    first: &str,
    second: &str,
    center: u64,
    radius: u32,
) -> Result<Match, HotpCheckError> {
    let first = parse_input(first, digits)?;
    let second = parse_input(second, digits)?;
    let radius = i64::from(radius);
    let code_at = |rel: i64| match center.checked_add_signed(rel) {
        Some(step) => (step, key.hotp(step, digits)),
        // Computed all the same; bit 31 set, a value no code takes (codes
        // are below 10^8 < 2^31).
        None => (center, key.hotp(center, digits) | 0x8000_0000),
    };
    let (_, mut previous) = code_at(radius.saturating_add(1).saturating_neg());
    let mut found = Choice::from(0);
    let mut step = 0u64;
    let mut offset = 0i64;
    for rel in radius.saturating_neg()..=radius {
        let (candidate, code) = code_at(rel);
        let hit = previous.ct_eq(&first) & code.ct_eq(&second);
        step.conditional_assign(&candidate, hit);
        offset.conditional_assign(&rel, hit);
        found |= hit;
        previous = code;
    }
    if bool::from(found) {
        Ok(Match { step, offset })
    } else {
        Err(HotpCheckError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "serde")]
    #[test]
    fn deserializing_a_window_enforces_the_cap() {
        use serde::de::value::{Error, MapDeserializer};
        use serde::Deserialize;

        let read = |behind: u32, ahead: u32| {
            let fields = [("behind", behind), ("ahead", ahead)];
            Window::deserialize(MapDeserializer::<_, Error>::new(fields.into_iter()))
        };
        assert_eq!(read(2, 3).unwrap(), Window::new(2, 3).unwrap());
        assert_eq!(read(10, 10).unwrap(), Window::new(10, 10).unwrap());
        for (behind, ahead) in [(11, 0), (0, 11), (u32::MAX, u32::MAX)] {
            let err = read(behind, ahead).unwrap_err().to_string();
            assert!(err.contains("exceeds the maximum"), "{err}");
        }
    }

    #[test]
    fn input_must_be_exactly_the_digits() {
        let six = Digits::new(6).unwrap();
        assert_eq!(parse_input("012345", six).ok(), Some(12_345));
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            " 12345",
            "１２３４５６",
            "12 345",
        ] {
            assert!(
                matches!(
                    parse_input(bad, six),
                    Err(HotpCheckError::Malformed { expected: 6 })
                ),
                "{bad:?}"
            );
        }
    }
}
