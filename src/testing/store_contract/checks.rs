//! The checks of the store contract suite.

use core::fmt::Debug;
use std::borrow::Cow;
use std::sync::Arc;

use super::bench::{applied_text, proof_text, Bench, Check, Lc, Phone};
use super::{AuditEntry, Contract, ContractStore, ContractViolation, Executor, Stores, Totals};
use crate::lifecycle::store::TokenStore;
use crate::lifecycle::{
    audit::AuditReason, audit::AuditRecord, audit::Outcome, rules::Actor, rules::EventKind,
    store::Commit, store::CommitOutcome, store::TokenRecord, Authorized, CustomerId, Event,
    Lifecycle, LifecycleConfig, LifecycleError, MemoryStore, Principal, ReissueReason,
    RequestContext, State, SuspendReason, TokenSerial,
};
use crate::ocra::{Amount, Currency, Input, Ocra, PayeeAccount, Suite, Transaction};
use crate::FixedClock;

pub(super) const ONE_CODE: &str = "one code many times";
pub(super) const GENUINE: &str = "a genuine code racing wrong codes";
pub(super) const LOCKOUT: &str = "wrong codes against the lock-out";

/// The signing suite of the records check: no counter, so the questions
/// answered in a step are kept with the record.
const SIGNING: &str = "OCRA-1:HOTP-SHA1-6:QN08-T30S";

/// The lock-out maximum of [`lockout`].
const MAX_FAILURES: u32 = 5;

const LOCKED: State = State::Suspended(SuspendReason::TooManyFailures);

fn add(total: &mut usize, n: usize) {
    *total = total.saturating_add(n);
}

// ---------------------------------------------------------------------------
// Commits
// ---------------------------------------------------------------------------

/// An audit record the check commits itself, told apart by `note`.
fn probe(c: &CustomerId, version: u64, state: State, note: &'static str) -> AuditRecord {
    AuditRecord {
        time: 0,
        customer: c.clone(),
        principal: Principal::System,
        context: RequestContext::new(),
        token: None,
        serial: None,
        new_serial: None,
        event: EventKind::VerifyTransaction,
        from: state,
        to: state,
        outcome: Outcome::Refused,
        reason: AuditReason::Refused {
            code: Cow::Borrowed("contract_check"),
            message: Cow::Borrowed(note),
        },
        version,
        drift: None,
        transaction: None,
        notice: None,
    }
}

/// One commit through `lc`'s store.
fn commit<S: ContractStore, E: Executor + ?Sized>(
    bench: &Bench<'_, S, E>,
    lc: &Lc<S>,
    c: &CustomerId,
    expected_version: u64,
    record: Option<TokenRecord>,
    audit: &[AuditRecord],
) -> Result<CommitOutcome, ContractViolation> {
    let what = format!("committing on version {expected_version} for {c}");
    // The chain's head as the lifecycle would have loaded it.
    #[cfg(feature = "seal")]
    let loaded = bench.check.store(
        bench.executor.block_on(lc.store().load_with_head(c)),
        &format!("loading {c} before {what}"),
    )?;
    let commit = Commit {
        customer: c,
        expected_version,
        record,
        audit,
        #[cfg(feature = "seal")]
        audit_head: loaded.audit_head,
        #[cfg(feature = "seal")]
        held: loaded.held,
    };
    bench
        .check
        .store(bench.executor.block_on(lc.store().commit(commit)), &what)
}

/// `c`'s record and audit as they must still be after `what`.
fn unchanged<S: ContractStore, E: Executor + ?Sized>(
    bench: &Bench<'_, S, E>,
    c: &CustomerId,
    record: &TokenRecord,
    audit: &[AuditEntry],
    what: &str,
) -> Result<(), ContractViolation> {
    let now = bench.record(c)?;
    bench.check.ensure(now.summary() == record.summary(), || {
        format!(
            "{what} changed the record: {:?}, was {:?}",
            now.summary(),
            record.summary()
        )
    })?;
    let entries = bench.audit(c)?;
    bench.check.ensure(entries == audit, || {
        format!("{what} changed the audit trail: {entries:#?}, was {audit:#?}")
    })
}

