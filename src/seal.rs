//! Secrets sealed at rest (feature `seal`): AES-256-GCM with a fresh random
//! 96-bit nonce per seal, bound to where the secret belongs.
//!
//! A stored token secret is only ever a [`SealedSecret`]. Its associated
//! data names the customer, the token id, the purpose of the secret
//! (current token, pending enrollment, pending swap) and the key that
//! sealed it, so a sealed secret copied into another customer's row, or
//! into another slot of the same row, does not open: [`SealError::Unauthentic`].
//!
//! # Keys
//!
//! A [`Keyring`] holds several key-encryption keys by [`KeyId`]: one primary
//! that seals, the others still able to open. Rotation adds a new primary;
//! [`Keyring::reseal`] re-seals a secret under it (a store does this on the
//! next commit of each record, and a backend can run it over all records).
//! Keys come from bytes the backend provides (environment, file, KMS).
//!
//! A bank that keeps keys in an HSM or a KMS implements [`Sealer`] itself,
//! usually with **envelope encryption**: a data key per record (or per
//! tenant) seals the secret locally with AES-256-GCM, and the KMS key wraps
//! only that data key, so the KMS is called once per data key, never sees a
//! secret, and the key-encryption key never leaves it.
//!
//! ```
//! use otpguard::seal::{Keyring, KeyId, Purpose, SealContext, Sealer};
//! use otpguard::lifecycle::{CustomerId, store::TokenId};
//! use otpguard::Secret;
//!
//! let keyring = Keyring::new(KeyId(1), &[7u8; 32])?; // from your KMS or vault
//! let alice = CustomerId::new("c-1")?;
//! let token = TokenId::from_bytes([1; 16]);
//! let here = SealContext::new(&alice, Some(token), Purpose::Current);
//!
//! let secret = Secret::from_bytes(&[42u8; 20])?;
//! let sealed = keyring.seal(&secret, &here)?;
//! let stored = sealed.to_bytes(); // what the database keeps
//!
//! let read = otpguard::seal::SealedSecret::from_bytes(&stored)?;
//! assert_eq!(keyring.open(&read, &here)?.expose_secret(), secret.expose_secret());
//!
//! // Moved to another customer's row: refused.
//! let bob = CustomerId::new("c-2")?;
//! let elsewhere = SealContext::new(&bob, Some(token), Purpose::Current);
//! assert!(keyring.open(&read, &elsewhere).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Key, Nonce, Tag};
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::lifecycle::store::TokenId;
use crate::lifecycle::CustomerId;
use crate::Secret;

/// Names one key of a [`Keyring`]; stored with every sealed secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub u32);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "key-{}", self.0)
    }
}

/// Which slot of a record a sealed secret belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Purpose {
    /// The current token's secret.
    Current,
    /// A provisioned secret waiting for its first code.
    Enrollment,
    /// The new token's secret of a pending swap.
    PendingSwap,
    /// The record's key for fingerprints of retired secrets.
    FingerprintKey,
}

impl Purpose {
    const fn tag(self) -> u8 {
        match self {
            Self::Current => 1,
            Self::Enrollment => 2,
            Self::PendingSwap => 3,
            Self::FingerprintKey => 4,
        }
    }
}

/// Where a secret belongs: what its associated data binds it to.
#[derive(Clone, Copy, Debug)]
pub struct SealContext<'a> {
    customer: &'a CustomerId,
    token: Option<TokenId>,
    purpose: Purpose,
}

impl<'a> SealContext<'a> {
    /// The secret of `customer`'s token `token` (none yet for an
    /// enrollment), in slot `purpose`.
    #[must_use]
    pub const fn new(customer: &'a CustomerId, token: Option<TokenId>, purpose: Purpose) -> Self {
        Self {
            customer,
            token,
            purpose,
        }
    }

