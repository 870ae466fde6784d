//! Where a token's phone clock is, in seconds, and where it is heading.
//!
//! A phone's clock drifts at a steady rate (a few seconds a day at worst).
//! Recording the drift in whole steps loses most of what each accepted code
//! says: a code for step `s` accepted at server time `t` proves the phone's
//! clock read a time within step `s` at `t`, so its offset from the server
//! lay in a 30-second interval. Kept as such, and intersected with what
//! earlier codes allow, the offset narrows to a few seconds; the span
//! between the first and the latest code bounds the rate. The window of a
//! later code is the configured window around where the estimate centres
//! the phone's clock, widened to every step the clock can have reached
//! since (at a rate within what the codes allow, never above the configured
//! maximum): a phone drifting steadily keeps working however long between
//! uses, and a phone used often is checked over the usual three steps.
//! Each code is taken to have been shown up to half a step before it
//! arrived (the customer reads, types and sends it).
//!
//! If a code is accepted outside what the estimate allows (the phone's
//! clock was set, say), the estimate starts again from that code.

use core::num::NonZeroU64;

use super::config::LifecycleConfig;
use crate::TotpParams;

/// Seconds in a day: the unit of [`LifecycleConfig::max_drift_rate`].
const DAY: i64 = 86_400;

/// What one accepted code (or the estimate after it) says of the phone's
/// clock: at server time `at`, its offset from the server (phone minus
/// server, seconds) lay in `low..=high`.
///
/// ```
/// use otpguard::lifecycle::store::OffsetSeen;
/// let seen = OffsetSeen::new(1_700_000_000, -29, 0).ok_or("empty")?;
/// assert_eq!((seen.low(), seen.high()), (-29, 0));
/// assert!(OffsetSeen::new(1_700_000_000, 1, 0).is_none());
/// # Ok::<(), &str>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct OffsetSeen {
    at: u64,
    low: i64,
    high: i64,
}

impl OffsetSeen {
    /// The offset within `low..=high` at `at`, or `None` for an empty
    /// interval.
    #[must_use]
    pub const fn new(at: u64, low: i64, high: i64) -> Option<Self> {
        if low > high {
            return None;
        }
        Some(Self { at, low, high })
    }

    /// When (server time, Unix seconds).
    #[must_use]
    pub const fn at(&self) -> u64 {
        self.at
    }

    /// The lowest offset the phone can have had then.
    #[must_use]
    pub const fn low(&self) -> i64 {
        self.low
    }

    /// The highest offset the phone can have had then.
    #[must_use]
    pub const fn high(&self) -> i64 {
        self.high
    }

    /// What a code for `step` accepted at `at` says: the phone's clock read
    /// a time within that step when the code was shown, at most half a step
    /// before it arrived (the customer reads, types and sends it).
    fn of_code(at: u64, step: u64, params: TotpParams) -> Option<Self> {
        let period = i128::from(params.period());
        let start = i128::from(params.t0()).checked_add(i128::from(step).checked_mul(period)?)?;
        let low = start.checked_sub(i128::from(at))?;
        let high = low
            .checked_add(period)?
            .checked_sub(1)?
            .checked_add(period.checked_div(2)?)?;
        Self::new(at, seconds(low), seconds(high))
    }
}

/// An offset in seconds as kept: offsets beyond ±2^63 seconds (only a
/// profile with steps longer than that has them) are kept at the limit.
/// Every window is bounded by the drift bound long before, so the steps it
/// checks are the same.
fn seconds(offset: i128) -> i64 {
    i64::try_from(offset).unwrap_or(if offset < 0 { i64::MIN } else { i64::MAX })
}