pub(super) fn commits<E, M>(executor: &E, stores: &M) -> Result<(), ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    let check = Check("commits");
    let bench = Bench::new(check, executor, stores, &LifecycleConfig::default())?;
    let (c, d) = (bench.customer("commits-c")?, bench.customer("commits-d")?);

    for lc in [&bench.a, &bench.b] {
        let loaded = check.store(executor.block_on(lc.store().load(&c)), "loading")?;
        check.ensure(loaded.is_none(), || {
            format!(
                "load({c}) answered a record for a customer without one: {:?}",
                loaded.as_ref().map(TokenRecord::summary)
            )
        })?;
    }
    let audit = bench.audit(&c)?;
    check.ensure(audit.is_empty(), || {
        format!("a customer without a record has audit entries: {audit:#?}")
    })?;

    // A first record, then a second version through the lifecycle.
    let phone = Phone::new(check, "SN-C1", 1)?;
    bench.registered(&c, &phone)?;
    let first = bench.record(&c)?;
    check.ensure(
        first.version() == 1
            && first.state() == State::Active
            && first.serial() == Some(&phone.serial),
        || format!("the registered record loads as {:?}", first.summary()),
    )?;
    let audit = bench.audit(&c)?;
    check.ensure(
        matches!(audit.as_slice(), [r] if r.version == 1
            && r.event == EventKind::Register
            && r.outcome == Outcome::Accepted
            && r.actor == Actor::Customer),
        || format!("the registration's audit: {audit:#?}"),
    )?;
    let code = phone.code(check, bench.now())?;
    let proof = bench
        .verify(&bench.a, &c, &code)
        .map_err(|e| check.fail(format!("a genuine code was refused: {e}")))?;
    let current = bench.record(&c)?;
    check.ensure(
        proof.version() == 2
            && current.version() == 2
            && current.token_id() == Some(proof.token())
            && current.last_step() == Some(proof.claimed().value()),
        || {
            format!(
                "the accepted code ({}) loads as {:?}",
                proof_text(&proof),
                current.summary()
            )
        },
    )?;
    let audit = bench.audit(&c)?;

    // Commits decided on another version than the committed one.
    let stale = [probe(
        &c,
        2,
        State::Active,
        "store contract: a stale commit",
    )];
    let cases: [(&str, u64, Option<TokenRecord>); 4] = [
        (
            "a new record on an outdated version",
            1,
            Some(current.clone()),
        ),
        (
            "a first record where one exists (an insert must not overwrite)",
            0,
            Some(current.clone()),
        ),
        ("a refusal on an outdated version", 1, None),
        ("a refusal on a version not reached yet", 3, None),
    ];
    for (what, expected, record) in cases {
        let outcome = commit(&bench, &bench.a, &c, expected, record, &stale)?;
        check.ensure(outcome == CommitOutcome::Conflict, || {
            format!("{what} answered {outcome:?}, not Conflict")
        })?;
        unchanged(&bench, &c, &current, &audit, what)?;
    }

    // A refusal on the current version: its audit records appended, in
    // order; the record left as it is.
    let refusals = [
        probe(&c, 2, State::Active, "store contract: refusal 1"),
        probe(&c, 2, State::Active, "store contract: refusal 2"),
    ];
    let outcome = commit(&bench, &bench.b, &c, 2, None, &refusals)?;
    check.ensure(outcome == CommitOutcome::Committed, || {
        format!("a refusal on the current version answered {outcome:?}, not Committed")
    })?;
    let mut audit = audit;
    audit.extend(refusals.iter().map(AuditEntry::from));
    unchanged(
        &bench,
        &c,
        &current,
        &audit,
        "a refusal on the current version",
    )?;

    // A refusal for a customer without a record creates none.
    let first_refusals = [
        probe(&d, 0, State::Unregistered, "store contract: refusal a"),
        probe(&d, 0, State::Unregistered, "store contract: refusal b"),
    ];
    let outcome = commit(&bench, &bench.a, &d, 0, None, &first_refusals)?;
    check.ensure(outcome == CommitOutcome::Committed, || {
        format!("a refusal for a customer without a record answered {outcome:?}, not Committed")
    })?;
    let loaded = bench.load(&d)?;
    check.ensure(loaded.is_none(), || {
        format!(
            "a refusal created a record: {:?}",
            loaded.as_ref().map(TokenRecord::summary)
        )
    })?;
    let expected: Vec<AuditEntry> = first_refusals.iter().map(AuditEntry::from).collect();
    let entries = bench.audit(&d)?;
    check.ensure(entries == expected, || {
        format!("the refusal's audit: {entries:#?}, not {expected:#?}")
    })?;
    let outcome = commit(&bench, &bench.b, &d, 1, None, &first_refusals)?;
    check.ensure(outcome == CommitOutcome::Conflict, || {
        format!("a refusal on version 1 of a customer without a record answered {outcome:?}")
    })?;
    let entries = bench.audit(&d)?;
    check.ensure(entries == expected, || {
        format!("a conflicting refusal wrote audit entries: {entries:#?}")
    })?;
    unchanged(&bench, &c, &current, &audit, "another customer's commits")?;

    // A commit through one handle is seen by the other's next commit.
    bench.tick();
    let code = phone.code(check, bench.now())?;
    let proof = bench
        .verify(&bench.b, &c, &code)
        .map_err(|e| check.fail(format!("a genuine code was refused: {e}")))?;
    let third = bench.record(&c)?;
    check.ensure(third.version() == 3 && proof.version() == 3, || {
        format!("the third version loads as {:?}", third.summary())
    })?;
    let audit = bench.audit(&c)?;
    let outcome = commit(&bench, &bench.a, &c, 2, Some(current), &stale)?;
    check.ensure(outcome == CommitOutcome::Conflict, || {
        format!(
            "a commit on version 2 after another handle committed version 3 answered {outcome:?}"
        )
    })?;
    unchanged(
        &bench,
        &c,
        &third,
        &audit,
        "a commit on a version another handle replaced",
    )
}