    /// The associated data: an unambiguous encoding of the context and the
    /// key id (every field fixed-size or length-prefixed).
    fn associated_data(&self, key: KeyId) -> Result<Vec<u8>, SealError> {
        let customer = self.customer.as_str().as_bytes();
        // A customer id is at most `Label::MAX_LEN` (128) bytes, which a
        // one-byte length prefix holds; checked, not assumed.
        const _: () = assert!(crate::lifecycle::Label::MAX_LEN <= u8::MAX as usize);
        let len = u8::try_from(customer.len()).map_err(|_| SealError::Malformed)?;
        let mut aad = Vec::with_capacity(
            AAD_DOMAIN
                .len()
                .saturating_add(customer.len())
                .saturating_add(23),
        );
        aad.extend_from_slice(AAD_DOMAIN);
        aad.extend_from_slice(&key.0.to_be_bytes());
        aad.push(self.purpose.tag());
        aad.push(len);
        aad.extend_from_slice(customer);
        match self.token {
            Some(id) => {
                aad.push(1);
                aad.extend_from_slice(&id.to_bytes());
            }
            None => aad.push(0),
        }
        Ok(aad)
    }
}

const AAD_DOMAIN: &[u8] = b"otpguard/seal/v1";
/// The first bytes of a record tag's message: distinct from the audit
/// chain's and a checkpoint's, so none passes for another.
const TAG_DOMAIN: &[u8] = b"otpguard/record-tag/v2";
/// The first bytes of a record tag's message in the plaintext form.
#[cfg(feature = "serde")]
const PLAINTEXT_DOMAIN: &[u8] = b"otpguard/plaintext-record/v1";
/// The HKDF `info` that derives a key's MAC key: the MAC key is
/// independent of the AES-GCM key it comes from.
const MAC_KEY_INFO: &[u8] = b"otpguard/mac-key/v1";
/// The format byte of a [`KeyedMac`]'s stored form (distinct from a sealed
/// secret's).
const MAC_FORMAT: u8 = 2;
/// HMAC-SHA-256's output.
pub const MAC_LEN: usize = 32;
const FORMAT: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + 4 + NONCE_LEN;

/// What a sealed secret's and a record tag's stored forms begin with: the
/// format byte, the key id and the nonce.
fn header(key: KeyId, nonce: &[u8; NONCE_LEN]) -> [u8; HEADER_LEN] {
    let mut out = [0u8; HEADER_LEN];
    let (format, rest) = out.split_at_mut(1);
    let (id, n) = rest.split_at_mut(4);
    format.copy_from_slice(&[FORMAT]);
    id.copy_from_slice(&key.0.to_be_bytes());
    n.copy_from_slice(nonce);
    out
}

/// The key id and nonce of a stored form in [`FORMAT`], and what follows.
fn read_header(bytes: &[u8]) -> Result<(KeyId, [u8; NONCE_LEN], &[u8]), SealError> {
    let (&format, rest) = bytes.split_first().ok_or(SealError::Malformed)?;
    if format != FORMAT {
        return Err(SealError::Malformed);
    }
    let (key, rest) = rest.split_first_chunk::<4>().ok_or(SealError::Malformed)?;
    let (nonce, rest) = rest
        .split_first_chunk::<NONCE_LEN>()
        .ok_or(SealError::Malformed)?;
    Ok((KeyId(u32::from_be_bytes(*key)), *nonce, rest))
}

/// A secret sealed with AES-256-GCM: the key id, the nonce and the
/// ciphertext with its tag. Holds nothing secret.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret {
    key: KeyId,
    nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the 16-byte tag.
    sealed: Vec<u8>,
}

impl SealedSecret {
    /// The key that sealed it.
    #[must_use]
    pub const fn key(&self) -> KeyId {
        self.key
    }

    /// The stored form: format byte, key id, nonce, ciphertext and tag.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(HEADER_LEN.saturating_add(self.sealed.len()));
        out.extend_from_slice(&header(self.key, &self.nonce));
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Reads the stored form.
    ///
    /// # Errors
    /// [`SealError::Malformed`] if it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let (key, nonce, sealed) = read_header(bytes)?;
        let shortest = Secret::MIN_LEN.saturating_add(TAG_LEN);
        let longest = Secret::MAX_LEN.saturating_add(TAG_LEN);
        if !(shortest..=longest).contains(&sealed.len()) {
            return Err(SealError::Malformed);
        }
        Ok(Self {
            key,
            nonce,
            sealed: sealed.to_vec(),
        })
    }
}

