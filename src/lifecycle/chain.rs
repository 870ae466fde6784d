//! The keyed audit chain (feature `seal`): each audit row of a customer
//! carries a link, its position in the customer's trail and a MAC over the
//! previous link and its own content, so a row deleted, edited, moved or
//! inserted by someone without the key breaks the chain at that place.
//!
//! A store that keeps the chain computes each new link with
//! [`ChainLink::next`] from the head it loaded, and refuses (as a conflict)
//! a second row at a position already taken, so concurrent writers cannot
//! fork it. [`ChainCheck`] verifies a trail row by row, in position order,
//! and reports the first [`BrokenLink`]. A [`Checkpoint`] is a MACed copy
//! of one customer's head, to keep outside the database: a trail that no
//! longer reaches it, or reaches it with another link, was cut back or
//! rewritten (a restore of the whole database included).
//!
//! What a link covers is the store's own encoding of the row, field by
//! field, as [`ChainField`]s: for `PostgresStore`, every column the
//! library writes, in a fixed order (not the database's row id or
//! insertion timestamp, which the database sets itself).

use core::fmt;

use thiserror::Error;

use super::{CustomerId, Label};
use crate::seal::{KeyId, KeyedMac, SealError, Sealer};

/// The first bytes of a link's message.
const LINK_DOMAIN: &[u8] = b"otpguard/audit-chain/v1";
/// The first bytes of a checkpoint's message.
const CHECKPOINT_DOMAIN: &[u8] = b"otpguard/audit-checkpoint/v1";
/// The domain of a floor's MAC: the last link of a customer's rows that
/// left the store with a detached partition, and where they left.
const FLOOR_DOMAIN: &[u8] = b"otpguard/audit-floor/v1";
/// The first bytes of a checkpoint's stored form.
const CHECKPOINT_MAGIC: &[u8; 4] = b"OGCP";
const CHECKPOINT_FORMAT: u8 = 1;

/// One field of an audit row, as a store keeps it: what a link covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChainField<'a> {
    /// No value.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(&'a str),
    /// Bytes.
    Bytes(&'a [u8]),
}

/// A row's place in its customer's chain: its position (1 for the first
/// row) and the MAC that binds it to the row before.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChainLink {
    position: u64,
    mac: KeyedMac,
}

