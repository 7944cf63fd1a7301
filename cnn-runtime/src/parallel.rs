//! A small persistent thread pool for the kernels. `for_each(n, f)` runs
//! `f(0..n)` across the pool's workers and the calling thread, and returns
//! when every task has run. It allocates nothing after the workers exist, so
//! a training step can stay allocation-free, and it wakes workers with a
//! short spin before falling back to a condition variable, because a layer's
//! kernel often lasts only tens of microseconds.
//!
//! Tasks are handed out one at a time from a shared counter, and the
//! calling thread takes tasks too. A worker *joins* a call before it takes
//! a task; once the caller has run out of tasks it closes the call to late
//! joiners and waits only for the workers that joined (which are running a
//! task). So when the machine is busy with other processes and a worker is
//! not scheduled in time, the caller does the work itself instead of
//! waiting a whole scheduler time slice for the worker to wake up and find
//! nothing left to do.
//!
//! The thread count is a setting ([`set_threads`], or the `CNN_THREADS`
//! environment variable; the default is the number of cores). A call made
//! while the pool is busy (from another thread, or from inside a task) runs
//! its tasks on the calling thread instead of waiting.

use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, OnceLock};

/// A task body: called once per task index, from any thread.
pub type Task<'a> = dyn Fn(usize) + Sync + 'a;

/// 0 means "not set yet": read `CNN_THREADS` or the core count on first use.
static THREADS: AtomicUsize = AtomicUsize::new(0);

/// Sets how many threads kernels use (at least 1; 1 runs everything on the
/// calling thread).
pub fn set_threads(n: usize) {
    THREADS.store(n.max(1), Ordering::Relaxed);
}

/// How many threads kernels use.
pub fn threads() -> usize {
    match THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = std::env::var("CNN_THREADS")
                .ok()
                .and_then(|v| v.parse::<usize>().ok())
                .filter(|&n| n > 0)
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// Runs `f(i)` for every `i` in `0..n_tasks`, spread over the pool; tasks
/// are handed out in order, one at a time, to whichever thread is free.
pub fn for_each(n_tasks: usize, f: &Task<'_>) {
    // An instruction set chosen for this thread (`isa::scoped`) holds for
    // its tasks on the pool's threads too.
    if let Some(isa) = crate::isa::override_here() {
        let with_isa = |i: usize| crate::isa::with_override(Some(isa), || f(i));
        return run(n_tasks, &with_isa);
    }
    run(n_tasks, f)
}

fn run(n_tasks: usize, f: &Task<'_>) {
    let t = threads();
    if n_tasks <= 1 || t <= 1 {
        (0..n_tasks).for_each(f);
        return;
    }
    let pool = pool();
    if pool
        .busy
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        (0..n_tasks).for_each(f);
        return;
    }
    pool.ensure_workers(t - 1);
    // Workers reach the closure through this (thin) pointer to the fat
    // reference, which lives on this stack frame until every worker that
    // joined has left (`close_and_wait`).
    let job: &&Task<'_> = &f;
    pool.publish((job as *const &Task<'_>).cast_mut().cast(), n_tasks, t - 1);
    let caller = catch_unwind(AssertUnwindSafe(|| run_tasks(f, n_tasks, &pool.next)));
    pool.close_and_wait();
    let worker_panicked = pool.panicked.swap(false, Ordering::Relaxed);
    pool.busy.store(false, Ordering::Release);
    // If the workers ran every task, this thread's scratch never grew: grow
    // it now, inside the call that raised the high-water mark.
    crate::scratch::sync();
    if let Err(payload) = caller {
        std::panic::resume_unwind(payload);
    }
    assert!(!worker_panicked, "a parallel task panicked");
}

fn run_tasks(f: &Task<'_>, n_tasks: usize, next: &AtomicUsize) {
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= n_tasks {
            break;
        }
        f(i);
    }
}

/// Set in [`Pool::gate`] while a call accepts workers; the bits below count
/// the workers that joined it and have not left.
const OPEN: usize = 1 << (usize::BITS - 1);

struct Pool {
    /// Bumped once per call: what idle workers watch.
    generation: AtomicU64,
    /// `OPEN` while the current call accepts workers, plus the number of
    /// workers that joined it and have not left.
    gate: AtomicUsize,
    /// The current call's `&&Task` (valid while a joined worker uses it).
    job: AtomicPtr<()>,
    n_tasks: AtomicUsize,
    /// How many workers may join the current call (its thread count - 1).
    seats: AtomicUsize,
    /// The next task index to hand out.
    next: AtomicUsize,
    busy: AtomicBool,
    panicked: AtomicBool,
    /// Workers blocked on `wake`, and whether the caller is blocked on `done`.
    sleepers: AtomicUsize,
    caller_sleeping: AtomicBool,
    /// Held around sleeping and waking (no data: the state is atomic), and
    /// the number of workers spawned so far.
    spawned: Mutex<usize>,
    wake: Condvar,
    done: Condvar,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        generation: AtomicU64::new(0),
        gate: AtomicUsize::new(0),
        job: AtomicPtr::new(std::ptr::null_mut()),
        n_tasks: AtomicUsize::new(0),
        seats: AtomicUsize::new(0),
        next: AtomicUsize::new(0),
        busy: AtomicBool::new(false),
        panicked: AtomicBool::new(false),
        sleepers: AtomicUsize::new(0),
        caller_sleeping: AtomicBool::new(false),
        spawned: Mutex::new(0),
        wake: Condvar::new(),
        done: Condvar::new(),
    })
}

