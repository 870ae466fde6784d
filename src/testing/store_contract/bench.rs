//! What the checks work with: a lifecycle over two handles on the store
//! under test, a clock they move, customers of the run's own, phones that
//! show codes, and answers as comparable text.

use core::fmt::Display;
use std::sync::Arc;

use super::{AuditEntry, ContractStore, ContractViolation, Executor, Stores};
use crate::lifecycle::{
    store::TokenRecord, store::TokenStore, Applied, Authorized, CustomerId, Event, Label,
    Lifecycle, LifecycleConfig, LifecycleError, NewSecret, Principal, RequestContext, SwapTo,
    TokenSerial,
};
use crate::{Clock, FixedClock, Secret, StoreError, Totp, TotpParams};

/// 2023-11-14T22:13:30Z: a time well after T0, at the start of a step.
pub(super) const START: u64 = 1_700_000_010;

/// One TOTP step of the default profile.
pub(super) const STEP: u64 = 30;

/// A lifecycle over the store under test, on the bench's clock.
pub(super) type Lc<S> = Lifecycle<S, Arc<FixedClock>>;

/// One check's failures, named after it.
#[derive(Clone, Copy)]
pub(super) struct Check(pub(super) &'static str);

impl Check {
    pub(super) fn fail(self, message: impl Into<String>) -> ContractViolation {
        ContractViolation::new(self.0, message)
    }

    /// `Ok` if `holds`, else a violation with the message `why` makes.
    pub(super) fn ensure(
        self,
        holds: bool,
        why: impl FnOnce() -> String,
    ) -> Result<(), ContractViolation> {
        if holds {
            Ok(())
        } else {
            Err(self.fail(why()))
        }
    }

    /// A step of the check's own set-up that cannot fail unless this suite
    /// is wrong; if it does, said so.
    pub(super) fn setup<T, E: Display>(
        self,
        result: Result<T, E>,
        what: &str,
    ) -> Result<T, ContractViolation> {
        result.map_err(|e| self.fail(format!("setting up {what} failed: {e}")))
    }

    /// A store call that must succeed.
    pub(super) fn store<T>(
        self,
        result: Result<T, StoreError>,
        what: &str,
    ) -> Result<T, ContractViolation> {
        result.map_err(|e| self.fail(format!("the store failed {what}: {e}")))
    }
}

/// A phone with the bank's app: a serial, a secret and the codes it shows
/// (the default profile: SHA-1, 6 digits, 30 s).
pub(super) struct Phone {
    pub(super) serial: TokenSerial,
    secret: Secret,
    totp: Totp,
}

impl Phone {
    /// A phone whose 20-byte secret is made from `seed` (distinct seeds,
    /// distinct secrets).
    pub(super) fn new(check: Check, serial: &str, seed: u64) -> Result<Self, ContractViolation> {
        let mut bytes = seed.to_be_bytes().to_vec();
        bytes.extend_from_slice(&[0x5a; 12]);
        let secret = check.setup(Secret::from_bytes(&bytes), "a phone's secret")?;
        Ok(Self {
            serial: check.setup(TokenSerial::new(serial), "a phone's serial")?,
            totp: Totp::new(&secret, TotpParams::DEFAULT),
            secret,
        })
    }

    /// The code the app shows at `now`.
    pub(super) fn code(&self, check: Check, now: u64) -> Result<String, ContractViolation> {
        check
            .setup(self.totp.generate(now), "a code")
            .map(|c| c.to_string())
    }

    /// The time step of `now`.
    pub(super) fn step(&self, check: Check, now: u64) -> Result<u64, ContractViolation> {
        check.setup(self.totp.step_at(now), "a time step")
    }

    /// The `n`-th six-digit code the app shows for no step within two of
    /// `now` (wrong under any window the checks use).
    pub(super) fn wrong_code(
        &self,
        check: Check,
        now: u64,
        n: usize,
    ) -> Result<String, ContractViolation> {
        let twice = STEP.saturating_mul(2);
        let near = [
            now.saturating_sub(twice),
            now.saturating_sub(STEP),
            now,
            now.saturating_add(STEP),
            now.saturating_add(twice),
        ]
        .iter()
        .map(|&t| {
            check
                .setup(self.totp.generate(t), "a code")
                .map(|c| c.value())
        })
        .collect::<Result<Vec<u32>, _>>()?;
        let wrong = (0u32..1_000_000)
            .filter(|v| !near.contains(v))
            .nth(n)
            .ok_or_else(|| check.fail(format!("no wrong code #{n}")))?;
        Ok(format!("{wrong:06}"))
    }

    /// A copy of the secret, given with a registration.
    pub(super) fn given(&self) -> NewSecret {
        NewSecret::Given(self.secret.clone())
    }

    /// This phone as the new token of a swap.
    pub(super) fn swap_to(&self) -> SwapTo {
        SwapTo::Given(self.secret.clone())
    }

    /// The secret, to compute OCRA responses.
    pub(super) const fn secret(&self) -> &Secret {
        &self.secret
    }

    /// `Register` with the code the phone shows at `now`.
    pub(super) fn register(&self, check: Check, now: u64) -> Result<Event, ContractViolation> {
        Ok(Event::Register {
            serial: self.serial.clone(),
            secret: self.given(),
            code: self.code(check, now)?.as_str().into(),
        })
    }
}

/// What an accepted event did, without what differs between two stores
/// (the token's random id, a generated secret).
pub(super) fn applied_text(answer: &Result<Applied, LifecycleError>) -> String {
    match answer {
        Ok(a) => format!(
            "accepted {} -> {} v{} authorized={:?}",
            a.from,
            a.to,
            a.version,
            a.authorized.as_ref().map(proof_text)
        ),
        Err(e) => format!("refused: {e}"),
    }
}

/// A proof without its token's id.
pub(super) fn proof_text(p: &Authorized) -> String {
    format!(
        "{} step {} drift {} v{} transaction {:?}",
        p.event(),
        p.claimed().value(),
        p.drift(),
        p.version(),
        p.transaction()
    )
}

/// A lifecycle over two handles on the store under test, sharing a clock:
/// as two backend processes on one database.
pub(super) struct Bench<'e, S, E: ?Sized> {
    pub(super) check: Check,
    pub(super) executor: &'e E,
    pub(super) clock: Arc<FixedClock>,
    pub(super) a: Arc<Lc<S>>,
    pub(super) b: Arc<Lc<S>>,
    /// The customer through the web channel.
    pub(super) web: Principal,
    /// A bank operator.
    pub(super) operator: Principal,
    run: String,
}

