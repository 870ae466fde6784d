//! The inputs of one computation, and the DataInput they make (RFC 6287 §5.1):
//!
//! ```text
//! suite text | 0x00 | C (8) | Q (128) | P (hash) | S (nnn) | T (8)
//! ```
//!
//! `C`, `P`, `S` and `T` are present exactly when the suite has them. The
//! DataInput is never assembled in one buffer for a computation: its parts
//! are fed to the HMAC in order ([`DataInput::feed`]), so the PIN hash is
//! held in one wiped place only.

use core::convert::Infallible;
use core::fmt;

use sha1::Digest;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::error::{Field, InputError};
use super::response::hex_value;
use super::suite::{QuestionFormat, Suite};
use crate::Algorithm;

/// A PIN (or password) for a suite with a `P` input, held in memory that is
/// wiped on drop. `Debug` prints `Pin([REDACTED])`; there is no `Display`
/// and no `PartialEq`.
///
/// Give the PIN itself ([`Pin::new`]), or, as a server that stores only the
/// hash does, its hash under the suite's `P` algorithm ([`Pin::from_hash`]).
///
/// ```
/// use otpguard::ocra::Pin;
/// let pin = Pin::new(b"1234")?;
/// assert_eq!(format!("{pin:?}"), "Pin([REDACTED])");
/// # Ok::<(), otpguard::ocra::InputError>(())
/// ```
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Pin {
    bytes: Box<[u8]>,
    #[zeroize(skip)]
    hashed: bool,
}

impl Pin {
    /// The longest PIN or password accepted, in bytes.
    pub const MAX_LEN: usize = 1024;

    /// A PIN (or password), copied. It is hashed with the suite's `P`
    /// algorithm when a response is computed.
    ///
    /// # Errors
    /// [`InputError::EmptyPin`] for an empty PIN; [`InputError::PinTooLong`]
    /// above [`Pin::MAX_LEN`] bytes.
    pub fn new(pin: &[u8]) -> Result<Self, InputError> {
        if pin.is_empty() {
            return Err(InputError::EmptyPin);
        }
        if pin.len() > Self::MAX_LEN {
            return Err(InputError::PinTooLong {
                len: pin.len(),
                max: Self::MAX_LEN,
            });
        }
        Ok(Self {
            bytes: Box::from(pin),
            hashed: false,
        })
    }

    /// A PIN given as its hash (20, 32 or 64 bytes: SHA-1, SHA-256 or
    /// SHA-512). It must be the hash the suite's `P` names; the length is
    /// checked against the suite when a response is computed.
    ///
    /// ```
    /// use otpguard::ocra::Pin;
    /// // SHA-1("1234"), as RFC 6287 Appendix C uses it.
    /// let hash = [
    ///     0x71, 0x10, 0xed, 0xa4, 0xd0, 0x9e, 0x06, 0x2a, 0xa5, 0xe4,
    ///     0xa3, 0x90, 0xb0, 0xa5, 0x72, 0xac, 0x0d, 0x2c, 0x02, 0x20,
    /// ];
    /// assert!(Pin::from_hash(&hash).is_ok());
    /// assert!(Pin::from_hash(&hash[..19]).is_err());
    /// ```
    ///
    /// # Errors
    /// [`InputError::PinHash`] if the length is none of the three.
    pub fn from_hash(hash: &[u8]) -> Result<Self, InputError> {
        if ![20, 32, 64].contains(&hash.len()) {
            return Err(InputError::PinHash { len: hash.len() });
        }
        Ok(Self {
            bytes: Box::from(hash),
            hashed: true,
        })
    }

