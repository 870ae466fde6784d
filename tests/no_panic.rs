//! Arbitrary bytes and values thrown at every public constructor, parser and
//! verification function: none panics, and each failure is the typed error
//! its documentation names, for exactly the inputs it names.
#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

use otpguard::lifecycle::{
    error::ConfigError, error::LabelError, CustomerId, EnteredCode, Event, Label, Lifecycle,
    LifecycleConfig, LifecycleError, MemoryStore, NewSecret, Principal, ReissueReason,
    RequestContext, State, SuspendReason, SwapTo, TokenSerial,
};
use otpguard::replay::ReplayKey;
use otpguard::replay::{ClaimOutcome, MemoryGuard};
use otpguard::{
    Algorithm, Clock, FixedClock, Hotp, KeyUri, OtpKind, ParamError, Secret, SecretError,
    TimeError, Totp, TotpParams, UriError, VerifyError, Window,
};
use otpguard::{CheckError, ClaimError, HotpCheckError, HotpVerifyError};
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
            Err(HotpCheckError::Malformed { expected }) => {
                prop_assert!(expected == digits && !well_formed(&input, digits));
            }
            Err(HotpCheckError::Mismatch) => prop_assert!(well_formed(&input, digits)),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
        prop_assert!(hotp.verify(&code.to_string(), counter, window).is_ok());
        // The one-call form agrees with verify, then refuses the same code again.
        let guard = MemoryGuard::default();
        let once = hotp.verify_once(&input, counter, window, &guard, ReplayKey::new("t"));
        prop_assert_eq!(once.is_ok(), hotp.verify(&input, counter, window).is_ok());
        if once.is_ok() {
            let again = hotp.verify_once(&input, counter, window, &guard, ReplayKey::new("t"));
            let replayed = matches!(again, Err(HotpVerifyError::Claim(ClaimError::Replayed { .. })));
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
            Err(CheckError::Malformed { expected }) => {
                prop_assert!(expected == digits && !well_formed(&input, digits));
            }
            Err(CheckError::Time(e)) => prop_assert_eq!(e, before_t0),
            Err(CheckError::Mismatch) => prop_assert!(well_formed(&input, digits) && now >= t0),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
        let guard = MemoryGuard::default();
        let once = totp.verify_once(&input, now, window, &guard, ReplayKey::new("t"));
        prop_assert_eq!(once.is_ok(), totp.verify(&input, now, window).is_ok());
        if once.is_ok() {
            let again = totp.verify_once(&input, now, window, &guard, ReplayKey::new("t"));
            let replayed = matches!(again, Err(VerifyError::Claim(ClaimError::Replayed { .. })));
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

/// Arbitrary lifecycle calls: events with arbitrary codes, serials,
/// principals and secrets (two fixed secrets and the provisioned ones, so
/// that some codes are right), logins, provisionings, and waits.
#[derive(Debug, Clone)]
enum Step {
    Wait(u64),
    /// Principal, event, serial, secret, code (empty: the right one now).
    Submit(Who, u8, String, u8, String),
    Login(Who, Option<String>),
    Provision(Who, String),
}

/// A principal: its role and an arbitrary label (a refused label falls
/// back to a fixed one).
#[derive(Debug, Clone)]
struct Who(u8, String);

impl Who {
    fn principal(&self) -> Principal {
        let label = Label::new(&self.1).unwrap_or_else(|_| Label::new("x").unwrap());
        match self.0 % 8 {
            0..=5 => Principal::customer(label),
            6 => Principal::operator(label),
            _ => Principal::System,
        }
    }
}

fn who() -> impl Strategy<Value = Who> {
    (
        any::<u8>(),
        prop_oneof![any::<String>(), "[a-z0-9:@.-]{1,12}"],
    )
        .prop_map(|(r, l)| Who(r, l))
}

fn lifecycle_step() -> impl Strategy<Value = Step> {
    let serial = prop_oneof![
        3 => "tok-[ab]",
        1 => any::<String>(),
        1 => "[A-Za-z0-9._-]{1,70}",
    ];
    let code = prop_oneof![3 => Just(String::new()), 2 => submitted(), 1 => "[0-9]{17,40}"];
    prop_oneof![
        1 => any::<u64>().prop_map(Step::Wait),
        4 => (0u64..=700).prop_map(Step::Wait),
        8 => (who(), any::<u8>(), serial, any::<u8>(), code)
            .prop_map(|(who, event, serial, secret, code)| Step::Submit(who, event, serial, secret, code)),
        2 => (who(), proptest::option::of(prop_oneof![Just(String::new()), submitted()]))
            .prop_map(|(who, code)| Step::Login(who, code)),
        2 => (who(), prop_oneof![Just("alice".to_owned()), any::<String>()])
            .prop_map(|(who, account)| Step::Provision(who, account)),
    ]
}

/// Any profile the lifecycle accepts, T0 included (which provisioning
/// refuses).
fn lifecycle_config() -> impl Strategy<Value = LifecycleConfig> {
    (
        algorithm(),
        6u32..=8,
        prop_oneof![3 => Just(30u64), 1 => 1u64..=120, 1 => any::<u64>().prop_map(|p| p.max(1))],
        prop_oneof![3 => Just(0u64), 1 => time()],
        1u32..=100,
        0u32..=Window::MAX,
        0u32..=Window::MAX,
        1u64..=LifecycleConfig::TIMEOUT_LIMIT,
    )
        .prop_map(|(alg, digits, period, t0, max, behind, ahead, timeout)| {
            LifecycleConfig::builder()
                .totp(TotpParams::new(alg, digits, period, t0).unwrap())
                .max_failures(max)
                .window(Window::new(behind, ahead).unwrap())
                .swap_timeout(timeout)
                .enrollment_timeout(timeout)
                .issuer("Bank")
                .build()
                .unwrap()
        })
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
        let valid = (1..=TokenSerial::MAX_LEN).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        match TokenSerial::new(&text) {
            Ok(serial) => {
                prop_assert!(valid, "{:?} accepted", text);
                prop_assert_eq!(serial.as_str(), text.as_str());
            }
            Err(e) => prop_assert!(!valid, "{:?} refused: {:?}", text, e),
        }
    }

    #[test]
    fn lifecycle_config_build(
        max in prop_oneof![0u32..=101, any::<u32>()],
        swap in prop_oneof![0u64..=2, any::<u64>(), Just(LifecycleConfig::TIMEOUT_LIMIT + 1)],
        enroll in prop_oneof![0u64..=2, any::<u64>(), Just(LifecycleConfig::TIMEOUT_LIMIT)],
        attempts in prop_oneof![0u32..=2, any::<u32>(), Just(10_001u32)],
        issuer in proptest::option::of(prop_oneof![any::<String>(), "[A-Za-z ]{1,12}"]),
        digits in 6u32..=8,
        period in 1u64..=u64::MAX,
        t0 in time(),
        behind in 0u32..=Window::MAX,
    ) {
        let params = TotpParams::new(Algorithm::Sha256, digits, period, t0).unwrap();
        let mut builder = LifecycleConfig::builder()
            .max_failures(max)
            .swap_timeout(swap)
            .enrollment_timeout(enroll)
            .max_attempts(attempts)
            .totp(params)
            .window(Window::new(behind, 1).unwrap());
        if let Some(issuer) = &issuer {
            builder = builder.issuer(issuer);
        }
        let timeouts = 1..=LifecycleConfig::TIMEOUT_LIMIT;
        match builder.build() {
            Ok(config) => {
                prop_assert_eq!((config.max_failures(), config.swap_timeout()), (max, swap));
                prop_assert_eq!((config.enrollment_timeout(), config.max_attempts()), (enroll, attempts));
                prop_assert_eq!((config.totp(), config.issuer()), (params, issuer.as_deref()));
            }
            Err(ConfigError::MaxFailures { given, .. }) => {
                prop_assert!(given == max && !(1..=100).contains(&max));
            }
            Err(ConfigError::SwapTimeout { given, .. }) => {
                prop_assert!((1..=100).contains(&max));
                prop_assert!(given == swap && !timeouts.contains(&swap));
            }
            Err(ConfigError::EnrollmentTimeout { given, .. }) => {
                prop_assert!(timeouts.contains(&swap));
                prop_assert!(given == enroll && !timeouts.contains(&enroll));
            }
            Err(ConfigError::MaxAttempts { given, .. }) => {
                prop_assert!(timeouts.contains(&enroll));
                prop_assert!(given == attempts && !(1..=10_000).contains(&attempts));
            }
            Err(ConfigError::Issuer(_)) => {
                prop_assert!(issuer.is_some() && (1..=10_000).contains(&attempts));
            }
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
    }

    #[test]
    fn labels_serials_and_entered_codes(text in prop_oneof![any::<String>(), "[ -~]{0,140}"]) {
        match Label::new(&text) {
            Ok(label) => {
                prop_assert_eq!(label.as_str(), text.as_str());
                let id = CustomerId::new(&text).unwrap();
                prop_assert_eq!(id.as_str(), text.as_str());
            }
            Err(LabelError::Empty) => prop_assert!(text.is_empty()),
            Err(LabelError::TooLong { len, max }) => prop_assert!(len == text.len() && len > max),
            Err(LabelError::InvalidCharacter) => prop_assert!(!text.is_empty() && text.len() <= Label::MAX_LEN),
            Err(e) => prop_assert!(false, "unexpected {:?}", e),
        }
        let code = EnteredCode::new(&text);
        prop_assert_eq!(format!("{code:?}"), "EnteredCode(..)");
        let _ = code.clone();
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(COSTLY))]

    #[test]
    fn lifecycle_any_sequence(config in lifecycle_config(), start in time(), steps in prop::collection::vec(lifecycle_step(), 0..32)) {
        let params = config.totp();
        let max = config.max_failures();
        let clock = FixedClock::new(start);
        let lc = Lifecycle::new(config, MemoryStore::new(), &clock);
        let customer = CustomerId::new("c-1").unwrap();
        let mut secrets = vec![Secret::from_bytes(&[0x11; 20]).unwrap(), Secret::from_bytes(&[0x22; 20]).unwrap()];
        // The secret of the last token registered, for right codes.
        let mut current = 0;
        // The secret the pending swap fixed, if any.
        let mut pending: Option<usize> = None;
        let right = |secrets: &[Secret], index: usize, now: u64| {
            Totp::new(&secrets[index], params).generate(now).map_or_else(|_| "000000".to_owned(), |c| c.to_string())
        };
        for step in steps {
            let before = lc.store().snapshot(&customer).unwrap_or_default().summary();
            let audit_before = lc.store().audit().len();
            let ctx = RequestContext::new();
            let result = match &step {
                Step::Wait(s) => {
                    clock.advance(*s);
                    continue;
                }
                Step::Login(who, code) => {
                    // An empty code stands for the right one, now.
                    let code = code.as_ref().map(|c| if c.is_empty() { right(&secrets, current, clock.now()) } else { c.clone() });
                    lc.blocking().login(&customer, &who.principal(), code.as_deref(), &ctx).map(drop)
                }
                Step::Provision(who, account) => {
                    let r = lc.blocking().provision(&customer, &who.principal(), account, &ctx);
                    if let Ok(uri) = &r {
                        prop_assert_eq!(uri.account(), account.as_str());
                        secrets.push(uri.secret().clone());
                    }
                    r.map(drop)
                }
                Step::Submit(who, event, serial, secret, code) => {
                    let serial = TokenSerial::new(serial).unwrap_or_else(|_| TokenSerial::new("tok-c").unwrap());
                    let index = usize::from(*secret) % (secrets.len() + 1);
                    let new_secret = secrets.get(index).map_or(NewSecret::Provisioned, |s| NewSecret::Given(s.clone()));
                    let new_token = matches!(event % 15, 0 | 3);
                    let code_secret = match event % 15 {
                        0 => index.min(secrets.len() - 1),
                        3 => pending.unwrap_or(current),
                        _ => current,
                    };
                    let swap_to = secrets.get(index).map_or_else(
                        || SwapTo::Generated { account: "bob".to_owned() },
                        |s| SwapTo::Given(s.clone()),
                    );
                    let code = if code.is_empty() {
                        right(&secrets, code_secret, clock.now())
                    } else {
                        code.clone()
                    };
                    let code = EnteredCode::new(&code);
                    let event = match event % 15 {
                        0 => Event::Register { serial, secret: new_secret, code },
                        1 => Event::SetLoginOtp { on: event % 2 == 0, code },
                        2 => Event::BeginSwap { code, to: swap_to },
                        3 => Event::CompleteSwap { serial, code },
                        4 => Event::CancelSwap { code },
                        5 => Event::SwapTimeout,
                        6 => Event::Stop { code },
                        7 => Event::Suspend { reason: SuspendReason::LostDevice },
                        8 => Event::Suspend { reason: SuspendReason::TooManyFailures },
                        9 => Event::Suspend { reason: SuspendReason::Operator },
                        10 => Event::Resume,
                        11 => Event::Reissue { reason: ReissueReason::AppRemoved },
                        12 => Event::VerifyTransaction { code },
                        13 => Event::Provision { account: "bob".to_owned() },
                        _ => Event::VerifyLogin { code },
                    };
                    let begins_swap = matches!(event, Event::BeginSwap { .. });
                    let r = lc.blocking().submit(&customer, &who.principal(), event, &ctx);
                    if let (Ok(applied), true) = (&r, begins_swap) {
                        pending = Some(match &applied.key_uri {
                            Some(uri) => {
                                secrets.push(uri.secret().clone());
                                secrets.len() - 1
                            }
                            None => index,
                        });
                    }
                    if r.is_ok() && new_token {
                        current = code_secret;
                    }
                    r.map(drop)
                }
            };
            if let Err(e) = &result {
                prop_assert!(!matches!(e, LifecycleError::Internal(_)), "{:?} gave {:?}", step, e);
                prop_assert!(!matches!(e, LifecycleError::Store(_) | LifecycleError::Contended { .. }), "{:?}", e);
            }
            let after = lc.store().snapshot(&customer).unwrap_or_default().summary();
            prop_assert!(after.version >= before.version);
            prop_assert!(after.failures <= max);
            // One audit record for the call, plus the System's time-out or
            // lock-out, at most one each.
            let added = lc.store().audit().len() - audit_before;
            prop_assert!((1..=3).contains(&added), "{:?} added {} audit records", step, added);
            if result.is_err() {
                // Unchanged, or a counted wrong code (which may lock out),
                // or a swap timed out on the way.
                let counted = after.failures == before.failures + 1 || after.failures == max;
                let locked_out = after.state == State::Suspended(SuspendReason::TooManyFailures);
                let timed_out = before.state == State::Swapping && after.pending_swap.is_none();
                prop_assert!(after == before || counted || locked_out || timed_out, "{:?} -> {:?}", before, after);
            }
        }
    }
}
