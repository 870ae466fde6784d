//! Dynamic linking (PSD2 RTS Art. 5): an OCRA signature question that binds
//! the response to one transaction's amount and payee.
//!
//! A [`Transaction`] is a single transfer or a batch. Its canonical
//! encoding ([`Transaction::encode`], documented byte for byte there) is
//! unambiguous, and [`Transaction::question_for`] turns it into the
//! challenge question of a signature suite:
//!
//! - `QHxx`: the hex of the encoding's SHA-256 digest, truncated to `xx`
//!   characters. The response then depends on every field: amount,
//!   currency, each payee and, for a batch, each item's amount and order.
//! - `QNxx` (transaction signing as Japanese banks' tokens do it, 取引認証):
//!   the payee's account number, which the customer types into the token.
//!   This binds the payee only, not the amount.
//! - `QAxx`: refused ([`QuestionError::Alphanumeric`]).
//!
//! # Example
//!
//! ```
//! use otpguard::ocra::{Amount, ResponseError, Currency, Input, Ocra, PayeeAccount, Suite,
//!     Transaction, VerifyWindow};
//! use otpguard::Secret;
//!
//! let eur = Currency::new("EUR")?;
//! let payee = PayeeAccount::new("DE89370400440532013000")?;
//! let transfer = Transaction::transfer(Amount { minor_units: 12_345, currency: eur }, payee.clone());
//!
//! let suite = Suite::parse("OCRA-1:HOTP-SHA256-8:QH64")?;
//! let question = transfer.question_for(&suite)?;
//! assert_eq!(question.len(), 64);
//!
//! // The token computes the response over the question it derives from
//! // the transaction it shows the customer ...
//! let secret = Secret::from_bytes(b"12345678901234567890123456789012")?;
//! let ocra = Ocra::new(&secret, suite);
//! let response = ocra.generate(&Input::new(&question))?.to_string();
//!
//! // ... and the bank checks it against the transaction it will execute.
//! assert!(ocra.verify(&response, &Input::new(&question), VerifyWindow::EXACT).is_ok());
//!
//! // One cent more, and the same response no longer verifies.
//! let altered = Transaction::transfer(Amount { minor_units: 12_346, currency: eur }, payee);
//! let altered_question = altered.question_for(&suite)?;
//! assert_eq!(
//!     ocra.verify(&response, &Input::new(&altered_question), VerifyWindow::EXACT),
//!     Err(ResponseError::Mismatch)
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use sha2::{Digest, Sha256};
use thiserror::Error;

use super::suite::{QuestionFormat, Suite};

/// An ISO 4217 currency code: exactly three ASCII upper-case letters
/// (`EUR`, `JPY`). Only the shape is checked, not that the code is
/// assigned; amounts are in the currency's minor unit, whose exponent the
/// caller knows.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The code `code`.
    ///
    /// # Errors
    /// [`CurrencyError`] unless `code` is exactly three ASCII upper-case
    /// letters.
    pub fn new(code: &str) -> Result<Self, CurrencyError> {
        match *code.as_bytes() {
            [a, b, c] if [a, b, c].iter().all(u8::is_ascii_uppercase) => Ok(Self([a, b, c])),
            _ => Err(CurrencyError { len: code.len() }),
        }
    }

    /// The three letters.
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; 3] {
        &self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c] = self.0;
        write!(f, "{}{}{}", char::from(a), char::from(b), char::from(c))
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({self})")
    }
}

/// An amount in a currency's minor unit (cents for EUR, yen for JPY).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Amount {
    /// The amount in minor units.
    pub minor_units: u64,
    /// The currency.
    pub currency: Currency,
}

/// The payee's account identifier (an IBAN, a domestic account number):
/// 1 to [`PayeeAccount::MAX_LEN`] bytes, each an ASCII letter, an ASCII
/// digit, or one of the separators `-`, `.` and `/`.
///
/// It is taken as given: `DE89 3704` must be normalised by the caller
/// (spaces are not accepted), and `de89…` and `DE89…` are different
/// accounts here. Normalise before building a transaction, the same way on
/// the side that shows it to the customer and the side that executes it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PayeeAccount {
    bytes: [u8; PayeeAccount::MAX_LEN],
    /// Invariant: 1 to `MAX_LEN`.
    len: u8,
}

impl PayeeAccount {
    /// The longest account identifier, in bytes (an IBAN has at most 34).
    pub const MAX_LEN: usize = 64;