    /// The PIN's hash under `algorithm`, exactly as long as that hash.
    fn hash(&self, algorithm: Algorithm) -> Result<PinHash, InputError> {
        let mut out = PinHash::zeroed(algorithm);
        if self.hashed {
            let expected = out.as_bytes().len();
            if self.bytes.len() != expected {
                return Err(InputError::PinHashLength {
                    len: self.bytes.len(),
                    expected,
                });
            }
            copy_into(out.as_mut_bytes(), &self.bytes);
        } else {
            match algorithm {
                Algorithm::Sha1 => digest_into::<sha1::Sha1>(&self.bytes, out.as_mut_bytes()),
                Algorithm::Sha256 => digest_into::<sha2::Sha256>(&self.bytes, out.as_mut_bytes()),
                Algorithm::Sha512 => digest_into::<sha2::Sha512>(&self.bytes, out.as_mut_bytes()),
            }
        }
        Ok(out)
    }
}

/// A PIN hash of the suite's `P` algorithm, in a buffer exactly its length
/// (wiped on drop): the DataInput takes all of it, with no length to get
/// wrong.
enum PinHash {
    Sha1(Zeroizing<[u8; 20]>),
    Sha256(Zeroizing<[u8; 32]>),
    Sha512(Zeroizing<[u8; 64]>),
}

impl PinHash {
    fn zeroed(algorithm: Algorithm) -> Self {
        match algorithm {
            Algorithm::Sha1 => Self::Sha1(Zeroizing::new([0; 20])),
            Algorithm::Sha256 => Self::Sha256(Zeroizing::new([0; 32])),
            Algorithm::Sha512 => Self::Sha512(Zeroizing::new([0; 64])),
        }
    }

    fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Sha1(h) => h.as_slice(),
            Self::Sha256(h) => h.as_slice(),
            Self::Sha512(h) => h.as_slice(),
        }
    }

    fn as_mut_bytes(&mut self) -> &mut [u8] {
        match self {
            Self::Sha1(h) => h.as_mut_slice(),
            Self::Sha256(h) => h.as_mut_slice(),
            Self::Sha512(h) => h.as_mut_slice(),
        }
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin([REDACTED])")
    }
}

fn digest_into<D: Digest>(data: &[u8], out: &mut [u8]) {
    let mut digest = D::digest(data);
    copy_into(out, &digest);
    digest.as_mut_slice().zeroize();
}

/// Copies as much of `from` as fits at the start of `to`.
fn copy_into(to: &mut [u8], from: &[u8]) {
    for (t, f) in to.iter_mut().zip(from) {
        *t = *f;
    }
}

/// The question(s) of one computation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Questions<'a> {
    One(&'a str),
    Two(&'a str, &'a str),
}

/// When a response is computed, for a suite with a time input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Moment {
    /// Unix seconds, divided by the suite's step.
    Unix(u64),
    /// A time step count, as given.
    Step(u64),
}

/// The inputs of one OCRA computation: the challenge question, and the
/// counter, PIN, session information and time if the suite has them.
///
/// An `Input` is plain data; it is checked against the suite when a
/// response is computed or verified, and any input the suite does not have
/// (or lacks) is an [`InputError`].
///
/// ```
/// use otpguard::ocra::{Input, Pin};
/// let pin = Pin::new(b"1234")?;
/// let input = Input::new("12345678").counter(7).pin(&pin);
/// // Mutual challenge-response: the server's response covers the client's
/// // question then the server's; the client's the other way round.
/// let server_side = Input::mutual("CLI22220", "SRV11110");
/// # let _ = (input, server_side);
/// # Ok::<(), otpguard::ocra::InputError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Input<'a> {
    questions: Questions<'a>,
    counter: Option<u64>,
    pin: Option<&'a Pin>,
    session: Option<&'a [u8]>,
    time: Option<Moment>,
}