impl ChainLink {
    /// The link of the row after `previous` (the first row's if `None`),
    /// whose content is `fields`, in `customer`'s chain.
    ///
    /// # Errors
    /// A [`SealError`] if the MAC cannot be made;
    /// [`SealError::Inconsistent`] if the position would overflow or a
    /// field is longer than 4 GiB.
    pub fn next<S: Sealer + ?Sized>(
        previous: Option<&Self>,
        sealer: &S,
        customer: &CustomerId,
        fields: &[ChainField<'_>],
    ) -> Result<Self, SealError> {
        let position = match previous {
            None => 1,
            Some(p) => p
                .position
                .checked_add(1)
                .ok_or(SealError::Inconsistent("audit chain position overflows"))?,
        };
        let message = link_message(position, previous, customer, fields)?;
        Ok(Self {
            position,
            mac: sealer.mac(&message)?,
        })
    }

    /// Checks that this is the link of a row whose content is `fields`,
    /// after `previous` (`None`: this must be the first row) in
    /// `customer`'s chain.
    ///
    /// # Errors
    /// [`SealError::Unauthentic`] if it is not (the row or the one before
    /// it was changed, or it was moved); [`SealError::Inconsistent`] if
    /// `previous` is not the position before it; [`SealError::UnknownKey`]
    /// if its key is not known.
    pub fn check<S: Sealer + ?Sized>(
        &self,
        previous: Option<&Self>,
        sealer: &S,
        customer: &CustomerId,
        fields: &[ChainField<'_>],
    ) -> Result<(), SealError> {
        let expected = previous.map_or(Some(1), |p| p.position.checked_add(1));
        if expected != Some(self.position) {
            return Err(SealError::Inconsistent(
                "the previous link is not the one before this position",
            ));
        }
        let message = link_message(self.position, previous, customer, fields)?;
        sealer.check_mac(&self.mac, &message)
    }

    /// A link read back from storage.
    #[must_use]
    pub const fn from_parts(position: u64, mac: KeyedMac) -> Self {
        Self { position, mac }
    }

    /// Its position: 1 for a customer's first row.
    #[must_use]
    pub const fn position(&self) -> u64 {
        self.position
    }

    /// Its MAC.
    #[must_use]
    pub const fn mac(&self) -> &KeyedMac {
        &self.mac
    }
}

/// The head of a customer's chain as a store loaded it, handed back with
/// the commit that links after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ChainHead {
    /// The store keeps no chain, or the caller did not load the head
    /// (a store that keeps one refuses to commit on it).
    #[default]
    NotLoaded,
    /// The customer's chain has no row yet.
    Empty,
    /// The customer's last row.
    At(ChainLink),
}

impl ChainHead {
    /// The last link, if the head was loaded and the chain has a row.
    #[must_use]
    pub const fn link(&self) -> Option<&ChainLink> {
        match self {
            Self::At(link) => Some(link),
            Self::NotLoaded | Self::Empty => None,
        }
    }
}

/// The message a link is the MAC of: the domain, the customer, the
/// position, the previous link (or none) and every field, each tagged and
/// length-prefixed so no two rows encode alike.
fn link_message(
    position: u64,
    previous: Option<&ChainLink>,
    customer: &CustomerId,
    fields: &[ChainField<'_>],
) -> Result<Vec<u8>, SealError> {
    let too_long = SealError::Inconsistent("an audit field is too long for the chain");
    let mut m = Vec::with_capacity(256);
    m.extend_from_slice(LINK_DOMAIN);
    push_customer(&mut m, customer)?;
    m.extend_from_slice(&position.to_be_bytes());
    match previous {
        None => m.push(0),
        Some(p) => {
            m.push(1);
            m.extend_from_slice(&p.position.to_be_bytes());
            m.extend_from_slice(&p.mac.to_bytes());
        }
    }
    m.extend_from_slice(
        &u32::try_from(fields.len())
            .map_err(|_| too_long.clone())?
            .to_be_bytes(),
    );
    for field in fields {
        match field {
            ChainField::Null => m.push(0),
            ChainField::Int(v) => {
                m.push(1);
                m.extend_from_slice(&v.to_be_bytes());
            }
            ChainField::Text(t) => {
                m.push(2);
                let len = u32::try_from(t.len()).map_err(|_| too_long.clone())?;
                m.extend_from_slice(&len.to_be_bytes());
                m.extend_from_slice(t.as_bytes());
            }
            ChainField::Bytes(b) => {
                m.push(3);
                let len = u32::try_from(b.len()).map_err(|_| too_long.clone())?;
                m.extend_from_slice(&len.to_be_bytes());
                m.extend_from_slice(b);
            }
        }
    }
    Ok(m)
}

/// The customer id, length-prefixed (at most [`Label::MAX_LEN`] bytes).
fn push_customer(m: &mut Vec<u8>, customer: &CustomerId) -> Result<(), SealError> {
    const _: () = assert!(Label::MAX_LEN <= u8::MAX as usize);
    let bytes = customer.as_str().as_bytes();
    let len = u8::try_from(bytes.len()).map_err(|_| SealError::Malformed)?;
    m.push(len);
    m.extend_from_slice(bytes);
    Ok(())
}

/// The first place a trail is broken, in position order.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum BrokenLink {
    /// No row at `position`, though rows follow: it was deleted (or its
    /// position changed).
    #[error("audit row {position} is missing: deleted or moved")]
    Missing {
        /// The first position without a row.
        position: u64,
    },
    /// The row at `position` does not authenticate against the row
    /// before: it was changed, inserted, or moved from another place or
    /// customer.
    #[error("audit row {position} does not authenticate: changed, inserted or moved")]
    Unauthentic {
        /// Its position.
        position: u64,
    },
    /// Two rows claim `position`.
    #[error("two audit rows claim position {position}: one was inserted")]
    Duplicate {
        /// The position.
        position: u64,
    },
    /// A row without a link: every row the library writes has one, so it
    /// was inserted by something else, or its link was removed.
    #[error("audit row with id {row} has no chain link: inserted, or its link removed")]
    Unchained {
        /// The store's id of the row.
        row: i64,
    },
    /// The row at `position` is under a key the sealer does not have, or
    /// its link is not one this library writes.
    #[error("audit row {position} cannot be checked: {reason}")]
    Unreadable {
        /// Its position (0 if unknown).
        position: u64,
        /// Why.
        reason: SealError,
    },
    /// The trail ends before the commit of the record's version: rows at
    /// its end were deleted.
    #[error(
        "the audit trail ends at version {trail_version}, before the record's version {record_version}: rows at its end were deleted"
    )]
    EndsBeforeRecord {
        /// The last version the trail committed.
        trail_version: u64,
        /// The record's version.
        record_version: u64,
    },
    /// The trail ends before the checkpoint's head: it was cut back, or
    /// the database restored to an earlier state.
    #[error(
        "the audit trail ends at position {head}, before the checkpoint's {checkpoint}: cut back or restored"
    )]
    BehindCheckpoint {
        /// The checkpoint's position.
        checkpoint: u64,
        /// The trail's last position (0: no rows).
        head: u64,
    },
    /// The row at the checkpoint's position is not the one the checkpoint
    /// saw: the history before it was rewritten.
    #[error("audit row {position} is not the one the checkpoint saw: history rewritten")]
    DivergesFromCheckpoint {
        /// The checkpoint's position.
        position: u64,
    },
    /// The checkpoint is below the trail's floor: the rows it covers were
    /// archived (a detached partition), and the trail can be verified
    /// through it only against the archive, not here.
    #[error(
        "the checkpoint's position {checkpoint} was archived (the trail here resumes after position {floor}): verify it against the archive"
    )]
    CheckpointArchived {
        /// The checkpoint's position.
        checkpoint: u64,
        /// The floor's position.
        floor: u64,
    },
    /// The record is behind the version its trail committed: an older
    /// copy of it was restored.
    #[error(
        "the record is at version {record_version}, behind the version {trail_version} its audit trail committed: an older copy was restored"
    )]
    RecordBehindTrail {
        /// The last version the trail committed.
        trail_version: u64,
        /// The record's version.
        record_version: u64,
    },
    /// The trail's last row is not the one the store's head of the chain
    /// copies (schema 13's head row): rows were cut from the trail's end,
    /// or the head was edited.
    #[error(
        "the audit trail ends at position {trail}, but the head of its chain holds the row at position {head}: rows cut from its end, or the head edited"
    )]
    DisagreesWithHead {
        /// The trail's last position (0: no rows).
        trail: u64,
        /// The head's position.
        head: u64,
    },
}