    /// The separators accepted besides letters and digits.
    pub const SEPARATORS: [u8; 3] = [b'-', b'.', b'/'];

    /// The account `account`.
    ///
    /// # Errors
    /// [`PayeeError::Length`] if `account` is empty or longer than
    /// [`PayeeAccount::MAX_LEN`] bytes; [`PayeeError::Character`] for a byte
    /// that is not an ASCII letter, digit or one of
    /// [`PayeeAccount::SEPARATORS`].
    pub fn new(account: &str) -> Result<Self, PayeeError> {
        let given = account.as_bytes();
        let len = u8::try_from(given.len())
            .ok()
            .filter(|l| (1..=Self::MAX_LEN).contains(&usize::from(*l)))
            .ok_or(PayeeError::Length {
                len: given.len(),
                max: Self::MAX_LEN,
            })?;
        if let Some(position) = given.iter().position(|b| !Self::allows(*b)) {
            return Err(PayeeError::Character { position });
        }
        let mut bytes = [0u8; Self::MAX_LEN];
        for (to, from) in bytes.iter_mut().zip(given) {
            *to = *from;
        }
        Ok(Self { bytes, len })
    }

    fn allows(b: u8) -> bool {
        b.is_ascii_alphanumeric() || Self::SEPARATORS.contains(&b)
    }

    /// The identifier's bytes (ASCII).
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        // Invariant: `len` is at most `MAX_LEN`, the array's length.
        #[allow(clippy::indexing_slicing)]
        &self.bytes[..usize::from(self.len)]
    }

    /// Its length in bytes, 1 to [`PayeeAccount::MAX_LEN`].
    #[must_use]
    pub const fn len(&self) -> u8 {
        self.len
    }

    /// Never: an account identifier has at least one byte.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        false
    }
}

impl fmt::Display for PayeeAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_bytes()
            .iter()
            .try_for_each(|b| fmt::Write::write_char(f, char::from(*b)))
    }
}

impl fmt::Debug for PayeeAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PayeeAccount({self})")
    }
}

/// One payment: an amount to a payee.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Payment {
    /// The amount.
    pub amount: Amount,
    /// The payee.
    pub payee: PayeeAccount,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Transfer(Payment),
    /// Invariant (checked by [`Transaction::batch`]): 1 to `MAX_ITEMS`
    /// items, each in `total`'s currency, summing to `total` exactly.
    Batch {
        total: Amount,
        items: Box<[Payment]>,
    },
}

/// A transaction the customer authorises: a single transfer, or a batch of
/// payments with its total.
///
/// A batch can only be built consistent ([`Transaction::batch`]): every
/// item in the total's currency, the items summing to the total.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Transaction {
    kind: Kind,
}

/// The domain tag that opens every encoding (16 ASCII bytes).
const TAG: &[u8; 16] = b"OTPGUARD-OCRA-TX";
/// The encoding's version, after the tag.
const VERSION: u8 = 1;
/// The kind byte of a single transfer.
const KIND_TRANSFER: u8 = 0x01;
/// The kind byte of a batch.
const KIND_BATCH: u8 = 0x02;

impl Transaction {
    /// The most items a batch may have.
    pub const MAX_ITEMS: usize = 1000;

    /// The fewest hexadecimal characters of a `QHxx` question
    /// [`Transaction::question_for`] accepts: 40, that is 160 bits of the
    /// digest (80-bit collision resistance).
    pub const MIN_HEX_QUESTION: usize = 40;

    /// A single transfer of `amount` to `payee`.
    #[must_use]
    pub const fn transfer(amount: Amount, payee: PayeeAccount) -> Self {
        Self {
            kind: Kind::Transfer(Payment { amount, payee }),
        }
    }

    /// A batch of `items`, whose total the customer is shown as `total`.
    ///
    /// The order of the items is part of the transaction (it is part of
    /// the encoding): sort them the same way on both sides.
    ///
    /// # Errors
    /// [`BatchError::Empty`] without items; [`BatchError::TooMany`] above
    /// [`Transaction::MAX_ITEMS`]; [`BatchError::Currency`] for an item in
    /// another currency than the total; [`BatchError::Overflow`] if the
    /// items' sum does not fit a `u64`; [`BatchError::Total`] if it is not
    /// `total`.
    pub fn batch(total: Amount, items: Vec<Payment>) -> Result<Self, BatchError> {
        if items.is_empty() {
            return Err(BatchError::Empty);
        }
        if items.len() > Self::MAX_ITEMS {
            return Err(BatchError::TooMany {
                len: items.len(),
                max: Self::MAX_ITEMS,
            });
        }
        let mut sum = 0u64;
        for (index, item) in items.iter().enumerate() {
            if item.amount.currency != total.currency {
                return Err(BatchError::Currency { index });
            }
            sum = sum
                .checked_add(item.amount.minor_units)
                .ok_or(BatchError::Overflow)?;
        }
        if sum != total.minor_units {
            return Err(BatchError::Total {
                total: total.minor_units,
                sum,
            });
        }
        Ok(Self {
            kind: Kind::Batch {
                total,
                items: items.into_boxed_slice(),
            },
        })
    }