impl fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedSecret")
            .field("key", &self.key)
            .field("len", &self.sealed.len())
            .finish_non_exhaustive()
    }
}

/// Why a secret could not be sealed or opened. None carries key material.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SealError {
    /// No key with this id is in the keyring.
    #[error("no key {0} in the keyring")]
    UnknownKey(KeyId),
    /// The sealed secret does not open in this context: it was tampered
    /// with, sealed for another customer, token or slot, or under another
    /// key with the same id.
    #[error(
        "the sealed secret does not open here (tampered, or sealed for another record or slot)"
    )]
    Unauthentic,
    /// Not a sealed secret of this library's format.
    #[error("not a sealed secret")]
    Malformed,
    /// A key id is in the keyring twice.
    #[error("key {0} is in the keyring twice")]
    DuplicateKey(KeyId),
    /// The operating system's random number generator failed.
    #[error("the operating system random number generator failed")]
    Randomness,
    /// The opened bytes are not a valid secret.
    #[error("the opened secret is not valid")]
    InvalidSecret,
    /// The cipher refused the input (too long).
    #[error("the cipher refused the input")]
    Cipher,
    /// The fields of a sealed record do not make a record.
    #[error("the sealed record is inconsistent: {0}")]
    Inconsistent(&'static str),
    /// A sealed record without the tag that authenticates it (written
    /// before records carried one, or stripped).
    #[error("the sealed record carries no tag")]
    Untagged,
    /// A key given as text is not 64 hexadecimal digits (the text is not
    /// repeated: it may be most of a key).
    #[error("a key is 64 hexadecimal digits (32 bytes)")]
    KeyNotHex,
}

/// Seals and opens secrets. [`Keyring`] is the built-in one; an HSM or KMS
/// goes behind this trait (see the module docs for the envelope pattern).
pub trait Sealer {
    /// Seals `secret` for `context` under the primary key.
    ///
    /// # Errors
    /// [`SealError`] if sealing failed (no randomness, a key refused).
    fn seal(&self, secret: &Secret, context: &SealContext<'_>) -> Result<SealedSecret, SealError>;

    /// Opens `sealed`, which must have been sealed for `context`.
    ///
    /// # Errors
    /// [`SealError::Unauthentic`] if it was sealed elsewhere or tampered
    /// with; [`SealError::UnknownKey`] if its key is not known.
    fn open(&self, sealed: &SealedSecret, context: &SealContext<'_>) -> Result<Secret, SealError>;

    /// The key [`seal`](Sealer::seal) seals under now: a stored secret
    /// sealed under any other key is due for re-sealing.
    fn primary(&self) -> KeyId;

    /// A MAC of `message` under the primary key: HMAC-SHA-256 under a key
    /// used for nothing else (the [`Keyring`] derives it from the key with
    /// HKDF), deterministic, 32 bytes. The library builds every message it
    /// MACs with its own domain label first (a record's tag, a link of the
    /// audit chain, a checkpoint), so one never passes for another.
    ///
    /// # Errors
    /// [`SealError`] if it cannot (a key refused, an HSM unreachable).
    fn mac(&self, message: &[u8]) -> Result<KeyedMac, SealError>;

    /// Checks, in constant time, that `mac` is the MAC of `message` under
    /// its key.
    ///
    /// # Errors
    /// [`SealError::Unauthentic`] if it is not (the message was changed);
    /// [`SealError::UnknownKey`] if its key is not known.
    fn check_mac(&self, mac: &KeyedMac, message: &[u8]) -> Result<(), SealError>;
}

/// A MAC under a key of the keyring (see [`Sealer::mac`]): what
/// authenticates a whole record, a link of the audit chain and a
/// checkpoint. Holds nothing secret.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyedMac {
    key: KeyId,
    mac: [u8; MAC_LEN],
}

impl KeyedMac {
    /// The length of its stored form.
    pub const LEN: usize = 1 + 4 + MAC_LEN;

    /// A MAC made under `key` (for a [`Sealer`] of an HSM or KMS).
    #[must_use]
    pub const fn new(key: KeyId, mac: [u8; MAC_LEN]) -> Self {
        Self { key, mac }
    }

    /// The key that made it.
    #[must_use]
    pub const fn key(&self) -> KeyId {
        self.key
    }