/// What a trail that verified holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainReport {
    /// Rows in the chain.
    pub rows: u64,
    /// The last link, if any.
    pub head: Option<ChainLink>,
}

/// Verifies one customer's trail, row by row in position order. It stops
/// at the first break: what follows a break is not vouched for.
///
/// ```
/// use otpguard::lifecycle::audit::{BrokenLink, ChainCheck, ChainField, ChainLink};
/// use otpguard::lifecycle::CustomerId;
/// use otpguard::seal::{KeyId, Keyring};
///
/// let keys = Keyring::new(KeyId(1), &[7u8; 32])?;
/// let alice = CustomerId::new("c-1")?;
/// let rows = [[ChainField::Text("accepted")], [ChainField::Text("refused")]];
/// let first = ChainLink::next(None, &keys, &alice, &rows[0])?;
/// let second = ChainLink::next(Some(&first), &keys, &alice, &rows[1])?;
///
/// let mut check = ChainCheck::new(&keys, &alice);
/// check.row(Some(first), &rows[0], 1)?;
/// check.row(Some(second), &rows[1], 2)?;
/// assert_eq!(check.finish()?.rows, 2);
///
/// // The second row, edited: refused at its position.
/// let mut check = ChainCheck::new(&keys, &alice);
/// check.row(Some(first), &rows[0], 1)?;
/// assert_eq!(
///     check.row(Some(second), &[ChainField::Text("accepted")], 2),
///     Err(BrokenLink::Unauthentic { position: 2 })
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ChainCheck<'a, S: ?Sized> {
    sealer: &'a S,
    customer: &'a CustomerId,
    head: Option<ChainLink>,
    rows: u64,
    checkpoint: Option<ChainLink>,
    reached_checkpoint: bool,
    floor: Option<u64>,
}

