//! A [`SealedRecord`] as one byte string (format 2), the layout the type's
//! documentation tables: written by [`SealedRecord::to_bytes`], read back,
//! with every length bounded and every slice checked, by
//! [`SealedRecord::from_bytes`].

use core::num::NonZeroUsize;

use super::super::record::SignedInStep;
use super::{SealedEnrollment, SealedRecord, SealedToken};
use crate::lifecycle::{
    store::DriftEstimate, store::OffsetSeen, store::PendingSwap, store::TokenId, State,
    SuspendReason, TokenSerial,
};
use crate::ocra::Suite;
use crate::seal::{KeyedMac, SealedSecret};
use crate::{Algorithm, StoreError, TotpParams};

/// The first bytes of every encoded record.
pub(super) const MAGIC: [u8; 4] = *b"OGSR";
/// The layout written by this version of the library: format 1 and the
/// record's tag after it.
pub(super) const FORMAT: u8 = 2;
/// The layout before records carried a tag: read (as a record without a
/// tag, which does not open), never written.
const FORMAT_UNTAGGED: u8 = 1;
/// The most bytes a sealed secret's stored form is read with: its header
/// (17 bytes), the longest secret (256) and its tag (16) fit with room to
/// spare; [`SealedSecret::from_bytes`] checks the exact bounds.
const SEALED_SECRET_MAX: usize = 512;
/// The bytes of a digest or a fingerprint.
const DIGEST: NonZeroUsize = NonZeroUsize::MIN.saturating_add(31);
/// The fewest bytes a serial takes: its length and one character.
const SHORTEST_SERIAL: NonZeroUsize = NonZeroUsize::MIN.saturating_add(8);

/// Why bytes are not a sealed record.
#[derive(Debug)]
enum Malformed {
    /// The bytes do not begin with [`MAGIC`].
    Magic,
    /// A format this library does not read.
    Format(u8),
    /// A field that does not decode, named.
    Field(&'static str),
}

impl Malformed {
    fn into_store_error(self) -> StoreError {
        let why = match self {
            Self::Magic => "not a sealed record (no OGSR magic)".to_owned(),
            Self::Format(format) => format!("unknown sealed record format {format}"),
            Self::Field(what) => format!("sealed record: {what}"),
        };
        StoreError::corrupt(why)
    }
}

type Read<T> = Result<T, Malformed>;

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// The bytes of a record being written.
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, value: u8) {
        self.0.push(value);
    }

    fn u32(&mut self, value: u32) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }

    fn u64(&mut self, value: u64) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }

    fn i64(&mut self, value: i64) {
        self.0.extend_from_slice(&value.to_be_bytes());
    }

    fn flag(&mut self, value: bool) {
        self.u8(u8::from(value));
    }

    /// A length or a count, as a `u64`.
    fn len(&mut self, len: usize) {
        // Lossless: `usize` is at most 64 bits wide on every target.
        self.u64(len as u64);
    }

    /// Bytes after their length.
    fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.0.extend_from_slice(bytes);
    }

    /// A presence byte, then the value if there is one.
    fn option<T>(&mut self, value: Option<T>, write: impl FnOnce(&mut Self, T)) {
        self.flag(value.is_some());
        if let Some(value) = value {
            write(self, value);
        }
    }

    fn profile(&mut self, params: TotpParams) {
        self.u8(algorithm_tag(params.algorithm()));
        self.u32(params.digits());
        self.u64(params.period());
        self.u64(params.t0());
    }

    fn suite(&mut self, suite: Suite) {
        self.bytes(suite.to_string().as_bytes());
    }

    fn sealed(&mut self, sealed: &SealedSecret) {
        self.bytes(&sealed.to_bytes());
    }

    fn seen(&mut self, seen: OffsetSeen) {
        self.u64(seen.at());
        self.i64(seen.low());
        self.i64(seen.high());
    }

    fn token(&mut self, t: &SealedToken) {
        self.0.extend_from_slice(&t.id.to_bytes());
        self.bytes(t.serial.as_str().as_bytes());
        self.profile(t.totp);
        self.sealed(&t.secret);
        self.u64(t.last_step);
        self.i64(t.drift);
        self.option(t.signing, Self::suite);
        self.option(t.last_signature, Self::u64);
        self.len(t.signed_in_last_step.len());
        for digest in &t.signed_in_last_step {
            self.0.extend_from_slice(digest);
        }
        self.option(t.drift_estimate, |w, estimate| {
            w.seen(estimate.anchor());
            w.seen(estimate.last());
        });
    }

    fn enrollment(&mut self, e: &SealedEnrollment) {
        self.sealed(&e.secret);
        self.u64(e.deadline);
        self.profile(e.totp);
        self.option(e.signing, Self::suite);
    }
}