    /// The MAC's 32 bytes (to compare with [`ConstantTimeEq`](subtle::ConstantTimeEq) in a
    /// [`Sealer`] of one's own).
    #[must_use]
    pub const fn as_bytes(&self) -> &[u8; MAC_LEN] {
        &self.mac
    }

    /// The stored form: format byte, key id, MAC.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; Self::LEN] {
        let mut out = [0u8; Self::LEN];
        let (format, rest) = out.split_at_mut(1);
        let (id, mac) = rest.split_at_mut(4);
        format.copy_from_slice(&[MAC_FORMAT]);
        id.copy_from_slice(&self.key.0.to_be_bytes());
        mac.copy_from_slice(&self.mac);
        out
    }

    /// Reads the stored form.
    ///
    /// # Errors
    /// [`SealError::Malformed`] if it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SealError> {
        let (&format, rest) = bytes.split_first().ok_or(SealError::Malformed)?;
        if format != MAC_FORMAT {
            return Err(SealError::Malformed);
        }
        let (key, mac) = rest.split_first_chunk::<4>().ok_or(SealError::Malformed)?;
        let mac = <[u8; MAC_LEN]>::try_from(mac).map_err(|_| SealError::Malformed)?;
        Ok(Self {
            key: KeyId(u32::from_be_bytes(*key)),
            mac,
        })
    }
}

impl fmt::Debug for KeyedMac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedMac")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// The message a record's tag is the MAC of: the domain, the customer
/// (length-prefixed), then the record's bytes.
pub(crate) fn record_message(record: &[u8], customer: &CustomerId) -> Result<Vec<u8>, SealError> {
    let customer = customer.as_str().as_bytes();
    let len = u8::try_from(customer.len()).map_err(|_| SealError::Malformed)?;
    let mut message = Vec::with_capacity(
        TAG_DOMAIN
            .len()
            .saturating_add(1)
            .saturating_add(customer.len())
            .saturating_add(record.len()),
    );
    message.extend_from_slice(TAG_DOMAIN);
    message.push(len);
    message.extend_from_slice(customer);
    message.extend_from_slice(record);
    Ok(message)
}

/// AES-256-GCM keys by id: one primary that seals, all able to open. Each
/// key also yields, through HKDF-SHA-256, an HMAC-SHA-256 key for
/// [`Sealer::mac`] (record tags, the audit chain, checkpoints): MACs use
/// no nonce, so there is no nonce budget to run out of however many
/// records are written. The keys' expanded schedules are wiped on drop.
pub struct Keyring {
    primary: KeyId,
    keys: Vec<RingKey>,
}

/// One key of a [`Keyring`]: its cipher and its MAC, both keyed.
struct RingKey {
    id: KeyId,
    cipher: Aes256Gcm,
    mac: HmacSha256,
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

impl RingKey {
    fn new(id: KeyId, key: &[u8; 32]) -> Result<Self, SealError> {
        let mut mac_key = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, key)
            .expand(MAC_KEY_INFO, mac_key.as_mut_slice())
            .map_err(|_| SealError::Cipher)?;
        let mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(mac_key.as_slice())
            .map_err(|_| SealError::Cipher)?;
        Ok(Self {
            id,
            cipher: cipher(key),
            mac,
        })
    }
}

/// 32 key bytes from 64 hexadecimal digits, in a buffer wiped on drop.
fn key_from_hex(hex: &str) -> Result<Zeroizing<[u8; 32]>, SealError> {
    let mut key = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(hex.trim(), key.as_mut_slice()).map_err(|_| SealError::KeyNotHex)?;
    Ok(key)
}

impl Keyring {
    /// A keyring with one key, the primary.
    ///
    /// # Errors
    /// [`SealError::Cipher`] if the MAC key cannot be derived (HKDF and
    /// HMAC-SHA-256 accept any 32-byte key, so this does not happen).
    pub fn new(primary: KeyId, key: &[u8; 32]) -> Result<Self, SealError> {
        Ok(Self {
            primary,
            keys: vec![RingKey::new(primary, key)?],
        })
    }

