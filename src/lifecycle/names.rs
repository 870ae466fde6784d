//! One text for each name that leaves the crate: the serde form of a state,
//! an event kind, an actor, a reason or an outcome is exactly its `Display`
//! text (`"Suspended(TooManyFailures)"`, `"VerifyTransaction"`,
//! `"accepted"`), so a client that matches on a log line and one that
//! matches on JSON see the same string.

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
pub(crate) fn parse<T: Named>(text: &str) -> Option<T> {
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

/// The value whose `Display` text is `text`, or an error naming the set.
pub(crate) fn parse_named<T: Named>(text: &str) -> Result<T, String> {
    parse(text).ok_or_else(|| format!("unknown {} {text:?}", T::WHAT))
}

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
                parse_named(&text).map_err(serde::de::Error::custom)
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