/// How long an idle worker spins on the generation counter before sleeping
/// (about a millisecond: the gaps between a training step's kernels).
const SPIN_ROUNDS: u32 = 20_000;
/// How long the caller spins (then yields) for the joined workers to
/// finish before sleeping.
const CALLER_SPIN_ROUNDS: u32 = 4_000;

impl Pool {
    fn lock(&self) -> MutexGuard<'_, usize> {
        self.spawned.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ensure_workers(&'static self, n: usize) {
        if *self.lock() >= n {
            return;
        }
        let mut spawned = self.lock();
        while *spawned < n {
            let index = *spawned;
            let seen = self.generation.load(Ordering::SeqCst);
            std::thread::Builder::new()
                .name(format!("cnn-worker-{index}"))
                .spawn(move || self.work(seen))
                .expect("cannot spawn a cnn worker thread");
            *spawned += 1;
        }
    }

    /// Opens a call to `seats` workers and wakes them.
    fn publish(&self, job: *mut (), n_tasks: usize, seats: usize) {
        self.job.store(job, Ordering::Relaxed);
        self.n_tasks.store(n_tasks, Ordering::Relaxed);
        self.seats.store(seats, Ordering::Relaxed);
        self.next.store(0, Ordering::Relaxed);
        // Release: a worker that joins through the gate sees the above.
        self.gate.store(OPEN, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        // A worker about to sleep either sees the new generation, or has
        // counted itself in `sleepers` first (both SeqCst): no lost wake-up.
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock();
            self.wake.notify_all();
        }
    }

    /// Closes the call to late workers and waits for the joined ones.
    fn close_and_wait(&self) {
        if self.gate.fetch_and(!OPEN, Ordering::SeqCst) & !OPEN == 0 {
            return;
        }
        let mut spins = 0;
        while self.gate.load(Ordering::Acquire) != 0 {
            if spins < CALLER_SPIN_ROUNDS {
                // Spin, then yield: a worker that has joined but lost its
                // core to another process gets it back sooner.
                if spins < CALLER_SPIN_ROUNDS / 2 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
                spins += 1;
                continue;
            }
            let guard = self.lock();
            self.caller_sleeping.store(true, Ordering::SeqCst);
            if self.gate.load(Ordering::SeqCst) != 0 {
                drop(self.done.wait(guard).unwrap_or_else(|e| e.into_inner()));
            }
            self.caller_sleeping.store(false, Ordering::SeqCst);
        }
    }

    /// Joins the open call, if there is one with a free seat; returns its
    /// job and task count.
    fn join(&self) -> Option<(*mut (), usize)> {
        let mut gate = self.gate.load(Ordering::SeqCst);
        loop {
            if gate & OPEN == 0 || gate & !OPEN >= self.seats.load(Ordering::Relaxed) {
                return None;
            }
            match self.gate.compare_exchange_weak(
                gate,
                gate + 1,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                // Acquire (SeqCst): the job published before the gate opened.
                Ok(_) => {
                    return Some((
                        self.job.load(Ordering::Relaxed),
                        self.n_tasks.load(Ordering::Relaxed),
                    ))
                }
                Err(now) => gate = now,
            }
        }
    }

