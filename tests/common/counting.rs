//! A counting global allocator for the allocation tests (the `alloc`
//! binary: `tests/alloc.rs`, `tests/dist_alloc.rs`), included with
//! `#[path]`: every call goes to the system allocator, and allocations
//! made on a thread while [`allocations`] runs are counted, those aligned
//! to 16 bytes or more (matrixmultiply's packing buffers) apart.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
/// Allocations aligned to 16 bytes or more: matrixmultiply's packing.
static GEMM_PACKING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

fn note(layout: Layout) {
    if COUNTING.try_with(Cell::get).unwrap_or(false) {
        let counter = if layout.align() >= 16 {
            &GEMM_PACKING
        } else {
            &ALLOCATIONS
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counter only reads a const-initialised thread-local, which never
// allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout);
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout);
        // SAFETY: as above.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(layout);
        // SAFETY: as above.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Held for the whole of each allocation test: the counters are the
/// process's, and a test's warm-up and counted steps must not share the
/// kernels' thread pool with another test's (a busy pool runs tasks on
/// the caller's thread, whose scratch then grows mid-count). The test
/// harness runs tests in parallel; this makes the `alloc` binary's run
/// one after another.
pub fn alone() -> std::sync::MutexGuard<'static, ()> {
    static ALONE: std::sync::Mutex<()> = std::sync::Mutex::new(());
    ALONE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Allocations made by `f` on this thread: ours, and the GEMM's packing.
pub fn allocations(f: impl FnOnce()) -> (usize, usize) {
    let before = (
        ALLOCATIONS.load(Ordering::Relaxed),
        GEMM_PACKING.load(Ordering::Relaxed),
    );
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    (
        ALLOCATIONS.load(Ordering::Relaxed) - before.0,
        GEMM_PACKING.load(Ordering::Relaxed) - before.1,
    )
}