// ---------------------------------------------------------------------------
// Records round trip
// ---------------------------------------------------------------------------

/// One customer's journey on the store and on a `MemoryStore` twin, step
/// by step.
struct Journey<'b, 'e, S, E: ?Sized> {
    bench: &'b Bench<'e, S, E>,
    twin: Lifecycle<MemoryStore, Arc<FixedClock>>,
    c: CustomerId,
}

impl<S: ContractStore, E: Executor + ?Sized> Journey<'_, '_, S, E> {
    /// The answers of the store's lifecycle and the twin's must read the
    /// same, and so must the records: all but the token's random id, which
    /// must be the one the store's proofs name.
    fn agree<T>(
        &self,
        what: &str,
        mine: Result<T, LifecycleError>,
        twins: &Result<T, LifecycleError>,
        text: impl Fn(&Result<T, LifecycleError>) -> String,
    ) -> Result<Result<T, LifecycleError>, ContractViolation> {
        let check = self.bench.check;
        let (said, twin_said) = (text(&mine), text(twins));
        check.ensure(said == twin_said, || {
            format!("{what}: on the store {said}; in memory {twin_said}")
        })?;
        let record = self.bench.load(&self.c)?;
        let twin = self.twin.store().snapshot(&self.c);
        let without_id = |r: &TokenRecord| {
            let mut summary = r.summary();
            summary.token_id = None;
            summary
        };
        let (loaded, expected) = (
            record.as_ref().map(without_id),
            twin.as_ref().map(without_id),
        );
        check.ensure(loaded == expected, || {
            format!(
                "after {what}, the store loads {loaded:#?}; in memory the record is {expected:#?}"
            )
        })?;
        let ids = (
            record.as_ref().and_then(TokenRecord::token_id).is_some(),
            twin.as_ref().and_then(TokenRecord::token_id).is_some(),
        );
        check.ensure(ids.0 == ids.1, || {
            format!(
                "after {what}, a token id on the store: {}, in memory: {}",
                ids.0, ids.1
            )
        })?;
        Ok(mine)
    }

    fn submit(&self, what: &str, by: &Principal, event: Event) -> Result<bool, ContractViolation> {
        let mine = self.bench.submit(&self.bench.a, &self.c, by, event.clone());
        let twins = self.bench.submit(&self.twin, &self.c, by, event);
        let mine = self.agree(what, mine, &twins, applied_text)?;
        if let Ok(Some(proof)) = mine.as_ref().map(|a| a.authorized.as_ref()) {
            self.same_token(what, proof)?;
        }
        Ok(mine.is_ok())
    }

    fn verify(
        &self,
        what: &str,
        code: &str,
    ) -> Result<Result<Authorized, LifecycleError>, ContractViolation> {
        let mine = self.bench.verify(&self.bench.a, &self.c, code);
        let twins = self.bench.verify(&self.twin, &self.c, code);
        let mine = self.agree(what, mine, &twins, |a| match a {
            Ok(p) => format!("accepted {}", proof_text(p)),
            Err(e) => format!("refused: {e}"),
        })?;
        if let Ok(proof) = &mine {
            self.same_token(what, proof)?;
        }
        Ok(mine)
    }

