//! A global allocator for tests that proves wiping: while a [`Watch`] is
//! active, every heap block freed anywhere in the process (on `dealloc`, and
//! the old block of every `realloc`) is scanned for any 8-byte run of the
//! watched byte strings, and each block that holds one is counted.
//!
//! It is test-only tooling, kept out of the library so that the library can
//! forbid `unsafe` code: an allocator cannot be written without it.
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: otpguard_wipe_check::ScanFreed = otpguard_wipe_check::ScanFreed;
//!
//! let watch = otpguard_wipe_check::watch(&[secret_bytes]);
//! drop(thing_holding_the_secret);
//! assert_eq!(watch.hits(), 0);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

/// Length of the runs searched for: long enough that random data never
/// matches by chance, short enough to find a partial copy.
pub const RUN: usize = 8;
const SLOTS: usize = 8;
const MAX_NEEDLE: usize = 256;

/// The system allocator, scanning freed blocks while a [`Watch`] is active.
#[derive(Debug)]
pub struct ScanFreed;

struct Needles {
    lens: [usize; SLOTS],
    bytes: [[u8; MAX_NEEDLE]; SLOTS],
}

struct Shared(UnsafeCell<Needles>);

// SAFETY: written only while no scan runs (`ACTIVE` false, under `SERIAL`),
// read only while `ACTIVE` is true.
unsafe impl Sync for Shared {}

static NEEDLES: Shared = Shared(UnsafeCell::new(Needles {
    lens: [0; SLOTS],
    bytes: [[0; MAX_NEEDLE]; SLOTS],
}));
static ACTIVE: AtomicBool = AtomicBool::new(false);
static HITS: AtomicUsize = AtomicUsize::new(0);
static SCANNED: AtomicUsize = AtomicUsize::new(0);
/// One watch at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn holds_a_run(block: &[u8], needles: &Needles) -> bool {
    needles
        .lens
        .iter()
        .zip(&needles.bytes)
        .filter(|(len, _)| **len >= RUN)
        .any(|(len, bytes)| {
            bytes[..*len]
                .windows(RUN)
                .any(|run| block.windows(RUN).any(|w| w == run))
        })
}

unsafe fn scan(ptr: *mut u8, size: usize) {
    if !ACTIVE.load(Ordering::Acquire) || size < RUN {
        return;
    }
    SCANNED.fetch_add(1, Ordering::Relaxed);
    // SAFETY: the block is still allocated (this runs before it is freed)
    // and `size` bytes long. Bytes never written are read as whatever the
    // allocator left there, which is what this check is about.
    let block = unsafe { std::slice::from_raw_parts(ptr, size) };
    // SAFETY: see `Shared`.
    let needles = unsafe { &*NEEDLES.0.get() };
    if holds_a_run(block, needles) {
        HITS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for ScanFreed {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe {
            scan(ptr, layout.size());
            System.dealloc(ptr, layout);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // Always move, so the old block is scanned and freed like any other
        // (a system realloc may shrink or move a block without telling).
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let new = System.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

/// An active watch: freed blocks are scanned until it is dropped.
#[derive(Debug)]
pub struct Watch {
    _serial: MutexGuard<'static, ()>,
}

impl Watch {
    /// Freed blocks that held a run of a watched string so far.
    pub fn hits(&self) -> usize {
        HITS.load(Ordering::Relaxed)
    }

    /// Freed blocks scanned so far (to show that the scan ran at all).
    pub fn scanned(&self) -> usize {
        SCANNED.load(Ordering::Relaxed)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        ACTIVE.store(false, Ordering::Release);
    }
}

/// Starts watching for `needles` (up to 8, each 8 to 256 bytes). Watches
/// run one at a time; a second waits for the first to end.
///
/// # Panics
/// If a needle is shorter than [`RUN`] or longer than 256 bytes, or more
/// than 8 are given: a test's mistake.
pub fn watch(needles: &[&[u8]]) -> Watch {
    assert!(needles.len() <= SLOTS, "at most {SLOTS} needles");
    let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
    ACTIVE.store(false, Ordering::Release);
    // SAFETY: no scan runs (`ACTIVE` is false) and `SERIAL` is held.
    let slots = unsafe { &mut *NEEDLES.0.get() };
    slots.lens = [0; SLOTS];
    for (i, needle) in needles.iter().enumerate() {
        assert!(
            (RUN..=MAX_NEEDLE).contains(&needle.len()),
            "a needle is {RUN} to {MAX_NEEDLE} bytes"
        );
        slots.bytes[i][..needle.len()].copy_from_slice(needle);
        slots.lens[i] = needle.len();
    }
    HITS.store(0, Ordering::Relaxed);
    SCANNED.store(0, Ordering::Relaxed);
    ACTIVE.store(true, Ordering::Release);
    Watch { _serial: serial }
}
