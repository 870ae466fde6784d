//! Arbitrary bytes and values thrown at every public constructor, parser and
//! verification function: none panics, and each failure is the typed error
//! its documentation names, for exactly the inputs it names.
#![allow(clippy::unwrap_used, clippy::panic, clippy::arithmetic_side_effects)]

use otpguard::lifecycle::{
    Actor, Event, Lifecycle, LifecycleConfig, ReissueReason, State, SuspendReason, TokenRecord,
    TokenSerial, VecSink,
};
use otpguard::replay::{ClaimOutcome, MemoryGuard};
use otpguard::{
    Algorithm, Clock, FixedClock, Hotp, KeyUri, OtpKind, ParamError, Secret, SecretError,
    TimeError, Totp, UriError, VerifyError, Window,
};
use proptest::prelude::*;

/// Cases per property for the cheap properties (parsing, parameters).
const CHEAP: u32 = 10_000;
/// Cases per property for those that key an HMAC and scan a window.
const COSTLY: u32 = 2_000;

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![
        Just(Algorithm::Sha1),
        Just(Algorithm::Sha256),
        Just(Algorithm::Sha512)
    ]
}

/// Mostly lengths around the accepted range, sometimes far outside it.
fn secret_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..=32),
        prop::collection::vec(any::<u8>(), 16..=256),
        prop::collection::vec(any::<u8>(), 250..=400),
    ]
}

fn valid_secret() -> impl Strategy<Value = Secret> {
    prop::collection::vec(any::<u8>(), Secret::MIN_LEN..=Secret::MAX_LEN)
        .prop_map(|b| Secret::from_bytes(&b).unwrap())
}

fn digits() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=10, any::<u32>()]
}

fn window_side() -> impl Strategy<Value = u32> {
    prop_oneof![0u32..=12, any::<u32>()]
}

fn time() -> impl Strategy<Value = u64> {
    prop_oneof![
        any::<u64>(),
        Just(0),
        Just(u64::MAX),
        (u64::MAX - 1_000)..=u64::MAX,
        0u64..=1_000,
        1_700_000_000u64..=1_800_000_000,
    ]
}

/// Submitted codes: arbitrary Unicode, digit strings of every nearby length,
/// and ASCII noise.
fn submitted() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[0-9]{0,10}",
        "[0-9 \\-+.a-f]{5,9}",
        "[٠-٩０-９]{6,8}",
    ]
}