    /// A transfer of 5,000 JPY to `payee`, signed by `phone` now.
    fn sign(
        &self,
        what: &str,
        phone: &Phone,
        suite: Suite,
        payee: &str,
    ) -> Result<bool, ContractViolation> {
        let check = self.bench.check;
        let currency = check.setup(Currency::new("JPY"), "a currency")?;
        let payee = check.setup(PayeeAccount::new(payee), "a payee")?;
        let transaction = Transaction::transfer(
            Amount {
                minor_units: 5_000,
                currency,
            },
            payee,
        );
        let question = check.setup(transaction.question_for(&suite), "a question")?;
        let input = Input::new(&question).time(self.bench.now());
        let response = check.setup(
            Ocra::new(phone.secret(), suite).generate(&input),
            "a response",
        )?;
        let response = response.to_string();
        let ctx = RequestContext::new();
        let web = &self.bench.web;
        let executor = self.bench.executor;
        let mine = executor.block_on(self.bench.a.sign_transaction(
            &self.c,
            web,
            &transaction,
            &response,
            &ctx,
        ));
        let twins = executor.block_on(self.twin.sign_transaction(
            &self.c,
            web,
            &transaction,
            &response,
            &ctx,
        ));
        let mine = self.agree(what, mine, &twins, |a| match a {
            Ok(p) => format!("accepted {}", proof_text(p)),
            Err(e) => format!("refused: {e}"),
        })?;
        if let Ok(proof) = &mine {
            self.same_token(what, proof)?;
        }
        Ok(mine.is_ok())
    }

    fn provision(&self, what: &str) -> Result<bool, ContractViolation> {
        let (web, ctx) = (&self.bench.web, RequestContext::new());
        let executor = self.bench.executor;
        let mine = executor.block_on(self.bench.a.provision(&self.c, web, "contract", &ctx));
        let twins = executor.block_on(self.twin.provision(&self.c, web, "contract", &ctx));
        let mine = self.agree(what, mine, &twins, |a| match a {
            Ok(_) => "accepted (a Key URI)".to_owned(),
            Err(e) => format!("refused: {e}"),
        })?;
        Ok(mine.is_ok())
    }

    /// The loaded record's token is the one `proof` names.
    fn same_token(&self, what: &str, proof: &Authorized) -> Result<(), ContractViolation> {
        let record = self.bench.record(&self.c)?;
        self.bench
            .check
            .ensure(record.token_id() == Some(proof.token()), || {
                format!(
                    "after {what}, the store loads token {:?}, the proof names {}",
                    record.token_id(),
                    proof.token()
                )
            })
    }

    /// `Ok` if `what` went as the journey needs (the twin agreed already).
    fn expect(&self, what: &str, holds: bool) -> Result<(), ContractViolation> {
        self.bench
            .check
            .ensure(holds, || format!("{what} did not go as the check expects"))
    }
}

