//! Data-parallel training across processes: every rank holds the same
//! network, takes its shard of each global batch, and the ranks add up
//! their gradients (one flat buffer, one all-reduce per step) before every
//! rank applies the same update.
//!
//! What the ranks exchange goes through [`Collective`]: element-wise sums,
//! a gather of a few numbers and a broadcast of bytes. Two implementations:
//! `Mpi` (cargo feature `mpi`) over the system's MPI, which is what runs
//! on a cluster under `mpirun`, and [`ThreadGroup`], ranks as threads of one
//! process, which needs nothing installed and is what `cargo test` uses to
//! prove the arithmetic.
//!
//! Why the result does not depend on the number of ranks: the global batch
//! is cut into contiguous shards ([`shard_range`]); each rank's loss is
//! weighted by its share of the batch (`n_r / N`), so the sum over the
//! ranks of the losses and of the gradients is the mean over the whole
//! batch, whatever the split; dropout masks are drawn by position in the
//! global batch; with synchronised batch norm the statistics are summed
//! over the ranks too. Only the order of floating-point additions differs.
//!
//! Faults: a collective is a rendezvous, so every rank must make the same
//! calls in the same order, and a rank that leaves early would leave the
//! others waiting. Hence: what could differ between ranks (the network's
//! declaration and weights, the data, the settings) is compared once at
//! the start of `fit` ([`check_same`]), and every rank gets the same error; an
//! error in one rank's step is agreed on with the others before anyone
//! stops ([`agree`]); a rank that dies is MPI's business (`mpirun` ends
//! the job), see docs/distributed.md.

mod check;
#[cfg(feature = "mpi")]
mod mpi;
mod threads;
pub(crate) mod train;

pub use check::{agree, check_same, Fingerprint};
#[cfg(feature = "mpi")]
pub use mpi::{Mpi, Traffic};
pub use threads::ThreadGroup;
pub use train::{evaluate, resume, sync_moving_stats, Ranks};

use std::ops::Range;

/// What the ranks of a data-parallel job do together. Every method is a
/// collective: every rank must call it, in the same order, with buffers of
/// the same length, and it returns on a rank only once every rank has
/// called it. Errors of the transport are not returned: MPI's default is to
/// end the job, and [`ThreadGroup`] panics.
pub trait Collective {
    /// This process's index, `0..size`.
    fn rank(&self) -> usize;
    /// How many ranks there are.
    fn size(&self) -> usize;
    /// Replaces every element by its sum over the ranks; every rank gets
    /// the same values.
    fn sum_f32(&mut self, buf: &mut [f32]);
    /// [`Collective::sum_f32`] of `buf` and `extra` together: one
    /// rendezvous of the ranks instead of two (a training step sums its
    /// gradients and, with them, its loss and counts).
    fn sum_f32_with(&mut self, buf: &mut [f32], extra: &mut [f32]) {
        self.sum_f32(buf);
        self.sum_f32(extra);
    }
    /// [`Collective::sum_f32`] in f64.
    fn sum_f64(&mut self, buf: &mut [f64]);
    /// Every rank's `mine` (the same length on every rank), in rank order:
    /// `all` is `size * mine.len()` long.
    fn gather_u64(&mut self, mine: &[u64], all: &mut [u64]);
    /// Rank `root`'s `buf` to every rank (resized on the others).
    fn broadcast_bytes(&mut self, root: usize, buf: &mut Vec<u8>);
}

/// The examples `range` of a batch of `n` that rank `rank` of `size` takes:
/// contiguous, in rank order, sizes differing by at most one (the first
/// `n % size` ranks take one more).
pub fn shard_range(n: usize, rank: usize, size: usize) -> Range<usize> {
    let size = size.max(1);
    let (q, r) = (n / size, n % size);
    let start = rank * q + rank.min(r);
    start..start + q + usize::from(rank < r)
}

#[cfg(test)]
mod tests;