impl<'a> Input<'a> {
    /// The inputs of a one-way challenge-response or a signature: one
    /// question (for a signature, the challenge derived from the
    /// transaction) of 1 to the suite's `xx` characters.
    ///
    /// A numeric question is MACed as the number it writes, in hexadecimal
    /// digits padded on the right with zeros (RFC 6287's reference
    /// implementation). So leading zeros do not count (`"0042"` and `"42"`
    /// give the same response), and neither does a factor of 16: `n` and
    /// `16·n` write the same padded digits (`"7716"` and `"123456"` give
    /// the same response). A challenge generator should draw its numbers
    /// so that no two it issues differ by such a factor (for example, never
    /// a multiple of 16), and not rely on leading zeros for entropy;
    /// [`Transaction::question_for`](crate::ocra::Transaction::question_for)
    /// refuses the payee numbers it cannot tell apart.
    #[must_use]
    pub const fn new(question: &'a str) -> Self {
        Self {
            questions: Questions::One(question),
            counter: None,
            pin: None,
            session: None,
            time: None,
        }
    }

    /// The inputs of one side of a mutual challenge-response (RFC 6287
    /// §7.3): the question is `first` followed by `second`, each one up to
    /// the suite's question length. The server's response uses
    /// (client's question, server's question); the client's response
    /// (server's question, client's question).
    #[must_use]
    pub const fn mutual(first: &'a str, second: &'a str) -> Self {
        Self {
            questions: Questions::Two(first, second),
            counter: None,
            pin: None,
            session: None,
            time: None,
        }
    }

    /// The counter `C` (for verification, the first counter of the window).
    #[must_use]
    pub const fn counter(mut self, counter: u64) -> Self {
        self.counter = Some(counter);
        self
    }

    /// The PIN `P`.
    #[must_use]
    pub const fn pin(mut self, pin: &'a Pin) -> Self {
        self.pin = Some(pin);
        self
    }

    /// The session information `S`: exactly as many bytes as the suite
    /// says.
    #[must_use]
    pub const fn session(mut self, session: &'a [u8]) -> Self {
        self.session = Some(session);
        self
    }

    /// The time `T` as Unix seconds: the DataInput holds
    /// `floor(unix_seconds / step)` for the suite's time step.
    #[must_use]
    pub const fn time(mut self, unix_seconds: u64) -> Self {
        self.time = Some(Moment::Unix(unix_seconds));
        self
    }

    /// The time `T` as a time step count, as it goes into the DataInput
    /// (RFC 6287 Appendix C gives its time vectors this way).
    #[must_use]
    pub const fn time_step(mut self, step: u64) -> Self {
        self.time = Some(Moment::Step(step));
        self
    }
}

/// The question field's length in the DataInput (RFC 6287 §5.1).
const QUESTION_LEN: usize = 128;

/// An [`Input`] checked against a suite, with its question encoded and its
/// PIN hashed: only [`DataInput::new`] builds one, so a DataInput that
/// reaches the HMAC always fits its suite.
pub(crate) struct DataInput<'a> {
    pub(crate) counter: Option<u64>,
    question: [u8; QUESTION_LEN],
    pin_hash: Option<PinHash>,
    session: Option<&'a [u8]>,
    pub(crate) time_step: Option<u64>,
}

impl<'a> DataInput<'a> {
    /// Checks `input` against `suite`.
    pub(crate) fn new(suite: Suite, input: &Input<'a>) -> Result<Self, InputError> {
        let question = encode_question(suite, input.questions)?;
        let counter = match (suite.has_counter(), input.counter) {
            (true, Some(c)) => Some(c),
            (false, None) => None,
            (true, None) => return Err(InputError::Missing(Field::Counter)),
            (false, Some(_)) => return Err(InputError::Unexpected(Field::Counter)),
        };
        let pin_hash = match (suite.pin(), input.pin) {
            (Some(algorithm), Some(pin)) => Some(pin.hash(algorithm)?),
            (None, None) => None,
            (Some(_), None) => return Err(InputError::Missing(Field::Pin)),
            (None, Some(_)) => return Err(InputError::Unexpected(Field::Pin)),
        };
        let session = match (suite.session_len(), input.session) {
            (Some(len), Some(s)) if s.len() == len => Some(s),
            (Some(len), Some(s)) => {
                return Err(InputError::SessionLength {
                    len: s.len(),
                    expected: len,
                })
            }
            (None, None) => None,
            (Some(_), None) => return Err(InputError::Missing(Field::Session)),
            (None, Some(_)) => return Err(InputError::Unexpected(Field::Session)),
        };
        let time_step = match (suite.time_step(), input.time) {
            // `seconds()` is never zero.
            (Some(step), Some(Moment::Unix(t))) => t.checked_div(step.seconds()),
            (Some(_), Some(Moment::Step(s))) => Some(s),
            (None, None) => None,
            (Some(_), None) => return Err(InputError::Missing(Field::Time)),
            (None, Some(_)) => return Err(InputError::Unexpected(Field::Time)),
        };
        Ok(Self {
            counter,
            question,
            pin_hash,
            session,
            time_step,
        })
    }

