//! Fixtures shared by the tests of the atomic-commit contract
//! (`lifecycle_concurrency.rs`, `lifecycle_attacks.rs`,
//! `lifecycle_throttle.rs`): phones that show codes, principals, a bank on
//! a real `MemoryStore` with a clock the test moves, requests raced on
//! threads or tasks, and executors of the public store contract suite on a
//! tokio runtime.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing
)]

use core::future::Future;
use std::sync::{Arc, Barrier};

use otpguard::lifecycle::{
    audit::AuditRecord, store::TokenRecord, store::TokenStore, Applied, Authorized, CustomerId,
    Event, Label, Lifecycle, LifecycleConfig, LifecycleError, MemoryStore, NewSecret, Principal,
    RequestContext, State, SwapTo, TokenSerial,
};
use otpguard::{Clock, FixedClock, Secret, Totp, TotpParams};

/// 2023-11-14T22:13:30Z: a time well after T0, at the start of a step.
pub const START: u64 = 1_700_000_010;

/// One TOTP step of the default profile.
pub const STEP: u64 = 30;

/// A phone with the bank's app: a serial and a secret, and the codes it
/// shows (default profile: SHA-1, 6 digits, 30 s).
#[derive(Clone)]
pub struct Phone {
    pub serial: TokenSerial,
    secret: Secret,
    totp: Totp,
}

impl Phone {
    /// A phone whose 20-byte secret is derived from `seed` (distinct seeds,
    /// distinct secrets).
    pub fn new(serial: &str, seed: u32) -> Self {
        let mut bytes = [0x5a_u8; 20];
        bytes[..4].copy_from_slice(&seed.to_be_bytes());
        Self::with_secret(serial, Secret::from_bytes(&bytes).unwrap())
    }

    /// A phone holding `secret`.
    pub fn with_secret(serial: &str, secret: Secret) -> Self {
        let totp = Totp::new(&secret, TotpParams::DEFAULT);
        Self {
            serial: TokenSerial::new(serial).unwrap(),
            secret,
            totp,
        }
    }

    /// The same secret in another phone with another serial (a copy of
    /// the key registered again).
    pub fn reserialled(&self, serial: &str) -> Self {
        Self::with_secret(serial, self.secret.clone())
    }

    /// The code the app shows at `now`.
    pub fn code(&self, now: u64) -> String {
        self.totp.generate(now).unwrap().to_string()
    }

    /// The time step of `now`.
    pub fn step(&self, now: u64) -> u64 {
        self.totp.step_at(now).unwrap()
    }

    /// The `n`-th six-digit code that the app shows for no step within two
    /// of `now` (so it is wrong under any window of one step either side).
    pub fn wrong_code(&self, now: u64, n: usize) -> String {
        let near: Vec<u32> = [now - 2 * STEP, now - STEP, now, now + STEP, now + 2 * STEP]
            .iter()
            .map(|&t| self.totp.generate(t).unwrap().value())
            .collect();
        let wrong = (0u32..1_000_000)
            .filter(|v| !near.contains(v))
            .nth(n)
            .unwrap();
        format!("{wrong:06}")
    }

    /// A copy of the secret, as given at registration.
    pub fn secret(&self) -> NewSecret {
        NewSecret::Given(self.secret.clone())
    }

    /// This phone as the new token of a swap (its own secret).
    pub fn swap_to(&self) -> SwapTo {
        SwapTo::Given(self.secret.clone())
    }

    /// The `BeginSwap` event to `to`, with the code this phone shows at
    /// `now`.
    pub fn begin_swap(&self, now: u64, to: &Self) -> Event {
        Event::BeginSwap {
            code: self.code(now).as_str().into(),
            to: to.swap_to(),
        }
    }

    /// The `Register` event with the code the phone shows at `now`.
    pub fn register(&self, now: u64) -> Event {
        Event::Register {
            serial: self.serial.clone(),
            secret: self.secret(),
            code: self.code(now).as_str().into(),
        }
    }

    /// The `CompleteSwap` event with the code the phone shows at `now`.
    pub fn complete_swap(&self, now: u64) -> Event {
        Event::CompleteSwap {
            serial: self.serial.clone(),
            code: self.code(now).as_str().into(),
        }
    }
}

pub fn customer(id: &str) -> CustomerId {
    CustomerId::new(id).unwrap()
}

