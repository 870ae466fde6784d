//! Dynamic linking with OCRA: a transaction changed in any field encodes
//! differently and its signature no longer verifies; the canonical
//! encoding reads back as the one transaction it came from (so it is
//! injective); the payee-number mode round-trips; every validation error
//! is reachable; no input string makes anything panic.

#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

use otpguard::ocra::{
    Amount, BatchError, Currency, CurrencyError, Input, Ocra, PayeeAccount, PayeeError, Payment,
    QuestionError, ResponseError, Suite, Transaction, VerifyWindow,
};
use otpguard::Secret;
use proptest::collection::vec;
use proptest::prelude::*;

const SIGNING: &str = "OCRA-1:HOTP-SHA256-8:QH64";

fn ocra(suite: &str) -> Ocra {
    let secret = Secret::from_bytes(b"12345678901234567890123456789012").unwrap();
    Ocra::new(&secret, Suite::parse(suite).unwrap())
}

fn currency() -> impl Strategy<Value = Currency> {
    "[A-Z]{3}".prop_map(|c| Currency::new(&c).unwrap())
}

/// Account identifiers with at least one digit (so one can be changed).
fn payee() -> impl Strategy<Value = PayeeAccount> {
    (
        "[A-Za-z0-9./-]{0,63}",
        0..10u8,
        any::<prop::sample::Index>(),
    )
        .prop_map(|(s, d, at)| {
            let mut s = s.into_bytes();
            s.insert(at.index(s.len() + 1), b'0' + d);
            PayeeAccount::new(std::str::from_utf8(&s).unwrap()).unwrap()
        })
}

fn transfer() -> impl Strategy<Value = Transaction> {
    (any::<u64>(), currency(), payee()).prop_map(|(minor_units, currency, payee)| {
        Transaction::transfer(
            Amount {
                minor_units,
                currency,
            },
            payee,
        )
    })
}

/// Item amounts small enough that a few more never overflow the total.
fn batch() -> impl Strategy<Value = Transaction> {
    (currency(), vec((0..u64::MAX / 64, payee()), 1..6)).prop_map(|(currency, items)| {
        let items: Vec<Payment> = items
            .into_iter()
            .map(|(minor_units, payee)| Payment {
                amount: Amount {
                    minor_units,
                    currency,
                },
                payee,
            })
            .collect();
        batch_of(currency, items)
    })
}

fn batch_of(currency: Currency, items: Vec<Payment>) -> Transaction {
    let minor_units = items.iter().map(|i| i.amount.minor_units).sum();
    Transaction::batch(
        Amount {
            minor_units,
            currency,
        },
        items,
    )
    .unwrap()
}

fn transaction() -> impl Strategy<Value = Transaction> {
    prop_oneof![transfer(), batch()]
}

fn rebuild(t: &Transaction, items: Vec<Payment>) -> Transaction {
    if t.is_batch() {
        batch_of(items[0].amount.currency, items)
    } else {
        Transaction::transfer(items[0].amount, items[0].payee)
    }
}

/// One field of `t` changed, as `choice` and `at` pick it; `None` where
/// the change does not apply (swapping the items of a transfer).
fn mutate(t: &Transaction, choice: u8, at: usize, extra: PayeeAccount) -> Option<Transaction> {
    let mut items = t.payments().to_vec();
    let i = at % items.len();
    match choice {
        // Amount by one minor unit.
        0 => {
            let a = &mut items[i].amount.minor_units;
            *a = if *a == u64::MAX { *a - 1 } else { *a + 1 };
        }
        // One payee digit.
        1 => {
            let mut bytes = items[i].payee.as_bytes().to_vec();
            let digits: Vec<usize> = (0..bytes.len())
                .filter(|&k| bytes[k].is_ascii_digit())
                .collect();
            let k = digits[at % digits.len()];
            bytes[k] = b'0' + (bytes[k] - b'0' + 1) % 10;
            items[i].payee = PayeeAccount::new(std::str::from_utf8(&bytes).unwrap()).unwrap();
        }
        // The currency.
        2 => {
            let [a, b, c] = *items[0].amount.currency.as_bytes();
            let next = if c == b'Z' { b'A' } else { c + 1 };
            let other = Currency::new(std::str::from_utf8(&[a, b, next]).unwrap()).unwrap();
            for item in &mut items {
                item.amount.currency = other;
            }
        }
        // A payee added to a batch.
        3 if t.is_batch() => items.insert(
            at % (items.len() + 1),
            Payment {
                amount: items[0].amount,
                payee: extra,
            },
        ),
        // Two different batch items swapped.
        4 if t.is_batch() && items.len() > 1 => {
            let j = (i + 1 + at / items.len() % (items.len() - 1)) % items.len();
            if items[i] == items[j] {
                return None;
            }
            items.swap(i, j);
        }
        _ => return None,
    }
    Some(rebuild(t, items))
}