    /// Feeds the DataInput up to the time step to `sink` in order, with
    /// `counter` in place of the input's own (the verification window
    /// varies it; `None` exactly when the suite has none). The time step,
    /// last in the DataInput, follows as its 8 big-endian bytes.
    pub(crate) fn feed_before_time(
        &self,
        suite_text: &[u8],
        counter: Option<u64>,
        sink: &mut impl FnMut(&[u8]),
    ) {
        sink(suite_text);
        sink(&[0]);
        if let Some(c) = counter {
            sink(&c.to_be_bytes());
        }
        sink(&self.question);
        if let Some(hash) = &self.pin_hash {
            sink(hash.as_bytes());
        }
        if let Some(session) = self.session {
            sink(session);
        }
    }
}

impl Suite {
    /// The DataInput of RFC 6287 §5.1 for `input`, as one byte string: what
    /// the HMAC is computed over. For audits and tests; computing a
    /// response does not build it. Wiped on drop (it holds the PIN hash).
    ///
    /// ```
    /// use otpguard::ocra::{Input, Suite};
    /// let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:C-QH04")?;
    /// let data = suite.data_input(&Input::new("ABC").counter(1))?;
    /// let text = b"OCRA-1:HOTP-SHA1-6:C-QH04\0";
    /// assert_eq!(data.len(), text.len() + 8 + 128);
    /// assert_eq!(&data[..text.len()], text);
    /// assert_eq!(&data[text.len()..][..8], &1u64.to_be_bytes());
    /// // Hex "ABC" is padded on the right: 0xAB 0xC0, then zeros.
    /// assert_eq!(&data[text.len() + 8..][..3], &[0xAB, 0xC0, 0]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// An [`InputError`] if `input` does not fit the suite.
    pub fn data_input(&self, input: &Input<'_>) -> Result<Zeroizing<Vec<u8>>, InputError> {
        let data = DataInput::new(*self, input)?;
        let text = self.to_string();
        let mut out = Zeroizing::new(Vec::with_capacity(1024));
        data.feed_before_time(text.as_bytes(), data.counter, &mut |part: &[u8]| {
            out.extend_from_slice(part);
        });
        if let Some(t) = data.time_step {
            out.extend_from_slice(&t.to_be_bytes());
        }
        Ok(out)
    }
}

/// The question field: 128 bytes, right-padded with zeros.
fn encode_question(
    suite: Suite,
    questions: Questions<'_>,
) -> Result<[u8; QUESTION_LEN], InputError> {
    let format = suite.question_format();
    let max = suite.question_len();
    let (first, second) = match questions {
        Questions::One(q) => (q, ""),
        Questions::Two(a, b) => {
            check_question(b, format, max)?;
            (a, b)
        }
    };
    check_question(first, format, max)?;
    let text = first.bytes().chain(second.bytes());
    let mut out = [0u8; QUESTION_LEN];
    match format {
        // ASCII bytes; at most 2 * 64 = 128 of them.
        QuestionFormat::Alphanumeric => {
            for (o, c) in out.iter_mut().zip(text) {
                *o = c;
            }
        }
        // Hex digits to bytes; an odd count gets a zero nibble on the right
        // (RFC 6287's reference implementation pads the hex text with '0' on
        // the right to 256 digits). A byte that is not a hex digit (which
        // `check_question` let through none of) is refused, never packed.
        QuestionFormat::Hex => pack_nibbles(
            text.map(|c| hex_value(c).ok_or(InputError::QuestionFormat { format })),
            &mut out,
        )?,
        QuestionFormat::Numeric => encode_decimal(text, &mut out),
    }
    Ok(out)
}