/// The customer through the web channel.
pub fn web() -> Principal {
    Principal::customer(Label::new("web").unwrap())
}

/// A bank operator.
pub fn operator() -> Principal {
    Principal::operator(Label::new("op-1").unwrap())
}

pub fn ctx() -> RequestContext {
    RequestContext::new()
}

/// A request context carrying the backend's request id `req-{n}`.
pub fn request(n: usize) -> RequestContext {
    RequestContext::new().request_id(Label::new(&format!("req-{n}")).unwrap())
}

/// The bank's backend: one lifecycle over a store, with a clock the test
/// moves.
pub struct Bank<S = MemoryStore> {
    pub clock: Arc<FixedClock>,
    pub lc: Lifecycle<S, Arc<FixedClock>>,
}

impl Bank<MemoryStore> {
    /// A lifecycle on a fresh, real `MemoryStore`, the clock at [`START`].
    pub fn new(config: LifecycleConfig) -> Self {
        Self::with_store(config, MemoryStore::new())
    }

    pub fn store(&self) -> &MemoryStore {
        self.lc.store()
    }
}

impl<S: TokenStore> Bank<S> {
    /// A lifecycle over `store`, the clock at [`START`].
    pub fn with_store(config: LifecycleConfig, store: S) -> Self {
        let clock = Arc::new(FixedClock::new(START));
        Self {
            lc: Lifecycle::new(config, store, Arc::clone(&clock)),
            clock,
        }
    }

    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    /// Moves to the next step, so the phone shows a fresh code.
    pub fn tick(&self) {
        self.clock.advance(STEP);
    }

    /// Registers `phone` for `customer` with the code it shows now.
    pub fn register(
        &self,
        customer: &CustomerId,
        phone: &Phone,
    ) -> Result<Applied, LifecycleError> {
        self.lc
            .blocking()
            .submit(customer, &web(), phone.register(self.now()), &ctx())
    }

    /// Customer `c-1` registers phone `SN-1` (its secret from `seed`), and
    /// the clock moves on one step.
    pub fn alice_registered(&self, seed: u32) -> (CustomerId, Phone) {
        let alice = customer("c-1");
        let phone = Phone::new("SN-1", seed);
        self.register(&alice, &phone).unwrap();
        self.tick();
        (alice, phone)
    }

    /// `VerifyTransaction` by the customer through the web channel.
    pub fn verify(&self, customer: &CustomerId, code: &str) -> Result<Authorized, LifecycleError> {
        self.lc
            .blocking()
            .verify_transaction(customer, &web(), code, &ctx())
    }

    /// `event` by `by`.
    pub fn submit(
        &self,
        customer: &CustomerId,
        by: &Principal,
        event: Event,
    ) -> Result<Applied, LifecycleError> {
        self.lc.blocking().submit(customer, by, event, &ctx())
    }
}

/// The record as committed, or panics if the customer has none.
pub fn snapshot(store: &MemoryStore, customer: &CustomerId) -> TokenRecord {
    store.snapshot(customer).expect("a committed record")
}

/// The audit records of one customer, in commit order.
pub fn audit_of(store: &MemoryStore, customer: &CustomerId) -> Vec<AuditRecord> {
    store
        .audit()
        .records()
        .into_iter()
        .filter(|r| &r.customer == customer)
        .collect()
}

/// A short name for an error, to count outcomes.
pub fn kind_of(e: &LifecycleError) -> &'static str {
    match e {
        LifecycleError::NotPermitted { .. } => "NotPermitted",
        LifecycleError::WrongCode { .. } => "WrongCode",
        LifecycleError::Replayed { .. } => "Replayed",
        LifecycleError::Store(_) => "Store",
        LifecycleError::Contended { .. } => "Contended",
        _ => "other",
    }
}

