//! A small persistent thread pool for the kernels. `for_each(n, f)` runs
//! `f(0..n)` across the pool's workers and the calling thread, and returns
//! when every task has run. It allocates nothing after the workers exist, so
//! a training step can stay allocation-free, and it wakes workers with a
//! short spin before falling back to a condition variable, because a layer's
//! kernel often lasts only tens of microseconds.
//!
//! The thread count is a setting ([`set_threads`], or the `CNN_THREADS`
//! environment variable; the default is the number of cores). A call made
//! while the pool is busy (from another thread, or from inside a task) runs
//! its tasks on the calling thread instead of waiting.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
    let participants = (t - 1).min(n_tasks - 1);
    // SAFETY: the pointer is only dereferenced by workers between the
    // generation bump below and the moment `finished == participants`, and
    // this function does not return (so `f` outlives every use) before then.
    let erased: *const Task<'static> = unsafe { std::mem::transmute(f as *const Task<'_>) };
    {
        let mut st = pool.lock();
        st.job = Some(erased);
        st.n_tasks = n_tasks;
        st.participants = participants;
        st.finished = 0;
        st.generation += 1;
        pool.next.store(0, Ordering::Relaxed);
        pool.generation.store(st.generation, Ordering::Release);
    }
    pool.wake.notify_all();
    let caller = catch_unwind(AssertUnwindSafe(|| run_tasks(f, n_tasks, &pool.next)));
    {
        let mut st = pool.lock();
        while st.finished < st.participants {
            st = pool.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.job = None;
    }
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

struct State {
    generation: u64,
    job: Option<*const Task<'static>>,
    n_tasks: usize,
    participants: usize,
    finished: usize,
    spawned: usize,
}

// SAFETY: `job` is only read under the lock and called while the caller of
// `for_each` keeps the closure alive (see there); the closure is `Sync`.
unsafe impl Send for State {}

struct Pool {
    state: Mutex<State>,
    wake: Condvar,
    done: Condvar,
    generation: AtomicU64,
    next: AtomicUsize,
    busy: AtomicBool,
    panicked: AtomicBool,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool {
        state: Mutex::new(State {
            generation: 0,
            job: None,
            n_tasks: 0,
            participants: 0,
            finished: 0,
            spawned: 0,
        }),
        wake: Condvar::new(),
        done: Condvar::new(),
        generation: AtomicU64::new(0),
        next: AtomicUsize::new(0),
        busy: AtomicBool::new(false),
        panicked: AtomicBool::new(false),
    })
}

/// How long an idle worker spins on the generation counter before sleeping.
const SPIN_ROUNDS: u32 = 20_000;

impl Pool {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn ensure_workers(&'static self, n: usize) {
        let mut st = self.lock();
        while st.spawned < n {
            let index = st.spawned;
            let seen = st.generation;
            std::thread::Builder::new()
                .name(format!("cnn-worker-{index}"))
                .spawn(move || self.work(index, seen))
                .expect("cannot spawn a cnn worker thread");
            st.spawned += 1;
        }
    }

    fn work(&'static self, index: usize, mut seen: u64) {
        loop {
            let mut spins = 0;
            while self.generation.load(Ordering::Acquire) == seen && spins < SPIN_ROUNDS {
                std::hint::spin_loop();
                spins += 1;
            }
            let mut st = self.lock();
            while st.generation == seen {
                st = self.wake.wait(st).unwrap_or_else(|e| e.into_inner());
            }
            seen = st.generation;
            if index >= st.participants {
                continue;
            }
            let (Some(job), n_tasks) = (st.job, st.n_tasks) else {
                continue;
            };
            drop(st);
            // SAFETY: see `for_each`: the caller waits for this worker's
            // `finished` increment before the closure goes out of scope.
            let f = unsafe { &*job };
            if catch_unwind(AssertUnwindSafe(|| run_tasks(f, n_tasks, &self.next))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            let mut st = self.lock();
            st.finished += 1;
            if st.finished == st.participants {
                self.done.notify_all();
            }
        }
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
