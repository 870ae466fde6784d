//! Reading the audit trail back: by customer, by time, and page after page
//! from a cursor (to stream it to the bank's SIEM), the same way from every
//! store ([`AuditReader`]).

use core::fmt;
use core::future::Future;
use core::str::FromStr;

use super::audit::{AuditReason, AuditRecord, Outcome};
use super::CustomerId;
use crate::StoreError;

/// Where a reader stands in a store's audit trail: an entry's place in the
/// order the store reads entries in ([`AuditEntry::cursor`]), or
/// [`AuditCursor::START`]. Keep the last one read (its text form is
/// stable) and ask for the entries after it: no entry committed later is
/// ever placed before it, so a stream that resumes from it misses none and
/// repeats none.
///
/// ```
/// use otpguard::lifecycle::audit::AuditCursor;
/// let cursor: AuditCursor = "812-40577".parse()?;
/// assert_eq!(cursor.to_string(), "812-40577");
/// assert!(AuditCursor::START < cursor);
/// assert!("40577".parse::<AuditCursor>().is_err());
/// # Ok::<(), otpguard::lifecycle::audit::BadCursor>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AuditCursor {
    /// The writing transaction's place (PostgreSQL: its 64-bit transaction
    /// id; the in-memory store: 0).
    writer: u64,
    /// The entry's number within the store.
    id: u64,
}

impl AuditCursor {
    /// Before the first entry.
    pub const START: Self = Self { writer: 0, id: 0 };

    /// A cursor from its two parts, as a store numbers its entries.
    #[must_use]
    pub const fn new(writer: u64, id: u64) -> Self {
        Self { writer, id }
    }

    /// The writing transaction's place.
    #[must_use]
    pub const fn writer(self) -> u64 {
        self.writer
    }

    /// The entry's number within the store.
    #[must_use]
    pub const fn id(self) -> u64 {
        self.id
    }
}

impl fmt::Display for AuditCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.writer, self.id)
    }
}

/// A text that is not an [`AuditCursor`] (`writer-id`, two decimal
/// numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("not an audit cursor (two numbers joined by '-')")]
pub struct BadCursor;

impl FromStr for AuditCursor {
    type Err = BadCursor;

    fn from_str(text: &str) -> Result<Self, BadCursor> {
        let (writer, id) = text.split_once('-').ok_or(BadCursor)?;
        let number = |s: &str| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(BadCursor);
            }
            s.parse::<u64>().map_err(|_| BadCursor)
        };
        Ok(Self {
            writer: number(writer)?,
            id: number(id)?,
        })
    }
}

/// Which audit entries to read: one customer's or everyone's, within a time
/// range or not, after a cursor, at most so many.
///
/// ```
/// use otpguard::lifecycle::audit::{AuditCursor, AuditQuery};
/// use otpguard::lifecycle::CustomerId;
/// // One customer's entries of a day, 100 at a time.
/// let q = AuditQuery::customer(CustomerId::new("c-1")?).between(1_700_000_000, 1_700_086_400).limit(100);
/// assert_eq!(q.max(), 100);
/// // Everyone's, after where the SIEM export stopped.
/// let q = AuditQuery::all().after("812-40577".parse()?);
/// assert_eq!(q.max(), AuditQuery::DEFAULT_LIMIT);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use]
pub struct AuditQuery {
    pub(crate) customer: Option<CustomerId>,
    pub(crate) from: Option<u64>,
    pub(crate) until: Option<u64>,
    pub(crate) after: AuditCursor,
    pub(crate) limit: u32,
}

impl AuditQuery {
    /// Entries per page unless [`limit`](Self::limit) says otherwise.
    pub const DEFAULT_LIMIT: u32 = 1_000;
    /// The most entries one page holds.
    pub const MAX_LIMIT: u32 = 10_000;

    /// Every customer's entries, from the start.
    pub const fn all() -> Self {
        Self {
            customer: None,
            from: None,
            until: None,
            after: AuditCursor::START,
            limit: Self::DEFAULT_LIMIT,
        }
    }

    /// One customer's entries, from the start.
    pub fn customer(customer: CustomerId) -> Self {
        Self {
            customer: Some(customer),
            ..Self::all()
        }
    }

    /// Only entries of events at or after `from` and before `until` (Unix
    /// seconds, the lifecycle's clock: [`AuditRecord::time`]).
    pub const fn between(mut self, from: u64, until: u64) -> Self {
        self.from = Some(from);
        self.until = Some(until);
        self
    }

    /// Only entries after `cursor` (the last one a previous page returned).
    pub const fn after(mut self, cursor: AuditCursor) -> Self {
        self.after = cursor;
        self
    }

    /// At most `limit` entries (1 to [`MAX_LIMIT`](Self::MAX_LIMIT); a
    /// value outside is brought within).
    pub const fn limit(mut self, limit: u32) -> Self {
        self.limit = if limit == 0 {
            1
        } else if limit > Self::MAX_LIMIT {
            Self::MAX_LIMIT
        } else {
            limit
        };
        self
    }

    /// The most entries a page of this query holds.
    #[must_use]
    pub const fn max(&self) -> u32 {
        self.limit
    }

    /// Whether `record` is one this query asks for (the cursor aside).
    pub(crate) fn selects(&self, record: &AuditRecord) -> bool {
        self.customer.as_ref().is_none_or(|c| *c == record.customer)
            && self.from.is_none_or(|from| record.time >= from)
            && self.until.is_none_or(|until| record.time < until)
    }
}