pub(super) fn records_round_trip<E, M>(executor: &E, stores: &M) -> Result<(), ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    let check = Check("records round trip");
    let suite = check.setup(Suite::parse(SIGNING), "the signing suite")?;
    let config = check.setup(
        LifecycleConfig::builder().signing(suite).build(),
        "the settings",
    )?;
    let bench = Bench::new(check, executor, stores, &config)?;
    let j = Journey {
        twin: Lifecycle::new(config, MemoryStore::new(), Arc::clone(&bench.clock)),
        c: bench.customer("records")?,
        bench: &bench,
    };
    let (web, operator) = (&bench.web, &bench.operator);
    let first = Phone::new(check, "SN-R1", 11)?;
    let second = Phone::new(check, "SN-R2", 12)?;
    let third = Phone::new(check, "SN-R3", 13)?;
    let code_now = |phone: &Phone| phone.code(check, bench.now());

    let ok = j.submit("Register", web, first.register(check, bench.now())?)?;
    j.expect("Register", ok)?;
    bench.tick();
    let code = code_now(&first)?;
    let ok = j.verify("a genuine code", &code)?.is_ok();
    j.expect("a genuine code", ok)?;
    let replay = j.verify("the same code again", &code)?;
    j.expect(
        "the same code again",
        matches!(replay, Err(LifecycleError::Replayed { .. })),
    )?;
    bench.tick();
    let on = Event::SetLoginOtp {
        on: true,
        code: code_now(&first)?.as_str().into(),
    };
    let ok = j.submit("SetLoginOtp on", web, on)?;
    j.expect("SetLoginOtp on", ok)?;
    bench.tick();
    let ok = j.sign("a signed transfer", &first, suite, "12345671")?;
    j.expect("a signed transfer", ok)?;
    let ok = j.sign(
        "a transfer to another payee in the same step",
        &first,
        suite,
        "99999991",
    )?;
    j.expect("a transfer to another payee in the same step", ok)?;
    let wrong = j.verify("a wrong code", &first.wrong_code(check, bench.now(), 0)?)?;
    j.expect(
        "a wrong code",
        matches!(wrong, Err(LifecycleError::WrongCode { failures: 1, .. })),
    )?;
    let ok = j.submit("ResetDrift", operator, Event::ResetDrift)?;
    j.expect("ResetDrift", ok)?;
    bench.tick();
    bench.tick();
    let begin = Event::BeginSwap {
        code: code_now(&first)?.as_str().into(),
        to: second.swap_to(),
    };
    let ok = j.submit("BeginSwap", web, begin)?;
    j.expect("BeginSwap", ok)?;
    let complete = Event::CompleteSwap {
        serial: second.serial.clone(),
        code: code_now(&second)?.as_str().into(),
    };
    let ok = j.submit("CompleteSwap", web, complete)?;
    j.expect("CompleteSwap", ok)?;
    bench.tick();
    let ok = j
        .verify("the new token's code", &code_now(&second)?)?
        .is_ok();
    j.expect("the new token's code", ok)?;
    let old = j.verify("the retired token's code", &code_now(&first)?)?;
    j.expect("the retired token's code", old.is_err())?;
    let lost = Event::Suspend {
        reason: SuspendReason::LostDevice,
    };
    let ok = j.submit("Suspend (lost device)", operator, lost)?;
    j.expect("Suspend (lost device)", ok)?;
    let reissue = Event::Reissue {
        reason: ReissueReason::LostDevice,
    };
    let ok = j.submit("Reissue", operator, reissue)?;
    j.expect("Reissue", ok)?;
    bench.tick();
    let again = Event::Register {
        serial: third.serial.clone(),
        secret: first.given(),
        code: code_now(&first)?.as_str().into(),
    };
    let ok = j.submit("a retired secret registered again", web, again)?;
    j.expect("a retired secret registered again (refused)", !ok)?;
    let serial = check.setup(TokenSerial::new("SN-R1"), "a serial")?;
    let again = Event::Register {
        serial,
        secret: third.given(),
        code: code_now(&third)?.as_str().into(),
    };
    let ok = j.submit("a retired serial registered again", web, again)?;
    j.expect("a retired serial registered again (refused)", !ok)?;
    let ok = j.provision("Provision")?;
    j.expect("Provision", ok)?;
    let record = bench.record(&j.c)?;
    j.expect(
        "the journey's end",
        record.state() == State::Reissued
            && record.retired_serials().len() == 2
            && record.enrollment_deadline().is_some(),
    )
}

// ---------------------------------------------------------------------------
// Serials
// ---------------------------------------------------------------------------

pub(super) fn serials<E, M>(executor: &E, stores: &M) -> Result<(), ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    let check = Check("serials belong to their customer");
    let bench = Bench::new(check, executor, stores, &LifecycleConfig::default())?;
    let (alice, bob) = (
        bench.customer("serial-alice")?,
        bench.customer("serial-bob")?,
    );
    let hers = Phone::new(check, "SN-SHARED", 41)?;
    let his = Phone::new(check, "SN-SHARED", 42)?;
    let now = bench.now();
    for (who, phone, lc) in [(&alice, &hers, &bench.a), (&bob, &his, &bench.b)] {
        let applied = bench.submit(lc, who, &bench.web, phone.register(check, now)?);
        check.ensure(matches!(&applied, Ok(a) if a.to == State::Active), || {
            format!(
                "{who} registering SN-SHARED answered {}",
                applied_text(&applied)
            )
        })?;
    }
    bench.tick();
    let wrong = bench.verify(&bench.a, &bob, &hers.code(check, bench.now())?);
    check.ensure(
        matches!(wrong, Err(LifecycleError::WrongCode { .. })),
        || format!("alice's code sent as bob answered {wrong:?}"),
    )?;
    let mut proofs = Vec::new();
    for (who, phone) in [(&alice, &hers), (&bob, &his)] {
        let proof = bench
            .verify(&bench.b, who, &phone.code(check, bench.now())?)
            .map_err(|e| check.fail(format!("{who}'s own token was refused: {e}")))?;
        proofs.push(proof.token());
    }
    let (r_alice, r_bob) = (bench.record(&alice)?, bench.record(&bob)?);
    let ids = [r_alice.token_id(), r_bob.token_id()];
    check.ensure(
        ids == [proofs.first().copied(), proofs.get(1).copied()]
            && r_alice.serial() == r_bob.serial()
            && r_alice.token_id() != r_bob.token_id()
            && (r_alice.failures(), r_bob.failures()) == (0, 0),
        || {
            format!(
                "the records are {:?} and {:?}; the proofs named {proofs:?}",
                r_alice.summary(),
                r_bob.summary()
            )
        },
    )?;
    let audit = bench.audit(&bob)?;
    let seen: Vec<(EventKind, Outcome)> = audit.iter().map(|r| (r.event, r.outcome)).collect();
    let expected = [
        (EventKind::Register, Outcome::Accepted),
        (EventKind::VerifyTransaction, Outcome::Refused),
        (EventKind::VerifyTransaction, Outcome::Accepted),
    ];
    check.ensure(seen == expected, || format!("bob's audit: {audit:#?}"))
}

