//! Secret handling, proven rather than promised:
//!
//! - every type that holds key material wipes it on drop (checked at compile
//!   time: the build fails if one stops implementing `ZeroizeOnDrop`);
//! - no `Debug` output of such a type, and no error about a secret, contains
//!   any run of the secret's bytes in any common encoding (raw, hex in either
//!   case, base32, base64, a decimal byte list);
//! - no `Debug` output or error contains a one-time code.
//!
//! That a `Secret` cannot be printed with `{}`, compared with `==` or
//! serialized is proven by the compile-fail tests in `tests/compile_fail/`.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use otpguard::HotpCheckError;
use std::future::Future;
use std::sync::Mutex;

use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use otpguard::lifecycle::{
    store::Commit, store::CommitOutcome, store::TokenRecord, store::TokenStore, CustomerId,
    EnteredCode, Event, Label, Lifecycle, LifecycleConfig, LifecycleError, MemoryStore, NewSecret,
    Principal, ReissueReason, RequestContext, TokenSerial,
};
use otpguard::{
    Algorithm, Clock, FixedClock, Hotp, KeyUri, KeyUriBuilder, Secret, StoreError, Totp,
    TotpParams, Window,
};
use proptest::prelude::*;
use zeroize::ZeroizeOnDrop;

/// Fails to compile if any type that holds key material or a code in its
/// own fields is not wiped on drop. (An `Event`, a `NewSecret` and a
/// `TokenRecord` hold theirs only inside a `Secret` or an `EnteredCode`,
/// which wipe themselves.)
const _: fn() = || {
    fn wiped_on_drop<T: ZeroizeOnDrop>() {}
    wiped_on_drop::<Secret>();
    wiped_on_drop::<Hotp>();
    wiped_on_drop::<Totp>();
    wiped_on_drop::<otpguard::Code>();
    wiped_on_drop::<KeyUri>();
    wiped_on_drop::<KeyUriBuilder>();
    wiped_on_drop::<EnteredCode>();
};

/// A leak of this many consecutive secret bytes counts, in an encoding.
const RUN: usize = 4;
/// Raw bytes are compared as they are, so chance matches with the printable
/// text are far likelier: a longer run keeps random secrets from tripping it.
const RAW_RUN: usize = 6;

/// Every way `secret` could show up in `text`. Panics with the encoding
/// that matched.
fn assert_no_trace(text: &str, secret: &[u8]) {
    let bytes = text.as_bytes();
    let lower = text.to_ascii_lowercase();
    let upper = text.to_ascii_uppercase();
    let squashed: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    for run in secret.windows(RAW_RUN) {
        assert!(
            !bytes.windows(RAW_RUN).any(|w| w == run),
            "raw secret bytes {run:?} in {text:?}"
        );
    }
    for run in secret.windows(RUN) {
        let hex: String = run.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!lower.contains(&hex), "hex {hex} in {text:?}");
        let decimal = run.iter().map(u8::to_string).collect::<Vec<_>>().join(",");
        assert!(
            !squashed.contains(&decimal),
            "byte list {decimal} in {text:?}"
        );
    }
    // Base32 and base64 text depends on where the encoding starts, so encode
    // from every starting byte of a group and look for every whole group.
    for start in 0..5.min(secret.len()) {
        let b32 = base32::encode(
            base32::Alphabet::Rfc4648 { padding: false },
            &secret[start..],
        );
        for chunk in b32.as_bytes().chunks_exact(8) {
            let chunk = std::str::from_utf8(chunk).unwrap();
            assert!(!upper.contains(chunk), "base32 {chunk} in {text:?}");
        }
    }
    for start in 0..3.min(secret.len()) {
        for b64 in [
            STANDARD_NO_PAD.encode(&secret[start..]),
            URL_SAFE_NO_PAD.encode(&secret[start..]),
        ] {
            for chunk in b64.as_bytes().chunks_exact(8) {
                let chunk = std::str::from_utf8(chunk).unwrap();
                assert!(!text.contains(chunk), "base64 {chunk} in {text:?}");
            }
        }
    }
}