/// One audit row as a store read it back.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Its place: ask for the entries after it to go on.
    pub cursor: AuditCursor,
    /// When the store wrote it (Unix seconds, the database's clock), if the
    /// store keeps that.
    pub recorded_at: Option<u64>,
    /// Its position in its customer's audit chain (PostgreSQL: 1, 2, …
    /// per customer, without gaps), if the store keeps a chain: a reader
    /// that sees a customer's positions jump knows rows are missing from
    /// what it was given.
    pub position: Option<u64>,
    /// What the row says.
    pub content: AuditContent,
}

impl AuditEntry {
    /// The lifecycle's record, if the row is one.
    #[must_use]
    pub const fn record(&self) -> Option<&AuditRecord> {
        match &self.content {
            AuditContent::Event(record) => Some(record),
            AuditContent::Store(_) | AuditContent::Unreadable { .. } => None,
        }
    }

    /// Whose row it is.
    #[must_use]
    pub fn customer(&self) -> &str {
        match &self.content {
            AuditContent::Event(record) => record.customer.as_str(),
            AuditContent::Store(store) => &store.customer,
            AuditContent::Unreadable { customer, .. } => customer,
        }
    }

    /// The stable code of its reason ([`AuditReason::code`]), if it can be
    /// read.
    #[must_use]
    pub fn reason_code(&self) -> Option<&str> {
        match &self.content {
            AuditContent::Event(record) => Some(record.reason.code()),
            AuditContent::Store(store) => Some(store.reason.code()),
            AuditContent::Unreadable { .. } => None,
        }
    }
}

/// What an audit row says.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuditContent {
    /// The record of a lifecycle event, accepted or refused. Read back from
    /// a store that keeps a reason as its code and message only
    /// (PostgreSQL), its reason is [`AuditReason::Recorded`].
    Event(AuditRecord),
    /// The store's own record of what it did by itself: a record it refused
    /// as corrupt when it loaded it, or sealed again under a new key.
    Store(StoreAudit),
    /// A row that does not decode as either: changed outside the library,
    /// or written by something else. It is returned rather than failing
    /// the page, so a reader's cursor moves past it; verify the customer's
    /// chain.
    Unreadable {
        /// Whose row it claims to be.
        customer: String,
        /// What does not decode.
        why: String,
    },
}

/// An audit row a store wrote of its own accord (by the System).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct StoreAudit {
    /// When (Unix seconds, the system's clock).
    pub time: u64,
    /// Whose record.
    pub customer: String,
    /// What the store did: `Load` (a record refused as corrupt when it was
    /// loaded), `Reseal` (a record sealed again, or tagged) or `Carry` (a
    /// trail carried past an audit partition detached for archive).
    pub event: String,
    /// Accepted (`Reseal`, `Carry`) or refused (`Load`).
    pub outcome: Outcome,
    /// The record's state as the row names it (`unreadable` for a record
    /// that could not be read at all).
    pub state: String,
    /// Why, as its code and text.
    pub reason: AuditReason,
    /// The record's version the row concerns.
    pub version: u64,
}

/// One page of entries, in the store's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditPage {
    /// The entries, at most the query's limit.
    pub entries: Vec<AuditEntry>,
    /// Where to go on from: the last entry's cursor, or the query's own if
    /// the page is empty.
    pub next: AuditCursor,
}

impl AuditPage {
    /// Whether the page holds as many entries as the query allowed (there
    /// may be more after [`next`](Self::next)).
    #[must_use]
    pub fn is_full(&self, query: &AuditQuery) -> bool {
        u32::try_from(self.entries.len()).is_ok_and(|n| n >= query.limit)
    }
}

/// A store whose audit trail can be read back, page by page.
///
/// Entries come in the order of their cursors. For everyone's entries
/// ([`AuditQuery::all`]) a page holds only entries that no commit still in
/// flight can come before: a stream that resumes from the last cursor it
/// read misses nothing and repeats nothing. For one customer's, the order
/// is that of the customer's commits.
///
/// ```
/// use otpguard::lifecycle::audit::{AuditQuery, AuditReader};
/// use otpguard::lifecycle::MemoryStore;
/// # fn main() -> Result<(), otpguard::StoreError> {
/// let store = MemoryStore::new();
/// let page = futures_lite_block_on(store.read_audit(&AuditQuery::all()))?;
/// assert!(page.entries.is_empty());
/// # Ok(()) }
/// # fn futures_lite_block_on<F: core::future::Future>(f: F) -> F::Output {
/// #     let mut f = core::pin::pin!(f);
/// #     let waker = std::task::Waker::noop();
/// #     match f.as_mut().poll(&mut std::task::Context::from_waker(&waker)) {
/// #         std::task::Poll::Ready(v) => v,
/// #         std::task::Poll::Pending => unreachable!("the memory store answers at once"),
/// #     }
/// # }
/// ```
pub trait AuditReader {
    /// The entries `query` selects, after its cursor, at most its limit.
    ///
    /// # Errors
    /// A [`StoreError`] if the store cannot be read; a corrupt one if an
    /// entry does not decode.
    fn read_audit(
        &self,
        query: &AuditQuery,
    ) -> impl Future<Output = Result<AuditPage, StoreError>> + Send;
}