    /// A keyring with one key, the primary, given as 64 hexadecimal digits
    /// (as a key read from a secret store or the environment usually is).
    /// The key is decoded straight into a buffer that is wiped once the
    /// keyring holds it; keep the text in a
    /// [`Zeroizing`] `String` so that it is wiped too.
    ///
    /// ```
    /// use otpguard::seal::{KeyId, Keyring, SealError};
    /// use zeroize::Zeroizing;
    /// let text = Zeroizing::new("00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF".to_owned());
    /// let ring = Keyring::from_hex(KeyId(1), &text)?;
    /// assert_eq!(ring.primary(), KeyId(1));
    /// assert_eq!(Keyring::from_hex(KeyId(1), "00ff").err(), Some(SealError::KeyNotHex));
    /// # Ok::<(), SealError>(())
    /// ```
    ///
    /// # Errors
    /// [`SealError::KeyNotHex`] if `hex` is not 64 hexadecimal digits
    /// (surrounding whitespace, such as a trailing newline, is ignored).
    pub fn from_hex(primary: KeyId, hex: &str) -> Result<Self, SealError> {
        let key = key_from_hex(hex)?;
        Self::new(primary, &key)
    }

    /// Adds a key given as 64 hexadecimal digits ([`Keyring::from_hex`]).
    ///
    /// # Errors
    /// [`SealError::KeyNotHex`] if it is not; [`SealError::DuplicateKey`]
    /// if the id is taken.
    pub fn with_hex_key(self, id: KeyId, hex: &str) -> Result<Self, SealError> {
        let key = key_from_hex(hex)?;
        self.with_key(id, &key)
    }

    /// Adds a key that can open secrets sealed under it.
    ///
    /// # Errors
    /// [`SealError::DuplicateKey`] if the id is taken.
    pub fn with_key(mut self, id: KeyId, key: &[u8; 32]) -> Result<Self, SealError> {
        if self.keys.iter().any(|k| k.id == id) {
            return Err(SealError::DuplicateKey(id));
        }
        self.keys.push(RingKey::new(id, key)?);
        Ok(self)
    }

    /// Adds a key and makes it the primary (a rotation).
    ///
    /// # Errors
    /// [`SealError::DuplicateKey`] if the id is taken.
    pub fn rotate_to(self, id: KeyId, key: &[u8; 32]) -> Result<Self, SealError> {
        let mut ring = self.with_key(id, key)?;
        ring.primary = id;
        Ok(ring)
    }

    /// The key that seals.
    #[must_use]
    pub const fn primary(&self) -> KeyId {
        self.primary
    }

    /// `sealed` sealed again under the primary key, or `None` if it already
    /// is.
    ///
    /// # Errors
    /// As [`Sealer::open`] and [`Sealer::seal`].
    pub fn reseal(
        &self,
        sealed: &SealedSecret,
        context: &SealContext<'_>,
    ) -> Result<Option<SealedSecret>, SealError> {
        if sealed.key == self.primary {
            return Ok(None);
        }
        let secret = self.open(sealed, context)?;
        self.seal(&secret, context).map(Some)
    }

    fn ring_key(&self, id: KeyId) -> Result<&RingKey, SealError> {
        self.keys
            .iter()
            .find(|k| k.id == id)
            .ok_or(SealError::UnknownKey(id))
    }

    fn key(&self, id: KeyId) -> Result<&Aes256Gcm, SealError> {
        self.ring_key(id).map(|k| &k.cipher)
    }
}

fn cipher(key: &[u8; 32]) -> Aes256Gcm {
    let mut key = Key::<Aes256Gcm>::from(*key);
    let cipher = Aes256Gcm::new(&key);
    key.as_mut_slice().zeroize();
    cipher
}

impl Sealer for Keyring {
    fn primary(&self) -> KeyId {
        self.primary
    }

    fn mac(&self, message: &[u8]) -> Result<KeyedMac, SealError> {
        let key = self.ring_key(self.primary)?;
        let mut mac = key.mac.clone();
        hmac::Mac::update(&mut mac, message);
        Ok(KeyedMac {
            key: self.primary,
            mac: hmac::Mac::finalize(mac).into_bytes().into(),
        })
    }

