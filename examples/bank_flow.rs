//! The whole journey of one customer's software token, wired the way a
//! bank's backend wires it, on in-memory defaults: a [`MemoryStore`] for
//! the records and their audit trail, and a [`FixedClock`] moved by hand.
//!
//! Provision and register a token, authorise a transfer (and refuse its
//! double submit), turn the login OTP on, count a mistyped code, sign a
//! transfer with the payee's account number (and refuse it for a changed
//! payee and as a replay), swap to a new phone, suspend a lost phone and
//! reissue, register the replacement, stop, and print the audit trail.
//!
//! Run it with `cargo run --example bank_flow`. It prints each answer, the
//! record's state after it, and the bank's audit log; never a secret or a
//! code.
//!
//! In a real backend each numbered step is one endpoint handler: it knows
//! who is calling (a [`Principal`] the backend authenticated), for which
//! customer, and from where (a [`RequestContext`]), and makes **one** call
//! to the lifecycle. The lifecycle loads the record, decides, checks the
//! code and commits the new record with its audit records; the handler
//! saves nothing itself. A database-backed deployment swaps
//! [`MemoryStore`] for its own [`TokenStore`](otpguard::lifecycle::store::TokenStore)
//! and the clock for [`SystemClock`](otpguard::SystemClock).

use std::error::Error;

use otpguard::lifecycle::{
    Authorized, CustomerId, Event, Label, Lifecycle, LifecycleConfig, LifecycleError, LoginCheck,
    MemoryStore, NewSecret, Principal, ReissueReason, RequestContext, SuspendReason, SwapTo,
    TokenSerial,
};
use otpguard::ocra::{Amount, Currency, Input, Ocra, PayeeAccount, Suite, Transaction};
use otpguard::{Clock, FixedClock, KeyUri, Totp, TotpParams};

/// The bank's lifecycle as this example builds it.
type Bank<'c> = Lifecycle<MemoryStore, &'c FixedClock>;

/// The bank's app on a phone, after it scanned the QR code of a Key URI.
/// The example reads its screen for the customer.
struct Phone {
    serial: TokenSerial,
    totp: Totp,
    /// The transaction-signing key, when the Key URI carried a suite.
    signing: Option<Ocra>,
}

impl Phone {
    /// What the app does with the QR code: parse the URI and keep the key.
    /// (`to_uri` is the QR code's text; it carries the secret, so the
    /// backend shows it once and never logs it.)
    fn scan(uri: &KeyUri, serial: &str) -> Result<Self, Box<dyn Error>> {
        let scanned = KeyUri::parse(&uri.to_uri())?;
        Ok(Self {
            serial: TokenSerial::new(serial)?,
            totp: scanned.to_totp()?,
            signing: scanned
                .ocra_suite()
                .map(|suite| Ocra::new(scanned.secret(), suite)),
        })
    }

    /// Transaction authentication: the customer types the payee's account
    /// number into the app, which shows the response for it and the time.
    fn signs(&self, account: &str, clock: &FixedClock) -> Result<String, Box<dyn Error>> {
        let ocra = self
            .signing
            .as_ref()
            .ok_or("no signing suite on this phone")?;
        let input = Input::new(account).time(clock.now());
        Ok(ocra.generate(&input)?.to_string())
    }

    /// The code the app shows now.
    fn shows(&self, clock: &FixedClock) -> Result<String, Box<dyn Error>> {
        Ok(self.totp.generate(clock.now())?.to_string())
    }

    /// A code the customer mistyped: none the app shows now, nor one step
    /// either side.
    fn mistyped(&self, clock: &FixedClock) -> Result<String, Box<dyn Error>> {
        let now = clock.now();
        let near = [now.saturating_sub(30), now, now.saturating_add(30)]
            .iter()
            .map(|&t| Ok(self.totp.generate(t)?.to_string()))
            .collect::<Result<Vec<_>, Box<dyn Error>>>()?;
        let typo = ["000000", "111111", "222222", "333333"]
            .into_iter()
            .find(|c| !near.iter().any(|n| n == c))
            .ok_or("no mistyped code left")?;
        Ok(typo.to_owned())
    }
}

fn heading(text: &str) {
    println!("\n== {text}");
}