/// The estimate of a token's phone clock: the first code it rests on
/// (`anchor`) and what the latest leaves (`last`). Kept in the record with
/// the token; a store keeps the two [`OffsetSeen`]s.
///
/// ```
/// use otpguard::lifecycle::{store::DriftEstimate, store::OffsetSeen};
/// let first = OffsetSeen::new(1_700_000_000, -10, 19).ok_or("empty")?;
/// let later = OffsetSeen::new(1_700_864_000, -14, 6).ok_or("empty")?;
/// let estimate = DriftEstimate::new(first, later).ok_or("out of order")?;
/// assert_eq!(estimate.last(), later);
/// assert!(DriftEstimate::new(later, first).is_none());
/// # Ok::<(), &str>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DriftEstimate {
    anchor: OffsetSeen,
    last: OffsetSeen,
}

impl DriftEstimate {
    /// The estimate resting on `anchor` and left at `last`, or `None` if
    /// `last` is earlier than `anchor`.
    #[must_use]
    pub const fn new(anchor: OffsetSeen, last: OffsetSeen) -> Option<Self> {
        if last.at < anchor.at {
            return None;
        }
        Some(Self { anchor, last })
    }

    /// The first code the estimate rests on.
    #[must_use]
    pub const fn anchor(&self) -> OffsetSeen {
        self.anchor
    }

    /// What the latest code left.
    #[must_use]
    pub const fn last(&self) -> OffsetSeen {
        self.last
    }

    /// The estimate from one code alone (a new token's first code, a
    /// resynchronisation).
    pub(crate) fn from_code(at: u64, step: u64, params: TotpParams) -> Option<Self> {
        let seen = OffsetSeen::of_code(at, step, params)?;
        Some(Self {
            anchor: seen,
            last: seen,
        })
    }

    /// The estimate of a phone within one step of the server at `at` (an
    /// operator's `ResetDrift`).
    pub(crate) fn reset(at: u64, params: TotpParams) -> Option<Self> {
        let period = i128::from(params.period());
        let seen = OffsetSeen::new(at, seconds(period.saturating_neg()), seconds(period))?;
        Some(Self {
            anchor: seen,
            last: seen,
        })
    }

    /// The estimate of a record written before estimates were kept: a
    /// phone whose offset was within one step of `drift` steps when its
    /// last code, for `last_step`, was accepted.
    #[cfg(any(feature = "seal", feature = "serde"))]
    pub(crate) fn from_steps(last_step: u64, drift: i64, params: TotpParams) -> Option<Self> {
        let period = i128::from(params.period());
        let server_step = i128::from(last_step).checked_sub(i128::from(drift))?;
        let at = i128::from(params.t0()).checked_add(server_step.checked_mul(period)?)?;
        let centre = i128::from(drift).checked_mul(period)?;
        let seen = OffsetSeen::new(
            u64::try_from(at).ok()?,
            seconds(centre.checked_sub(period)?),
            seconds(centre.checked_add(period)?),
        )?;
        Some(Self {
            anchor: seen,
            last: seen,
        })
    }

    /// The offsets the phone can have at `at`: from what the latest code
    /// left, moved at any rate the codes allow within the maximum.
    /// Saturating: only times and offsets beyond any real clock reach the
    /// limits, and every window is bounded by the drift bound after.
    fn offsets_at(&self, at: u64, max_rate: u32) -> (i64, i64) {
        let elapsed = i64::try_from(at.saturating_sub(self.last.at)).unwrap_or(i64::MAX);
        let max = i64::from(max_rate);
        // The rate bound, as a change over `elapsed`: at most `max` seconds
        // a day either way ...
        let mut slowest = max.saturating_neg().saturating_mul(elapsed).div_euclid(DAY);
        let mut fastest = max
            .saturating_mul(elapsed)
            .saturating_add(DAY - 1)
            .div_euclid(DAY);
        // ... and no more than the span from the anchor allows.
        if let Some(span) = NonZeroU64::new(self.last.at.saturating_sub(self.anchor.at)) {
            let low_rate = self.last.low.saturating_sub(self.anchor.high);
            let high_rate = self.last.high.saturating_sub(self.anchor.low);
            let low = floor_div(low_rate.saturating_mul(elapsed), span);
            let high = ceil_div(high_rate.saturating_mul(elapsed), span);
            // Codes that disagree with the maximum (the clock was set)
            // leave the maximum alone.
            if low.max(slowest) <= high.min(fastest) {
                slowest = low.max(slowest);
                fastest = high.min(fastest);
            }
        }
        (
            self.last.low.saturating_add(slowest),
            self.last.high.saturating_add(fastest),
        )
    }