/// Reads an encoding back (the inverse the format's documentation
/// promises): `None` unless the bytes are exactly one transaction's.
fn decode(bytes: &[u8]) -> Option<Transaction> {
    let mut r = Reader(bytes);
    if r.take(16)? != b"OTPGUARD-OCRA-TX" || r.take(1)? != [1] {
        return None;
    }
    let kind = r.take(1)?[0];
    let currency = Currency::new(std::str::from_utf8(r.take(3)?).ok()?).ok()?;
    let total = Amount {
        minor_units: r.u64()?,
        currency,
    };
    let t = match kind {
        1 => Transaction::transfer(total, r.payee()?),
        2 => {
            let count = u32::from_be_bytes(r.take(4)?.try_into().ok()?);
            let mut items = Vec::new();
            for _ in 0..count {
                let minor_units = r.u64()?;
                items.push(Payment {
                    amount: Amount {
                        minor_units,
                        currency,
                    },
                    payee: r.payee()?,
                });
            }
            Transaction::batch(total, items).ok()?
        }
        _ => return None,
    };
    r.0.is_empty().then_some(t)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }
    fn payee(&mut self) -> Option<PayeeAccount> {
        let len = self.take(1)?[0];
        PayeeAccount::new(std::str::from_utf8(self.take(usize::from(len))?).ok()?).ok()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_changed_field_changes_the_encoding_and_fails_verification(
        t in transaction(),
        choice in 0..5u8,
        at in any::<usize>(),
        extra in payee(),
    ) {
        let Some(changed) = mutate(&t, choice, at, extra) else {
            return Ok(());
        };
        prop_assert_ne!(&changed, &t);
        prop_assert_ne!(changed.encode(), t.encode());
        prop_assert_ne!(changed.digest(), t.digest());

        let ocra = ocra(SIGNING);
        let suite = *ocra.suite();
        let question = t.question_for(&suite).unwrap();
        let response = ocra.generate(&Input::new(&question)).unwrap().to_string();
        prop_assert!(ocra.verify(&response, &Input::new(&question), VerifyWindow::EXACT).is_ok());
        let other = changed.question_for(&suite).unwrap();
        prop_assert_eq!(
            ocra.verify(&response, &Input::new(&other), VerifyWindow::EXACT),
            Err(ResponseError::Mismatch)
        );
    }

    #[test]
    fn the_encoding_reads_back_as_its_transaction(t in transaction()) {
        let bytes = t.encode();
        prop_assert_eq!(decode(&bytes), Some(t.clone()));
        // No proper prefix and no extension is an encoding too.
        prop_assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        let mut longer = bytes.clone();
        longer.push(0);
        prop_assert_eq!(decode(&longer), None);
    }

    #[test]
    fn different_transactions_encode_differently(a in transaction(), b in transaction()) {
        prop_assert_eq!(a == b, a.encode() == b.encode());
        prop_assert_eq!(a == b, a.digest() == b.digest());
    }

    #[test]
    fn payee_number_mode_round_trips(
        account in "[0-9]{8}",
        minor_units in any::<u64>(),
        digit in 0..8usize,
        step in any::<u32>(),
    ) {
        let ocra = ocra("OCRA-1:HOTP-SHA1-6:QN08-T1M");
        let suite = *ocra.suite();
        let jpy = Currency::new("JPY").unwrap();
        let payee = PayeeAccount::new(&account).unwrap();
        let t = Transaction::transfer(Amount { minor_units, currency: jpy }, payee);
        let value: u64 = account.parse().unwrap();
        if value != 0 && value % 16 == 0 {
            prop_assert_eq!(t.question_for(&suite), Err(QuestionError::NumericAmbiguous));
            return Ok(());
        }
        let question = t.question_for(&suite).unwrap();
        prop_assert_eq!(&question, &account);

        let step = u64::from(step);
        let response = ocra.generate(&Input::new(&question).time_step(step)).unwrap().to_string();
        prop_assert!(ocra
            .verify(&response, &Input::new(&question).time_step(step), VerifyWindow::EXACT)
            .is_ok());

        // Another payee number (one digit changed; its value changes, so
        // leading zeros do not hide it).
        let mut other = account.into_bytes();
        let k = digit % other.len();
        other[k] = b'0' + (other[k] - b'0' + 1) % 10;
        let other = String::from_utf8(other).unwrap();
        let changed = Transaction::transfer(
            Amount { minor_units, currency: jpy },
            PayeeAccount::new(&other).unwrap(),
        );
        let Ok(other_question) = changed.question_for(&suite) else {
            return Ok(());
        };
        prop_assert_eq!(
            ocra.verify(&response, &Input::new(&other_question).time_step(step), VerifyWindow::EXACT),
            Err(ResponseError::Mismatch)
        );
    }

    #[test]
    fn arbitrary_strings_never_panic(
        currency in any::<String>(),
        account in any::<String>(),
        suite in any::<String>(),
        near_suite in (prop::sample::select(vec!['A', 'N', 'H']), 4u8..=64, any::<bool>()),
    ) {
        let c = Currency::new(&currency);
        prop_assert_eq!(
            c.is_ok(),
            currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase())
        );
        let p = PayeeAccount::new(&account);
        let valid = (1..=PayeeAccount::MAX_LEN).contains(&account.len())
            && account
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || PayeeAccount::SEPARATORS.contains(&b));
        prop_assert_eq!(p.is_ok(), valid, "{:?}", account);
        if let Ok(p) = &p {
            prop_assert_eq!(p.to_string(), account.clone());
            prop_assert_eq!(usize::from(p.len()), account.len());
        }
        let t = Transaction::transfer(
            Amount { minor_units: 1, currency: c.unwrap_or(Currency::new("EUR").unwrap()) },
            p.unwrap_or(PayeeAccount::new("0123457").unwrap()),
        );
        if let Ok(s) = Suite::parse(&suite) {
            let _ = t.question_for(&s);
        }
        let (format, len, counter) = near_suite;
        let text = format!(
            "OCRA-1:HOTP-SHA1-6:{}Q{format}{len:02}",
            if counter { "C-" } else { "" }
        );
        let s = Suite::parse(&text).unwrap();
        if let Ok(q) = t.question_for(&s) {
            prop_assert!(q.len() <= s.question_len());
            let input = if counter { Input::new(&q).counter(0) } else { Input::new(&q) };
            prop_assert!(ocra(&text).generate(&input).is_ok());
        }
    }
}