/// The `Debug` output, compact and pretty, of every key-holding type built
/// from `secret`.
fn debug_outputs(secret: &Secret, algorithm: Algorithm) -> Vec<String> {
    let hotp = Hotp::new(secret, algorithm, 6).unwrap();
    let builder = Totp::builder(secret).algorithm(algorithm).digits(8);
    let totp = builder.clone().build().unwrap();
    let mut out = Vec::new();
    for text in [
        format!("{secret:?}"),
        format!("{hotp:?}"),
        format!("{builder:?}"),
        format!("{totp:?}"),
        format!("{:?}", secret.clone()),
        format!("{:?}", (&hotp, &totp)),
    ] {
        out.push(text);
    }
    out.push(format!("{secret:#?}"));
    out.push(format!("{hotp:#?}"));
    out.push(format!("{builder:#?}"));
    out.push(format!("{totp:#?}"));

    let uri_builder = KeyUri::builder(secret, "alice@example.com")
        .issuer("Example Bank")
        .algorithm(algorithm);
    out.push(format!("{uri_builder:?}"));
    let uri = uri_builder.build().unwrap();
    out.push(format!("{uri:?}"));
    out.push(format!("{uri:#?}"));

    out
}

/// A store that writes every commit to a log with `{:?}`, as a careless
/// store might.
#[derive(Debug, Default)]
struct Logging {
    inner: MemoryStore,
    lines: Mutex<Vec<String>>,
}

impl TokenStore for Logging {
    fn load(
        &self,
        customer: &CustomerId,
    ) -> impl Future<Output = Result<Option<TokenRecord>, StoreError>> + Send {
        self.inner.load(customer)
    }

    fn commit(
        &self,
        commit: Commit<'_>,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        self.lines.lock().unwrap().push(format!("{commit:?}"));
        self.inner.commit(commit)
    }
}