impl<'e, S: ContractStore, E: Executor + ?Sized> Bench<'e, S, E> {
    /// Two handles from `stores`, the clock at [`START`], a new run id.
    pub(super) fn new<M>(
        check: Check,
        executor: &'e E,
        stores: &M,
        config: &LifecycleConfig,
    ) -> Result<Self, ContractViolation>
    where
        M: Stores<Store = S>,
    {
        let clock = Arc::new(FixedClock::new(START));
        let mut id = [0u8; 4];
        check.setup(getrandom::fill(&mut id), "a run id")?;
        let run: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let lifecycle = |store| Arc::new(Lifecycle::new(config.clone(), store, Arc::clone(&clock)));
        let a = lifecycle(executor.block_on(stores.next()));
        let b = lifecycle(executor.block_on(stores.next()));
        Ok(Self {
            check,
            executor,
            clock,
            a,
            b,
            web: Principal::customer(check.setup(Label::new("web"), "a label")?),
            operator: Principal::operator(check.setup(Label::new("op-contract"), "a label")?),
            run: format!("contract-{run}"),
        })
    }

    /// A customer of this run only.
    pub(super) fn customer(&self, name: &str) -> Result<CustomerId, ContractViolation> {
        let id = format!("{}-{name}", self.run);
        self.check.setup(CustomerId::new(&id), "a customer id")
    }

    pub(super) fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Moves to the next step: the phones show fresh codes.
    pub(super) fn tick(&self) {
        self.clock.advance(STEP);
    }

    /// `event` for `c` by `by`, through `lc`.
    pub(super) fn submit<T: TokenStore>(
        &self,
        lc: &Lc<T>,
        c: &CustomerId,
        by: &Principal,
        event: Event,
    ) -> Result<Applied, LifecycleError> {
        self.executor
            .block_on(lc.submit(c, by, event, &RequestContext::new()))
    }

    /// `VerifyTransaction` of `code` for `c` through the web, through `lc`.
    pub(super) fn verify<T: TokenStore>(
        &self,
        lc: &Lc<T>,
        c: &CustomerId,
        code: &str,
    ) -> Result<Authorized, LifecycleError> {
        self.executor
            .block_on(lc.verify_transaction(c, &self.web, code, &RequestContext::new()))
    }

    /// `c`'s record, read through the other handle (`b`).
    pub(super) fn load(&self, c: &CustomerId) -> Result<Option<TokenRecord>, ContractViolation> {
        let loaded = self.executor.block_on(self.b.store().load(c));
        self.check.store(loaded, &format!("loading {c}"))
    }

    /// `c`'s record, which must exist.
    pub(super) fn record(&self, c: &CustomerId) -> Result<TokenRecord, ContractViolation> {
        self.load(c)?.ok_or_else(|| {
            self.check
                .fail(format!("load({c}) answered None after a commit"))
        })
    }

    /// `c`'s audit entries, read through the other handle (`b`).
    pub(super) fn audit(&self, c: &CustomerId) -> Result<Vec<AuditEntry>, ContractViolation> {
        let read = self.executor.block_on(self.b.store().audit_of(c));
        self.check.store(read, &format!("reading the audit of {c}"))
    }

    /// `c` with `phone` registered through `a` (version 1), then the clock
    /// a step on.
    pub(super) fn registered(
        &self,
        c: &CustomerId,
        phone: &Phone,
    ) -> Result<(), ContractViolation> {
        let event = phone.register(self.check, self.now())?;
        let applied = self.submit(&self.a, c, &self.web, event);
        match applied {
            Ok(a) if a.version == 1 => {}
            other => {
                return Err(self.check.fail(format!(
                    "registering {c} answered {}, not version 1",
                    applied_text(&other)
                )))
            }
        }
        self.tick();
        Ok(())
    }

    /// `VerifyTransaction` of `codes[i]` for `c`, all released together,
    /// even ones through `a`, odd ones through `b`.
    pub(super) fn race_verify(
        &self,
        c: &CustomerId,
        codes: Vec<String>,
    ) -> Result<Vec<Result<Authorized, LifecycleError>>, ContractViolation> {
        let web = &self.web;
        let requests: Vec<_> = codes
            .into_iter()
            .enumerate()
            .map(|(i, code)| {
                let lc = Arc::clone(if i % 2 == 0 { &self.a } else { &self.b });
                let (c, web) = (c.clone(), web.clone());
                async move {
                    lc.verify_transaction(&c, &web, &code, &RequestContext::new())
                        .await
                }
            })
            .collect();
        self.executor
            .race(requests)
            .into_iter()
            .enumerate()
            .map(|(i, answer)| {
                answer.ok_or_else(|| self.check.fail(format!("request #{i} did not complete")))
            })
            .collect()
    }
}
