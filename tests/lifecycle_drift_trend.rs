//! Phones whose clocks drift steadily keep working however long between
//! uses: the window follows the estimate of each phone's clock (where it
//! is and where it is heading), so every genuine code is accepted while the
//! accumulated drift is within the bound, and none twice.
//!
//! A simulation over rates of -5 to +5 seconds a day and uses every 1 to 14
//! days, for two years each. Run with `--nocapture` to see its table
//! (rate × interval: accepted / genuine).

#![allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]

use otpguard::lifecycle::{
    CustomerId, Event, Label, Lifecycle, LifecycleConfig, LifecycleError, MemoryStore, NewSecret,
    Principal, RequestContext, TokenSerial,
};
use otpguard::{FixedClock, Secret, Totp, TotpParams};

const DAY: u64 = 86_400;
const START: u64 = 1_700_000_013;

/// Two years of a phone whose clock moves `rate` seconds a day, used every
/// `every` days at a time of day that changes from use to use, each code
/// arriving up to `latency` seconds after the phone showed it. Returns
/// (accepted, genuine) over the uses while the phone's offset is within
/// the drift bound, and checks each accepted code is refused when sent
/// again.
fn two_years(rate: i64, every: u64, latency: u64) -> (usize, usize) {
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
        let typing = if latency == 0 {
            0
        } else {
            use_n * 104_729 % latency
        };
        let shown = phone
            .generate(at.saturating_add_signed(offset) - typing)
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
    (accepted, genuine)
}

/// The table of `two_years` over rates of -5 to +5 s/day and uses every 1
/// to 14 days, and the runs that refused a genuine code.
fn table(latency: u64) -> (String, usize, usize, Vec<(i64, u64, usize)>) {
    let mut refused = Vec::new();
    let (mut accepted_all, mut genuine_all) = (0, 0);
    let mut table = format!(
        "rate s/day | every 1..14 days: accepted/genuine (codes sent up to {latency} s after shown)\n"
    );
    for rate in -5..=5 {
        table.push_str(&format!("{rate:>3} |"));
        for every in 1..=14 {
            let (accepted, genuine) = two_years(rate, every, latency);
            table.push_str(&format!(" {accepted}/{genuine}"));
            accepted_all += accepted;
            genuine_all += genuine;
            if accepted != genuine {
                refused.push((rate, every, genuine - accepted));
            }
        }
        table.push('\n');
    }
    (table, accepted_all, genuine_all, refused)
}

#[test]
fn every_genuine_code_of_a_steadily_drifting_phone_is_accepted() {
    let (table, accepted, genuine, refused) = table(0);
    println!("{table}{accepted}/{genuine}");
    assert!(
        refused.is_empty(),
        "genuine codes refused: {refused:?}\n{table}"
    );
    assert!(genuine > 6_000);
}

/// The same phones, each code arriving up to 25 s after the phone showed
/// it (read, typed, sent): the estimate allows half a step for it, so all
/// but a handful are accepted (the rest wait for the next code).
#[test]
fn codes_typed_in_after_they_were_shown_are_accepted_too() {
    let (table, accepted, genuine, _) = table(25);
    println!("{table}{accepted}/{genuine}");
    assert!(
        accepted * 1_000 >= genuine * 995,
        "{accepted}/{genuine}\n{table}"
    );
}
