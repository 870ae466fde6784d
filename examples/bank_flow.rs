//! The whole journey of one customer's software token, on in-memory
//! defaults with a fixed clock: register, a transfer, login OTP, a lock-out
//! and an operator's resume, a swap to a new phone, a lost phone with
//! suspend and reissue, the new token, and stop.
//!
//! Run it with `cargo run --example bank_flow`. It prints each step, the
//! token's state and the audit records the bank's log receives; it never
//! prints a secret or a code.

#![allow(clippy::arithmetic_side_effects)]

use std::error::Error;

use otpguard::lifecycle::{
    Actor, Event, Lifecycle, LifecycleConfig, LifecycleError, LoginCheck, ReissueReason,
    SuspendReason, TokenRecord, TokenSerial, VecSink, TABLE,
};
use otpguard::replay::MemoryGuard;
use otpguard::{Algorithm, Clock, FixedClock, Secret, Totp};

/// The bank's app on a phone: it shares a secret with the bank and shows
/// the current code. The example types that code for the customer.
struct Phone {
    name: &'static str,
    serial: TokenSerial,
    secret: Secret,
}

impl Phone {
    fn new(name: &'static str, serial: &str) -> Result<Self, Box<dyn Error>> {
        Ok(Self {
            name,
            serial: TokenSerial::new(serial)?,
            secret: Secret::generate(Algorithm::Sha1)?,
        })
    }

    /// A code the app does not show now, nor one step either side: what
    /// someone guessing types.
    fn guess(&self, clock: &FixedClock) -> Result<String, Box<dyn Error>> {
        let totp = Totp::builder(&self.secret).build()?;
        let now = clock.now();
        let near = [now - 30, now, now + 30].map(|t| totp.generate(t).map(|c| c.value()));
        let wrong = (100_000u32..)
            .find(|v| !near.iter().any(|n| n.as_ref().ok() == Some(v)))
            .ok_or("no wrong code left")?;
        Ok(wrong.to_string())
    }

    /// The code the app shows now.
    fn shows(&self, clock: &FixedClock) -> Result<String, Box<dyn Error>> {
        Ok(Totp::builder(&self.secret)
            .build()?
            .generate(clock.now())?
            .to_string())
    }
}

type Bank<'a> = Lifecycle<MemoryGuard, &'a FixedClock, &'a VecSink>;

fn heading(text: &str) {
    println!("\n== {text}");
}

/// Prints the outcome of one request, the state after it and what the
/// bank's audit log received.
fn show<T>(what: &str, result: &Result<T, LifecycleError>, record: &TokenRecord, audit: &VecSink) {
    match result {
        Ok(_) => println!("   {what}: accepted"),
        Err(e) => println!("   {what}: REFUSED ({e})"),
    }
    println!(
        "   state: {} | token: {} | failures: {} | login OTP: {} | version: {}",
        record.state(),
        record.serial().map_or("-".to_owned(), ToString::to_string),
        record.failures(),
        if record.login_otp() { "on" } else { "off" },
        record.version()
    );
    for line in audit.take() {
        println!("   audit | {line}");
    }
}

fn register(
    bank: &Bank<'_>,
    record: &mut TokenRecord,
    phone: &Phone,
    code: &str,
) -> Result<(), LifecycleError> {
    bank.apply(
        record,
        Actor::Customer,
        Event::Register {
            serial: phone.serial.clone(),
            secret: phone.secret.clone(),
            code,
        },
    )
    .map(drop)
}