/// The customer's record as committed, on one line (a support screen).
fn show_state(bank: &Bank<'_>, customer: &CustomerId) {
    match bank.store().snapshot(customer) {
        None => println!("   record: none yet"),
        Some(r) => println!(
            "   record: {} | token {} | failures {} | login OTP {} | version {}",
            r.state(),
            r.serial()
                .map_or_else(|| "-".to_owned(), ToString::to_string),
            r.failures(),
            if r.login_otp() { "on" } else { "off" },
            r.version(),
        ),
    }
}

/// What the bank does with the proof that a code authorised a committed
/// transaction: hands it to the payment (here, prints it).
fn release_payment(what: &str, proof: Authorized) {
    println!(
        "   {what}: authorised by token {} at step {} (drift {}), committed as version {}",
        proof.token(),
        proof.claimed().value(),
        proof.drift(),
        proof.version(),
    );
}

/// An answer the bank expects to be a refusal of a given kind: prints why
/// it was refused, and stops the example if it was anything else.
fn refused<T>(
    what: &str,
    answer: Result<T, LifecycleError>,
    expected: fn(&LifecycleError) -> bool,
) -> Result<(), Box<dyn Error>> {
    match answer {
        Err(e) if expected(&e) => {
            println!("   {what}: refused: {e}");
            Ok(())
        }
        Err(e) => Err(format!("{what}: refused for an unexpected reason: {e}").into()),
        Ok(_) => Err(format!("{what}: accepted, but a refusal was expected").into()),
    }
}

/// An async endpoint (axum, actix-web, tonic, ...): the same lifecycle,
/// awaited. The blocking calls elsewhere in this example run these same
/// futures to completion.
async fn transfer(
    bank: &Bank<'_>,
    customer: &CustomerId,
    by: &Principal,
    code: &str,
    ctx: &RequestContext,
) -> Result<Authorized, LifecycleError> {
    bank.verify_transaction(customer, by, code, ctx).await
}

