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
