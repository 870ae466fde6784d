//! The keyed OCRA function: HMAC over the DataInput, then truncation.

use core::fmt;

use hmac::digest::common::Key;
use hmac::{EagerHash, Hmac, KeyInit, Mac};
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::error::InputError;
use super::input::{DataInput, Input};
use super::response::Response;
use super::suite::Suite;
use crate::{Algorithm, Secret};

/// A keyed HMAC state part-way through a DataInput.
pub(crate) struct MacState(MacKey);

/// An HMAC keyed once with the token's secret.
///
/// Unlike HOTP's codes (`src/key/block_hmac.rs`), the DataInput spans many
/// blocks (up to about 750 bytes), so this uses the `hmac` crate over the
/// `sha1`/`sha2` hashes. A computation clones the keyed state and feeds it
/// the DataInput up to the time step ([`Ocra::before_time`]); each time
/// step of a window then clones that state and feeds the last 8 bytes
/// ([`Ocra::finish`]), so the blocks before the time are hashed once.
#[derive(Clone)]
enum MacKey {
    Sha1(Hmac<sha1::Sha1>),
    Sha256(Hmac<sha2::Sha256>),
    Sha512(Hmac<sha2::Sha512>),
}

// The keyed states are the hash cores' chaining values (two per HMAC) and a
// block buffer; with the `zeroize` features of `sha1`, `sha2` and `hmac`
// each wipes itself in its own `Drop`. `Hmac` does not carry the
// `ZeroizeOnDrop` marker, so the build checks its parts instead.
const _: fn() = || {
    fn wiped_on_drop<T: ZeroizeOnDrop>() {}
    wiped_on_drop::<<sha1::Sha1 as EagerHash>::Core>();
    wiped_on_drop::<<sha2::Sha256 as EagerHash>::Core>();
    wiped_on_drop::<<sha2::Sha512 as EagerHash>::Core>();
};

/// RFC 2104's keying: a key longer than the hash's block is hashed, then
/// the key is zero-padded to a block. Done here (and wiped) rather than by
/// `new_from_slice`, which returns a `Result` that can never be an error for
/// HMAC; a block-sized key is used by `hmac` as it is, so the HMAC is the
/// same.
fn keyed<D: EagerHash>(secret: &[u8]) -> Hmac<D>
where
    Hmac<D>: KeyInit,
{
    let mut block = Key::<Hmac<D>>::default();
    if secret.len() > block.len() {
        let mut digest = D::digest(secret);
        copy_into(&mut block, &digest);
        digest.as_mut_slice().zeroize();
    } else {
        copy_into(&mut block, secret);
    }
    let mac = <Hmac<D> as KeyInit>::new(&block);
    block.as_mut_slice().zeroize();
    mac
}

fn copy_into(to: &mut [u8], from: &[u8]) {
    for (t, f) in to.iter_mut().zip(from) {
        *t = *f;
    }
}

fn fed<M: Mac + Clone>(
    key: &M,
    data: &DataInput<'_>,
    suite_text: &[u8],
    counter: Option<u64>,
) -> M {
    let mut mac = key.clone();
    data.feed_before_time(suite_text, counter, &mut |part: &[u8]| {
        mac.update(part);
    });
    mac
}

fn finish_into<M: Mac + Clone>(state: &M, time_step: Option<u64>, out: &mut [u8; 64]) {
    let mut mac = state.clone();
    if let Some(t) = time_step {
        mac.update(&t.to_be_bytes());
    }
    // `CtOutput` wipes itself on drop.
    copy_into(out, mac.finalize().as_bytes());
}

/// OCRA (RFC 6287) for one token: its secret, keyed once, and its suite.
///
/// The keyed HMAC state is wiped on drop; `Debug` shows the suite only.
///
/// ```
/// use otpguard::ocra::{Input, Ocra, Suite, VerifyWindow};
/// use otpguard::Secret;
///
/// // RFC 6287 Appendix C.1: one-way challenge-response with a counter.
/// let secret = Secret::from_bytes(&b"1234567890".repeat(7)[..64])?;
/// let suite = Suite::parse("OCRA-1:HOTP-SHA512-8:C-QN08")?;
/// let ocra = Ocra::new(&secret, suite);
///
/// // The token's side: counter 3, the bank's challenge "33333333".
/// let response = ocra.generate(&Input::new("33333333").counter(3))?;
/// assert_eq!(response.to_string(), "25341727");
///
/// // The bank's side: it expects counter 1; the token may be ahead.
/// let window = VerifyWindow::counter(5)?;
/// let m = ocra.verify("25341727", &Input::new("33333333").counter(1), window)?;
/// assert_eq!(m.counter(), Some(3)); // next time, expect counter 4
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Ocra {
    key: MacKey,
    suite: Suite,
    text: Box<str>,
}

