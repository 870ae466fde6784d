//! Checking the code a decided row needs: a code of the current token, a
//! pair of them, a transaction signature, or the first code of a new token.
//! What a check establishes is [`Evidence`]; the [`Proof`] inside it is
//! built here and nowhere else, so no effect can run on an unchecked code.
//! Reads the record, changes nothing.

use std::sync::Arc;

use super::answer::Claimed;
use super::decide::Check;
use super::error::CodeError;
use super::event::EnteredCode;
use super::record::{SignedInStep, Token, TokenKey};
use super::{DriftEstimate, LifecycleConfig, LifecycleError, TokenId, TokenRecord, TokenSerial};
use crate::ocra::{Input, Suite, VerifyWindow};
use crate::{CheckError, Match, PairError, Secret, TotpParams, Window};

/// A code that verified and whose step is newer than any accepted for its
/// token. Its fields are private to this module: only a check builds one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Proof {
    token: TokenId,
    claimed: Claimed,
    drift: i64,
}

impl Proof {
    /// The token whose code it is.
    pub(crate) const fn token(&self) -> TokenId {
        self.token
    }

    /// What single use claims for the token.
    pub(crate) const fn claimed(&self) -> Claimed {
        self.claimed
    }

    /// The claimed step or counter, as the record keeps it.
    pub(crate) const fn step(&self) -> u64 {
        self.claimed.value()
    }

    /// Steps between the code and the server's clock.
    pub(crate) const fn drift(&self) -> i64 {
        self.drift
    }
}

/// What the guard established, handed to the effect: the token whose code
/// was checked, as it was when checked, with the proof.
pub(crate) enum Evidence {
    /// The row needed no code.
    Nothing,
    /// A code (or pair) of the current token.
    Current(Token, Proof),
    /// A new token, bound by its first code.
    New(Token, Proof),
    /// A transaction signature of the current token, with the SHA-256
    /// digest of the question it answered.
    Signature(Token, Proof, [u8; 32]),
}

impl Evidence {
    /// The proof of the code checked, if the row checked one.
    pub(crate) const fn proof(&self) -> Option<Proof> {
        match self {
            Self::Current(_, p) | Self::New(_, p) | Self::Signature(_, p, _) => Some(*p),
            Self::Nothing => None,
        }
    }
}

/// Why a checked code was not accepted, or the row was refused before or
/// after its check.
pub(crate) enum Refusal {
    /// A wrong code or response: counted.
    WrongCode(CodeError),
    /// A code for a step already accepted (or older): audited, not counted.
    Replayed { step: u64, last_accepted: u64 },
    /// Any other refusal.
    Refused(LifecycleError),
}

impl From<LifecycleError> for Refusal {
    fn from(e: LifecycleError) -> Self {
        Self::Refused(e)
    }
}

/// Runs the check the decision asked for.
pub(crate) fn run(
    check: Check<'_>,
    record: &TokenRecord,
    now: u64,
    config: &LifecycleConfig,
) -> Result<Evidence, Refusal> {
    match check {
        Check::Nothing => Ok(Evidence::Nothing),
        Check::Current(code) => {
            let token = current_token(record)?;
            let proof = current(token, code, now, config)?;
            Ok(Evidence::Current(token.clone(), proof))
        }
        Check::Pair(first, second) => {
            let token = current_token(record)?;
            let proof = pair(token, first, second, now, config)?;
            Ok(Evidence::Current(token.clone(), proof))
        }
        Check::Signature {
            question,
            digest,
            response,
            window,
        } => {
            let token = current_token(record)?;
            let proof = signature(token, &question, &digest, response, window, now, config)?;
            Ok(Evidence::Signature(token.clone(), proof, digest))
        }
        Check::New {
            serial,
            secret,
            code,
            params,
            signing,
        } => new_token(serial, secret, code, params, signing, now, config)
            .map(|(token, proof)| Evidence::New(token, proof)),
    }
}

/// Checks a code of the record's current token: a match over the steps
/// the token's drift estimate allows (RFC 6238 §6: the window follows the
/// phone's clock, within the drift bound), then single use against the
/// step the record last accepted.
fn current(
    token: &Token,
    code: &EnteredCode,
    now: u64,
    config: &LifecycleConfig,
) -> Result<Proof, Refusal> {
    let totp = token.key.totp();
    // An input too long to keep is malformed, as any input of the wrong
    // length is; before the token's T0 nothing is verifiable at all.
    let Some(input) = code.as_input() else {
        return Err(match totp.step_at(now) {
            Ok(_) => Refusal::WrongCode(malformed(token.key.params).into()),
            Err(e) => unverifiable(CheckError::from(e)),
        });
    };
    let found = match token.estimate.steps(now, token.key.params, config) {
        Some(steps) => totp.verify_steps(input, now, steps),
        // A time before T0 is unverifiable; otherwise the drift bound
        // leaves no step where the estimate puts the phone, and no code
        // can match.
        None => match totp.step_at(now) {
            Ok(_) => Err(CheckError::Mismatch),
            Err(e) => Err(e.into()),
        },
    };
    // The step last accepted can lie outside the window: a code matched at
    // the window's edge while the drift was held at its bound, and the
    // window moved on. Re-sending that code is still a replay, not a wrong
    // code to count (one more code computed, on a miss only).
    if matches!(found, Err(CheckError::Mismatch)) && totp.is_code_of_step(input, token.last_step) {
        return Err(Refusal::Replayed {
            step: token.last_step,
            last_accepted: token.last_step,
        });
    }
    newer_than_accepted(token, found)
}

