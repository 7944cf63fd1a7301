//! Per-thread scratch buffers for kernels (im2col matrices, partial
//! gradients). A buffer grows to the largest size asked of it and is kept,
//! so the second call at the same sizes allocates nothing. Each thread,
//! including the pool's workers, has its own set.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Which buffer: kernels that run one inside another use different slots.
#[derive(Clone, Copy, Debug)]
pub enum Slot {
    /// im2col / col2im matrices.
    Cols = 0,
    /// Per-thread partial weight gradients and similar accumulators.
    Partial = 1,
    /// Anything else a kernel needs for the length of one call.
    Aux = 2,
    /// A packed panel of a product's right operand (`conv2d::kblock`).
    Pack = 3,
    /// A layer's operand copied onto a larger grid around a kernel that
    /// uses the slots above (a transposed convolution's input and input
    /// gradient, when its convolution has more outputs than it has inputs).
    Wide = 4,
}

const SLOTS: usize = 5;

thread_local! {
    // `None` while the slot is lent out by `with`.
    static BUFFERS: RefCell<[Option<Vec<f32>>; SLOTS]> =
        const { RefCell::new([Some(Vec::new()), Some(Vec::new()), Some(Vec::new()), Some(Vec::new()), Some(Vec::new())]) };
}

/// The largest size any thread has asked of each slot. Every thread grows
/// to it, so that which thread happened to run which task during a warm-up
/// step does not decide whether a later step allocates.
static HIGH_WATER: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

/// Grows this thread's buffers to the largest size any thread has used.
/// `parallel::for_each` calls it on the calling thread after each parallel
/// call, so a caller whose tasks all ran on workers is still ready.
pub fn sync() {
    BUFFERS.with(|b| {
        let mut b = b.borrow_mut();
        // A slot lent out (this call runs inside `with`) is grown when it
        // comes back.
        for (slot, buf) in b
            .iter_mut()
            .enumerate()
            .filter_map(|(i, b)| Some((i, b.as_mut()?)))
        {
            let high = HIGH_WATER[slot].load(Ordering::Relaxed);
            if buf.len() < high {
                crate::memory::grow(buf, high);
            }
        }
    });
}

/// Calls `f` with this thread's buffer `slot`, at least `len` long. The
/// contents are whatever the last user left: overwrite before reading.
/// A nested use of the same slot gets a fresh buffer rather than a panic.
pub fn with<R>(slot: Slot, len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    // A nested use of the same slot finds it lent out and gets a new buffer.
    let mut buf = BUFFERS
        .with(|b| b.borrow_mut()[slot as usize].take())
        .unwrap_or_default();
    if buf.len() < len {
        let high = HIGH_WATER[slot as usize]
            .fetch_max(len, Ordering::Relaxed)
            .max(len);
        crate::memory::grow(&mut buf, high);
    }
    let out = f(&mut buf[..len]);
    BUFFERS.with(|b| {
        let mut b = b.borrow_mut();
        let kept = &mut b[slot as usize];
        if kept.as_ref().is_none_or(|k| k.capacity() < buf.capacity()) {
            *kept = Some(buf);
        }
    });
    out
}