/// The bytes a record's tag covers: its bytes with no tag.
pub(super) fn write_untagged(r: &SealedRecord) -> Vec<u8> {
    write_with(r, None)
}

/// The record's bytes, in format [`FORMAT`].
pub(super) fn write(r: &SealedRecord) -> Vec<u8> {
    write_with(r, r.tag.as_ref())
}

/// The record's fields, then `tag`.
fn write_with(r: &SealedRecord, tag: Option<&KeyedMac>) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(256));
    w.0.extend_from_slice(&MAGIC);
    w.u8(FORMAT);
    w.u8(state_tag(r.state));
    w.u64(r.version);
    w.u32(r.failures);
    w.option(r.throttled_until, Writer::u64);
    w.flag(r.login_otp);
    w.option(r.pending_swap, |w, swap| {
        w.u64(swap.started_at);
        w.u64(swap.deadline);
    });
    w.option(r.token.as_ref(), Writer::token);
    w.option(r.enrollment.as_ref(), Writer::enrollment);
    w.len(r.retired_serials.len());
    for serial in &r.retired_serials {
        w.bytes(serial.as_str().as_bytes());
    }
    w.len(r.retired_fingerprints.len());
    for fingerprint in &r.retired_fingerprints {
        w.0.extend_from_slice(fingerprint);
    }
    w.option(r.fingerprint_key.as_ref(), Writer::sealed);
    w.option(tag, |w, tag| w.0.extend_from_slice(&tag.to_bytes()));
    w.0
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// What is left to read.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize, what: &'static str) -> Read<&'a [u8]> {
        let (taken, rest) = self.0.split_at_checked(len).ok_or(Malformed::Field(what))?;
        self.0 = rest;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Read<[u8; N]> {
        let (taken, rest) = self
            .0
            .split_first_chunk::<N>()
            .ok_or(Malformed::Field(what))?;
        self.0 = rest;
        Ok(*taken)
    }

    fn u8(&mut self, what: &'static str) -> Read<u8> {
        self.array::<1>(what).map(|[b]| b)
    }

    fn u32(&mut self, what: &'static str) -> Read<u32> {
        self.array(what).map(u32::from_be_bytes)
    }

    fn u64(&mut self, what: &'static str) -> Read<u64> {
        self.array(what).map(u64::from_be_bytes)
    }

    fn i64(&mut self, what: &'static str) -> Read<i64> {
        self.array(what).map(i64::from_be_bytes)
    }

    /// A byte that is 0 or 1.
    fn flag(&mut self, what: &'static str) -> Read<bool> {
        match self.u8(what)? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(Malformed::Field(what)),
        }
    }

    /// A presence byte, then the value if it says there is one.
    fn option<T>(
        &mut self,
        what: &'static str,
        read: impl FnOnce(&mut Self) -> Read<T>,
    ) -> Read<Option<T>> {
        if self.flag(what)? {
            read(self).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A length or count of at most `max`, and at most what is left to
    /// read of items of `item` bytes each: nothing is allocated for more
    /// than the input holds.
    fn len(&mut self, max: usize, item: NonZeroUsize, what: &'static str) -> Read<usize> {
        let len = self.u64(what)?;
        let len = usize::try_from(len).map_err(|_| Malformed::Field(what))?;
        if len > max || len > self.0.len() / item {
            return Err(Malformed::Field(what));
        }
        Ok(len)
    }

    /// Bytes after their length, at most `max` of them.
    fn bytes(&mut self, max: usize, what: &'static str) -> Read<&'a [u8]> {
        let len = self.len(max, NonZeroUsize::MIN, what)?;
        self.take(len, what)
    }

    fn text(&mut self, max: usize, what: &'static str) -> Read<&'a str> {
        core::str::from_utf8(self.bytes(max, what)?).map_err(|_| Malformed::Field(what))
    }

    fn serial(&mut self, what: &'static str) -> Read<TokenSerial> {
        TokenSerial::new(self.text(TokenSerial::MAX_LEN, what)?).map_err(|_| Malformed::Field(what))
    }

    fn profile(&mut self, what: &'static str) -> Read<TotpParams> {
        let algorithm = algorithm_of(self.u8(what)?).ok_or(Malformed::Field(what))?;
        let digits = self.u32(what)?;
        let period = self.u64(what)?;
        let t0 = self.u64(what)?;
        TotpParams::new(algorithm, digits, period, t0).map_err(|_| Malformed::Field(what))
    }

    /// A suite, in its canonical text only (the text `Display` writes), so
    /// that reading and writing again gives the same bytes.
    fn suite(&mut self, what: &'static str) -> Read<Suite> {
        let text = self.text(Suite::MAX_LEN, what)?;
        let suite = Suite::parse(text).map_err(|_| Malformed::Field(what))?;
        if suite.to_string() != text {
            return Err(Malformed::Field(what));
        }
        Ok(suite)
    }

    fn sealed(&mut self, what: &'static str) -> Read<SealedSecret> {
        SealedSecret::from_bytes(self.bytes(SEALED_SECRET_MAX, what)?)
            .map_err(|_| Malformed::Field(what))
    }

    fn seen(&mut self, what: &'static str) -> Read<OffsetSeen> {
        let at = self.u64(what)?;
        let low = self.i64(what)?;
        let high = self.i64(what)?;
        OffsetSeen::new(at, low, high).ok_or(Malformed::Field(what))
    }

    fn token(&mut self) -> Read<SealedToken> {
        let id = TokenId::from_bytes(self.array("token id")?);
        let serial = self.serial("token serial")?;
        let totp = self.profile("token profile")?;
        let secret = self.sealed("token secret")?;
        let last_step = self.u64("token last step")?;
        let drift = self.i64("token drift")?;
        let signing = self.option("token signing suite", |r| r.suite("token signing suite"))?;
        let last_signature =
            self.option("token last signature", |r| r.u64("token last signature"))?;
        let what = "token questions signed in the last step";
        let count = self.len(SignedInStep::MAX, DIGEST, what)?;
        let signed_in_last_step = (0..count)
            .map(|_| self.array::<32>(what))
            .collect::<Read<Vec<_>>>()?;
        let drift_estimate = self.option("token drift estimate", |r| {
            let what = "token drift estimate";
            let anchor = r.seen(what)?;
            let last = r.seen(what)?;
            DriftEstimate::new(anchor, last).ok_or(Malformed::Field(what))
        })?;
        Ok(SealedToken {
            id,
            serial,
            totp,
            secret,
            last_step,
            drift,
            signing,
            last_signature,
            signed_in_last_step,
            drift_estimate,
        })
    }

    fn enrollment(&mut self) -> Read<SealedEnrollment> {
        Ok(SealedEnrollment {
            secret: self.sealed("enrollment secret")?,
            deadline: self.u64("enrollment deadline")?,
            totp: self.profile("enrollment profile")?,
            signing: self.option("enrollment signing suite", |r| {
                r.suite("enrollment signing suite")
            })?,
        })
    }

    fn record(&mut self) -> Read<SealedRecord> {
        if self.array::<4>("magic").ok() != Some(MAGIC) {
            return Err(Malformed::Magic);
        }
        let format = self.u8("format")?;
        if format != FORMAT && format != FORMAT_UNTAGGED {
            return Err(Malformed::Format(format));
        }
        let state = state_of(self.u8("state")?).ok_or(Malformed::Field("state"))?;
        let version = self.u64("version")?;
        let failures = self.u32("failures")?;
        let throttled_until = self.option("throttled until", |r| r.u64("throttled until"))?;
        let login_otp = self.flag("login OTP")?;
        let pending_swap = self.option("pending swap", |r| {
            Ok(PendingSwap {
                started_at: r.u64("pending swap")?,
                deadline: r.u64("pending swap")?,
            })
        })?;
        let token = self.option("token", Self::token)?;
        let enrollment = self.option("enrollment", Self::enrollment)?;
        let count = self.len(usize::MAX, SHORTEST_SERIAL, "retired serials")?;
        let retired_serials = (0..count)
            .map(|_| self.serial("retired serials"))
            .collect::<Read<Vec<_>>>()?;
        let count = self.len(usize::MAX, DIGEST, "retired fingerprints")?;
        let retired_fingerprints = (0..count)
            .map(|_| self.array::<32>("retired fingerprints"))
            .collect::<Read<Vec<_>>>()?;
        let fingerprint_key = self.option("fingerprint key", |r| r.sealed("fingerprint key"))?;
        let tag = match format {
            FORMAT => self.option("record tag", |r| {
                let bytes = r.array::<{ KeyedMac::LEN }>("record tag")?;
                KeyedMac::from_bytes(&bytes).map_err(|_| Malformed::Field("record tag"))
            })?,
            _ => None,
        };
        if !self.0.is_empty() {
            return Err(Malformed::Field("bytes after the last field"));
        }
        Ok(SealedRecord {
            state,
            version,
            token,
            pending_swap,
            enrollment,
            failures,
            throttled_until,
            login_otp,
            retired_serials,
            retired_fingerprints,
            fingerprint_key,
            tag,
        })
    }
}

/// The record `bytes` hold, in a format this library reads.
pub(super) fn read(bytes: &[u8]) -> Result<SealedRecord, StoreError> {
    Reader(bytes).record().map_err(Malformed::into_store_error)
}

// ---------------------------------------------------------------------------
// Tags
// ---------------------------------------------------------------------------

const fn state_tag(state: State) -> u8 {
    match state {
        State::Unregistered => 0,
        State::Active => 1,
        State::Swapping => 2,
        State::Suspended(SuspendReason::LostDevice) => 3,
        State::Suspended(SuspendReason::TooManyFailures) => 4,
        State::Suspended(SuspendReason::Operator) => 5,
        State::Reissued => 6,
    }
}

const fn state_of(tag: u8) -> Option<State> {
    Some(match tag {
        0 => State::Unregistered,
        1 => State::Active,
        2 => State::Swapping,
        3 => State::Suspended(SuspendReason::LostDevice),
        4 => State::Suspended(SuspendReason::TooManyFailures),
        5 => State::Suspended(SuspendReason::Operator),
        6 => State::Reissued,
        _ => return None,
    })
}

const fn algorithm_tag(algorithm: Algorithm) -> u8 {
    match algorithm {
        Algorithm::Sha1 => 1,
        Algorithm::Sha256 => 2,
        Algorithm::Sha512 => 3,
    }
}

const fn algorithm_of(tag: u8) -> Option<Algorithm> {
    match tag {
        1 => Some(Algorithm::Sha1),
        2 => Some(Algorithm::Sha256),
        3 => Some(Algorithm::Sha512),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::seal::KeyId;

    /// Suites in their canonical text, with and without a counter or a time
    /// step (the format keeps any suite; whether the lifecycle can sign
    /// with it is checked when the record is opened).
    const SUITES: [&str; 5] = [
        "OCRA-1:HOTP-SHA1-6:QN08",
        "OCRA-1:HOTP-SHA256-8:C-QN08-T1M",
        "OCRA-1:HOTP-SHA512-8:QH64-T30S",
        "OCRA-1:HOTP-SHA1-6:C-QH64-T1M",
        "OCRA-1:HOTP-SHA1-4:QA10-PSHA256-S512-T48H",
    ];

    fn sealed_secret() -> impl Strategy<Value = SealedSecret> {
        (any::<u32>(), any::<[u8; 12]>(), vec(any::<u8>(), 32..=272)).prop_map(
            |(key, nonce, body)| {
                let mut bytes = vec![1];
                bytes.extend_from_slice(&key.to_be_bytes());
                bytes.extend_from_slice(&nonce);
                bytes.extend_from_slice(&body);
                SealedSecret::from_bytes(&bytes).unwrap()
            },
        )
    }

    fn serial() -> impl Strategy<Value = TokenSerial> {
        "[A-Za-z0-9._-]{1,64}".prop_map(|s| TokenSerial::new(&s).unwrap())
    }

    fn profile() -> impl Strategy<Value = TotpParams> {
        (1u8..=3, 6u32..=8, 1u64.., any::<u64>()).prop_map(|(a, digits, period, t0)| {
            TotpParams::new(algorithm_of(a).unwrap(), digits, period, t0).unwrap()
        })
    }

    fn suite() -> impl Strategy<Value = Suite> {
        proptest::sample::select(SUITES.as_slice()).prop_map(|s| Suite::parse(s).unwrap())
    }

    fn seen() -> impl Strategy<Value = (u64, i64, i64)> {
        (any::<u64>(), any::<i64>(), any::<i64>()).prop_map(|(at, a, b)| (at, a.min(b), a.max(b)))
    }

    fn estimate() -> impl Strategy<Value = DriftEstimate> {
        (seen(), seen()).prop_map(|(a, b)| {
            let (first, second) = if a.0 <= b.0 { (a, b) } else { (b, a) };
            let seen = |(at, low, high)| OffsetSeen::new(at, low, high).unwrap();
            DriftEstimate::new(seen(first), seen(second)).unwrap()
        })
    }

    prop_compose! {
        fn token()(
            id in any::<[u8; 16]>(),
            serial in serial(),
            totp in profile(),
            secret in sealed_secret(),
            last_step in any::<u64>(),
            drift in any::<i64>(),
            signing in proptest::option::of(suite()),
            last_signature in proptest::option::of(any::<u64>()),
            signed_in_last_step in vec(any::<[u8; 32]>(), 0..=16),
            drift_estimate in proptest::option::of(estimate()),
        ) -> SealedToken {
            SealedToken {
                id: TokenId::from_bytes(id),
                serial,
                totp,
                secret,
                last_step,
                drift,
                signing,
                last_signature,
                signed_in_last_step,
                drift_estimate,
            }
        }
    }

    prop_compose! {
        fn enrollment()(
            secret in sealed_secret(),
            deadline in any::<u64>(),
            totp in profile(),
            signing in proptest::option::of(suite()),
        ) -> SealedEnrollment {
            SealedEnrollment { secret, deadline, totp, signing }
        }
    }

    prop_compose! {
        fn record()(
            state in proptest::sample::select(State::ALL.as_slice()),
            version in any::<u64>(),
            token in proptest::option::of(token()),
            pending_swap in proptest::option::of((any::<u64>(), any::<u64>())),
            enrollment in proptest::option::of(enrollment()),
            failures in any::<u32>(),
            throttled_until in proptest::option::of(any::<u64>()),
            login_otp in any::<bool>(),
            retired_serials in vec(serial(), 0..4),
            retired_fingerprints in vec(any::<[u8; 32]>(), 0..4),
            fingerprint_key in proptest::option::of(sealed_secret()),
            tag in proptest::option::of((any::<u32>(), any::<[u8; 32]>())),
        ) -> SealedRecord {
            SealedRecord {
                state,
                version,
                token,
                pending_swap: pending_swap.map(|(started_at, deadline)| PendingSwap { started_at, deadline }),
                enrollment,
                failures,
                throttled_until,
                login_otp,
                retired_serials,
                retired_fingerprints,
                fingerprint_key,
                tag: tag.map(|(key, mac)| KeyedMac::new(KeyId(key), mac)),
            }
        }
    }

    proptest! {
        /// Any record, written and read back, is the same record; the bytes
        /// read back write the same bytes.
        #[test]
        fn records_round_trip(r in record()) {
            let bytes = write(&r);
            let back = read(&bytes).unwrap();
            prop_assert_eq!(&back, &r);
            prop_assert_eq!(write(&back), bytes);
        }

        /// Every proper prefix of a record's bytes is refused, and so is
        /// any byte after them.
        #[test]
        fn truncated_or_extended_bytes_are_refused(r in record(), extra in any::<u8>()) {
            let bytes = write(&r);
            for len in 0..bytes.len() {
                let refused = read(&bytes[..len]).unwrap_err();
                prop_assert!(refused.is_corrupt());
            }
            let mut longer = bytes.clone();
            longer.push(extra);
            prop_assert!(read(&longer).unwrap_err().is_corrupt());
        }

        /// A record's bytes with one byte changed: refused, or read as a
        /// record that writes exactly those bytes. Never a panic.
        #[test]
        fn changed_bytes_are_refused_or_read_exactly(
            r in record(),
            at in any::<prop::sample::Index>(),
            value in any::<u8>(),
        ) {
            let mut bytes = write(&r);
            let i = at.index(bytes.len());
            bytes[i] = value;
            if let Ok(back) = read(&bytes) {
                prop_assert_eq!(write(&back), bytes);
            }
        }

        /// Arbitrary bytes, with or without the header: refused or read
        /// exactly, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(tail in vec(any::<u8>(), 0..512), header in any::<bool>()) {
            let mut bytes = if header { b"OGSR\x02".to_vec() } else { Vec::new() };
            bytes.extend_from_slice(&tail);
            if let Ok(back) = read(&bytes) {
                prop_assert_eq!(write(&back), bytes);
            }
        }
    }

    /// Lengths far beyond the input are refused before anything is
    /// allocated for them.
    #[test]
    fn huge_lengths_are_refused() {
        let empty = SealedRecord {
            state: State::Reissued,
            version: 3,
            token: None,
            pending_swap: None,
            enrollment: None,
            failures: 0,
            throttled_until: None,
            login_otp: false,
            retired_serials: Vec::new(),
            retired_fingerprints: Vec::new(),
            fingerprint_key: None,
            tag: None,
        };
        let bytes = write(&empty);
        // The two counts and the key's and the tag's presence bytes close
        // the record.
        let counts = bytes.len() - 18;
        for (count, what) in [(0, "retired serials"), (8, "retired fingerprints")] {
            for huge in [u64::MAX, 1 << 40, 1 << 20] {
                let mut forged = bytes.clone();
                forged[counts + count..counts + count + 8].copy_from_slice(&huge.to_be_bytes());
                let e = read(&forged).unwrap_err().to_string();
                assert!(e.contains(what), "{e}");
            }
        }
    }

    #[test]
    fn other_magic_and_formats_are_named() {
        let mut bytes = write(&SealedRecord {
            state: State::Unregistered,
            version: 0,
            token: None,
            pending_swap: None,
            enrollment: None,
            failures: 0,
            throttled_until: None,
            login_otp: false,
            retired_serials: Vec::new(),
            retired_fingerprints: Vec::new(),
            fingerprint_key: None,
            tag: None,
        });
        assert_eq!(
            bytes.len(),
            4 + 1 + 1 + 8 + 4 + 1 + 1 + 1 + 1 + 1 + 8 + 8 + 1 + 1
        );
        // Format 1 ends before the tag and reads as a record without one.
        let mut untagged = bytes.clone();
        untagged[4] = 1;
        untagged.pop();
        assert_eq!(read(&untagged).unwrap().tag, None);
        bytes[4] = 3;
        let e = read(&bytes).unwrap_err();
        assert!(
            e.is_corrupt() && e.to_string().contains("unknown sealed record format 3"),
            "{e}"
        );
        bytes[0] = b'X';
        assert!(read(&bytes).unwrap_err().to_string().contains("magic"));
        assert!(read(&[]).unwrap_err().is_corrupt());
    }
}