fn main() -> Result<(), Box<dyn Error>> {
    // Wiring: one lifecycle for the whole backend. Every token of the
    // bank's app shares one TOTP profile, and the Key URIs it provisions
    // are built from that same value.
    let config = LifecycleConfig::builder()
        .totp(TotpParams::DEFAULT) // SHA-1, 6 digits, 30-second steps
        .issuer("Example Bank")
        // Transaction authentication: the app signs the payee's 8-digit
        // account number with the time (OCRA, RFC 6287); a signature is
        // valid for 5 minutes.
        .signing(Suite::parse("OCRA-1:HOTP-SHA1-6:QN08-T30S")?)
        .signature_validity(300)
        .build()?;
    // 2026-01-05 09:00:00 UTC. The example moves the clock on by a time
    // step (`tick`) before each fresh code, as a customer would wait.
    let clock = FixedClock::new(1_767_603_600);
    let bank: Bank<'_> = Lifecycle::new(config, MemoryStore::new(), &clock);
    let tick = || clock.advance(30);
    let b = bank.blocking();

    // Who and where, as the backend authenticated them.
    let alice = CustomerId::new("cif-0001234")?;
    let web = Principal::customer(Label::new("web")?);
    let operator = Principal::operator(Label::new("op-417")?);
    let home = RequestContext::new().source(Label::new("203.0.113.9")?);
    let elsewhere = RequestContext::new().source(Label::new("198.51.100.23")?);
    let call = RequestContext::new().request_id(Label::new("call-0042")?);

    println!(
        "otpguard token lifecycle for customer {alice}: {} transitions in the table",
        otpguard::lifecycle::rules::TABLE.len()
    );
    show_state(&bank, &alice);

    heading("1. Start using the token (利用開始): provision, then register the first phone");
    let uri = b.provision(&alice, &web, "alice@example.com", &home)?;
    println!(
        "   provisioned: Key URI for issuer {:?}, account {:?} (shown as a QR code, never logged)",
        uri.issuer().unwrap_or("-"),
        uri.account(),
    );
    let first = Phone::scan(&uri, "SN-1001")?;
    let code = first.shows(&clock)?;
    let applied = b.submit(
        &alice,
        &web,
        Event::Register {
            serial: first.serial.clone(),
            secret: NewSecret::Provisioned,
            code: code.as_str().into(),
        },
        &home,
    )?;
    println!(
        "   register {} with its first code: {} -> {}",
        first.serial, applied.from, applied.to
    );
    show_state(&bank, &alice);

    heading("2. A transfer asks for the OTP; a double submit is a replay");
    tick();
    let code = first.shows(&clock)?;
    release_payment(
        "transfer of JPY 30,000",
        b.verify_transaction(&alice, &web, &code, &home)?,
    );
    refused(
        "the same code again (the customer clicked twice)",
        b.verify_transaction(&alice, &web, &code, &home),
        |e| matches!(e, LifecycleError::Replayed { .. }),
    )?;
    show_state(&bank, &alice);

    heading("3. The customer turns the login OTP on, then logs in");
    let check = b.login(&alice, &web, None, &home)?;
    println!("   login while the login OTP is off: {check:?}");
    tick();
    let on = Event::SetLoginOtp {
        on: true,
        code: first.shows(&clock)?.as_str().into(),
    };
    let applied = b.submit(&alice, &web, on, &home)?;
    println!(
        "   login OTP on, proven by the app's code: {} -> {}",
        applied.from, applied.to
    );
    refused(
        "login without a code",
        b.login(&alice, &web, None, &home),
        |e| matches!(e, LifecycleError::CodeRequired),
    )?;
    tick();
    match b.login(&alice, &web, Some(&first.shows(&clock)?), &home)? {
        LoginCheck::Verified(proof) => println!(
            "   login with the app's code: verified at step {}",
            proof.claimed().value()
        ),
        other => return Err(format!("login: unexpected answer {other:?}").into()),
    }
    show_state(&bank, &alice);

    heading("4. A mistyped code is counted; the right one resets the count");
    tick();
    refused(
        "transfer with a mistyped code",
        b.verify_transaction(&alice, &web, &first.mistyped(&clock)?, &home),
        |e| {
            matches!(
                e,
                LifecycleError::WrongCode {
                    failures: 1,
                    locked_out: false,
                    ..
                }
            )
        },
    )?;
    show_state(&bank, &alice);
    println!(
        "   (at {} consecutive wrong codes the System suspends the token in the same commit)",
        bank.config().max_failures()
    );
    release_payment(
        "transfer with the code the app shows",
        b.verify_transaction(&alice, &web, &first.shows(&clock)?, &home)?,
    );
    show_state(&bank, &alice);

    heading("5. Transaction authentication (取引認証): the code signs the payee");
    tick();
    let yen = Currency::new("JPY")?;
    let signed = Transaction::transfer(
        Amount {
            minor_units: 120_000,
            currency: yen,
        },
        PayeeAccount::new("12345671")?,
    );
    // The bank shows the payee's account number; the customer types it
    // into the app and types back the response.
    let response = first.signs("12345671", &clock)?;
    // Malware in the browser swapped the payee before the request reached
    // the bank: the response does not sign that transfer.
    let diverted = Transaction::transfer(
        Amount {
            minor_units: 120_000,
            currency: yen,
        },
        PayeeAccount::new("87654321")?,
    );
    refused(
        "transfer to 87654321 with the response for 12345671",
        b.sign_transaction(&alice, &web, &diverted, &response, &home),
        |e| matches!(e, LifecycleError::WrongCode { .. }),
    )?;
    let proof = b.sign_transaction(&alice, &web, &signed, &response, &home)?;
    let digest = proof
        .transaction()
        .ok_or("a signature without its digest")?;
    println!(
        "   transfer of JPY 120,000 to 12345671 signed (transaction digest {})",
        digest
            .iter()
            .take(8)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    release_payment("signed transfer", proof);
    refused(
        "the same signature again",
        b.sign_transaction(&alice, &web, &signed, &response, &home),
        |e| matches!(e, LifecycleError::Replayed { .. }),
    )?;
    show_state(&bank, &alice);

    heading("6. Swap to a new phone (交換)");
    tick();
    let code = first.shows(&clock)?;
    let applied = b.submit(
        &alice,
        &web,
        Event::BeginSwap {
            code: code.as_str().into(),
            to: SwapTo::Generated {
                account: "alice@example.com".into(),
            },
        },
        &home,
    )?;
    println!(
        "   begin swap with the old phone's code: {} -> {}",
        applied.from, applied.to
    );
    let uri = applied.key_uri.ok_or("a swap begun without its Key URI")?;
    let second = Phone::scan(&uri, "SN-2002")?;
    println!("   the swap fixed the new phone's secret; the new phone scans its QR code");
    refused(
        "a new secret provisioned on the session alone during the swap",
        b.provision(&alice, &web, "mallory", &home),
        |e| matches!(e, LifecycleError::NotPermitted { .. }),
    )?;
    tick();
    release_payment(
        "while swapping, the old phone still authorises a transfer",
        b.verify_transaction(&alice, &web, &first.shows(&clock)?, &home)?,
    );
    let code = second.shows(&clock)?;
    let applied = b.submit(
        &alice,
        &web,
        Event::CompleteSwap {
            serial: second.serial.clone(),
            code: code.as_str().into(),
        },
        &home,
    )?;
    println!(
        "   complete swap with {} and its code: {} -> {}",
        second.serial, applied.from, applied.to
    );
    show_state(&bank, &alice);

    heading("7. After the swap the old phone's codes are refused");
    tick();
    refused(
        "transfer with the old phone's code",
        b.verify_transaction(&alice, &web, &first.shows(&clock)?, &home),
        |e| matches!(e, LifecycleError::WrongCode { .. }),
    )?;
    release_payment(
        "transfer with the new phone's code",
        b.verify_transaction(&alice, &web, &second.shows(&clock)?, &home)?,
    );
    show_state(&bank, &alice);

    heading("8. The new phone is lost: the customer calls, the operator suspends it at once");
    let applied = b.submit(
        &alice,
        &operator,
        Event::Suspend {
            reason: SuspendReason::LostDevice,
        },
        &call,
    )?;
    println!("   operator suspends: {} -> {}", applied.from, applied.to);
    tick();
    refused(
        "whoever found the phone tries a transfer",
        b.verify_transaction(&alice, &web, &second.shows(&clock)?, &elsewhere),
        |e| matches!(e, LifecycleError::NotPermitted { .. }),
    )?;
    refused(
        "the operator tries to resume the lost phone's token",
        b.submit(&alice, &operator, Event::Resume, &call),
        |e| matches!(e, LifecycleError::NotPermitted { .. }),
    )?;
    let applied = b.submit(
        &alice,
        &operator,
        Event::Reissue {
            reason: ReissueReason::LostDevice,
        },
        &call,
    )?;
    println!("   operator reissues: {} -> {}", applied.from, applied.to);
    show_state(&bank, &alice);

    heading("9. Register a new token after the reissue");
    let uri = b.provision(&alice, &web, "alice@example.com", &home)?;
    let third = Phone::scan(&uri, "SN-3003")?;
    println!("   provisioned; the replacement phone scans its QR code");
    let code = third.shows(&clock)?;
    refused(
        "register under the lost phone's serial",
        b.submit(
            &alice,
            &web,
            Event::Register {
                serial: second.serial.clone(),
                secret: NewSecret::Provisioned,
                code: code.as_str().into(),
            },
            &home,
        ),
        |e| matches!(e, LifecycleError::SerialRetired { .. }),
    )?;
    let applied = b.submit(
        &alice,
        &web,
        Event::Register {
            serial: third.serial.clone(),
            secret: NewSecret::Provisioned,
            code: code.as_str().into(),
        },
        &home,
    )?;
    println!(
        "   register {} with its first code: {} -> {}",
        third.serial, applied.from, applied.to
    );
    tick();
    // The same step through the async API, as an async endpoint makes it.
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let code = third.shows(&clock)?;
    release_payment(
        "transfer through the async API",
        runtime.block_on(transfer(&bank, &alice, &web, &code, &home))?,
    );
    show_state(&bank, &alice);

    heading("10. Stop using the token (利用中止)");
    tick();
    let code = third.shows(&clock)?;
    let applied = b.submit(
        &alice,
        &web,
        Event::Stop {
            code: code.as_str().into(),
        },
        &home,
    )?;
    println!(
        "   stop with the app's code: {} -> {} (transfers use the transfer password again)",
        applied.from, applied.to
    );
    if let Some(record) = bank.store().snapshot(&alice) {
        let retired: Vec<&str> = record
            .retired_serials()
            .iter()
            .map(TokenSerial::as_str)
            .collect();
        println!("   retired on this record for good: {}", retired.join(", "));
    }
    show_state(&bank, &alice);

    heading("The bank's audit trail (committed with each answer; no secret, no code)");
    for record in bank.store().audit().records() {
        println!("   {record}");
    }
    Ok(())
}
