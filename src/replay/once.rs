//! One-call verification: match the code and claim its step in one call, so
//! the only success value is an [`Accepted`].

use std::time::Duration;

use super::{Accepted, AsyncReplayGuard, ReplayGuard, ReplayKey};
use crate::{Hotp, HotpVerifyError, Totp, VerifyError, Window};

impl Totp {
    /// Verifies `input` at `unix_seconds` (see [`Totp::verify`]) and claims
    /// the matched step for `token` on `guard` (see
    /// [`Match::claim`](crate::Match::claim)).
    ///
    /// # Errors
    /// [`VerifyError::Check`] with the error of [`Totp::verify`], then
    /// [`VerifyError::Claim`] with the error of
    /// [`Match::claim`](crate::Match::claim):
    /// [`ClaimError::Replayed`](crate::ClaimError::Replayed) if the step is
    /// not newer than the last accepted for `token`
    /// ([`VerifyError::is_replay`]), or
    /// [`ClaimError::Store`](crate::ClaimError::Store) if the guard failed.
    ///
    /// ```
    /// use otpguard::{ClaimError, Secret, Totp, VerifyError, Window};
    /// use otpguard::replay::{MemoryGuard, ReplayKey};
    ///
    /// let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let totp = Totp::builder(&secret).digits(8).build()?;
    /// let guard = MemoryGuard::default();
    /// let accepted = totp.verify_once("94287082", 59, Window::default(), &guard, ReplayKey::new("token-1"))?;
    /// assert_eq!(accepted.step(), 1);
    /// let again = totp.verify_once("94287082", 60, Window::default(), &guard, ReplayKey::new("token-1"));
    /// assert!(matches!(
    ///     again,
    ///     Err(VerifyError::Claim(ClaimError::Replayed { step: 1, last_accepted: 1 }))
    /// ));
    /// // A replay is its own failure, not a wrong code.
    /// assert!(again.as_ref().is_err_and(|e| e.is_replay() && !e.is_wrong_code()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_once<G: ReplayGuard + ?Sized>(
        &self,
        input: &str,
        unix_seconds: u64,
        window: Window,
        guard: &G,
        token: ReplayKey<'_>,
    ) -> Result<Accepted, VerifyError> {
        Ok(self
            .verify(input, unix_seconds, window)?
            .claim(guard, token)?)
    }

    /// The async twin of [`Totp::verify_once`], on an [`AsyncReplayGuard`].
    /// The code is checked before the first `.await`; only the claim waits.
    ///
    /// # Errors
    /// As [`Totp::verify_once`].
    ///
    /// ```
    /// use otpguard::{Secret, Totp, Window};
    /// use otpguard::replay::{MemoryGuard, ReplayKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let totp = Totp::builder(&secret).digits(8).build()?;
    /// let guard = MemoryGuard::default();
    /// let accepted = totp
    ///     .verify_once_async("94287082", 59, Window::default(), &guard, ReplayKey::new("token-1"))
    ///     .await?;
    /// assert_eq!(accepted.step(), 1);
    /// # Ok(()) }
    /// ```
    pub async fn verify_once_async<G: AsyncReplayGuard + ?Sized>(
        &self,
        input: &str,
        unix_seconds: u64,
        window: Window,
        guard: &G,
        token: ReplayKey<'_>,
    ) -> Result<Accepted, VerifyError> {
        Ok(self
            .verify(input, unix_seconds, window)?
            .claim_async(guard, token)
            .await?)
    }

    /// How long a replay record of this TOTP must be kept when codes are
    /// verified with `window`: `(behind + ahead + 1)` periods, after which no
    /// code of the recorded step or older can verify, plus one period of
    /// margin for clock differences between hosts. Use it as the expiry of a
    /// shared store (see [`redis`](crate::replay::redis) and
    /// [`sql`](crate::replay::sql)). Saturates at `u64::MAX` seconds.
    ///
    /// ```
    /// use otpguard::{Secret, Totp, Window};
    /// use std::time::Duration;
    ///
    /// let secret = Secret::from_bytes(&[7; 20])?;
    /// let totp = Totp::builder(&secret).build()?;
    /// assert_eq!(totp.replay_retention(Window::default()), Duration::from_secs(4 * 30));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn replay_retention(&self, window: Window) -> Duration {
        let periods = u64::from(window.behind())
            .saturating_add(u64::from(window.ahead()))
            .saturating_add(2);
        Duration::from_secs(periods.saturating_mul(self.period()))
    }
}

impl Hotp {
    /// Verifies `input` around `counter` (see [`Hotp::verify`]) and claims
    /// the matched counter for `token` on `guard`. HOTP counters do not
    /// expire with time, so `guard` must keep its records (for instance
    /// [`MemoryGuard::unbounded`](crate::replay::MemoryGuard::unbounded)).
    ///
    /// # Errors
    /// [`HotpVerifyError::Check`] with the error of [`Hotp::verify`] (never
    /// a time error), then [`HotpVerifyError::Claim`] as for
    /// [`Totp::verify_once`].
    ///
    /// ```
    /// use otpguard::{Algorithm, Hotp, Secret, Window};
    /// use otpguard::replay::{MemoryGuard, ReplayKey};
    ///
    /// let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let hotp = Hotp::new(&secret, Algorithm::Sha1, 6)?;
    /// let guard = MemoryGuard::unbounded();
    /// let window = Window::new(0, 10)?;
    /// assert_eq!(hotp.verify_once("520489", 3, window, &guard, ReplayKey::new("t"))?.step(), 9);
    /// let again = hotp.verify_once("520489", 3, window, &guard, ReplayKey::new("t"));
    /// assert!(again.is_err_and(|e| e.is_replay()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_once<G: ReplayGuard + ?Sized>(
        &self,
        input: &str,
        counter: u64,
        window: Window,
        guard: &G,
        token: ReplayKey<'_>,
    ) -> Result<Accepted, HotpVerifyError> {
        Ok(self.verify(input, counter, window)?.claim(guard, token)?)
    }

    /// The async twin of [`Hotp::verify_once`].
    ///
    /// # Errors
    /// As [`Hotp::verify_once`].
    ///
    /// ```
    /// use otpguard::{Algorithm, Hotp, Secret, Window};
    /// use otpguard::replay::{MemoryGuard, ReplayKey};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let secret = Secret::from_bytes(b"12345678901234567890")?;
    /// let hotp = Hotp::new(&secret, Algorithm::Sha1, 6)?;
    /// let guard = MemoryGuard::unbounded();
    /// let accepted = hotp.verify_once_async("755224", 0, Window::EXACT, &guard, ReplayKey::new("t")).await?;
    /// assert_eq!(accepted.step(), 0);
    /// # Ok(()) }
    /// ```
    pub async fn verify_once_async<G: AsyncReplayGuard + ?Sized>(
        &self,
        input: &str,
        counter: u64,
        window: Window,
        guard: &G,
        token: ReplayKey<'_>,
    ) -> Result<Accepted, HotpVerifyError> {
        Ok(self
            .verify(input, counter, window)?
            .claim_async(guard, token)
            .await?)
    }
}
