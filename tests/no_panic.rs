//! Arbitrary bytes and values thrown at every public constructor, parser and
//! verification function: none panics, and each failure is the typed error
//! its documentation names, for exactly the inputs it names.
#![allow(clippy::unwrap_used, clippy::panic, clippy::arithmetic_side_effects)]

use otpguard::replay::{ClaimOutcome, MemoryGuard, ReplayGuard};
use otpguard::{
    Algorithm, Hotp, ParamError, Secret, SecretError, TimeError, Totp, VerifyError, Window,
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
    fn memory_guard_claim(token in any::<String>(), first in any::<u64>(), second in any::<u64>()) {
        let guard = MemoryGuard::default();
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
                prop_assert_eq!(hotp.generate(m.step()).to_string(), input);
            }
            Err(VerifyError::Malformed { expected }) => {
                prop_assert!(expected == digits && !well_formed(&input, digits));
            }
            Err(VerifyError::Mismatch) => prop_assert!(well_formed(&input, digits)),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
        prop_assert!(hotp.verify(&code.to_string(), counter, window).is_ok());
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
                prop_assert_eq!(totp.generate_step(m.step()).to_string(), input);
            }
            Err(VerifyError::Malformed { expected }) => {
                prop_assert!(expected == digits && !well_formed(&input, digits));
            }
            Err(VerifyError::Time(e)) => prop_assert_eq!(e, before_t0),
            Err(VerifyError::Mismatch) => prop_assert!(well_formed(&input, digits) && now >= t0),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }
}
