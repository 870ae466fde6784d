//! Who and what an event concerns: the customer, the token, the caller and
//! the request. None of these is secret; all of them go into audit records,
//! so each is a checked label that cannot forge or break a log line.

use core::fmt;
use std::sync::Arc;

use super::Actor;
use thiserror::Error;

/// A checked, cheaply cloned piece of text for audit records: 1 to
/// [`Label::MAX_LEN`] bytes of ASCII letters, digits and `- _ . : @ / + #`
/// (enough for ids, e-mail addresses, IPv4 and IPv6 addresses). No spaces,
/// quotes or control characters, so a label cannot forge a log line.
///
/// ```
/// use otpguard::lifecycle::Label;
/// assert_eq!(Label::new("op:tanaka@branch-12")?.as_str(), "op:tanaka@branch-12");
/// assert!(Label::new("x\nforged=1").is_err());
/// # Ok::<(), otpguard::lifecycle::error::LabelError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label(Arc<str>);

impl Label {
    /// The longest label accepted, in bytes.
    pub const MAX_LEN: usize = 128;

    /// Checks and wraps a label.
    ///
    /// # Errors
    /// [`LabelError::Empty`], [`LabelError::TooLong`] or
    /// [`LabelError::InvalidCharacter`].
    pub fn new(text: &str) -> Result<Self, LabelError> {
        if text.is_empty() {
            return Err(LabelError::Empty);
        }
        if text.len() > Self::MAX_LEN {
            return Err(LabelError::TooLong {
                len: text.len(),
                max: Self::MAX_LEN,
            });
        }
        if !text.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(b, b'-' | b'_' | b'.' | b':' | b'@' | b'/' | b'+' | b'#')
        }) {
            return Err(LabelError::InvalidCharacter);
        }
        Ok(Self(Arc::from(text)))
    }

    /// The label as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", &*self.0)
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Label {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Label {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::new(&text).map_err(serde::de::Error::custom)
    }
}

/// The bank's identifier of a customer: the key under which a
/// [`TokenStore`](super::store::TokenStore) keeps the customer's record.
///
/// ```
/// use otpguard::lifecycle::CustomerId;
/// let alice = CustomerId::new("cif-0001234")?;
/// assert_eq!(alice.to_string(), "cif-0001234");
/// # Ok::<(), otpguard::lifecycle::error::LabelError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CustomerId(Label);

impl CustomerId {
    /// Checks and wraps a customer id (the rules of [`Label`]).
    ///
    /// # Errors
    /// As [`Label::new`].
    pub fn new(id: &str) -> Result<Self, LabelError> {
        Label::new(id).map(Self)
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A token's identity in its record: 128 random bits, created when the
/// token is bound to the customer (registered or swapped in).
///
/// It is what single use and audit records key on, never the serial the
/// customer types: two customers whose tokens show the same serial never
/// affect each other, and a token registered again after a reissue is a new
/// token with a new id.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId([u8; 16]);

impl TokenId {
    /// A fresh id from the operating system's CSPRNG.
    pub(crate) fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        Ok(Self(bytes))
    }

    /// An id read back from storage.
    ///
    /// ```
    /// use otpguard::lifecycle::store::TokenId;
    /// let id = TokenId::from_bytes([0xab; 16]);
    /// assert_eq!(id.to_string(), "abababababababababababababababab");
    /// ```
    #[must_use]
    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The id's 16 bytes.
    #[must_use]
    pub const fn to_bytes(self) -> [u8; 16] {
        self.0
    }
}

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
    }
}

impl fmt::Debug for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenId({self})")
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for TokenId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for TokenId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        let mut bytes = [0u8; 16];
        let digits = text.as_bytes();
        if digits.len() != 32 {
            return Err(serde::de::Error::custom("a token id is 32 hex digits"));
        }
        for (byte, pair) in bytes.iter_mut().zip(digits.chunks_exact(2)) {
            let pair = core::str::from_utf8(pair).map_err(serde::de::Error::custom)?;
            *byte = u8::from_str_radix(pair, 16).map_err(serde::de::Error::custom)?;
        }
        Ok(Self(bytes))
    }
}

/// Who caused an event, as the backend authenticated them: the role that
/// the transition table checks ([`Actor`]) together with the identity that
/// audit records name.
///
/// ```
/// use otpguard::lifecycle::{rules::Actor, Label, Principal};
/// let web = Principal::customer(Label::new("web")?);
/// let op = Principal::operator(Label::new("op-417")?);
/// assert_eq!((web.actor(), op.actor()), (Actor::Customer, Actor::Operator));
/// assert_eq!(op.to_string(), "Operator(op-417)");
/// # Ok::<(), otpguard::lifecycle::error::LabelError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[non_exhaustive]
pub enum Principal {
    /// The customer, through the named channel (internet banking, app,
    /// ...).
    Customer {
        /// The channel the customer used.
        channel: Label,
    },
    /// A bank operator, by their staff id.
    Operator {
        /// The operator's id.
        id: Label,
    },
    /// The library itself (swap time-outs, lock-outs) or the backend's own
    /// jobs.
    System,
}

impl Principal {
    /// The customer through `channel`.
    #[must_use]
    pub const fn customer(channel: Label) -> Self {
        Self::Customer { channel }
    }

    /// The operator `id`.
    #[must_use]
    pub const fn operator(id: Label) -> Self {
        Self::Operator { id }
    }

    /// The role the transition table checks.
    #[must_use]
    pub const fn actor(&self) -> Actor {
        match self {
            Self::Customer { .. } => Actor::Customer,
            Self::Operator { .. } => Actor::Operator,
            Self::System => Actor::System,
        }
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Customer { channel } => write!(f, "Customer({channel})"),
            Self::Operator { id } => write!(f, "Operator({id})"),
            Self::System => f.write_str("System"),
        }
    }
}

/// What the backend knows about the request, for the audit record only
/// (never for a decision): where it came from and the backend's own request
/// id. Both optional.
///
/// ```
/// use otpguard::lifecycle::{Label, RequestContext};
/// let ctx = RequestContext::new().source(Label::new("2001:db8::7")?).request_id(Label::new("req-81f3")?);
/// assert_eq!(ctx.to_string(), "source=2001:db8::7 request=req-81f3");
/// # Ok::<(), otpguard::lifecycle::error::LabelError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RequestContext {
    /// Where the request came from (say, the client's address).
    pub source: Option<Label>,
    /// The backend's id of the request, to join audit and access logs.
    pub request_id: Option<Label>,
}

impl RequestContext {
    /// No context.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            source: None,
            request_id: None,
        }
    }

    /// With the request's source.
    #[must_use]
    pub fn source(mut self, source: Label) -> Self {
        self.source = Some(source);
        self
    }

    /// With the backend's request id.
    #[must_use]
    pub fn request_id(mut self, id: Label) -> Self {
        self.request_id = Some(id);
        self
    }
}

impl fmt::Display for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(s) = &self.source {
            write!(f, "source={s}")?;
            sep = " ";
        }
        if let Some(r) = &self.request_id {
            write!(f, "{sep}request={r}")?;
        }
        Ok(())
    }
}

/// A [`Label`] (customer id, channel, operator id, request
/// context) was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum LabelError {
    /// The label is empty.
    #[error("a label cannot be empty")]
    Empty,
    /// The label is longer than [`Label::MAX_LEN`].
    #[error("a label is at most {max} bytes, not {len}")]
    TooLong {
        /// Length given.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// A character other than ASCII letters, digits and `- _ . : @ / + #`.
    #[error("a label may only contain ASCII letters, digits and - _ . : @ / + #")]
    InvalidCharacter,
}