fn well_formed(input: &str, digits: u32) -> bool {
    input.len() == digits as usize && input.bytes().all(|b| b.is_ascii_digit())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CHEAP))]

    #[test]
    fn secret_from_bytes(bytes in secret_bytes()) {
        match Secret::from_bytes(&bytes) {
            Ok(s) => prop_assert_eq!(s.expose_secret(), &bytes[..]),
            Err(SecretError::TooShort { len, min }) => {
                prop_assert_eq!((len, min), (bytes.len(), Secret::MIN_LEN));
                prop_assert!(len < min);
            }
            Err(SecretError::TooLong { len, max }) => {
                prop_assert_eq!((len, max), (bytes.len(), Secret::MAX_LEN));
                prop_assert!(len > max);
            }
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn secret_from_base32(text in prop_oneof![
        any::<String>(),
        "[A-Za-z2-7]{0,420}",
        "[A-Za-z0-9=\\- \t\n]{0,80}",
        "[A-Z2-7]{24,40}={0,8}",
    ]) {
        match Secret::from_base32(&text) {
            Ok(s) => {
                prop_assert!((Secret::MIN_LEN..=Secret::MAX_LEN).contains(&s.len()));
                let again = Secret::from_base32(&s.to_base32()).unwrap();
                prop_assert_eq!(again.expose_secret(), s.expose_secret());
            }
            Err(SecretError::InvalidBase32 { reason }) => prop_assert!(!reason.is_empty()),
            Err(SecretError::TooShort { len, .. }) => prop_assert!(len < Secret::MIN_LEN),
            Err(SecretError::TooLong { len, .. }) => prop_assert!(len > Secret::MAX_LEN),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn secret_generate_len(len in prop_oneof![0usize..=300, any::<usize>()]) {
        match Secret::generate_len(len) {
            Ok(s) => prop_assert_eq!(s.len(), len),
            Err(SecretError::TooShort { len: l, .. }) => prop_assert!(l == len && len < Secret::MIN_LEN),
            Err(SecretError::TooLong { len: l, .. }) => prop_assert!(l == len && len > Secret::MAX_LEN),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn window_new(behind in window_side(), ahead in window_side()) {
        match Window::new(behind, ahead) {
            Ok(w) => prop_assert_eq!((w.behind(), w.ahead()), (behind, ahead)),
            Err(ParamError::WindowTooLarge { behind: b, ahead: a, max }) => {
                prop_assert_eq!((b, a, max), (behind, ahead, Window::MAX));
                prop_assert!(behind > Window::MAX || ahead > Window::MAX);
            }
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn algorithm_from_uri_name(name in prop_oneof![any::<String>(), "(?i)-?s-?h-?a-?(1|256|512|384)-?"]) {
        if let Some(alg) = Algorithm::from_uri_name(&name) {
            let squashed: String = name.chars().filter(|&c| c != '-').collect();
            prop_assert!(squashed.eq_ignore_ascii_case(alg.uri_name()));
        }
    }

    #[test]
    fn memory_guard_claim(
        token in any::<String>(),
        first in any::<u64>(),
        second in any::<u64>(),
        horizon in prop_oneof![Just(None), proptest::option::of(any::<u64>())],
    ) {
        let guard = horizon.map_or_else(MemoryGuard::default, MemoryGuard::with_horizon);
        prop_assert_eq!(guard.claim(&token, first).unwrap(), ClaimOutcome::Fresh);
        let expected = if second > first {
            ClaimOutcome::Fresh
        } else {
            ClaimOutcome::Replayed { last_accepted: first }
        };
        prop_assert_eq!(guard.claim(&token, second).unwrap(), expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(COSTLY))]

    #[test]
    fn hotp_new_generate_verify(
        secret in valid_secret(),
        alg in algorithm(),
        digits in digits(),
        counter in time(),
        input in submitted(),
        behind in 0u32..=Window::MAX,
        ahead in 0u32..=Window::MAX,
    ) {
        let hotp = match Hotp::new(&secret, alg, digits) {
            Ok(h) => h,
            Err(ParamError::Digits(d)) => {
                prop_assert!(d == digits && !(6..=8).contains(&digits));
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("unexpected {e:?}"))),
        };
        let code = hotp.generate(counter);
        prop_assert_eq!(code.to_string().len(), digits as usize);
        let window = Window::new(behind, ahead).unwrap();
        match hotp.verify(&input, counter, window) {
            Ok(m) => {
                prop_assert!(well_formed(&input, digits));
                prop_assert_eq!(hotp.generate(m.step()).to_string(), input.as_str());
            }
            Err(VerifyError::Malformed { expected }) => {
                prop_assert!(expected == digits && !well_formed(&input, digits));
            }
            Err(VerifyError::Mismatch) => prop_assert!(well_formed(&input, digits)),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
        prop_assert!(hotp.verify(&code.to_string(), counter, window).is_ok());
        // The one-call form agrees with verify, then refuses the same code again.
        let guard = MemoryGuard::default();
        let once = hotp.verify_once(&input, counter, window, &guard, "t");
        prop_assert_eq!(once.is_ok(), hotp.verify(&input, counter, window).is_ok());
        if once.is_ok() {
            let again = hotp.verify_once(&input, counter, window, &guard, "t");
            let replayed = matches!(again, Err(VerifyError::Replayed { .. }));
            prop_assert!(replayed, "a second claim was not a replay");
        }
    }

    #[test]
    fn totp_build_generate_verify(
        secret in valid_secret(),
        alg in algorithm(),
        digits in digits(),
        period in prop_oneof![Just(0u64), 1u64..=120, any::<u64>()],
        t0 in time(),
        now in time(),
        input in submitted(),
        behind in 0u32..=Window::MAX,
        ahead in 0u32..=Window::MAX,
    ) {
        let built = Totp::builder(&secret)
            .algorithm(alg)
            .digits(digits)
            .period(period)
            .t0(t0)
            .build();
        let totp = match built {
            Ok(t) => t,
            Err(ParamError::Digits(d)) => {
                prop_assert!(d == digits && !(6..=8).contains(&digits));
                return Ok(());
            }
            Err(ParamError::ZeroPeriod) => {
                prop_assert!(period == 0 && (6..=8).contains(&digits));
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(format!("unexpected {e:?}"))),
        };
        let window = Window::new(behind, ahead).unwrap();
        let before_t0 = TimeError::BeforeT0 { time: now, t0 };
        match totp.step_at(now) {
            Ok(step) => {
                prop_assert!(now >= t0);
                prop_assert_eq!(step, (now - t0) / period);
                let start = totp.step_start(step);
                prop_assert!(start.is_some_and(|s| s <= now));
            }
            Err(e) => prop_assert!(now < t0 && e == before_t0.clone()),
        }
        let _ = totp.step_start(now);
        match totp.generate(now) {
            Ok(code) => {
                prop_assert_eq!(code.to_string().len(), digits as usize);
                prop_assert!(totp.verify(&code.to_string(), now, window).is_ok());
            }
            Err(e) => prop_assert!(now < t0 && e == before_t0.clone()),
        }
        match totp.verify(&input, now, window) {
            Ok(m) => {
                prop_assert!(well_formed(&input, digits) && now >= t0);
                prop_assert_eq!(totp.generate_step(m.step()).to_string(), input.as_str());
            }
            Err(VerifyError::Malformed { expected }) => {
                prop_assert!(expected == digits && !well_formed(&input, digits));
            }
            Err(VerifyError::Time(e)) => prop_assert_eq!(e, before_t0),
            Err(VerifyError::Mismatch) => prop_assert!(well_formed(&input, digits) && now >= t0),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
        let guard = MemoryGuard::default();
        let once = totp.verify_once(&input, now, window, &guard, "t");
        prop_assert_eq!(once.is_ok(), totp.verify(&input, now, window).is_ok());
        if once.is_ok() {
            let again = totp.verify_once(&input, now, window, &guard, "t");
            let replayed = matches!(again, Err(VerifyError::Replayed { .. }));
            prop_assert!(replayed, "a second claim was not a replay");
        }
    }
}

/// `otpauth://` text: arbitrary, and shaped like a Key URI with arbitrary
/// parts.
fn uri_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        (
            "(?i)(otpauth://)?(totp|hotp|x)?/?",
            "[A-Za-z0-9%:@ .\\-]{0,20}",
            prop::collection::vec(
                (
                    "(?i)secret|issuer|algorithm|digits|period|counter|image|x",
                    "[A-Za-z0-9%=+ .\\-]{0,40}",
                ),
                0..6,
            ),
        )
            .prop_map(|(head, label, params)| {
                let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                format!("{head}{label}?{}", query.join("&"))
            }),
    ]
}

/// Arbitrary lifecycle events with arbitrary codes; two fixed token
/// secrets, so that some codes are right.
#[derive(Debug, Clone)]
enum Step {
    Wait(u64),
    Apply(u8, u8, u8, String),
    Login(Option<String>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        any::<u64>().prop_map(Step::Wait),
        (0u64..=120).prop_map(Step::Wait),
        (any::<u8>(), any::<u8>(), any::<u8>(), submitted())
            .prop_map(|(actor, event, token, code)| Step::Apply(actor, event, token, code)),
        (any::<u8>(), any::<u8>(), any::<u8>(), Just(String::new()))
            .prop_map(|(actor, event, token, code)| Step::Apply(actor, event, token, code)),
        proptest::option::of(submitted()).prop_map(Step::Login),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CHEAP))]

    #[test]
    fn key_uri_parse(text in uri_text()) {
        if let Ok(uri) = KeyUri::parse(&text) {
            let again = KeyUri::parse(&uri.to_uri()).unwrap();
            prop_assert_eq!(again.secret().expose_secret(), uri.secret().expose_secret());
            prop_assert_eq!((again.account(), again.issuer()), (uri.account(), uri.issuer()));
            prop_assert_eq!((again.kind(), again.algorithm(), again.digits()), (uri.kind(), uri.algorithm(), uri.digits()));
        }
    }

    #[test]
    fn key_uri_build(
        account in any::<String>(),
        issuer in proptest::option::of(any::<String>()),
        hotp in any::<bool>(),
        number in prop_oneof![Just(0u64), any::<u64>()],
        digits in digits(),
        alg in algorithm(),
    ) {
        let secret = Secret::from_bytes(&[0x5a; 20]).unwrap();
        let kind = if hotp { OtpKind::Hotp { counter: number } } else { OtpKind::Totp { period: number } };
        let mut builder = KeyUri::builder(&secret, &account).kind(kind).algorithm(alg).digits(digits);
        if let Some(issuer) = &issuer {
            builder = builder.issuer(issuer);
        }
        match builder.build() {
            Ok(uri) => {
                let again = KeyUri::parse(&uri.to_uri()).unwrap();
                prop_assert_eq!(again.account(), account.as_str());
                prop_assert_eq!(again.issuer(), issuer.as_deref());
                prop_assert_eq!(again.kind(), kind);
                prop_assert!(uri.to_totp().is_ok() != uri.to_hotp().is_ok());
            }
            Err(UriError::Name(_)) => {}
            Err(UriError::Param(ParamError::Digits(d))) => prop_assert!(d == digits && !(6..=8).contains(&digits)),
            Err(UriError::Param(ParamError::ZeroPeriod)) => prop_assert!(!hotp && number == 0),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn token_serial_new(text in prop_oneof![any::<String>(), "[A-Za-z0-9._-]{0,80}"]) {
        if let Ok(serial) = TokenSerial::new(&text) {
            prop_assert_eq!(serial.as_str(), text.as_str());
        }
    }

    #[test]
    fn lifecycle_config_build(
        max in any::<u32>(),
        timeout in any::<u64>(),
        digits in digits(),
        period in prop_oneof![Just(0u64), any::<u64>()],
        behind in 0u32..=Window::MAX,
    ) {
        let built = LifecycleConfig::builder()
            .max_failures(max)
            .swap_timeout(timeout)
            .digits(digits)
            .period(period)
            .window(Window::new(behind, 1).unwrap())
            .build();
        if let Ok(config) = built {
            prop_assert_eq!((config.max_failures(), config.swap_timeout()), (max, timeout));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(COSTLY))]

    #[test]
    fn lifecycle_apply_any_sequence(steps in prop::collection::vec(step(), 0..24)) {
        let secrets = [Secret::from_bytes(&[0x11; 20]).unwrap(), Secret::from_bytes(&[0x22; 20]).unwrap()];
        let clock = FixedClock::new(1_700_000_000);
        let lc = Lifecycle::new(LifecycleConfig::default(), MemoryGuard::default(), &clock, VecSink::default());
        let mut record = TokenRecord::new();
        for step in steps {
            let before = record.summary();
            let refused = match step {
                Step::Wait(s) => {
                    clock.advance(s);
                    continue;
                }
                Step::Login(code) => lc.login(&mut record, code.as_deref()).is_err(),
                Step::Apply(actor, event, token, code) => {
                    let actor = [Actor::Customer, Actor::Operator, Actor::System][usize::from(actor % 3)];
                    let token = usize::from(token % 2);
                    let serial = TokenSerial::new(if token == 0 { "tok-a" } else { "tok-b" }).unwrap();
                    let secret = secrets[token].clone();
                    // An empty code stands for the right one, now.
                    let code = if code.is_empty() {
                        let totp = Totp::builder(&secrets[token]).build().unwrap();
                        totp.generate(clock.now()).unwrap().to_string()
                    } else {
                        code
                    };
                    let event = match event % 14 {
                        0 => Event::Register { serial, secret, code: &code },
                        1 => Event::SetLoginOtp(token == 0),
                        2 => Event::BeginSwap { code: &code },
                        3 => Event::CompleteSwap { serial, secret, code: &code },
                        4 => Event::CancelSwap,
                        5 => Event::SwapTimeout,
                        6 => Event::Stop { code: &code },
                        7 => Event::Suspend { reason: SuspendReason::LostDevice },
                        8 => Event::Suspend { reason: SuspendReason::TooManyFailures },
                        9 => Event::Suspend { reason: SuspendReason::Operator },
                        10 => Event::Resume,
                        11 => Event::Reissue { reason: ReissueReason::AppRemoved },
                        12 => Event::VerifyTransaction { code: &code },
                        _ => Event::VerifyLogin { code: &code },
                    };
                    lc.apply(&mut record, actor, event).is_err()
                }
            };
            let after = record.summary();
            prop_assert!(after.version >= before.version);
            prop_assert!(!lc.audit_sink().take().is_empty(), "an event left no audit record");
            if refused {
                // Unchanged, or a counted wrong code (which may lock out).
                let counted = after.failures == before.failures + 1 && after.version == before.version + 1;
                let locked_out = after.state == State::Suspended(SuspendReason::TooManyFailures);
                prop_assert!(after == before || counted || locked_out, "{:?} -> {:?}", before, after);
            }
        }
    }
}