fn eur(minor_units: u64) -> Amount {
    Amount {
        minor_units,
        currency: Currency::new("EUR").unwrap(),
    }
}

fn pay(minor_units: u64, account: &str) -> Payment {
    Payment {
        amount: eur(minor_units),
        payee: PayeeAccount::new(account).unwrap(),
    }
}

#[test]
fn currency_errors() {
    for bad in ["", "EU", "EURO", "eur", "EuR", "E1R", "€UR", "E R"] {
        assert_eq!(
            Currency::new(bad),
            Err(CurrencyError { len: bad.len() }),
            "{bad}"
        );
    }
    assert_eq!(Currency::new("JPY").unwrap().to_string(), "JPY");
}

#[test]
fn payee_errors() {
    assert_eq!(
        PayeeAccount::new(""),
        Err(PayeeError::Length { len: 0, max: 64 })
    );
    assert_eq!(
        PayeeAccount::new(&"1".repeat(65)),
        Err(PayeeError::Length { len: 65, max: 64 })
    );
    assert!(PayeeAccount::new(&"1".repeat(64)).is_ok());
    assert_eq!(
        PayeeAccount::new("DE89 3704"),
        Err(PayeeError::Character { position: 4 })
    );
    assert_eq!(
        PayeeAccount::new("12\u{e9}"),
        Err(PayeeError::Character { position: 2 })
    );
    assert_eq!(
        PayeeAccount::new("0001-123.45/6").unwrap().to_string(),
        "0001-123.45/6"
    );
}

