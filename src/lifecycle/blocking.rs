//! The lifecycle for synchronous code.

use core::future::Future;
use core::pin::pin;
use core::task::{Context, Poll, Waker};
use std::sync::Arc;
use std::task::Wake;
use std::thread::{self, Thread};

use super::answer::{Applied, Authorized, LoginCheck};
use super::store::TokenStore;
use super::{CustomerId, Event, Lifecycle, LifecycleError, Principal, RequestContext};
use crate::ocra::Transaction;
use crate::{Clock, KeyUri};

/// The same [`Lifecycle`], called from synchronous code: each method runs
/// its async twin to completion on the calling thread, with no runtime of
/// its own. Get one with [`Lifecycle::blocking`].
///
/// Use it with stores whose futures need no async runtime to make progress:
/// the [`MemoryStore`](super::MemoryStore), or a store of the backend's on
/// blocking I/O. A store on an async driver (tokio-based database clients)
/// needs that runtime: call the async methods from it instead, or enter
/// a multi-threaded runtime on the calling thread first
/// (`let _guard = runtime.enter();`). `PostgresStore` called from a thread
/// outside any runtime answers a `StoreError` that says so, and nothing is
/// committed.
///
/// ```
/// use otpguard::lifecycle::{CustomerId, Label, Lifecycle, LifecycleConfig, MemoryStore, Principal, RequestContext};
/// use otpguard::SystemClock;
///
/// let lc = Lifecycle::new(LifecycleConfig::default(), MemoryStore::new(), SystemClock);
/// let web = Principal::customer(Label::new("web")?);
/// let err = lc.blocking().verify_transaction(&CustomerId::new("c-1")?, &web, "123456", &RequestContext::new());
/// assert!(err.is_err()); // no token registered yet: refused, and audited
/// assert_eq!(lc.store().audit().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Blocking<'a, S, C>(&'a Lifecycle<S, C>);

impl<S: TokenStore, C: Clock> Lifecycle<S, C> {
    /// This lifecycle for synchronous code.
    pub const fn blocking(&self) -> Blocking<'_, S, C> {
        Blocking(self)
    }
}

impl<S: TokenStore, C: Clock> Blocking<'_, S, C> {
    /// See [`Lifecycle::submit`].
    ///
    /// # Errors
    /// As [`Lifecycle::submit`].
    pub fn submit(
        &self,
        customer: &CustomerId,
        by: &Principal,
        event: Event,
        ctx: &RequestContext,
    ) -> Result<Applied, LifecycleError> {
        block_on(self.0.submit(customer, by, event, ctx))
    }

    /// See [`Lifecycle::verify_transaction`].
    ///
    /// # Errors
    /// As [`Lifecycle::verify_transaction`].
    pub fn verify_transaction(
        &self,
        customer: &CustomerId,
        by: &Principal,
        code: &str,
        ctx: &RequestContext,
    ) -> Result<Authorized, LifecycleError> {
        block_on(self.0.verify_transaction(customer, by, code, ctx))
    }

    /// See [`Lifecycle::sign_transaction`].
    ///
    /// # Errors
    /// As [`Lifecycle::sign_transaction`].
    pub fn sign_transaction(
        &self,
        customer: &CustomerId,
        by: &Principal,
        transaction: &Transaction,
        response: &str,
        ctx: &RequestContext,
    ) -> Result<Authorized, LifecycleError> {
        block_on(
            self.0
                .sign_transaction(customer, by, transaction, response, ctx),
        )
    }

    /// See [`Lifecycle::login`].
    ///
    /// # Errors
    /// As [`Lifecycle::login`].
    pub fn login(
        &self,
        customer: &CustomerId,
        by: &Principal,
        code: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<LoginCheck, LifecycleError> {
        block_on(self.0.login(customer, by, code, ctx))
    }

    /// See [`Lifecycle::provision`].
    ///
    /// # Errors
    /// As [`Lifecycle::provision`].
    pub fn provision(
        &self,
        customer: &CustomerId,
        by: &Principal,
        account: &str,
        ctx: &RequestContext,
    ) -> Result<KeyUri, LifecycleError> {
        block_on(self.0.provision(customer, by, account, ctx))
    }
}

/// Wakes the thread that waits in [`block_on`].
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

thread_local! {
    /// One waker per thread, made on the thread's first call: a call costs
    /// no allocation after that.
    static WAKER: Waker = Waker::from(Arc::new(Unpark(thread::current())));
}

/// Runs `future` to completion on this thread, parking between polls until
/// its waker is called. A future that is ready at once (the
/// [`MemoryStore`](super::MemoryStore)'s) is polled once.
///
/// Why not a crate: `pollster` allocates a waker on every call, and
/// `futures-executor` panics when called from inside another of its
/// executors; this needs neither.
pub(crate) fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut run = |waker: &Waker| {
        let mut cx = Context::from_waker(waker);
        loop {
            if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
                return output;
            }
            // A wake before this park leaves a token, so none is lost; a
            // spurious return only polls again.
            thread::park();
        }
    };
    match WAKER.try_with(|waker| run(waker)) {
        Ok(output) => output,
        // The thread's locals are being destroyed (a call from another
        // local's destructor): a waker for this call alone.
        Err(_) => run(&Waker::from(Arc::new(Unpark(thread::current())))),
    }
}