fn check_question(q: &str, format: QuestionFormat, max: usize) -> Result<(), InputError> {
    if q.is_empty() || q.len() > max {
        return Err(InputError::QuestionLength { len: q.len(), max });
    }
    if !q.bytes().all(|c| format.allows(c)) {
        return Err(InputError::QuestionFormat { format });
    }
    Ok(())
}

/// A numeric question as RFC 6287's reference implementation MACs it: the
/// decimal number written in hexadecimal (no leading zeros; "0" for zero),
/// then as bytes with an odd digit count padded on the right with a zero
/// nibble. Leading zeros of the question do not count: "0042" and "42" give
/// the same DataInput.
fn encode_decimal(digits: impl Iterator<Item = u8>, out: &mut [u8; QUESTION_LEN]) {
    // At most 128 decimal digits: below 10^128 < 2^426, so 54 bytes.
    let mut number = [0u8; 64];
    // How many bytes, from the right, the number holds so far: each digit
    // multiplies only those (the question is public, so the work may
    // depend on its length).
    let mut used = 0usize;
    for d in digits {
        let mut carry = u32::from(d.wrapping_sub(b'0'));
        for byte in number.iter_mut().rev().take(used) {
            // At most 255 * 10 + 9: no overflow; the carry stays below 10.
            let v = u32::from(*byte).wrapping_mul(10).wrapping_add(carry);
            let [low, ..] = v.to_le_bytes();
            *byte = low;
            carry = v >> 8;
        }
        if carry > 0 {
            // Below 10: one more byte holds it.
            if let Some(byte) = number.iter_mut().rev().nth(used) {
                let [low, ..] = carry.to_le_bytes();
                *byte = low;
                used = used.saturating_add(1);
            }
        }
    }
    // Zero is written "0": one zero nibble, padded to one zero byte, which
    // the zeroed buffer already holds; skipping every leading zero nibble
    // gives the same.
    let nibbles = number
        .iter()
        .flat_map(|b| [b >> 4, b & 0x0f])
        .skip_while(|n| *n == 0)
        .map(Ok::<u8, Infallible>);
    let Ok(()) = pack_nibbles(nibbles, out);
}

