//! Constant-time verification of a response over a window of counters and
//! time steps, as [`crate::verify`] does for HOTP and TOTP codes.
//!
//! The response is parsed first (its length and characters are public: the
//! attacker chose them), then the inputs are checked against the suite. Then
//! every candidate (each counter of the look-ahead, times each time step of
//! the time window) is computed and compared with `subtle`, and the matching
//! candidate is selected with `conditional_assign`: no early exit, so the
//! time taken says neither whether the response matched nor where. The
//! window's size is public configuration.

use subtle::{Choice, ConditionallySelectable, ConstantTimeEq};

use super::compute::Ocra;
use super::error::{Field, ResponseError, WindowError};
use super::input::{DataInput, Input};
use super::response::Response;
use crate::Window;

/// Which counters and time steps a response may come from.
///
/// - Counter look-ahead: from the expected counter `c` to `c + ahead` (a
///   token's counter only moves forward; RFC 4226 §7.4), at most
///   [`VerifyWindow::MAX_COUNTER_AHEAD`].
/// - Time: a [`Window`] of steps behind and ahead of the step of the
///   verifier's time (each side at most [`Window::MAX`]).
///
/// A suite with both `C` and `T` is checked over every pair. A window
/// over an input the suite does not have is refused
/// ([`WindowError::Unused`]) rather than ignored.
///
/// ```
/// use otpguard::ocra::VerifyWindow;
/// use otpguard::Window;
/// let w = VerifyWindow::new(3, Window::new(1, 1)?)?;
/// assert_eq!((w.counter_ahead(), w.time_window()), (3, Window::new(1, 1)?));
/// assert!(VerifyWindow::counter(101).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct VerifyWindow {
    counter_ahead: u32,
    time: Window,
}

impl VerifyWindow {
    /// The largest counter look-ahead.
    pub const MAX_COUNTER_AHEAD: u32 = 100;

    /// The expected counter and time step only.
    pub const EXACT: Self = Self {
        counter_ahead: 0,
        time: Window::EXACT,
    };

    /// A look-ahead of `counter_ahead` counters and a time window.
    ///
    /// # Errors
    /// [`WindowError::TooLarge`] above [`VerifyWindow::MAX_COUNTER_AHEAD`].
    pub const fn new(counter_ahead: u32, time: Window) -> Result<Self, WindowError> {
        if counter_ahead > Self::MAX_COUNTER_AHEAD {
            return Err(WindowError::TooLarge {
                ahead: counter_ahead,
                max: Self::MAX_COUNTER_AHEAD,
            });
        }
        Ok(Self {
            counter_ahead,
            time,
        })
    }

    /// A counter look-ahead only (for a suite with `C` and no `T`).
    ///
    /// # Errors
    /// [`WindowError::TooLarge`] above [`VerifyWindow::MAX_COUNTER_AHEAD`].
    pub const fn counter(ahead: u32) -> Result<Self, WindowError> {
        Self::new(ahead, Window::EXACT)
    }

    /// A time window only (for a suite with `T` and no `C`).
    #[must_use]
    pub const fn time(time: Window) -> Self {
        Self {
            counter_ahead: 0,
            time,
        }
    }

    /// The counter look-ahead.
    #[must_use]
    pub const fn counter_ahead(&self) -> u32 {
        self.counter_ahead
    }

    /// The time window.
    #[must_use]
    pub const fn time_window(&self) -> Window {
        self.time
    }
}

/// Which candidate a verified response came from, before any replay
/// check: single use is the caller's (record the counter, or the time
/// step, and refuse it next time).
///
/// ```
/// use otpguard::ocra::{Input, Ocra, Suite, VerifyWindow};
/// use otpguard::{Secret, Window};
///
/// // RFC 6287 Appendix C.3: a signature with a time step of one minute.
/// let secret = Secret::from_bytes(&b"1234567890".repeat(7)[..64])?;
/// let ocra = Ocra::new(&secret, Suite::parse("OCRA-1:HOTP-SHA512-8:QA10-T1M")?);
/// // Signed at step 0x132d0b6; checked one step later.
/// let input = Input::new("SIG1000000").time_step(0x132d0b6 + 1);
/// let m = ocra.verify("77537423", &input, VerifyWindow::time(Window::new(1, 0)?))?;
/// assert_eq!((m.time_step(), m.time_offset()), (Some(0x132d0b6), Some(-1)));
/// assert_eq!(m.counter(), None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a ResponseMatch must be recorded (counter or time step) so the response is not accepted twice"]
pub struct ResponseMatch {
    counter: Option<u64>,
    time_step: Option<u64>,
    time_offset: Option<i64>,
}