/// Everything the lifecycle prints around a token holding `secret`: the
/// events that bring it (and bring it back, refused), their answers and
/// errors, the record, its summary, the audit records, the commits a store
/// sees, the lifecycle itself. Also returns the secret the lifecycle
/// provisioned on the way, whose traces are looked for as well.
fn lifecycle_outputs(secret: &Secret, algorithm: Algorithm) -> (Vec<String>, Secret) {
    let clock = FixedClock::new(1_700_000_000);
    let params = TotpParams::new(algorithm, 6, 30, 0).unwrap();
    let config = LifecycleConfig::builder()
        .totp(params)
        .issuer("Example Bank")
        .build()
        .unwrap();
    let lc = Lifecycle::new(config, Logging::default(), &clock);
    let alice = CustomerId::new("c-1").unwrap();
    let web = Principal::customer(Label::new("web").unwrap());
    let op = Principal::operator(Label::new("op-1").unwrap());
    let ctx = RequestContext::new();
    let code = |s: &Secret| {
        Totp::new(s, params)
            .generate(clock.now())
            .unwrap()
            .to_string()
    };
    let mut out = Vec::new();
    let mut show = |what: String| out.push(what);

    let new_secret = NewSecret::Given(secret.clone());
    show(format!("{new_secret:?} {new_secret:#?}"));
    let register = |serial: &str| Event::Register {
        serial: TokenSerial::new(serial).unwrap(),
        secret: NewSecret::Given(secret.clone()),
        code: code(secret).as_str().into(),
    };
    let event = register("tok-1");
    show(format!("{event:?} {event:#?}"));
    let applied = lc.blocking().submit(&alice, &web, event, &ctx).unwrap();
    show(format!("{applied:?} {applied:#?}"));
    let record = lc.store().inner.snapshot(&alice).unwrap();
    assert!(record.serial().is_some(), "the record holds the token");
    let mut ids = vec![record.token_id().unwrap()];
    show(format!("{record:?} {record:#?}"));
    show(format!("{:?}", record.summary()));

    // The token retired, then offered again under another serial: refused.
    let reissue = Event::Reissue {
        reason: ReissueReason::LostDevice,
    };
    lc.blocking().submit(&alice, &op, reissue, &ctx).unwrap();
    let refused = lc
        .blocking()
        .submit(&alice, &web, register("tok-2"), &ctx)
        .unwrap_err();
    assert!(matches!(refused, LifecycleError::SecretReused), "{refused}");
    show(format!("{refused} {refused:?}"));

    // A provisioned secret: its Key URI is the one place it is shown.
    let applied = lc
        .blocking()
        .submit(
            &alice,
            &web,
            Event::Provision {
                account: "alice".to_owned(),
            },
            &ctx,
        )
        .unwrap();
    show(format!("{applied:?} {applied:#?}"));
    let provisioned = applied.key_uri.as_ref().unwrap().secret().clone();
    let record = lc.store().inner.snapshot(&alice).unwrap();
    show(format!("{record:?} {:?}", record.summary()));
    let event = Event::Register {
        serial: TokenSerial::new("tok-3").unwrap(),
        secret: NewSecret::Provisioned,
        code: code(&provisioned).as_str().into(),
    };
    show(format!("{event:?}"));
    let applied = lc.blocking().submit(&alice, &web, event, &ctx).unwrap();
    show(format!("{applied:?}"));
    ids.extend(lc.store().inner.snapshot(&alice).unwrap().token_id());
    clock.advance(30);
    let proof = lc
        .blocking()
        .verify_transaction(&alice, &web, &code(&provisioned), &ctx)
        .unwrap();
    show(format!("{proof:?}"));

    for audit in lc.store().inner.audit().take() {
        show(format!("{audit} {audit:?}"));
    }
    show(format!("{lc:?}"));
    let commits = core::mem::take(&mut *lc.store().lines.lock().unwrap());
    assert_eq!(commits.len(), 6);
    out.extend(commits);
    // Token ids are random hex: masked, so that a run of the secret's hex
    // cannot match one by chance.
    let out = out
        .into_iter()
        .map(|text| {
            ids.iter()
                .fold(text, |text, id| text.replace(&id.to_string(), "<token id>"))
        })
        .collect();
    (out, provisioned)
}

#[test]
fn the_checker_finds_each_encoding() {
    // The checker itself must be able to fail, or the tests below prove nothing.
    let secret = b"\x01\x02\x03\xfe\xfd\xfc\x10\x20\x30\x40\x50\x60\x70\x80\x90\xa0";
    let leaks = [
        format!("{secret:?}"),
        format!("{secret:#?}"),
        secret.iter().map(|b| format!("{b:02x}")).collect(),
        secret.iter().map(|b| format!("{b:02X}")).collect(),
        base32::encode(base32::Alphabet::Rfc4648 { padding: true }, &secret[1..]),
        base32::encode(base32::Alphabet::Rfc4648 { padding: false }, secret).to_lowercase(),
        STANDARD_NO_PAD.encode(&secret[2..]),
        URL_SAFE_NO_PAD.encode(secret),
        String::from_utf8_lossy(b"x\x10\x20\x30\x40\x50\x60y").into_owned(),
    ];
    for leak in leaks {
        let caught = std::panic::catch_unwind(|| assert_no_trace(&leak, secret));
        assert!(caught.is_err(), "not caught: {leak:?}");
    }
}