// ---------------------------------------------------------------------------
// Concurrency
// ---------------------------------------------------------------------------

/// A fresh customer for trial `trial` of `name`, registered (version 1),
/// the clock a step on: the codes for the race.
fn trial<S: ContractStore, E: Executor + ?Sized>(
    bench: &Bench<'_, S, E>,
    name: &str,
    trial: usize,
) -> Result<(CustomerId, Phone), ContractViolation> {
    let c = bench.customer(&format!("{name}-{trial}"))?;
    let seed = bench.check.setup(u64::try_from(trial), "a seed")?;
    let phone = Phone::new(bench.check, &format!("SN-{trial}"), seed)?;
    bench.registered(&c, &phone)?;
    Ok((c, phone))
}

/// The registration that opens every trial's audit.
fn is_registration(entry: Option<&AuditEntry>) -> bool {
    entry.is_some_and(|r| {
        r.version == 1 && r.event == EventKind::Register && r.outcome == Outcome::Accepted
    })
}

fn refused_errors<T: Debug>(answers: &[Result<T, LifecycleError>]) -> Vec<&LifecycleError> {
    answers.iter().filter_map(|a| a.as_ref().err()).collect()
}

pub(super) fn one_code<E, M>(
    contract: &Contract,
    executor: &E,
    stores: &M,
) -> Result<Totals, ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    let check = Check(ONE_CODE);
    let bench = Bench::new(check, executor, stores, &LifecycleConfig::default())?;
    let n = contract.racers;
    let mut t = Totals::default();
    for i in 0..contract.trials {
        let (c, phone) = trial(&bench, "one-code", i)?;
        let (code, step) = (
            phone.code(check, bench.now())?,
            phone.step(check, bench.now())?,
        );
        let answers = bench.race_verify(&c, vec![code; n])?;
        let accepted: Vec<&Authorized> = answers.iter().filter_map(|a| a.as_ref().ok()).collect();
        check.ensure(
            matches!(accepted.as_slice(), [p] if p.claimed().value() == step && p.version() == 2),
            || format!("trial {i}: not exactly one acceptance at version 2: {answers:?}"),
        )?;
        for e in refused_errors(&answers) {
            check.ensure(
                matches!(e, LifecycleError::Replayed { step: s, last_accepted: l } if *s == step && *l == step),
                || format!("trial {i}: a submission was not a replay of step {step}: {e:?}"),
            )?;
        }
        let record = bench.record(&c)?;
        check.ensure(
            (
                record.version(),
                record.failures(),
                record.last_step(),
                record.state(),
            ) == (2, 0, Some(step), State::Active),
            || {
                format!(
                    "trial {i}: the record after the race: {:?}",
                    record.summary()
                )
            },
        )?;
        let audit = bench.audit(&c)?;
        let replay = AuditReason::Replayed {
            step,
            last_accepted: step,
        }
        .to_string();
        let good = audit.len() == n.saturating_add(1)
            && is_registration(audit.first())
            && audit.get(1).is_some_and(|r| {
                (r.version, r.event, r.outcome)
                    == (2, EventKind::VerifyTransaction, Outcome::Accepted)
            })
            && audit.iter().skip(2).all(|r| {
                (r.version, r.event, r.outcome, r.actor)
                    == (
                        2,
                        EventKind::VerifyTransaction,
                        Outcome::Refused,
                        Actor::Customer,
                    )
                    && r.reason == replay
            });
        check.ensure(good, || {
            format!("trial {i}: not the registration, the acceptance and {} replays at version 2: {audit:#?}", n.saturating_sub(1))
        })?;
        add(&mut t.trials, 1);
        add(&mut t.accepted, accepted.len());
        add(&mut t.replayed, n.saturating_sub(accepted.len()));
        add(&mut t.audit_entries, audit.len());
    }
    Ok(t)
}

