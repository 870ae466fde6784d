//! Who causes an event.

use core::fmt;

/// Who causes an event. The transition table permits each event to specific
/// actors only; the backend, which authenticated the caller, says which one
/// is acting.
///
/// ```
/// use otpguard::lifecycle::rules::Actor;
/// assert_eq!(Actor::Operator.to_string(), "Operator");
/// assert_eq!(Actor::ALL.len(), 3);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Actor {
    /// The customer, through internet banking (already logged in with
    /// contract ID and password; the library checks the OTP part).
    Customer,
    /// A bank operator (for instance after the customer called the bank).
    Operator,
    /// The backend itself: swap time-outs and the lock-out after too many
    /// wrong codes.
    System,
}

impl Actor {
    /// The actor's position in [`Actor::ALL`].
    pub(crate) const fn index(self) -> usize {
        match self {
            Self::Customer => 0,
            Self::Operator => 1,
            Self::System => 2,
        }
    }

    /// Every actor.
    pub const ALL: [Self; 3] = [Self::Customer, Self::Operator, Self::System];

    /// The actor's name.
    ///
    /// ```
    /// assert_eq!(otpguard::lifecycle::rules::Actor::System.name(), "System");
    /// ```
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Customer => "Customer",
            Self::Operator => "Operator",
            Self::System => "System",
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
