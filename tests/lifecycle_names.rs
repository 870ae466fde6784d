//! Every name that leaves the crate has one text: the serde form of a
//! state, an event kind, an actor, a reason or an outcome is its `Display`
//! text, and reads back to the same value.

#![cfg(feature = "serde")]
#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::fmt::Display;

use otpguard::lifecycle::{
    audit::Outcome, rules::Actor, rules::EventKind, ReissueReason, State, SuspendReason,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

fn one_text<T>(all: &[T])
where
    T: Serialize + DeserializeOwned + Display + PartialEq + std::fmt::Debug,
{
    let mut seen = HashSet::new();
    for value in all {
        let json = serde_json::to_string(value).unwrap();
        assert_eq!(json, format!("\"{value}\""), "{value:?}");
        assert_eq!(&serde_json::from_str::<T>(&json).unwrap(), value);
        assert!(
            seen.insert(value.to_string()),
            "two values display as {value}"
        );
    }
    for unknown in [
        "\"\"",
        "\"Suspended\"",
        "\"active\"",
        "\"Active \"",
        "3",
        "null",
    ] {
        if all.iter().all(|v| format!("\"{v}\"") != unknown) {
            assert!(
                serde_json::from_str::<T>(unknown).is_err(),
                "{unknown} was read"
            );
        }
    }
}

#[test]
fn serde_text_is_display_text() {
    one_text(&State::ALL);
    one_text(&EventKind::ALL);
    one_text(&Actor::ALL);
    one_text(&SuspendReason::ALL);
    one_text(&ReissueReason::ALL);
    one_text(&Outcome::ALL);
}

#[test]
fn a_suspended_state_reads_as_it_displays() {
    let locked = State::Suspended(SuspendReason::TooManyFailures);
    assert_eq!(locked.to_string(), "Suspended(TooManyFailures)");
    assert_eq!(
        serde_json::to_string(&locked).unwrap(),
        "\"Suspended(TooManyFailures)\""
    );
    assert!(serde_json::from_str::<State>("{\"Suspended\":\"TooManyFailures\"}").is_err());
}