    fn check_mac(&self, mac: &KeyedMac, message: &[u8]) -> Result<(), SealError> {
        let key = self.ring_key(mac.key)?;
        let mut expected = key.mac.clone();
        hmac::Mac::update(&mut expected, message);
        hmac::Mac::verify_slice(expected, &mac.mac).map_err(|_| SealError::Unauthentic)
    }

    fn seal(&self, secret: &Secret, context: &SealContext<'_>) -> Result<SealedSecret, SealError> {
        let cipher = self.key(self.primary)?;
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| SealError::Randomness)?;
        let plain = secret.expose_secret();
        // Room for the tag from the start: the buffer that briefly holds the
        // plaintext is encrypted where it lies, never grown or copied.
        let mut sealed = Vec::with_capacity(plain.len().saturating_add(TAG_LEN));
        sealed.extend_from_slice(plain);
        let aad = context.associated_data(self.primary)?;
        let tag = cipher
            .encrypt_inout_detached(&Nonce::from(nonce), &aad, sealed.as_mut_slice().into())
            .map_err(|_| {
                sealed.zeroize();
                SealError::Cipher
            })?;
        sealed.extend_from_slice(tag.as_slice());
        Ok(SealedSecret {
            key: self.primary,
            nonce,
            sealed,
        })
    }

    fn open(&self, sealed: &SealedSecret, context: &SealContext<'_>) -> Result<Secret, SealError> {
        let cipher = self.key(sealed.key)?;
        let (body, tag) = sealed
            .sealed
            .split_last_chunk::<TAG_LEN>()
            .ok_or(SealError::Malformed)?;
        let tag = Tag::from(*tag);
        // Wiped on drop, whatever happens: on success it holds the secret.
        let mut plain = Zeroizing::new(body.to_vec());
        let aad = context.associated_data(sealed.key)?;
        cipher
            .decrypt_inout_detached(
                &Nonce::from(sealed.nonce),
                &aad,
                plain.as_mut_slice().into(),
                &tag,
            )
            .map_err(|_| SealError::Unauthentic)?;
        Secret::from_bytes(&plain).map_err(|_| SealError::InvalidSecret)
    }
}

/// A [`Sealer`] that "seals" a secret as the SHA-256 digest of its
/// context and bytes, and MACs with the sealer it wraps: what a record's
/// tag in its plaintext form covers. The digest stands in for the secret
/// in the MACed bytes (a changed secret changes the digest), so no copy of
/// the secret is made; nothing it seals can be opened.
#[cfg(feature = "serde")]
pub(crate) struct Digesting<'a, S: ?Sized>(pub(crate) &'a S);

#[cfg(feature = "serde")]
impl<S: Sealer + ?Sized> Sealer for Digesting<'_, S> {
    fn seal(&self, secret: &Secret, context: &SealContext<'_>) -> Result<SealedSecret, SealError> {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        digest.update(context.associated_data(KeyId(0))?);
        digest.update(secret.expose_secret());
        Ok(SealedSecret {
            key: KeyId(0),
            nonce: [0; NONCE_LEN],
            sealed: digest.finalize().to_vec(),
        })
    }

    fn open(&self, _: &SealedSecret, _: &SealContext<'_>) -> Result<Secret, SealError> {
        Err(SealError::Inconsistent(
            "a digest of a secret does not open",
        ))
    }

    fn primary(&self) -> KeyId {
        self.0.primary()
    }

    fn mac(&self, message: &[u8]) -> Result<KeyedMac, SealError> {
        self.0.mac(&plaintext_message(message))
    }

    fn check_mac(&self, mac: &KeyedMac, message: &[u8]) -> Result<(), SealError> {
        self.0.check_mac(mac, &plaintext_message(message))
    }
}

/// A message MACed for a record's plaintext form: its own domain first, so
/// that its tag never passes for a sealed record's.
#[cfg(feature = "serde")]
fn plaintext_message(message: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(PLAINTEXT_DOMAIN.len().saturating_add(message.len()));
    out.extend_from_slice(PLAINTEXT_DOMAIN);
    out.extend_from_slice(message);
    out
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<KeyId> = self.keys.iter().map(|k| k.id).collect();
        f.debug_struct("Keyring")
            .field("primary", &self.primary)
            .field("keys", &ids)
            .finish_non_exhaustive()
    }
}