impl ResponseMatch {
    /// The counter whose response matched, for a suite with `C`. The next
    /// expected counter is one more.
    #[must_use]
    pub const fn counter(&self) -> Option<u64> {
        self.counter
    }

    /// The time step whose response matched, for a suite with `T`.
    #[must_use]
    pub const fn time_step(&self) -> Option<u64> {
        self.time_step
    }

    /// The matched time step minus the verifier's, for a suite with `T`
    /// (negative: the response came from the past).
    #[must_use]
    pub const fn time_offset(&self) -> Option<i64> {
        self.time_offset
    }
}

impl Ocra {
    /// Checks `response` against every candidate of `window` around
    /// `input` (whose counter is the first of the look-ahead and whose time
    /// is the verifier's), in constant time. If two candidates give the
    /// same response (a 1 in 10^t coincidence), the later one is reported:
    /// the highest counter, then the latest time step.
    ///
    /// # Errors
    /// [`ResponseError::Malformed`] if `response` is not exactly the suite's
    /// number of digits (checked first, before anything is computed);
    /// [`ResponseError::Input`] if `input` does not fit the suite;
    /// [`ResponseError::Window`] if `window` looks at an input the suite does
    /// not have; [`ResponseError::Mismatch`] if no candidate produces
    /// `response`.
    ///
    /// ```
    /// use otpguard::ocra::{ResponseError, Input, Ocra, Suite, VerifyWindow};
    /// use otpguard::Secret;
    ///
    /// // RFC 6287 Appendix C.2: the client checks the server's response.
    /// let secret = Secret::from_bytes(&b"1234567890".repeat(4)[..32])?;
    /// let ocra = Ocra::new(&secret, Suite::parse("OCRA-1:HOTP-SHA256-8:QA08")?);
    /// let server = Input::mutual("CLI22220", "SRV11110");
    /// assert!(ocra.verify("28247970", &server, VerifyWindow::EXACT).is_ok());
    /// assert_eq!(ocra.verify("28247971", &server, VerifyWindow::EXACT), Err(ResponseError::Mismatch));
    /// assert!(matches!(
    ///     ocra.verify("2824797", &server, VerifyWindow::EXACT),
    ///     Err(ResponseError::Malformed { len: 8, hex: false })
    /// ));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify(
        &self,
        response: &str,
        input: &Input<'_>,
        window: VerifyWindow,
    ) -> Result<ResponseMatch, ResponseError> {
        let suite = *self.suite();
        let wanted = Response::parse(response, &suite)?;
        let data = DataInput::new(suite, input)?;
        if window.counter_ahead > 0 && !suite.has_counter() {
            return Err(WindowError::Unused(Field::Counter).into());
        }
        if window.time != Window::EXACT && suite.time_step().is_none() {
            return Err(WindowError::Unused(Field::Time).into());
        }
        let (behind, ahead) = match data.time_step {
            Some(_) => (
                i64::from(window.time.behind()),
                i64::from(window.time.ahead()),
            ),
            None => (0, 0),
        };
        let counter_ahead = if data.counter.is_some() {
            window.counter_ahead
        } else {
            0
        };

        let mut found = Choice::from(0);
        let mut counter = 0u64;
        let mut step = 0u64;
        let mut offset = 0i64;
        for dc in 0..=counter_ahead {
            // A counter past `u64::MAX` (public: it depends on the stored
            // counter only) is computed on the first one and cannot match.
            let (c, c_ok) = match data.counter.map(|c| c.checked_add(u64::from(dc))) {
                Some(Some(c)) => (Some(c), true),
                Some(None) => (data.counter, false),
                None => (None, true),
            };
            // Everything before the time step, hashed once per counter.
            let state = self.before_time(&data, c);
            for rel in behind.saturating_neg()..=ahead {
                let (t, t_ok) = match data.time_step.map(|t| t.checked_add_signed(rel)) {
                    Some(Some(t)) => (Some(t), true),
                    Some(None) => (data.time_step, false),
                    None => (None, true),
                };
                let candidate = self.finish(&state, t);
                let hit = candidate.ct_eq(&wanted) & Choice::from(u8::from(c_ok && t_ok));
                counter.conditional_assign(&c.unwrap_or(0), hit);
                step.conditional_assign(&t.unwrap_or(0), hit);
                offset.conditional_assign(&rel, hit);
                found |= hit;
            }
        }
        if bool::from(found) {
            Ok(ResponseMatch {
                counter: data.counter.map(|_| counter),
                time_step: data.time_step.map(|_| step),
                time_offset: data.time_step.map(|_| offset),
            })
        } else {
            Err(ResponseError::Mismatch)
        }
    }
}
