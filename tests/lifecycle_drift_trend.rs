//! Phones whose clocks drift steadily keep working however long between
//! uses: the window follows the estimate of each phone's clock (where it
//! is and where it is heading), so every genuine code is accepted while the
//! accumulated drift is within the bound, and none twice.
//!
//! A simulation over rates of -5 to +5 seconds a day and uses every 1 to 14
//! days, for two years each. Run with `--nocapture` to see its table
//! (rate × interval: accepted / genuine).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation,
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_precision_loss
)]

use otpguard::lifecycle::{
    CustomerId, Event, Label, Lifecycle, LifecycleConfig, LifecycleError, MemoryStore, NewSecret,
    Principal, RequestContext, TokenSerial,
};
use otpguard::{Clock, FixedClock, Secret, Totp, TotpParams};

const DAY: u64 = 86_400;
const START: u64 = 1_700_000_013;

/// Two years of a phone whose clock moves `rate` seconds a day, used every
/// `every` days at a time of day that changes from use to use. Returns
/// (accepted, genuine) over the uses while the phone's offset is within
/// the drift bound, and checks each accepted code is refused when sent
/// again.
fn two_years(rate: i64, every: u64) -> (usize, usize) {
    let config = LifecycleConfig::default();
    let bound = i64::from(config.max_drift()) * 30;
    let clock = FixedClock::new(START);
    let lc = Lifecycle::new(config, MemoryStore::new(), &clock);
    let (alice, web, ctx) = (
        CustomerId::new("c-1").unwrap(),
        Principal::customer(Label::new("web").unwrap()),
        RequestContext::new(),
    );
    let secret = Secret::from_bytes(&[0x42; 20]).unwrap();
    let phone = Totp::new(&secret, TotpParams::DEFAULT);
    let code = phone.generate(START).unwrap().to_string();
    lc.blocking()
        .submit(
            &alice,
            &web,
            Event::Register {
                serial: TokenSerial::new("SN-1").unwrap(),
                secret: NewSecret::Given(secret.clone()),
                code: code.as_str().into(),
            },
            &ctx,
        )
        .unwrap();
    let (mut accepted, mut genuine) = (0, 0);
    let mut use_n = 0u64;
    loop {
        use_n += 1;
        // Some time between 07:00 and 23:00, different each use.
        let at = START + use_n * every * DAY + (use_n * 7_919 % 57_600);
        if at > START + 2 * 365 * DAY {
            break;
        }
        let offset = rate * (at - START) as i64 / DAY as i64;
        if offset.abs() > bound {
            break;
        }
        clock.set(at);
        let shown = phone
            .generate(at.saturating_add_signed(offset))
            .unwrap()
            .to_string();
        genuine += 1;
        if lc
            .blocking()
            .verify_transaction(&alice, &web, &shown, &ctx)
            .is_ok()
        {
            accepted += 1;
            let again = lc.blocking().verify_transaction(&alice, &web, &shown, &ctx);
            assert!(
                matches!(again, Err(LifecycleError::Replayed { .. })),
                "{rate} s/day every {every} days, use {use_n}: {again:?}"
            );
        }
    }
    assert_eq!(clock.now() <= START + 2 * 365 * DAY, true);
    (accepted, genuine)
}

#[test]
fn every_genuine_code_of_a_steadily_drifting_phone_is_accepted() {
    let mut refused = Vec::new();
    let mut table = String::from("rate s/day | every 1..14 days: accepted/genuine\n");
    for rate in -5..=5 {
        table.push_str(&format!("{rate:>3} |"));
        for every in 1..=14 {
            let (accepted, genuine) = two_years(rate, every);
            table.push_str(&format!(" {accepted}/{genuine}"));
            if accepted != genuine {
                refused.push((rate, every, genuine - accepted));
            }
        }
        table.push('\n');
    }
    println!("{table}");
    assert!(
        refused.is_empty(),
        "genuine codes refused: {refused:?}\n{table}"
    );
}