    /// Whether this is a batch.
    #[must_use]
    pub const fn is_batch(&self) -> bool {
        matches!(self.kind, Kind::Batch { .. })
    }

    /// The amount the customer authorises: the transfer's, or the batch's
    /// total.
    #[must_use]
    pub const fn total(&self) -> Amount {
        match &self.kind {
            Kind::Transfer(p) => p.amount,
            Kind::Batch { total, .. } => *total,
        }
    }

    /// The payments: one for a transfer, the items in order for a batch.
    #[must_use]
    pub fn payments(&self) -> &[Payment] {
        match &self.kind {
            Kind::Transfer(p) => core::slice::from_ref(p),
            Kind::Batch { items, .. } => items,
        }
    }

    /// The canonical encoding, version 1. Integers are big-endian.
    ///
    /// ```text
    /// offset  size  field
    /// 0       16    domain tag, the ASCII bytes "OTPGUARD-OCRA-TX"
    /// 16      1     version: 0x01
    /// 17      1     kind: 0x01 single transfer, 0x02 batch
    /// 18      3     currency: the three ASCII letters of the ISO 4217 code
    /// 21      8     amount in minor units (u64): the transfer's, or the batch's total
    ///
    /// single transfer (kind 0x01), then:
    /// 29      1     payee length L (u8, 1 to 64)
    /// 30      L     payee account, ASCII
    ///               (end: 30 + L bytes in all)
    ///
    /// batch (kind 0x02), then:
    /// 29      4     item count N (u32, 1 to 1000)
    /// 33      ...   N items, in order, each:
    ///                 8   item amount in minor units (u64)
    ///                 1   payee length L (u8, 1 to 64)
    ///                 L   payee account, ASCII
    /// ```
    ///
    /// A batch's items are all in the total's currency, so it is written
    /// once. Nothing follows the last field.
    ///
    /// The encoding is injective: the tag and version are fixed, the kind
    /// byte says which layout follows, every other field is either of
    /// fixed width or preceded by its length or count, and nothing
    /// follows the last field, so the bytes read back as exactly one
    /// transaction. Two different transactions never have the same
    /// encoding. The tag and version keep these bytes apart from any other
    /// message a key might be used with, and from later versions.
    ///
    /// ```
    /// use otpguard::ocra::{Amount, Currency, PayeeAccount, Transaction};
    /// let t = Transaction::transfer(
    ///     Amount { minor_units: 0x0102, currency: Currency::new("JPY")? },
    ///     PayeeAccount::new("1234567")?,
    /// );
    /// let mut expected = b"OTPGUARD-OCRA-TX".to_vec();
    /// expected.extend_from_slice(&[1, 1]);
    /// expected.extend_from_slice(b"JPY");
    /// expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 1, 2]);
    /// expected.push(7);
    /// expected.extend_from_slice(b"1234567");
    /// assert_eq!(t.encode(), expected);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn encode(&self) -> Vec<u8> {
        let total = self.total();
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(TAG);
        out.push(VERSION);
        match &self.kind {
            Kind::Transfer(p) => {
                out.push(KIND_TRANSFER);
                out.extend_from_slice(total.currency.as_bytes());
                out.extend_from_slice(&total.minor_units.to_be_bytes());
                push_payee(&mut out, &p.payee);
            }
            Kind::Batch { items, .. } => {
                out.push(KIND_BATCH);
                out.extend_from_slice(total.currency.as_bytes());
                out.extend_from_slice(&total.minor_units.to_be_bytes());
                // Invariant: at most `MAX_ITEMS` (1000) items.
                #[allow(clippy::cast_possible_truncation)]
                let count = items.len() as u32;
                out.extend_from_slice(&count.to_be_bytes());
                for item in items {
                    out.extend_from_slice(&item.amount.minor_units.to_be_bytes());
                    push_payee(&mut out, &item.payee);
                }
            }
        }
        out
    }

    /// The SHA-256 digest of [`Transaction::encode`].
    #[must_use]
    pub fn digest(&self) -> [u8; 32] {
        Sha256::digest(self.encode()).into()
    }

    /// The challenge question that binds an OCRA response under `suite` to
    /// this transaction.
    ///
    /// - `QHxx`: the first `xx` lower-case hex characters of
    ///   [`Transaction::digest`]. Truncating to `xx` characters keeps
    ///   `4·xx` bits: finding two transactions with the same question takes
    ///   about `2^(2·xx)` hashes, and finding a transaction with the same
    ///   question as a given one about `2^(4·xx)`. That search is offline,
    ///   not limited by the number of tries a customer is allowed, so
    ///   questions shorter than [`Transaction::MIN_HEX_QUESTION`] (40
    ///   characters, 160 bits, 80-bit collision resistance) are refused.
    ///   Use `QH64` (the whole digest, 128-bit collision resistance).
    /// - `QNxx`: the payee's account number itself, for a single transfer
    ///   whose payee account is exactly `xx` digits; the customer types it
    ///   into the token. The response binds the payee only, not the amount:
    ///   on its own it does not link the amount as PSD2 RTS Art. 5 asks.
    ///   And RFC 6287 MACs a numeric question as the hex digits of the
    ///   number it writes, right-padded with zeros to 128 bytes. So leading
    ///   zeros do not count (`0012345` and `12345` would give the same
    ///   response): account numbers are signed at the suite's width only
    ///   ([`QuestionError::NumericWidth`]), as a bank's domestic numbers
    ///   have one (`QN07` for 7-digit accounts). Nor do trailing zero
    ///   nibbles: `n` and `16·n` give the same response (`0007716` =
    ///   0x1E24, `0123456` = 0x1E240 and `1975296` = 0x1E2400: three
    ///   7-digit account numbers, one response).
    ///   Every such class has exactly one member that is not a non-zero
    ///   multiple of 16, so those are refused
    ///   ([`QuestionError::NumericAmbiguous`]): among the account numbers
    ///   accepted, different values give different questions. Sign a
    ///   transfer to a refused account with a `QH` suite.
    ///
    /// # Errors
    /// A [`QuestionError`]: a hex question shorter than
    /// [`Transaction::MIN_HEX_QUESTION`]; for a numeric question, a batch,
    /// a payee account that is not all digits, is not exactly the suite's
    /// question length, or is a non-zero multiple of 16; an alphanumeric
    /// question format.
    pub fn question_for(&self, suite: &Suite) -> Result<String, QuestionError> {
        let len = suite.question_len();
        match suite.question_format() {
            QuestionFormat::Hex => {
                if len < Self::MIN_HEX_QUESTION {
                    return Err(QuestionError::HexTooShort {
                        len,
                        min: Self::MIN_HEX_QUESTION,
                    });
                }
                Ok(self
                    .digest()
                    .iter()
                    .flat_map(|b| [hex_digit(b >> 4), hex_digit(b & 0x0f)])
                    .take(len)
                    .collect())
            }
            QuestionFormat::Numeric => {
                let Kind::Transfer(payment) = &self.kind else {
                    return Err(QuestionError::NumericBatch);
                };
                let account = payment.payee.as_bytes();
                if !account.iter().all(u8::is_ascii_digit) {
                    return Err(QuestionError::NumericPayee);
                }
                if account.len() != len {
                    return Err(QuestionError::NumericWidth {
                        len: account.len(),
                        width: len,
                    });
                }
                if hex_ends_in_zero(account) {
                    return Err(QuestionError::NumericAmbiguous);
                }
                Ok(account.iter().copied().map(char::from).collect())
            }
            QuestionFormat::Alphanumeric => Err(QuestionError::Alphanumeric),
        }
    }
}