impl<'a, S: Sealer + ?Sized> ChainCheck<'a, S> {
    /// A check of `customer`'s trail under `sealer`'s keys.
    pub const fn new(sealer: &'a S, customer: &'a CustomerId) -> Self {
        Self {
            sealer,
            customer,
            head: None,
            rows: 0,
            checkpoint: None,
            reached_checkpoint: false,
            floor: None,
        }
    }

    /// The same check, which also requires the trail to pass through
    /// `checkpoint`'s head.
    ///
    /// # Errors
    /// [`BrokenLink::Unreadable`] if the checkpoint is not authentic or is
    /// another customer's.
    pub fn through(mut self, checkpoint: &Checkpoint) -> Result<Self, BrokenLink> {
        let unreadable = |reason| BrokenLink::Unreadable {
            position: checkpoint.head.position,
            reason,
        };
        if checkpoint.customer != *self.customer {
            return Err(unreadable(SealError::Inconsistent(
                "the checkpoint is another customer's",
            )));
        }
        checkpoint.check(self.sealer).map_err(unreadable)?;
        self.checkpoint = Some(checkpoint.head);
        Ok(self)
    }

    /// The same check of a trail whose rows through `floor`'s position left
    /// the store (archived with a detached partition): the first row read
    /// must be the one linked after `floor`, and there must be one, since
    /// a floor is the store's word alone until the row after it verifies.
    /// A checkpoint at `floor`'s position must be `floor`.
    ///
    /// # Errors
    /// [`BrokenLink::DivergesFromCheckpoint`] if the checkpoint is at
    /// `floor`'s position with another link;
    /// [`BrokenLink::CheckpointArchived`] if it is below the floor.
    pub fn after(mut self, floor: ChainLink) -> Result<Self, BrokenLink> {
        if let Some(checkpoint) = &self.checkpoint {
            if checkpoint.position < floor.position {
                return Err(BrokenLink::CheckpointArchived {
                    checkpoint: checkpoint.position,
                    floor: floor.position,
                });
            }
            if checkpoint.position == floor.position {
                if checkpoint.mac != floor.mac {
                    return Err(BrokenLink::DivergesFromCheckpoint {
                        position: floor.position,
                    });
                }
                self.reached_checkpoint = true;
            }
        }
        self.floor = Some(floor.position);
        self.head = Some(floor);
        Ok(self)
    }

