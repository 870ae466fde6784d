//! Arbitrary sequences of lifecycle events, by any actor, at any times, with
//! right, stale and garbage codes, against one token record. After every
//! event the invariants of the lifecycle are checked:
//!
//! - an accepted event is a row of the transition table, moves the record to
//!   that row's state and raises its version by exactly one;
//! - a refused event changes nothing, except a wrong code of the current
//!   token, which is counted (and at the maximum suspends the token);
//! - only `Active` and `Swapping` accept a transaction or login code, and no
//!   step of a token is ever accepted twice, nor after a later one;
//! - a retired serial is never registered again, and stays retired;
//! - the record is coherent: a token exactly in the states that hold one, a
//!   pending swap exactly while swapping, failures within the maximum;
//! - every event is audited, and no audit record contains a secret.

#![no_main]

use std::collections::HashMap;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use otpguard::lifecycle::{
    lookup, Actor, Event, Lifecycle, LifecycleConfig, LifecycleError, RecordSummary, ReissueReason,
    State, SuspendReason, TokenRecord, TokenSerial, VecSink,
};
use otpguard::replay::MemoryGuard;
use otpguard::{Clock, FixedClock, Secret, Totp};

const TOKENS: usize = 4;
const START: u64 = 1_700_000_000;

#[derive(Debug, Arbitrary)]
enum CodeInput {
    /// The code token `token` shows `drift` periods from now.
    Token { token: u8, drift: i8 },
    /// Anything at all.
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum Step {
    Wait(u16),
    Register { token: u8, code: CodeInput },
    SetLoginOtp(bool),
    BeginSwap(CodeInput),
    CompleteSwap { token: u8, code: CodeInput },
    CancelSwap,
    SwapTimeout,
    Stop(CodeInput),
    Suspend(u8),
    Resume,
    Reissue(u8),
    VerifyTransaction(CodeInput),
    VerifyLogin(CodeInput),
    Login(Option<CodeInput>),
}

#[derive(Debug, Arbitrary)]
struct Input {
    max_failures: u8,
    swap_timeout: u16,
    steps: Vec<(u8, Step)>,
}

struct Token {
    serial: TokenSerial,
    secret: Secret,
    totp: Totp,
    traces: [String; 2],
}

fuzz_target!(|x: Input| {
    let config = LifecycleConfig::builder()
        .max_failures(1 + u32::from(x.max_failures % 10))
        .swap_timeout(1 + u64::from(x.swap_timeout))
        .build()
        .expect("parameters in range");
    let tokens: Vec<Token> = (0..TOKENS)
        .map(|i| {
            let bytes: Vec<u8> = (0..20u8)
                .map(|k| {
                    k.wrapping_mul(37)
                        .wrapping_add((i as u8).wrapping_mul(101).wrapping_add(7))
                })
                .collect();
            let secret = Secret::from_bytes(&bytes).expect("20 bytes");
            let totp = Totp::builder(&secret).build().expect("default parameters");
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            let traces = [secret.to_base32().to_string(), hex];
            let serial = TokenSerial::new(&format!("tok-{i}")).expect("valid serial");
            Token {
                serial,
                secret,
                totp,
                traces,
            }
        })
        .collect();
    let clock = FixedClock::new(START);
    let sink = VecSink::default();
    let lc = Lifecycle::new(config, MemoryGuard::default(), &clock, &sink);
    let mut record = TokenRecord::new();
    let mut last_step: HashMap<String, u64> = HashMap::new();

    for (actor, step) in x.steps.iter().take(64) {
        let actor = match actor % 3 {
            0 => Actor::Customer,
            1 => Actor::Operator,
            _ => Actor::System,
        };
        let now = clock.now();
        let code = |c: &CodeInput| -> String {
            match c {
                CodeInput::Token { token, drift } => {
                    let t = &tokens[usize::from(*token) % TOKENS];
                    let at = now.saturating_add_signed(i64::from(*drift) * 30);
                    t.totp
                        .generate(at)
                        .map(|c| c.to_string())
                        .unwrap_or_default()
                }
                CodeInput::Raw(s) => s.clone(),
            }
        };
        let token = |i: &u8| &tokens[usize::from(*i) % TOKENS];
        let before = record.summary();
        let owned: String;
        let (event, claimed_serial) = match step {
            Step::Wait(s) => {
                clock.advance(u64::from(*s));
                continue;
            }
            Step::Register { token: i, code: c } => {
                owned = code(c);
                let t = token(i);
                (
                    Event::Register {
                        serial: t.serial.clone(),
                        secret: t.secret.clone(),
                        code: &owned,
                    },
                    Some(t.serial.clone()),
                )
            }
            Step::SetLoginOtp(on) => (Event::SetLoginOtp(*on), None),
            Step::BeginSwap(c) => {
                owned = code(c);
                (Event::BeginSwap { code: &owned }, before.serial.clone())
            }
            Step::CompleteSwap { token: i, code: c } => {
                owned = code(c);
                let t = token(i);
                (
                    Event::CompleteSwap {
                        serial: t.serial.clone(),
                        secret: t.secret.clone(),
                        code: &owned,
                    },
                    Some(t.serial.clone()),
                )
            }
            Step::CancelSwap => (Event::CancelSwap, None),
            Step::SwapTimeout => (Event::SwapTimeout, None),
            Step::Stop(c) => {
                owned = code(c);
                (Event::Stop { code: &owned }, before.serial.clone())
            }
            Step::Suspend(r) => {
                let reason = [
                    SuspendReason::LostDevice,
                    SuspendReason::TooManyFailures,
                    SuspendReason::Operator,
                ][usize::from(*r % 3)];
                (Event::Suspend { reason }, None)
            }
            Step::Resume => (Event::Resume, None),
            Step::Reissue(r) => {
                let reason = [
                    ReissueReason::LostDevice,
                    ReissueReason::AppRemoved,
                    ReissueReason::DeviceUnusable,
                ][usize::from(*r % 3)];
                (Event::Reissue { reason }, None)
            }
            Step::VerifyTransaction(c) => {
                owned = code(c);
                (
                    Event::VerifyTransaction { code: &owned },
                    before.serial.clone(),
                )
            }
            Step::VerifyLogin(c) => {
                owned = code(c);
                (Event::VerifyLogin { code: &owned }, before.serial.clone())
            }
            Step::Login(c) => {
                let submitted = c.as_ref().map(|c| code(c));
                let result = lc.login(&mut record, submitted.as_deref());
                let after = record.summary();
                match &result {
                    Ok(otpguard::lifecycle::LoginCheck::NotRequired) => assert_eq!(after, before),
                    Ok(otpguard::lifecycle::LoginCheck::Verified(accepted)) => {
                        assert!(before.login_otp && before.state.accepts_codes());
                        assert_eq!(after.version, before.version + 1);
                        let serial = before
                            .serial
                            .as_ref()
                            .expect("a code for no token")
                            .as_str()
                            .to_owned();
                        if let Some(last) = last_step.get(&serial) {
                            assert!(accepted.step() > *last);
                        }
                        last_step.insert(serial, accepted.step());
                    }
                    Ok(_) => {}
                    Err(e) => refused(&before, &after, e),
                }
                check(&before, &after, lc.config().max_failures(), &sink, &tokens);
                continue;
            }
        };
        let kind = event.kind();
        let new_serial = event.new_serial().cloned();
        let result = lc.apply(&mut record, actor, event);
        let after = record.summary();
        match &result {
            Ok(applied) => {
                let row = lookup(before.state, kind, actor).expect("accepted without a row");
                assert_eq!((applied.from, applied.to), (before.state, after.state));
                assert_eq!(row.to, after.state);
                assert_eq!(after.version, before.version + 1);
                assert_eq!(applied.version, after.version);
                if kind.is_verification() {
                    assert!(before.state.accepts_codes());
                }
                if let Some(serial) = &new_serial {
                    assert!(
                        !before.retired_serials.contains(serial),
                        "retired serial registered again"
                    );
                }
                if let Some(accepted) = &applied.accepted {
                    let serial = claimed_serial
                        .as_ref()
                        .expect("a code for no token")
                        .as_str()
                        .to_owned();
                    if let Some(last) = last_step.get(&serial) {
                        assert!(
                            accepted.step() > *last,
                            "step {} accepted after {last}",
                            accepted.step()
                        );
                    }
                    last_step.insert(serial, accepted.step());
                }
            }
            Err(e) => refused(&before, &after, e),
        }
        check(&before, &after, lc.config().max_failures(), &sink, &tokens);
    }
});

/// A refused event changed nothing, except a counted wrong code.
fn refused(before: &RecordSummary, after: &RecordSummary, e: &LifecycleError) {
    match e {
        LifecycleError::WrongCode {
            failures,
            locked_out,
            ..
        } => {
            assert!(before.state.accepts_codes());
            assert_eq!(*failures, before.failures + 1);
            if *locked_out {
                assert_eq!(
                    after.state,
                    State::Suspended(SuspendReason::TooManyFailures)
                );
                assert_eq!(after.version, before.version + 2);
            } else {
                let mut expected = before.clone();
                expected.failures += 1;
                expected.version += 1;
                assert_eq!(*after, expected);
            }
        }
        _ => assert_eq!(after, before, "refused with {e:?} but the record changed"),
    }
}

fn check(
    before: &RecordSummary,
    after: &RecordSummary,
    max: u32,
    sink: &VecSink,
    tokens: &[Token],
) {
    assert!(after.version >= before.version);
    assert!(after.failures <= max);
    assert_eq!(after.state.has_token(), after.serial.is_some());
    assert_eq!(after.pending_swap.is_some(), after.state == State::Swapping);
    if let Some(serial) = &after.serial {
        assert!(!after.retired_serials.contains(serial));
    }
    assert!(before
        .retired_serials
        .iter()
        .all(|s| after.retired_serials.contains(s)));
    let audited = sink.take();
    assert!(!audited.is_empty(), "an event left no audit record");
    for a in &audited {
        let text = format!("{a} {a:?}").to_ascii_lowercase();
        for t in tokens {
            for trace in &t.traces {
                assert!(
                    !text.contains(&trace.to_ascii_lowercase()),
                    "audit record contains a secret"
                );
            }
        }
    }
}