#[test]
fn debug_of_the_rfc_secret_has_no_trace_of_it() {
    let secret = Secret::from_bytes(b"12345678901234567890").unwrap();
    let (lifecycle, provisioned) = lifecycle_outputs(&secret, Algorithm::Sha1);
    for text in debug_outputs(&secret, Algorithm::Sha1)
        .iter()
        .chain(&lifecycle)
    {
        assert_no_trace(text, secret.expose_secret());
    }
    for text in &lifecycle {
        assert_no_trace(text, provisioned.expose_secret());
    }
    assert_eq!(format!("{secret:?}"), "Secret([REDACTED])");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn debug_of_key_holding_types_has_no_trace_of_the_secret(
        bytes in prop::collection::vec(any::<u8>(), Secret::MIN_LEN..=Secret::MAX_LEN),
        algorithm in prop_oneof![Just(Algorithm::Sha1), Just(Algorithm::Sha256), Just(Algorithm::Sha512)],
    ) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        for text in debug_outputs(&secret, algorithm) {
            assert_no_trace(&text, &bytes);
        }
    }

    #[test]
    fn base32_errors_do_not_repeat_the_text(
        bytes in prop::collection::vec(any::<u8>(), 10..=40),
        bad in "[0189!@#=]",
        at in any::<prop::sample::Index>(),
    ) {
        let mut text = base32::encode(base32::Alphabet::Rfc4648 { padding: false }, &bytes);
        text.insert_str(at.index(text.len()), &bad);
        let err = Secret::from_base32(&text).unwrap_err();
        for shown in [err.to_string(), format!("{err:?}")] {
            assert_no_trace(&shown, &bytes);
            for chunk in text.as_bytes().chunks_exact(8) {
                prop_assert!(!shown.contains(std::str::from_utf8(chunk).unwrap()));
            }
        }
    }

    #[test]
    fn codes_do_not_appear_in_debug_or_errors(
        bytes in prop::collection::vec(any::<u8>(), 20..=64),
        counter in any::<u64>(),
    ) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        let hotp = Hotp::new(&secret, Algorithm::Sha1, 8).unwrap();
        let code = hotp.generate(counter);
        let shown = code.to_string();
        let debug = format!("{code:?} {code:#?}");
        prop_assert!(!debug.contains(&shown));
        // A wrong code and a malformed one: the error must not echo the input.
        let wrong = format!("{:08}", (code.value() + 1) % 100_000_000);
        let malformed = format!("{shown}9");
        for (input, mismatch) in [(&wrong, true), (&malformed, false)] {
            let result = hotp.verify(input, counter, Window::EXACT);
            let err = match result {
                Err(err) => err,
                Ok(m) => return Err(TestCaseError::fail(format!("{input:?} verified at {m:?}"))),
            };
            let expected = if mismatch {
                matches!(err, HotpCheckError::Mismatch)
            } else {
                matches!(err, HotpCheckError::Malformed { expected: 8 })
            };
            prop_assert!(expected, "{:?} gave {:?}", input, err);
            let shown_err = format!("{err} {err:?}");
            prop_assert!(!shown_err.contains(input.as_str()));
        }
        // A match reports the step and drift, never the code.
        let m = hotp.verify(&shown, counter, Window::EXACT).unwrap();
        let debug = format!("{m:?}");
        prop_assert!(!debug.contains(&shown));
    }

    #[test]
    fn codes_do_not_appear_in_lifecycle_events_errors_or_audit(
        bytes in prop::collection::vec(any::<u8>(), 20..=64),
        time in 1_000_000u64..=4_000_000_000,
    ) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        let totp = Totp::new(&secret, TotpParams::default());
        let clock = FixedClock::new(time);
        let lc = Lifecycle::new(LifecycleConfig::default(), MemoryStore::new(), &clock);
        let alice = CustomerId::new("c-1").unwrap();
        let web = Principal::customer(Label::new("web").unwrap());
        let ctx = RequestContext::new();
        let right = totp.generate(time).unwrap().to_string();
        let wrong = format!("{:06}", (totp.generate(time).unwrap().value() + 500_000) % 1_000_000);
        let mut shown = Vec::new();
        let entered = EnteredCode::new(&right);
        shown.push(format!("{entered:?} {:?}", entered.clone()));
        let event = Event::Register {
            serial: TokenSerial::new("tok-1").unwrap(),
            secret: NewSecret::Given(secret.clone()),
            code: entered,
        };
        shown.push(format!("{event:?} {event:#?}"));
        let applied = lc.blocking().submit(&alice, &web, event, &ctx).unwrap();
        shown.push(format!("{applied:?}"));
        // The code just used again (a replay), and a wrong one.
        for code in [&right, &wrong] {
            let event = Event::VerifyTransaction { code: code.as_str().into() };
            shown.push(format!("{event:?}"));
            match lc.blocking().submit(&alice, &web, event, &ctx) {
                Ok(a) => shown.push(format!("{a:?}")),
                Err(e) => shown.push(format!("{e} {e:?}")),
            }
        }
        clock.advance(30);
        let next = totp.generate(clock.now()).unwrap().to_string();
        let proof = lc.blocking().verify_transaction(&alice, &web, &next, &ctx);
        shown.push(format!("{proof:?}"));
        let mut ids = Vec::new();
        for r in lc.store().audit().take() {
            shown.push(format!("{r} {r:?}"));
            ids.extend(r.token.map(|id| id.to_string()));
        }
        prop_assert!(!ids.is_empty());
        // Token ids are random hex, which may hold six digits in a row.
        let shown: Vec<String> = shown
            .into_iter()
            .map(|text| ids.iter().fold(text, |text, id| text.replace(id, "<token id>")))
            .collect();
        for text in &shown {
            for code in [&right, &wrong, &next] {
                prop_assert!(!contains_number(text, code), "{:?} shows {}", text, code);
            }
        }
    }
}