    /// Leaves a joined call; the last worker out of a closed call wakes
    /// the caller if it sleeps.
    fn leave(&self) {
        if self.gate.fetch_sub(1, Ordering::SeqCst) == 1
            && self.caller_sleeping.load(Ordering::SeqCst)
        {
            let _guard = self.lock();
            self.done.notify_all();
        }
    }

    fn work(&'static self, mut seen: u64) {
        loop {
            let mut spins = 0;
            while self.generation.load(Ordering::Acquire) == seen {
                if spins < SPIN_ROUNDS {
                    std::hint::spin_loop();
                    spins += 1;
                    continue;
                }
                let mut guard = self.lock();
                self.sleepers.fetch_add(1, Ordering::SeqCst);
                while self.generation.load(Ordering::SeqCst) == seen {
                    guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
            }
            seen = self.generation.load(Ordering::Acquire);
            let Some((job, n_tasks)) = self.join() else {
                continue;
            };
            // SAFETY: `job` is the `&&Task` of the call this worker joined,
            // which `for_each` keeps alive until the worker has left.
            let f: &Task<'_> = unsafe { *job.cast::<&Task<'_>>() };
            if catch_unwind(AssertUnwindSafe(|| run_tasks(f, n_tasks, &self.next))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.leave();
        }
    }
}

/// A mutable slice shared by the tasks of one [`for_each`] call, each of
/// which takes a range no other task takes: the one way the kernels write
/// disjoint parts of one buffer from several threads.
pub(crate) struct Disjoint<'a, T> {
    ptr: *mut T,
    len: usize,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: a `Disjoint` only hands out ranges its callers promise are
// disjoint (see `range`), so sharing it is sharing `&mut` to separate parts
// of the slice, which is sound when `T: Send`.
unsafe impl<T: Send> Sync for Disjoint<'_, T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for Disjoint<'_, T> {}

impl<'a, T> Disjoint<'a, T> {
    pub(crate) fn new(s: &'a mut [T]) -> Self {
        Disjoint {
            ptr: s.as_mut_ptr(),
            len: s.len(),
            _borrow: PhantomData,
        }
    }

    /// `&mut slice[start..end]`.
    ///
    /// # Safety
    /// No two ranges in use at the same time may overlap.
    pub(crate) unsafe fn range(&self, start: usize, end: usize) -> &'a mut [T] {
        assert!(
            start <= end && end <= self.len,
            "disjoint range out of bounds"
        );
        // SAFETY: in bounds (checked above); exclusive by the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), end - start) }
    }

    /// `&mut slice[start..start + len]`.
    ///
    /// # Safety
    /// As [`Disjoint::range`].
    pub(crate) unsafe fn part(&self, start: usize, len: usize) -> &'a mut [T] {
        assert!(
            start <= self.len && len <= self.len - start,
            "disjoint part out of bounds"
        );
        // SAFETY: in bounds (checked above); exclusive by the caller's promise.
        unsafe { self.range(start, start + len) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_task_runs_once() {
        set_threads(2);
        for n in [0, 1, 2, 3, 17, 1000] {
            let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
            for_each(n, &|i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
        }
    }

    #[test]
    fn nested_calls_run_inline() {
        set_threads(2);
        let total = AtomicUsize::new(0);
        for_each(4, &|_| {
            for_each(3, &|_| {
                total.fetch_add(1, Ordering::Relaxed);
            });
        });
        assert_eq!(total.load(Ordering::Relaxed), 12);
    }

    #[test]
    fn concurrent_callers_do_not_deadlock() {
        set_threads(2);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..200 {
                        let sum = AtomicUsize::new(0);
                        for_each(8, &|i| {
                            sum.fetch_add(i, Ordering::Relaxed);
                        });
                        assert_eq!(sum.load(Ordering::Relaxed), 28);
                    }
                });
            }
        });
    }
}