#[test]
fn batch_errors() {
    assert_eq!(Transaction::batch(eur(0), vec![]), Err(BatchError::Empty));
    let many = vec![pay(0, "1"); Transaction::MAX_ITEMS + 1];
    assert_eq!(
        Transaction::batch(eur(0), many),
        Err(BatchError::TooMany {
            len: 1001,
            max: 1000
        })
    );
    assert!(Transaction::batch(eur(0), vec![pay(0, "1"); Transaction::MAX_ITEMS]).is_ok());
    let yen = Payment {
        amount: Amount {
            minor_units: 5,
            currency: Currency::new("JPY").unwrap(),
        },
        payee: PayeeAccount::new("1").unwrap(),
    };
    assert_eq!(
        Transaction::batch(eur(10), vec![pay(5, "1"), yen]),
        Err(BatchError::Currency { index: 1 })
    );
    assert_eq!(
        Transaction::batch(eur(u64::MAX), vec![pay(u64::MAX, "1"), pay(1, "2")]),
        Err(BatchError::Overflow)
    );
    assert_eq!(
        Transaction::batch(eur(10), vec![pay(4, "1"), pay(5, "2")]),
        Err(BatchError::Total { total: 10, sum: 9 })
    );
    let ok = Transaction::batch(eur(9), vec![pay(4, "1"), pay(5, "2")]).unwrap();
    assert!(ok.is_batch());
    assert_eq!(ok.total(), eur(9));
    assert_eq!(ok.payments().len(), 2);
}

#[test]
fn question_errors() {
    let suite = |s: &str| Suite::parse(s).unwrap();
    let transfer = Transaction::transfer(eur(100), PayeeAccount::new("1234567").unwrap());
    assert_eq!(
        transfer.question_for(&suite("OCRA-1:HOTP-SHA1-6:QH39")),
        Err(QuestionError::HexTooShort { len: 39, min: 40 })
    );
    let q40 = transfer
        .question_for(&suite("OCRA-1:HOTP-SHA1-6:QH40"))
        .unwrap();
    let q64 = transfer
        .question_for(&suite("OCRA-1:HOTP-SHA1-6:QH64"))
        .unwrap();
    assert_eq!(q40, q64[..40]);
    let hex: String = transfer
        .digest()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(q64, hex);

    let batch = Transaction::batch(eur(9), vec![pay(4, "1"), pay(5, "2")]).unwrap();
    assert_eq!(
        batch.question_for(&suite("OCRA-1:HOTP-SHA1-6:QN08")),
        Err(QuestionError::NumericBatch)
    );
    let iban = Transaction::transfer(eur(1), PayeeAccount::new("DE89370400").unwrap());
    assert_eq!(
        iban.question_for(&suite("OCRA-1:HOTP-SHA1-6:QN10")),
        Err(QuestionError::NumericPayee)
    );
    assert_eq!(
        transfer.question_for(&suite("OCRA-1:HOTP-SHA1-6:QN06")),
        Err(QuestionError::NumericWidth { len: 7, width: 6 })
    );
    assert_eq!(
        transfer.question_for(&suite("OCRA-1:HOTP-SHA1-6:QN08")),
        Err(QuestionError::NumericWidth { len: 7, width: 8 })
    );
    assert_eq!(
        transfer
            .question_for(&suite("OCRA-1:HOTP-SHA1-6:QN07"))
            .unwrap(),
        "1234567"
    );
    assert_eq!(
        transfer.question_for(&suite("OCRA-1:HOTP-SHA1-6:QA64")),
        Err(QuestionError::Alphanumeric)
    );
}

