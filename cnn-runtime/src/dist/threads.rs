//! [`ThreadGroup`]: ranks as threads of one process. It does what MPI does
//! for `Collective` (sums in rank order, so every rank gets the same bits)
//! with a mutex and a condition variable, so the data-parallel arithmetic
//! is tested by `cargo test` with nothing installed. A rank that is dropped
//! while the others wait in a collective, or a wait longer than the
//! timeout, panics the waiting ranks with a message: a test fails instead
//! of hanging (MPI ends the job instead).

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::Collective;

/// One rank of a group of threads. Make the group with
/// [`ThreadGroup::new`] and move one rank to each thread.
pub struct ThreadGroup {
    rank: usize,
    shared: Arc<Shared>,
}

struct Shared {
    size: usize,
    timeout: Duration,
    state: Mutex<State>,
    changed: Condvar,
}

#[derive(Default)]
struct State {
    /// What each rank brought to the current collective.
    slots: Vec<Option<Vec<u8>>>,
    /// The ranks that have not read the result yet (0: filling).
    readers: usize,
    /// Bumped when a collective completes.
    round: u64,
    /// A rank that was dropped.
    gone: Option<usize>,
}

impl ThreadGroup {
    /// `size` ranks, in rank order. A rank waiting longer than two minutes
    /// for the others panics.
    pub fn new(size: usize) -> Vec<ThreadGroup> {
        Self::with_timeout(size, Duration::from_secs(120))
    }

    /// [`ThreadGroup::new`] with another timeout.
    pub fn with_timeout(size: usize, timeout: Duration) -> Vec<ThreadGroup> {
        let size = size.max(1);
        let shared = Arc::new(Shared {
            size,
            timeout,
            state: Mutex::new(State {
                slots: vec![None; size],
                ..State::default()
            }),
            changed: Condvar::new(),
        });
        (0..size)
            .map(|rank| ThreadGroup {
                rank,
                shared: shared.clone(),
            })
            .collect()
    }

    fn wait<'g>(
        &self,
        g: MutexGuard<'g, State>,
        start: Instant,
        what: &str,
    ) -> MutexGuard<'g, State> {
        if let Some(r) = g.gone {
            drop(g);
            panic!("rank {}: rank {r} left the group during {what}", self.rank);
        }
        let left = self.shared.timeout.saturating_sub(start.elapsed());
        if left.is_zero() {
            drop(g);
            panic!(
                "rank {}: waited more than {:?} for the other ranks in {what}",
                self.rank, self.shared.timeout
            );
        }
        self.shared
            .changed
            .wait_timeout(g, left)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    /// Every rank's bytes, in rank order.
    fn exchange(&self, mine: Vec<u8>, what: &str) -> Vec<Vec<u8>> {
        let sh = &*self.shared;
        let start = Instant::now();
        let mut g = sh.state.lock().unwrap_or_else(|e| e.into_inner());
        // The previous collective's result is still being read.
        while g.readers > 0 {
            g = self.wait(g, start, what);
        }
        g.slots[self.rank] = Some(mine);
        if g.slots.iter().all(Option::is_some) {
            g.readers = sh.size;
            g.round += 1;
            sh.changed.notify_all();
        } else {
            let round = g.round;
            while g.round == round {
                g = self.wait(g, start, what);
            }
        }
        let all: Vec<Vec<u8>> = g
            .slots
            .iter()
            .map(|s| s.clone().unwrap_or_default())
            .collect();
        g.readers -= 1;
        if g.readers == 0 {
            g.slots.iter_mut().for_each(|s| *s = None);
            sh.changed.notify_all();
        }
        all
    }
}

impl Drop for ThreadGroup {
    // A rank that is dropped takes no part in any later collective: the
    // others panic there instead of waiting for it.
    fn drop(&mut self) {
        let mut g = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        g.gone.get_or_insert(self.rank);
        self.shared.changed.notify_all();
    }
}

fn to_bytes<T: Copy, const N: usize>(v: &[T], bytes: impl Fn(T) -> [u8; N]) -> Vec<u8> {
    v.iter().flat_map(|&x| bytes(x)).collect()
}

impl Collective for ThreadGroup {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.shared.size
    }
    fn sum_f32(&mut self, buf: &mut [f32]) {
        let all = self.exchange(to_bytes(buf, f32::to_le_bytes), "sum_f32");
        buf.fill(0.0);
        for part in &all {
            check_len(part.len(), buf.len() * 4, "sum_f32");
            for (o, b) in buf.iter_mut().zip(part.chunks_exact(4)) {
                *o += f32::from_le_bytes(b.try_into().expect("4 bytes"));
            }
        }
    }
    fn sum_f64(&mut self, buf: &mut [f64]) {
        let all = self.exchange(to_bytes(buf, f64::to_le_bytes), "sum_f64");
        buf.fill(0.0);
        for part in &all {
            check_len(part.len(), buf.len() * 8, "sum_f64");
            for (o, b) in buf.iter_mut().zip(part.chunks_exact(8)) {
                *o += f64::from_le_bytes(b.try_into().expect("8 bytes"));
            }
        }
    }
    fn gather_u64(&mut self, mine: &[u64], all: &mut [u64]) {
        let parts = self.exchange(to_bytes(mine, u64::to_le_bytes), "gather_u64");
        check_len(all.len(), mine.len() * parts.len(), "gather_u64");
        for (o, b) in all
            .iter_mut()
            .zip(parts.iter().flat_map(|p| p.chunks_exact(8)))
        {
            *o = u64::from_le_bytes(b.try_into().expect("8 bytes"));
        }
    }
    fn broadcast_bytes(&mut self, root: usize, buf: &mut Vec<u8>) {
        let mine = if self.rank == root {
            buf.clone()
        } else {
            Vec::new()
        };
        let mut all = self.exchange(mine, "broadcast_bytes");
        *buf = std::mem::take(&mut all[root]);
    }
}

/// Buffers of different lengths on different ranks are a bug of the
/// caller (MPI's behaviour would be undefined).
fn check_len(got: usize, want: usize, what: &str) {
    assert_eq!(
        got, want,
        "{what}: the ranks passed buffers of different lengths"
    );
}