/// Whether `number` occurs in `text` other than inside a longer number (a
/// six-digit code can occur inside a time or a step by chance).
fn contains_number(text: &str, number: &str) -> bool {
    text.match_indices(number).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + number.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit()) && !after.is_some_and(|c| c.is_ascii_digit())
    })
}

proptest! {
    // Each case runs a lifecycle through eight events and checks tens of
    // kilobytes of output against every run of the secret.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn lifecycle_output_has_no_trace_of_the_given_or_provisioned_secret(
        bytes in prop::collection::vec(any::<u8>(), Secret::MIN_LEN..=Secret::MAX_LEN),
        algorithm in prop_oneof![Just(Algorithm::Sha1), Just(Algorithm::Sha256), Just(Algorithm::Sha512)],
    ) {
        let secret = Secret::from_bytes(&bytes).unwrap();
        let (outputs, provisioned) = lifecycle_outputs(&secret, algorithm);
        for text in &outputs {
            assert_no_trace(text, &bytes);
            assert_no_trace(text, provisioned.expose_secret());
        }
    }
}

#[test]
fn the_lifecycle_shows_no_trace_of_a_provisioned_secret() {
    let given = Secret::from_bytes(&[0x5a; 20]).unwrap();
    let (outputs, provisioned) = lifecycle_outputs(&given, Algorithm::Sha256);
    assert!(outputs.len() > 15);
    for text in &outputs {
        assert_no_trace(text, provisioned.expose_secret());
        assert_no_trace(text, given.expose_secret());
    }
    // The checker is not blind to it: the Key URI's own text carries it.
    let uri = KeyUri::builder(&provisioned, "alice").build().unwrap();
    let caught =
        std::panic::catch_unwind(|| assert_no_trace(&uri.to_uri(), provisioned.expose_secret()));
    assert!(caught.is_err());
}

#[test]
fn length_errors_carry_only_lengths() {
    let short = [0xabu8; 15];
    let err = Secret::from_bytes(&short).unwrap_err();
    assert_no_trace(&format!("{err} {err:?}"), &short);
    let long = [0xcdu8; 257];
    let err = Secret::from_bytes(&long).unwrap_err();
    assert_no_trace(&format!("{err} {err:?}"), &long);
}
