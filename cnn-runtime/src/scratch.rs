//! Per-thread scratch buffers for kernels (im2col matrices, partial
//! gradients). A buffer grows to the largest size asked of it and is kept,
//! so the second call at the same sizes allocates nothing. Each thread,
//! including the pool's workers, has its own set.

use std::cell::RefCell;

/// Which buffer: kernels that run one inside another use different slots.
#[derive(Clone, Copy, Debug)]
pub enum Slot {
    /// im2col / col2im matrices.
    Cols = 0,
    /// Per-thread partial weight gradients and similar accumulators.
    Partial = 1,
    /// Anything else a kernel needs for the length of one call.
    Aux = 2,
}

const SLOTS: usize = 3;

thread_local! {
    static BUFFERS: RefCell<[Vec<f32>; SLOTS]> = const { RefCell::new([Vec::new(), Vec::new(), Vec::new()]) };
}

/// Calls `f` with this thread's buffer `slot`, at least `len` long. The
/// contents are whatever the last user left: overwrite before reading.
/// A nested use of the same slot gets a fresh buffer rather than a panic.
pub fn with<R>(slot: Slot, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    let mut buf = BUFFERS.with(|b| std::mem::take(&mut b.borrow_mut()[slot as usize]));
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    let out = f(&mut buf[..len]);
    BUFFERS.with(|b| {
        let mut b = b.borrow_mut();
        if b[slot as usize].capacity() < buf.capacity() {
            b[slot as usize] = buf;
        }
    });
    out
}