/// Checks a `Resync` pair of the record's current token: found next to each
/// other within the resynchronisation window (constant time), the later
/// step newer than any accepted and within the drift bound.
fn pair(
    token: &Token,
    first: &EnteredCode,
    second: &EnteredCode,
    now: u64,
    config: &LifecycleConfig,
) -> Result<Proof, Refusal> {
    let (Some(a), Some(b)) = (first.as_input(), second.as_input()) else {
        return Err(Refusal::WrongCode(malformed(token.key.params).into()));
    };
    let found = match token
        .key
        .totp()
        .verify_pair(a, b, now, config.resync_window())
    {
        Ok(m) => Ok(m),
        Err(PairError::Check(e)) => Err(e),
        // The settings cap the resynchronisation window at the radius
        // `verify_pair` accepts (`LifecycleConfig::RESYNC_WINDOW_LIMIT`).
        Err(_) => {
            return Err(Refusal::Refused(LifecycleError::Internal(
                "a resynchronisation window past the cap the settings enforce",
            )))
        }
    };
    let proof = newer_than_accepted(token, found)?;
    let max = config.max_drift();
    if proof.drift.unsigned_abs() > u64::from(max) {
        return Err(Refusal::Refused(LifecycleError::DriftBeyondBound {
            drift: proof.drift,
            max,
        }));
    }
    Ok(proof)
}

/// A match of `token`'s code as a proof if its step is newer than any
/// accepted for the token; otherwise a replay; a failed match as wrong or
/// unverifiable.
fn newer_than_accepted(token: &Token, found: Result<Match, CheckError>) -> Result<Proof, Refusal> {
    match found {
        Ok(m) if m.step() > token.last_step => Ok(Proof {
            token: token.key.id,
            claimed: Claimed::TotpStep(m.step()),
            drift: m.offset(),
        }),
        Ok(m) => Err(Refusal::Replayed {
            step: m.step(),
            last_accepted: token.last_step,
        }),
        Err(source) if source.is_wrong_code() => Err(Refusal::WrongCode(source.into())),
        Err(source) => Err(Refusal::Refused(LifecycleError::Unverifiable {
            source: source.into(),
        })),
    }
}