/// Runs `f(0..n)` on `n` threads released together by a barrier; the
/// answers in the order of `i`.
pub fn race_threads<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(n);
    let (barrier, f) = (&barrier, &f);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                s.spawn(move || {
                    barrier.wait();
                    f(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

/// Runs the futures `f(0..n)` as `n` tokio tasks released together by a
/// barrier; the answers in the order of `i`.
pub async fn race_tasks<T, Fut>(n: usize, f: impl Fn(usize) -> Fut) -> Vec<T>
where
    T: Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let barrier = Arc::clone(&barrier);
            let request = f(i);
            tokio::spawn(async move {
                barrier.wait().await;
                request.await
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(n);
    for h in handles {
        answers.push(h.await.unwrap());
    }
    answers
}

/// The one serial rule, the same for every store: a serial names a token
/// within its customer's record only. Alice registers a token under a
/// serial; Bob, who learnt it, registers another token under the same
/// serial: both are accepted (no one blocks a customer's registration by
/// claiming its serial first), and each token answers only for its own
/// customer. Returns the two customers.
pub async fn serials_belong_to_their_customer<S: TokenStore>(
    lc: &Lifecycle<S, Arc<FixedClock>>,
    clock: &FixedClock,
) -> (CustomerId, CustomerId) {
    let (alice, bob) = (customer("serial-alice"), customer("serial-bob"));
    let (hers, his) = (Phone::new("SN-SHARED", 41), Phone::new("SN-SHARED", 42));
    let now = clock.now();
    for (who, phone) in [(&alice, &hers), (&bob, &his)] {
        let applied = lc
            .submit(who, &web(), phone.register(now), &ctx())
            .await
            .unwrap_or_else(|e| panic!("{who} registers SN-SHARED: {e}"));
        assert_eq!(applied.to, State::Active);
    }
    clock.advance(STEP);
    let now = clock.now();
    let wrong = lc
        .verify_transaction(&bob, &web(), &hers.code(now), &ctx())
        .await;
    assert!(
        matches!(wrong, Err(LifecycleError::WrongCode { .. })),
        "{wrong:?}"
    );
    let mut proofs = Vec::new();
    for (who, phone) in [(&alice, &hers), (&bob, &his)] {
        let proof = lc
            .verify_transaction(who, &web(), &phone.code(now), &ctx())
            .await
            .unwrap_or_else(|e| panic!("{who}'s own token: {e}"));
        proofs.push(proof.token());
    }
    let records = (
        lc.store().load(&alice).await.unwrap().unwrap(),
        lc.store().load(&bob).await.unwrap().unwrap(),
    );
    assert_eq!(
        [records.0.token_id(), records.1.token_id()],
        [Some(proofs[0]), Some(proofs[1])]
    );
    assert_eq!(records.0.serial(), records.1.serial());
    assert_ne!(records.0.token_id(), records.1.token_id());
    assert_eq!((records.0.failures(), records.1.failures()), (0, 0));
    (alice, bob)
}

/// Executors of the public store contract suite on a multi-threaded tokio
/// runtime (4 workers): each request raced as a task, or on an OS thread
/// of its own inside the runtime (what a store on an async driver needs).
#[cfg(feature = "testing")]
pub mod executors {
    use core::future::Future;
    use std::sync::Arc;

    use otpguard::testing::store_contract::Executor;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .unwrap()
    }

    /// Raced requests are tokio tasks released together by a barrier.
    pub struct Tasks(tokio::runtime::Runtime);

    impl Tasks {
        pub fn new() -> Self {
            Self(runtime())
        }
    }

    impl Executor for Tasks {
        fn block_on<F: Future>(&self, future: F) -> F::Output {
            self.0.block_on(future)
        }

        fn race<F>(&self, requests: Vec<F>) -> Vec<Option<F::Output>>
        where
            F: Future + Send + 'static,
            F::Output: Send + 'static,
        {
            self.0.block_on(async {
                let barrier = Arc::new(tokio::sync::Barrier::new(requests.len()));
                let handles: Vec<_> = requests
                    .into_iter()
                    .map(|request| {
                        let barrier = Arc::clone(&barrier);
                        tokio::spawn(async move {
                            barrier.wait().await;
                            request.await
                        })
                    })
                    .collect();
                let mut answers = Vec::with_capacity(handles.len());
                for h in handles {
                    answers.push(h.await.ok());
                }
                answers
            })
        }
    }

    /// Raced requests each run on an OS thread of its own, driven inside
    /// the runtime (the suite's default race).
    pub struct Threads(tokio::runtime::Runtime);

    impl Threads {
        pub fn new() -> Self {
            Self(runtime())
        }
    }

    impl Executor for Threads {
        fn block_on<F: Future>(&self, future: F) -> F::Output {
            self.0.block_on(future)
        }
    }
}
