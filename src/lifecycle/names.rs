//! One text for each name that leaves the crate: the serde form of a state,
//! an event kind, an actor, a reason or an outcome is exactly its `Display`
//! text (`"Suspended(TooManyFailures)"`, `"VerifyTransaction"`,
//! `"accepted"`), so a client that matches on a log line and one that
//! matches on JSON see the same string; `FromStr` reads the same text back
//! (a request body, a database column).

use core::fmt;

use super::{Actor, EventKind, Outcome, ReissueReason, State, SuspendReason};

/// A closed set of values named by their `Display` text.
pub(crate) trait Named: Copy + fmt::Display + 'static {
    /// Every value.
    const ALL: &'static [Self];
    /// What the set is called in an error message.
    const WHAT: &'static str;
}

impl Named for State {
    const ALL: &'static [Self] = &State::ALL;
    const WHAT: &'static str = "state";
}

impl Named for EventKind {
    const ALL: &'static [Self] = &EventKind::ALL;
    const WHAT: &'static str = "event kind";
}

impl Named for Actor {
    const ALL: &'static [Self] = &Actor::ALL;
    const WHAT: &'static str = "actor";
}

impl Named for SuspendReason {
    const ALL: &'static [Self] = &SuspendReason::ALL;
    const WHAT: &'static str = "suspension reason";
}

impl Named for ReissueReason {
    const ALL: &'static [Self] = &ReissueReason::ALL;
    const WHAT: &'static str = "reissue reason";
}

impl Named for Outcome {
    const ALL: &'static [Self] = &Outcome::ALL;
    const WHAT: &'static str = "outcome";
}

/// The value whose `Display` text is `text`.
fn parse<T: Named>(text: &str) -> Option<T> {
    T::ALL.iter().copied().find(|v| {
        // Compared without building a string per value.
        let mut check = Matches {
            rest: text,
            ok: true,
        };
        fmt::write(&mut check, format_args!("{v}")).is_ok() && check.ok && check.rest.is_empty()
    })
}

/// A `fmt::Write` that checks the text written is a prefix of `rest`.
struct Matches<'a> {
    rest: &'a str,
    ok: bool,
}

impl fmt::Write for Matches<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        match self.rest.strip_prefix(s) {
            Some(rest) => self.rest = rest,
            None => self.ok = false,
        }
        Ok(())
    }
}

/// A text that is not the name of any value of the set
/// ([`State`], [`EventKind`], [`Actor`], [`SuspendReason`],
/// [`ReissueReason`], [`Outcome`] `FromStr`).
///
/// ```
/// use otpguard::lifecycle::{SuspendReason, State};
/// assert_eq!("LostDevice".parse::<SuspendReason>()?, SuspendReason::LostDevice);
/// assert_eq!("Suspended(Operator)".parse::<State>()?, State::Suspended(SuspendReason::Operator));
/// assert!("lost".parse::<SuspendReason>().is_err());
/// # Ok::<(), otpguard::lifecycle::error::UnknownName>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {text:?}")]
pub struct UnknownName {
    what: &'static str,
    text: String,
}

impl UnknownName {
    fn of<T: Named>(text: &str) -> Self {
        Self {
            what: T::WHAT,
            // A label-sized excerpt: the text may come from a client.
            text: text.chars().take(64).collect(),
        }
    }
}

macro_rules! from_str_by_name {
    ($($t:ty),*) => {$(
        impl core::str::FromStr for $t {
            type Err = UnknownName;

            fn from_str(text: &str) -> Result<Self, UnknownName> {
                parse(text).ok_or_else(|| UnknownName::of::<$t>(text))
            }
        }
    )*};
}

from_str_by_name!(
    State,
    EventKind,
    Actor,
    SuspendReason,
    ReissueReason,
    Outcome
);

#[cfg(feature = "serde")]
macro_rules! serde_by_name {
    ($($t:ty),*) => {$(
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                text.parse::<$t>().map_err(serde::de::Error::custom)
            }
        }
    )*};
}

#[cfg(feature = "serde")]
serde_by_name!(
    State,
    EventKind,
    Actor,
    SuspendReason,
    ReissueReason,
    Outcome
);