/// Packs nibbles into bytes, high nibble first; a last odd nibble takes
/// the high half of its byte. Stops at the first error, and returns it.
fn pack_nibbles<E>(nibbles: impl Iterator<Item = Result<u8, E>>, out: &mut [u8]) -> Result<(), E> {
    let mut slots = out.iter_mut();
    let mut high: Option<u8> = None;
    for n in nibbles {
        let n = n?;
        match high.take() {
            None => high = Some(n),
            Some(h) => {
                if let Some(slot) = slots.next() {
                    *slot = (h << 4) | n;
                }
            }
        }
    }
    if let (Some(h), Some(slot)) = (high, slots.next()) {
        *slot = h << 4;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn question(suite: &str, q: &str) -> [u8; QUESTION_LEN] {
        encode_question(Suite::parse(suite).unwrap(), Questions::One(q)).unwrap()
    }

    #[test]
    fn numeric_questions_as_the_reference_implementation() {
        // 12345678 = 0xBC614E: even, so bytes BC 61 4E.
        assert_eq!(
            question("OCRA-1:HOTP-SHA1-6:QN08", "12345678")[..4],
            [0xBC, 0x61, 0x4E, 0]
        );
        // 11111111 = 0xA98AC7: bytes A9 8A C7.
        assert_eq!(
            question("OCRA-1:HOTP-SHA1-6:QN08", "11111111")[..4],
            [0xA9, 0x8A, 0xC7, 0]
        );
        // 4095 = 0xFFF, odd: right-padded to FF F0.
        assert_eq!(
            question("OCRA-1:HOTP-SHA1-6:QN08", "4095")[..3],
            [0xFF, 0xF0, 0]
        );
        assert_eq!(question("OCRA-1:HOTP-SHA1-6:QN08", "00000000"), [0; 128]);
        assert_eq!(
            question("OCRA-1:HOTP-SHA1-6:QN08", "0042"),
            question("OCRA-1:HOTP-SHA1-6:QN08", "42")
        );
        // 2^64 = 0x1_0000_0000_0000_0000: 17 hex digits.
        let q = question("OCRA-1:HOTP-SHA1-6:QN20", "18446744073709551616");
        assert_eq!(q[..10], [0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        // 64 nines: the largest single numeric question.
        let q = question("OCRA-1:HOTP-SHA1-6:QN64", &"9".repeat(64));
        assert!(q[..27].iter().any(|b| *b != 0) && q[27..].iter().all(|b| *b == 0));
    }

    #[test]
    fn questions_are_checked() {
        let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:QN08").unwrap();
        let check = |q| encode_question(suite, Questions::One(q));
        assert_eq!(
            check(""),
            Err(InputError::QuestionLength { len: 0, max: 8 })
        );
        assert_eq!(
            check("123456789"),
            Err(InputError::QuestionLength { len: 9, max: 8 })
        );
        assert_eq!(
            check("1234567a"),
            Err(InputError::QuestionFormat {
                format: QuestionFormat::Numeric
            })
        );
        assert!(encode_question(suite, Questions::Two("12345678", "87654321")).is_ok());
        assert!(encode_question(suite, Questions::Two("12345678", "")).is_err());
    }

    #[test]
    fn the_data_input_holds_the_whole_pin_hash_of_the_suites_hash() {
        let pin = Pin::new(b"1234").unwrap();
        for (element, hash) in [
            ("PSHA1", sha1::Sha1::digest(b"1234").to_vec()),
            ("PSHA256", sha2::Sha256::digest(b"1234").to_vec()),
            ("PSHA512", sha2::Sha512::digest(b"1234").to_vec()),
        ] {
            let suite = Suite::parse(&format!("OCRA-1:HOTP-SHA1-6:QN08-{element}")).unwrap();
            let at = suite.to_string().len() + 1 + QUESTION_LEN;
            let given = Pin::from_hash(&hash).unwrap();
            for pin in [&pin, &given] {
                let data = suite.data_input(&Input::new("1").pin(pin)).unwrap();
                assert_eq!(data.len(), at + hash.len(), "{element}");
                assert_eq!(&data[at..], hash.as_slice(), "{element}");
            }
        }
    }

    #[test]
    fn pins_are_checked() {
        assert_eq!(Pin::new(b"").err(), Some(InputError::EmptyPin));
        assert_eq!(
            Pin::new(&[b'1'; 1025]).err(),
            Some(InputError::PinTooLong {
                len: 1025,
                max: 1024
            })
        );
        assert_eq!(
            Pin::from_hash(&[0; 21]).err(),
            Some(InputError::PinHash { len: 21 })
        );
        let suite = Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-PSHA256").unwrap();
        let sha1_sized = Pin::from_hash(&[0; 20]).unwrap();
        assert_eq!(
            DataInput::new(suite, &Input::new("1").pin(&sha1_sized)).err(),
            Some(InputError::PinHashLength {
                len: 20,
                expected: 32
            })
        );
    }
}