/// Whether the number `digits` writes is a non-zero multiple of 16: its
/// hexadecimal form ends in a zero nibble, so RFC 6287's numeric encoding
/// (hex digits, right-padded with zeros) gives it the same DataInput as the
/// number divided by 16. The value modulo 16 is that of its last four
/// decimal digits, as 10^4 is a multiple of 16.
fn hex_ends_in_zero(digits: &[u8]) -> bool {
    let last4 = digits.iter().rev().take(4).rev().fold(0u32, |n, d| {
        n.wrapping_mul(10)
            .wrapping_add(u32::from(d.wrapping_sub(b'0')))
    });
    let zero = digits.iter().all(|d| *d == b'0');
    last4 & 0x0f == 0 && !zero
}

fn push_payee(out: &mut Vec<u8>, payee: &PayeeAccount) {
    out.push(payee.len());
    out.extend_from_slice(payee.as_bytes());
}

/// A nibble as a lower-case hex digit.
const fn hex_digit(n: u8) -> char {
    match n {
        0..=9 => (b'0'.wrapping_add(n)) as char,
        _ => (b'a'.wrapping_add(n.wrapping_sub(10) & 0x0f)) as char,
    }
}

/// A currency code is not three ASCII upper-case letters.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("a currency is an ISO 4217 code of three ASCII upper-case letters (got {len} bytes that are not)")]
pub struct CurrencyError {
    /// The length of the text given, in bytes.
    pub len: usize,
}

