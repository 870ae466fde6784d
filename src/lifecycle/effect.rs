//! Applying a decided row: the next record, built from the one the decision
//! was taken on, and the record after a wrong code. Pure: it reads the
//! record, the row, the check's [`Evidence`] and the settings. Effects that
//! rest on a code take its [`Proof`], which only `check.rs` builds, so no
//! such effect can run on an unchecked code.

use std::sync::Arc;

use super::check::{Evidence, Proof};
use super::event::SwapTo;
use super::fingerprint::FingerprintKey;
use super::record::{Enrollment, Retired, SignedInStep, Stage, Token};
use super::rules::{Effect, Transition};
use super::{DriftEstimate, Event, LifecycleConfig, LifecycleError, PendingSwap, TokenRecord};
use crate::{KeyUri, Secret};

// The table's index (`table.rs`) fails the build for a row whose effect
// needs other evidence than its guard proves, or a token its state does not
// hold, or whose target state cannot hold what the effect leaves; these
// are the run-time faces of that check.
const MISMATCH: LifecycleError =
    LifecycleError::Internal("the row's effect and the evidence of its guard disagree");
const NO_TOKEN: LifecycleError =
    LifecycleError::Internal("an effect on the current token for a record without one");
// The drift estimate covers every step a code can match at a time a clock
// can return; a step beyond it is a clock or a profile out of range.
const FAR: LifecycleError =
    LifecycleError::Internal("an accepted code's time beyond any drift estimate");

/// The record after `row` is taken on `before`, and for an event that
/// creates a secret for the customer's app (`Provision`, a `BeginSwap` that
/// generates one) its Key URI.
pub(crate) fn apply(
    before: &TokenRecord,
    row: &Transition,
    evidence: Evidence,
    event: &Event,
    now: u64,
    config: &LifecycleConfig,
) -> Result<(TokenRecord, Option<Box<KeyUri>>), LifecycleError> {
    // Built field by field, not cloned: the stage is replaced below, and
    // cloning it first would count the token's key up and down for nothing.
    let mut next = TokenRecord {
        stage: Stage::Unregistered(None),
        failures: before.failures,
        throttled_until: before.throttled_until,
        version: bump(before)?,
        retired: before.retired.clone(),
    };
    // The current token, for the rows that checked no code of it (those
    // that did take it from their evidence).
    let current = || before.stage.token().cloned().ok_or(NO_TOKEN);
    let pending = before.stage.pending();
    let secret = before.stage.pending_secret().cloned();
    let mut key_uri = None;
    let (token, pending, secret) = match (row.effect, evidence) {
        (Effect::Provision, Evidence::Nothing) => {
            // A new secret gets fresh tries (only a record without a token
            // provisions: there is no token whose lock-out this could lift).
            next.clear_failures();
            let deadline = now.saturating_add(config.enrollment_timeout());
            let enrollment = pending_secret(generated(config)?, deadline, config);
            key_uri = key_uri_for(event, &enrollment, config)?;
            (None, pending, Some(enrollment))
        }
        (Effect::InstallToken, Evidence::New(token, _)) => {
            next.clear_failures();
            (Some(token), None, None)
        }
        // The new token keeps the customer's login-OTP choice.
        (Effect::SwapIn, Evidence::New(mut token, _)) => {
            let old = current()?;
            token.login_otp = old.login_otp;
            retire(&mut next, old)?;
            next.clear_failures();
            (Some(token), None, None)
        }
        (Effect::RecordUse, Evidence::Current(token, proof)) => {
            next.clear_failures();
            let token = after_code(token, proof, config, now)?;
            (Some(token), pending, secret)
        }
        // A pair found far from the estimate: the estimate starts again
        // from the pair's later code.
        (Effect::Resync, Evidence::Current(token, proof)) => {
            next.clear_failures();
            let mut token = after_code(token, proof, config, now)?;
            token.estimate =
                DriftEstimate::from_code(now, proof.step(), token.key.params).ok_or(FAR)?;
            (Some(token), pending, secret)
        }
        (Effect::RecordSignature, Evidence::Signature(mut token, proof, question)) => {
            next.clear_failures();
            let per_step = token.key.signing.is_some_and(|s| !s.has_counter());
            token.signed_in_step = match (per_step, token.last_signature == Some(proof.step())) {
                (false, _) => SignedInStep::default(),
                (true, true) => token.signed_in_step.and(question),
                (true, false) => SignedInStep::only(question),
            };
            token.last_signature = Some(proof.step());
            (Some(token), pending, secret)
        }
        (Effect::ResetDrift, Evidence::Nothing) => {
            let mut token = current()?;
            token.drift = 0;
            token.estimate = DriftEstimate::reset(now, token.key.params).ok_or(FAR)?;
            (Some(token), pending, secret)
        }
        (Effect::StartSwap, Evidence::Current(token, proof)) => {
            let Event::BeginSwap { to, .. } = event else {
                return Err(MISMATCH);
            };
            let deadline = now.saturating_add(config.swap_timeout());
            let new_secret = match to {
                SwapTo::Generated { .. } => generated(config)?,
                SwapTo::Given(secret) => secret.clone(),
            };
            let enrollment = pending_secret(new_secret, deadline, config);
            key_uri = key_uri_for(event, &enrollment, config)?;
            next.clear_failures();
            let swap = PendingSwap {
                started_at: now,
                deadline,
            };
            let token = after_code(token, proof, config, now)?;
            (Some(token), Some(swap), Some(enrollment))
        }
        (Effect::SetLoginOtp, Evidence::Current(token, proof)) => {
            let Event::SetLoginOtp { on, .. } = event else {
                return Err(MISMATCH);
            };
            next.clear_failures();
            let mut token = after_code(token, proof, config, now)?;
            token.login_otp = *on;
            (Some(token), pending, secret)
        }
        (Effect::EndSwap, Evidence::Current(token, proof)) => {
            next.clear_failures();
            (Some(after_code(token, proof, config, now)?), None, None)
        }
        (Effect::EndSwap | Effect::Suspend, Evidence::Nothing) => (Some(current()?), None, None),
        (Effect::Resume, Evidence::Nothing) => {
            next.clear_failures();
            (Some(current()?), None, None)
        }
        // The token retired takes its login-OTP choice along.
        (Effect::RetireToken, Evidence::Current(token, _)) => {
            retire(&mut next, token)?;
            next.clear_failures();
            (None, None, None)
        }
        (Effect::RetireToken, Evidence::Nothing) => {
            retire(&mut next, current()?)?;
            next.clear_failures();
            (None, None, None)
        }
        _ => return Err(MISMATCH),
    };
    // Ruled out at compile time by the table's index, as `MISMATCH`.
    next.stage = Stage::from_parts(row.to, token, pending, secret).ok_or(
        LifecycleError::Internal("the row's target state and the record's data disagree"),
    )?;
    Ok((next, key_uri))
}