impl Ocra {
    /// OCRA with `secret` under `suite`.
    #[must_use]
    pub fn new(secret: &Secret, suite: Suite) -> Self {
        let bytes = secret.expose_secret();
        let key = match suite.algorithm() {
            Algorithm::Sha1 => MacKey::Sha1(keyed(bytes)),
            Algorithm::Sha256 => MacKey::Sha256(keyed(bytes)),
            Algorithm::Sha512 => MacKey::Sha512(keyed(bytes)),
        };
        Self {
            key,
            suite,
            text: suite.to_string().into_boxed_str(),
        }
    }

    /// The suite.
    #[must_use]
    pub const fn suite(&self) -> &Suite {
        &self.suite
    }

    /// The response to `input`.
    ///
    /// # Errors
    /// An [`InputError`] if `input` does not fit the suite: a question too
    /// long, empty or of the wrong format; a counter, PIN, session or time
    /// missing or given to a suite without it; session information or a PIN
    /// hash of the wrong length.
    ///
    /// ```
    /// use otpguard::ocra::{Field, Input, InputError, Ocra, Pin, Suite};
    /// use otpguard::Secret;
    ///
    /// // RFC 6287 Appendix C.1: a PIN, no counter.
    /// let secret = Secret::from_bytes(&b"1234567890".repeat(4)[..32])?;
    /// let ocra = Ocra::new(&secret, Suite::parse("OCRA-1:HOTP-SHA256-8:QN08-PSHA1")?);
    /// let pin = Pin::new(b"1234")?;
    /// let r = ocra.generate(&Input::new("11111111").pin(&pin))?;
    /// assert_eq!(r.to_string(), "01501458");
    ///
    /// assert_eq!(
    ///     ocra.generate(&Input::new("11111111")).err(),
    ///     Some(InputError::Missing(Field::Pin))
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn generate(&self, input: &Input<'_>) -> Result<Response, InputError> {
        let data = DataInput::new(self.suite, input)?;
        Ok(self.response(&data, data.counter, data.time_step))
    }

    /// The response for `data` with `counter` and `time_step` in place of
    /// its own.
    pub(crate) fn response(
        &self,
        data: &DataInput<'_>,
        counter: Option<u64>,
        time_step: Option<u64>,
    ) -> Response {
        self.finish(&self.before_time(data, counter), time_step)
    }

    /// The keyed state after the DataInput up to the time step, with
    /// `counter` in place of the input's own (wiped on drop).
    pub(crate) fn before_time(&self, data: &DataInput<'_>, counter: Option<u64>) -> MacState {
        let text = self.text.as_bytes();
        MacState(match &self.key {
            MacKey::Sha1(k) => MacKey::Sha1(fed(k, data, text, counter)),
            MacKey::Sha256(k) => MacKey::Sha256(fed(k, data, text, counter)),
            MacKey::Sha512(k) => MacKey::Sha512(fed(k, data, text, counter)),
        })
    }

    /// The response from `state` ([`Ocra::before_time`]) and `time_step`.
    pub(crate) fn finish(&self, state: &MacState, time_step: Option<u64>) -> Response {
        let mut mac = [0u8; 64];
        match &state.0 {
            MacKey::Sha1(s) => finish_into(s, time_step, &mut mac),
            MacKey::Sha256(s) => finish_into(s, time_step, &mut mac),
            MacKey::Sha512(s) => finish_into(s, time_step, &mut mac),
        }
        let response = Response::from_mac(&mac, &self.suite);
        mac.zeroize();
        response
    }
}

impl fmt::Debug for Ocra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ocra")
            .field("suite", &self.text)
            .finish_non_exhaustive()
    }
}