/// A payee account identifier that is not accepted. The identifier itself
/// is not quoted (it is personal data, and it may be long).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PayeeError {
    /// Empty, or longer than [`PayeeAccount::MAX_LEN`].
    #[error("a payee account of {len} bytes; 1 to {max} are accepted")]
    Length {
        /// Its length in bytes.
        len: usize,
        /// [`PayeeAccount::MAX_LEN`].
        max: usize,
    },
    /// A byte that is not an ASCII letter or digit, or one of
    /// [`PayeeAccount::SEPARATORS`].
    #[error("the payee account has a character other than A-Z, a-z, 0-9, '-', '.', '/' at byte {position}")]
    Character {
        /// The byte's position.
        position: usize,
    },
}

/// A batch that is not consistent ([`Transaction::batch`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BatchError {
    /// No items.
    #[error("a batch has at least one item")]
    Empty,
    /// More than [`Transaction::MAX_ITEMS`] items.
    #[error("a batch of {len} items; at most {max} are accepted")]
    TooMany {
        /// The number of items.
        len: usize,
        /// [`Transaction::MAX_ITEMS`].
        max: usize,
    },
    /// An item in another currency than the total.
    #[error("batch item {index} is not in the total's currency")]
    Currency {
        /// The item's index.
        index: usize,
    },
    /// The items' amounts add up to more than `u64::MAX` minor units.
    #[error("the batch items' amounts overflow")]
    Overflow,
    /// The items do not add up to the total.
    #[error("the batch items add up to {sum} minor units, not the total of {total}")]
    Total {
        /// The total given.
        total: u64,
        /// The items' sum.
        sum: u64,
    },
}

/// No question binding the transaction can be made for the suite
/// ([`Transaction::question_for`]).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum QuestionError {
    /// A hex question too short to carry enough of the digest.
    #[error("a QH{len:02} question keeps {} bits of the transaction digest; at least QH{min:02} is required (QH64 recommended)", .len.saturating_mul(4))]
    HexTooShort {
        /// The suite's question length.
        len: usize,
        /// [`Transaction::MIN_HEX_QUESTION`].
        min: usize,
    },
    /// A numeric question (the payee's account number) for a batch, which
    /// has no single payee.
    #[error("a numeric question is the payee's account number; a batch has no single payee")]
    NumericBatch,
    /// A numeric question for a payee account that is not all digits.
    #[error("a numeric question is the payee's account number, and this one is not all digits")]
    NumericPayee,
    /// A numeric question for a payee account number whose length is not
    /// the suite's question length: account numbers are signed at one
    /// fixed width, since RFC 6287's numeric encoding ignores leading
    /// zeros (`0123` and `123` would give the same response).
    #[error("the payee's account number has {len} digits; the suite signs account numbers of exactly {width}")]
    NumericWidth {
        /// The account number's length.
        len: usize,
        /// The suite's question length.
        width: usize,
    },
    /// A numeric question for a payee account number that is a non-zero
    /// multiple of 16: RFC 6287's numeric encoding gives it the same
    /// response as the number divided by 16 (another account number of the
    /// same width, or the same with a leading zero), so the response would
    /// not say which of the two the customer meant.
    #[error("the payee's account number is a multiple of 16, which RFC 6287's numeric question encoding does not tell apart from its sixteenth: use a QH suite")]
    NumericAmbiguous,
    /// An alphanumeric question format.
    #[error("an alphanumeric (QA) question has no transaction encoding: use QH (the transaction digest) or QN (the payee's account number)")]
    Alphanumeric,
}
