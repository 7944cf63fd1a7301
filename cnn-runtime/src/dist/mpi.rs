//! [`Mpi`]: the [`Collective`] of a job started by `mpirun`, over the
//! system's MPI library through the `mpi` crate (cargo feature `mpi`).
//!
//! What MPI allows and what it does not, and what follows here:
//! - A collective returns only when every rank has called it; a rank that
//!   never calls it leaves the others waiting for ever. So everything that
//!   could differ between ranks is compared before training
//!   (`dist::check_same`), and errors are agreed on (`dist::agree`).
//! - A rank that dies (killed, out of memory, a crash) is not survivable:
//!   MPI has no standard way to go on without it, and Open MPI's `mpirun`
//!   ends every other rank of the job. Restart the job, and resume from
//!   rank 0's last checkpoint (`dist::resume`), with any number of ranks.
//! - A rank that panics would unwind into `MPI_Finalize`, which waits for
//!   the others (a hang): [`Mpi::init`] installs a panic hook that calls
//!   `MPI_Abort` after the message is printed, which ends the job.
//! - A rank that returns an error must not finalize either while others
//!   may still wait: [`Mpi::finish`] exits with status 1 without
//!   finalizing, and `mpirun` ends the job ("exited with non-zero status").

use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;

use super::Collective;
use crate::error::{Error, Result};

/// This process's place in an MPI job (the world communicator). Keep it
/// until the end of `main`, and end `main` with [`Mpi::finish`].
pub struct Mpi {
    universe: Option<Universe>,
    world: SimpleCommunicator,
    /// Buffers of the sums, grown once: the `mpi` crate has no in-place
    /// all-reduce, so the values are copied out first.
    send32: Vec<f32>,
    recv32: Vec<f32>,
    send64: Vec<f64>,
    traffic: Traffic,
}

/// What the `f32` sums (the gradients, and the moving statistics at the
/// end of each epoch) have cost so far on this rank.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Traffic {
    /// `sum_f32` calls.
    pub calls: u64,
    /// Bytes summed (each call's buffer, counted once).
    pub bytes: u64,
    /// Seconds inside `MPI_Allreduce`, waiting for slower ranks included.
    pub seconds: f64,
}

impl Mpi {
    /// Initialises MPI (once per process: a second call is an error) and
    /// installs the panic hook that aborts the job.
    pub fn init() -> Result<Mpi> {
        let universe = mpi::initialize().ok_or_else(|| {
            Error::Ranks(
                "MPI is already initialised in this process (Mpi::init was called twice)".into(),
            )
        })?;
        let world = universe.world();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            if mpi::environment::is_initialized() && !mpi::environment::is_finalized() {
                eprintln!("a rank panicked: aborting the MPI job");
                SimpleCommunicator::world().abort(101);
            }
        }));
        Ok(Mpi {
            universe: Some(universe),
            world,
            send32: Vec::new(),
            recv32: Vec::new(),
            send64: Vec::new(),
            traffic: Traffic::default(),
        })
    }

    /// The `f32` sums so far.
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Waits until every rank has called it (to time collectives alone).
    pub fn barrier(&self) {
        self.world.barrier();
    }

    /// Ends the process: finalizes MPI and returns success when `result` is
    /// `Ok`; otherwise prints the error (with the rank) and exits with
    /// status 1 without finalizing, so that `mpirun` ends the other ranks
    /// rather than leaving them waiting. Errors returned by `fit` are the
    /// same on every rank; this also covers the ones that are not.
    pub fn finish<T>(mut self, result: Result<T>) -> std::process::ExitCode {
        match result {
            Ok(_) => {
                drop(self.universe.take());
                std::process::ExitCode::SUCCESS
            }
            Err(e) => {
                // One write, so that the ranks' lines do not interleave.
                let line = format!("error (rank {} of {}): {e}\n", self.rank(), self.size());
                let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
                // Not finalized: MPI_Finalize would wait for the other ranks.
                std::mem::forget(self.universe.take());
                std::process::exit(1)
            }
        }
    }
}

impl Collective for Mpi {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }
    fn size(&self) -> usize {
        self.world.size() as usize
    }
    fn sum_f32(&mut self, buf: &mut [f32]) {
        self.send32.clear();
        self.send32.extend_from_slice(buf);
        let start = std::time::Instant::now();
        all_reduce(&self.world, &self.send32[..], buf);
        self.traffic.seconds += start.elapsed().as_secs_f64();
        self.traffic.calls += 1;
        self.traffic.bytes += 4 * buf.len() as u64;
    }
    fn sum_f32_with(&mut self, buf: &mut [f32], extra: &mut [f32]) {
        self.send32.clear();
        self.send32.extend_from_slice(buf);
        self.send32.extend_from_slice(extra);
        self.recv32.resize(self.send32.len(), 0.0);
        let start = std::time::Instant::now();
        all_reduce(&self.world, &self.send32[..], &mut self.recv32[..]);
        self.traffic.seconds += start.elapsed().as_secs_f64();
        self.traffic.calls += 1;
        self.traffic.bytes += 4 * self.send32.len() as u64;
        let (b, e) = self.recv32.split_at(buf.len());
        buf.copy_from_slice(b);
        extra.copy_from_slice(e);
    }
    fn sum_f64(&mut self, buf: &mut [f64]) {
        self.send64.clear();
        self.send64.extend_from_slice(buf);
        all_reduce(&self.world, &self.send64[..], buf);
    }
    fn gather_u64(&mut self, mine: &[u64], all: &mut [u64]) {
        self.world.all_gather_into(mine, all);
    }
    fn broadcast_bytes(&mut self, root: usize, buf: &mut Vec<u8>) {
        let root = self.world.process_at_rank(root as i32);
        let mut len = [buf.len() as u64];
        root.broadcast_into(&mut len[..]);
        buf.resize(len[0] as usize, 0);
        root.broadcast_into(&mut buf[..]);
    }
}

/// `MPI_Iallreduce`, then `MPI_Test` until it is done: in a tight loop
/// for the first 20 us, then with 50 us sleeps. A blocking
/// `MPI_Allreduce` spins (Open MPI's shared-memory transport has no
/// blocking wait), and on a machine with more busy threads than cores the
/// spinning rank takes the core from the rank it waits for: on this
/// project's loaded 2-core machine a LeNet-5 step of 2 ranks took 27 ms
/// with the blocking call and 10 ms like this (BENCHMARKS.md, "Data-parallel
/// training over MPI"). Progress happens inside `MPI_Test`, so the sleeps are short.
fn all_reduce<T: Equivalence>(world: &SimpleCommunicator, send: &[T], recv: &mut [T]) {
    mpi::request::scope(|scope| {
        let mut request =
            world.immediate_all_reduce_into(scope, send, recv, SystemOperation::sum());
        let start = std::time::Instant::now();
        loop {
            match request.test() {
                Ok(_) => return,
                Err(pending) => request = pending,
            }
            if start.elapsed() < std::time::Duration::from_micros(20) {
                std::hint::spin_loop();
            } else {
                std::thread::sleep(std::time::Duration::from_micros(50));
            }
        }
    });
}

impl Drop for Mpi {
    fn drop(&mut self) {
        // Dropped without `finish` while unwinding: finalizing would wait
        // for the other ranks (the panic hook has aborted already).
        if std::thread::panicking() {
            std::mem::forget(self.universe.take());
        }
    }
}