/// Checks the current token's OCRA response to a transaction's question, in
/// constant time over `window`: the counters from the last accepted one on
/// (so that the response just accepted is recognised as a replay, not
/// counted as wrong), and the validity's time steps. The signature's
/// counter (or, for a suite without one, time step) must be newer than the
/// last accepted. The time window is centred where the phone's clock is:
/// the token's drift (in its TOTP steps, within the bound), as seconds.
fn signature(
    token: &Token,
    question: &str,
    digest: &[u8; 32],
    response: &EnteredCode,
    window: VerifyWindow,
    now: u64,
    config: &LifecycleConfig,
) -> Result<Proof, Refusal> {
    // The decision asks for a signature check only for a token bound with
    // a suite that has a time step (`signature_window` has none otherwise),
    // and `Ocra::verify` reports the inputs its suite has.
    const NO_MARK: LifecycleError =
        LifecycleError::Internal("a signature match without its counter or time step");
    // Periods and time steps are bounded by their profiles, and a window
    // rebuilt from one that was valid is valid.
    const FAR: LifecycleError =
        LifecycleError::Internal("a signature's time step beyond any offset from now");
    let ocra = token.key.signing().ok_or(LifecycleError::NoSigningSuite)?;
    let suite = ocra.suite();
    let step_seconds = suite.time_step().ok_or(NO_MARK)?.seconds();
    let period = i64::try_from(token.key.params.period()).map_err(|_| FAR)?;
    let shift = config.bounded_drift(token.drift).saturating_mul(period);
    let last = token.last_signature;
    let centre = now.saturating_add_signed(shift);
    let first_counter = last.unwrap_or(0);
    let input_at = |time: u64| {
        let input = Input::new(question).time(time);
        if suite.has_counter() {
            input.counter(first_counter)
        } else {
            input
        }
    };
    // One more counter when the search starts at the last accepted: the
    // settings cap the look-ahead one below the verifier's cap.
    let window = if suite.has_counter() {
        let extra = u32::from(last.is_some());
        VerifyWindow::new(
            window.counter_ahead().saturating_add(extra),
            window.time_window(),
        )
        .map_err(|e| unverifiable(crate::ocra::ResponseError::from(e)))?
    } else {
        window
    };
    let Some(text) = response.as_input() else {
        return Err(Refusal::WrongCode(
            crate::ocra::ResponseError::malformed(suite).into(),
        ));
    };
    let m = match ocra.verify(text, &input_at(centre), window) {
        Ok(m) => m,
        Err(source) if source.is_wrong_code() => {
            // A miss is checked once more against as many time steps again
            // before the validity: a response the token computed for this
            // transaction, only too late, is expired (refused, not
            // counted), not wrong.
            let behind = window.time_window().behind();
            let earlier = u64::from(behind)
                .saturating_add(1)
                .saturating_mul(step_seconds);
            let before = Window::new(behind, 0)
                .ok()
                .and_then(|w| VerifyWindow::new(window.counter_ahead(), w).ok())
                .ok_or(FAR)?;
            let late = input_at(centre.saturating_sub(earlier));
            if let Ok(expired) = ocra.verify(text, &late, before) {
                let step = expired.time_step().ok_or(NO_MARK)?;
                return Err(Refusal::Refused(LifecycleError::SignatureExpired { step }));
            }
            return Err(Refusal::WrongCode(source.into()));
        }
        Err(source) => return Err(unverifiable(source)),
    };
    let step = m.time_step().ok_or(NO_MARK)?;
    let mark = if suite.has_counter() {
        m.counter().ok_or(NO_MARK)?
    } else {
        step
    };
    // The drift reported is from the server's own step, not the centre.
    let server_step = now.checked_div(step_seconds).ok_or(FAR)?;
    let drift = i128::from(step)
        .checked_sub(i128::from(server_step))
        .and_then(|d| i64::try_from(d).ok())
        .ok_or(FAR)?;
    let proof = Proof {
        token: token.key.id,
        claimed: if suite.has_counter() {
            Claimed::OcraCounter(mark)
        } else {
            Claimed::OcraTimeStep(mark)
        },
        drift,
    };
    // Single use: a newer counter (or time step); for a suite without a
    // counter, also the same time step for a question not yet answered in
    // it.
    match last {
        Some(last_accepted) if mark == last_accepted && !suite.has_counter() => {
            let signed = &token.signed_in_step;
            if signed.contains(digest) {
                Err(Refusal::Replayed {
                    step: mark,
                    last_accepted,
                })
            } else if signed.digests().len() >= SignedInStep::MAX {
                Err(Refusal::Refused(LifecycleError::TooManySignaturesInStep {
                    step: mark,
                    max: SignedInStep::MAX,
                }))
            } else {
                Ok(proof)
            }
        }
        Some(last_accepted) if mark <= last_accepted => Err(Refusal::Replayed {
            step: mark,
            last_accepted,
        }),
        _ => Ok(proof),
    }
}

/// Checks the first code of a new token (centred on the server's clock)
/// and binds it under a fresh id.
fn new_token(
    serial: &TokenSerial,
    secret: &Secret,
    code: &EnteredCode,
    params: TotpParams,
    signing: Option<Suite>,
    now: u64,
    config: &LifecycleConfig,
) -> Result<(Token, Proof), Refusal> {
    let id = TokenId::generate().map_err(|_| LifecycleError::Randomness)?;
    let key = TokenKey::new(id, serial.clone(), secret.clone(), params, signing);
    let found = code
        .as_input()
        .ok_or(malformed(params))
        .and_then(|input| key.totp().verify_shifted(input, now, 0, config.window()));
    let m = match found {
        Ok(m) => m,
        Err(source) if source.is_wrong_code() => {
            return Err(Refusal::WrongCode(CodeError::NewToken(source)))
        }
        Err(source) => return Err(unverifiable(source)),
    };
    // The code matched at a step of `params` at `now`, so the estimate can
    // be started from it; a step so far from `now` that no offset reaches
    // it cannot have matched.
    let estimate = DriftEstimate::from_code(now, m.step(), params).ok_or(
        LifecycleError::Internal("a first code's time beyond any drift estimate"),
    )?;
    let proof = Proof {
        token: id,
        claimed: Claimed::TotpStep(m.step()),
        drift: m.offset(),
    };
    let token = Token {
        key: Arc::new(key),
        last_step: m.step(),
        drift: config.bounded_drift(m.offset()),
        estimate,
        last_signature: None,
        signed_in_step: SignedInStep::default(),
        login_otp: false,
    };
    Ok((token, proof))
}

/// The record's current token, whose code a row checks. Every row whose
/// guard checks the current token's code starts in a state whose stage
/// holds a token (`tests/lifecycle_table.rs` walks the table for it).
fn current_token(record: &TokenRecord) -> Result<&Token, LifecycleError> {
    record.stage.token().ok_or(LifecycleError::Internal(
        "a check of the current token's code on a record without a token",
    ))
}

/// A code that cannot be one of `params`' (too long to keep).
fn malformed(params: TotpParams) -> CheckError {
    CheckError::Malformed {
        expected: params.digits(),
    }
}

/// A check the inputs or settings made impossible: nothing was compared.
fn unverifiable(source: impl Into<CodeError>) -> Refusal {
    Refusal::Refused(LifecycleError::Unverifiable {
        source: source.into(),
    })
}
