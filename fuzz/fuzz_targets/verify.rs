//! Arbitrary secrets, parameters, times and submitted codes against HOTP and
//! TOTP verification. Besides "never panics", every outcome is checked against
//! a brute-force recomputation of the window: a code is accepted exactly when
//! some step in the window produces it (the latest such step is reported),
//! and a code the generator just produced always verifies.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use otpguard::{Algorithm, Hotp, Match, Secret, Totp, CheckError, Window};

#[derive(Debug, Arbitrary)]
struct Input {
    secret: Vec<u8>,
    algorithm: u8,
    digits: u32,
    period: u64,
    t0: u64,
    /// TOTP: the verifier's Unix time. HOTP: the expected counter.
    moment: u64,
    behind: u32,
    ahead: u32,
    hotp: bool,
    submitted: String,
    /// Which step of the window the known-good code is taken from.
    pick: i8,
}

fuzz_target!(|x: Input| {
    let Ok(secret) = Secret::from_bytes(&x.secret) else {
        return;
    };
    let algorithm = match x.algorithm % 3 {
        0 => Algorithm::Sha1,
        1 => Algorithm::Sha256,
        _ => Algorithm::Sha512,
    };
    let Ok(window) = Window::new(x.behind, x.ahead) else {
        assert!(x.behind > Window::MAX || x.ahead > Window::MAX);
        return;
    };
    if x.hotp {
        let Ok(hotp) = Hotp::new(&secret, algorithm, x.digits) else {
            assert!(!(6..=8).contains(&x.digits));
            return;
        };
        let code_at = |step: u64| hotp.generate(step).to_string();
        // HOTP's error has no time variants; its code faults are the TOTP
        // error's, so one oracle checks both.
        let verify = |input: &str| hotp.verify(input, x.moment, window).map_err(CheckError::from);
        check(&x, window, x.moment, hotp.digits(), &code_at, &verify);
    } else {
        let built = Totp::builder(&secret)
            .algorithm(algorithm)
            .digits(x.digits)
            .period(x.period)
            .t0(x.t0)
            .build();
        let Ok(totp) = built else {
            assert!(!(6..=8).contains(&x.digits) || x.period == 0);
            return;
        };
        let verify = |input: &str| totp.verify(input, x.moment, window);
        let Ok(center) = totp.step_at(x.moment) else {
            assert!(x.moment < x.t0);
            assert!(matches!(
                verify(&x.submitted),
                Err(CheckError::Malformed { .. } | CheckError::Time(_))
            ));
            assert!(totp.generate(x.moment).is_err());
            return;
        };
        let code_at = |step: u64| totp.generate_step(step).to_string();
        assert_eq!(
            totp.generate(x.moment).map(|c| c.to_string()).ok(),
            Some(code_at(center))
        );
        check(&x, window, center, totp.digits(), &code_at, &verify);
    }
});

fn check(
    x: &Input,
    window: Window,
    center: u64,
    digits: u32,
    code_at: &dyn Fn(u64) -> String,
    verify: &dyn Fn(&str) -> Result<Match, CheckError>,
) {
    expect(
        verify(&x.submitted),
        &x.submitted,
        window,
        center,
        digits,
        code_at,
    );

    // A code the generator produced for a step in the window must verify.
    let behind = i64::from(window.behind());
    let ahead = i64::from(window.ahead());
    let rel = i64::from(x.pick).clamp(-behind, ahead);
    if let Some(step) = center.checked_add_signed(rel) {
        let good = code_at(step);
        assert_eq!(good.len(), digits as usize);
        let result = verify(&good);
        assert!(
            result.is_ok(),
            "generated code for offset {rel} did not verify"
        );
        expect(result, &good, window, center, digits, code_at);
    }
}

/// The outcome `result` of verifying `input` must be what a brute-force scan
/// of the window says.
fn expect(
    result: Result<Match, CheckError>,
    input: &str,
    window: Window,
    center: u64,
    digits: u32,
    code_at: &dyn Fn(u64) -> String,
) {
    let well_formed = input.len() == digits as usize && input.bytes().all(|b| b.is_ascii_digit());
    let latest = if well_formed {
        (-i64::from(window.behind())..=i64::from(window.ahead()))
            .filter_map(|rel| center.checked_add_signed(rel).map(|step| (step, rel)))
            .filter(|&(step, _)| code_at(step) == input)
            .last()
    } else {
        None
    };
    match result {
        Ok(m) => assert_eq!(Some((m.step(), m.offset())), latest),
        Err(CheckError::Malformed { expected }) => {
            assert!(!well_formed);
            assert_eq!(expected, digits);
        }
        Err(CheckError::Mismatch) => assert!(well_formed && latest.is_none()),
        Err(other) => panic!("unexpected error from verify: {other:?}"),
    }
}