pub(super) fn genuine<E, M>(
    contract: &Contract,
    executor: &E,
    stores: &M,
) -> Result<Totals, ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    let check = Check(GENUINE);
    let n = contract.racers;
    // Above the wrong codes raced, so that none locks the token.
    let max = u32::try_from(n.saturating_add(4)).map_err(|_| check.fail("too many racers"))?;
    let config = check.setup(
        LifecycleConfig::builder().max_failures(max).build(),
        "the settings",
    )?;
    let bench = Bench::new(check, executor, stores, &config)?;
    let mut t = Totals::default();
    for i in 0..contract.trials {
        let (c, phone) = trial(&bench, "genuine", i)?;
        let now = bench.now();
        let genuine = i
            .checked_rem(n)
            .ok_or_else(|| check.fail("no requests to race"))?;
        let codes = (0..n)
            .map(|k| {
                if k == genuine {
                    phone.code(check, now)
                } else {
                    phone.wrong_code(check, now, k)
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let step = phone.step(check, now)?;
        let answers = bench.race_verify(&c, codes)?;
        let mut answered = Vec::new();
        for (k, answer) in answers.iter().enumerate() {
            if k == genuine {
                check.ensure(
                    matches!(answer, Ok(p) if p.claimed().value() == step),
                    || format!("trial {i}: the genuine code was answered {answer:?}"),
                )?;
            } else if let Err(LifecycleError::WrongCode {
                failures,
                max: m,
                locked_out: false,
                ..
            }) = answer
            {
                check.ensure(*m == max, || format!("trial {i}: a maximum of {m}"))?;
                answered.push(*failures);
            } else {
                return Err(check.fail(format!(
                    "trial {i}: wrong code #{k} was answered {answer:?}"
                )));
            }
        }
        let audit = bench.audit(&c)?;
        let (registration, raced) = audit
            .split_first()
            .ok_or_else(|| check.fail(format!("trial {i}: no audit")))?;
        check.ensure(
            is_registration(Some(registration)) && raced.len() == n,
            || format!("trial {i}: not the registration and one entry per answer: {audit:#?}"),
        )?;
        let consecutive = raced
            .iter()
            .zip(2u64..)
            .all(|(r, v)| r.version == v && r.event == EventKind::VerifyTransaction);
        check.ensure(consecutive, || {
            format!("trial {i}: the answers did not each commit a version of their own, in order: {audit:#?}")
        })?;
        let rank = raced
            .iter()
            .position(|r| r.outcome == Outcome::Accepted)
            .ok_or_else(|| check.fail(format!("trial {i}: no accepted entry: {audit:#?}")))?;
        let Some((before, [_accepted, after @ ..])) = raced.split_at_checked(rank) else {
            return Err(check.fail(format!("trial {i}: no accepted entry at {rank}")));
        };
        let counts_from_one = |entries: &[AuditEntry]| {
            entries.iter().zip(1u32..).all(|(r, failures)| {
                r.outcome == Outcome::Refused
                    && r.reason == AuditReason::WrongCode { failures, max }.to_string()
            })
        };
        check.ensure(counts_from_one(before) && counts_from_one(after), || {
            format!("trial {i}: the counts do not run from 1 before and after the acceptance: {audit:#?}")
        })?;
        let mut audited: Vec<u32> = (1u32..)
            .take(before.len())
            .chain((1u32..).take(after.len()))
            .collect();
        audited.sort_unstable();
        answered.sort_unstable();
        check.ensure(answered == audited, || {
            format!("trial {i}: answered counts {answered:?}, audited {audited:?}")
        })?;
        let record = bench.record(&c)?;
        let version = check.setup(u64::try_from(n.saturating_add(1)), "a version")?;
        check.ensure(
            usize::try_from(record.failures()).ok() == Some(after.len())
                && record.version() == version
                && record.last_step() == Some(step)
                && record.state() == State::Active,
            || format!("trial {i}: the record after the race: {:?} ({} wrong codes after the acceptance)", record.summary(), after.len()),
        )?;
        add(&mut t.trials, 1);
        add(&mut t.accepted, 1);
        add(&mut t.counted, answered.len());
        add(&mut t.audit_entries, audit.len());
    }
    Ok(t)
}

pub(super) fn lockout<E, M>(
    contract: &Contract,
    executor: &E,
    stores: &M,
) -> Result<Totals, ContractViolation>
where
    E: Executor + ?Sized,
    M: Stores,
{
    let check = Check(LOCKOUT);
    let config = check.setup(
        LifecycleConfig::builder()
            .max_failures(MAX_FAILURES)
            .build(),
        "the settings",
    )?;
    let bench = Bench::new(check, executor, stores, &config)?;
    let n = contract.racers;
    let mut t = Totals::default();
    for i in 0..contract.trials {
        let (c, phone) = trial(&bench, "lockout", i)?;
        let now = bench.now();
        let codes = (0..n)
            .map(|k| phone.wrong_code(check, now, k))
            .collect::<Result<Vec<_>, _>>()?;
        let answers = bench.race_verify(&c, codes)?;
        let (mut counted, mut locking, mut refused_locked) = (Vec::new(), 0usize, 0usize);
        for answer in &answers {
            match answer {
                Err(
                    e @ LifecycleError::WrongCode {
                        failures,
                        max,
                        locked_out,
                        ..
                    },
                ) => {
                    check.ensure(
                        *max == MAX_FAILURES
                            && *locked_out == (*failures == MAX_FAILURES)
                            && e.is_locked_out() == *locked_out,
                        || format!("trial {i}: a wrong code was answered {e:?}"),
                    )?;
                    counted.push(*failures);
                    add(&mut locking, usize::from(*locked_out));
                }
                Err(
                    e @ LifecycleError::NotPermitted {
                        state,
                        event: EventKind::VerifyTransaction,
                        ..
                    },
                ) if *state == LOCKED && e.is_locked_out() => add(&mut refused_locked, 1),
                other => {
                    return Err(
                        check.fail(format!("trial {i}: a wrong code was answered {other:?}"))
                    )
                }
            }
        }
        counted.sort_unstable();
        let max = usize::try_from(MAX_FAILURES).map_err(|_| check.fail("the maximum"))?;
        check.ensure(
            counted == (1..=MAX_FAILURES).collect::<Vec<_>>()
                && locking == 1
                && refused_locked == n.saturating_sub(max),
            || format!("trial {i}: counted {counted:?}, {locking} lock-outs, {refused_locked} refused as locked: {answers:?}"),
        )?;
        let record = bench.record(&c)?;
        let version = u64::from(MAX_FAILURES).saturating_add(2);
        check.ensure(
            (record.state(), record.failures(), record.version())
                == (LOCKED, MAX_FAILURES, version),
            || {
                format!(
                    "trial {i}: the record after the race: {:?}",
                    record.summary()
                )
            },
        )?;
        let audit = bench.audit(&c)?;
        let (registration, raced) = audit
            .split_first()
            .ok_or_else(|| check.fail(format!("trial {i}: no audit")))?;
        let Some((wrong, rest)) = raced.split_at_checked(max) else {
            return Err(check.fail(format!(
                "trial {i}: fewer than {max} entries after the registration: {audit:#?}"
            )));
        };
        let counted_in_order = wrong.iter().zip(1u32..).all(|(r, failures)| {
            r.event == EventKind::VerifyTransaction
                && r.outcome == Outcome::Refused
                && r.actor == Actor::Customer
                && r.reason
                    == AuditReason::WrongCode {
                        failures,
                        max: MAX_FAILURES,
                    }
                    .to_string()
        });
        let locked_by_system = matches!(rest.first(), Some(r) if r.event == EventKind::Suspend(SuspendReason::TooManyFailures)
            && r.actor == Actor::System
            && r.outcome == Outcome::Accepted
            && (r.from, r.to) == (State::Active, LOCKED));
        let refusals = rest.split_first().map_or(&[][..], |(_, tail)| tail);
        let refused_as_locked = refusals.len() == n.saturating_sub(max)
            && refusals.iter().all(|r| {
                r.event == EventKind::VerifyTransaction
                    && r.outcome == Outcome::Refused
                    && r.from == LOCKED
                    && r.version == version
            });
        let system = audit.iter().filter(|r| r.actor == Actor::System).count();
        check.ensure(
            is_registration(Some(registration))
                && counted_in_order
                && locked_by_system
                && refused_as_locked
                && system == 1,
            || format!("trial {i}: not the registration, {max} counted wrong codes, the System's lock-out and the refusals of a locked token: {audit:#?}"),
        )?;
        add(&mut t.trials, 1);
        add(&mut t.counted, counted.len());
        add(&mut t.locked_out, locking);
        add(&mut t.refused_locked, refused_locked);
        add(&mut t.audit_entries, audit.len());
    }
    Ok(t)
}