fn main() -> Result<(), Box<dyn Error>> {
    // 2026-01-05 09:00:00 UTC; every step moves the clock on by a time step
    // or more, so each code the customer types is a fresh one.
    let clock = FixedClock::new(1_767_603_600);
    let audit = VecSink::default();
    let bank: Bank<'_> = Lifecycle::new(
        LifecycleConfig::default(),
        MemoryGuard::default(),
        &clock,
        &audit,
    );
    let mut record = TokenRecord::new();
    let first = Phone::new("first phone", "SN-1001")?;
    let second = Phone::new("new phone", "SN-2002")?;
    let third = Phone::new("replacement phone", "SN-3003")?;
    let tick = || clock.advance(30);

    println!(
        "otpguard token lifecycle: {} transitions in the table",
        TABLE.len()
    );
    println!("customer record: state {}", record.state());

    heading("1. Start using the token (利用開始): register the first phone");
    let r = register(&bank, &mut record, &first, &first.shows(&clock)?);
    show(
        "register SN-1001 with the code its app shows",
        &r,
        &record,
        &audit,
    );

    heading("2. A transfer asks for the OTP");
    tick();
    let r = bank.verify_transaction(&mut record, &first.shows(&clock)?);
    show(
        "transfer authorised with the code the app shows",
        &r,
        &record,
        &audit,
    );
    let r = bank.verify_transaction(&mut record, &first.shows(&clock)?);
    show("the same code again (a replay)", &r, &record, &audit);

    heading("3. The customer turns the login OTP on, then logs in");
    let r = bank.login(&mut record, None);
    show(
        "login while the login OTP is off: no code asked",
        &r,
        &record,
        &audit,
    );
    let r = bank.apply(&mut record, Actor::Customer, Event::SetLoginOtp(true));
    show("turn login OTP on", &r, &record, &audit);
    tick();
    let r = bank.login(&mut record, Some(&first.shows(&clock)?));
    assert!(matches!(r, Ok(LoginCheck::Verified(_))));
    show("login with the code the app shows", &r, &record, &audit);

    heading("4. Someone tries wrong codes: the system locks the token");
    for _ in 0..bank.config().max_failures() {
        tick();
        let r = bank.verify_transaction(&mut record, &first.guess(&clock)?);
        show("transfer with a wrong code", &r, &record, &audit);
    }
    tick();
    let r = bank.verify_transaction(&mut record, &first.shows(&clock)?);
    show("even the right code, while locked", &r, &record, &audit);

    heading("5. The customer calls; the operator resumes the same token");
    let r = bank.apply(&mut record, Actor::Operator, Event::Resume);
    show("operator resumes", &r, &record, &audit);
    tick();
    let r = bank.verify_transaction(&mut record, &first.shows(&clock)?);
    show("transfer with the first phone", &r, &record, &audit);

    heading("6. Swap to a new phone (交換)");
    tick();
    let r = bank.apply(
        &mut record,
        Actor::Customer,
        Event::BeginSwap {
            code: &first.shows(&clock)?,
        },
    );
    show(
        &format!("begin swap with the {}'s code", first.name),
        &r,
        &record,
        &audit,
    );
    tick();
    let r = bank.verify_transaction(&mut record, &first.shows(&clock)?);
    show(
        "while swapping, the old phone still authorises a transfer",
        &r,
        &record,
        &audit,
    );
    tick();
    let code = second.shows(&clock)?;
    let r = bank.apply(
        &mut record,
        Actor::Customer,
        Event::CompleteSwap {
            serial: second.serial.clone(),
            secret: second.secret.clone(),
            code: &code,
        },
    );
    show(
        &format!("complete swap: {} SN-2002 and its code", second.name),
        &r,
        &record,
        &audit,
    );
    tick();
    let r = bank.verify_transaction(&mut record, &first.shows(&clock)?);
    show("the old phone's code, after the swap", &r, &record, &audit);
    let r = bank.verify_transaction(&mut record, &second.shows(&clock)?);
    show("the new phone's code", &r, &record, &audit);

    heading("7. The new phone is lost: suspend at once, then reissue");
    let r = bank.apply(
        &mut record,
        Actor::Operator,
        Event::Suspend {
            reason: SuspendReason::LostDevice,
        },
    );
    show("operator suspends (lost device)", &r, &record, &audit);
    let r = bank.apply(&mut record, Actor::Operator, Event::Resume);
    show("operator tries to resume", &r, &record, &audit);
    tick();
    let r = bank.verify_transaction(&mut record, &second.shows(&clock)?);
    show(
        "whoever found the phone tries a transfer",
        &r,
        &record,
        &audit,
    );
    let r = bank.apply(
        &mut record,
        Actor::Operator,
        Event::Reissue {
            reason: ReissueReason::LostDevice,
        },
    );
    show("operator reissues", &r, &record, &audit);

    heading("8. Register the replacement phone");
    let r = register(&bank, &mut record, &second, &second.shows(&clock)?);
    show("register the lost phone again", &r, &record, &audit);
    let r = register(&bank, &mut record, &third, &third.shows(&clock)?);
    show(
        &format!("register the {} SN-3003", third.name),
        &r,
        &record,
        &audit,
    );
    tick();
    let r = bank.verify_transaction(&mut record, &third.shows(&clock)?);
    show("transfer with the replacement phone", &r, &record, &audit);

    heading("9. Stop using the token (利用中止)");
    tick();
    let r = bank.apply(
        &mut record,
        Actor::Customer,
        Event::Stop {
            code: &third.shows(&clock)?,
        },
    );
    show("stop with the code the app shows", &r, &record, &audit);
    tick();
    let r = bank.verify_transaction(&mut record, &third.shows(&clock)?);
    show(
        "a code after stopping (the transfer password is used again)",
        &r,
        &record,
        &audit,
    );

    println!(
        "\nretired on this record for good: {:?}",
        record.retired_serials()
    );
    Ok(())
}