    /// The next row: its link (`None` for a row without one), its content
    /// and the store's id for it (reported for a row without a link).
    ///
    /// # Errors
    /// The [`BrokenLink`] this row shows.
    pub fn row(
        &mut self,
        link: Option<ChainLink>,
        fields: &[ChainField<'_>],
        row: i64,
    ) -> Result<(), BrokenLink> {
        let Some(link) = link else {
            return Err(BrokenLink::Unchained { row });
        };
        let expected = self
            .head
            .as_ref()
            .map_or(Some(1), |h| h.position.checked_add(1))
            .ok_or(BrokenLink::Unreadable {
                position: link.position,
                reason: SealError::Inconsistent("audit chain position overflows"),
            })?;
        if link.position < expected {
            return Err(BrokenLink::Duplicate {
                position: link.position,
            });
        }
        if link.position > expected {
            return Err(BrokenLink::Missing { position: expected });
        }
        match link.check(self.head.as_ref(), self.sealer, self.customer, fields) {
            Ok(()) => {}
            Err(SealError::Unauthentic) => {
                return Err(BrokenLink::Unauthentic {
                    position: link.position,
                })
            }
            Err(reason) => {
                return Err(BrokenLink::Unreadable {
                    position: link.position,
                    reason,
                })
            }
        }
        if let Some(checkpoint) = &self.checkpoint {
            if checkpoint.position == link.position {
                if checkpoint.mac != link.mac {
                    return Err(BrokenLink::DivergesFromCheckpoint {
                        position: link.position,
                    });
                }
                self.reached_checkpoint = true;
            }
        }
        self.rows = self.rows.saturating_add(1);
        self.head = Some(link);
        Ok(())
    }

    /// The trail's head, as far as it has been read.
    pub const fn head(&self) -> Option<&ChainLink> {
        self.head.as_ref()
    }

    /// The end of the trail.
    ///
    /// # Errors
    /// [`BrokenLink::BehindCheckpoint`] if a checkpoint was given and the
    /// trail did not reach it; [`BrokenLink::Missing`] if the trail resumed
    /// [`after`](Self::after) a floor and no row followed it.
    pub fn finish(self) -> Result<ChainReport, BrokenLink> {
        if let (Some(floor), 0) = (self.floor, self.rows) {
            return Err(BrokenLink::Missing {
                position: floor.saturating_add(1),
            });
        }
        if let Some(checkpoint) = &self.checkpoint {
            if !self.reached_checkpoint {
                return Err(BrokenLink::BehindCheckpoint {
                    checkpoint: checkpoint.position,
                    head: self.head.map_or(0, |h| h.position),
                });
            }
        }
        Ok(ChainReport {
            rows: self.rows,
            head: self.head,
        })
    }
}

/// One customer's chain head at a moment, MACed: a bank keeps these
/// outside the database (write-once storage, its SIEM) and verifies the
/// trail through them later ([`ChainCheck::through`]). A trail that no
/// longer reaches a checkpoint, or reaches its position with another
/// link, was cut back or rewritten after it was taken, a restore of the
/// whole database included.
///
/// ```
/// use otpguard::lifecycle::audit::{Checkpoint, ChainField, ChainLink};
/// use otpguard::lifecycle::CustomerId;
/// use otpguard::seal::{KeyId, Keyring};
///
/// let keys = Keyring::new(KeyId(1), &[7u8; 32])?;
/// let alice = CustomerId::new("c-1")?;
/// let head = ChainLink::next(None, &keys, &alice, &[ChainField::Int(1)])?;
/// let checkpoint = Checkpoint::new(&keys, &alice, head, 1_700_000_000)?;
/// let kept = checkpoint.to_bytes()?; // to write-once storage
/// let back = Checkpoint::from_bytes(&kept)?;
/// back.check(&keys)?;
/// assert_eq!(back.head().position(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    customer: CustomerId,
    head: ChainLink,
    at: u64,
    mac: KeyedMac,
}

impl Checkpoint {
    /// A checkpoint of `customer`'s chain at `head`, taken at `at` (Unix
    /// seconds), MACed under the primary key.
    ///
    /// # Errors
    /// A [`SealError`] if the MAC cannot be made.
    pub fn new<S: Sealer + ?Sized>(
        sealer: &S,
        customer: &CustomerId,
        head: ChainLink,
        at: u64,
    ) -> Result<Self, SealError> {
        let mac = sealer.mac(&checkpoint_message(customer, &head, at)?)?;
        Ok(Self {
            customer: customer.clone(),
            head,
            at,
            mac,
        })
    }

    /// Checks its MAC.
    ///
    /// # Errors
    /// [`SealError::Unauthentic`] if it was changed or not made under the
    /// keyring; [`SealError::UnknownKey`] if its key is not known.
    pub fn check<S: Sealer + ?Sized>(&self, sealer: &S) -> Result<(), SealError> {
        sealer.check_mac(
            &self.mac,
            &checkpoint_message(&self.customer, &self.head, self.at)?,
        )
    }

    /// Whose chain.
    #[must_use]
    pub const fn customer(&self) -> &CustomerId {
        &self.customer
    }