    /// The estimate after a code for `step` was accepted at `at`: what the
    /// code says, narrowed by what the estimate allowed; started again from
    /// the code if the two disagree.
    pub(crate) fn seen(
        &self,
        at: u64,
        step: u64,
        params: TotpParams,
        max_rate: u32,
    ) -> Option<Self> {
        let code = OffsetSeen::of_code(at, step, params)?;
        let (low, high) = self.offsets_at(at, max_rate);
        let narrowed = OffsetSeen::new(at, code.low.max(low), code.high.min(high));
        Some(match narrowed {
            Some(last) if self.anchor.at <= at => Self {
                anchor: self.anchor,
                last,
            },
            _ => Self {
                anchor: code,
                last: code,
            },
        })
    }

    /// The steps a code at `at` is checked against: the configured window
    /// around the step the estimate centres on, widened to every step the
    /// phone's clock can show, at most
    /// [`LifecycleConfig::MAX_WINDOW_WIDENING`] steps more than the window
    /// (centred on the estimate), and none further from the server's step
    /// than the drift bound and the window allow. `None` if no step is
    /// left.
    pub(crate) fn steps(
        &self,
        at: u64,
        params: TotpParams,
        config: &LifecycleConfig,
    ) -> Option<(u64, u64)> {
        let period = params.period_checked();
        let t0 = params.t0();
        let window = config.window();
        let (behind, ahead) = (u64::from(window.behind()), u64::from(window.ahead()));
        let (low, high) = self.offsets_at(at, config.max_drift_rate());
        // The code arriving now was shown up to half a step ago.
        let typing = i64::try_from(params.period() / 2).unwrap_or(i64::MAX);
        let low = low.saturating_sub(typing);
        // The step the phone shows at offset `offset`; before T0, none.
        let step_of = |offset: i64| {
            at.saturating_add_signed(offset)
                .checked_sub(t0)
                .map(|t| t / period)
        };
        let server = at.checked_sub(t0)? / period;
        // The configured window around the step the estimate centres on,
        // widened to every step the phone can show.
        let centre = step_of(low.saturating_add(high.saturating_sub(low) / 2)).unwrap_or(0);
        let mut first = centre.saturating_sub(behind).min(step_of(low).unwrap_or(0));
        let mut last = centre.saturating_add(ahead).max(step_of(high)?);
        let extra = u64::from(LifecycleConfig::MAX_WINDOW_WIDENING);
        let most = behind.saturating_add(ahead).saturating_add(extra);
        if last.saturating_sub(first) > most {
            first = centre.saturating_sub(behind).saturating_sub(extra / 2);
            last = first.saturating_add(most);
        }
        let bound = u64::from(config.max_drift());
        first = first.max(server.saturating_sub(bound).saturating_sub(behind));
        last = last.min(server.saturating_add(bound).saturating_add(ahead));
        (first <= last).then_some((first, last))
    }
}

/// `value / divisor`, rounded down. A divisor beyond `i64::MAX` divides
/// any `i64` to 0 or -1, as `i64::MAX` does.
fn floor_div(value: i64, divisor: NonZeroU64) -> i64 {
    let divisor = i64::try_from(divisor.get()).unwrap_or(i64::MAX);
    // A positive divisor: neither a division by zero nor MIN / -1.
    #[allow(clippy::arithmetic_side_effects)]
    let quotient = value.div_euclid(divisor);
    quotient
}

/// `value / divisor`, rounded up.
fn ceil_div(value: i64, divisor: NonZeroU64) -> i64 {
    floor_div(value.saturating_neg(), divisor).saturating_neg()
}