/// The Key URI of `enrollment`'s secret under the name the event gives
/// the customer's app (`Provision`, a `BeginSwap` that generates the
/// secret), from the pending profile and the lifecycle's issuer.
fn key_uri_for(
    event: &Event,
    enrollment: &Enrollment,
    config: &LifecycleConfig,
) -> Result<Option<Box<KeyUri>>, LifecycleError> {
    let account = match event {
        Event::Provision { account }
        | Event::BeginSwap {
            to: SwapTo::Generated { account },
            ..
        } => account,
        _ => return Ok(None),
    };
    let mut builder = KeyUri::builder(&enrollment.secret, account).totp(enrollment.params);
    if let Some(issuer) = config.issuer() {
        builder = builder.issuer(issuer);
    }
    if let Some(suite) = enrollment.signing {
        builder = builder.ocra_suite(suite);
    }
    let uri = builder.build().map_err(LifecycleError::Provisioning)?;
    Ok(Some(Box::new(uri)))
}

/// The record after one more wrong code of the current token at `now`:
/// counted (up to the maximum), and the next code held back for the
/// throttle's delay (never moving an earlier hold back).
pub(crate) fn count_failure(
    before: &TokenRecord,
    config: &LifecycleConfig,
    now: u64,
) -> Result<TokenRecord, LifecycleError> {
    let mut next = before.clone();
    next.version = bump(before)?;
    next.failures = before.failures.saturating_add(1).min(config.max_failures());
    let delay = config.throttle().delay_after(next.failures);
    if delay > 0 {
        let until = now.saturating_add(delay);
        next.throttled_until = Some(before.throttled_until.map_or(until, |t| t.max(until)));
    }
    Ok(next)
}

/// A random secret (OS CSPRNG) for the lifecycle's TOTP profile.
fn generated(config: &LifecycleConfig) -> Result<Secret, LifecycleError> {
    Secret::generate(config.totp().algorithm()).map_err(|_| LifecycleError::Randomness)
}

/// `secret`, pending until `deadline` with the lifecycle's profile and
/// signing suite: a provisioned secret, or the new one a swap fixed.
fn pending_secret(secret: Secret, deadline: u64, config: &LifecycleConfig) -> Arc<Enrollment> {
    Arc::new(Enrollment {
        secret,
        deadline,
        params: config.totp(),
        signing: config.signing(),
    })
}

fn bump(record: &TokenRecord) -> Result<u64, LifecycleError> {
    record
        .version
        .checked_add(1)
        .ok_or(LifecycleError::VersionExhausted)
}

/// The current token after its code `proof` was accepted at `now`: the
/// step claimed, the drift re-centred on the code (within the bound), the
/// estimate of the phone's clock narrowed by it.
fn after_code(
    mut token: Token,
    proof: Proof,
    config: &LifecycleConfig,
    now: u64,
) -> Result<Token, LifecycleError> {
    token.last_step = proof.step();
    token.drift = config.bounded_drift(proof.drift());
    token.estimate = token
        .estimate
        .seen(now, proof.step(), token.key.params, config.max_drift_rate())
        .ok_or(FAR)?;
    Ok(token)
}

/// Retires `old` for good: its serial and a keyed fingerprint of its secret
/// are remembered, the secret itself is dropped (and wiped once no
/// snapshot shares it).
fn retire(record: &mut TokenRecord, old: Token) -> Result<(), LifecycleError> {
    let retired: &mut Retired = record.retired.make_mut();
    let key = match &mut retired.key {
        Some(key) => key,
        slot @ None => {
            slot.insert(FingerprintKey::generate().map_err(|_| LifecycleError::Randomness)?)
        }
    };
    retired
        .fingerprints
        .extend(key.fingerprints(&old.key.secret));
    retired.serials.push(old.key.serial.clone());
    Ok(())
}