/// RFC 6287's numeric questions: `n` and `16·n` give the same response
/// (hex digits right-padded with zeros), so the payee-number mode refuses
/// the multiples of 16 and accepts the rest, which are then told apart.
#[test]
fn numeric_questions_that_collide_are_refused() {
    let ocra = ocra("OCRA-1:HOTP-SHA1-6:QN07");
    let suite = *ocra.suite();
    let to = |account: &str| {
        Transaction::transfer(eur(1), PayeeAccount::new(account).unwrap()).question_for(&suite)
    };
    let same = |a: &str, b: &str| {
        ocra.generate(&Input::new(a)).unwrap().to_string()
            == ocra.generate(&Input::new(b)).unwrap().to_string()
    };
    // Three 7-digit account numbers: 0x1E24, 0x1E240 and 0x1E2400.
    assert!(same("0007716", "0123456"));
    assert!(same("0007716", "1975296"));
    assert!(same("6", "96"));
    // Leading zeros do not count either.
    assert!(same("0012345", "12345"));
    assert_eq!(to("0007716").unwrap(), "0007716");
    assert_eq!(to("0123456"), Err(QuestionError::NumericAmbiguous));
    assert_eq!(to("1975296"), Err(QuestionError::NumericAmbiguous));
    assert_eq!(to("0000096"), Err(QuestionError::NumericAmbiguous));
    assert_eq!(to("0000000").unwrap(), "0000000");
    // One width only: the same number written shorter or longer is refused.
    assert_eq!(to("0012345").unwrap(), "0012345");
    assert_eq!(
        to("12345"),
        Err(QuestionError::NumericWidth { len: 5, width: 7 })
    );
    assert_eq!(
        to("00012345"),
        Err(QuestionError::NumericWidth { len: 8, width: 7 })
    );
    // Every accepted number below 5000, at the suite's width, gives a
    // DataInput of its own.
    let mut seen = std::collections::HashSet::new();
    for n in 0..5000u32 {
        let account = format!("{n:07}");
        match to(&account) {
            Ok(q) => assert!(seen.insert(suite.data_input(&Input::new(&q)).unwrap().to_vec())),
            Err(e) => assert!(e == QuestionError::NumericAmbiguous && n % 16 == 0 && n != 0),
        }
    }
}

#[test]
fn batch_encoding_byte_for_byte() {
    let t = Transaction::batch(eur(0x0304), vec![pay(0x0300, "AB"), pay(4, "9")]).unwrap();
    let mut want = b"OTPGUARD-OCRA-TX".to_vec();
    want.extend_from_slice(&[1, 2]);
    want.extend_from_slice(b"EUR");
    want.extend_from_slice(&0x0304u64.to_be_bytes());
    want.extend_from_slice(&2u32.to_be_bytes());
    want.extend_from_slice(&0x0300u64.to_be_bytes());
    want.extend_from_slice(&[2, b'A', b'B']);
    want.extend_from_slice(&4u64.to_be_bytes());
    want.extend_from_slice(&[1, b'9']);
    assert_eq!(t.encode(), want);
    // A batch of one is not the transfer it holds.
    let one = Transaction::batch(eur(4), vec![pay(4, "9")]).unwrap();
    let transfer = Transaction::transfer(eur(4), PayeeAccount::new("9").unwrap());
    assert_ne!(one.encode(), transfer.encode());
}