    /// The head it saw.
    #[must_use]
    pub const fn head(&self) -> &ChainLink {
        &self.head
    }

    /// When it was taken (Unix seconds).
    #[must_use]
    pub const fn at(&self) -> u64 {
        self.at
    }

    /// The key its MAC is under.
    #[must_use]
    pub const fn key(&self) -> KeyId {
        self.mac.key()
    }

    /// Its stored form: `OGCP`, a format byte, the time, the customer
    /// (length-prefixed), the head's position and MAC, and its own MAC.
    ///
    /// # Errors
    /// [`SealError::Malformed`] if the customer id is longer than a
    /// length byte holds (a [`CustomerId`] never is).
    pub fn to_bytes(&self) -> Result<Vec<u8>, SealError> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(CHECKPOINT_MAGIC);
        out.push(CHECKPOINT_FORMAT);
        out.extend_from_slice(&self.at.to_be_bytes());
        push_customer(&mut out, &self.customer)?;
        out.extend_from_slice(&self.head.position.to_be_bytes());
        out.extend_from_slice(&self.head.mac.to_bytes());
        out.extend_from_slice(&self.mac.to_bytes());
        Ok(out)
    }

    /// Reads the stored form (its MAC is not checked: [`Checkpoint::check`]).
    ///
    /// # Errors
    /// [`SealError::Malformed`] if it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let rest = bytes
            .strip_prefix(CHECKPOINT_MAGIC.as_slice())
            .ok_or(SealError::Malformed)?;
        let (&format, rest) = rest.split_first().ok_or(SealError::Malformed)?;
        if format != CHECKPOINT_FORMAT {
            return Err(SealError::Malformed);
        }
        let (at, rest) = rest.split_first_chunk::<8>().ok_or(SealError::Malformed)?;
        let (&len, rest) = rest.split_first().ok_or(SealError::Malformed)?;
        let (customer, rest) = rest
            .split_at_checked(usize::from(len))
            .ok_or(SealError::Malformed)?;
        let customer = core::str::from_utf8(customer)
            .ok()
            .and_then(|c| CustomerId::new(c).ok())
            .ok_or(SealError::Malformed)?;
        let (position, rest) = rest.split_first_chunk::<8>().ok_or(SealError::Malformed)?;
        let (head, mac) = rest
            .split_at_checked(KeyedMac::LEN)
            .ok_or(SealError::Malformed)?;
        Ok(Self {
            customer,
            head: ChainLink {
                position: u64::from_be_bytes(*position),
                mac: KeyedMac::from_bytes(head)?,
            },
            at: u64::from_be_bytes(*at),
            mac: KeyedMac::from_bytes(mac)?,
        })
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "checkpoint customer={} position={} at={} key={}",
            self.customer,
            self.head.position,
            self.at,
            self.mac.key()
        )
    }
}

/// The message a floor's MAC is over: the domain, the customer, the last
/// link that left and the partition boundary it left below. A domain of
/// its own: neither a checkpoint (which anyone may keep a copy of) nor a
/// link's MAC can pass for a floor's.
pub(crate) fn floor_message(
    customer: &CustomerId,
    head: &ChainLink,
    boundary: u64,
) -> Result<Vec<u8>, SealError> {
    head_message(FLOOR_DOMAIN, customer, head, boundary)
}

fn checkpoint_message(
    customer: &CustomerId,
    head: &ChainLink,
    at: u64,
) -> Result<Vec<u8>, SealError> {
    head_message(CHECKPOINT_DOMAIN, customer, head, at)
}

/// `domain`, the customer, a chain head and a time, for a MAC.
fn head_message(
    domain: &[u8],
    customer: &CustomerId,
    head: &ChainLink,
    at: u64,
) -> Result<Vec<u8>, SealError> {
    let mut m = Vec::with_capacity(128);
    m.extend_from_slice(domain);
    push_customer(&mut m, customer)?;
    m.extend_from_slice(&head.position.to_be_bytes());
    m.extend_from_slice(&head.mac.to_bytes());
    m.extend_from_slice(&at.to_be_bytes());
    Ok(m)
}
